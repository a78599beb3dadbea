// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Base64, standard alphabet with padding, strict decoder: see base64.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "base64.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t us_b64_enclen(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t us_b64_encode(const void *in, size_t n, char *out)
{
	const uint8_t *p = in;
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t us_b64_declen(size_t len)
{
	return len / 4 * 3;
}

/* the value of an alphabet character, or -1 */
static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

static int b64_refuse(size_t *bad, size_t at)
{
	if (bad)
		*bad = at;
	return -EINVAL;
}

int us_b64_decode(const char *in, size_t len, void *out, size_t *outlen, size_t *bad)
{
	uint8_t *q = out;
	size_t o = 0;

	if (len % 4)
		/* the first character that cannot start a complete group */
		return b64_refuse(bad, len - len % 4);
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4], pad = 0;
		uint32_t w;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_value(in[i + k]);
			if (v[k] >= 0) {
				if (pad)    /* a character after padding */
					return b64_refuse(bad, i + k);
				continue;
			}
			/* '=' only in the last group, in its last two places */
			if (in[i + k] != '=' || !last || k < 2)
				return b64_refuse(bad, i + k);
			pad++;
			v[k] = 0;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* the bits padding leaves over must be zero: one text per encoding */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return b64_refuse(bad, i + 3 - pad);
		q[o++] = w >> 16;
		if (pad < 2)
			q[o++] = (w >> 8) & 0xff;
		if (pad < 1)
			q[o++] = w & 0xff;
	}
	*outlen = o;
	return 0;
}
