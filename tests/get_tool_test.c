/* nghttpw-get, run as a child process against python3's http.server on
 * 127.0.0.1 (a port the kernel picks, files in a temporary directory):
 * byte-exact downloads, -o, -I, --fail, -L, refused connections and bad
 * arguments; and against canned servers of its own, which credentials a
 * redirect carries.  Through tinyproxy: -x, --noproxy and the
 * environment's proxy variables.  Skipped when the tool or python3 is missing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nghttpw/nghttpw.h"
#include "support/pairs.h"
#include "support/programs.h"
#include "support/tinyproxy.h"
#include "support/tmp_dir.h"

#define BIG_SIZE 1000000
#define INDEX_HTML "<html><body>the index</body></html>\n"

static char tool[PATH_MAX];

/* The built tool. */
static bool
find_tool(void)
{
	return (built_tool("nghttpw-get", tool, sizeof(tool)));
}

/* ------------------------------------------------------ python server */

typedef struct {
	char  dir[64];
	pid_t pid;
	int   port;
	char  base[64]; /* http://127.0.0.1:PORT */
} pyserver;

static void
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static char *
read_file(const char *path, size_t *lenp)
{
	FILE  *f = fopen(path, "rb");
	char  *buf;
	size_t cap = 4096, len = 0, n;

	if (f == NULL) {
		return (NULL);
	}
	buf = malloc(cap + 1);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
	}
	fclose(f);
	buf[len] = '\0';
	*lenp    = len;
	return (buf);
}

/* Starts python3 -m http.server on a port of the kernel's choosing and
 * reads that port from its first line.  Skips the test without python3. */
static void
py_start(pyserver *s)
{
	int   out[2];
	char  path[128];
	char *big = malloc(BIG_SIZE);

	memset(s, 0, sizeof(*s));
	cr_assert_eq(tmp_dir_make(s->dir, sizeof(s->dir), "get-test"), 0);
	fill_pattern(big, BIG_SIZE, 7);
	snprintf(path, sizeof(path), "%s/big.bin", s->dir);
	write_file(path, big, BIG_SIZE);
	free(big);
	snprintf(path, sizeof(path), "%s/sub", s->dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/index.html", s->dir);
	write_file(path, INDEX_HTML, strlen(INDEX_HTML));

	cr_assert_eq(pipe(out), 0);
	s->pid = fork();
	cr_assert_geq(s->pid, 0);
	if (s->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(out[1], STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		dup2(devnull, STDIN_FILENO);
		close(out[0]);
		close(out[1]);
		execlp("python3", "python3", "-u", "-m", "http.server", "0", "--bind",
		    "127.0.0.1", "--directory", s->dir, (char *) NULL);
		_exit(127);
	}
	close(out[1]);

	/* "Serving HTTP on 127.0.0.1 port 12345 (http://...) ..." */
	char   line[256];
	size_t len = 0;
	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0) {
			break;
		}
		ssize_t n = read(out[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0) {
			break;
		}
		len += (size_t) n;
	}
	line[len] = '\0';
	close(out[0]);
	const char *p = strstr(line, " port ");
	if (p == NULL || (s->port = atoi(p + 6)) <= 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		cr_skip_test("python3 -m http.server did not start: '%s'", line);
	}
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
}

static void
py_stop(pyserver *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	tmp_dir_remove(s->dir);
}

/* ------------------------------------------------------- running it */

typedef struct {
	int    status; /* exit status; -1 when killed */
	char  *out;
	size_t out_len;
	char  *err;
	size_t err_len;
} result;

/* Runs the tool with the arguments (NULL-terminated), within 30 s. */
static result
run_tool(const char *dir, const char *arg0, ...)
{
	const char *argv[32];
	int         argc = 0;
	va_list     ap;
	char        out_path[128], err_path[128];
	result      r = { 0 };
	pid_t       pid;
	int         st;

	argv[argc++] = tool;
	va_start(ap, arg0);
	for (const char *a = arg0; a != NULL && argc < 31; a = va_arg(ap, const char *)) {
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;
	snprintf(out_path, sizeof(out_path), "%s/.stdout", dir);
	snprintf(err_path, sizeof(err_path), "%s/.stderr", dir);

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int n = open("/dev/null", O_RDONLY);
		dup2(o, STDOUT_FILENO);
		dup2(e, STDERR_FILENO);
		dup2(n, STDIN_FILENO);
		close(o);
		close(e);
		close(n);
		execv(tool, (char *const *) argv);
		_exit(126);
	}
	r.status = -1;
	for (int i = 0; i < 3000; i++) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			break;
		}
		nghttpw_msleep(10);
	}
	if (r.status == -1 && waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	r.out = read_file(out_path, &r.out_len);
	r.err = read_file(err_path, &r.err_len);
	unlink(out_path);
	unlink(err_path);
	return (r);
}

