/* The nghttpw-ws tool, run as child processes on loopback: its echo and
 * broadcast servers, its client's text, hex and -o output, what it
 * prints and how it exits when a server closes (a server of the
 * library's, in this process), usage errors; and nghttpw-serve's
 * --ws-echo endpoint beside the files it serves.  Skipped when the build
 * has no tools (NGHTTPW_TOOLS_DIR not defined, or the programs not
 * built).  Every child is killed and reaped at the end of its test (and
 * dies with the test process, should that be killed first). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/programs.h"
#include "support/ws_util.h"

#define WAIT_MS 10000 /* for any one line or exit */

static char ws_path[PATH_MAX];
static char serve_path[PATH_MAX];
static char tmp_dir[PATH_MAX];

/* ----------------------------------------------------- children */

typedef struct {
	pid_t pid; /* 0 once reaped */
	int   in;  /* its stdin, -1 once closed */
	int   out; /* its stdout */
	int   err; /* its stderr */
} child;

/* Every child of the test, here so that the end finds them all. */
static child kids[32];
static int   nkids;

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Starts path with args (NULL-terminated). */
static child *
spawn(const char *path, const char *const *args)
{
	int    in[2], out[2], err[2];
	char  *argv[24];
	int    n = 0;
	child *c;

	argv[n++] = (char *) path;
	for (; args[n - 1] != NULL; n++) {
		cr_assert_lt(n, 23);
		argv[n] = (char *) args[n - 1];
	}
	argv[n] = NULL;
	cr_assert_lt(nkids, (int) (sizeof(kids) / sizeof(kids[0])));
	c = &kids[nkids++];
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		/* A test killed on its timeout takes its children along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		execv(path, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	c->in  = in[1];
	c->out = out[0];
	c->err = err[0];
	/* A write to a child that has gone fails, and does not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return c;
}

/* Writes len bytes to the child's input. */
static void
put_n(child *c, const char *text, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(c->in, text + off, len - off);
		cr_assert_gt(n, 0, "write to the child: %s", strerror(errno));
		off += (size_t) n;
	}
}

static void
put(child *c, const char *text)
{
	put_n(c, text, strlen(text));
}

/* Reads one line (without its newline) within ms; false on timeout or
 * end of file. */
static bool
read_line(int fd, char *buf, size_t cap, int ms)
{
	size_t len = 0;
	while (len + 1 < cap) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, ms) <= 0) {
			break;
		}
		char ch;
		if (read(fd, &ch, 1) != 1) {
			break;
		}
		if (ch == '\n') {
			buf[len] = '\0';
			return true;
		}
		buf[len++] = ch;
	}
	buf[len] = '\0';
	return false;
}

static void
expect_line(int fd, const char *want, const char *who)
{
	char line[4096];
	cr_expect(read_line(fd, line, sizeof(line), WAIT_MS), "%s: no line (wanted '%s')",
	    who, want);
	cr_expect_str_eq(line, want, "%s: '%s', wanted '%s'", who, line, want);
}

/* Waits for the child to exit (at most ms); its exit status, or -1 for a
 * signal (and -2 on timeout, after killing it). */
static int
wait_exit(child *c, int ms)
{
	int status;
	int rv = -2;

	for (int waited = 0; waited < ms; waited += 10) {
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			rv = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
		usleep(10000);
	}
	if (rv == -2) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, &status, 0);
	}
	c->pid = 0;
	close_fd(&c->in);
	close_fd(&c->out);
	close_fd(&c->err);
	return rv;
}

/* Expects the child to exit with want within ms; if it does not, says
 * how it ended, with what was left on its standard error (a sanitizer's
 * report, say). */
