// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cmocka tests of libunderstudy on the real maps, in a private network
 * namespace (tests/testnet.c): refusals say what and where and change
 * nothing, tables flip whole, pins carry BTF, links outlive the process
 * that made them, MAC addresses come from the kernel's neighbour table.
 * Needs root.
 */
#include <errno.h>
#include <net/if.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "dp.h"
#include "harness.h"
#include "testnet.h"
#include "understudy.skel.h"

static char pin_root[64];
static struct us_dp *dp;

static int setup(void **state)
{
	struct us_dp_opts o = { 0 };

	(void)state;
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/understudy-test-dp-%d", getpid());
	o.pin_root = pin_root;
	if (us_dp_open(&o, &dp))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	us_dp_close(dp);
	dp = NULL;
	return us_dp_destroy_pins(pin_root) ? -1 : 0;
}

static int map_count(struct bpf_map *map)
{
	return (int)th_map_count(bpf_map__fd(map), bpf_map__key_size(map));
}

static void vip(const char *text, __u8 out[16])
{
	assert_int_equal(testnet_addr16(text, out) > 0, 1);
}

static void assert_error_mentions(const char *what)
{
	const char *e = us_dp_error(dp);

	if (!strstr(e, what))
		fail_msg("error \"%s\" does not mention \"%s\"", e, what);
}

static void test_pins_exist_with_btf(void **state)
{
	static const char *const maps[] = {
		"us_services", "us_ports", "us_machines", "us_maglev", "us_macs", "us_calls",
		"us_txns", "us_mstats", "us_stats", "us_cfg", "us_events", "us_groups",
		"us_dlgs", "us_codes", "us_plans", "us_egstate",
	};
	struct us_machine_cfg m = { .id = 5, .svc_id = 0, .family = AF_INET, .weight = 3,
				    .state = US_MS_ACTIVE };
	char cmd[256], path[128], out[4096];
	__u8 a[16];
	size_t n;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", pin_root, maps[i]);
		if (stat(path, &st))
			fail_msg("%s is not pinned", path);
	}
	vip("198.18.100.1", a);
	assert_int_equal(us_dp_set_service(dp, 0, AF_INET, a, 5060, 0), 0);
	vip("198.18.1.1", m.addr);
	assert_int_equal(us_dp_set_machine(dp, &m), 0);
	/* bpftool shows the value's fields by name (BTF) */
	snprintf(cmd, sizeof(cmd), "bpftool map lookup pinned %s/us_machines key 5 0 0 0 2>&1",
		 pin_root);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	pclose(f);
	if (!strstr(out, "\"svc_id\"") || !strstr(out, "\"weight\": 3"))
		fail_msg("bpftool output lacks named fields: %s", out);
}

static void test_service_refusals_change_nothing(void **state)
{
	__u8 a[16], b[16], v6[16];
	int before;

	(void)state;
	vip("198.18.100.11", a);
	vip("198.18.100.12", b);
	vip("2001:db8:100::11", v6);
	assert_int_equal(us_dp_set_service(dp, 1, AF_INET, a, 5060, 2500), 0);
	before = map_count(us_dp_skel(dp)->maps.us_services);

	assert_int_equal(us_dp_set_service(dp, 32, AF_INET, b, 5060, 0), -EINVAL);
	assert_error_mentions("id out of range");
	assert_int_equal(us_dp_set_service(dp, 2, AF_INET, b, 5060, 10001), -ERANGE);
	assert_error_mentions("mirror share 10001 out of range");
	assert_int_equal(us_dp_set_service(dp, 2, AF_INET, b, 0, 0), -EINVAL);
	assert_error_mentions("port 0");
	assert_int_equal(us_dp_set_service(dp, 2, AF_INET, v6, 5060, 0), -EINVAL);
	assert_error_mentions("IPv4 address not in v4-mapped form");
	assert_int_equal(us_dp_set_service(dp, 2, AF_INET6, a, 5060, 0), -EINVAL);
	assert_int_equal(us_dp_set_service(dp, 2, 99, b, 5060, 0), -EINVAL);
	assert_error_mentions("family");
	assert_int_equal(us_dp_set_service(dp, 2, AF_INET, a, 5060, 0), -EEXIST);
	assert_error_mentions("already belongs to service 1");
	assert_int_equal(us_dp_set_service(dp, 1, AF_INET, b, 5060, 0), -EEXIST);
	assert_error_mentions("id already used");
	assert_int_equal(us_dp_set_share(dp, 1, 20000), -ERANGE);
	assert_int_equal(us_dp_set_share(dp, 7, 100), -ENOENT);
	assert_int_equal(us_dp_del_service(dp, 7), -ENOENT);
	assert_int_equal(map_count(us_dp_skel(dp)->maps.us_services), before);

	/* a valid change of the same service keeps its id */
	assert_int_equal(us_dp_set_share(dp, 1, 10000), 0);
	assert_int_equal(us_dp_set_service(dp, 3, AF_INET6, v6, 5060, 0), 0);
	assert_int_equal(map_count(us_dp_skel(dp)->maps.us_services), before + 1);
	assert_int_equal(us_dp_del_service(dp, 3), 0);
	assert_int_equal(map_count(us_dp_skel(dp)->maps.us_services), before);
}

