/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The control socket's listening end: a Unix stream socket, mode 0600, in a
 * directory only the daemon may change (validate.h: us_secure_dir), so
 * that no other user can replace it or the socket in it.
 */
#ifndef US_LISTEN_H
#define US_LISTEN_H

#include <stddef.h>

/* Listen on path (non-blocking, close-on-exec), replacing a socket left
 * there; a path naming anything but a socket is refused (-EEXIST) and left
 * as it is. The descriptor, or a negative errno with the reason in err
 * ("control socket PATH: ..."). */
int us_listen_unix(const char *path, char *err, size_t len);

#endif