static void
expect_exit(child *c, int want, int ms, const char *who)
{
	char   rest[4096];
	size_t n   = 0;
	int    got;

	/* Until its end of file: the child has exited (or ms passed). */
	for (struct pollfd p = { c->err, POLLIN, 0 }; n + 1 < sizeof(rest) && poll(&p, 1, ms) > 0;) {
		ssize_t r = read(c->err, rest + n, sizeof(rest) - 1 - n);
		if (r <= 0) {
			break;
		}
		n += (size_t) r;
	}
	rest[n] = '\0';
	got     = wait_exit(c, ms);
	cr_expect_eq(got, want, "%s: exit status %d, not %d (-1: a signal, -2: still "
	                        "running); the rest of its stderr: %s",
	    who, got, want, rest);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* The end of every test: children killed and reaped, files removed. */
static void
stop_kids(void)
{
	for (int i = 0; i < nkids; i++) {
		if (kids[i].pid > 0) {
			kill(kids[i].pid, SIGKILL);
			(void) wait_exit(&kids[i], 10000);
		}
	}
	nkids = 0;
	if (tmp_dir[0] != '\0') {
		(void) nftw(tmp_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
}

TestSuite(ws_tool, .fini = stop_kids, .timeout = 60);

/* The built tools; skips the test when they are not there. */
static void
need_tools(void)
{
	if (!built_tool("nghttpw-ws", ws_path, sizeof(ws_path)) ||
	    !built_tool("nghttpw-serve", serve_path, sizeof(serve_path))) {
		cr_skip_test("nghttpw-ws or nghttpw-serve is not built");
	}
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/nghttpw-ws-tool-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp_dir));
}

/* Starts "nghttpw-ws --listen ws://127.0.0.1:0<path> extra..." and
 * returns the port from its first line. */
static int
start_server(child **cp, const char *path, const char *const *extra)
{
	char        url[64], line[512], want[128];
	const char *args[16] = { "--listen", url };
	int         n = 2, port;
	child      *c;

	snprintf(url, sizeof(url), "ws://127.0.0.1:0%s", path);
	for (; extra != NULL && *extra != NULL; extra++) {
		args[n++] = *extra;
	}
	args[n] = NULL;
	c   = spawn(ws_path, args);
	*cp = c;
	cr_assert(read_line(c->out, line, sizeof(line), WAIT_MS), "no line from the server");
	cr_assert_eq(sscanf(line, "listening on ws://127.0.0.1:%d", &port), 1,
	    "first line: '%s'", line);
	cr_assert(port > 0 && port < 65536, "%s", line);
	snprintf(want, sizeof(want), "listening on ws://127.0.0.1:%d%s", port, path);
	cr_assert_str_eq(line, want);
	return port;
}

/* Starts the client on ws://127.0.0.1:port<path>, options first. */
static child *
start_client(int port, const char *path, const char *const *opts)
{
	char        url[64];
	const char *args[16];
	int         n = 0;

	for (; opts != NULL && *opts != NULL; opts++) {
		args[n++] = *opts;
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d%s", port, path);
	args[n++] = url;
	args[n]   = NULL;
	return spawn(ws_path, args);
}

/* Ends the input: the client closes with 1000 and exits 0, saying
 * nothing on standard error. */
static void
end_client(child *c)
{
	char line[512];

	close_fd(&c->in);
	cr_expect_not(read_line(c->err, line, sizeof(line), WAIT_MS),
	    "client stderr: '%s'", line);
	cr_expect_str_empty(line, "client stderr: '%s'", line);
	expect_exit(c, 0, WAIT_MS, "client");
}

/* SIGTERM: the server closes what is open and exits 0. */
static void
stop_server(child *c)
{
	cr_assert_eq(kill(c->pid, SIGTERM), 0);
	expect_exit(c, 0, 20000, "server after SIGTERM");
}

/* ----------------------------------------------------------- tests */

Test(ws_tool, echoes_text_lines_including_utf8_and_empty)
{
	child *srv, *cli;
	int    port;

	need_tools();
	port = start_server(&srv, "/echo", NULL);
	cli = start_client(port, "/echo", NULL);
	put(cli, "hello\n");
	expect_line(cli->out, "hello", "client");
	put(cli, "w\xc3\xb6rld\n\n");
	expect_line(cli->out, "w\xc3\xb6rld", "client");
	expect_line(cli->out, "", "client");
	end_client(cli);

	/* A line that is not UTF-8 cannot be a text message: it is skipped,
	 * with a word on standard error, and the session goes on. */
	cli = start_client(port, "/echo", NULL);
	put(cli, "\xc3\x28\nafter\n");
	{
		char line[256];
		cr_assert(read_line(cli->err, line, sizeof(line), WAIT_MS), "no warning");
		cr_assert_not_null(strstr(line, "line 1 is not UTF-8"), "%s", line);
	}
	expect_line(cli->out, "after", "client");
	end_client(cli);

	/* The server goes on with the next client. */
	cli = start_client(port, "/echo", NULL);
	put(cli, "again\n");
	expect_line(cli->out, "again", "second client");
	end_client(cli);
	stop_server(srv);
}

Test(ws_tool, binary_messages_print_as_hex)
{
	child *srv, *cli;
	int    port;

	need_tools();
	port = start_server(&srv, "/bin", NULL);
	cli = start_client(port, "/bin", (const char *[]) { "--binary", NULL });
	put(cli, "abc\n");
	expect_line(cli->out, "616263", "client");
	put_n(cli, "\x01\x00\xff\xfe\n", 5);
	expect_line(cli->out, "0100fffe", "client");
	put(cli, "\n"); /* empty, and binary still */
	expect_line(cli->out, "", "client");
	put(cli, "z\n");
	expect_line(cli->out, "7a", "client");
	end_client(cli);
	stop_server(srv);
}

Test(ws_tool, output_file_gets_binary_messages_raw)
{
	child      *srv, *cli;
	char        file[PATH_MAX + 16];
	struct stat st = { 0 };
	int         port;

	need_tools();
	snprintf(file, sizeof(file), "%s/out.bin", tmp_dir);
	port = start_server(&srv, "/o", NULL);
	cli = start_client(port, "/o",
	    (const char *[]) { "-b", "-o", file, NULL });
	put_n(cli, "xyz\n\x00\x01\n", 7);
	/* Nothing on stdout tells when they are back: the file does. */
	for (int ms = 0; ms < WAIT_MS && (stat(file, &st) != 0 || st.st_size < 5); ms += 20) {
		usleep(20000);
	}
	cr_expect_eq(st.st_size, 5, "the file has %lld bytes", (long long) st.st_size);
	end_client(cli);

	FILE *f = fopen(file, "rb");
	char  got[16];
	cr_assert_not_null(f);
	cr_expect_eq(fread(got, 1, sizeof(got), f), 5);
	fclose(f);
	cr_expect_eq(memcmp(got, "xyz\x00\x01", 5), 0);
	stop_server(srv);
}

/* A server of the library's: accepts one client and closes it with code
 * and reason; the client says so and exits with want. */
static void
server_closes_with(uint16_t code, const char *reason, const char *said, int want)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *s;
	nghttpw_aio             *aio;
	child                   *cli;
	int                      port;

	need_tools();
	cr_assert_eq(ws_listen("/bye", &l, &port), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_listener_accept(l, aio);
	cli = start_client(port, "/bye", NULL);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "accept: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	s = nghttpw_aio_get_output(aio, 0);

	/* A message first: the client is up and printing. */
	cr_assert_eq(ws_send(s, NGHTTPW_WS_TEXT, "hi", 2), 0);
	expect_line(cli->out, "hi", "client");
	nghttpw_ws_close(s, code, reason, aio);
	nghttpw_aio_wait(aio);
	cr_expect_eq(nghttpw_aio_result(aio), 0, "close: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	/* Its input still open: it is the server's close that ends it. */
	expect_line(cli->err, said, "client stderr");
	expect_exit(cli, want, WAIT_MS, "client");

	nghttpw_stream_free(s);
	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
}

Test(ws_tool, end_of_input_sends_the_last_line_and_closes_with_1000)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *s;
	nghttpw_aio             *aio;
	child                   *cli;
	char                     buf[64];
	char                    *hv = NULL;
	size_t                   len;
	unsigned                 flags;
	int                      port, code = 0;

	need_tools();
	cr_assert_eq(ws_listen("/in", &l, &port), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_listener_accept(l, aio);
	cli = start_client(port, "/in", (const char *[]) { "-H", "X-Test: yes", NULL });
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s = nghttpw_aio_get_output(aio, 0);
	cr_expect_eq(nghttpw_stream_get_string(s, NGHTTPW_OPT_WS_REQUEST_HEADER "X-Test", &hv),
	    0, "the -H header");
	cr_expect(hv != NULL && strcmp(hv, "yes") == 0, "X-Test: %s", hv ? hv : "(none)");
	nghttpw_strfree(hv);

	put(cli, "one\ntail"); /* the last line has no newline */
	close_fd(&cli->in);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 3 && memcmp(buf, "one", 3) == 0 && flags == NGHTTPW_WS_TEXT);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 4 && memcmp(buf, "tail", 4) == 0);
	cr_expect_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), NGHTTPW_ECLOSED);
	cr_expect_eq(nghttpw_stream_get_int(s, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_expect_eq(code, 1000);
	end_client(cli);

	nghttpw_stream_free(s);
	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
}

Test(ws_tool, a_close_with_4000_is_reported_and_exits_1)
{
	server_closes_with(4000, "bye", "closed 4000 bye", 1);
}

Test(ws_tool, a_close_with_1000_exits_0)
{
	server_closes_with(1000, "done", "closed 1000 done", 0);
}

Test(ws_tool, broadcast_reaches_every_client)
{
	child *srv, *a, *b;
	int    port;

	need_tools();
	port = start_server(&srv, "/chat", (const char *[]) { "--broadcast", NULL });
	/* Each hears itself: then it is connected. */
	a = start_client(port, "/chat", NULL);
	put(a, "a is here\n");
	expect_line(a->out, "a is here", "a");
	b = start_client(port, "/chat", NULL);
	put(b, "b is here\n");
	expect_line(b->out, "b is here", "b");
	expect_line(a->out, "b is here", "a");

	put(a, "hello from a\n");
	expect_line(a->out, "hello from a", "a");
	expect_line(b->out, "hello from a", "b");
	put(b, "hello from b\n");
	expect_line(a->out, "hello from b", "a");
	expect_line(b->out, "hello from b", "b");

	/* SIGTERM with both connected: both are closed with 1001, which
	 * is a normal end for them. */
	stop_server(srv);
	expect_line(a->err, "closed 1001", "a stderr");
	expect_line(b->err, "closed 1001", "b stderr");
	expect_exit(a, 0, WAIT_MS, "a");
	expect_exit(b, 0, WAIT_MS, "b");
}

Test(ws_tool, max_size_is_enforced_with_1009)
{
	child *srv, *cli;
	int    port;

	need_tools();
	port = start_server(&srv, "/small", (const char *[]) { "--max-size", "8", NULL });
	cli = start_client(port, "/small", NULL);
	put(cli, "12345678\n");
	expect_line(cli->out, "12345678", "client");
	put(cli, "123456789\n");
	expect_line(cli->err, "closed 1009", "client stderr");
	expect_exit(cli, 1, WAIT_MS, "client");
	stop_server(srv);
}

Test(ws_tool, cannot_connect_exits_1)
{
	child *srv, *cli;
	char   line[512];
	int    port;

	need_tools();
	/* A port that was just free. */
	port = start_server(&srv, "/gone", NULL);
	stop_server(srv);
	cli = start_client(port, "/gone", NULL);
	cr_expect(read_line(cli->err, line, sizeof(line), WAIT_MS));
	cr_expect(strncmp(line, "nghttpw-ws: cannot connect", 26) == 0, "%s", line);
	expect_exit(cli, 1, WAIT_MS, "client");
}

static void
expect_usage_error(const char *const *args, const char *what)
{
	char   line[512];
	child *c;

	c = spawn(ws_path, args);
	cr_expect(read_line(c->err, line, sizeof(line), WAIT_MS), "%s: no message", what);
	cr_expect(strncmp(line, "nghttpw-ws: ", 12) == 0, "%s: '%s'", what, line);
	expect_exit(c, 2, WAIT_MS, what);
}

Test(ws_tool, bad_arguments_exit_2_and_help_0)
{
	char   line[512];
	child *c;

	need_tools();
	expect_usage_error((const char *[]) { NULL }, "no URL");
	expect_usage_error((const char *[]) { "--bogus", "ws://127.0.0.1:1/", NULL },
	    "unknown option");
	expect_usage_error((const char *[]) { "http://127.0.0.1:1/", NULL }, "http URL");
	expect_usage_error((const char *[]) { "-H", "nocolon", "ws://127.0.0.1:1/", NULL },
	    "bad header");
	expect_usage_error((const char *[]) { "--max-size", "0", "ws://127.0.0.1:1/", NULL },
	    "max-size 0");
	expect_usage_error((const char *[]) { "--broadcast", "ws://127.0.0.1:1/", NULL },
	    "broadcast without listen");
	expect_usage_error(
	    (const char *[]) { "--listen", "ws://127.0.0.1:0/", "--binary", NULL },
	    "binary with listen");
	expect_usage_error((const char *[]) { "--listen", "wss://127.0.0.1:0/", NULL },
	    "wss without cert");

	c = spawn(ws_path, (const char *[]) { "--help", NULL });
	cr_expect(read_line(c->out, line, sizeof(line), WAIT_MS));
	cr_expect(strncmp(line, "usage: nghttpw-ws", 17) == 0, "%s", line);
	expect_exit(c, 0, WAIT_MS, "--help");
}

/* ---------------------------------------------------- --deflate */

/* A dialer of ws://127.0.0.1:port<path>, with permessage-deflate offered
 * when deflate; connected: the stream, and whether deflate was agreed. */
static nghttpw_stream *
dial_deflate(int port, const char *path, bool deflate, bool *agreed)
{
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	nghttpw_stream        *s;
	char                   url[64];

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d%s", port, path);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_WS_DEFLATE, deflate), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "dial %s: %s", url,
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	s = nghttpw_aio_get_output(aio, 0);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	*agreed = !deflate; /* so that a get that fails is seen */
	cr_assert_eq(nghttpw_stream_get_bool(s, NGHTTPW_OPT_WS_DEFLATE, agreed), 0);
	return s;
}

/* A line of n bytes, compressible: JSON-like records. */
static char *
long_line(size_t n)
{
	char  *p = malloc(n + 2);
	size_t len = 0;

	cr_assert_not_null(p);
	for (unsigned i = 0; len < n; i++) {
		char rec[64];
		int  k = snprintf(rec, sizeof(rec), "{\"seq\":%u,\"ok\":true},", i);
		memcpy(p + len, rec, (size_t) k < n - len ? (size_t) k : n - len);
		len += (size_t) k < n - len ? (size_t) k : n - len;
	}
	p[n]     = '\n';
	p[n + 1] = '\0';
	return p;
}

Test(ws_tool, deflate_is_accepted_by_listen_and_offered_by_the_client)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *s;
	nghttpw_aio             *aio;
	child                   *srv, *plain, *cli;
	char                    *line = long_line(3000), buf[4000];
	size_t                   len;
	unsigned                 flags;
	bool                     on;
	int                      port, plain_port;

	need_tools();
	/* --listen --deflate accepts our offer, and echoes a long line (sent
	 * and echoed compressed) and a short one (under the threshold). */
	port = start_server(&srv, "/z", (const char *[]) { "--deflate", NULL });
	s    = dial_deflate(port, "/z", true, &on);
	cr_expect(on, "nghttpw-ws --listen --deflate did not accept permessage-deflate");
	cr_assert_eq(ws_send(s, NGHTTPW_WS_TEXT, line, 3000), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 3000 && memcmp(buf, line, 3000) == 0 && flags == NGHTTPW_WS_TEXT);
	cr_assert_eq(ws_send(s, NGHTTPW_WS_BINARY, "hi", 2), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 2 && memcmp(buf, "hi", 2) == 0 && flags == NGHTTPW_WS_BINARY);
	nghttpw_stream_free(s);

	/* Without --deflate, the offer is declined: no compression. */
	plain_port = start_server(&plain, "/p", NULL);
	s          = dial_deflate(plain_port, "/p", true, &on);
	cr_expect_not(on, "nghttpw-ws --listen without --deflate accepted permessage-deflate");
	nghttpw_stream_free(s);
	stop_server(plain);

	/* The client with --deflate against it: the long line comes back. */
	cli = start_client(port, "/z", (const char *[]) { "--deflate", NULL });
	put(cli, line);
	line[3000] = '\0';
	expect_line(cli->out, line, "client");
	put(cli, "short\n");
	expect_line(cli->out, "short", "client");
	end_client(cli);
	stop_server(srv);

	/* The client with --deflate offers it to a listener of the
	 * library's; without --deflate it does not. */
	cr_assert_eq(ws_listen("/lib", &l, &port), 0);
	cr_assert_eq(nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_WS_DEFLATE, true), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (int offer = 1; offer >= 0; offer--) {
		nghttpw_aio_set_timeout(aio, WAIT_MS);
		nghttpw_stream_listener_accept(l, aio);
		cli = start_client(port, "/lib",
		    offer ? (const char *[]) { "--deflate", NULL } : NULL);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0, "accept: %s",
		    nghttpw_strerror(nghttpw_aio_result(aio)));
		s  = nghttpw_aio_get_output(aio, 0);
		on = !offer;
		cr_assert_eq(nghttpw_stream_get_bool(s, NGHTTPW_OPT_WS_DEFLATE, &on), 0);
		cr_expect_eq(on, offer, "nghttpw-ws %s: deflate %s", offer ? "--deflate" : "",
		    on ? "agreed" : "not agreed");
		/* Both ways, long enough to be compressed when agreed. */
		cr_assert_eq(ws_send(s, NGHTTPW_WS_TEXT, line, 3000), 0);
		expect_line(cli->out, line, "client");
		line[3000] = '\n';
		put_n(cli, line, 3001);
		line[3000] = '\0';
		cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
		cr_expect(len == 3000 && memcmp(buf, line, 3000) == 0 && flags == NGHTTPW_WS_TEXT);
		end_client(cli);
		cr_expect_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), NGHTTPW_ECLOSED);
		nghttpw_stream_free(s);
	}
	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
	free(line);
}