static void test_ports_bitmap_follows_services(void **state)
{
	int fd = bpf_map__fd(us_dp_skel(dp)->maps.us_ports);
	__u32 word = 5070 >> 6;
	__u64 bits = 0;
	__u8 a[16];

	(void)state;
	vip("198.18.100.9", a);
	assert_int_equal(us_dp_set_service(dp, 9, AF_INET, a, 5070, 0), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &word, &bits), 0);
	assert_true(bits & (1ull << (5070 & 63)));
	assert_int_equal(us_dp_del_service(dp, 9), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &word, &bits), 0);
	assert_false(bits & (1ull << (5070 & 63)));
}

static void test_machine_refusals(void **state)
{
	struct us_machine_cfg m = { .id = 10, .svc_id = 1, .family = AF_INET, .weight = 1,
				    .state = US_MS_ACTIVE };
	struct us_machine got;
	int fd = bpf_map__fd(us_dp_skel(dp)->maps.us_machines);
	__u32 id;

	(void)state;
	vip("198.18.1.10", m.addr);
	assert_int_equal(us_dp_set_machine(dp, &m), 0);

	m.id = 11;
	m.weight = 0;
	assert_int_equal(us_dp_set_machine(dp, &m), -ERANGE);
	assert_error_mentions("weight 0 out of range");
	m.weight = 1;
	m.id = US_MAX_MACHINES;
	assert_int_equal(us_dp_set_machine(dp, &m), -EINVAL);
	assert_error_mentions("id out of range");
	m.id = 11;
	m.state = US_MS_MAX;
	assert_int_equal(us_dp_set_machine(dp, &m), -EINVAL);
	assert_error_mentions("state");
	m.state = US_MS_ACTIVE;
	m.svc_id = 31;
	assert_int_equal(us_dp_set_machine(dp, &m), -ENOENT);
	assert_error_mentions("service 31 does not exist");
	m.svc_id = 1;
	assert_int_equal(us_dp_set_machine(dp, &m), -EEXIST);    /* same address as 10 */
	assert_error_mentions("already used by machine 10");
	m.family = AF_INET6;
	vip("2001:db8:1::10", m.addr);
	assert_int_equal(us_dp_set_machine(dp, &m), -EINVAL);    /* v6 machine, v4 VIP */
	assert_error_mentions("family");
	/* nothing was written for machine 11 */
	id = 11;
	assert_int_equal(bpf_map_lookup_elem(fd, &id, &got), 0);
	assert_int_equal(got.state, US_MS_UNUSED);
	assert_int_equal(us_dp_set_state(dp, 11, US_MS_ACTIVE), -ENOENT);
	assert_int_equal(us_dp_set_state(dp, 10, 0), -EINVAL);
	assert_int_equal(us_dp_del_machine(dp, 10), 0);
}

static int active_gen(struct us_svc_key *k)
{
	struct us_svc v;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(us_dp_skel(dp)->maps.us_services), k, &v),
			 0);
	return v.active_gen;
}

