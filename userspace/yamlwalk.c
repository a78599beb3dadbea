// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A walk over one YAML document, collecting located errors: see yamlwalk.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "validate.h"
#include "yamlwalk.h"

#define ERRS_KEPT 4096  /* errors kept for sorting; more are only counted */

/* ---- error collection ------------------------------------------------- */

struct yw_err {
	size_t line, col, seq;   /* position (0: none), order found */
	char *text;
};

struct ctx {
	yaml_document_t *doc;
	const char *file;
	struct yw_err *errs;       /* sorted by position at the end */
	size_t nerr, cap;
	size_t unkept;           /* errors past ERRS_KEPT, counted only */
	bool oom;
	size_t nmachines;        /* machines so far, over all services */
};

static void add_error(struct yw *c, const yaml_mark_t *m, const char *s)
{
	struct yw_err *e;

	if (c->oom)
		return;
	if (c->nerr == ERRS_KEPT) {
		c->unkept++;
		return;
	}
	if (c->nerr == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct yw_err *p = realloc(c->errs, cap * sizeof(*p));

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
void yw_error(struct yw *c, const yaml_mark_t *m, const char *path, const char *fmt, ...)
{
	char body[768], line[1024], pos[64] = "";
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


yaml_node_t *yw_node(struct yw *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

const char *yw_sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool yw_is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool yw_is_null(const yaml_node_t *n)
{
	const char *v;

	if (!yw_is_plain(n))
		return false;
	v = yw_sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* A value for a message: quoted, escaped, cut to 40 characters. */
const char *yw_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, i;

	buf[o++] = '"';
	for (i = 0; s[i] && o + 8 < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (i == 40) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (ch == '"' || ch == '\\') {
			o += (size_t)snprintf(buf + o, len - o, "\\%c", ch);
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		} else if (ch >= 0x80) {
			/* a C1 control or a byte of no character: as text (validate.h) */
			char e[32];
			size_t k;
			__u32 cp;

			k = us_utf8_seq(s + i, strlen(s + i), &cp);
			if (k && cp > 0x9f && o + k + 8 < len) {
				memcpy(buf + o, s + i, k);
				o += k;
				i += k - 1;
				continue;
			}
			k = k ? k : 1;
			memcpy(e, s + i, k);
			e[k] = 0;
			for (size_t j = 0; j < k && o + 8 < len; j++)
				o += (size_t)snprintf(buf + o, len - o, "\\x%02x", (unsigned char)e[j]);
			i += k - 1;
		} else {
			buf[o++] = (char)ch;
		}
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
		if (yw_is_null(n))
			return "nothing (null)";
		yw_quote(yw_sval(n), q, sizeof(q));
		snprintf(buf, len, "%s%s", yw_is_plain(n) ? "" : "the quoted string ", q);
		return buf;
	default:
		return "an empty node";
	}
}

void yw_expected(struct yw *c, const yaml_node_t *n, const char *path, const char *what)
{
	char k[128];

	YW_ERR(c, n, path, "expected %s, got %s", what, kind(n, k, sizeof(k)));
}

/* The text of a scalar that is not null, or NULL after reporting. */
const char *yw_text(struct yw *c, const yaml_node_t *n, const char *path, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || yw_is_null(n)) {
		yw_expected(c, n, path, what);
		return NULL;
	}
	if (strlen(yw_sval(n)) != n->data.scalar.length) {
		YW_ERR(c, n, path, "contains a NUL character");
		return NULL;
	}
	return yw_sval(n);
}

/* A number's text: a plain scalar (quoted numbers are strings). */
static const char *yw_numtext(struct yw *c, const yaml_node_t *n, const char *path, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || !yw_is_plain(n) || yw_is_null(n)) {
		yw_expected(c, n, path, what);
		return NULL;
	}
	return yw_sval(n);
}

/* Field paths (cut if ever too long: they are for messages only). */
void yw_join(char *out, const char *path, const char *key)
{
	if (snprintf(out, YW_PATHLEN, "%s%s%s", path, *path ? "." : "", key) >= YW_PATHLEN)
		out[YW_PATHLEN - 1] = 0;
}

void yw_joini(char *out, const char *path, size_t i)
{
	if (snprintf(out, YW_PATHLEN, "%s[%zu]", path, i) >= YW_PATHLEN)
		out[YW_PATHLEN - 1] = 0;
}

bool yw_map(struct yw *c, yaml_node_t *n, const char *path, const char *const *keys,
	    const bool *required, size_t nf, yaml_node_t **val)
{
	yaml_node_t *keyn[YW_MAP_KEYS] = { 0 };
	char p[YW_PATHLEN], q[96], missing[256] = "";
	yaml_node_pair_t *pr;
	size_t i, nmiss = 0;

	if (nf > YW_MAP_KEYS) {
		/* a table too large for this walker: a bug, refused, never overrun */
		yw_error(c, &n->start_mark, path, "internal error: %zu keys, at most %d", nf,
			 YW_MAP_KEYS);
		return false;
	}
	for (i = 0; i < nf; i++)
		val[i] = NULL;
	if (n->type != YAML_MAPPING_NODE) {
		yw_expected(c, n, path, "a mapping");
		return false;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yw_node(c, pr->key), *v = yw_node(c, pr->value);
		const char *ks;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE || yw_is_null(k)) {
			char kk[128];

			YW_ERR(c, k, path, "keys must be strings, got %s", kind(k, kk, sizeof(kk)));
			continue;
		}
		ks = yw_sval(k);
		if (yw_is_plain(k) && !strcmp(ks, "<<")) {
			YW_ERR(c, k, path, "merge keys (<<) are not supported; "
			    "use an alias for the whole mapping or repeat the keys");
			continue;
		}
		for (i = 0; i < nf; i++)
			if (!strcmp(ks, keys[i]))
				break;
		if (i == nf) {
			char valid[512] = "";
			size_t o = 0, j;

			for (j = 0; j < nf && o < sizeof(valid); j++)
				o += (size_t)snprintf(valid + o, sizeof(valid) - o, "%s%s",
						      j ? ", " : "", keys[j]);
			YW_ERR(c, k, path, "unknown key %s; valid keys: %s", yw_quote(ks, q, sizeof(q)), valid);
			continue;
		}
		yw_join(p, path, keys[i]);
		if (val[i]) {
			YW_ERR(c, k, p, "duplicate key (first at line %zu)", keyn[i]->start_mark.line + 1);
			continue;
		}
		val[i] = v;
		keyn[i] = k;
	}
	for (i = 0; i < nf; i++) {
		if (required[i] && !val[i]) {
			size_t o = strlen(missing);

			snprintf(missing + o, sizeof(missing) - o, "%s%s", nmiss ? ", " : "", keys[i]);
			nmiss++;
		}
	}
	if (nmiss)
		YW_ERR(c, n, path, "missing required key%s: %s", nmiss > 1 ? "s" : "", missing);
	return true;
}

/* Decimal digits only; -ERANGE on overflow or a negative number. */
int yw_parse_u64(const char *s, __u64 *v)
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

bool yw_uint(struct yw *c, const yaml_node_t *n, const char *path, __u64 min, __u64 max,
		     __u64 *out)
{
	const char *s = yw_numtext(c, n, path, "an integer");
	__u64 v;
	int r;

	if (!s)
		return false;
	r = yw_parse_u64(s, &v);
	if (r == -EINVAL) {
		yw_expected(c, n, path, "an integer");
		return false;
	}
	/* 0800: YAML 1.1 would read an octal number, or a string; neither is
	 * what was meant */
	if (s[s[0] == '+'] == '0' && s[(s[0] == '+') + 1]) {
		YW_ERR(c, n, path, "%s has a leading zero (octal in YAML 1.1); write it without", s);
		return false;
	}
	if (r == -ERANGE || v < min || v > max) {
		YW_ERR(c, n, path, "%s out of range (%llu..%llu)", s, (unsigned long long)min,
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

bool yw_number(struct yw *c, const yaml_node_t *n, const char *path, double *out)
{
	const char *s = yw_numtext(c, n, path, "a number");

	if (!s)
		return false;
	if (parse_num(s, strlen(s), out)) {
		yw_expected(c, n, path, "a number");
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
bool yw_duration(struct yw *c, const yaml_node_t *n, const char *path, bool bare_ok,
			 double min_s, double max_s, double *out)
{
	static const struct { const char *u; double mul; } units[] = {
		{ "ms", 0.001 }, { "s", 1 }, { "m", 60 }, { "h", 3600 },
	};
	const char *what = bare_ok ? "a duration (e.g. 60, 60s, 500ms, 2m)" :
				     "a duration with a unit (e.g. 5s, 500ms, 2m)";
	const char *s = yw_numtext(c, n, path, what);
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
		yw_expected(c, n, path, what);
		return false;
	}
	if (v < min_s - 1e-9 || v > max_s + 1e-9) {
		YW_ERR(c, n, path, "%s out of range (%gs..%gs)", s, min_s, max_s);
		return false;
	}
	*out = v;
	return true;
}

/* A percentage 0..100 with at most two decimals, optionally with "%",
 * as basis points. Parsed from the text: no rounding. */
bool yw_percent_bp(struct yw *c, const yaml_node_t *n, const char *path, __u16 max_bp,
		   __u16 *bp)
{
	const char *what = "a percentage 0..100 (e.g. 25 or 12.5%)";
	const char *s = yw_numtext(c, n, path, what);
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
			yw_expected(c, n, path, what);
			return false;
		}
	}
	if (!ni && !nfrac) {
		yw_expected(c, n, path, what);
		return false;
	}
	if (nfrac > 2) {
		/* trailing zeros are no extra precision */
		size_t j;

		for (j = dot + 2; j < len && s[j] == '0'; j++)
			;
		if (j < len) {
			YW_ERR(c, n, path, "%s has more than two decimals (the unit is 0.01%%)", s);
			return false;
		}
	}
	if (nfrac == 1)
		fp *= 10;
	if ((neg && (ip || fp)) || ip * 100 + fp > max_bp) {
		YW_ERR(c, n, path, "%s out of range (0..100)", s);
		return false;
	}
	*bp = (__u16)(ip * 100 + fp);
	return true;
}

/* A share 0..1: a fraction, or with '%' (pct) or "pp" (pp) a percentage. */
bool yw_fraction(struct yw *c, const yaml_node_t *n, const char *path, bool points,
			 double *out)
{
	const char *what = points ? "percentage points (e.g. 0.5pp) or a fraction (0.005)" :
				    "a percentage (e.g. 0.5%) or a fraction (0.005)";
	const char *s = yw_numtext(c, n, path, what);
	size_t stem;
	double v;

	if (!s)
		return false;
	if (ends_with(s, "pp", &stem)) {
		if (!points) {
			YW_ERR(c, n, path, "%s: percentage points (pp) are for differences of rates; "
			    "write a percentage (e.g. 0.5%%) or a fraction (0.005)", s);
			return false;
		}
		if (parse_num(s, stem, &v)) {
			yw_expected(c, n, path, what);
			return false;
		}
		v /= 100;
	} else if (ends_with(s, "%", &stem)) {
		if (points) {
			YW_ERR(c, n, path, "%s is ambiguous for a difference of rates; "
			    "write percentage points (e.g. 0.5pp) or a fraction (0.005)", s);
			return false;
		}
		if (parse_num(s, stem, &v)) {
			yw_expected(c, n, path, what);
			return false;
		}
		v /= 100;
	} else if (parse_num(s, strlen(s), &v)) {
		yw_expected(c, n, path, what);
		return false;
	}
	if (v < 0 || v > 1) {
		YW_ERR(c, n, path, "%s out of range (0..1, or 0%s..100%s)", s,
		    points ? "pp" : "%", points ? "pp" : "%");
		return false;
	}
	*out = v;
	return true;
}

/* One of a list of words; returns its index or -1 after reporting. */
int yw_enum(struct yw *c, const yaml_node_t *n, const char *path,
		    const char *const *words, size_t nw)
{
	char list[160] = "", what[192], q[96];
	size_t i, o = 0;
	const char *s;

	for (i = 0; i < nw; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", words[i]);
	snprintf(what, sizeof(what), "one of %s", list);
	s = yw_text(c, n, path, what);
	if (!s)
		return -1;
	for (i = 0; i < nw; i++)
		if (!strcmp(s, words[i]))
			return (int)i;
	if (nw == 1)
		YW_ERR(c, n, path, "%s: only %s is supported", yw_quote(s, q, sizeof(q)), list);
	else
		YW_ERR(c, n, path, "%s is not one of %s", yw_quote(s, q, sizeof(q)), list);
	return -1;
}

/* A service or machine name, as the validator says (validate.h). */
bool yw_name(struct yw *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s = yw_text(c, n, path, "a name");
	char q[96], why[128];

	if (!s)
		return false;
	if (max < US_VALID_NAME_MAX && strlen(s) >= max) {
		YW_ERR(c, n, path, "%s is too long (at most %zu characters)", yw_quote(s, q, sizeof(q)),
		       max - 1);
		return false;
	}
	if (us_valid_name(s, why, sizeof(why))) {
		YW_ERR(c, n, path, "%s %s", yw_quote(s, q, sizeof(q)), why);
		return false;
	}
	memcpy(out, s, strlen(s) + 1);
	return true;
}

/* A version (validate.h): UTF-8 text without control characters. */
bool yw_string(struct yw *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s = yw_text(c, n, path, "a string");
	char q[96], why[128];

	if (!s)
		return false;
	if (max < US_VALID_NAME_MAX && strlen(s) >= max) {
		YW_ERR(c, n, path, "%s is too long (at most %zu bytes)", yw_quote(s, q, sizeof(q)),
		       max - 1);
		return false;
	}
	if (us_valid_version(s, why, sizeof(why))) {
		YW_ERR(c, n, path, "%s %s", yw_quote(s, q, sizeof(q)), why);
		return false;
	}
	memcpy(out, s, strlen(s) + 1);
	return true;
}

/* An interface name as the kernel accepts it (dev_valid_name). */
bool yw_ifname(struct yw *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s = yw_text(c, n, path, "an interface name");
	char q[96];
	size_t i, len;

	if (!s)
		return false;
	len = strlen(s);
	if (!len) {
		YW_ERR(c, n, path, "empty interface name");
		return false;
	}
	if (len >= max) {
		YW_ERR(c, n, path, "%s is too long for an interface name (at most %zu characters)",
		    yw_quote(s, q, sizeof(q)), max - 1);
		return false;
	}
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch == '/' || ch == ':' || ch >= 0x7f)
			break;
	}
	if (i < len || !strcmp(s, ".") || !strcmp(s, "..")) {
		YW_ERR(c, n, path, "%s is not a valid interface name", yw_quote(s, q, sizeof(q)));
		return false;
	}
	memcpy(out, s, len + 1);
	return true;
}

/* An absolute path shorter than max. */
bool yw_path(struct yw *c, const yaml_node_t *n, const char *path, char *out, size_t max)
{
	const char *s = yw_text(c, n, path, "an absolute path");
	char q[96];
	size_t len;

	if (!s)
		return false;
	len = strlen(s);
	if (s[0] != '/') {
		YW_ERR(c, n, path, "%s is not an absolute path", yw_quote(s, q, sizeof(q)));
		return false;
	}
	if (len >= max) {
		YW_ERR(c, n, path, "path too long (%zu bytes; at most %zu)", len, max - 1);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			YW_ERR(c, n, path, "%s has a control character", yw_quote(s, q, sizeof(q)));
			return false;
		}
	}
	memcpy(out, s, len + 1);
	return true;
}

/* A host address a packet can be sent to (validate.h: not unspecified,
 * multicast, broadcast, loopback, link-local or class E). */
bool yw_addr(struct yw *c, const yaml_node_t *n, const char *path, int *family, __u8 addr[16])
{
	const char *s = yw_text(c, n, path, "an IPv4 or IPv6 address");
	char q[96], why[128];
	int fam;

	if (!s)
		return false;
	fam = us_addr_parse(s, addr);
	if (!fam) {
		YW_ERR(c, n, path, "%s is not an IPv4 or IPv6 address", yw_quote(s, q, sizeof(q)));
		return false;
	}
	if (us_valid_addr(fam, addr, why, sizeof(why))) {
		YW_ERR(c, n, path, "%s %s", s, why);
		return false;
	}
	*family = fam;
	return true;
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

static void syntax_error(struct yw *c, yaml_parser_t *ps, const char *text, size_t len)
{
	const char *prob = ps->problem ? ps->problem : "unknown error";

	if (ps->error == YAML_MEMORY_ERROR) {
		c->oom = true;
		return;
	}
	if (ps->error == YAML_READER_ERROR) {
		yaml_mark_t m = offset_mark(text, len, ps->problem_offset);

		if (ps->problem_value != -1)
			yw_error(c, &m, NULL, "not valid UTF-8 text: %s (byte 0x%02x at offset %zu)",
				 prob, ps->problem_value & 0xff, ps->problem_offset);
		else
			yw_error(c, &m, NULL, "not valid UTF-8 text: %s (offset %zu)", prob,
				 ps->problem_offset);
		return;
	}
	if (ps->context)
		yw_error(c, &ps->problem_mark, NULL,
			 "YAML syntax error: %s (%s started at line %zu, column %zu)",
			 prob, ps->context, ps->context_mark.line + 1, ps->context_mark.column + 1);
	else
		yw_error(c, &ps->problem_mark, NULL, "YAML syntax error: %s", prob);
}

static int cerr_cmp(const void *a, const void *b)
{
	const struct yw_err *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static const yaml_char_t *event_anchor(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return ev->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return ev->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

/*
 * Characters YAML 1.1 (libyaml) counts as line breaks and YAML 1.2 does not:
 * NEL (U+0085, with the other C1 controls), LS and PS (U+2028, U+2029).
 * libyaml would number every later line wrong, or read a comment's end as
 * content; no configuration needs them, so they are refused where they
 * are, counted by line feeds. Returns false after reporting.
 */
static bool no_odd_breaks(struct yw *c, const char *text, size_t len)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t line = 0, col = 0;

	for (size_t i = 0; i < len; i++) {
		__u32 cp = 0;

		if (u[i] == '\n') {
			line++;
			col = 0;
			continue;
		}
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			cp = u[i + 1];
		else if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
			 (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			cp = 0x2000 | (u[i + 2] & 0x3f);
		if (cp) {
			yaml_mark_t m = { .index = i, .line = line, .column = col };

			yw_error(c, &m, NULL, "U+%04X (%s) is not allowed: YAML 1.1 reads it as a "
				 "line break", cp, cp == 0x85 ? "NEL" : cp == 0x2028 ? "LINE SEPARATOR" :
				 cp == 0x2029 ? "PARAGRAPH SEPARATOR" : "a C1 control character");
			return false;
		}
		/* a column is a character: continuation bytes count for none */
		if ((u[i] & 0xc0) != 0x80)
			col++;
	}
	return true;
}

/*
 * A first pass over the events: syntax and encoding errors, a second
 * document, and nesting deeper than any valid file needs (libyaml's
 * scanner slows down quadratically with flow nesting depth, so it is
 * stopped early). Returns false after reporting.
 */
static bool prescan(struct yw *c, const char *text, size_t len, int max_depth)
{
	yaml_parser_t ps;
	yaml_event_t ev;
	int depth = 0, docs = 0;
	size_t nodes = 0, anchors = 0;
	bool ok = true, done = false;

	if (!no_odd_breaks(c, text, len))
		return false;
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
				yw_error(c, &ev.start_mark, NULL,
					 "more than one YAML document (the configuration is one)");
				ok = false;
				done = true;
			}
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			/* libyaml keeps anchors in a list it searches whole for each new
			 * one (quadratic time), and a node costs it about 250 bytes:
			 * both are bounded far above what any configuration needs */
			if (event_anchor(&ev) && ++anchors > YW_MAX_ANCHORS) {
				yw_error(c, &ev.start_mark, NULL, "more than %d anchors",
					 YW_MAX_ANCHORS);
				ok = false;
				done = true;
			}
			if (++nodes > YW_MAX_NODES) {
				yw_error(c, &ev.start_mark, NULL, "more than %d nodes", YW_MAX_NODES);
				ok = false;
				done = true;
			}
			if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_ALIAS_EVENT)
				break;
			if (++depth > max_depth) {
				yw_error(c, &ev.start_mark, NULL, "nested deeper than %d levels",
					 max_depth);
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

/* The first YW_MAX_ERRORS errors by position, one per line, whole lines
 * only: a line that would not leave room for the tail is left out and
 * counted in it, so that "... and N more errors" is always there when any
 * error is not shown. */
void yw_report(struct yw *c, char *err, size_t errlen)
{
	size_t i, o = 0, total, tail;
	char last[160];

	if (!err || !errlen)
		return;
	err[0] = 0;
	if (c->oom) {
		snprintf(err, errlen, "%s: out of memory", c->file);
		return;
	}
	qsort(c->errs, c->nerr, sizeof(*c->errs), cerr_cmp);
	total = c->nerr + c->unkept;
	/* the longest tail there can be: "\nFILE: ... and N more errors" */
	tail = (size_t)snprintf(last, sizeof(last), "\n%s: ... and %zu more errors", c->file, total);
	for (i = 0; i < c->nerr && i < YW_MAX_ERRORS; i++) {
		size_t n = strlen(c->errs[i].text) + (i ? 1 : 0);

		/* the last line needs no room for a tail */
		if (o + n + (i + 1 < total ? tail : 0) >= errlen)
			break;
		o += (size_t)snprintf(err + o, errlen - o, "%s%s", i ? "\n" : "", c->errs[i].text);
	}
	if (i < total)
		snprintf(err + o, errlen - o, "%s%s: ... and %zu more error%s", o ? "\n" : "", c->file,
			 total - i, total - i == 1 ? "" : "s");
}

void yw_free(struct yw *c)
{
	size_t i;

	for (i = 0; i < c->nerr; i++)
		free(c->errs[i].text);
	free(c->errs);
}

int yw_load(struct yw *c, const char *text, size_t len, int max_depth, yaml_document_t *doc)
{
	yaml_parser_t ps;

	if (!prescan(c, text, len, max_depth))
		return -1;
	if (!yaml_parser_initialize(&ps)) {
		c->oom = true;
		return -1;
	}
	yaml_parser_set_encoding(&ps, YAML_UTF8_ENCODING);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, doc)) {
		syntax_error(c, &ps, text, len);
		yaml_parser_delete(&ps);
		return -1;
	}
	yaml_parser_delete(&ps);
	c->doc = doc;
	return 0;
}

bool yw_failed(const struct yw *c)
{
	return c->nerr || c->oom;
}

yaml_node_item_t *yw_items(const yaml_node_t *n, size_t *count)
{
	if (n->type != YAML_SEQUENCE_NODE) {
		*count = 0;
		return NULL;
	}
	*count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return n->data.sequence.items.start;
}
