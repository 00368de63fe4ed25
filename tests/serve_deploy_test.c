/* nghttpw-serve as deployments run it: several worker processes on one
 * socket (a worker that dies is started again; SIGTERM drains them: the
 * request in flight finishes, new connections are refused), a health
 * check for a balancer, and a socket handed over by systemd's own
 * systemd-socket-activate.  Skipped when the build has no tools. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/child.h"
#include "support/pairs.h"
#include "support/programs.h"
#include "support/raw_tcp.h"
#include "support/tmp_dir.h"

#define BIG (16u << 20)

static char serve_path[PATH_MAX];
static char dir[PATH_MAX];

static void
put(const char *rel, size_t size)
{
	char  path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_not_null(f = fopen(path, "w"));
	for (size_t i = 0; i < size; i++) {
		fputc('a' + (int) (i % 26), f);
	}
	cr_assert_eq(fclose(f), 0);
}

static void
setup(void)
{
	if (!built_tool("nghttpw-serve", serve_path, sizeof(serve_path))) {
		cr_skip_test("nghttpw-serve is not built");
	}
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "deploy"), 0);
	put("a.txt", 3);
	put("big.bin", BIG);
}

static void
teardown(void)
{
	tmp_dir_remove(dir);
}

TestSuite(serve_deploy, .init = setup, .fini = teardown, .timeout = 60);

/* The port of the "Serving DIR on http://127.0.0.1:PORT/" line. */
static int
serving_port(child *c)
{
	char        line[512];
	const char *p;

	cr_assert_eq(child_line(c, line, sizeof(line), 10000), 0, "no start line");
	cr_assert_not_null(p = strstr(line, "127.0.0.1:"), "%s", line);
	return (atoi(p + strlen("127.0.0.1:")));
}

/* GET target on a new connection: the status, and the body's length. */
static int
get(int port, const char *target, size_t *len)
{
	char    req[256], buf[8192];
	size_t  got = 0;
	ssize_t n;
	int     status = 0;
	int     fd     = raw_tcp_client(port);

	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target);
	raw_tcp_send(fd, req);
	*len = 0;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (got == 0) {
			sscanf(buf, "HTTP/1.1 %d", &status);
			char *end = memmem(buf, (size_t) n, "\r\n\r\n", 4);
			cr_assert_not_null(end, "head in one read");
			*len = (size_t) n - (size_t) (end + 4 - buf);
		} else {
			*len += (size_t) n;
		}
		got += (size_t) n;
	}
	close(fd);
	return (status);
}

/* The worker processes of the supervisor pid, from /proc; their number. */
static int
workers_of(pid_t pid, pid_t *out, int cap)
{
	char  path[64];
	FILE *f;
	int   n = 0;
	long  p;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long) pid,
	    (long) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (-1);
	}
	while (n < cap && fscanf(f, "%ld", &p) == 1) {
		out[n++] = (pid_t) p;
	}
	fclose(f);
	return (n);
}

Test(serve_deploy, workers_restart_and_drain)
{
	char *const argv[] = { serve_path, "--listen", "http://127.0.0.1:0",
		"--workers", "2", "--health", "/healthz", "--stop-timeout", "20000",
		"--quiet", dir, NULL };
	child       c;
	pid_t       pids[8], now[8];
	size_t      len;
	int         port, n, fd;

	cr_assert_eq(child_start(&c, serve_path, argv), 0);
	port = serving_port(&c);
	cr_assert_eq(get(port, "/healthz", &len), 200);
	cr_assert_eq(len, 3);

	/* Two workers; one killed is started again, and no request fails
	 * meanwhile. */
	n = workers_of(c.pid, pids, 8);
	if (n < 0) {
		child_stop(&c, SIGKILL, 5000);
		cr_skip_test("no /proc/PID/task/PID/children on this kernel");
	}
	cr_assert_eq(n, 2, "%d workers", n);
	cr_assert_eq(kill(pids[0], SIGKILL), 0);
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(get(port, "/a.txt", &len), 200, "request %d", i);
		cr_assert_eq(len, 3);
	}
	for (int i = 0; i < 200 && (n = workers_of(c.pid, now, 8)) == 2 &&
	     (now[0] == pids[0] || now[1] == pids[0]);
	     i++) {
		nghttpw_msleep(10);
	}
	n = workers_of(c.pid, now, 8);
	cr_assert_eq(n, 2, "%d workers after the kill", n);
	cr_assert(now[0] != pids[0] && now[1] != pids[0], "not started again");

	/* A large answer in flight, its reader paused; then SIGTERM. */
	fd = raw_tcp_client(port);
	raw_tcp_send(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	char   buf[65536];
	size_t got = 0;
	while (got < sizeof(buf)) {
		ssize_t r = recv(fd, buf, sizeof(buf) - got, 0);
		cr_assert_gt(r, 0);
		got += (size_t) r;
	}
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	/* New connections are refused soon... */
	bool refused = false;
	for (int i = 0; i < 300 && !refused; i++) {
		int probe = raw_tcp_connect(port);
		refused   = probe < 0;
		if (probe >= 0) {
			close(probe);
			nghttpw_msleep(10);
		}
	}
	cr_assert(refused, "still accepting 3 s after SIGTERM");
	/* ... while the answer in flight comes whole. */
	ssize_t r;
	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
		got += (size_t) r;
	}
	close(fd);
	/* The body and its head of a few hundred bytes. */
	cr_assert_geq(got, BIG, "%zu bytes of %u came", got, BIG);
	cr_assert_lt(got, BIG + 1024, "%zu bytes", got);
	cr_assert_eq(child_wait(&c, 30000), 0, "the supervisor's exit status");
}