static void test_tables_follow_machine_changes(void **state)
{
	struct us_machine_cfg m = { .svc_id = 4, .family = AF_INET, .weight = 1,
				    .state = US_MS_ACTIVE };
	struct us_svc_key k = { 0 };
	__u32 seen[2] = { 0, 0 }, mid;
	__u8 a[16];
	int gen;

	(void)state;
	vip("198.18.100.4", a);
	assert_int_equal(us_dp_set_service(dp, 4, AF_INET, a, 5060, 0), 0);
	memcpy(k.addr, a, 16);
	k.port = htons(5060);
	k.proto = IPPROTO_UDP;
	assert_int_equal(active_gen(&k), 0);
	/* each machine joining the active pool rewrites the table (the other
	 * generation) and flips it */
	for (__u32 i = 0; i < 2; i++) {
		gen = active_gen(&k);
		m.id = 20 + i;
		vip(i ? "198.18.1.21" : "198.18.1.20", m.addr);
		assert_int_equal(us_dp_set_machine(dp, &m), 0);
		assert_int_equal(active_gen(&k), gen ^ 1);
	}
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++) {
		assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_ACTIVE, s, &mid), 0);
		assert_in_range(mid, 20, 21);
		seen[mid - 20]++;
	}
	assert_true(seen[0] > US_MAGLEV_SIZE / 3 && seen[1] > US_MAGLEV_SIZE / 3);

	/* an explicit rebuild flips too, to the same content */
	gen = active_gen(&k);
	assert_int_equal(us_dp_rebuild(dp, 4, US_POOL_ACTIVE), 0);
	assert_int_equal(active_gen(&k), gen ^ 1);

	/* draining takes the machine out of the table by itself */
	assert_int_equal(us_dp_set_state(dp, 21, US_MS_DRAINING), 0);
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++) {
		assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_ACTIVE, s, &mid), 0);
		assert_int_equal(mid, 20);
	}
	/* promotion from simulation: out of the simulation table, into the
	 * active one */
	assert_int_equal(us_dp_set_state(dp, 21, US_MS_SIMULATION), 0);
	assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_SIM, 17, &mid), 0);
	assert_int_equal(mid, 21);
	assert_int_equal(us_dp_set_state(dp, 21, US_MS_ACTIVE), 0);
	assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_SIM, 17, &mid), 0);
	assert_int_equal(mid, US_MID_NONE);
	seen[0] = seen[1] = 0;
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++) {
		assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_ACTIVE, s, &mid), 0);
		seen[mid - 20]++;
	}
	assert_true(seen[1] > US_MAGLEV_SIZE / 3);
	/* a weight change is applied too */
	m.id = 21;
	m.weight = 3;
	assert_int_equal(us_dp_set_machine(dp, &m), 0);
	seen[0] = seen[1] = 0;
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++) {
		assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_ACTIVE, s, &mid), 0);
		seen[mid - 20]++;
	}
	assert_true(seen[1] > US_MAGLEV_SIZE * 7 / 10);
	/* deleting leaves the table with nobody */
	assert_int_equal(us_dp_del_machine(dp, 20), 0);
	assert_int_equal(us_dp_del_machine(dp, 21), 0);
	assert_int_equal(us_dp_table_lookup(dp, 4, US_POOL_ACTIVE, 17, &mid), 0);
	assert_int_equal(mid, US_MID_NONE);
	assert_int_equal(us_dp_rebuild(dp, 30, US_POOL_SIM), -ENOENT);
}

static void test_cfg_refusals(void **state)
{
	struct us_cfg c = { .event_rate = 1000001, .event_burst = 1 };

	(void)state;
	assert_int_equal(us_dp_set_cfg(dp, &c), -ERANGE);
	assert_error_mentions("event rate 1000001 out of range");
	c.event_rate = 100;
	assert_int_equal(us_dp_set_cfg(dp, &c), 0);
}

