// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cluster configuration: parse a YAML file with libyaml's document
 * API, validate every field, and build a struct us_conf only when the whole
 * file is valid. Then: the difference between two configurations.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

_Static_assert(US_CONF_DEF_LOG_LEVEL == LOG_INFO, "default log level");

#define PATHLEN 160
#define ERRS_KEPT 4096  /* errors kept for sorting; more are only counted */   /* field paths: services[31].machines[255].address */

/* ---- error collection ------------------------------------------------- */

struct cerr {
	size_t line, col, seq;   /* position (0: none), order found */
	char *text;
};

struct ctx {
	yaml_document_t *doc;
	const char *file;
	struct cerr *errs;       /* sorted by position at the end */
	size_t nerr, cap;
	size_t unkept;           /* errors past ERRS_KEPT, counted only */
	bool oom;
	size_t nmachines;        /* machines so far, over all services */
};

static void add_error(struct ctx *c, const yaml_mark_t *m, const char *s)
{
	struct cerr *e;

	if (c->oom)
		return;
	if (c->nerr == ERRS_KEPT) {
		c->unkept++;
		return;
	}
	if (c->nerr == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct cerr *p = realloc(c->errs, cap * sizeof(*p));

		if (!p) {
			c->oom = true;
			return;
		}
		c->errs = p;
		c->cap = cap;
	}
	e = &c->errs[c->nerr];
	e->line = m ? m->line + 1 : 0;
	e->col = m ? m->column + 1 : 0;
	e->seq = c->nerr;
	e->text = strdup(s);
	if (!e->text) {
		c->oom = true;
		return;
	}
	c->nerr++;
}

/* "file:line:col: path: message", or without path/position when absent. */
__attribute__((format(printf, 4, 5)))
static void error_at(struct ctx *c, const yaml_mark_t *m, const char *path, const char *fmt, ...)
{
	char body[512], line[768], pos[64] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (m)
		snprintf(pos, sizeof(pos), ":%zu:%zu", m->line + 1, m->column + 1);
	if (path && *path)
		snprintf(line, sizeof(line), "%s%s: %s: %s", c->file, pos, path, body);
	else
		snprintf(line, sizeof(line), "%s%s: %s", c->file, pos, body);
	add_error(c, m, line);
}

#define ERR(c, node, path, ...) error_at(c, &(node)->start_mark, path, __VA_ARGS__)

/* ---- helpers over nodes ----------------------------------------------- */

static yaml_node_t *nd(struct ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (!is_plain(n))
		return false;
	v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* A value for a message: quoted, escaped, cut to 40 characters. */
static const char *quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; s[i] && o + 8 < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i == 40) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (ch == '"' || ch == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o++] = '"';
	buf[o] = 0;
	return buf;
}

/* What a node is, for "expected X, got Y". */
static const char *kind(const yaml_node_t *n, char *buf, size_t len)
{
	char q[96];

	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		if (is_null(n))
			return "nothing (null)";
		quote(sval(n), q, sizeof(q));
		snprintf(buf, len, "%s%s", is_plain(n) ? "" : "the quoted string ", q);
		return buf;
	default:
		return "an empty node";
	}
}

static void expected(struct ctx *c, const yaml_node_t *n, const char *path, const char *what)
{
	char k[128];

	ERR(c, n, path, "expected %s, got %s", what, kind(n, k, sizeof(k)));
}

/* The text of a scalar that is not null, or NULL after reporting. */
static const char *text(struct ctx *c, const yaml_node_t *n, const char *path, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		expected(c, n, path, what);
		return NULL;
	}
	if (strlen(sval(n)) != n->data.scalar.length) {
		ERR(c, n, path, "contains a NUL character");
		return NULL;
	}
	return sval(n);
}

/* A number's text: a plain scalar (quoted numbers are strings). */
static const char *numtext(struct ctx *c, const yaml_node_t *n, const char *path, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || !is_plain(n) || is_null(n)) {
		expected(c, n, path, what);
		return NULL;
	}
	return sval(n);
}

/* Field paths (cut if ever too long: they are for messages only). */
static void join(char *out, const char *path, const char *key)
{
	if (snprintf(out, PATHLEN, "%s%s%s", path, *path ? "." : "", key) >= PATHLEN)
		out[PATHLEN - 1] = 0;
}

static void joini(char *out, const char *path, size_t i)
{
	if (snprintf(out, PATHLEN, "%s[%zu]", path, i) >= PATHLEN)
		out[PATHLEN - 1] = 0;
}

/* ---- mappings: known keys, duplicates, required keys -------------------- */

struct field {
	const char *key;
	bool required;
};

/*
 * Check a mapping against its fields and set val[i] to the value node of
 * field i (NULL when absent). Reports wrong type, non-scalar, unknown,
 * duplicate, merge and missing keys. Returns false if n is not a mapping.
 */
static bool take_map(struct ctx *c, yaml_node_t *n, const char *path, const struct field *f,
		     size_t nf, yaml_node_t **val)
{
	yaml_node_t *keyn[32] = { 0 };
	char p[PATHLEN], q[96], missing[256] = "";
	yaml_node_pair_t *pr;
	size_t i, nmiss = 0;

	for (i = 0; i < nf; i++)
		val[i] = NULL;
	if (n->type != YAML_MAPPING_NODE) {
		expected(c, n, path, "a mapping");
		return false;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = nd(c, pr->key), *v = nd(c, pr->value);
		const char *ks;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE || is_null(k)) {
			char kk[128];

			ERR(c, k, path, "keys must be strings, got %s", kind(k, kk, sizeof(kk)));
			continue;
		}
		ks = sval(k);
		if (is_plain(k) && !strcmp(ks, "<<")) {
			ERR(c, k, path, "merge keys (<<) are not supported; "
			    "use an alias for the whole mapping or repeat the keys");
			continue;
		}
		for (i = 0; i < nf; i++)
			if (!strcmp(ks, f[i].key))
				break;
		if (i == nf) {
			char valid[256] = "";
			size_t o = 0, j;

			for (j = 0; j < nf && o < sizeof(valid); j++)
				o += (size_t)snprintf(valid + o, sizeof(valid) - o, "%s%s",
						      j ? ", " : "", f[j].key);
			ERR(c, k, path, "unknown key %s; valid keys: %s", quote(ks, q, sizeof(q)), valid);
			continue;
		}
		join(p, path, f[i].key);
		if (val[i]) {
			ERR(c, k, p, "duplicate key (first at line %zu)", keyn[i]->start_mark.line + 1);
			continue;
		}
		val[i] = v;
		keyn[i] = k;
	}
	for (i = 0; i < nf; i++) {
		if (f[i].required && !val[i]) {
			size_t o = strlen(missing);

			snprintf(missing + o, sizeof(missing) - o, "%s%s", nmiss ? ", " : "", f[i].key);
			nmiss++;
		}
	}
	if (nmiss)
		ERR(c, n, path, "missing required key%s: %s", nmiss > 1 ? "s" : "", missing);
	return true;
}

/* ---- scalar values ----------------------------------------------------- */

