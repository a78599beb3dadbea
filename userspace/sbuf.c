// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A string builder: see sbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sbuf.h"

void us_sbuf_fixed(struct us_sbuf *b, char *buf, size_t cap)
{
	*b = (struct us_sbuf){ .p = buf, .cap = cap };
	if (cap)
		buf[0] = 0;
}

void us_sbuf_heap(struct us_sbuf *b)
{
	*b = (struct us_sbuf){ .grow = true };
}

void us_sbuf_printf(struct us_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int need;

	if (b->oom)
		return;
	for (;;) {
		bool room = b->p && b->len < b->cap;

		va_start(ap, fmt);
		need = vsnprintf(room ? b->p + b->len : NULL, room ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (need < 0)
			return;
		if (!b->grow || (b->p && b->len + (size_t)need < b->cap)) {
			b->len += (size_t)need;
			return;
		}
		{
			size_t cap = (b->cap + (size_t)need + 1) * 2;
			char *p = realloc(b->p, cap);

			if (!p) {
				b->oom = true;
				return;
			}
			b->p = p;
			b->cap = cap;
		}
	}
}

char *us_sbuf_take(struct us_sbuf *b)
{
	char *p = b->oom ? NULL : b->p;

	if (b->oom)
		free(b->p);
	else if (!p)
		p = calloc(1, 1);
	*b = (struct us_sbuf){ .grow = true };
	return p;
}

void us_sbuf_free(struct us_sbuf *b)
{
	if (b->grow)
		free(b->p);
	*b = (struct us_sbuf){ .grow = b->grow };
}
