// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cmocka tests of the one validator (userspace/validate.h) and of what it
 * promises: every name, version and address it accepts survives the state
 * file (written by the file store, read back by it, equal), and what it
 * refuses the state file's loader refuses too. No root needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "addr.h"
#include "model.h"
#include "store.h"
#include "validate.h"

static void test_names(void **state)
{
	static const char *const good[] = {
		"a", "0", "v2-a", "a.b_c-d", "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq",
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "", "is empty" },
		{ "A", "is not a valid name" },
		{ "-a", "is not a valid name" },
		{ ".a", "is not a valid name" },
		{ "a b", "is not a valid name" },
		{ "a\n", "is not a valid name" },
		{ "a\x1b[2J", "is not a valid name" },
		{ "a\"", "is not a valid name" },
		{ "caf\xc3\xa9", "is not a valid name" },
		{ "a/b", "is not a valid name" },
		{ "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqr",
		  "is too long (64 characters; at most 63)" },
	};
	char why[128];

	(void)state;
	assert_int_equal(strlen(good[4]), 63);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(us_valid_name(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(us_valid_name(bad[i].s, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, bad[i].why));
	}
	assert_int_equal(us_valid_name(NULL, NULL, 0), -EINVAL);
}

static void test_versions(void **state)
{
	static const char *const good[] = {
		"1", "1.0", "2.0 \"beta\" \\ x", "caf\xc3\xa9", "\xf0\x9f\x98\x80", "v=1;a'b",
		"123456789012345678901234567890123456789012345678901234567890123",
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "", "is empty" },
		{ "1\r\n", "has a control character" },
		{ "1\n", "has a control character" },
		{ "\x1b[2J", "has a control character" },
		{ "1\x7f", "has a control character" },
		{ "1\xc2\x9b" "2J", "has a control character" },     /* C1 CSI */
		{ "\xff", "is not valid UTF-8 text" },
		{ "\xc0\xaf", "is not valid UTF-8 text" },            /* overlong '/' */
		{ "\xed\xa0\x80", "is not valid UTF-8 text" },        /* a surrogate */
		{ "\xf4\x90\x80\x80", "is not valid UTF-8 text" },    /* past U+10FFFF */
		{ "\xe2\x82", "is not valid UTF-8 text" },            /* cut */
		{ "1234567890123456789012345678901234567890123456789012345678901234",
		  "is too long (64 bytes; at most 63)" },
	};
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(us_valid_version(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(us_valid_version(bad[i].s, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, bad[i].why));
	}
}

static int addr(const char *s, __u8 a[16])
{
	int f = us_addr_parse(s, a);

	assert_int_not_equal(f, 0);
	return f;
}