/* Whether pid has ended: gone, or a zombie nobody has reaped yet. */
static bool
process_ended(pid_t pid)
{
	char  path[64], state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
	if ((f = fopen(path, "r")) == NULL) {
		return (true);
	}
	/* "pid (comm) S ...": the state follows the last ')'. */
	char line[512];
	if (fgets(line, sizeof(line), f) != NULL && strrchr(line, ')') != NULL) {
		state = strrchr(line, ')')[2];
	}
	fclose(f);
	return (state == 'Z' || state == 'X');
}

/* A supervisor killed outright leaves no worker behind: each gets
 * SIGTERM from the kernel, drains and exits, and the port is closed. */
Test(serve_deploy, workers_end_with_a_killed_supervisor)
{
	char *const argv[] = { serve_path, "--listen", "http://127.0.0.1:0",
		"--workers", "2", "--quiet", dir, NULL };
	child       c;
	pid_t       pids[8];
	size_t      len;
	int         port, n, probe = -1;

	cr_assert_eq(child_start(&c, serve_path, argv), 0);
	port = serving_port(&c);
	cr_assert_eq(get(port, "/a.txt", &len), 200);
	if ((n = workers_of(c.pid, pids, 8)) < 0) {
		child_stop(&c, SIGKILL, 5000);
		cr_skip_test("no /proc/PID/task/PID/children on this kernel");
	}
	cr_assert_eq(n, 2, "%d workers", n);
	cr_assert_eq(child_stop(&c, SIGKILL, 5000), -1, "killed by the signal");
	for (int i = 0; i < 2; i++) {
		for (int t = 0; t < 500 && !process_ended(pids[i]); t++) {
			nghttpw_msleep(10);
		}
		cr_assert(process_ended(pids[i]), "worker %ld runs 5 s on",
		    (long) pids[i]);
	}
	probe = raw_tcp_connect(port);
	if (probe >= 0) {
		close(probe);
	}
	cr_assert_lt(probe, 0, "the port still accepts");
}

/* systemd-socket-activate (systemd's own tool) binds the port and hands
 * the socket over as descriptor 3 with LISTEN_FDS: nghttpw-serve must
 * take it, since binding the port itself would fail (it is taken). */
Test(serve_deploy, systemd_socket_activation)
{
	char  activate[PATH_MAX], listen_arg[64], url[64];
	child c;
	int   port, probe;
	size_t len;

	if (!program_in_path("systemd-socket-activate", activate, sizeof(activate))) {
		cr_skip_test("systemd-socket-activate is not installed");
	}
	for (int workers = 0; workers < 2; workers++) {
		/* A port that was free a moment ago. */
		probe = raw_tcp_listen(&port);
		cr_assert_geq(probe, 0);
		close(probe);
		snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%d", port);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
		char *const one[] = { activate, "-l", listen_arg, serve_path,
			"--listen", url, "--quiet", dir, NULL };
		char *const two[] = { activate, "-l", listen_arg, serve_path,
			"--listen", url, "--workers", "2", "--quiet", dir, NULL };
		cr_assert_eq(child_start(&c, activate, workers ? two : one), 0);
		/* It execs the server at the first connection. */
		for (int i = 0; i < 200 && (probe = raw_tcp_connect(port)) < 0; i++) {
			nghttpw_msleep(10);
		}
		cr_assert_geq(probe, 0, "systemd-socket-activate is not listening");
		close(probe);
		cr_assert_eq(get(port, "/a.txt", &len), 200);
		cr_assert_eq(len, 3);
		cr_assert_eq(child_stop(&c, SIGTERM, 15000), 0, "exit status");
	}
}
