/* nghttpw-serve's buffered access log, the tool run as a child process:
 * every line reaches its standard output (a pipe, a slow or non-blocking
 * one, or a file) whole and in order per connection, at the latest when
 * it stops on SIGTERM or SIGINT; lines wait at most about --log-flush
 * while the server idles; --log-buffer 0 writes each line at once.
 * Skipped when the build has no tools. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "support/raw_tcp.h"
#include "support/programs.h"
#include "support/tmp_dir.h"

#define BODY "0123456789abc\n" /* 14 bytes, as in the benchmark */

static char serve_path[PATH_MAX];
static char dir[PATH_MAX];
static pid_t live_pid;

static void
teardown(void)
{
	if (live_pid > 0) {
		kill(live_pid, SIGKILL);
		waitpid(live_pid, NULL, 0);
		live_pid = 0;
	}
	tmp_dir_remove(dir);
}

TestSuite(serve_log, .fini = teardown, .timeout = 30);

static void
need_tool(void)
{
	char  path[PATH_MAX + 16];
	FILE *f;

	if (!built_tool("nghttpw-serve", serve_path, sizeof(serve_path))) {
		cr_skip_test("nghttpw-serve is not built");
	}
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "serve-log"), 0);
	snprintf(path, sizeof(path), "%s/f.txt", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(BODY, f);
	fclose(f);
}

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------- the child */

/* Where its standard output goes: a pipe, one of a page (full at once),
 * the same with a non-blocking end, a file, or a terminal (raw: lines end
 * with \n alone). */
typedef enum {
	OUT_PIPE,
	OUT_SMALL_PIPE,
	OUT_SMALL_PIPE_NONBLOCK,
	OUT_FILE,
	OUT_TTY,
} out_kind;

typedef struct server {
	pid_t  pid;
	int    out; /* the read end of its output pipe, or the file */
	int    port;
	char  *text; /* what it wrote, read so far */
	size_t len, cap;
} server;

/* Appends what is there to read (or, for a file, what was added). */
static ssize_t
take_output(server *s)
{
	ssize_t n;

	if (s->cap - s->len < 65536) {
		s->cap  = s->cap * 2 + 65536;
		s->text = realloc(s->text, s->cap);
		cr_assert_not_null(s->text);
	}
	n = read(s->out, s->text + s->len, s->cap - s->len - 1);
	if (n > 0) {
		s->len += (size_t) n;
	}
	s->text[s->len] = '\0';
	return n;
}

/* Reads until the output holds want (a pipe) or has it (a file), for ms
 * at most. */
static bool
output_until(server *s, const char *want, int ms, bool file)
{
	long end = now_ms() + ms;

	while (s->text == NULL || strstr(s->text, want) == NULL) {
		if (now_ms() >= end) {
			return false;
		}
		if (file) {
			if (take_output(s) <= 0) {
				usleep(10000);
			}
		} else {
			struct pollfd p = { s->out, POLLIN, 0 };
			if (poll(&p, 1, 50) > 0 && take_output(s) <= 0) {
				return false; /* the end of its output */
			}
		}
	}
	return true;
}