/* --max-size counts a message as it is once inflated: a line of 4000
 * bytes that compresses to a few dozen is still too large for a server
 * of 2K, which closes with 1009 (and the client says so). */
Test(ws_tool, deflate_max_size_counts_the_inflated_message)
{
	child *srv, *cli;
	char  *line = long_line(4000);
	int    port;

	need_tools();
	port = start_server(&srv, "/small", (const char *[]) { "--deflate", "--max-size", "2K", NULL });
	cli  = start_client(port, "/small", (const char *[]) { "--deflate", NULL });
	put(cli, "fits\n");
	expect_line(cli->out, "fits", "client");
	put(cli, line);
	expect_line(cli->err, "closed 1009", "client stderr");
	expect_exit(cli, 1, WAIT_MS, "client");
	stop_server(srv);
	free(line);
}

/* ------------------------------------------- nghttpw-serve --ws-echo */

/* GET path over a raw socket: the status, the body in body. */
static int
http_get(int port, const char *path, char *body, size_t cap)
{
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { 0 };
	struct timeval     tv = { 10, 0 };
	char               req[256], resp[8192];
	size_t             len = 0;
	ssize_t            n;
	int                status = 0;

	cr_assert_geq(fd, 0);
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	    "connect: %s", strerror(errno));
	n = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	cr_assert_eq(send(fd, req, (size_t) n, MSG_NOSIGNAL), n);
	while (len < sizeof(resp) - 1 && (n = recv(fd, resp + len, sizeof(resp) - 1 - len, 0)) > 0) {
		len += (size_t) n;
	}
	close(fd);
	resp[len] = '\0';
	cr_assert_eq(sscanf(resp, "HTTP/1.1 %d", &status), 1, "response: %s", resp);
	const char *b = strstr(resp, "\r\n\r\n");
	snprintf(body, cap, "%s", b != NULL ? b + 4 : "");
	return status;
}