/* Decimal digits only; -ERANGE on overflow or a negative number. */
static int parse_u64(const char *s, __u64 *v)
{
	const char *p = s;
	__u64 x = 0;

	bool neg = false;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		if (x > (~0ull - 9) / 10)
			return -ERANGE;
		x = x * 10 + (__u64)(*p - '0');
	}
	if (neg && x)
		return -ERANGE;
	*v = x;
	return 0;
}

static bool get_uint(struct ctx *c, const yaml_node_t *n, const char *path, __u64 min, __u64 max,
		     __u64 *out)
{
	const char *s = numtext(c, n, path, "an integer");
	__u64 v;
	int r;

	if (!s)
		return false;
	r = parse_u64(s, &v);
	if (r == -EINVAL) {
		expected(c, n, path, "an integer");
		return false;
	}
	if (r == -ERANGE || v < min || v > max) {
		ERR(c, n, path, "%s out of range (%llu..%llu)", s, (unsigned long long)min,
		    (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

/* A finite decimal number: [+-]digits[.digits][e[+-]digits]. */
static int parse_num(const char *s, size_t len, double *v)
{
	char buf[64];
	char *end;
	size_t i;
	bool digit = false;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (ch >= '0' && ch <= '9')
			digit = true;
		else if (!strchr(".eE+-", ch) || !ch)
			return -EINVAL;
	}
	if (!digit)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	errno = 0;
	*v = strtod(buf, &end);
	if (*end || end == buf || !isfinite(*v))
		return -EINVAL;
	return 0;
}

static bool get_double(struct ctx *c, const yaml_node_t *n, const char *path, double *out)
{
	const char *s = numtext(c, n, path, "a number");

	if (!s)
		return false;
	if (parse_num(s, strlen(s), out)) {
		expected(c, n, path, "a number");
		return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suf, size_t *stem)
{
	size_t n = strlen(s), m = strlen(suf);

	if (n < m || strcmp(s + n - m, suf))
		return false;
	*stem = n - m;
	return true;
}

/* A duration: a number with unit ms, s, m or h; a bare number is seconds
 * only when bare_ok. */
static bool get_duration(struct ctx *c, const yaml_node_t *n, const char *path, bool bare_ok,
			 double min_s, double max_s, double *out)
{
	static const struct { const char *u; double mul; } units[] = {
		{ "ms", 0.001 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	const char *what = bare_ok ? "a duration (e.g. 60, 60s, 500ms, 2m)" :
				     "a duration with a unit (e.g. 5s, 500ms, 2m)";
	const char *s = numtext(c, n, path, what);
	double v;
	size_t i, stem;

	if (!s)
		return false;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ends_with(s, units[i].u, &stem) && !parse_num(s, stem, &v))
			break;
	if (i < sizeof(units) / sizeof(units[0])) {
		v *= units[i].mul;
	} else if (!bare_ok || parse_num(s, strlen(s), &v)) {
		expected(c, n, path, what);
		return false;
	}
	if (v < min_s - 1e-9 || v > max_s + 1e-9) {
		ERR(c, n, path, "%s out of range (%gs..%gs)", s, min_s, max_s);
		return false;
	}
	*out = v;
	return true;
}

/* A percentage 0..100 with at most two decimals, optionally with "%",
 * as basis points. Parsed from the text: no rounding. */
static bool get_share(struct ctx *c, const yaml_node_t *n, const char *path, __u16 *bp)
{
	const char *what = "a percentage 0..100 (e.g. 25 or 12.5%)";
	const char *s = numtext(c, n, path, what);
	size_t len, i, dot = 0, nfrac = 0, ni = 0;
	__u64 ip = 0, fp = 0;
	bool neg = false;

	if (!s)
		return false;
	len = strlen(s);
	if (len && s[len - 1] == '%')
		len--;
	i = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (s[i] == '.' && !dot) {
			dot = i + 1;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (dot) {
				if (++nfrac <= 2)
					fp = fp * 10 + (__u64)(s[i] - '0');
			} else {
				ni++;
				if (ip < 1000000)
					ip = ip * 10 + (__u64)(s[i] - '0');
			}
		} else {
			expected(c, n, path, what);
			return false;
		}
	}
	if (!ni && !nfrac) {
		expected(c, n, path, what);
		return false;
	}
	if (nfrac > 2) {
		/* trailing zeros are no extra precision */
		size_t j;

		for (j = dot + 2; j < len && s[j] == '0'; j++)
			;
		if (j < len) {
			ERR(c, n, path, "%s has more than two decimals (the unit is 0.01%%)", s);
			return false;
		}
	}
	if (nfrac == 1)
		fp *= 10;
	if ((neg && (ip || fp)) || ip * 100 + fp > US_SHARE_MAX) {
		ERR(c, n, path, "%s out of range (0..100)", s);
		return false;
	}
	*bp = (__u16)(ip * 100 + fp);
	return true;
}

/* A share 0..1: a fraction, or with '%' (pct) or "pp" (pp) a percentage. */
static bool get_fraction(struct ctx *c, const yaml_node_t *n, const char *path, bool points,
			 double *out)
{
	const char *what = points ? "percentage points (e.g. 0.5pp) or a fraction (0.005)" :
				    "a percentage (e.g. 0.5%) or a fraction (0.005)";
	const char *s = numtext(c, n, path, what);
	size_t stem;
	double v;

	if (!s)
		return false;
	if (ends_with(s, "pp", &stem)) {
		if (!points) {
			ERR(c, n, path, "%s: percentage points (pp) are for differences of rates; "
			    "write a percentage (e.g. 0.5%%) or a fraction (0.005)", s);
			return false;
		}
		if (parse_num(s, stem, &v)) {
			expected(c, n, path, what);
			return false;
		}
		v /= 100;
	} else if (ends_with(s, "%", &stem)) {
		if (points) {
			ERR(c, n, path, "%s is ambiguous for a difference of rates; "
			    "write percentage points (e.g. 0.5pp) or a fraction (0.005)", s);
			return false;
		}
		if (parse_num(s, stem, &v)) {
			expected(c, n, path, what);
			return false;
		}
		v /= 100;
	} else if (parse_num(s, strlen(s), &v)) {
		expected(c, n, path, what);
		return false;
	}
	if (v < 0 || v > 1) {
		ERR(c, n, path, "%s out of range (0..1, or 0%s..100%s)", s,
		    points ? "pp" : "%", points ? "pp" : "%");
		return false;
	}
	*out = v;
	return true;
}

/* One of a list of words; returns its index or -1 after reporting. */
static int get_enum(struct ctx *c, const yaml_node_t *n, const char *path,
		    const char *const *words, size_t nw)
{
	char list[160] = "", what[192], q[96];
	size_t i, o = 0;
	const char *s;

	for (i = 0; i < nw; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", words[i]);
	snprintf(what, sizeof(what), "one of %s", list);
	s = text(c, n, path, what);
	if (!s)
		return -1;
	for (i = 0; i < nw; i++)
		if (!strcmp(s, words[i]))
			return (int)i;
	if (nw == 1)
		ERR(c, n, path, "%s: only %s is supported", quote(s, q, sizeof(q)), list);
	else
		ERR(c, n, path, "%s is not one of %s", quote(s, q, sizeof(q)), list);
	return -1;
}

/* A service or machine name: 1..63 of [a-z0-9._-], starting with [a-z0-9]. */
static bool get_name(struct ctx *c, const yaml_node_t *n, const char *path, char *out)
{
	const char *s = text(c, n, path, "a name");
	char q[96];
	size_t i, len;

	if (!s)
		return false;
	len = strlen(s);
	if (len >= US_CONF_NAME_MAX) {
		ERR(c, n, path, "%s is too long (%zu characters; at most %d)", quote(s, q, sizeof(q)),
		    len, US_CONF_NAME_MAX - 1);
		return false;
	}
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      (i && (ch == '.' || ch == '_' || ch == '-')))) {
			ERR(c, n, path, "%s is not a valid name (lower-case letters, digits, '.', '_' "
			    "and '-', starting with a letter or digit)", quote(s, q, sizeof(q)));
			return false;
		}
	}
	memcpy(out, s, len + 1);
	return true;
}

/* A free string (version): 1..max-1 bytes, no control characters. */
static bool get_string(struct ctx *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s = text(c, n, path, "a string");
	char q[96];
	size_t i, len;

	if (!s)
		return false;
	len = strlen(s);
	if (!len) {
		ERR(c, n, path, "empty string");
		return false;
	}
	if (len >= max) {
		ERR(c, n, path, "%s is too long (%zu bytes; at most %zu)", quote(s, q, sizeof(q)), len,
		    max - 1);
		return false;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			ERR(c, n, path, "%s contains a control character", quote(s, q, sizeof(q)));
			return false;
		}
	}
	memcpy(out, s, len + 1);
	return true;
}

/* An interface name as the kernel accepts it (dev_valid_name). */
static bool get_ifname(struct ctx *c, const yaml_node_t *n, const char *path, char *out)
{
	const char *s = text(c, n, path, "an interface name");
	char q[96];
	size_t i, len;

	if (!s)
		return false;
	len = strlen(s);
	if (!len) {
		ERR(c, n, path, "empty interface name");
		return false;
	}
	if (len >= US_CONF_IFNAME_MAX) {
		ERR(c, n, path, "%s is too long for an interface name (at most %d characters)",
		    quote(s, q, sizeof(q)), US_CONF_IFNAME_MAX - 1);
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch == '/' || ch == ':' || ch >= 0x7f)
			break;
	}
	if (i < len || !strcmp(s, ".") || !strcmp(s, "..")) {
		ERR(c, n, path, "%s is not a valid interface name", quote(s, q, sizeof(q)));
		return false;
	}
	memcpy(out, s, len + 1);
	return true;
}