/* Starts the tool with -t 2 and args (NULL-ended) on a free port. */
static void
start(server *s, out_kind kind, const char *const *args)
{
	char       *argv[24];
	char        file[PATH_MAX + 16];
	int         n = 0, fds[2];
	const char *p;

	memset(s, 0, sizeof(*s));
	argv[n++] = serve_path;
	argv[n++] = "-t";
	argv[n++] = "2";
	argv[n++] = "--listen";
	argv[n++] = "http://127.0.0.1:0";
	for (; *args != NULL; args++) {
		argv[n++] = (char *) *args;
	}
	argv[n++] = dir;
	argv[n]   = NULL;
	if (kind == OUT_FILE) {
		snprintf(file, sizeof(file), "%s.log", dir);
		fds[1] = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		fds[0] = open(file, O_RDONLY | O_CLOEXEC);
		unlink(file);
		cr_assert(fds[0] >= 0 && fds[1] >= 0);
	} else if (kind == OUT_TTY) {
		struct termios tio;
		cr_assert_geq(fds[0] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), 0);
		cr_assert(grantpt(fds[0]) == 0 && unlockpt(fds[0]) == 0);
		fds[1] = open(ptsname(fds[0]), O_RDWR | O_NOCTTY | O_CLOEXEC);
		cr_assert_geq(fds[1], 0);
		cr_assert_eq(tcgetattr(fds[1], &tio), 0);
		cfmakeraw(&tio);
		cr_assert_eq(tcsetattr(fds[1], TCSANOW, &tio), 0);
	} else {
		cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
		if (kind != OUT_PIPE) {
			cr_assert_geq(fcntl(fds[1], F_SETPIPE_SZ, 4096), 4096);
		}
		if (kind == OUT_SMALL_PIPE_NONBLOCK) {
			cr_assert_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
		}
	}
	s->pid = fork();
	cr_assert_geq(s->pid, 0);
	if (s->pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execv(serve_path, argv);
		_exit(127);
	}
	live_pid = s->pid;
	close(fds[1]);
	s->out = fds[0];
	cr_assert(output_until(s, "/\n", 10000, kind == OUT_FILE), "no start line: %s",
	    s->text ? s->text : "");
	cr_assert_not_null(p = strstr(s->text, "http://127.0.0.1:"), "%s", s->text);
	s->port = atoi(p + strlen("http://127.0.0.1:"));
	cr_assert_gt(s->port, 0, "%s", s->text);
}

/* Sends sig, reads the rest of its output (a pipe to its end), and
 * expects exit status 0 within 10 s. */
static void
stop(server *s, int sig, bool file)
{
	long end = now_ms() + 10000;
	int  status;

	cr_assert_eq(kill(s->pid, sig), 0);
	while (!file && now_ms() < end) {
		struct pollfd p = { s->out, POLLIN, 0 };
		if (poll(&p, 1, 100) > 0 && take_output(s) <= 0) {
			break;
		}
	}
	while (waitpid(s->pid, &status, WNOHANG) != s->pid) {
		cr_assert_lt(now_ms(), end, "still running 10 s after signal %d", sig);
		usleep(10000);
	}
	live_pid = 0;
	while (file && take_output(s) > 0) {
	}
	close(s->out);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x after signal %d", status, sig);
}

/* ------------------------------------------------- the clients */



/* Reads n answers of BODY; each is "200" with its 14 bytes. */
static void
read_answers(int fd, int n)
{
	static const char head_end[] = "\r\n\r\n";
	char              buf[4096];
	size_t            len = 0;

	while (n > 0) {
		char *end = memmem(buf, len, head_end, 4);
		if (end != NULL && (size_t) (end + 4 - buf) + 14 <= len) {
			size_t used = (size_t) (end + 4 - buf) + 14;
			cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%.*s", (int) len, buf);
			memmove(buf, buf + used, len - used);
			len -= used;
			n--;
			continue;
		}
		cr_assert_lt(len, sizeof(buf));
		ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
		cr_assert_gt(r, 0, "answer cut short (%d to go): %s", n, strerror(errno));
		len += (size_t) r;
	}
}

/* nconn connections, each asking for /f.txt?c=C&i=I, I from 0 to
 * per - 1, in turn, a few requests at a time; all answered. */
static void
requests(int port, int nconn, int per)
{
	int  fds[16];
	char req[8192];

	cr_assert_leq(nconn, 16);
	for (int c = 0; c < nconn; c++) {
		fds[c] = raw_tcp_client(port);
	}
	for (int i = 0; i < per; i += 8) {
		for (int c = 0; c < nconn; c++) {
			size_t len = 0;
			int    k;
			for (k = i; k < per && k < i + 8; k++) {
				len += (size_t) snprintf(req + len, sizeof(req) - len,
				    "GET /f.txt?c=%d&i=%d HTTP/1.1\r\nHost: x\r\n\r\n", c, k);
			}
			raw_tcp_send(fds[c], req);
		}
		for (int c = 0; c < nconn; c++) {
			read_answers(fds[c], per - i < 8 ? per - i : 8);
		}
	}
	for (int c = 0; c < nconn; c++) {
		close(fds[c]);
	}
}

