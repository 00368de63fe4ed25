#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/child.h"

int
child_start(child *c, const char *path, char *const argv[])
{
	int   fds[2];
	pid_t parent = getpid();

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	if (pipe(fds) != 0) {
		return (-1);
	}
	fflush(NULL);
	if ((c->pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return (-1);
	}
	if (c->pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || in < 0) {
			_exit(127);
		}
		dup2(in, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execv(path, argv);
		_exit(127);
	}
	close(fds[1]);
	c->out = fds[0];
	return (0);
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

int
child_line(child *c, char *line, size_t cap, int ms)
{
	long end = now_ms() + ms;

	for (;;) {
		char         *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p  = { .fd = c->out, .events = POLLIN };
		long          left;
		ssize_t       n;

		if (nl != NULL) {
			size_t k = (size_t) (nl - c->buf);
			size_t m = k < cap - 1 ? k : cap - 1;
			memcpy(line, c->buf, m);
			line[m] = '\0';
			memmove(c->buf, nl + 1, c->len - k - 1);
			c->len -= k + 1;
			return (0);
		}
		if ((left = end - now_ms()) <= 0 || c->len == sizeof(c->buf)) {
			return (-1);
		}
		if (poll(&p, 1, (int) left) < 0 && errno != EINTR) {
			return (-1);
		}
		if (p.revents == 0) {
			continue;
		}
		n = read(c->out, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0) {
			return (-1);
		}
		c->len += (size_t) n;
	}
}

int
child_wait(child *c, int ms)
{
	int status;

	if (c->pid <= 0) {
		return (-1);
	}
	for (int waited = 0; waited <= ms; waited += 10) {
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid) {
			c->pid = -1;
			close(c->out);
			return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		if (r < 0 && errno != EINTR) {
			return (-1);
		}
		usleep(10000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	c->pid = -1;
	close(c->out);
	return (-2);
}

int
child_stop(child *c, int sig, int ms)
{
	if (c->pid > 0) {
		kill(c->pid, sig);
	}
	return (child_wait(c, ms));
}
