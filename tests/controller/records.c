// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Window records: the daemon writes one line per window per simulation
 * machine (none for active or control machines), and replaying the file
 * with the service's policy, in this process and through understudyctl,
 * reaches the decisions the daemon made, window by window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "replay.h"

#define LAT 100             /* a latency bucket (about 1 ms) */
#define WINDOWS_MAX 40

static int lines_of(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Windows of equal traffic on v2-a and v1-a until the judge moves v2-a:
 * the windows it took (0: none within WINDOWS_MAX). */
static int until_decided(void)
{
	__u32 sim = (__u32)ctl_field("v2-a", "id"), act = (__u32)ctl_field("v1-a", "id");

	ctl_window();           /* the counters' base */
	for (int w = 1; w <= WINDOWS_MAX; w++) {
		struct us_rec *r;

		ctl_traffic(sim, 400, 0, LAT);
		ctl_active_traffic(act, 400, LAT);
		ctl_window();
		r = us_model_find(&ctl.model, "v2-a");
		if (r && r->state != US_MS_SIMULATION)
			return w;
	}
	return 0;
}

TH_TEST(records)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state/windows/v2-a.jsonl", ctl_dir);

	if (th_subtest("replayed-to-the-daemons-decisions")) {
		struct us_replay_opts o = { .conf = &ctl.conf };
		struct us_replay_result res;
		char err[512], cmd[1024], out[300];
		int windows;
		FILE *in, *null;

		ctl_policy = "min_paired: 100, min_simulation_seconds: 0, consecutive_windows: 2";
		if (cfg_write(ctl_machines) || ctl_reload())
			return;
		windows = until_decided();
		th_eqf(windows > 0, 1, "v2-a decided within %d windows", WINDOWS_MAX);
		th_eqf(us_model_find(&ctl.model, "v2-a")->state, US_MS_ACTIVE, "v2-a promoted");
		/* a line per window in simulation, the base window's too */
		th_eqf(lines_of(path), windows + 1, "%s: lines", path);
		snprintf(out, sizeof(out), "%s/state/windows/v1-a.jsonl", ctl_dir);
		th_eqf(lines_of(out), -1, "an active machine's windows: not recorded");
		th_eqf((long long)ctl.wrec.failed, 0, "records not written");
		in = fopen(path, "r");
		null = fopen("/dev/null", "w");
		if (!in || !null) {
			th_fail("opening", path, "readable");
		} else {
			th_eqf(us_replay(in, path, &o, null, &res, err, sizeof(err)), 0, "replay: %s",
			       err);
			th_eqf((long long)res.windows, windows + 1, "replayed windows");
			th_eqf((long long)res.recorded, (long long)res.judged,
			       "windows with the daemon's judgement");
			th_eqf((long long)res.differ, 0, "windows judged otherwise than the daemon did");
			th_eqf((long long)res.decisions, 1, "decisions: the promotion");
		}
		if (in)
			fclose(in);
		if (null)
			fclose(null);
		/* the same through understudyctl, offline, as JSON lines */
		snprintf(out, sizeof(out), "%s/replay.jsonl", ctl_dir);
		snprintf(cmd, sizeof(cmd), "build/understudyctl replay '%s' --config '%s' --service sip "
			 "--json > '%s'", path, ctl_conf_path, out);
		th_eqf(system(cmd), 0, "%s", cmd);
		th_eqf(lines_of(out), windows + 1, "understudyctl replay --json: lines");
		snprintf(cmd, sizeof(cmd), "test \"$(grep -c '\"same\":false' '%s')\" = 0", out);
		th_eqf(system(cmd), 0, "understudyctl replay: every window as the daemon judged it");
		/* a bad line: file and line named, exit 1 */
		snprintf(cmd, sizeof(cmd), "echo '{\"machine\":\"v2-a\"}' >> '%s' && "
			 "build/understudyctl replay '%s' 2>&1 | grep -q 'v2-a.jsonl:%d: service: missing'",
			 path, path, windows + 2);
		th_eqf(system(cmd), 0, "%s", cmd);
	}

}

/* a full file is renamed to .1 and a new one begun */
TH_TEST(records_bounded)
{
	char path[256], old[264];

	snprintf(path, sizeof(path), "%s/state/windows/v2-a.jsonl", ctl_dir);
	{

		ctl_policy = "min_paired: 1000000";
		if (cfg_write(ctl_machines) || ctl_reload())
			return;
		ctl.wrec.max = 3;       /* as daemon.window_records_max: 3 would */
		for (int i = 0; i < 7; i++)
			ctl_window();
		snprintf(old, sizeof(old), "%s.1", path);
		th_eqf(lines_of(path), 1, "%s: lines", path);
		th_eqf(lines_of(old), 3, "%s: lines", old);
	}
}
