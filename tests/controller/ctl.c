// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudyctl itself (build/understudyctl, run beside this test) against
 * a socket that behaves as understudyd does with a request too long for it:
 * it reads 64 KiB, answers and closes. understudyctl must not die of SIGPIPE
 * (issue 12, finding 11) but print the answer, or the error.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "commands.h"
#include "fixture.h"

struct peer {
	int lfd;
	bool answer;
};

static void *one_client(void *arg)
{
	struct peer *p = arg;
	static char buf[65536];
	size_t n = 0;
	int fd = accept(p->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (n < sizeof(buf)) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (p->answer) {
		static const char rep[] = "{\"ok\":false,\"error\":\"request longer than 64 KiB\"}\n";

		if (write(fd, rep, sizeof(rep) - 1) < 0)
			th_fail("fake daemon", strerror(errno), "answered");
	}
	close(fd);
	return NULL;
}

/* Run understudyctl -s sock add <long name> sip 198.18.1.9 <long version>;
 * its wait status, its standard error in err. */
static int run_ctl(const char *sock, char *err, size_t len)
{
	char exe[PATH_MAX], *slash, *big = malloc(120000);
	int pipefd[2], status = -1;
	ssize_t n, k;
	pid_t pid;

	if (!big || readlink("/proc/self/exe", exe, sizeof(exe) - 16) < 0 || pipe(pipefd)) {
		free(big);
		return -1;
	}
	exe[sizeof(exe) - 16] = 0;
	slash = strrchr(exe, '/');
	snprintf(slash + 1, 16, "understudyctl");
	memset(big, 'a', 119999);
	big[119999] = 0;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execl(exe, "understudyctl", "-s", sock, "add", big, "sip", "198.18.1.9", big,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (n = 0; (size_t)n < len - 1 && (k = read(pipefd[0], err + n, len - 1 - (size_t)n)) > 0;)
		n += k;
	err[n > 0 ? n : 0] = 0;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	free(big);
	return status;
}

TH_TEST(ctl_large_request)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct peer p;
	pthread_t t;
	char err[4096];
	int status;

	for (int answer = 1; answer >= 0; answer--) {
		if (!th_subtest("%s", answer ? "answered" : "closed without an answer"))
			continue;
		if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/fake%d.sock", ctl_dir,
				     answer) >= sizeof(sa.sun_path))
			return;
		p.answer = answer;
		p.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (p.lfd < 0 || bind(p.lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(p.lfd, 1) ||
		    pthread_create(&t, NULL, one_client, &p)) {
			th_fail("fake daemon", strerror(errno), "listening");
			return;
		}
		status = run_ctl(sa.sun_path, err, sizeof(err));
		pthread_join(t, NULL);
		close(p.lfd);
		if (WIFSIGNALED(status))
			th_fail("understudyctl", strsignal(WTERMSIG(status)), "an exit, not a signal");
		else if (answer && WEXITSTATUS(status) != US_EX_REFUSED)
			th_eqf(WEXITSTATUS(status), US_EX_REFUSED, "exit status (refused)");
		else if (!answer && WEXITSTATUS(status) != US_EX_UNREACHABLE)
			th_eqf(WEXITSTATUS(status), US_EX_UNREACHABLE, "exit status (unreachable)");
		if (answer && !strstr(err, "understudyctl: request longer than 64 KiB"))
			th_fail("stderr", err, "understudyctl: request longer than 64 KiB");
		if (!answer && !strstr(err, "sending the request: Broken pipe") &&
		    !strstr(err, "sending the request: Connection reset by peer"))
			th_fail("stderr", err, "sending the request: Broken pipe");
	}
}