/* ----------------------------------------------------- the checks */

/* The log lines in text, after the start line: each exactly
 *   127.0.0.1 - - [dd/Mon/yyyy:hh:mm:ss +zzzz] "GET /f.txt?c=C&i=I HTTP/1.1" 200 14
 * and those of each connection in order, I from 0 to per - 1. */
static void
expect_lines(const char *text, int nconn, int per)
{
	int         next[16] = { 0 };
	int         lines    = 0;
	const char *p        = strchr(text, '\n');

	cr_assert_not_null(p);
	for (p++; *p != '\0'; lines++) {
		const char *nl = strchr(p, '\n');
		int         c, i, used = 0;
		char        mon[4], tz[6];
		unsigned    d, y, h, m, s;

		cr_assert_not_null(nl, "a line without its end: '%s'", p);
		cr_assert_eq(sscanf(p,
		                 "127.0.0.1 - - [%2u/%3[A-Za-z]/%4u:%2u:%2u:%2u %5[-+0-9]] "
		                 "\"GET /f.txt?c=%d&i=%d HTTP/1.1\" 200 14\n%n",
		                 &d, mon, &y, &h, &m, &s, tz, &c, &i, &used),
		    9, "line %d: '%.*s'", lines, (int) (nl - p), p);
		cr_assert_eq(p + used, nl + 1, "line %d: '%.*s'", lines, (int) (nl - p), p);
		cr_assert(c >= 0 && c < nconn, "line %d: connection %d", lines, c);
		cr_assert_eq(i, next[c], "line %d: connection %d: request %d before %d",
		    lines, c, i, next[c]);
		next[c]++;
		p = nl + 1;
	}
	cr_assert_eq(lines, nconn * per, "%d lines for %d requests", lines, nconn * per);
}

/* A thread that reads a pipe's output meanwhile, pause_us between
 * reads of 1 KiB at most (0: as fast as it comes), until told to stop. */
typedef struct reader {
	server       *s;
	int           pause_us;
	pthread_t     thread;
	atomic_bool   stop;
} reader;

static void *
read_along(void *arg)
{
	reader *r = arg;

	while (!atomic_load(&r->stop)) {
		struct pollfd p = { r->s->out, POLLIN, 0 };
		if (poll(&p, 1, 20) > 0) {
			char    chunk[1024];
			ssize_t n = read(r->s->out, chunk, sizeof(chunk));
			if (n <= 0) {
				break;
			}
			if (r->s->cap - r->s->len <= (size_t) n) {
				r->s->cap  = r->s->cap * 2 + 65536;
				r->s->text = realloc(r->s->text, r->s->cap);
			}
			memcpy(r->s->text + r->s->len, chunk, (size_t) n);
			r->s->len += (size_t) n;
			r->s->text[r->s->len] = '\0';
		}
		if (r->pause_us > 0) {
			usleep((useconds_t) r->pause_us);
		}
	}
	return NULL;
}

/* requests() while r reads the output (a pipe), which it must: the
 * server waits for room in the pipe. */
static void
requests_read_along(server *s, int nconn, int per, int pause_us)
{
	reader r = { s, pause_us, 0, false };

	if (s->cap - s->len < 65536) {
		s->cap  = s->len + (1 << 20);
		s->text = realloc(s->text, s->cap);
	}
	cr_assert_not_null(s->text);
	cr_assert_eq(pthread_create(&r.thread, NULL, read_along, &r), 0);
	requests(s->port, nconn, per);
	atomic_store(&r.stop, true);
	pthread_join(r.thread, NULL);
}

/* Requests, then sig at once: every line is there (with the time between
 * flushes a minute, only the end writes what the buffers hold). */