/* An absolute path shorter than max. */
static bool get_path(struct ctx *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s = text(c, n, path, "an absolute path");
	char q[96];
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (s[0] != '/') {
		ERR(c, n, path, "%s is not an absolute path", quote(s, q, sizeof(q)));
		return false;
	}
	if (len >= max) {
		ERR(c, n, path, "path too long (%zu bytes; at most %zu)", len, max - 1);
		return false;
	}
	memcpy(out, s, len + 1);
	return true;
}

/* Literal IPv4 (a.b.c.d) or IPv6 into 16 bytes, IPv4 v4-mapped. */
static int parse_addr(const char *s, __u8 addr[16])
{
	struct in6_addr a6;
	struct in_addr a4;

	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &a4, 4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(addr, &a6, 16);
		return AF_INET6;
	}
	return 0;
}

static bool v4mapped(const __u8 a[16])
{
	static const __u8 pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return !memcmp(a, pfx, 12);
}

static const char *addr_str(int family, const __u8 a[16], char *buf, size_t len)
{
	if (family == AF_INET)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	return buf;
}

/* A unicast host address: not unspecified, multicast or broadcast. */
static bool get_addr(struct ctx *c, const yaml_node_t *n, const char *path, int *family,
		     __u8 addr[16])
{
	const char *s = text(c, n, path, "an IPv4 or IPv6 address");
	char q[96];
	int fam;

	if (!s)
		return false;
	fam = parse_addr(s, addr);
	if (!fam) {
		ERR(c, n, path, "%s is not an IPv4 or IPv6 address", quote(s, q, sizeof(q)));
		return false;
	}
	if (fam == AF_INET6 && v4mapped(addr)) {
		ERR(c, n, path, "%s: write an IPv4 address as a.b.c.d, not IPv4-mapped IPv6", s);
		return false;
	}
	if ((fam == AF_INET && (!memcmp(addr + 12, "\0\0\0\0", 4) ||
				(addr[12] & 0xf0) == 0xe0 ||
				!memcmp(addr + 12, "\xff\xff\xff\xff", 4))) ||
	    (fam == AF_INET6 && (addr[0] == 0xff ||
				 !memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16)))) {
		ERR(c, n, path, "%s is not a unicast host address", s);
		return false;
	}
	*family = fam;
	return true;
}

/* ---- the sections ------------------------------------------------------ */

static void parse_balancer(struct ctx *c, yaml_node_t *n, struct us_conf *o)
{
	static const struct field f[] = {
		{ "client_interface", true }, { "machine_interfaces", true }, { "xdp_mode", false },
	};
	static const char *const modes[] = { "native", "generic", "auto" };
	yaml_node_t *v[3];
	char p[PATHLEN];
	bool client_ok = false;

	if (!take_map(c, n, "balancer", f, 3, v))
		return;
	if (v[0])
		client_ok = get_ifname(c, v[0], "balancer.client_interface", o->client_if);
	if (v[1]) {
		yaml_node_t *s = v[1];

		if (s->type != YAML_SEQUENCE_NODE) {
			expected(c, s, "balancer.machine_interfaces", "a list of interface names");
		} else if (s->data.sequence.items.top == s->data.sequence.items.start) {
			ERR(c, s, "balancer.machine_interfaces",
			    "empty list; at least one interface is required");
		} else {
			yaml_node_item_t *it;
			size_t i = 0;

			for (it = s->data.sequence.items.start; it < s->data.sequence.items.top;
			     it++, i++) {
				yaml_node_t *e = nd(c, *it);
				char name[US_CONF_IFNAME_MAX] = "";

				joini(p, "balancer.machine_interfaces", i);
				if (i == US_CONF_MAX_IFS) {
					ERR(c, e, p, "more than %d interfaces", US_CONF_MAX_IFS);
					break;
				}
				size_t j;

				if (!get_ifname(c, e, p, name))
					continue;
				if (client_ok && !strcmp(name, o->client_if)) {
					ERR(c, e, p, "\"%s\" is also the client_interface; "
					    "an interface has one role", name);
					continue;
				}
				for (j = 0; j < o->nmachine_ifs; j++)
					if (!strcmp(o->machine_ifs[j], name))
						break;
				if (j < o->nmachine_ifs) {
					ERR(c, e, p, "duplicate interface \"%s\"", name);
					continue;
				}
				memcpy(o->machine_ifs[o->nmachine_ifs++], name, sizeof(name));
			}
		}
	}
	if (v[2] && !is_null(v[2])) {
		int m = get_enum(c, v[2], "balancer.xdp_mode", modes, 3);

		if (m >= 0)
			o->xdp_mode = m;
	}
}