Test(ws_tool, serve_ws_echo_shares_the_port_with_the_files)
{
	child                 *srv, *cli;
	char                   line[512], body[512], url[128], file[PATH_MAX + 16];
	nghttpw_stream        *s, *s2;
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	uint8_t                buf[64];
	size_t                 len;
	unsigned               flags;
	int                    port = 0, code = 0;
	FILE                  *f;

	need_tools();
	snprintf(file, sizeof(file), "%s/hello.txt", tmp_dir);
	cr_assert_not_null(f = fopen(file, "w"));
	fputs("hello, files\n", f);
	fclose(f);
	srv = spawn(serve_path,
	    (const char *[]) { "--listen", "http://127.0.0.1:0", "--ws-echo", "/ws",
	        "--quiet", tmp_dir, NULL });
	cr_assert(read_line(srv->out, line, sizeof(line), WAIT_MS), "no start line");
	const char *p = strstr(line, "http://127.0.0.1:");
	cr_assert_not_null(p, "start line: '%s'", line);
	port = atoi(p + strlen("http://127.0.0.1:"));
	cr_assert_gt(port, 0, "start line: '%s'", line);

	/* Files, on the port printed. */
	cr_expect_eq(http_get(port, "/hello.txt", body, sizeof(body)), 200);
	cr_expect_str_eq(body, "hello, files\n");

	/* The echo, on the same port, with the library's client: text stays
	 * text, binary binary, empty messages too. */
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "dial %s: %s", url,
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	s = nghttpw_aio_get_output(aio, 0);
	cr_assert_eq(ws_send(s, NGHTTPW_WS_TEXT, "ping", 4), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 4 && memcmp(buf, "ping", 4) == 0 && flags == NGHTTPW_WS_TEXT);
	cr_assert_eq(ws_send(s, NGHTTPW_WS_BINARY, "\x00\x01\x02", 3), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 3 && memcmp(buf, "\x00\x01\x02", 3) == 0 &&
	    flags == NGHTTPW_WS_BINARY);
	cr_assert_eq(ws_send(s, NGHTTPW_WS_BINARY, "", 0), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_expect(len == 0 && flags == NGHTTPW_WS_BINARY);

	/* And the tool as a client of it; files still served meanwhile. */
	cli = start_client(port, "/ws", NULL);
	put(cli, "via nghttpw-ws\n");
	expect_line(cli->out, "via nghttpw-ws", "client");
	cr_expect_eq(http_get(port, "/hello.txt", body, sizeof(body)), 200);
	end_client(cli);

	/* A second WebSocket, left open: SIGTERM closes both with 1001.
	 * (An echo first: the server has accepted it.  One whose handshake
	 * is still being finished when the listener closes is closed by
	 * the library, with 1000.) */
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s2 = nghttpw_aio_get_output(aio, 0);
	cr_assert_eq(ws_send(s2, NGHTTPW_WS_TEXT, "2", 1), 0);
	cr_assert_eq(ws_recv(s2, buf, sizeof(buf), &len, &flags, WAIT_MS), 0);
	cr_assert_eq(kill(srv->pid, SIGTERM), 0);
	cr_expect_eq(ws_recv(s, buf, sizeof(buf), &len, &flags, WAIT_MS), NGHTTPW_ECLOSED);
	cr_expect_eq(nghttpw_stream_get_int(s, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_expect_eq(code, 1001, "the first one's close code: %d", code);
	cr_expect_eq(ws_recv(s2, buf, sizeof(buf), &len, &flags, WAIT_MS), NGHTTPW_ECLOSED);
	cr_expect_eq(nghttpw_stream_get_int(s2, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_expect_eq(code, 1001, "the second one's close code: %d", code);
	expect_exit(srv, 0, 20000, "nghttpw-serve after SIGTERM");

	nghttpw_stream_free(s);
	nghttpw_stream_free(s2);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
}
