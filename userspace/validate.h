/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one validator of what names a machine or a service: the
 * configuration file, the control socket's add, a reload and the state
 * file's loader all ask it, so that whatever one of them accepts every
 * other accepts too ("a state file the daemon wrote is always one it can
 * read"). Each check returns 0, or -EINVAL with the reason in why (a
 * sentence without the value's position, NUL-terminated, cut to len).
 */
#ifndef US_VALIDATE_H
#define US_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define US_VALID_NAME_MAX    64   /* names and versions, with the NUL */

/* A service or machine name: 1..63 of [a-z0-9._-], starting with a letter
 * or digit (safe in a path, a label, a terminal and a log line). */
int us_valid_name(const char *s, char *why, size_t len);
/* A version: 1..63 bytes of UTF-8 text without control characters (C0,
 * DEL, C1: no line breaks, no terminal escapes). */
int us_valid_version(const char *s, char *why, size_t len);
/* An address a packet can be sent to across the machine-side link, or
 * received on as a VIP: family AF_INET or AF_INET6 (IPv4 in the mapped
 * form in addr, IPv6 not IPv4-mapped), not unspecified, multicast,
 * broadcast, loopback, link-local or (IPv4) class E. */
int us_valid_addr(int family, const __u8 addr[16], char *why, size_t len);
/* A machine's address in a service: us_valid_addr, of the VIP's family,
 * not the VIP. */
int us_valid_machine_addr(int family, const __u8 addr[16], int vip_family, const __u8 vip[16],
			  char *why, size_t len);

/* The length of the well-formed UTF-8 sequence at s (at most n bytes; no
 * overlong forms, surrogates or code points past U+10FFFF), its code point
 * in *cp; 0 when the byte at s starts none. */
size_t us_utf8_seq(const char *s, size_t n, __u32 *cp);
/* s as text safe to print on a terminal or export: every control character
 * (C0, DEL, C1) and every byte that is not part of well-formed UTF-8 as the
 * four characters \xNN (C1 characters byte by byte); the rest as it is.
 * Cut to len (NUL included) at a whole character, "..." marking a cut.
 * Returns out. */
const char *us_escape(const char *s, char *out, size_t len);

/* A directory only the daemon may change (the pin root, the state and the
 * socket directories): created 0700 when absent (its parent must exist),
 * then it must be a directory, not a symbolic link, owned by the effective
 * user, not writable by group or others. Anyone else who can write there
 * could remove a link pin (detaching XDP), or replace the state file or the
 * socket. 0, or a negative errno (-EPERM for a directory not safe) and why. */
int us_secure_dir(const char *path, char *why, size_t len);

#endif