static void parse_metrics(struct ctx *c, yaml_node_t *n, struct us_conf *o)
{
	const char *path = "daemon.metrics_listen";
	const char *s = text(c, n, path, "ADDRESS:PORT or off");
	char host[64], q[96];
	const char *colon, *h = NULL;
	size_t hl = 0;
	__u64 port;
	int fam;

	if (!s)
		return;
	if (strlen(s) >= sizeof(o->metrics_listen)) {
		ERR(c, n, path, "%s is too long", quote(s, q, sizeof(q)));
		return;
	}
	if (!strcmp(s, "off")) {
		o->metrics_off = true;
		o->metrics_family = 0;
		memset(o->metrics_addr, 0, 16);
		o->metrics_port = 0;
		strcpy(o->metrics_listen, "off");
		return;
	}
	colon = strrchr(s, ':');
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb && rb[1] == ':') {
			h = s + 1;
			hl = (size_t)(rb - h);
			colon = rb + 1;
		}
	} else if (colon && !memchr(s, ':', (size_t)(colon - s))) {
		h = s;
		hl = (size_t)(colon - s);
	}
	if (!h || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	fam = parse_addr(host, o->metrics_addr);
	if (!fam || (fam == AF_INET6 && s[0] != '[') || (fam == AF_INET && s[0] == '['))
		goto bad;
	if (parse_u64(colon + 1, &port))
		goto bad;
	if (port < 1 || port > 65535) {
		ERR(c, n, path, "port %s out of range (1..65535)", colon + 1);
		return;
	}
	o->metrics_off = false;
	o->metrics_family = fam;
	o->metrics_port = (__u16)port;
	strcpy(o->metrics_listen, s);
	return;
bad:
	ERR(c, n, path, "%s: expected IPV4:PORT, [IPV6]:PORT (literal addresses) or off",
	    quote(s, q, sizeof(q)));
}