static void
all_lines_at_signal(int sig, out_kind kind, const char *buffer)
{
	server s;

	start(&s, kind,
	    (const char *[]) { "--log-buffer", buffer, "--log-flush", "60000", NULL });
	if (kind == OUT_FILE) {
		requests(s.port, 8, 250);
	} else {
		requests_read_along(&s, 8, 250, 0);
	}
	stop(&s, sig, kind == OUT_FILE);
	expect_lines(s.text, 8, 250);
	free(s.text);
}

/* ----------------------------------------------------------- tests */

Test(serve_log, sigterm_writes_every_line)
{
	need_tool();
	/* 2,000 lines: several buffers' worth, and part of one at the end;
	 * then all in one buffer per thread. */
	for (int round = 0; round < 3; round++) {
		all_lines_at_signal(SIGTERM, OUT_PIPE, "16k");
	}
	all_lines_at_signal(SIGTERM, OUT_PIPE, "1m");
}

Test(serve_log, sigint_writes_every_line)
{
	need_tool();
	all_lines_at_signal(SIGINT, OUT_PIPE, "16k");
	all_lines_at_signal(SIGINT, OUT_PIPE, "1m");
}

Test(serve_log, a_file_has_every_line_after_sigterm)
{
	need_tool();
	all_lines_at_signal(SIGTERM, OUT_FILE, "64k");
}

/* A small pipe that its reader empties slowly, a non-blocking one too:
 * the server waits for it (on poll, when its end does not block) rather
 * than drop lines. */
Test(serve_log, a_slow_pipe_loses_no_line)
{
	out_kind kinds[] = { OUT_SMALL_PIPE, OUT_SMALL_PIPE_NONBLOCK };

	need_tool();
	for (size_t k = 0; k < 2; k++) {
		server s;

		/* Buffers of 4 KiB, written many times over during the run;
		 * 1 KiB read each 2 ms, 500 KiB/s at most. */
		start(&s, kinds[k],
		    (const char *[]) { "--log-buffer", "4k", "--log-flush", "60000", NULL });
		requests_read_along(&s, 4, 250, 2000);
		stop(&s, SIGTERM, false);
		expect_lines(s.text, 4, 250);
		free(s.text);
	}
}

/* Lines wait in the buffer no longer than about the flush time while
 * the server has nothing else to do. */
Test(serve_log, an_idle_server_writes_its_lines_within_a_second)
{
	server s;
	long   t0, waited;

	need_tool();
	start(&s, OUT_PIPE, (const char *[]) { NULL });
	requests(s.port, 1, 3);
	t0 = now_ms();
	cr_assert(output_until(&s, "i=2 HTTP/1.1\" 200 14\n", 3000, false),
	    "3 lines not written in 3 s: %s", s.text);
	waited = now_ms() - t0;
	cr_expect_lt(waited, 1500, "the lines took %ld ms", waited);
	stop(&s, SIGTERM, false);
	expect_lines(s.text, 1, 3);
	free(s.text);
}

/* --log-buffer 0: each line as soon as its answer is written, whatever
 * the time between flushes. */
