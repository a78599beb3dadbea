/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A string builder: text appended with printf formats, either into a
 * buffer of the caller's (cut at its end, snprintf semantics: len counts
 * what the whole text needed) or into one that grows on the heap.
 */
#ifndef US_SBUF_H
#define US_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct us_sbuf {
	char *p;
	size_t len;             /* the text's length (fixed: what it needed) */
	size_t cap;
	bool grow;              /* on the heap, growing */
	bool oom;               /* a growth failed: the text is incomplete */
};

/* Into buf[cap] (NUL-terminated, cut if need be). */
void us_sbuf_fixed(struct us_sbuf *b, char *buf, size_t cap);
/* On the heap: us_sbuf_take() hands the text over, us_sbuf_free() drops it. */
void us_sbuf_heap(struct us_sbuf *b);
void us_sbuf_printf(struct us_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The heap text (the caller frees it), or NULL when a growth failed. */
char *us_sbuf_take(struct us_sbuf *b);
void us_sbuf_free(struct us_sbuf *b);

#endif