static void parse_daemon(struct ctx *c, yaml_node_t *n, struct us_conf *o)
{
	static const struct field f[] = {
		{ "window", false }, { "socket", false }, { "metrics_listen", false },
		{ "state_dir", false }, { "pin_root", false }, { "events_per_second", false },
		{ "event_burst", false }, { "log_level", false }, { "max_calls", false },
		{ "max_transactions", false },
	};
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	static const int syslog_level[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	yaml_node_t *v[10];
	__u64 u;

	if (is_null(n))
		return;     /* "daemon:" with nothing: every default */
	if (!take_map(c, n, "daemon", f, 10, v))
		return;
	if (v[0] && !is_null(v[0]))
		get_duration(c, v[0], "daemon.window", false, US_CONF_WINDOW_MIN_S,
			     US_CONF_WINDOW_MAX_S, &o->window_s);
	if (v[1] && !is_null(v[1]))
		get_path(c, v[1], "daemon.socket", o->socket, sizeof(o->socket));
	if (v[2] && !is_null(v[2]))
		parse_metrics(c, v[2], o);
	if (v[3] && !is_null(v[3]))
		get_path(c, v[3], "daemon.state_dir", o->state_dir, sizeof(o->state_dir));
	if (v[4] && !is_null(v[4]))
		get_path(c, v[4], "daemon.pin_root", o->pin_root, sizeof(o->pin_root));
	if (v[5] && !is_null(v[5]) &&
	    get_uint(c, v[5], "daemon.events_per_second", 0, US_CONF_EVENT_RATE_MAX, &u))
		o->event_rate = (__u32)u;
	if (v[6] && !is_null(v[6]) &&
	    get_uint(c, v[6], "daemon.event_burst", 1, US_CONF_EVENT_BURST_MAX, &u))
		o->event_burst = (__u32)u;
	if (v[7] && !is_null(v[7])) {
		int l = get_enum(c, v[7], "daemon.log_level", levels, 4);

		if (l >= 0)
			o->log_level = syslog_level[l];
	}
	if (v[8] && !is_null(v[8]) &&
	    get_uint(c, v[8], "daemon.max_calls", US_CONF_MAP_MIN, US_CONF_MAP_MAX, &u))
		o->max_calls = (__u32)u;
	if (v[9] && !is_null(v[9]) &&
	    get_uint(c, v[9], "daemon.max_transactions", US_CONF_MAP_MIN, US_CONF_MAP_MAX, &u))
		o->max_transactions = (__u32)u;
}

static void parse_policy(struct ctx *c, yaml_node_t *n, const char *path, struct us_policy *p)
{
	static const struct field f[] = {
		{ "min_paired", false }, { "min_simulation_seconds", false },
		{ "max_class_disagreement", false }, { "max_error_increase", false },
		{ "max_latency_ratio", false }, { "consecutive_windows", false },
		{ "alpha", false }, { "beta", false },
	};
	yaml_node_t *v[8];
	char q[PATHLEN];
	__u64 u;
	double d;
	int i;

	if (is_null(n))
		return;
	if (!take_map(c, n, path, f, 8, v))
		return;
	for (i = 0; i < 8; i++) {
		if (!v[i] || is_null(v[i]))
			continue;
		join(q, path, f[i].key);
		switch (i) {
		case 0:
			if (get_uint(c, v[i], q, 1, 1000000000, &u))
				p->min_paired = u;
			break;
		case 1:
			get_duration(c, v[i], q, true, 0, 604800, &p->min_sim_seconds);
			break;
		case 2:
			get_fraction(c, v[i], q, false, &p->max_class_diff);
			break;
		case 3:
			get_fraction(c, v[i], q, true, &p->max_error_increase);
			break;
		case 4:
			if (get_double(c, v[i], q, &d)) {
				if (d < 1 || d > 100)
					ERR(c, v[i], q, "%s out of range (1..100)", sval(v[i]));
				else
					p->max_latency_ratio = d;
			}
			break;
		case 5:
			if (get_uint(c, v[i], q, 1, 1000, &u))
				p->windows = (__u32)u;
			break;
		case 6:
		case 7:
			if (get_double(c, v[i], q, &d)) {
				if (!(d > 0 && d <= 0.5))
					ERR(c, v[i], q, "%s out of range (greater than 0, at most 0.5)",
					    sval(v[i]));
				else if (i == 6)
					p->alpha = d;
				else
					p->beta = d;
			}
			break;
		}
	}
}

static void parse_machine(struct ctx *c, yaml_node_t *n, const char *path, struct us_conf *o,
			  struct us_conf_service *s, bool vip_ok, size_t si)
{
	static const struct field f[] = {
		{ "name", true }, { "address", true }, { "version", true }, { "state", true },
		{ "weight", false },
	};
	static const char *const states[] = { "active", "simulation", "draining", "rejected",
					      "removed" };
	static const enum us_mstate st[] = { US_MS_ACTIVE, US_MS_SIMULATION, US_MS_DRAINING,
					     US_MS_REJECTED, US_MS_REMOVED };
	struct us_conf_machine *m = &s->machines[s->nmachines];
	yaml_node_t *v[5];
	char p[PATHLEN];
	bool name_ok = false, addr_ok = false;
	size_t i, j;
	__u64 u;

	memset(m, 0, sizeof(*m));
	m->weight = US_CONF_DEF_WEIGHT;
	m->line = (int)n->start_mark.line + 1;
	if (!take_map(c, n, path, f, 5, v))
		goto out;
	if (v[0]) {
		join(p, path, "name");
		name_ok = get_name(c, v[0], p, m->name);
		/* unique across the file */
		for (i = 0; name_ok && i <= si; i++) {
			const struct us_conf_service *t = &o->services[i];
			size_t nm = i == si ? s->nmachines : t->nmachines;

			for (j = 0; j < nm; j++) {
				if (!strcmp(t->machines[j].name, m->name)) {
					ERR(c, v[0], p, "duplicate machine name \"%s\" (first at line %d)",
					    m->name, t->machines[j].line);
					name_ok = false;
					break;
				}
			}
		}
	}
	if (v[1]) {
		join(p, path, "address");
		addr_ok = get_addr(c, v[1], p, &m->family, m->addr);
		if (addr_ok && vip_ok) {
			char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

			if (m->family != s->family) {
				ERR(c, v[1], p, "%s is %s but the service's VIP %s is %s",
				    addr_str(m->family, m->addr, a, sizeof(a)),
				    m->family == AF_INET ? "IPv4" : "IPv6",
				    addr_str(s->family, s->vip, b, sizeof(b)),
				    s->family == AF_INET ? "IPv4" : "IPv6");
				addr_ok = false;
			} else if (!memcmp(m->addr, s->vip, 16)) {
				ERR(c, v[1], p, "%s is the service's VIP; a machine needs its own address",
				    addr_str(m->family, m->addr, a, sizeof(a)));
				addr_ok = false;
			}
		}
		for (j = 0; addr_ok && j < s->nmachines; j++) {
			if (s->machines[j].family && !memcmp(s->machines[j].addr, m->addr, 16)) {
				char a[INET6_ADDRSTRLEN];

				ERR(c, v[1], p, "duplicate address %s in service \"%s\" (first at line %d)",
				    addr_str(m->family, m->addr, a, sizeof(a)), s->name,
				    s->machines[j].line);
				addr_ok = false;
			}
		}
		/* the data plane tells a machine by its MAC: one service per host */
		for (i = 0; addr_ok && i < si; i++) {
			const struct us_conf_service *t = &o->services[i];

			for (j = 0; addr_ok && j < t->nmachines; j++) {
				if (t->machines[j].family && !memcmp(t->machines[j].addr, m->addr, 16)) {
					char a[INET6_ADDRSTRLEN];

					ERR(c, v[1], p, "%s is already machine \"%s\" of service \"%s\" "
					    "(line %d); a machine serves one service",
					    addr_str(m->family, m->addr, a, sizeof(a)), t->machines[j].name,
					    t->name, t->machines[j].line);
					addr_ok = false;
				}
			}
		}
		if (!addr_ok) {
			m->family = 0;
			memset(m->addr, 0, 16);
		}
	}
	if (v[2]) {
		join(p, path, "version");
		get_string(c, v[2], p, m->version, sizeof(m->version));
	}
	if (v[3]) {
		int k;

		join(p, path, "state");
		k = get_enum(c, v[3], p, states, 5);
		if (k >= 0)
			m->state = st[k];
	}
	if (v[4] && !is_null(v[4])) {
		join(p, path, "weight");
		if (get_uint(c, v[4], p, 1, US_WEIGHT_MAX, &u))
			m->weight = (__u16)u;
	}
out:
	if (!name_ok)
		m->name[0] = 0;   /* never matches in later duplicate checks */
	s->nmachines++;
}

static void parse_service(struct ctx *c, yaml_node_t *n, const char *path, struct us_conf *o,
			  size_t si, const yaml_node_t **vip_nodes)
{
	static const struct field f[] = {
		{ "name", true }, { "vip", true }, { "port", true }, { "protocol", false },
		{ "mirror_percent", false }, { "policy", false }, { "machines", true },
	};
	static const char *const protos[] = { "udp" };
	struct us_conf_service *s = &o->services[si];
	yaml_node_t *v[7];
	char p[PATHLEN];
	bool name_ok = false, vip_ok = false, vip_parsed = false, port_ok = false;
	size_t i;
	__u64 u;

	memset(s, 0, sizeof(*s));
	s->proto = IPPROTO_UDP;
	s->line = (int)n->start_mark.line + 1;
	us_policy_default(&s->policy);
	vip_nodes[si] = NULL;
	if (!take_map(c, n, path, f, 7, v))
		goto out;
	if (v[0]) {
		join(p, path, "name");
		name_ok = get_name(c, v[0], p, s->name);
		for (i = 0; name_ok && i < si; i++) {
			if (!strcmp(o->services[i].name, s->name)) {
				ERR(c, v[0], p, "duplicate service name \"%s\" (first at line %d)",
				    s->name, o->services[i].line);
				name_ok = false;
			}
		}
	}
	if (v[1]) {
		join(p, path, "vip");
		vip_ok = vip_parsed = get_addr(c, v[1], p, &s->family, s->vip);
	}
	if (v[2]) {
		join(p, path, "port");
		port_ok = get_uint(c, v[2], p, 1, 65535, &u);
		if (port_ok)
			s->port = (__u16)u;
	}
	if (v[3] && !is_null(v[3])) {
		join(p, path, "protocol");
		get_enum(c, v[3], p, protos, 1);
	}
	if (vip_ok && port_ok) {
		for (i = 0; i < si; i++) {
			const struct us_conf_service *t = &o->services[i];

			if (vip_nodes[i] && t->family == s->family && t->port == s->port &&
			    t->proto == s->proto && !memcmp(t->vip, s->vip, 16)) {
				char a[INET6_ADDRSTRLEN];

				join(p, path, "vip");
				addr_str(s->family, s->vip, a, sizeof(a));
				ERR(c, v[1], p, "duplicate VIP and port %s%s%s:%u (first in service \"%s\" "
				    "at line %d)", s->family == AF_INET6 ? "[" : "", a,
				    s->family == AF_INET6 ? "]" : "", s->port, t->name, t->line);
				vip_ok = false;
				break;
			}
		}
		if (vip_ok)
			vip_nodes[si] = v[1];
	}
	if (v[4] && !is_null(v[4])) {
		join(p, path, "mirror_percent");
		get_share(c, v[4], p, &s->share_bp);
	}
	if (v[5]) {
		join(p, path, "policy");
		parse_policy(c, v[5], p, &s->policy);
	}
	if (v[6]) {
		yaml_node_t *ms = v[6];
		yaml_node_item_t *it;
		size_t cnt, k = 0;

		join(p, path, "machines");
		if (ms->type != YAML_SEQUENCE_NODE) {
			expected(c, ms, p, "a list of machines");
			goto out;
		}
		cnt = (size_t)(ms->data.sequence.items.top - ms->data.sequence.items.start);
		if (cnt > US_MAX_MACHINES)
			cnt = US_MAX_MACHINES;
		s->machines = calloc(cnt ? cnt : 1, sizeof(*s->machines));
		if (!s->machines) {
			c->oom = true;
			goto out;
		}
		for (it = ms->data.sequence.items.start; it < ms->data.sequence.items.top; it++, k++) {
			yaml_node_t *e = nd(c, *it);
			char mp[PATHLEN];

			joini(mp, p, k);
			if (c->nmachines == US_MAX_MACHINES) {
				ERR(c, e, mp, "more than %d machines in the file (US_MAX_MACHINES)",
				    US_MAX_MACHINES);
				break;
			}
			parse_machine(c, e, mp, o, s, vip_parsed, si);
			c->nmachines++;
		}
	}
out:
	if (!name_ok)
		s->name[0] = 0;
}

static void parse_root(struct ctx *c, yaml_node_t *root, struct us_conf *o)
{
	static const struct field f[] = {
		{ "balancer", true }, { "daemon", false }, { "services", true },
	};
	yaml_node_t *v[3];

	if (!take_map(c, root, "", f, 3, v))
		return;
	if (v[0])
		parse_balancer(c, v[0], o);
	if (v[1])
		parse_daemon(c, v[1], o);
	if (v[2]) {
		yaml_node_t *s = v[2];
		const yaml_node_t *vips[US_MAX_SERVICES];
		yaml_node_item_t *it;
		size_t cnt, k = 0;

		if (s->type != YAML_SEQUENCE_NODE) {
			expected(c, s, "services", "a list of services");
			return;
		}
		cnt = (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
		if (cnt > US_MAX_SERVICES)
			cnt = US_MAX_SERVICES;
		o->services = calloc(cnt ? cnt : 1, sizeof(*o->services));
		if (!o->services) {
			c->oom = true;
			return;
		}
		for (it = s->data.sequence.items.start; it < s->data.sequence.items.top; it++, k++) {
			yaml_node_t *e = nd(c, *it);
			char p[PATHLEN];

			joini(p, "services", k);
			if (k == US_MAX_SERVICES) {
				ERR(c, e, p, "more than %d services (US_MAX_SERVICES)", US_MAX_SERVICES);
				break;
			}
			parse_service(c, e, p, o, k, vips);
			o->nservices++;
		}
		o->nmachines = c->nmachines;
	}
}

/* ---- entry points ------------------------------------------------------ */

static void defaults(struct us_conf *o)
{
	memset(o, 0, sizeof(*o));
	o->xdp_mode = US_CONF_DEF_XDP_MODE;
	o->window_s = US_CONF_DEF_WINDOW_S;
	snprintf(o->socket, sizeof(o->socket), "%s", US_CONF_DEF_SOCKET);
	snprintf(o->metrics_listen, sizeof(o->metrics_listen), "%s", US_CONF_DEF_METRICS);
	o->metrics_family = AF_INET;
	parse_addr("127.0.0.1", o->metrics_addr);
	o->metrics_port = 9464;
	snprintf(o->state_dir, sizeof(o->state_dir), "%s", US_CONF_DEF_STATE_DIR);
	snprintf(o->pin_root, sizeof(o->pin_root), "%s", US_CONF_DEF_PIN_ROOT);
	o->event_rate = US_CONF_DEF_EVENT_RATE;
	o->event_burst = US_CONF_DEF_EVENT_BURST;
	o->log_level = US_CONF_DEF_LOG_LEVEL;
	o->max_calls = US_CALLS_DEFAULT;
	o->max_transactions = US_TXNS_DEFAULT;
}

/* Position (0-based line, column in characters) of a byte offset. */
static yaml_mark_t offset_mark(const char *text, size_t len, size_t off)
{
	yaml_mark_t m = { .index = off };
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			m.line++;
			m.column = 0;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			m.column++;
		}
	}
	return m;
}