static void test_learn_macs_from_neighbours(void **state)
{
	const struct testnet_host *h = &testnet.hosts[TN_A2];
	struct us_machine_cfg m = { .id = 30, .svc_id = 1, .family = AF_INET, .weight = 1,
				    .state = US_MS_ACTIVE };
	struct us_mac_key k = { .ifindex = testnet.ifs[TN_MACH].ifindex };
	int fd = bpf_map__fd(us_dp_skel(dp)->maps.us_macs);
	__u32 mid = 0;
	char out[512];
	FILE *f;
	size_t n;

	(void)state;
	memcpy(m.addr, h->addr4, 16);
	assert_int_equal(us_dp_set_machine(dp, &m), 0);
	/* a machine nobody answers for: unresolved, and a managed entry is
	 * left for the kernel to resolve */
	m.id = 31;
	vip("198.18.1.77", m.addr);
	assert_int_equal(us_dp_set_machine(dp, &m), 0);
	{
		int r = us_dp_learn_macs(dp);

		if (r != 1)
			fail_msg("unresolved %d, expected 1 (198.18.1.77); last error: %s", r,
				 us_dp_error(dp));
	}
	memcpy(k.mac, h->mac, 6);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &mid), 0);
	assert_int_equal(mid, 30);
	f = popen("ip neigh show 198.18.1.77 2>&1", "r");
	assert_non_null(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	pclose(f);
	if (!strstr(out, "198.18.1.77"))
		fail_msg("no neighbour entry was created for 198.18.1.77: %s", out);
	/* a machine behind a gateway is refused by name */
	m.id = 32;
	vip("198.19.5.5", m.addr);
	assert_int_equal(system("ip route add 198.19.5.0/24 via 198.18.1.1"), 0);
	assert_int_equal(us_dp_set_machine(dp, &m), 0);
	assert_int_equal(us_dp_learn_macs(dp), 2);
	assert_error_mentions("machines must be on-link");
	assert_int_equal(us_dp_del_machine(dp, 31), 0);
	assert_int_equal(us_dp_del_machine(dp, 32), 0);
	/* deleting a machine forgets its MAC */
	assert_int_equal(us_dp_del_machine(dp, 30), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &mid), -ENOENT);
}

static __u32 xdp_prog_id(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(if_nametoindex(ifname), 0, &q))
		return 0;
	return q.prog_id;
}

static void test_links_outlive_the_process(void **state)
{
	const char *ifn = testnet.ifs[TN_CLI].name;
	struct us_dp_opts o = { .pin_root = pin_root };
	char path[128];
	struct stat st;
	__u32 id1, id2;

	(void)state;
	assert_int_equal(us_dp_attach(dp, ifn, US_ROLE_CLIENT, 0), 0);
	snprintf(path, sizeof(path), "%s/link_client_%s", pin_root, ifn);
	assert_int_equal(stat(path, &st), 0);
	id1 = xdp_prog_id(ifn);
	assert_int_not_equal(id1, 0);
	/* the process lets go; the program stays */
	us_dp_close(dp);
	dp = NULL;
	assert_int_equal(xdp_prog_id(ifn), id1);
	/* a new instance takes the link over and swaps its program in */
	assert_int_equal(us_dp_open(&o, &dp), 0);
	assert_int_equal(us_dp_attach(dp, ifn, US_ROLE_CLIENT, 0), 0);
	id2 = xdp_prog_id(ifn);
	assert_int_not_equal(id2, 0);
	assert_int_not_equal(id2, id1);
	assert_int_equal(us_dp_attach(dp, "nosuchif0", US_ROLE_CLIENT, 0), -ENODEV);
	assert_error_mentions("nosuchif0");
	assert_int_equal(us_dp_attach(dp, ifn, US_ROLE_CLIENT, XDP_FLAGS_REPLACE), -EINVAL);
	assert_int_equal(us_dp_detach(dp, ifn, US_ROLE_CLIENT), 0);
	assert_int_equal(xdp_prog_id(ifn), 0);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(us_dp_detach(dp, ifn, US_ROLE_CLIENT), -ENOENT);
}

/* The links are held: a removed pin detaches nothing and is put back by
 * the next check, a link detached through its pin is attached again. */
