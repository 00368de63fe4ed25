/* The nghttpw-serve tool, run as a child process: it prints the URL it
 * serves, answers over a raw socket (GET, HEAD, keep-alive, ranges),
 * logs, stops with exit 0 on SIGINT or SIGTERM, and exits 1 when it
 * cannot listen and 2 on bad arguments.  Skipped when the build has no
 * tools (NGHTTPW_TOOLS_DIR not defined, or the program not built). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/raw_tcp.h"
#include "support/programs.h"
#include "support/run_shell.h"
#include "support/tls_certs.h"

static char serve_path[PATH_MAX];

#define HELLO "hello from nghttpw-serve\n"

static char dir[PATH_MAX];

static void setup(void);

/* The built tool; skips the test when it is not there. */
static void
need_tool(void)
{
	if (!built_tool("nghttpw-serve", serve_path, sizeof(serve_path))) {
		cr_skip_test("nghttpw-serve is not built");
	}
	setup(); /* only now: a skipped test does not run .fini */
}

static void
put(const char *rel, const char *text)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/nghttpw-serve-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	put("hello.txt", HELLO);
	put("index.html", "<h1>index</h1>\n");
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void
teardown(void)
{
	if (dir[0] != '\0') {
		(void) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
}

TestSuite(serve_tool, .fini = teardown, .timeout = 60);

/* ----------------------------------------------------- the child */

typedef struct {
	pid_t pid;
	int   out; /* its stdout */
	int   err; /* its stderr */
} child;

static child
spawn(const char *const *args)
{
	int   out[2], err[2];
	child c;
	char *argv[16];
	int   n = 0;

	argv[n++] = (char *) serve_path;
	for (; args[n - 1] != NULL; n++) {
		cr_assert_lt(n, 15);
		argv[n] = (char *) args[n - 1];
	}
	argv[n] = NULL;
	cr_assert_eq(pipe(out), 0);
	cr_assert_eq(pipe(err), 0);
	c.pid = fork();
	cr_assert_geq(c.pid, 0);
	if (c.pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		close(out[1]);
		close(err[1]);
		execv(serve_path, argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	c.out = out[0];
	c.err = err[0];
	return c;
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

/* Waits for the child to exit (at most ms); its exit status, or -1 for a
 * signal (and -2 on timeout, after killing it). */
static int
wait_exit(child *c, int ms)
{
	int status;
	for (int waited = 0; waited < ms; waited += 10) {
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid) {
			close(c->out);
			close(c->err);
			if (WIFEXITED(status)) {
				return WEXITSTATUS(status);
			}
			return -1;
		}
		usleep(10000);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	close(c->out);
	close(c->err);
	return -2;
}

/* Starts the tool on a free port; returns the port from its first line. */
static int
start_serving(child *c, const char *extra)
{
	char        line[512];
	const char *args[] = { "--listen", "http://127.0.0.1:0", dir, extra, NULL };
	int         port   = 0;

	*c = spawn(args);
	cr_assert(read_line(c->out, line, sizeof(line), 10000),
	    "no start line from the tool");
	const char *p = strstr(line, "http://127.0.0.1:");
	cr_assert_not_null(p, "start line: '%s'", line);
	port = atoi(p + strlen("http://127.0.0.1:"));
	cr_assert_gt(port, 0, "start line: '%s'", line);
	cr_expect(strstr(line, dir) != NULL, "start line names the directory: %s",
	    line);
	return port;
}

/* ------------------------------------------------- a raw client */



/* Reads one response: head (NUL-terminated, in *headp) and, unless
 * no_body, a body of Content-Length bytes (*bodyp).  Returns the status. */
static int
read_response(int fd, bool no_body, char **headp, char **bodyp, size_t *lenp)
{
	char  *head = calloc(1, 16384);
	size_t hl   = 0;

	while (hl < 4 || memcmp(head + hl - 4, "\r\n\r\n", 4) != 0) {
		cr_assert_lt(hl, 16383, "head too long");
		cr_assert_eq(recv(fd, head + hl, 1, 0), 1, "head cut short: %s", head);
		hl++;
	}
	int status = 0;
	cr_assert_eq(sscanf(head, "HTTP/1.1 %d", &status), 1, "status line: %s", head);
	size_t      len = 0;
	const char *cl  = strcasestr(head, "\r\nContent-Length:");
	if (cl != NULL) {
		len = strtoul(cl + 17, NULL, 10);
	}
	char *body = calloc(1, len + 1);
	if (!no_body) {
		for (size_t got = 0; got < len;) {
			ssize_t n = recv(fd, body + got, len - got, 0);
			cr_assert_gt(n, 0, "body cut short at %zu of %zu", got, len);
			got += (size_t) n;
		}
	}
	*headp = head;
	*bodyp = body;
	*lenp  = no_body ? 0 : len;
	return status;
}

/* ----------------------------------------------------------- tests */

Test(serve_tool, serves_then_stops_on_sigint)
{
	child  c;
	char  *head, *body;
	size_t len;
	char   line[512];
	int    port, fd;

	need_tool();
	port = start_serving(&c, NULL);

	/* Two requests on one connection, then HEAD and a range. */
	fd = raw_tcp_client(port);
	raw_tcp_send(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 200, "%s", head);
	cr_expect_str_eq(body, HELLO);
	cr_expect_not_null(strcasestr(head, "Content-Type: text/plain; charset=utf-8"));
	free(head);
	free(body);
	raw_tcp_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 200, "%s", head);
	cr_expect_str_eq(body, "<h1>index</h1>\n");
	free(head);
	free(body);
	raw_tcp_send(fd, "HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, true, &head, &body, &len), 200, "%s", head);
	cr_expect_not_null(strstr(head, "Content-Length: 25\r\n"), "%s", head);
	free(head);
	free(body);
	raw_tcp_send(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 206, "%s", head);
	cr_expect_str_eq(body, "hello");
	free(head);
	free(body);
	raw_tcp_send(fd, "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n");
	int st = read_response(fd, false, &head, &body, &len);
	cr_expect(st == 404 || st == 400, "traversal: %d", st);
	free(head);
	free(body);
	close(fd);

	/* The access log: one line per request, in Common Log Format. */
	cr_expect(read_line(c.out, line, sizeof(line), 5000), "no log line");
	cr_expect(strncmp(line, "127.0.0.1 - - [", 15) == 0, "log: %s", line);
	cr_expect_not_null(strstr(line, "] \"GET /hello.txt HTTP/1.1\" 200 25"),
	    "log: %s", line);

	cr_assert_eq(kill(c.pid, SIGINT), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGINT");
}

Test(serve_tool, sigterm_stops_it_too)
{
	child c;
	need_tool();
	(void) start_serving(&c, "--quiet");
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}

Test(serve_tool, port_in_use_exits_1)
{
	int                fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { 0 };
	socklen_t          sl = sizeof(sa);
	char               url[64], line[512];

	need_tool();
	sa.sin_family      = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 1), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));

	const char *args[] = { "--listen", url, dir, NULL };
	child       c      = spawn(args);
	cr_expect(read_line(c.err, line, sizeof(line), 10000));
	cr_expect_not_null(strstr(line, "nghttpw-serve:"), "stderr: %s", line);
	cr_expect_eq(wait_exit(&c, 20000), 1);
	close(fd);
}

static void
expect_usage_error(const char *const *args, const char *what)
{
	char  line[512];
	child c = spawn(args);
	cr_expect(read_line(c.err, line, sizeof(line), 10000), "%s: no message", what);
	cr_expect(strncmp(line, "nghttpw-serve: ", 15) == 0, "%s: '%s'", what, line);
	cr_expect_eq(wait_exit(&c, 20000), 2, "%s", what);
}

Test(serve_tool, bad_arguments_exit_2)
{
	need_tool();
	char missing[PATH_MAX + 16], file[PATH_MAX + 16];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	snprintf(file, sizeof(file), "%s/hello.txt", dir);

	expect_usage_error((const char *[]) { "--bogus", NULL }, "unknown option");
	expect_usage_error((const char *[]) { "-x", NULL }, "unknown short option");
	expect_usage_error((const char *[]) { "--listen", NULL }, "missing argument");
	expect_usage_error((const char *[]) { "--threads", "abc", dir, NULL }, "threads abc");
	expect_usage_error((const char *[]) { "--threads", "0", dir, NULL }, "threads 0");
	expect_usage_error((const char *[]) { "--listen", "ftp://127.0.0.1:0", dir, NULL },
	    "ftp URL");
	expect_usage_error((const char *[]) { "--listen", "not a url", dir, NULL },
	    "bad URL");
	expect_usage_error((const char *[]) { "--cert", file, dir, NULL }, "cert alone");
	expect_usage_error((const char *[]) { "--listen", "https://127.0.0.1:0", dir, NULL },
	    "https without cert");
	expect_usage_error((const char *[]) { "--tls-handshake-timeout", "100", dir, NULL },
	    "handshake timeout without https");
	expect_usage_error((const char *[]) { "--cert", file, "--key", file,
	                       "--tls-handshake-timeout", "0", dir, NULL },
	    "handshake timeout 0");
	expect_usage_error((const char *[]) { "--tls-ciphers", "ECDHE-RSA-AES128-GCM-SHA256",
	                       dir, NULL },
	    "ciphers without https");
	expect_usage_error((const char *[]) { "--tls-curves", "x25519", dir, NULL },
	    "curves without https");
	expect_usage_error((const char *[]) { "--hsts", "60", dir, NULL },
	    "hsts without https");
	expect_usage_error((const char *[]) { "--cert", file, "--key", file, "--hsts",
	                       "-1", dir, NULL },
	    "hsts -1");
	expect_usage_error((const char *[]) { "--cert", file, "--key", file, "--hsts",
	                       "1y", dir, NULL },
	    "hsts 1y");
	expect_usage_error((const char *[]) { "--cache-revalidate", "-5", dir, NULL },
	    "cache revalidate -5");
	expect_usage_error((const char *[]) { "--cache-entries", "many", dir, NULL },
	    "cache entries many");
	expect_usage_error((const char *[]) { "--cache-bytes", "1k", dir, NULL },
	    "cache bytes 1k");
	expect_usage_error((const char *[]) { "--cache-small", "", dir, NULL },
	    "cache small empty");
	expect_usage_error((const char *[]) { missing, NULL }, "missing dir");
	expect_usage_error((const char *[]) { file, NULL }, "file as dir");
	expect_usage_error((const char *[]) { dir, dir, NULL }, "two dirs");
}

Test(serve_tool, help_exits_0)
{
	char  line[512];
	need_tool();
	child c = spawn((const char *[]) { "--help", NULL });
	cr_expect(read_line(c.out, line, sizeof(line), 10000));
	cr_expect(strncmp(line, "usage: nghttpw-serve", 20) == 0, "%s", line);
	cr_expect_eq(wait_exit(&c, 20000), 0);
}

Test(serve_tool, lists_a_directory_without_index)
{
	child  c;
	char  *head, *body;
	size_t len;
	char   path[PATH_MAX + 16];
	int    port, fd;

	need_tool();
	snprintf(path, sizeof(path), "%s/index.html", dir);
	cr_assert_eq(unlink(path), 0);
	put(".dot", "dot\n");

	/* Listings by default, as python3 -m http.server. */
	port = start_serving(&c, "--quiet");
	fd   = raw_tcp_client(port);
	raw_tcp_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 200, "%s", head);
	cr_expect_not_null(strcasestr(head, "Content-Type: text/html; charset=utf-8"),
	    "%s", head);
	cr_expect_not_null(strstr(body, "<a href=\"hello.txt\">hello.txt</a>"), "%s",
	    body);
	cr_expect_null(strstr(body, ".dot"), "a hidden name listed: %s", body);
	cr_expect_null(strstr(body, "href=\"../\""), "%s", body);
	free(head);
	free(body);
	close(fd);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");

	/* --no-listing: 404, as the library's handler by default. */
	port = start_serving(&c, "--no-listing");
	fd   = raw_tcp_client(port);
	raw_tcp_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 404, "%s", head);
	free(head);
	free(body);
	raw_tcp_send(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 200, "%s", head);
	cr_expect_str_eq(body, HELLO);
	free(head);
	free(body);
	close(fd);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}