static void syntax_error(struct ctx *c, yaml_parser_t *ps, const char *text, size_t len)
{
	const char *prob = ps->problem ? ps->problem : "unknown error";

	if (ps->error == YAML_MEMORY_ERROR) {
		c->oom = true;
		return;
	}
	if (ps->error == YAML_READER_ERROR) {
		yaml_mark_t m = offset_mark(text, len, ps->problem_offset);

		if (ps->problem_value != -1)
			error_at(c, &m, NULL, "not valid UTF-8 text: %s (byte 0x%02x at offset %zu)",
				 prob, ps->problem_value & 0xff, ps->problem_offset);
		else
			error_at(c, &m, NULL, "not valid UTF-8 text: %s (offset %zu)", prob,
				 ps->problem_offset);
		return;
	}
	if (ps->context)
		error_at(c, &ps->problem_mark, NULL,
			 "YAML syntax error: %s (%s started at line %zu, column %zu)",
			 prob, ps->context, ps->context_mark.line + 1, ps->context_mark.column + 1);
	else
		error_at(c, &ps->problem_mark, NULL, "YAML syntax error: %s", prob);
}

static int cerr_cmp(const void *a, const void *b)
{
	const struct cerr *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The first US_CONF_MAX_ERRORS errors by position, one per line. */
/*
 * A first pass over the events: syntax and encoding errors, a second
 * document, and nesting deeper than any valid file needs (libyaml's
 * scanner slows down quadratically with flow nesting depth, so it is
 * stopped early). Returns false after reporting.
 */
static bool prescan(struct ctx *c, const char *text, size_t len)
{
	yaml_parser_t ps;
	yaml_event_t ev;
	int depth = 0, docs = 0;
	bool ok = true, done = false;

	if (!yaml_parser_initialize(&ps)) {
		c->oom = true;
		return false;
	}
	yaml_parser_set_encoding(&ps, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&ps, &ev)) {
			syntax_error(c, &ps, text, len);
			ok = false;
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				error_at(c, &ev.start_mark, NULL,
					 "more than one YAML document (the configuration is one)");
				ok = false;
				done = true;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > US_CONF_MAX_DEPTH) {
				error_at(c, &ev.start_mark, NULL, "nested deeper than %d levels",
					 US_CONF_MAX_DEPTH);
				ok = false;
				done = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps);
	return ok;
}

static void put_err(struct ctx *c, char *err, size_t errlen)
{
	size_t i, o = 0;

	if (!err || !errlen)
		return;
	err[0] = 0;
	if (c->oom) {
		snprintf(err, errlen, "%s: out of memory", c->file);
		return;
	}
	qsort(c->errs, c->nerr, sizeof(*c->errs), cerr_cmp);
	for (i = 0; i < c->nerr && i < US_CONF_MAX_ERRORS && o < errlen; i++)
		o += (size_t)snprintf(err + o, errlen - o, "%s%s", i ? "\n" : "", c->errs[i].text);
	if (c->nerr + c->unkept > US_CONF_MAX_ERRORS && o < errlen)
		snprintf(err + o, errlen - o, "\n%s: ... and %zu more errors", c->file,
			 c->nerr + c->unkept - US_CONF_MAX_ERRORS);
}

static void ctx_free(struct ctx *c)
{
	size_t i;

	for (i = 0; i < c->nerr; i++)
		free(c->errs[i].text);
	free(c->errs);
}