Test(serve_log, log_buffer_0_writes_each_line_at_once)
{
	server s;
	char   want[64];

	need_tool();
	start(&s, OUT_PIPE,
	    (const char *[]) { "--log-buffer", "0", "--log-flush", "60000", NULL });
	for (int i = 0; i < 5; i++) {
		int fd = raw_tcp_client(s.port);
		snprintf(want, sizeof(want), "GET /f.txt?c=0&i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		raw_tcp_send(fd, want);
		read_answers(fd, 1);
		close(fd);
		snprintf(want, sizeof(want), "i=%d HTTP/1.1\" 200 14\n", i);
		cr_assert(output_until(&s, want, 1000, false), "line %d not written: %s",
		    i, s.text);
	}
	stop(&s, SIGTERM, false);
	expect_lines(s.text, 1, 5);
	free(s.text);
}

/* On a terminal, by default, each line at once too. */
Test(serve_log, a_terminal_gets_each_line_at_once)
{
	server s;
	char   want[64];

	need_tool();
	start(&s, OUT_TTY, (const char *[]) { "--log-flush", "60000", NULL });
	for (int i = 0; i < 3; i++) {
		int fd = raw_tcp_client(s.port);
		snprintf(want, sizeof(want), "GET /f.txt?c=0&i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		raw_tcp_send(fd, want);
		read_answers(fd, 1);
		close(fd);
		snprintf(want, sizeof(want), "i=%d HTTP/1.1\" 200 14\n", i);
		cr_assert(output_until(&s, want, 1000, false), "line %d not written: %s",
		    i, s.text);
	}
	stop(&s, SIGTERM, false);
	expect_lines(s.text, 1, 3);
	free(s.text);
}

/* A line longer than the buffer goes out whole, after those before it. */
Test(serve_log, a_line_longer_than_the_buffer_is_whole)
{
	server s;
	char   req[4096], *want;
	int    fd;

	need_tool();
	start(&s, OUT_PIPE,
	    (const char *[]) { "--log-buffer", "200", "--log-flush", "60000", NULL });
	fd = raw_tcp_client(s.port);
	raw_tcp_send(fd, "GET /f.txt?c=0&i=0 HTTP/1.1\r\nHost: x\r\n\r\n");
	read_answers(fd, 1);
	memset(req, 0, sizeof(req));
	strcpy(req, "GET /f.txt?c=0&i=1&pad=");
	memset(req + strlen(req), 'x', 3000);
	strcat(req, " HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_tcp_send(fd, req);
	read_answers(fd, 1);
	close(fd);
	stop(&s, SIGTERM, false);
	cr_assert_not_null(want = strstr(s.text, "\"GET /f.txt?c=0&i=0 HTTP/1.1\" 200 14\n"),
	    "%s", s.text);
	cr_assert_not_null(want = strstr(want, "&pad=xxx"), "%s", s.text);
	cr_assert_not_null(want = strstr(want, "xxx HTTP/1.1\" 200 14\n"), "%s", s.text);
	cr_assert_eq(strlen(want), strlen("xxx HTTP/1.1\" 200 14\n"), "%s", s.text);
	free(s.text);
}

static void
expect_usage_error(const char *const *args, const char *what)
{
	char *argv[16];
	int   n = 0, status, err[2];
	pid_t pid;
	char  msg[512] = "";

	argv[n++] = serve_path;
	for (; *args != NULL; args++) {
		argv[n++] = (char *) *args;
	}
	argv[n++] = dir;
	argv[n]   = NULL;
	cr_assert_eq(pipe2(err, O_CLOEXEC), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		dup2(err[1], STDERR_FILENO);
		execv(serve_path, argv);
		_exit(127);
	}
	close(err[1]);
	/* Whole: standard error is written in pieces. */
	for (size_t len = 0; len + 1 < sizeof(msg);) {
		ssize_t r = read(err[0], msg + len, sizeof(msg) - 1 - len);
		if (r <= 0) {
			break;
		}
		len += (size_t) r;
	}
	close(err[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s: status %#x", what,
	    status);
	cr_expect(strncmp(msg, "nghttpw-serve: --log-", 21) == 0, "%s: '%s'", what, msg);
}

Test(serve_log, bad_log_options_exit_2)
{
	need_tool();
	expect_usage_error((const char *[]) { "--log-buffer", "abc", NULL }, "abc");
	expect_usage_error((const char *[]) { "--log-buffer", "-1", NULL }, "-1");
	expect_usage_error((const char *[]) { "--log-buffer", "65m", NULL }, "65m");
	expect_usage_error((const char *[]) { "--log-buffer", "4kb", NULL }, "4kb");
	expect_usage_error((const char *[]) { "--log-flush", "0", NULL }, "flush 0");
	expect_usage_error((const char *[]) { "--log-flush", "1s", NULL }, "flush 1s");
	expect_usage_error((const char *[]) { "-q", "--log-buffer", "1k", NULL }, "-q");
}