/* GET target on connection fd; the status, the body in *bodyp. */
static int
ask(int fd, const char *target, char **bodyp)
{
	char   req[512];
	char  *head;
	size_t len;
	int    status;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
	raw_tcp_send(fd, req);
	status = read_response(fd, false, &head, bodyp, &len);
	free(head);
	return status;
}

/* A checkout served as it is: .git and .env are not published, however
 * the dot is spelled, and not listed; /.well-known/ is; --dotfiles
 * publishes them all, and --outside-links follows a link out. */
Test(serve_tool, hidden_names_and_outside_links)
{
	static const char *const hidden[] = { "/.git/config", "/%2egit/config",
		"/%2Egit/HEAD", "/.git/", "/.env", "/sub%2f.env", "/sub/.env" };
	char  path[PATH_MAX + 16];
	char *body;
	child c;
	int   port, fd;

	need_tool();
	snprintf(path, sizeof(path), "%s/index.html", dir);
	cr_assert_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/.git", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/.well-known", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	put(".git/config", "[core]\n");
	put(".git/HEAD", "ref: refs/heads/main\n");
	put(".env", "SECRET=1\n");
	put("sub/.env", "SECRET=2\n");
	put(".well-known/security.txt", "Contact: x\n");
	snprintf(path, sizeof(path), "%s/passwd-link", dir);
	cr_assert_eq(symlink("/etc/passwd", path), 0);

	port = start_serving(&c, "--quiet");
	fd   = raw_tcp_client(port);
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		cr_expect_eq(ask(fd, hidden[i], &body), 404, "%s", hidden[i]);
		cr_expect_null(strstr(body, "SECRET"), "%s: %s", hidden[i], body);
		free(body);
	}
	cr_expect_eq(ask(fd, "/.well-known/security.txt", &body), 200);
	cr_expect_str_eq(body, "Contact: x\n");
	free(body);
	cr_expect_eq(ask(fd, "/passwd-link", &body), 404, "a link out");
	free(body);
	cr_expect_eq(ask(fd, "/", &body), 200);
	cr_expect_null(strstr(body, ".git"), "%s", body);
	cr_expect_null(strstr(body, ".env"), "%s", body);
	cr_expect_not_null(strstr(body, "href=\".well-known/\""), "%s", body);
	free(body);
	close(fd);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");

	const char *args[] = { "--listen", "http://127.0.0.1:0", "--quiet",
		"--dotfiles", "--outside-links", dir, NULL };
	char line[512];
	c = spawn(args);
	cr_assert(read_line(c.out, line, sizeof(line), 10000), "no start line");
	cr_assert_not_null(strstr(line, "http://127.0.0.1:"), "%s", line);
	port = atoi(strstr(line, "http://127.0.0.1:") + strlen("http://127.0.0.1:"));
	fd   = raw_tcp_client(port);
	cr_expect_eq(ask(fd, "/%2egit/config", &body), 200);
	cr_expect_str_eq(body, "[core]\n");
	free(body);
	cr_expect_eq(ask(fd, "/passwd-link", &body), 200);
	cr_expect_not_null(strstr(body, "root:"), "%s", body);
	free(body);
	cr_expect_eq(ask(fd, "/", &body), 200);
	cr_expect_not_null(strstr(body, "href=\".git/\""), "%s", body);
	free(body);
	close(fd);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}

