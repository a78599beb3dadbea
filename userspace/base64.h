/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Base64 (RFC 4648 section 4: the standard alphabet, with '=' padding), as
 * etcd's JSON gateway writes keys and values.
 *
 * The decoder is strict: it accepts only what the encoder writes (a length
 * that is a multiple of 4, padding only at the end and only as much as the
 * length calls for, no whitespace, unused bits zero), so that every
 * encoding has one text and a damaged one is refused, never half-decoded.
 */
#ifndef US_BASE64_H
#define US_BASE64_H

#include <stddef.h>

/* Characters the encoding of n bytes takes (without the NUL). */
size_t us_b64_enclen(size_t n);
/* Encode n bytes into out, which has room for us_b64_enclen(n) + 1
 * characters; out ends with a NUL. Returns the length written. */
size_t us_b64_encode(const void *in, size_t n, char *out);
/* The most bytes len characters can decode to. */
size_t us_b64_declen(size_t len);
/* Decode len characters into out (room for us_b64_declen(len) bytes):
 * 0 and *outlen, or -EINVAL, out left unspecified, and *bad the offset of
 * the first character refused (if bad is not NULL). */
int us_b64_decode(const char *in, size_t len, void *out, size_t *outlen, size_t *bad);

#endif