void us_conf_free(struct us_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nservices; i++)
		free(c->services[i].machines);
	free(c->services);
	c->services = NULL;
	c->nservices = 0;
	c->nmachines = 0;
}

int us_conf_parse(const char *text, size_t len, const char *name, struct us_conf *out,
		  char *err, size_t errlen)
{
	struct ctx c = { .file = name ? name : "<config>" };
	yaml_document_t doc;
	yaml_parser_t ps;
	struct us_conf tmp;
	yaml_node_t *root;
	int ret = -EINVAL;

	if (err && errlen)
		err[0] = 0;
	if (!text || !out)
		return -EINVAL;
	defaults(&tmp);
	snprintf(tmp.path, sizeof(tmp.path), "%s", c.file);
	if (len > US_CONF_MAX_BYTES) {
		error_at(&c, NULL, NULL, "file too large (%zu bytes; at most %u)", len,
			 US_CONF_MAX_BYTES);
		ret = -EFBIG;
		goto done;
	}
	if (!len) {
		error_at(&c, NULL, NULL, "empty file: no configuration");
		goto done;
	}
	if (!prescan(&c, text, len))
		goto done;
	if (!yaml_parser_initialize(&ps)) {
		c.oom = true;
		goto done;
	}
	yaml_parser_set_encoding(&ps, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, &doc)) {
		syntax_error(&c, &ps, text, len);
		yaml_parser_delete(&ps);
		goto done;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || is_null(root)) {
		error_at(&c, NULL, NULL, "empty file: no configuration (only comments or blank lines)");
	} else {
		parse_root(&c, root, &tmp);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&ps);
done:
	if (c.nerr || c.oom) {
		put_err(&c, err, errlen);
		us_conf_free(&tmp);
		ctx_free(&c);
		return c.oom ? -ENOMEM : ret;
	}
	ctx_free(&c);
	*out = tmp;
	return 0;
}

int us_conf_load(const char *path, struct us_conf *out, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, ret;

	if (err && errlen)
		err[0] = 0;
	if (!path || !out)
		return -EINVAL;
	if (strlen(path) >= US_CONF_PATH_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return ret;
	}
	if ((unsigned long long)st.st_size > US_CONF_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: file too large (%lld bytes; at most %u)", path,
				 (long long)st.st_size, US_CONF_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			if (err && errlen)
				snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
			free(buf);
			close(fd);
			return ret;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	ret = us_conf_parse(buf, got, path, out, err, errlen);
	free(buf);
	return ret;
}

const struct us_conf_service *us_conf_find_service(const struct us_conf *c, const char *name)
{
	size_t i;

	for (i = 0; c && name && i < c->nservices; i++)
		if (!strcmp(c->services[i].name, name))
			return &c->services[i];
	return NULL;
}

const struct us_conf_machine *us_conf_find_machine(const struct us_conf *c, const char *name,
						   const struct us_conf_service **svc)
{
	size_t i, j;

	for (i = 0; c && name && i < c->nservices; i++) {
		for (j = 0; j < c->services[i].nmachines; j++) {
			if (!strcmp(c->services[i].machines[j].name, name)) {
				if (svc)
					*svc = &c->services[i];
				return &c->services[i].machines[j];
			}
		}
	}
	return NULL;
}

__u32 us_conf_xdp_flags(const struct us_conf *c)
{
	switch (c->xdp_mode) {
	case US_XDP_NATIVE:
		return XDP_FLAGS_DRV_MODE;
	case US_XDP_GENERIC:
		return XDP_FLAGS_SKB_MODE;
	default:
		return 0;
	}
}

const char *us_conf_xdp_mode_name(int mode)
{
	switch (mode) {
	case US_XDP_NATIVE:  return "native";
	case US_XDP_GENERIC: return "generic";
	case US_XDP_AUTO:    return "auto";
	default:             return "?";
	}
}

const char *us_conf_log_level_name(int level)
{
	switch (level) {
	case LOG_ERR:     return "error";
	case LOG_WARNING: return "warn";
	case LOG_INFO:    return "info";
	case LOG_DEBUG:   return "debug";
	default:          return "?";
	}
}

/* ---- difference -------------------------------------------------------- */

static int push(struct us_conf_diff_list *l, const char *name, const char *svc, unsigned changed,
		int old_svc, int new_svc, int old_idx, int new_idx)
{
	struct us_conf_diff_entry *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	struct us_conf_diff_entry *e;

	if (!v)
		return -ENOMEM;
	l->v = v;
	e = &v[l->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->service, sizeof(e->service), "%s", svc ? svc : "");
	e->changed = changed;
	e->old_svc = old_svc;
	e->new_svc = new_svc;
	e->old_idx = old_idx;
	e->new_idx = new_idx;
	return 0;
}

static bool policy_eq(const struct us_policy *a, const struct us_policy *b)
{
	return a->min_paired == b->min_paired && a->min_sim_seconds == b->min_sim_seconds &&
	       a->max_class_diff == b->max_class_diff &&
	       a->max_error_increase == b->max_error_increase &&
	       a->max_latency_ratio == b->max_latency_ratio && a->windows == b->windows &&
	       a->alpha == b->alpha && a->beta == b->beta;
}

static int find_svc(const struct us_conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nservices; i++)
		if (!strcmp(c->services[i].name, name))
			return (int)i;
	return -1;
}

static bool find_m(const struct us_conf *c, const char *name, int *si, int *mi)
{
	size_t i, j;

	for (i = 0; i < c->nservices; i++) {
		for (j = 0; j < c->services[i].nmachines; j++) {
			if (!strcmp(c->services[i].machines[j].name, name)) {
				*si = (int)i;
				*mi = (int)j;
				return true;
			}
		}
	}
	return false;
}

