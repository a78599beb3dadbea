// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The one validator of names, versions and addresses: see validate.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "validate.h"

static int no(char *why, size_t len, const char *text)
{
	if (why && len)
		snprintf(why, len, "%s", text);
	return -EINVAL;
}

int us_valid_name(const char *s, char *why, size_t len)
{
	size_t n;

	if (!s || !s[0])
		return no(why, len, "is empty");
	n = strlen(s);
	if (n >= US_VALID_NAME_MAX) {
		if (why && len)
			snprintf(why, len, "is too long (%zu characters; at most %d)", n,
				 US_VALID_NAME_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      (i && (ch == '.' || ch == '_' || ch == '-'))))
			return no(why, len, "is not a valid name (lower-case letters, digits, '.', '_' "
				  "and '-', starting with a letter or digit)");
	}
	return 0;
}

size_t us_utf8_seq(const char *s, size_t n, __u32 *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t k;
	__u32 c, min;

	if (!n)
		return 0;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if (u[0] >= 0xc2 && u[0] <= 0xdf) {
		k = 2; c = u[0] & 0x1f; min = 0x80;
	} else if (u[0] >= 0xe0 && u[0] <= 0xef) {
		k = 3; c = u[0] & 0x0f; min = 0x800;
	} else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
		k = 4; c = u[0] & 0x07; min = 0x10000;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (u[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return k;
}

static bool is_control(__u32 c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

int us_valid_version(const char *s, char *why, size_t len)
{
	size_t n, i = 0;

	if (!s || !s[0])
		return no(why, len, "is empty");
	n = strlen(s);
	if (n >= US_VALID_NAME_MAX) {
		if (why && len)
			snprintf(why, len, "is too long (%zu bytes; at most %d)", n,
				 US_VALID_NAME_MAX - 1);
		return -EINVAL;
	}
	while (i < n) {
		__u32 c;
		size_t k = us_utf8_seq(s + i, n - i, &c);

		if (!k)
			return no(why, len, "is not valid UTF-8 text");
		if (is_control(c))
			return no(why, len, "has a control character");
		i += k;
	}
	return 0;
}

int us_valid_addr(int family, const __u8 a[16], char *why, size_t len)
{
	static const __u8 v4m[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const __u8 zero[16];

	if (family == AF_INET) {
		const __u8 *b = a + 12;

		if (memcmp(a, v4m, 12))
			return no(why, len, "is not an IPv4 address");
		if (b[0] == 0)
			return no(why, len, "is unspecified (0.0.0.0/8), not a host address");
		if (b[0] == 127)
			return no(why, len, "is a loopback address (127.0.0.0/8)");
		if (b[0] == 169 && b[1] == 254)
			return no(why, len, "is a link-local address (169.254.0.0/16)");
		if (!memcmp(b, "\xff\xff\xff\xff", 4))
			return no(why, len, "is the broadcast address");
		if ((b[0] & 0xf0) == 0xe0)
			return no(why, len, "is a multicast address (224.0.0.0/4)");
		if ((b[0] & 0xf0) == 0xf0)
			return no(why, len, "is a reserved address (class E, 240.0.0.0/4)");
		return 0;
	}
	if (family == AF_INET6) {
		if (!memcmp(a, zero, 16))
			return no(why, len, "is unspecified (::), not a host address");
		if (!memcmp(a, zero, 15) && a[15] == 1)
			return no(why, len, "is the loopback address (::1)");
		if (!memcmp(a, v4m, 12))
			return no(why, len, "is IPv4-mapped IPv6; write an IPv4 address as a.b.c.d");
		if (a[0] == 0xff)
			return no(why, len, "is a multicast address (ff00::/8)");
		if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
			return no(why, len, "is a link-local address (fe80::/10)");
		return 0;
	}
	return no(why, len, "is neither IPv4 nor IPv6");
}

int us_valid_machine_addr(int family, const __u8 addr[16], int vip_family, const __u8 vip[16],
			  char *why, size_t len)
{
	int rc = us_valid_addr(family, addr, why, len);

	if (rc)
		return rc;
	if (vip_family && family != vip_family) {
		if (why && len)
			snprintf(why, len, "is %s but the service's VIP is %s",
				 family == AF_INET ? "IPv4" : "IPv6",
				 vip_family == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	if (vip_family && !memcmp(addr, vip, 16))
		return no(why, len, "is the service's VIP; a machine needs its own address");
	return 0;
}

/* The piece of text for the character (or bad byte) at s + i: its bytes,
 * or \xNN for each of them. Returns the piece's length; *k the bytes used. */
static size_t piece(const char *s, size_t i, size_t n, char out[16], size_t *k)
{
	size_t pl = 0;
	__u32 c;

	*k = us_utf8_seq(s + i, n - i, &c);
	if (*k && !is_control(c)) {
		memcpy(out, s + i, *k);
		return *k;
	}
	/* a bad byte, or a control character byte by byte */
	*k = *k ? *k : 1;
	for (size_t j = 0; j < *k; j++)
		pl += (size_t)snprintf(out + pl, 16 - pl, "\\x%02x", (unsigned char)s[i + j]);
	return pl;
}

const char *us_escape(const char *s, char *out, size_t len)
{
	size_t n = strlen(s), i, o = 0, k, pl, total = 0;
	char p[16];

	if (!len)
		return out;
	for (i = 0; i < n; i += k)
		total += piece(s, i, n, p, &k);
	for (i = 0; i < n; i += k) {
		pl = piece(s, i, n, p, &k);
		/* cut: room kept for "..." */
		if (total >= len && o + pl + 3 >= len) {
			if (o + 3 < len) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, p, pl);
		o += pl;
	}
	out[o] = 0;
	return out;
}

int us_secure_dir(const char *path, char *why, size_t len)
{
	struct stat st;
	int err;

	if (mkdir(path, 0700) && errno != EEXIST) {
		err = -errno;
		if (why && len)
			snprintf(why, len, "cannot be created: %s", strerror(-err));
		return err;
	}
	if (lstat(path, &st)) {
		err = -errno;
		if (why && len)
			snprintf(why, len, "%s", strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode))
		return no(why, len, S_ISLNK(st.st_mode) ? "is a symbolic link, not a directory" :
			  "is not a directory");
	if (st.st_uid != geteuid()) {
		if (why && len)
			snprintf(why, len, "is owned by uid %u, not by uid %u (the daemon's): its owner "
				 "could change what is in it; remove it or chown it", (unsigned)st.st_uid,
				 (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		if (why && len)
			snprintf(why, len, "is writable by %s (mode %04o): chmod go-w it",
				 st.st_mode & S_IWOTH ? "every user" : "its group",
				 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}