/* GET /hello.txt on a new connection; its body (the caller frees). */
static char *
get_hello(int port)
{
	char  *head, *body;
	size_t len;
	int    fd = raw_tcp_client(port);

	raw_tcp_send(fd, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_expect_eq(read_response(fd, false, &head, &body, &len), 200, "%s", head);
	free(head);
	close(fd);
	return body;
}

/* The open-file cache is on by default; --cache-revalidate sets how long
 * a file may be used unchanged, and 0 turns it off. */
Test(serve_tool, cache_options)
{
	child c;
	char  path[PATH_MAX + 16], *body;
	int   port, fd;

	need_tool();
	snprintf(path, sizeof(path), "%s/hello.txt", dir);

	port = start_serving(&c, "--cache-revalidate=60000");
	body = get_hello(port);
	cr_expect_str_eq(body, HELLO);
	free(body);
	cr_assert((fd = open(path, O_WRONLY)) >= 0);
	cr_assert_eq(write(fd, "J", 1), 1); /* same size, in place */
	close(fd);
	body = get_hello(port);
	cr_expect_str_eq(body, HELLO, "kept for 60 s: %s", body);
	free(body);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");

	port = start_serving(&c, "--cache-revalidate=0");
	body = get_hello(port);
	cr_expect_eq(body[0], 'J', "%s", body);
	free(body);
	cr_assert((fd = open(path, O_WRONLY)) >= 0);
	cr_assert_eq(write(fd, "K", 1), 1);
	close(fd);
	body = get_hello(port);
	cr_expect_eq(body[0], 'K', "no cache: seen at once: %s", body);
	free(body);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}

#ifdef NGHTTPW_HAVE_TLS
/* Clients that connect and say nothing, or half a ClientHello, neither
 * delay curl nor stay past --tls-handshake-timeout. */
Test(serve_tool, https_idle_sockets_do_not_stall_curl)
{
	const tls_test_certs *certs = tls_test_certs_get();
	enum { NIDLE = 400 };
	static const unsigned char half_hello[40] = { 22, 3, 1, 2, 0, 1 };
	char        cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	char        curl[PATH_MAX], cmd[PATH_MAX * 3], line[512], out[256] = "";
	const char *p;
	int         fds[NIDLE], port;
	child       c;
	FILE       *f;
	struct timespec t0, t1;
	long        ms;

	need_tool();
	if (!program_in_path("curl", curl, sizeof(curl))) {
		cr_skip_test("curl is not installed");
	}
	cr_assert_not_null(certs);
	cr_assert_eq(tls_test_write_file(dir, "cert.pem", certs->server_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(dir, "key.pem", certs->server_key, NULL), 0);
	cr_assert_eq(tls_test_write_file(dir, "ca.pem", certs->ca_cert, NULL), 0);
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	c = spawn((const char *[]) { "--listen", "https://127.0.0.1:0", "--cert", cert,
	    "--key", key, "--tls-handshake-timeout", "1500", "-q", dir, NULL });
	cr_assert(read_line(c.out, line, sizeof(line), 10000), "no start line");
	cr_assert_not_null(p = strstr(line, "https://127.0.0.1:"), "%s", line);
	port = atoi(p + strlen("https://127.0.0.1:"));

	for (int i = 0; i < NIDLE; i++) {
		fds[i] = raw_tcp_client(port);
		if (i % 2 == 1) {
			raw_tcp_send(fds[i], (const char *) half_hello);
			cr_assert_eq(send(fds[i], half_hello + 6, sizeof(half_hello) - 6,
			                 MSG_NOSIGNAL),
			    (ssize_t) sizeof(half_hello) - 6);
		}
	}
	usleep(200 * 1000); /* taken in by the server */
	snprintf(cmd, sizeof(cmd), "%s -sS --max-time 5 --cacert %s https://127.0.0.1:%d/hello.txt",
	    curl, ca, port);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_not_null(f = popen(cmd, "r"));
	(void) fread(out, 1, sizeof(out) - 1, f);
	cr_assert_eq(pclose(f), 0, "curl failed behind %d idle sockets", NIDLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_expect_str_eq(out, HELLO);
	cr_expect_lt(ms, 1000, "curl took %ld ms behind %d idle sockets", ms, NIDLE);

	/* Past the timeout every idle socket has been closed. */
	for (int i = 0; i < NIDLE; i++) {
		struct pollfd pfd = { fds[i], POLLIN, 0 };
		char          b;
		cr_assert_eq(poll(&pfd, 1, 5000), 1, "socket %d still open", i);
		cr_assert_leq(recv(fds[i], &b, 1, 0), 0, "socket %d got data", i);
		close(fds[i]);
	}
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}

/* The test certificate, key and CA in dir; their paths. */
static void
write_certs(char *cert, char *key, char *ca, size_t cap)
{
	const tls_test_certs *certs = tls_test_certs_get();

	cr_assert_not_null(certs);
	cr_assert_eq(tls_test_write_file(dir, "cert.pem", certs->server_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(dir, "key.pem", certs->server_key, NULL), 0);
	cr_assert_eq(tls_test_write_file(dir, "ca.pem", certs->ca_cert, NULL), 0);
	snprintf(cert, cap, "%s/cert.pem", dir);
	snprintf(key, cap, "%s/key.pem", dir);
	snprintf(ca, cap, "%s/ca.pem", dir);
}

/* Starts the tool on https with the extra arguments (NULL-ended, at most
 * 8); returns its port. */
static int
start_https(child *c, const char *cert, const char *key, const char *const *extra)
{
	const char *args[16] = { "--listen", "https://127.0.0.1:0", "--cert", cert,
		"--key", key, "-q" };
	int         n        = 7;
	char        line[512];
	const char *p;

	for (; *extra != NULL; extra++) {
		args[n++] = *extra;
	}
	args[n++] = dir;
	args[n]   = NULL;
	*c        = spawn(args);
	cr_assert(read_line(c->out, line, sizeof(line), 10000), "no start line");
	cr_assert_not_null(p = strstr(line, "https://127.0.0.1:"), "%s", line);
	return atoi(p + strlen("https://127.0.0.1:"));
}

/* curl over https: ALPN gives http/1.1; --hsts adds the field to every
 * answer (an error too); --tls-ciphers limits the suites. */
Test(serve_tool, https_alpn_hsts_and_ciphers)
{
	char  cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	char  curl[PATH_MAX], cmd[PATH_MAX * 3], out[16384];
	child c;
	int   port;

	need_tool();
	if (!program_in_path("curl", curl, sizeof(curl))) {
		cr_skip_test("curl is not installed");
	}
	write_certs(cert, key, ca, sizeof(cert));
	port = start_https(&c, cert, key,
	    (const char *[]) { "--hsts", "31536000", "--tls-ciphers",
	        "ECDHE-ECDSA-AES256-GCM-SHA384:TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	        NULL });
	snprintf(cmd, sizeof(cmd),
	    "%s -sS -v --http1.1 --max-time 10 --cacert %s https://127.0.0.1:%d/hello.txt "
	    "https://127.0.0.1:%d/none 2>&1",
	    curl, ca, port, port);
	cr_assert_eq(run_shell(out, sizeof(out), "%s", cmd), 0, "%s", out);
	cr_expect_not_null(strstr(out, "ALPN: server accepted http/1.1"), "%s", out);
	cr_expect_not_null(strstr(out, "TLSv1.2 / ECDHE-ECDSA-AES256-GCM-SHA384"), "%s", out);
	cr_expect_not_null(strstr(out, "< HTTP/1.1 200"), "%s", out);
	cr_expect_not_null(strstr(out, "< HTTP/1.1 404"), "%s", out);
	{
		/* Once per answer: the file and the 404 page. */
		const char *p = out;
		int         n = 0;
		while ((p = strstr(p, "< Strict-Transport-Security: max-age=31536000\r\n")) != NULL) {
			n++;
			p++;
		}
		cr_expect_eq(n, 2, "%d fields in\n%s", n, out);
	}
	/* A suite not in the list is refused. */
	snprintf(cmd, sizeof(cmd),
	    "%s -sS --max-time 10 --cacert %s --ciphers ECDHE-ECDSA-AES128-GCM-SHA256 "
	    "--tls-max 1.2 https://127.0.0.1:%d/hello.txt 2>&1",
	    curl, ca, port);
	cr_expect_neq(run_shell(out, sizeof(out), "%s", cmd), 0, "%s", out);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");

	/* Without --hsts, no field. */
	port = start_https(&c, cert, key, (const char *[]) { NULL });
	snprintf(cmd, sizeof(cmd),
	    "%s -sS -v --http1.1 --max-time 10 --cacert %s https://127.0.0.1:%d/hello.txt 2>&1",
	    curl, ca, port);
	cr_assert_eq(run_shell(out, sizeof(out), "%s", cmd), 0, "%s", out);
	cr_expect_not_null(strstr(out, "ALPN: server accepted http/1.1"), "%s", out);
	cr_expect_null(strcasestr(out, "Strict-Transport-Security"), "%s", out);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}

/* --tls-curves: the server's order wins; a bad name is a usage error. */
Test(serve_tool, https_curves)
{
	char  cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	char  openssl[PATH_MAX], cmd[PATH_MAX * 3], out[16384];
	child c;
	int   port;

	need_tool();
	if (!program_in_path("openssl", openssl, sizeof(openssl))) {
		cr_skip_test("openssl is not installed");
	}
	write_certs(cert, key, ca, sizeof(cert));
	expect_usage_error((const char *[]) { "--listen", "https://127.0.0.1:0", "--cert",
	                       cert, "--key", key, "--tls-curves", "x25519:p999", dir,
	                       NULL },
	    "unknown curve");
	expect_usage_error((const char *[]) { "--listen", "https://127.0.0.1:0", "--cert",
	                       cert, "--key", key, "--tls-ciphers", "AES128-NOPE", dir,
	                       NULL },
	    "unknown suite");
	port = start_https(&c, cert, key,
	    (const char *[]) { "--tls-curves", "p384:p256", NULL });
	snprintf(cmd, sizeof(cmd),
	    "timeout 20 %s s_client -connect 127.0.0.1:%d -tls1_2 -brief "
	    "-curves X25519:P-256:P-384 </dev/null 2>&1",
	    openssl, port);
	cr_assert_eq(run_shell(out, sizeof(out), "%s", cmd), 0, "%s", out);
	cr_expect_not_null(strstr(out, "Server Temp Key: ECDH, secp384r1"), "%s", out);
	cr_assert_eq(kill(c.pid, SIGTERM), 0);
	cr_expect_eq(wait_exit(&c, 20000), 0, "exit status after SIGTERM");
}
#endif