static void test_addresses(void **state)
{
	static const char *const good[] = {
		"198.18.1.1", "1.0.0.0", "223.255.255.254", "10.0.0.1", "2001:db8::1",
		"fec0::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "::2",
	};
	static const struct { const char *s, *why; } bad[] = {
		{ "0.0.0.0", "is unspecified" }, { "0.1.2.3", "is unspecified" },
		{ "127.0.0.1", "is a loopback address" }, { "127.255.0.9", "is a loopback address" },
		{ "169.254.0.1", "is a link-local address" },
		{ "224.0.0.1", "is a multicast address" }, { "239.255.255.255", "is a multicast address" },
		{ "240.0.0.1", "is a reserved address (class E" },
		{ "255.255.255.255", "is the broadcast address" },
		{ "::", "is unspecified" }, { "::1", "is the loopback address" },
		{ "ff02::1", "is a multicast address" }, { "fe80::1", "is a link-local address" },
		{ "febf::1", "is a link-local address" },
		{ "::ffff:198.18.1.1", "is IPv4-mapped IPv6" },
	};
	__u8 a[16], vip[16];
	char why[128];
	int f, vf;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		f = addr(good[i], a);
		assert_int_equal(us_valid_addr(f, a, why, sizeof(why)), 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = us_addr_parse(bad[i].s, a);
		if (!strncmp(bad[i].s, "::ffff:", 7))
			f = AF_INET6;   /* us_addr_parse reads it as IPv6 text */
		assert_int_equal(us_valid_addr(f, a, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: \"%s\", expected \"%s\"", bad[i].s, why, bad[i].why);
	}
	assert_int_equal(us_valid_addr(0, a, why, sizeof(why)), -EINVAL);

	vf = addr("198.18.100.1", vip);
	f = addr("198.18.100.1", a);
	assert_int_equal(us_valid_machine_addr(f, a, vf, vip, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "is the service's VIP; a machine needs its own address");
	f = addr("2001:db8::5", a);
	assert_int_equal(us_valid_machine_addr(f, a, vf, vip, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "is IPv6 but the service's VIP is IPv4");
	f = addr("198.18.1.1", a);
	assert_int_equal(us_valid_machine_addr(f, a, vf, vip, why, sizeof(why)), 0);
	f = addr("224.1.1.1", a);
	assert_int_equal(us_valid_machine_addr(f, a, vf, vip, why, sizeof(why)), -EINVAL);
}

static void test_escape(void **state)
{
	char out[64], small[8];

	(void)state;
	assert_string_equal(us_escape("v2-a", out, sizeof(out)), "v2-a");
	assert_string_equal(us_escape("a\x1b[2Jb", out, sizeof(out)), "a\\x1b[2Jb");
	assert_string_equal(us_escape("a\nb\r", out, sizeof(out)), "a\\x0ab\\x0d");
	assert_string_equal(us_escape("caf\xc3\xa9", out, sizeof(out)), "caf\xc3\xa9");
	assert_string_equal(us_escape("\xc2\x9b" "1", out, sizeof(out)), "\\xc2\\x9b1");
	assert_string_equal(us_escape("\xff\xfe", out, sizeof(out)), "\\xff\\xfe");
	assert_string_equal(us_escape("q\"\\", out, sizeof(out)), "q\"\\");
	/* cut at a whole piece, marked */
	assert_string_equal(us_escape("abcdefghij", small, sizeof(small)), "abcd...");
	assert_string_equal(us_escape("\x1b\x1b\x1b", small, sizeof(small)), "\\x1b...");
	assert_string_equal(us_escape("abcdefg", small, sizeof(small)), "abcdefg");
}

/* ---- the round trip through the state file ---------------------------------- */

static char dir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/understudy-validate-%d", (int)getpid());
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A record of every edge the validator accepts, saved and loaded back whole. */
static void test_state_round_trip(void **state)
{
	static const struct { const char *name, *service, *version, *addr; } edge[] = {
		{ "a", "s", "1", "1.0.0.1" },
		{ "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq",
		  "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq",
		  "123456789012345678901234567890123456789012345678901234567890123",
		  "223.255.255.254" },
		{ "v2.a_b-c", "sip", "2.0 \"beta\" \\ 'x' {}[]:,#&*!|>%@`", "2001:db8::1" },
		{ "9", "sip", "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x80\xa8", "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe" },
		{ "m-", "sip", "\xef\xbf\xbd\xc2\xa0", "::2" },
	};
	struct us_model m, back;
	struct us_store *st;
	struct us_audit pending;
	char err[512];

	(void)state;
	assert_int_equal(us_store_file_open_dir(NULL, dir, &st), 0);
	us_model_init(&m, st);
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		struct us_mconf c = { 0 };
		struct us_rec *r;

		snprintf(c.service, sizeof(c.service), "%s", edge[i].service);
		snprintf(c.version, sizeof(c.version), "%s", edge[i].version);
		assert_int_equal(us_valid_name(edge[i].name, NULL, 0), 0);
		assert_int_equal(us_valid_version(edge[i].version, NULL, 0), 0);
		c.family = us_addr_parse(edge[i].addr, c.addr);
		assert_int_equal(us_valid_addr(c.family, c.addr, NULL, 0), 0);
		c.weight = i ? (__u16)(i * 1000) : 65535;
		c.dynamic = i & 1;
		c.state = US_MS_SIMULATION;
		assert_int_equal(us_model_new(&m, edge[i].name, &c, &r), 0);
		assert_int_equal(us_model_move(&m, r, i & 1 ? US_MS_ACTIVE : US_MS_SIMULATION,
					       US_BY_OPERATOR, "round trip \n\x1b"), 0);
	}
	us_model_init(&back, st);
	assert_int_equal(st->ops->load(st, &back, &pending, err, sizeof(err)), 0);
	assert_int_equal(back.n, m.n);
	assert_int_equal(back.seq, m.seq);
	for (size_t i = 0; i < m.n; i++) {
		const struct us_rec *a = &m.r[i], *b = us_model_find(&back, a->name);

		assert_non_null(b);
		assert_string_equal(b->conf.service, a->conf.service);
		assert_string_equal(b->conf.version, a->conf.version);
		assert_int_equal(b->conf.family, a->conf.family);
		assert_memory_equal(b->conf.addr, a->conf.addr, 16);
		assert_int_equal(b->conf.weight, a->conf.weight);
		assert_int_equal(b->conf.dynamic, a->conf.dynamic);
		assert_int_equal(b->id, a->id);
		assert_int_equal(b->state, a->state);
	}
	us_model_free(&back);
	us_model_free(&m);
	us_store_close(st);
}

/* A state file of one valid record, written by the store: its root. */
static json_object *valid_state(struct us_store *st, const char *path)
{
	struct us_mconf c = { .weight = 1, .dynamic = true, .state = US_MS_SIMULATION };
	struct us_model m;
	struct us_rec *r;
	json_object *root;

	snprintf(c.service, sizeof(c.service), "sip");
	snprintf(c.version, sizeof(c.version), "1");
	c.family = us_addr_parse("198.18.1.1", c.addr);
	us_model_init(&m, st);
	assert_int_equal(us_model_new(&m, "a", &c, &r), 0);
	assert_int_equal(us_model_move(&m, r, US_MS_ACTIVE, US_BY_OPERATOR, "valid"), 0);
	us_model_free(&m);
	root = json_object_from_file(path);
	assert_non_null(root);
	return root;
}

/* What the validator refuses, the loader refuses, naming the field: the
 * store's own file, loaded as it is, then with one field changed. */
static void test_state_refuses_invalid(void **state)
{
	static const struct { const char *field, *json; } bad[] = {
		{ "name", "\"\"" },
		{ "name", "\"a\\nb\"" },
		{ "name", "\"a\\u0000b\"" },
		{ "name", "\"A\"" },
		{ "service", "\"\"" },
		{ "service", "\"s\\u001b[2J\"" },
		{ "version", "\"\"" },
		{ "version", "\"1\\r\\n\"" },
		{ "version", "\"1\\u009b2J\"" },
		{ "address", "\"\"" },
		{ "address", "\"224.0.0.1\"" },
		{ "address", "\"127.0.0.1\"" },
		{ "address", "\"0.0.0.0\"" },
	};
	char path[128], err[512], want[128];
	json_object *root, *copy, *arr;
	struct us_model m;
	struct us_store *st;
	struct us_audit pending;

	(void)state;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(us_store_file_open_dir(NULL, dir, &st), 0);
	root = valid_state(st, path);
	us_model_init(&m, st);
	assert_int_equal(st->ops->load(st, &m, &pending, err, sizeof(err)), 0);
	assert_int_equal(m.n, 1);
	us_model_free(&m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		copy = NULL;
		assert_int_equal(json_object_deep_copy(root, &copy, NULL), 0);
		assert_true(json_object_object_get_ex(copy, "machines", &arr));
		json_object_object_add(json_object_array_get_idx(arr, 0), bad[i].field,
				       json_tokener_parse(bad[i].json));
		assert_int_equal(json_object_to_file(path, copy), 0);
		json_object_put(copy);
		us_model_init(&m, st);
		err[0] = 0;
		assert_int_equal(st->ops->load(st, &m, &pending, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "machines[0].%s: missing or invalid", bad[i].field);
		if (!strstr(err, want))
			fail_msg("%s %s: \"%s\", expected \"%s\"", bad[i].field, bad[i].json, err,
				 want);
		us_model_free(&m);
	}
	json_object_put(root);
	us_store_close(st);
}

/* A directory only the daemon may change: made 0700, or refused with why. */
static void test_secure_dir(void **state)
{
	char d[96], sub[128], why[256], cmd[160];
	struct stat st;

	(void)state;
	snprintf(d, sizeof(d), "/tmp/understudy-secure-%d", (int)getpid());
	assert_int_equal(mkdir(d, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/new", d);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), 0);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), 0);        /* as it is */
	chmod(sub, 0755);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), 0);        /* readable is fine */
	chmod(sub, 01777);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "is writable by every user (mode 1777): chmod go-w it");
	chmod(sub, 0770);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), -EPERM);
	assert_string_equal(why, "is writable by its group (mode 0770): chmod go-w it");
	chmod(sub, 0700);
	if (geteuid() == 0) {
		/* a user who made it first (the pin root on a 1777 bpffs) owns it */
		assert_int_equal(chown(sub, 65534, 65534), 0);
		assert_int_equal(us_secure_dir(sub, why, sizeof(why)), -EPERM);
		assert_non_null(strstr(why, "is owned by uid 65534, not by uid 0"));
	}
	snprintf(sub, sizeof(sub), "%s/link", d);
	assert_int_equal(symlink("/tmp", sub), 0);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "is a symbolic link, not a directory");
	snprintf(sub, sizeof(sub), "%s/file", d);
	fclose(fopen(sub, "w"));
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "is not a directory");
	snprintf(sub, sizeof(sub), "%s/no/such", d);
	assert_int_equal(us_secure_dir(sub, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "cannot be created"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_secure_dir),
		cmocka_unit_test_setup_teardown(test_state_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_state_refuses_invalid, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
