/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses as the data plane keeps them: 16 bytes, an IPv4 address in
 * the IPv4-mapped form ::ffff:a.b.c.d, with its family beside it. Every
 * conversion between text, this form and socket addresses is here.
 */
#ifndef US_ADDR_H
#define US_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>

#define US_ADDR_STRLEN 46       /* INET6_ADDRSTRLEN */

/* Literal IPv4 (a.b.c.d) or IPv6 text into out: AF_INET or AF_INET6, or 0
 * (out zeroed) when it is neither. */
int us_addr_parse(const char *s, __u8 out[16]);
/* The text of an address of this family (IPv4 from the mapped form);
 * returns buf. */
const char *us_addr_format(int family, const __u8 a[16], char *buf, size_t len);
/* Is it in the IPv4-mapped form? */
bool us_addr_v4mapped(const __u8 a[16]);
/* The family's own bytes: 4 (the IPv4 address) or 16; returns the length. */
int us_addr_bytes(int family, const __u8 a[16], void *out);
/* A socket address for it and port (host order); returns its length. */
socklen_t us_addr_sockaddr(int family, const __u8 a[16], __u16 port,
			   struct sockaddr_storage *out);

#endif
