/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A walk over one YAML document (libyaml's document API) that collects
 * every problem it finds with where it is: "file:line:column: path: what".
 * Nothing here knows the configuration: the walker loads a document
 * (encoding, syntax, one document, bounded nesting), checks mappings
 * against their keys, and reads scalars as typed values (integers,
 * numbers, durations, percentages, fractions, words, names, strings,
 * interface names, paths, addresses), each with its own message when the
 * text is not one. config.c describes the configuration with it.
 */
#ifndef US_YAMLWALK_H
#define US_YAMLWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <yaml.h>

#define YW_PATHLEN 160           /* field paths: services[31].machines[255].address */
#define YW_MAX_ERRORS 20         /* error lines reported, at most */
#define YW_MAP_KEYS 32           /* keys yw_map knows in one mapping, at most */
#define YW_MAX_ANCHORS 1000      /* anchors in a file (libyaml's are quadratic) */
#define YW_MAX_NODES 100000      /* nodes in a file (a full one has about 5,000) */

struct yw_err;

struct yw {
	yaml_document_t *doc;
	const char *file;           /* the name in messages */
	struct yw_err *errs;        /* sorted by position at the end */
	size_t nerr, cap;
	size_t unkept;              /* errors past those kept, counted only */
	bool oom;
};

/* Load text as one document into doc (after a first pass for syntax and
 * encoding errors, a second document, nesting deeper than max_depth).
 * 0, or -1 after reporting (doc is then not to be deleted). */
int yw_load(struct yw *w, const char *text, size_t len, int max_depth, yaml_document_t *doc);
/* The errors, sorted by position, one per line (at most YW_MAX_ERRORS,
 * then how many more); "file: out of memory" if memory ran out. */
void yw_report(struct yw *w, char *err, size_t len);
bool yw_failed(const struct yw *w);
void yw_free(struct yw *w);

/* "file:line:col: path: message" (no position or path when NULL/"") */
void yw_error(struct yw *w, const yaml_mark_t *m, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define YW_ERR(w, node, path, ...) yw_error(w, &(node)->start_mark, path, __VA_ARGS__)

/* ---- nodes ------------------------------------------------------------- */

yaml_node_t *yw_node(struct yw *w, int idx);
const char *yw_sval(const yaml_node_t *n);
bool yw_is_plain(const yaml_node_t *n);
bool yw_is_null(const yaml_node_t *n);
/* A value for a message: quoted, escaped, cut to 40 characters. */
const char *yw_quote(const char *s, char *buf, size_t len);
/* "expected <what>, got <what the node is>" */
void yw_expected(struct yw *w, const yaml_node_t *n, const char *path, const char *what);
/* A sequence's items (NULL when n is no sequence). */
yaml_node_item_t *yw_items(const yaml_node_t *n, size_t *count);
/* Field paths: path.key, path[i] (cut if ever too long: they are for messages). */
void yw_join(char *out, const char *path, const char *key);
void yw_joini(char *out, const char *path, size_t i);

/*
 * Check a mapping against its keys (required[i]: key i must be there) and
 * set val[i] to the value node of key i (NULL when absent). Reports wrong
 * type, non-scalar, unknown, duplicate, merge and missing keys. Returns
 * false if n is not a mapping.
 */
bool yw_map(struct yw *w, yaml_node_t *n, const char *path, const char *const *keys,
	    const bool *required, size_t nk, yaml_node_t **val);

/* ---- scalars: each returns whether it stored a value (else it reported) --- */

/* Decimal digits: 0, -EINVAL, or -ERANGE (overflow, or a negative number). */
int yw_parse_u64(const char *s, __u64 *v);
bool yw_uint(struct yw *w, const yaml_node_t *n, const char *path, __u64 min, __u64 max,
	     __u64 *out);
/* A finite decimal number (no range). */
bool yw_number(struct yw *w, const yaml_node_t *n, const char *path, double *out);
/* A duration: a number with unit ms, s, m or h; a bare number is seconds
 * only when bare_ok. */
bool yw_duration(struct yw *w, const yaml_node_t *n, const char *path, bool bare_ok,
		 double min_s, double max_s, double *out);
/* A percentage 0..100 with at most two decimals, "%" optional, as basis points. */
bool yw_percent_bp(struct yw *w, const yaml_node_t *n, const char *path, __u16 max_bp,
		   __u16 *bp);
/* A share 0..1: a fraction, or a percentage ('%'), or percentage points
 * ("pp", when points: differences of rates). */
bool yw_fraction(struct yw *w, const yaml_node_t *n, const char *path, bool points,
		 double *out);
/* One of a list of words: its index, or -1 after reporting. */
int yw_enum(struct yw *w, const yaml_node_t *n, const char *path, const char *const *words,
	    size_t nw);
/* A name: 1..max-1 of [a-z0-9._-], starting with [a-z0-9]. */
bool yw_name(struct yw *w, const yaml_node_t *n, const char *path, char *out, size_t max);
/* A free string: 1..max-1 bytes, no control characters. */
bool yw_string(struct yw *w, const yaml_node_t *n, const char *path, char *out, size_t max);
/* An interface name as the kernel accepts it (dev_valid_name), shorter than max. */
bool yw_ifname(struct yw *w, const yaml_node_t *n, const char *path, char *out, size_t max);
/* An absolute path shorter than max. */
bool yw_path(struct yw *w, const yaml_node_t *n, const char *path, char *out, size_t max);
/* A unicast host address (IPv4 or IPv6; not unspecified, multicast,
 * broadcast or IPv4-mapped), in the 16-byte form of addr.h. */
bool yw_addr(struct yw *w, const yaml_node_t *n, const char *path, int *family, __u8 addr[16]);
/* The text of a scalar that is not null, or NULL after reporting. */
const char *yw_text(struct yw *w, const yaml_node_t *n, const char *path, const char *what);

#endif