int us_conf_diff(const struct us_conf *old, const struct us_conf *nw, struct us_conf_diff *d)
{
	size_t i, j;
	unsigned dm = 0;
	int r = 0;

	if (!d)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	if (!old || !nw)
		return -EINVAL;

	if (strcmp(old->client_if, nw->client_if))
		dm |= US_DIFF_D_CLIENT_IF;
	if (old->nmachine_ifs != nw->nmachine_ifs)
		dm |= US_DIFF_D_MACHINE_IFS;
	for (i = 0; i < nw->nmachine_ifs && !(dm & US_DIFF_D_MACHINE_IFS); i++)
		if (strcmp(old->machine_ifs[i], nw->machine_ifs[i]))
			dm |= US_DIFF_D_MACHINE_IFS;
	if (old->xdp_mode != nw->xdp_mode)
		dm |= US_DIFF_D_XDP_MODE;
	if (strcmp(old->socket, nw->socket))
		dm |= US_DIFF_D_SOCKET;
	if (old->metrics_off != nw->metrics_off || old->metrics_family != nw->metrics_family ||
	    old->metrics_port != nw->metrics_port ||
	    memcmp(old->metrics_addr, nw->metrics_addr, 16))
		dm |= US_DIFF_D_METRICS;
	if (strcmp(old->state_dir, nw->state_dir))
		dm |= US_DIFF_D_STATE_DIR;
	if (strcmp(old->pin_root, nw->pin_root))
		dm |= US_DIFF_D_PIN_ROOT;
	if (old->window_s != nw->window_s)
		dm |= US_DIFF_D_WINDOW;
	if (old->event_rate != nw->event_rate || old->event_burst != nw->event_burst)
		dm |= US_DIFF_D_EVENTS;
	if (old->log_level != nw->log_level)
		dm |= US_DIFF_D_LOG_LEVEL;
	if (old->max_calls != nw->max_calls || old->max_transactions != nw->max_transactions)
		dm |= US_DIFF_D_MAP_SIZES;
	d->daemon = dm;
	d->restart = !!(dm & US_DIFF_D_RESTART);

	/* services */
	for (i = 0; i < old->nservices && !r; i++)
		if (find_svc(nw, old->services[i].name) < 0)
			r = push(&d->svc_removed, old->services[i].name, NULL, 0, (int)i, -1, -1, -1);
	for (i = 0; i < nw->nservices && !r; i++) {
		const struct us_conf_service *n = &nw->services[i], *o;
		int k = find_svc(old, n->name);
		unsigned ch = 0;

		if (k < 0) {
			r = push(&d->svc_added, n->name, NULL, 0, -1, (int)i, -1, -1);
			continue;
		}
		o = &old->services[k];
		if (o->family != n->family || memcmp(o->vip, n->vip, 16) || o->port != n->port ||
		    o->proto != n->proto)
			ch |= US_DIFF_SVC_ADDRESS;
		if (o->share_bp != n->share_bp)
			ch |= US_DIFF_SVC_SHARE;
		if (!policy_eq(&o->policy, &n->policy))
			ch |= US_DIFF_SVC_POLICY;
		if (ch)
			r = push(&d->svc_changed, n->name, NULL, ch, k, (int)i, -1, -1);
	}

	/* machines */
	for (i = 0; i < old->nservices && !r; i++) {
		for (j = 0; j < old->services[i].nmachines && !r; j++) {
			const struct us_conf_machine *m = &old->services[i].machines[j];
			int si, mi;

			if (!find_m(nw, m->name, &si, &mi))
				r = push(&d->m_removed, m->name, old->services[i].name, 0, (int)i, -1,
					 (int)j, -1);
		}
	}
	for (i = 0; i < nw->nservices && !r; i++) {
		for (j = 0; j < nw->services[i].nmachines && !r; j++) {
			const struct us_conf_machine *m = &nw->services[i].machines[j], *o;
			const char *sname = nw->services[i].name;
			unsigned ch = 0;
			int si, mi;

			if (!find_m(old, m->name, &si, &mi)) {
				r = push(&d->m_added, m->name, sname, 0, -1, (int)i, -1, (int)j);
				continue;
			}
			o = &old->services[si].machines[mi];
			if (strcmp(old->services[si].name, sname))
				ch |= US_DIFF_M_SERVICE;
			if (o->family != m->family || memcmp(o->addr, m->addr, 16))
				ch |= US_DIFF_M_ADDRESS;
			if (strcmp(o->version, m->version))
				ch |= US_DIFF_M_VERSION;
			if (o->state != m->state)
				ch |= US_DIFF_M_STATE;
			if (o->weight != m->weight)
				ch |= US_DIFF_M_WEIGHT;
			if (ch)
				r = push(&d->m_changed, m->name, sname, ch, si, (int)i, mi, (int)j);
		}
	}
	if (r)
		us_conf_diff_free(d);
	return r;
}

void us_conf_diff_free(struct us_conf_diff *d)
{
	if (!d)
		return;
	free(d->svc_added.v);
	free(d->svc_removed.v);
	free(d->svc_changed.v);
	free(d->m_added.v);
	free(d->m_removed.v);
	free(d->m_changed.v);
	memset(d, 0, sizeof(*d));
}

bool us_conf_diff_empty(const struct us_conf_diff *d)
{
	return !d->svc_added.n && !d->svc_removed.n && !d->svc_changed.n && !d->m_added.n &&
	       !d->m_removed.n && !d->m_changed.n && !d->daemon;
}

struct sbuf {
	char *b;
	size_t len, o;
};

__attribute__((format(printf, 2, 3)))
static void sb(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(s->o < s->len ? s->b + s->o : NULL, s->o < s->len ? s->len - s->o : 0, fmt,
		      ap);
	va_end(ap);
	if (n > 0)
		s->o += (size_t)n;
}

static void flags_str(struct sbuf *s, unsigned ch, const char *const *names, size_t nn)
{
	size_t k;
	bool first = true;

	sb(s, " (");
	for (k = 0; k < nn; k++) {
		if (ch & (1u << k)) {
			sb(s, "%s%s", first ? "" : ", ", names[k]);
			first = false;
		}
	}
	sb(s, ")");
}

static void list_str(struct sbuf *s, bool *any, const char *what,
		     const struct us_conf_diff_list *l, const char *const *names, size_t nn)
{
	size_t i;

	if (!l->n)
		return;
	sb(s, "%s%s: ", *any ? "; " : "", what);
	*any = true;
	for (i = 0; i < l->n; i++) {
		sb(s, "%s%s", i ? ", " : "", l->v[i].name);
		if (names)
			flags_str(s, l->v[i].changed, names, nn);
	}
}

int us_conf_diff_describe(const struct us_conf_diff *d, char *buf, size_t len)
{
	static const char *const svc_names[] = { "address", "share", "policy" };
	static const char *const m_names[] = { "service", "address", "version", "state",
					       "weight" };
	static const char *const d_names[] = {
		"balancer.client_interface", "balancer.machine_interfaces", "balancer.xdp_mode",
		"daemon.socket", "daemon.metrics_listen", "daemon.state_dir", "daemon.pin_root",
		"daemon.window", "daemon.events_per_second/event_burst", "daemon.log_level",
		"daemon.max_calls/max_transactions",
	};
	struct sbuf s = { .b = buf, .len = len };
	bool any = false;
	size_t k;

	if (buf && len)
		buf[0] = 0;
	list_str(&s, &any, "services added", &d->svc_added, NULL, 0);
	list_str(&s, &any, "services removed", &d->svc_removed, NULL, 0);
	list_str(&s, &any, "services changed", &d->svc_changed, svc_names, 3);
	list_str(&s, &any, "machines added", &d->m_added, NULL, 0);
	list_str(&s, &any, "machines removed", &d->m_removed, NULL, 0);
	list_str(&s, &any, "machines changed", &d->m_changed, m_names, 5);
	for (int pass = 0; pass < 2; pass++) {
		unsigned bits = d->daemon & (pass ? ~(unsigned)US_DIFF_D_RESTART : US_DIFF_D_RESTART);
		bool first = true;

		for (k = 0; k < sizeof(d_names) / sizeof(d_names[0]); k++) {
			if (!(bits & (1u << k)))
				continue;
			if (first)
				sb(&s, "%s%s: ", any ? "; " : "",
				   pass ? "settings changed" : "restart needed");
			sb(&s, "%s%s", first ? "" : ", ", d_names[k]);
			first = false;
			any = true;
		}
	}
	if (!any)
		sb(&s, "no change");
	return (int)s.o;
}