static void test_links_held_and_repaired(void **state)
{
	const char *ifn = testnet.ifs[TN_CLI].name;
	char path[128], what[256];
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(us_dp_attach(dp, ifn, US_ROLE_CLIENT, 0), 0);
	snprintf(path, sizeof(path), "%s/link_client_%s", pin_root, ifn);
	assert_int_equal(us_dp_check_links(dp, what, sizeof(what)), 0);
	assert_string_equal(what, "");
	/* a user who could write in the pin root removes the pin */
	assert_int_equal(unlink(path), 0);
	assert_int_not_equal(xdp_prog_id(ifn), 0);
	assert_int_equal(us_dp_check_links(dp, what, sizeof(what)), 1);
	assert_int_equal(stat(path, &st), 0);
	if (!strstr(what, "client") || !strstr(what, "pinned again"))
		fail_msg("what: \"%s\"", what);
	/* a holder of the pin detaches the link itself */
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_link_detach(fd), 0);
	close(fd);
	assert_int_equal(xdp_prog_id(ifn), 0);
	assert_int_equal(us_dp_check_links(dp, what, sizeof(what)), 1);
	if (!strstr(what, "attached again"))
		fail_msg("what: \"%s\"", what);
	assert_int_not_equal(xdp_prog_id(ifn), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(us_dp_check_links(dp, what, sizeof(what)), 0);
	assert_int_equal(us_dp_detach(dp, ifn, US_ROLE_CLIENT), 0);
	assert_int_equal(xdp_prog_id(ifn), 0);
	assert_int_equal(us_dp_check_links(dp, what, sizeof(what)), 0);
}

/* A pin root another user made (on a bpffs mounted 1777), or one others
 * may write in, is refused: its owner could remove the link pins. */
static void test_pin_root_must_be_ours(void **state)
{
	struct us_dp_opts o = { 0 };
	struct us_dp *other = NULL;
	char root[96], err[512];

	(void)state;
	snprintf(root, sizeof(root), "%s-foreign", pin_root);
	o.pin_root = root;
	o.err = err;
	o.errlen = sizeof(err);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(chown(root, 65534, 65534), 0);
	assert_int_equal(us_dp_open(&o, &other), -EPERM);
	assert_null(other);
	if (!strstr(err, root) || !strstr(err, "is owned by uid 65534"))
		fail_msg("err: \"%s\"", err);
	assert_int_equal(chown(root, 0, 0), 0);
	assert_int_equal(chmod(root, 01777), 0);
	assert_int_equal(us_dp_open(&o, &other), -EPERM);
	if (!strstr(err, "is writable by every user"))
		fail_msg("err: \"%s\"", err);
	assert_int_equal(rmdir(root), 0);
}

/* Pinned call and transaction maps keep their size: another size is
 * refused, with the way out, and the pins are left as they were. */
static void test_pinned_map_size_is_kept(void **state)
{
	struct us_dp_opts o = { .pin_root = pin_root, .calls_max = US_CALLS_DEFAULT / 2 };
	char err[1024] = "", path[128];
	struct us_dp *other = NULL;
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int fd;

	(void)state;
	o.err = err;
	o.errlen = sizeof(err);
	assert_int_equal(us_dp_open(&o, &other), -EEXIST);
	assert_null(other);
	if (!strstr(err, "us_calls holds 262144 entries, the configuration asks for 131072 "
			 "(daemon.max_calls)") || !strstr(err, "remove"))
		fail_msg("unexpected explanation: %s", err);
	o.calls_max = 0;
	o.txns_max = US_TXNS_DEFAULT * 2;
	assert_int_equal(us_dp_open(&o, &other), -EEXIST);
	if (!strstr(err, "us_txns holds 131072 entries, the configuration asks for 262144 "
			 "(daemon.max_transactions)"))
		fail_msg("unexpected explanation: %s", err);
	o.txns_max = 0;
	o.dlgs_max = US_DLGS_DEFAULT * 2;
	assert_int_equal(us_dp_open(&o, &other), -EEXIST);
	if (!strstr(err, "us_dlgs holds 65536 entries, the configuration asks for 131072 "
			 "(daemon.max_dialogs)"))
		fail_msg("unexpected explanation: %s", err);
	o.dlgs_max = 0;
	/* nothing was changed: the pinned map is the same size */
	snprintf(path, sizeof(path), "%s/us_calls", pin_root);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	assert_int_equal(info.max_entries, US_CALLS_DEFAULT);
	close(fd);
	/* the same sizes, given explicitly, are taken */
	o.calls_max = US_CALLS_DEFAULT;
	o.txns_max = US_TXNS_DEFAULT;
	assert_int_equal(us_dp_open(&o, &other), 0);
	us_dp_close(other);
}

