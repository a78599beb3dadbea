// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Addresses in the data plane's 16-byte form: see addr.h. */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"

static const __u8 v4m[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int us_addr_parse(const char *s, __u8 out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out + 12) == 1) {
		memcpy(out, v4m, 12);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return AF_INET6;
	memset(out, 0, 16);
	return 0;
}

const char *us_addr_format(int family, const __u8 a[16], char *buf, size_t len)
{
	if (!len)
		return buf;
	buf[0] = 0;
	if (family == AF_INET)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else if (family == AF_INET6)
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	return buf;
}

bool us_addr_v4mapped(const __u8 a[16])
{
	return !memcmp(a, v4m, 12);
}

int us_addr_bytes(int family, const __u8 a[16], void *out)
{
	if (family == AF_INET) {
		memcpy(out, a + 12, 4);
		return 4;
	}
	memcpy(out, a, 16);
	return 16;
}

socklen_t us_addr_sockaddr(int family, const __u8 a[16], __u16 port,
			   struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a + 12, 4);
		return sizeof(*s4);
	}
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a, 16);
		return sizeof(*s6);
	}
}
