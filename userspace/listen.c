// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The control socket's listening end: see listen.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "listen.h"
#include "validate.h"

int us_listen_unix(const char *path, char *err, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)], why[256], *slash;
	struct stat st;
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, len, "control socket %s: path too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		rc = us_secure_dir(slash == dir ? "/" : dir, why, sizeof(why));
		if (rc) {
			snprintf(err, len, "control socket %s: directory %s %s", path,
				 slash == dir ? "/" : dir, why);
			return rc;
		}
	}
	/* a socket left by an earlier run is replaced; anything else (a typo
	 * naming the configuration file) is the operator's, never removed */
	if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
		snprintf(err, len, "control socket %s: exists and is not a socket (%s); not removed: "
			 "correct daemon.socket or move the file away", path,
			 S_ISDIR(st.st_mode) ? "a directory" : S_ISLNK(st.st_mode) ?
			 "a symbolic link" : S_ISREG(st.st_mode) ? "a regular file" : "a special file");
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, len, "control socket %s: %s", path, strerror(-rc));
		return rc;
	}
	unlink(path);
	old = umask(0177);      /* the socket is created 0600: root only */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 16)) {
		rc = -errno;
		umask(old);
		close(fd);
		snprintf(err, len, "control socket %s: %s", path, strerror(-rc));
		return rc;
	}
	umask(old);
	return fd;
}
