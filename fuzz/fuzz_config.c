// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target of the configuration parser (us_conf_parse and the
 * YAML walker under it), built with ASan and UBSan (make fuzz-config;
 * 20 s of it in make test: tests/test_fuzz_config.sh).
 *
 * Besides not crashing, leaking or reading out of bounds, what it accepts
 * must be what every other reader accepts (validate.h): each name, version
 * and address of an accepted file passes the validator, or the state file
 * the daemon would write from it could not be read back. Its warnings and
 * summary are made too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "validate.h"

static void must(int ok, const char *what, const char *value)
{
	if (!ok) {
		fprintf(stderr, "fuzz_config: accepted, but %s \"%s\" fails the validator\n", what,
			value);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct us_conf c;
	char err[4096], *sum;
	int n;

	if (us_conf_parse((const char *)data, size, "fuzz.yaml", &c, err, sizeof(err))) {
		/* a refusal says something, always cut whole (yamlwalk.c) */
		if (!err[0])
			abort();
		return 0;
	}
	for (size_t i = 0; i < c.nservices; i++) {
		const struct us_conf_service *s = &c.services[i];

		must(!us_valid_name(s->name, NULL, 0), "service name", s->name);
		must(!us_valid_addr(s->family, s->vip, NULL, 0), "VIP of", s->name);
		for (size_t j = 0; j < s->nmachines; j++) {
			const struct us_conf_machine *m = &s->machines[j];

			must(!us_valid_name(m->name, NULL, 0), "machine name", m->name);
			must(!us_valid_version(m->version, NULL, 0), "version of", m->name);
			must(!us_valid_machine_addr(m->family, m->addr, s->family, s->vip, NULL, 0),
			     "address of", m->name);
		}
	}
	us_conf_warnings(&c, err, sizeof(err));
	n = us_conf_summary(&c, NULL, 0);
	sum = n > 0 ? malloc((size_t)n + 1) : NULL;
	if (sum) {
		us_conf_summary(&c, sum, (size_t)n + 1);
		free(sum);
	}
	us_conf_free(&c);
	return 0;
}