static void test_mirror_groups_for_every_pair(void **state)
{
	struct understudy_bpf *sk = us_dp_skel(dp);
	int before = map_count(sk->maps.us_groups);

	(void)state;
	/* one interface m: (m, m), (m, -, m), (m, m, m) */
	assert_int_equal(us_dp_add_machine_iface(dp, testnet.ifs[TN_MACH].name), 0);
	assert_int_equal(map_count(sk->maps.us_groups), before + 3);
	/* two: every (a, s), (a, -, c) and (a, s, c) of them: 4 + 4 + 8 */
	assert_int_equal(us_dp_add_machine_iface(dp, testnet.ifs[TN_SIM].name), 0);
	assert_int_equal(map_count(sk->maps.us_groups), before + 16);
	{
		/* again: the same groups, each replaced by a new devmap */
		struct us_group_key k = { .active_ifindex = testnet.ifs[TN_SIM].ifindex,
					  .sim_ifindex = testnet.ifs[TN_SIM].ifindex };
		__u32 id1 = 0, id2 = 0;

		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(sk->maps.us_groups), &k, &id1), 0);
		assert_int_equal(us_dp_add_machine_iface(dp, testnet.ifs[TN_SIM].name), 0);
		assert_int_equal(map_count(sk->maps.us_groups), before + 16);
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(sk->maps.us_groups), &k, &id2), 0);
		assert_int_not_equal(id1, id2);
	}
	assert_int_equal(us_dp_add_machine_iface(dp, "nosuchif0"), -ENODEV);
}

/* The deadline of a pair's silent side: floor and multiple refused out of
 * range (nothing changes), taken in range, read back from the service. */
static void test_due_refusals(void **state)
{
	int fd = bpf_map__fd(us_dp_skel(dp)->maps.us_services);
	struct us_svc_key k, *prev = NULL;
	struct us_svc v;
	int found = 0;

	(void)state;
	assert_int_equal(us_dp_set_due(dp, 0, 0, 8), -ERANGE);
	assert_non_null(strstr(us_dp_error(dp), "deadline floor 0 ms out of range (1..32000)"));
	assert_int_equal(us_dp_set_due(dp, 0, US_DUE_MAX_MS + 1, 8), -ERANGE);
	assert_int_equal(us_dp_set_due(dp, 0, 2000, 0), -ERANGE);
	assert_non_null(strstr(us_dp_error(dp), "deadline multiple 0 out of range (1..1000)"));
	assert_int_equal(us_dp_set_due(dp, 0, 2000, 1001), -ERANGE);
	assert_int_equal(us_dp_set_due(dp, 31, 2000, 8), -ENOENT);
	assert_int_equal(us_dp_set_due(dp, 0, 1500, 4), 0);
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		if (!bpf_map_lookup_elem(fd, &k, &v) && v.id == 0) {
			assert_int_equal(v.due_floor_ms, 1500);
			assert_int_equal(v.due_mult, 4);
			found = 1;
		}
		prev = &k;
	}
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pins_exist_with_btf),
		cmocka_unit_test(test_service_refusals_change_nothing),
		cmocka_unit_test(test_ports_bitmap_follows_services),
		cmocka_unit_test(test_machine_refusals),
		cmocka_unit_test(test_tables_follow_machine_changes),
		cmocka_unit_test(test_cfg_refusals),
		cmocka_unit_test(test_learn_macs_from_neighbours),
		cmocka_unit_test(test_links_outlive_the_process),
		cmocka_unit_test(test_links_held_and_repaired),
		cmocka_unit_test(test_pin_root_must_be_ours),
		cmocka_unit_test(test_pinned_map_size_is_kept),
		cmocka_unit_test(test_mirror_groups_for_every_pair),
		cmocka_unit_test(test_due_refusals),
	};
	int rc;

	if (geteuid() != 0) {
		fprintf(stderr, "test_dp: needs root (BPF maps, network namespace)\n");
		return 1;
	}
	if (testnet_enter())
		return 1;
	rc = cmocka_run_group_tests(tests, setup, teardown);
	testnet_leave();
	return rc;
}