static void
result_free(result *r)
{
	free(r->out);
	free(r->err);
}

static void
setup(pyserver *s)
{
	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built (looked for %s)", tool);
	}
	py_start(s);
}

static char *
url_of(const pyserver *s, const char *path)
{
	static char buf[4][160];
	static int  next;
	char       *u = buf[next++ % 4];
	snprintf(u, sizeof(buf[0]), "%s%s", s->base, path);
	return (u);
}

/* ------------------------------------------------------------ tests */

Test(get_tool, fetches_a_file_byte_exact)
{
	pyserver s;
	result   r;
	char    *want = malloc(BIG_SIZE);

	setup(&s);
	fill_pattern(want, BIG_SIZE, 7);
	r = run_tool(s.dir, url_of(&s, "/big.bin"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_eq(r.out_len, BIG_SIZE);
	cr_assert(memcmp(r.out, want, BIG_SIZE) == 0, "body differs");
	cr_assert_eq(r.err_len, 0, "stderr: %s", r.err);
	result_free(&r);
	free(want);
	py_stop(&s);
}

Test(get_tool, output_option_writes_the_file)
{
	pyserver s;
	result   r;
	char     path[128];
	size_t   len;
	char    *got;
	char    *want = malloc(BIG_SIZE);

	setup(&s);
	fill_pattern(want, BIG_SIZE, 7);
	snprintf(path, sizeof(path), "%s/copy.bin", s.dir);
	r = run_tool(s.dir, "-s", "-o", path, url_of(&s, "/big.bin"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_eq(r.out_len, 0);
	got = read_file(path, &len);
	cr_assert_not_null(got);
	cr_assert_eq(len, BIG_SIZE);
	cr_assert(memcmp(got, want, BIG_SIZE) == 0, "file differs");
	free(got);
	result_free(&r);
	free(want);
	py_stop(&s);
}

Test(get_tool, head_prints_status_line_and_headers)
{
	pyserver s;
	result   r;

	setup(&s);
	r = run_tool(s.dir, "-I", url_of(&s, "/big.bin"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert(strncmp(r.out, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\r\nContent-Length: 1000000\r\n"), "%s", r.out);
	/* The head only: it ends with the empty line. */
	cr_assert_gt(r.out_len, 4);
	cr_assert_eq(strstr(r.out, "\r\n\r\n") + 4, r.out + r.out_len, "%s", r.out);
	result_free(&r);
	py_stop(&s);
}

Test(get_tool, not_found_with_fail_exits_22)
{
	pyserver s;
	result   r;

	setup(&s);
	r = run_tool(s.dir, "--fail", url_of(&s, "/missing"), NULL);
	cr_assert_eq(r.status, 22, "exit %d: %s", r.status, r.err);
	cr_assert_eq(r.out_len, 0);
	cr_assert_not_null(strstr(r.err, "404"), "%s", r.err);
	result_free(&r);

	/* Without --fail the transfer worked: exit 0, the error page out. */
	r = run_tool(s.dir, url_of(&s, "/missing"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_gt(r.out_len, 0);
	result_free(&r);

	/* http.server has no POST: 501, so 22 with --fail. */
	r = run_tool(s.dir, "-f", "-d", "a=1", url_of(&s, "/"), NULL);
	cr_assert_eq(r.status, 22, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "501"), "%s", r.err);
	result_free(&r);
	py_stop(&s);
}

Test(get_tool, follows_a_redirect)
{
	pyserver s;
	result   r;

	setup(&s);
	/* http.server sends /sub to /sub/ with 301. */
	r = run_tool(s.dir, "-L", url_of(&s, "/sub"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_eq(r.out_len, strlen(INDEX_HTML));
	cr_assert_str_eq(r.out, INDEX_HTML);
	result_free(&r);

	/* Not followed without -L. */
	r = run_tool(s.dir, "-I", url_of(&s, "/sub"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert(strncmp(r.out, "HTTP/1.0 301 ", 13) == 0, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\r\nLocation: /sub/\r\n"), "%s", r.out);
	result_free(&r);

	/* -I -L prints both heads. */
	r = run_tool(s.dir, "-I", "-L", url_of(&s, "/sub"), NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert(strncmp(r.out, "HTTP/1.0 301 ", 13) == 0, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "\r\n\r\nHTTP/1.0 200 OK\r\n"), "%s", r.out);
	result_free(&r);
	py_stop(&s);
}

Test(get_tool, refused_connection_is_one_line)
{
	nghttpw_stream_listener *l;
	char                     url[64], want[128];
	int                      port;
	result                   r;
	char                     dir[64] = "/tmp/nghttpw-get-test.XXXXXX";

	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built (looked for %s)", tool);
	}
	cr_assert_not_null(mkdtemp(dir));
	/* A port that was just free: nothing listens there now. */
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	nghttpw_stream_listener_free(l);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	snprintf(want, sizeof(want),
	    "nghttpw-get: connect to 127.0.0.1:%d failed: %s\n", port,
	    nghttpw_strerror(NGHTTPW_ECONNREFUSED));

	r = run_tool(dir, url, NULL);
	cr_assert_eq(r.status, 7, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.err, want);
	cr_assert_eq(r.out_len, 0);
	result_free(&r);

	/* -s silences it; -sS brings the message back. */
	r = run_tool(dir, "-s", url, NULL);
	cr_assert_eq(r.status, 7);
	cr_assert_eq(r.err_len, 0, "%s", r.err);
	result_free(&r);
	r = run_tool(dir, "-sS", url, NULL);
	cr_assert_eq(r.status, 7);
	cr_assert_str_eq(r.err, want);
	result_free(&r);
	rmdir(dir);
}

Test(get_tool, bad_arguments_exit_2)
{
	static const char *const cases[][3] = {
		{ NULL },
		{ "--no-such-option", "http://127.0.0.1:1/" },
		{ "-o" },
		{ "-oa", "-ob", "http://127.0.0.1:1/" },
		{ "-m", "soon", "http://127.0.0.1:1/" },
		{ "-I", "-dx", "http://127.0.0.1:1/" },
		{ "-H", "NoColon", "http://127.0.0.1:1/" },
	};
	char dir[64] = "/tmp/nghttpw-get-test.XXXXXX";

	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built (looked for %s)", tool);
	}
	cr_assert_not_null(mkdtemp(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		result r = run_tool(dir, cases[i][0], cases[i][1], cases[i][2], NULL);
		cr_assert_eq(r.status, 2, "case %zu: exit %d", i, r.status);
		/* One line, naming the program. */
		cr_assert(strncmp(r.err, "nghttpw-get: ", 13) == 0, "case %zu: %s", i, r.err);
		cr_assert_not_null(strchr(r.err, '\n'));
		cr_assert_eq(strchr(r.err, '\n') + 1, r.err + r.err_len, "case %zu: %s", i,
		    r.err);
		result_free(&r);
	}
	result r = run_tool(dir, "--help", NULL);
	cr_assert_eq(r.status, 0);
	cr_assert(strncmp(r.out, "usage: nghttpw-get", 18) == 0, "%s", r.out);
	result_free(&r);
	rmdir(dir);
}

/* ---------------------------------------------------------------- TLS */

#ifdef NGHTTPW_HAVE_TLS
#include <arpa/inet.h>

#include "nghttpw/http.h"
#include "nghttpw/tls.h"
#include "support/http_util.h"
#include "support/tls_certs.h"

/* https against our own server, in this process, with the test CA. */
Test(get_tool, https_with_cacert_and_insecure)
{
	const tls_test_certs *certs;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_tls_config   *cfg;
	nghttpw_url          *url;
	nghttpw_sockaddr      sa;
	char                  dir[64] = "/tmp/nghttpw-get-test.XXXXXX";
	char                  ca[128], u[96];
	result                r;

	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built (looked for %s)", tool);
	}
	certs = tls_test_certs_get();
	cr_assert_not_null(certs);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(tls_test_write_file(dir, "ca.pem", certs->ca_cert, NULL), 0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);

	cr_assert_eq(nghttpw_url_parse(&url, "https://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 cfg, certs->server_cert, certs->server_key, NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_tls(s, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/secret", "over tls\n", 9, "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	/* The certificate names localhost (and 127.0.0.1). */
	snprintf(u, sizeof(u), "https://localhost:%u/secret", ntohs(sa.s_in.sa_port));

	r = run_tool(dir, "--cacert", ca, u, NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "over tls\n");
	result_free(&r);

	/* -k: no verification. */
	r = run_tool(dir, "-k", u, NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "over tls\n");
	result_free(&r);

	/* Without the CA the server cannot be verified.  (Last: today a
	 * failed handshake may end our server's accept loop.) */
	r = run_tool(dir, u, NULL);
	cr_assert(r.status == 60 || r.status == 35, "exit %d: %s", r.status, r.err);
	cr_assert_eq(r.out_len, 0);
	result_free(&r);

	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
	unlink(ca);
	rmdir(dir);
}
#endif

/* ------------------------------------------ credentials and redirects */

/* A server on 127.0.0.1 that answers each request with the next of its
 * canned answers (closing the connection after those that say
 * "Connection: close") and keeps the request heads it got and how many
 * connections brought them, for the redirect and reuse tests. */
#define RECORDED_MAX 4
typedef struct {
	int         lfd;
	int         port;
	pthread_t   thr;
	const char *answers[RECORDED_MAX];
	int         nanswers;
	char        heads[RECORDED_MAX][2048];
	int         nheads;
	int         nconns;
} recorder;

/* Reads one request head into head; false at the end of the stream. */
static bool
recorder_read_head(int fd, char *head, size_t cap)
{
	size_t  len = 0;
	ssize_t n;

	head[0] = '\0';
	while (len < cap - 1 && strstr(head, "\r\n\r\n") == NULL &&
	    (n = read(fd, head + len, cap - 1 - len)) > 0) {
		len += (size_t) n;
		head[len] = '\0';
	}
	return (strstr(head, "\r\n\r\n") != NULL);
}

static void *
recorder_main(void *arg)
{
	recorder *rc = arg;
	int       fd = -1;

	while (rc->nheads < rc->nanswers) {
		const char *answer;
		if (fd < 0) {
			struct pollfd pfd = { .fd = rc->lfd, .events = POLLIN };
			if (poll(&pfd, 1, 10000) <= 0 || (fd = accept(rc->lfd, NULL, NULL)) < 0) {
				break;
			}
			rc->nconns++;
		}
		if (!recorder_read_head(fd, rc->heads[rc->nheads], sizeof(rc->heads[0]))) {
			close(fd);
			fd = -1;
			continue;
		}
		answer = rc->answers[rc->nheads++];
		(void) !write(fd, answer, strlen(answer));
		if (strstr(answer, "Connection: close") != NULL) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return (NULL);
}

static void
recorder_listen(recorder *rc)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t          sl = sizeof(sa);

	memset(rc, 0, sizeof(*rc));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((rc->lfd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert_eq(bind(rc->lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(rc->lfd, 8), 0);
	cr_assert_eq(getsockname(rc->lfd, (struct sockaddr *) &sa, &sl), 0);
	rc->port = ntohs(sa.sin_port);
}

static void
recorder_start(recorder *rc)
{
	cr_assert_eq(pthread_create(&rc->thr, NULL, recorder_main, rc), 0);
}

static void
recorder_stop(recorder *rc)
{
	pthread_join(rc->thr, NULL);
	close(rc->lfd);
}

/* A 302 to http://127.0.0.1:port/path, or the final answer "ok". */
static const char *
redirect_to(int port, const char *path)
{
	static char buf[4][160];
	static int  next;
	char       *a = buf[next++ % 4];
	snprintf(a, sizeof(buf[0]),
	    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d%s\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n",
	    port, path);
	return (a);
}
#define ANSWER_OK "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

static bool
has_field(const char *head, const char *field)
{
	return (strcasestr(head, field) != NULL);
}

/* Two canned servers for a redirect test, listening; their answers are
 * set by the test (a redirect needs the other's port). */
static void
redirect_setup(char *dir, size_t len, recorder *home, recorder *other)
{
	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built");
	}
	cr_assert_eq(tmp_dir_make(dir, len, "get-cred"), 0);
	recorder_listen(home);
	recorder_listen(other);
}

/* Runs the tool with -L and the four credential-like fields against
 * home's URL, plus extra (or NULL), while both servers answer; the run
 * must succeed. */
static result
run_with_credentials(const char *dir, recorder *home, recorder *other,
    const char *extra)
{
	char   url[64];
	result r;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/start", home->port);
	recorder_start(home);
	recorder_start(other);
	r = run_tool(dir, "-s", "-L", "-H", "Authorization: Bearer secret-token",
	    "-H", "Cookie: session=secret-cookie", "-H",
	    "Proxy-Authorization: Basic c2VjcmV0", "-H", "X-Other: kept", url,
	    extra, NULL);
	recorder_stop(home);
	recorder_stop(other);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	return (r);
}

static void
assert_credentials(const char *head, bool want, const char *where)
{
	const char *fields[] = { "\r\nAuthorization: Bearer secret-token\r\n",
		"\r\nCookie: session=secret-cookie\r\n",
		"\r\nProxy-Authorization: Basic c2VjcmV0\r\n" };

	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(has_field(head, fields[i]), want, "%s %s %s:\n%s", where,
		    want ? "lacks" : "got", fields[i] + 2, head);
	}
	cr_assert(has_field(head, "\r\nX-Other: kept\r\n"), "%s lacks X-Other:\n%s",
	    where, head);
}

Test(get_tool, credentials_do_not_follow_a_redirect_to_another_port)
{
	recorder home, other;
	char     dir[64];
	result   r;

	redirect_setup(dir, sizeof(dir), &home, &other);
	home.answers[home.nanswers++]   = redirect_to(other.port, "/there");
	other.answers[other.nanswers++] = ANSWER_OK;
	r = run_with_credentials(dir, &home, &other, NULL);
	cr_assert_str_eq(r.out, "ok");
	cr_assert_eq(other.nheads, 1);
	assert_credentials(home.heads[0], true, "the first URL");
	assert_credentials(other.heads[0], false, "another origin");
	result_free(&r);
	tmp_dir_remove(dir);
}

Test(get_tool, location_trusted_sends_credentials_everywhere)
{
	recorder home, other;
	char     dir[64];
	result   r;

	redirect_setup(dir, sizeof(dir), &home, &other);
	home.answers[home.nanswers++]   = redirect_to(other.port, "/there");
	other.answers[other.nanswers++] = ANSWER_OK;
	r = run_with_credentials(dir, &home, &other, "--location-trusted");
	assert_credentials(other.heads[0], true, "a trusted redirect");
	result_free(&r);
	tmp_dir_remove(dir);
}

/* Back at the first URL's origin, they are sent again (as curl does). */
Test(get_tool, credentials_return_with_the_redirect_home)
{
	recorder home, other;
	char     dir[64];
	result   r;

	redirect_setup(dir, sizeof(dir), &home, &other);
	home.answers[home.nanswers++]   = redirect_to(other.port, "/there");
	other.answers[other.nanswers++] = redirect_to(home.port, "/back");
	home.answers[home.nanswers++]   = ANSWER_OK;
	r = run_with_credentials(dir, &home, &other, NULL);
	cr_assert_eq(home.nheads, 2);
	assert_credentials(other.heads[0], false, "another origin");
	assert_credentials(home.heads[1], true, "the first origin again");
	result_free(&r);
	tmp_dir_remove(dir);
}

/* Several URLs in turn: each body in order, one -o per URL, and one
 * connection for URLs of one server in a row. */
Test(get_tool, several_urls_share_a_connection)
{
	recorder srv;
	char     dir[64], url[3][64], outa[128];
	result   r;
	size_t   len;
	char    *got;

	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built");
	}
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "get-many"), 0);
	recorder_listen(&srv);
	srv.answers[srv.nanswers++] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none";
	srv.answers[srv.nanswers++] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo";
	srv.answers[srv.nanswers++] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree";
	recorder_start(&srv);
	for (int i = 0; i < 3; i++) {
		snprintf(url[i], sizeof(url[i]), "http://127.0.0.1:%d/%d", srv.port, i);
	}
	snprintf(outa, sizeof(outa), "%s/a", dir);
	r = run_tool(dir, "-s", "-o", outa, url[0], url[1], url[2], NULL);
	recorder_stop(&srv);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "twothree");
	cr_assert_not_null(got = read_file(outa, &len));
	cr_assert_str_eq(got, "one");
	free(got);
	cr_assert_eq(srv.nheads, 3);
	cr_assert(strncmp(srv.heads[2], "GET /2 HTTP/1.1\r\n", 17) == 0, "%s", srv.heads[2]);
	cr_assert_eq(srv.nconns, 1, "%d connections for 3 URLs", srv.nconns);
	result_free(&r);
	tmp_dir_remove(dir);
}

/* A URL that fails does not stop the next; the exit status says it. */
Test(get_tool, a_failed_url_does_not_stop_the_next)
{
	recorder srv;
	char     dir[64], url[64];
	result   r;

	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built");
	}
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "get-many"), 0);
	recorder_listen(&srv);
	srv.answers[srv.nanswers++] = ANSWER_OK;
	recorder_start(&srv);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
	r = run_tool(dir, "-s", "http://127.0.0.1:1/", url, NULL);
	recorder_stop(&srv);
	cr_assert_eq(r.status, 7, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "ok");
	result_free(&r);
	tmp_dir_remove(dir);
}

/* ------------------------------------------------------------ proxies */

static void
proxy_env_clear(void)
{
	static const char *const vars[] = { "http_proxy", "HTTP_PROXY",
		"https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		unsetenv(vars[i]);
	}
}

/* Fetches /sub/index.html (with the arguments before the URL); asserts
 * it came, and returns how many times the proxy has seen it. */
static int
fetch_counting(pyserver *s, tinyproxy *p, const char *a1, const char *a2)
{
	char   line[200];
	result r;

	if (a1 == NULL) {
		r = run_tool(s->dir, url_of(s, "/sub/index.html"), NULL);
	} else if (a2 == NULL) {
		r = run_tool(s->dir, a1, url_of(s, "/sub/index.html"), NULL);
	} else {
		r = run_tool(s->dir, a1, a2, url_of(s, "/sub/index.html"), NULL);
	}
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, INDEX_HTML);
	result_free(&r);
	snprintf(line, sizeof(line), "GET %s HTTP/1.1", url_of(s, "/sub/index.html"));
	return (tinyproxy_log_count(p, line));
}

Test(get_tool, proxy_option_and_noproxy)
{
	pyserver  s;
	tinyproxy p;

	setup(&s);
	tinyproxy_start(&p, false, 0);
	proxy_env_clear();
	cr_assert_eq(fetch_counting(&s, &p, NULL, NULL), 0);
	/* Absolute form to the proxy. */
	cr_assert_eq(fetch_counting(&s, &p, "-x", tinyproxy_url(&p, "")), 1);
	cr_assert_eq(fetch_counting(&s, &p, "--proxy", tinyproxy_url(&p, "")), 2);
	/* --noproxy: the origin directly, by address, prefix or "*". */
	static const char *const lists[] = { "127.0.0.1", "example.com,127.0.0.0/8",
		"*" };
	result r;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		r = run_tool(s.dir, "-x", tinyproxy_url(&p, ""), "--noproxy",
		    lists[i], url_of(&s, "/sub/index.html"), NULL);
		cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
		cr_assert_str_eq(r.out, INDEX_HTML);
		result_free(&r);
	}
	/* A list that does not name it; an empty --proxy means none. */
	char xarg[160];
	snprintf(xarg, sizeof(xarg), "--proxy=%s", tinyproxy_url(&p, ""));
	cr_assert_eq(fetch_counting(&s, &p, "--noproxy=other.example", xarg), 3);
	cr_assert_eq(fetch_counting(&s, &p, "--noproxy=other.example", "--proxy="), 3);
	/* Only http:// proxies. */
	r = run_tool(s.dir, "-x", "https://127.0.0.1:1", url_of(&s, "/"), NULL);
	cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "only http:// proxies"), "%s", r.err);
	result_free(&r);
	tinyproxy_stop(&p);
	py_stop(&s);
}

Test(get_tool, proxy_from_the_environment)
{
	pyserver  s;
	tinyproxy p;

	setup(&s);
	tinyproxy_start(&p, false, 0);
	proxy_env_clear();
	/* HTTP_PROXY is ignored, as curl does (httpoxy). */
	setenv("HTTP_PROXY", tinyproxy_url(&p, ""), 1);
	cr_assert_eq(fetch_counting(&s, &p, NULL, NULL), 0);
	setenv("http_proxy", tinyproxy_url(&p, ""), 1);
	cr_assert_eq(fetch_counting(&s, &p, NULL, NULL), 1);
	/* -x "" turns it off; --noproxy and no_proxy exempt the origin. */
	cr_assert_eq(fetch_counting(&s, &p, "-x", ""), 1);
	cr_assert_eq(fetch_counting(&s, &p, "--noproxy", "127.0.0.1"), 1);
	setenv("no_proxy", "localhost,127.0.0.1", 1);
	cr_assert_eq(fetch_counting(&s, &p, NULL, NULL), 1);
	/* --noproxy stands instead of no_proxy. */
	cr_assert_eq(fetch_counting(&s, &p, "--noproxy", "example.com"), 2);
	/* A proxy that wants credentials: its 407 is the answer. */
	proxy_env_clear();
	tinyproxy_stop(&p);
	tinyproxy_start(&p, true, 0);
	result r = run_tool(s.dir, "-f", "-x", tinyproxy_url(&p, ""),
	    url_of(&s, "/sub/index.html"), NULL);
	cr_assert_eq(r.status, 22, "exit %d: %s", r.status, r.err);
	result_free(&r);
	/* tinyproxy logs the refused request too. */
	int refused = tinyproxy_log_count(&p, "/sub/index.html HTTP/1.1");
	cr_assert_eq(fetch_counting(&s, &p, "-x", tinyproxy_url(&p, "user:pass")),
	    refused + 1);
	tinyproxy_stop(&p);
	py_stop(&s);
}

#ifdef NGHTTPW_HAVE_TLS
/* https through the proxy's CONNECT, which wants credentials: without
 * them exit 56 as curl; with them (from -x or https_proxy) the body,
 * the server verified with the test CA inside the tunnel. */
Test(get_tool, https_through_a_proxy_with_credentials)
{
	nghttpw_http_server *origin;
	tinyproxy            p;
	char                 ca[300], u[96];
	int                  port;
	result               r;

	if (!find_tool()) {
		cr_skip_test("nghttpw-get not built (looked for %s)", tool);
	}
	origin = https_test_server("in the tunnel\n", &port);
	tinyproxy_start(&p, true, port);
	proxy_env_clear();
	cr_assert_eq(tls_test_write_file(p.dir, "ca.pem",
	                 tls_test_certs_get()->ca_cert, NULL), 0);
	snprintf(ca, sizeof(ca), "%s/ca.pem", p.dir);
	snprintf(u, sizeof(u), "https://localhost:%d/secret", port);

	r = run_tool(p.dir, "--cacert", ca, "-x", tinyproxy_url(&p, ""), u, NULL);
	cr_assert_eq(r.status, 56, "exit %d: %s", r.status, r.err);
	cr_assert_not_null(strstr(r.err, "407"), "%s", r.err);
	result_free(&r);

	r = run_tool(p.dir, "--cacert", ca, "-x", tinyproxy_url(&p, "user:pass"),
	    u, NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "in the tunnel\n");
	result_free(&r);

	/* http_proxy is for http only. */
	setenv("http_proxy", tinyproxy_url(&p, ""), 1);
	setenv("HTTPS_PROXY", tinyproxy_url(&p, "user:pass"), 1);
	r = run_tool(p.dir, "--cacert", ca, u, NULL);
	cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "in the tunnel\n");
	result_free(&r);
	proxy_env_clear();

	snprintf(u, sizeof(u), "CONNECT localhost:%d HTTP/1.1", port);
	cr_assert_eq(tinyproxy_log_count(&p, u), 3);
	tinyproxy_stop(&p);
	nghttpw_http_server_release(origin);
}
#endif
