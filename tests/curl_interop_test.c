/* Interoperability with a client no one here wrote: curl(1) against the
 * nghttpw-serve tool, both run as child processes.  The tool serves a
 * temporary directory on 127.0.0.1 (port 0: it prints the port it got);
 * curl fetches from it: byte-exact GET of a few MiB, HEAD, Range,
 * conditional requests (304), keep-alive, 404, a directory's index.html
 * and the 301 for a directory named without its '/', and HTTPS with a CA
 * and server certificate made by tests/support/tls_certs (verified with
 * --cacert, refused with exit 60 without it).  Pipelining is checked with
 * a raw socket: ten requests in one write, ten responses in order.
 *
 * After each test the tool is stopped with SIGINT and must exit 0 with
 * nothing from a sanitizer on its standard error (the tool is built with
 * the sanitizers too).  Every child is bounded in time and is killed by
 * the suite's .fini, or by the kernel if the test process dies
 * (PR_SET_PDEATHSIG).  Skipped without curl on PATH or without the tools. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/pairs.h"
#include "support/programs.h"
#ifdef NGHTTPW_HAVE_TLS
#include "support/tls_certs.h"
#endif

#define BIG_SIZE   (3u * 1024 * 1024 + 123) /* not a multiple of any buffer */
#define HELLO      "hello from nghttpw-serve, fetched by curl\n"
#define SUB_INDEX  "<!DOCTYPE html><title>sub</title><p>the sub index</p>\n"
#define ROOT_INDEX "<!DOCTYPE html><title>root</title>\n"
#define SPACED     "a file whose name has a space\n"
#define NPIPE      10

static char  serve_path[PATH_MAX]; /* the built nghttpw-serve */
static char  curl_path[PATH_MAX];  /* curl, from PATH */
static char  root[64];             /* temporary: www/, certificates, logs */
static char  www[128];             /* what the tool serves */
static char *big;                  /* the content of www/big.bin */

/* The running server. */
static pid_t server_pid = -1;
static int   port;
static char  base[96]; /* http[s]://127.0.0.1:PORT */

static pid_t curl_pid = -1; /* a curl that has not been reaped yet */

/* --------------------------------------------------------- utilities */

static void
path_in(char *buf, size_t cap, const char *dir, const char *rel)
{
	int n = snprintf(buf, cap, "%s/%s", dir, rel);
	cr_assert(n > 0 && (size_t) n < cap, "path too long: %s/%s", dir, rel);
}

static void
write_file(const char *dir, const char *rel, const void *data, size_t len)
{
	char  path[PATH_MAX];
	FILE *f;

	path_in(path, sizeof(path), dir, rel);
	f = fopen(path, "wb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len, "%s: short write", path);
	cr_assert_eq(fclose(f), 0, "%s: %s", path, strerror(errno));
}

/* The whole file, NUL-terminated (not counted in *lenp); NULL if absent. */
static char *
slurp(const char *path, size_t *lenp)
{
	FILE  *f = fopen(path, "rb");
	char  *buf, *nbuf;
	size_t cap = 8192, len = 0, n;

	if (lenp != NULL) {
		*lenp = 0;
	}
	if (f == NULL) {
		return NULL;
	}
	buf = malloc(cap + 1);
	cr_assert_not_null(buf);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			nbuf = realloc(buf, cap + 1);
			cr_assert_not_null(nbuf);
			buf = nbuf;
		}
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL) {
		*lenp = len;
	}
	return buf;
}

/* In a child just forked: die with the test process, whatever kills it. */
static void
die_with_parent(pid_t parent)
{
	(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127); /* the parent is already gone */
	}
}

/* Waits for pid at most ms milliseconds.  Returns its exit status, -1 if
 * a signal ended it (its number in *sig), -2 if it had to be killed. */
static int
wait_child(pid_t pid, int ms, int *sig)
{
	int status;

	if (sig != NULL) {
		*sig = 0;
	}
	for (int waited = 0; waited <= ms; waited += 10) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			if (WIFEXITED(status)) {
				return WEXITSTATUS(status);
			}
			if (sig != NULL && WIFSIGNALED(status)) {
				*sig = WTERMSIG(status);
			}
			return -1;
		}
		if (r < 0 && errno != EINTR) {
			return -1;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -2;
}

/* ------------------------------------------------------ setup, teardown */

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
	int status;

	if (curl_pid > 0) {
		kill(curl_pid, SIGKILL);
		waitpid(curl_pid, &status, 0);
		curl_pid = -1;
	}
	if (server_pid > 0) {
		kill(server_pid, SIGKILL);
		waitpid(server_pid, &status, 0);
		server_pid = -1;
	}
	if (root[0] != '\0') {
		(void) nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		root[0] = '\0';
	}
	free(big);
	big = NULL;
}

TestSuite(curl_interop, .fini = teardown, .timeout = 90);

/* Skips the test unless curl and the tool are there; then makes the
 * directory tree to serve:
 *   www/index.html, www/hello.txt, www/empty.txt, www/big.bin (3 MiB+),
 *   www/a file.txt, www/sub/index.html, www/p0.txt ... www/p9.txt */
static void
setup(void)
{
	if (!built_tool("nghttpw-serve", serve_path, sizeof(serve_path))) {
		cr_skip_test("nghttpw-serve is not built");
	}
	if (!program_in_path("curl", curl_path, sizeof(curl_path))) {
		cr_skip_test("curl is not on PATH (tools/install-deps.sh installs it)");
	}

	snprintf(root, sizeof(root), "/tmp/nghttpw-curl-XXXXXX");
	cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
	snprintf(www, sizeof(www), "%s/www", root);
	cr_assert_eq(mkdir(www, 0755), 0);

	big = malloc(BIG_SIZE);
	cr_assert_not_null(big);
	fill_pattern(big, BIG_SIZE, 42);
	write_file(www, "big.bin", big, BIG_SIZE);
	write_file(www, "hello.txt", HELLO, strlen(HELLO));
	write_file(www, "empty.txt", "", 0);
	write_file(www, "index.html", ROOT_INDEX, strlen(ROOT_INDEX));
	write_file(www, "a file.txt", SPACED, strlen(SPACED));
	char sub[PATH_MAX];
	path_in(sub, sizeof(sub), www, "sub");
	cr_assert_eq(mkdir(sub, 0755), 0);
	write_file(sub, "index.html", SUB_INDEX, strlen(SUB_INDEX));
	for (int i = 0; i < NPIPE; i++) {
		char name[32], text[256];
		int  len;
		snprintf(name, sizeof(name), "p%d.txt", i);
		/* Bodies of different lengths, each naming its file. */
		len = snprintf(text, sizeof(text), "pipelined body %d %.*s\n", i,
		    i * 17, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		            "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
		            "QRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz");
		write_file(www, name, text, (size_t) len);
	}
}

/* ------------------------------------------------------------ the server */

/* Starts nghttpw-serve on 127.0.0.1, port 0, with its standard output and
 * error in files under root (files, not pipes: a full pipe would stall
 * the access log and so the server).  https: with the certificate and key
 * files given.  Sets port and base from the line the tool prints. */
static void
start_server(const char *cert, const char *key)
{
	const char *scheme = cert != NULL ? "https" : "http";
	char        listen_url[64], out_path[PATH_MAX], err_path[PATH_MAX];
	const char *argv[12];
	int         argc = 0;
	pid_t       parent = getpid();

	snprintf(listen_url, sizeof(listen_url), "%s://127.0.0.1:0", scheme);
	path_in(out_path, sizeof(out_path), root, "serve.out");
	path_in(err_path, sizeof(err_path), root, "serve.err");
	argv[argc++] = serve_path;
	argv[argc++] = "--listen";
	argv[argc++] = listen_url;
	argv[argc++] = "--threads";
	argv[argc++] = "2";
	if (cert != NULL) {
		argv[argc++] = "--cert";
		argv[argc++] = cert;
		argv[argc++] = "--key";
		argv[argc++] = key;
	}
	argv[argc++] = www;
	argv[argc]   = NULL;

	fflush(NULL);
	server_pid = fork();
	cr_assert_geq(server_pid, 0, "fork: %s", strerror(errno));
	if (server_pid == 0) {
		die_with_parent(parent);
		int in  = open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || out < 0 || err < 0) {
			_exit(126);
		}
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execv(serve_path, (char *const *) argv);
		_exit(127);
	}

	/* "Serving DIR on http://127.0.0.1:PORT/" once it listens. */
	char   prefix[48];
	char  *text = NULL;
	size_t len;
	snprintf(prefix, sizeof(prefix), "%s://127.0.0.1:", scheme);
	for (int waited = 0; waited < 20000; waited += 20) {
		free(text);
		text = slurp(out_path, &len);
		if (text != NULL && strchr(text, '\n') != NULL) {
			break;
		}
		int status;
		if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
			char *err = slurp(err_path, NULL);
			server_pid = -1;
			cr_assert_fail("nghttpw-serve exited at start (status 0x%x): %s",
			    (unsigned) status, err != NULL ? err : "");
		}
		usleep(20000);
	}
	cr_assert(text != NULL && strchr(text, '\n') != NULL,
	    "no start line from nghttpw-serve within 20 s: '%s'",
	    text != NULL ? text : "");
	char *nl = strchr(text, '\n');
	*nl      = '\0';
	cr_assert(strncmp(text, "Serving ", 8) == 0, "start line: '%s'", text);
	const char *p = strstr(text, prefix);
	cr_assert_not_null(p, "start line: '%s'", text);
	port = atoi(p + strlen(prefix));
	cr_assert(port > 0 && port < 65536, "start line: '%s'", text);
	cr_expect_not_null(strstr(text, www), "the start line names the directory: '%s'",
	    text);
	snprintf(base, sizeof(base), "%s://127.0.0.1:%d", scheme, port);
	free(text);
}

/* Stops the server with SIGINT: it must exit 0 within 20 s, with nothing
 * from a sanitizer on its standard error. */
static void
stop_server(void)
{
	char  err_path[PATH_MAX];
	char *err;
	int   rc, sig;

	cr_assert_gt(server_pid, 0);
	cr_assert_eq(kill(server_pid, SIGINT), 0);
	rc         = wait_child(server_pid, 20000, &sig);
	server_pid = -1;
	path_in(err_path, sizeof(err_path), root, "serve.err");
	err = slurp(err_path, NULL);
	if (err == NULL) {
		err = strdup("");
	}
	cr_expect_eq(rc, 0, "nghttpw-serve after SIGINT: %s%d (signal %d); stderr:\n%s",
	    rc == -2 ? "killed after 20 s, " : "", rc, sig, err);
	cr_expect_null(strstr(err, "Sanitizer"), "sanitizer report:\n%s", err);
	cr_expect_null(strstr(err, "runtime error:"), "UBSan report:\n%s", err);
	cr_expect_not_null(strstr(err, "SIGINT, stopping"), "stderr:\n%s", err);
	free(err);
}

/* ------------------------------------------------------------------ curl */

typedef struct {
	int    status; /* curl's exit status; -1: a signal; -2: timed out */
	char  *out;    /* standard output (what -w writes, bodies without -o) */
	size_t out_len;
	char  *err; /* standard error */
} curl_result;

static void
curl_free(curl_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* Runs curl with these arguments (after -q, so that no .curlrc counts;
 * --noproxy '*', -sS and --max-time 10), NULL-terminated.  Waits 30 s at
 * most. */
static curl_result
run_curl(const char *arg0, ...)
{
	const char *argv[48];
	int         argc = 0;
	va_list     ap;
	char        out_path[PATH_MAX], err_path[PATH_MAX];
	curl_result r      = { 0 };
	pid_t       parent = getpid();

	argv[argc++] = "curl";
	argv[argc++] = "-q";
	argv[argc++] = "--noproxy";
	argv[argc++] = "*";
	argv[argc++] = "-sS";
	argv[argc++] = "--max-time";
	argv[argc++] = "10";
	va_start(ap, arg0);
	for (const char *a = arg0; a != NULL; a = va_arg(ap, const char *)) {
		cr_assert_lt(argc, 46, "too many curl arguments");
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;

	path_in(out_path, sizeof(out_path), root, "curl.out");
	path_in(err_path, sizeof(err_path), root, "curl.err");
	fflush(NULL);
	curl_pid = fork();
	cr_assert_geq(curl_pid, 0, "fork: %s", strerror(errno));
	if (curl_pid == 0) {
		die_with_parent(parent);
		int in  = open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || out < 0 || err < 0) {
			_exit(126);
		}
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execv(curl_path, (char *const *) argv);
		_exit(127);
	}
	r.status = wait_child(curl_pid, 30000, NULL);
	curl_pid = -1;
	r.out    = slurp(out_path, &r.out_len);
	r.err    = slurp(err_path, NULL);
	if (r.out == NULL) {
		r.out = strdup("");
	}
	if (r.err == NULL) {
		r.err = strdup("");
	}
	return r;
}

/* The value of a header in a response head (as curl -D or -I prints it),
 * without surrounding blanks, in buf; NULL when absent. */
static const char *
header_value(const char *head, const char *name, char *buf, size_t cap)
{
	size_t      nl = strlen(name);
	const char *line;

	for (line = head; line != NULL && *line != '\0';) {
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t      n;
			while (*v == ' ' || *v == '\t') {
				v++;
			}
			n = strcspn(v, "\r\n");
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
				n--;
			}
			if (n >= cap) {
				n = cap - 1;
			}
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
		line = strchr(line, '\n');
		if (line != NULL) {
			line++;
		}
	}
	return NULL;
}

/* The same, or "<absent>": for the string assertions, which must not
 * get NULL. */
static const char *
hdr(const char *head, const char *name, char *buf, size_t cap)
{
	const char *v = header_value(head, name, buf, cap);
	return v != NULL ? v : "<absent>";
}

/* The status of the last response head in text ("HTTP/1.1 200 OK"). */
static int
head_status(const char *head)
{
	const char *p = head, *last = NULL;
	int         status = 0;

	while ((p = strstr(p, "HTTP/")) != NULL) {
		if (p == head || p[-1] == '\n') {
			last = p;
		}
		p++;
	}
	if (last == NULL || sscanf(last, "HTTP/%*s %d", &status) != 1) {
		return 0;
	}
	return status;
}

/* A URL on the running server. */
static const char *
url(char *buf, size_t cap, const char *path)
{
	snprintf(buf, cap, "%s%s", base, path);
	return buf;
}

/* Compares the file at dir/rel with len bytes at want. */
static void
expect_file(const char *rel, const void *want, size_t len)
{
	char   path[PATH_MAX];
	size_t got_len;
	char  *got;

	path_in(path, sizeof(path), root, rel);
	got = slurp(path, &got_len);
	cr_assert_not_null(got, "%s was not written", path);
	cr_expect_eq(got_len, len, "%s: %zu bytes, want %zu", rel, got_len, len);
	if (got_len == len) {
		size_t i = 0;
		while (i < len && got[i] == ((const char *) want)[i]) {
			i++;
		}
		cr_expect_eq(i, len, "%s: first difference at byte %zu", rel, i);
	}
	free(got);
}

/* -------------------------------------------------------------- tests */

Test(curl_interop, get_byte_exact)
{
	char        u[160], out[PATH_MAX];
	curl_result r;

	setup();
	start_server(NULL, NULL);

	path_in(out, sizeof(out), root, "big.dl");
	r = run_curl("-o", out, "-w", "%{http_code} %{size_download} %{content_type}",
	    url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	char want[96];
	snprintf(want, sizeof(want), "200 %u application/octet-stream", BIG_SIZE);
	cr_expect_str_eq(r.out, want);
	expect_file("big.dl", big, BIG_SIZE);
	curl_free(&r);

	/* Small and empty files, to standard output. */
	r = run_curl(url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, HELLO);
	curl_free(&r);

	path_in(out, sizeof(out), root, "empty.dl");
	r = run_curl("-o", out, "-w", "%{http_code} %{size_download}",
	    url(u, sizeof(u), "/empty.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "200 0");
	expect_file("empty.dl", "", 0);
	curl_free(&r);

	/* A name with a space: curl sends it percent-encoded. */
	r = run_curl("-w", "|%{http_code}", url(u, sizeof(u), "/a%20file.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, SPACED "|200");
	curl_free(&r);

	/* The root is its index.html. */
	r = run_curl(url(u, sizeof(u), "/"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, ROOT_INDEX);
	curl_free(&r);

	stop_server();
}

Test(curl_interop, head)
{
	char        u[160], v[128], want[32];
	curl_result r;

	setup();
	start_server(NULL, NULL);

	r = run_curl("-I", "-w", "|%{size_download}", url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_eq(head_status(r.out), 200, "%s", r.out);
	snprintf(want, sizeof(want), "%u", BIG_SIZE);
	cr_expect_str_eq(hdr(r.out, "Content-Length", v, sizeof(v)), want,
	    "%s", r.out);
	cr_expect_not_null(header_value(r.out, "Last-Modified", v, sizeof(v)), "%s", r.out);
	cr_expect_not_null(header_value(r.out, "ETag", v, sizeof(v)), "%s", r.out);
	/* No body: the head, the blank line, then what -w wrote. */
	const char *end = strstr(r.out, "\r\n\r\n");
	cr_assert_not_null(end, "%s", r.out);
	cr_expect_str_eq(end + 4, "|0", "body after HEAD: %s", r.out);
	curl_free(&r);

	stop_server();
}

Test(curl_interop, range)
{
	char        u[160], v[128], out[PATH_MAX], hfile[PATH_MAX], want[64];
	curl_result r;

	setup();
	start_server(NULL, NULL);

	path_in(out, sizeof(out), root, "range.dl");
	path_in(hfile, sizeof(hfile), root, "range.head");
	r = run_curl("-r", "100-199", "-o", out, "-D", hfile, "-w", "%{http_code}",
	    url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "206");
	expect_file("range.dl", big + 100, 100);
	char *head = slurp(hfile, NULL);
	cr_assert_not_null(head);
	snprintf(want, sizeof(want), "bytes 100-199/%u", BIG_SIZE);
	cr_expect_str_eq(hdr(head, "Content-Range", v, sizeof(v)), want, "%s", head);
	cr_expect_str_eq(hdr(head, "Content-Length", v, sizeof(v)), "100", "%s",
	    head);
	free(head);
	curl_free(&r);

	/* The last 1000 bytes (a suffix range), and an open-ended one. */
	r = run_curl("-r", "-1000", "-o", out, "-w", "%{http_code}",
	    url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "206");
	expect_file("range.dl", big + BIG_SIZE - 1000, 1000);
	curl_free(&r);

	char from[32];
	snprintf(from, sizeof(from), "%u-", BIG_SIZE - 77);
	r = run_curl("-r", from, "-o", out, "-w", "%{http_code}",
	    url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "206");
	expect_file("range.dl", big + BIG_SIZE - 77, 77);
	curl_free(&r);

	/* Beyond the end: 416. */
	char past[32];
	snprintf(past, sizeof(past), "%u-%u", BIG_SIZE + 10, BIG_SIZE + 20);
	r = run_curl("-r", past, "-o", "/dev/null", "-w", "%{http_code}",
	    url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "416");
	curl_free(&r);

	stop_server();
}

Test(curl_interop, not_modified)
{
	char        u[160], v[128], lm[128], etag[128], cond[192], file[PATH_MAX];
	curl_result r;

	setup();
	start_server(NULL, NULL);

	/* -z FILE: If-Modified-Since with that file's modification time,
	 * here the served file itself. */
	path_in(file, sizeof(file), www, "hello.txt");
	r = run_curl("-z", file, "-o", "/dev/null", "-w", "%{http_code}",
	    url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "304");
	curl_free(&r);

	/* If-Modified-Since and If-None-Match from a first response. */
	r = run_curl("-D", "-", "-o", "/dev/null", url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_assert_not_null(header_value(r.out, "Last-Modified", lm, sizeof(lm)), "%s",
	    r.out);
	cr_assert_not_null(header_value(r.out, "ETag", etag, sizeof(etag)), "%s", r.out);
	curl_free(&r);

	snprintf(cond, sizeof(cond), "If-Modified-Since: %s", lm);
	r = run_curl("-H", cond, "-D", "-", "-w", "|%{http_code}|%{size_download}",
	    url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_eq(head_status(r.out), 304, "%s", r.out);
	cr_expect_not_null(strstr(r.out, "\r\n\r\n|304|0"), "%s", r.out);
	cr_expect_str_eq(hdr(r.out, "ETag", v, sizeof(v)), etag, "%s", r.out);
	curl_free(&r);

	snprintf(cond, sizeof(cond), "If-None-Match: %s", etag);
	r = run_curl("-H", cond, "-o", "/dev/null", "-w", "%{http_code}",
	    url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "304");
	curl_free(&r);

	/* Another entity tag, or an old date: the whole file. */
	r = run_curl("-H", "If-None-Match: \"not-this-one\"", "-w", "|%{http_code}",
	    url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, HELLO "|200");
	curl_free(&r);

	r = run_curl("-H", "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT", "-w",
	    "|%{http_code}", url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, HELLO "|200");
	curl_free(&r);

	stop_server();
}

Test(curl_interop, keep_alive)
{
	char        u1[160], u2[160], u3[160];
	curl_result r;
	int         a = -1, b = -1, c = -1, sa = -1, sb = -1, sc = -1;

	setup();
	start_server(NULL, NULL);

	/* Three transfers in one curl, a 404 between two 200s: one connection. */
	r = run_curl("-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w",
	    "%{http_code} %{num_connects}\n", url(u1, sizeof(u1), "/hello.txt"),
	    url(u2, sizeof(u2), "/nothing-here"), url(u3, sizeof(u3), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_assert_eq(sscanf(r.out, "%d %d\n%d %d\n%d %d", &sa, &a, &sb, &b, &sc, &c), 6,
	    "curl -w: '%s'", r.out);
	cr_expect(sa == 200 && sb == 404 && sc == 200, "statuses: %s", r.out);
	cr_expect_eq(a + b + c, 1, "connections made: %s", r.out);
	curl_free(&r);

	/* The same, as curl -v tells it. */
	r = run_curl("-v", "-o", "/dev/null", "-o", "/dev/null",
	    url(u1, sizeof(u1), "/hello.txt"), url(u2, sizeof(u2), "/sub/"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_not_null(strstr(r.err, "Re-using existing connection"), "%s", r.err);
	curl_free(&r);

	stop_server();
}

Test(curl_interop, not_found)
{
	char        u[160], v[64];
	curl_result r;

	setup();
	start_server(NULL, NULL);

	r = run_curl("-D", "-", "-o", "/dev/null", url(u, sizeof(u), "/no/such/file.txt"),
	    NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_eq(head_status(r.out), 404, "%s", r.out);
	cr_expect_not_null(header_value(r.out, "Content-Length", v, sizeof(v)), "%s", r.out);
	curl_free(&r);

	/* --fail turns it into curl's exit 22. */
	r = run_curl("--fail", "-o", "/dev/null", url(u, sizeof(u), "/missing"), NULL);
	cr_expect_eq(r.status, 22, "curl --fail: %d: %s", r.status, r.err);
	curl_free(&r);

	/* No way out of the directory, even when curl is told not to tidy
	 * the path. */
	r = run_curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
	    url(u, sizeof(u), "/../../../../etc/passwd"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect(strcmp(r.out, "404") == 0 || strcmp(r.out, "400") == 0,
	    "/../../etc/passwd: %s", r.out);
	curl_free(&r);

	stop_server();
}

Test(curl_interop, directory_index_and_redirect)
{
	char        u[160], want[192];
	curl_result r;

	setup();
	start_server(NULL, NULL);

	r = run_curl("-w", "|%{http_code}", url(u, sizeof(u), "/sub/"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, SUB_INDEX "|200");
	curl_free(&r);

	/* Without the '/': 301 to the same path with it. */
	r = run_curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
	    url(u, sizeof(u), "/sub"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	snprintf(want, sizeof(want), "301 %s/sub/", base);
	cr_expect_str_eq(r.out, want);
	curl_free(&r);

	/* Followed with -L. */
	r = run_curl("-L", "-w", "|%{http_code} %{num_redirects} %{url_effective}",
	    url(u, sizeof(u), "/sub"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	snprintf(want, sizeof(want), SUB_INDEX "|200 1 %s/sub/", base);
	cr_expect_str_eq(r.out, want);
	curl_free(&r);

	stop_server();
}

/* ---------------------------------------------- pipelining, raw socket */

typedef struct {
	int    fd;
	char  *buf;
	size_t len, off, cap;
	bool   eof;
} reader;

/* Reads more into r->buf; false at end of stream. */
static bool
fill(reader *r)
{
	if (r->off > 0) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	if (r->cap - r->len < 65536) {
		r->cap = r->cap ? r->cap * 2 : 131072;
		r->buf = realloc(r->buf, r->cap + 1);
		cr_assert_not_null(r->buf);
	}
	ssize_t n;
	do {
		n = recv(r->fd, r->buf + r->len, r->cap - r->len, 0);
	} while (n < 0 && errno == EINTR);
	cr_assert_geq(n, 0, "recv: %s", strerror(errno));
	if (n == 0) {
		r->eof = true;
		return false;
	}
	r->len += (size_t) n;
	return true;
}

/* One response: its head (malloc'd, NUL-terminated) and body of
 * Content-Length bytes (malloc'd). Returns the status. */
static int
read_response(reader *r, char **headp, char **bodyp, size_t *lenp)
{
	char  *end;
	char   v[64];
	size_t hl, bl;
	int    status = 0;

	for (;;) {
		if (r->buf != NULL) {
			r->buf[r->len] = '\0'; /* heads have no NUL in them */
			end = strstr(r->buf + r->off, "\r\n\r\n");
			if (end != NULL) {
				break;
			}
		}
		cr_assert(fill(r), "connection closed before a response head");
	}
	hl           = (size_t) (end + 4 - (r->buf + r->off));
	char *head   = strndup(r->buf + r->off, hl);
	r->off      += hl;
	cr_assert_not_null(head);
	cr_assert_eq(sscanf(head, "HTTP/1.1 %d", &status), 1, "status line: %s", head);
	cr_assert_null(header_value(head, "Transfer-Encoding", v, sizeof(v)),
	    "files are sent with a length: %s", head);
	cr_assert_not_null(header_value(head, "Content-Length", v, sizeof(v)), "%s", head);
	bl = strtoul(v, NULL, 10);
	while (r->len - r->off < bl) {
		cr_assert(fill(r), "connection closed in a body (%zu of %zu)",
		    r->len - r->off, bl);
	}
	char *body = malloc(bl + 1);
	cr_assert_not_null(body);
	memcpy(body, r->buf + r->off, bl);
	body[bl] = '\0';
	r->off += bl;
	*headp = head;
	*bodyp = body;
	*lenp  = bl;
	return status;
}

Test(curl_interop, pipelining_raw_socket)
{
	struct sockaddr_in sa = { 0 };
	struct timeval     tv = { 15, 0 };
	char               req[NPIPE * 128], path[PATH_MAX], name[32];
	size_t             rl = 0;
	int                fd;

	setup();
	start_server(NULL, NULL);

	/* Ten GETs in one write; the big file in the middle, so that those
	 * after it wait behind 3 MiB; the last one asks to close. */
	for (int i = 0; i < NPIPE; i++) {
		const char *target = (i == 3) ? "/big.bin" : NULL;
		char        t[16];
		if (target == NULL) {
			snprintf(t, sizeof(t), "/p%d.txt", i);
			target = t;
		}
		rl += (size_t) snprintf(req + rl, sizeof(req) - rl,
		    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", target, port,
		    i == NPIPE - 1 ? "Connection: close\r\n" : "");
		cr_assert_lt(rl, sizeof(req));
	}

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0, "connect: %s",
	    strerror(errno));
	ssize_t n = send(fd, req, rl, MSG_NOSIGNAL);
	cr_assert_eq(n, (ssize_t) rl, "one write of %zu bytes: %zd", rl, n);

	reader r = { .fd = fd };
	for (int i = 0; i < NPIPE; i++) {
		char  *head, *body;
		size_t len, want_len;
		char  *want;

		if (i == 3) {
			snprintf(name, sizeof(name), "big.bin");
		} else {
			snprintf(name, sizeof(name), "p%d.txt", i);
		}
		path_in(path, sizeof(path), www, name);
		want = slurp(path, &want_len);
		cr_assert_not_null(want);
		int status = read_response(&r, &head, &body, &len);
		cr_expect_eq(status, 200, "response %d: %s", i, head);
		cr_expect_eq(len, want_len, "response %d (%s): %zu bytes, want %zu", i, name,
		    len, want_len);
		cr_expect(len == want_len && memcmp(body, want, len) == 0,
		    "response %d is not %s: %.60s", i, name, body);
		free(want);
		free(head);
		free(body);
	}
	/* Nothing more, and the server closes after "Connection: close". */
	while (!r.eof && r.len == r.off) {
		(void) fill(&r);
	}
	cr_expect(r.eof && r.len == r.off, "%zu bytes after the tenth response",
	    r.len - r.off);
	free(r.buf);
	close(fd);

	stop_server();
}

/* ------------------------------------------------------------------ HTTPS */

#ifdef NGHTTPW_HAVE_TLS
Test(curl_interop, https_verified_by_curl)
{
	const tls_test_certs *certs;
	char                  u[160], out[PATH_MAX], ca[PATH_MAX], cert[PATH_MAX],
	    key[PATH_MAX], resolve[64];
	curl_result r;

	setup();
	certs = tls_test_certs_get();
	cr_assert_not_null(certs, "making the test certificates failed");
	cr_assert_eq(tls_test_write_file(root, "ca.pem", certs->ca_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(root, "server.pem", certs->server_cert, NULL), 0);
	cr_assert_eq(tls_test_write_file(root, "server.key", certs->server_key, NULL), 0);
	path_in(ca, sizeof(ca), root, "ca.pem");
	path_in(cert, sizeof(cert), root, "server.pem");
	path_in(key, sizeof(key), root, "server.key");

	start_server(cert, key);

	/* By address: the certificate has IP:127.0.0.1. */
	path_in(out, sizeof(out), root, "big.dl");
	r = run_curl("--cacert", ca, "-o", out, "-w", "%{http_code} %{ssl_verify_result}",
	    url(u, sizeof(u), "/big.bin"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, "200 0");
	expect_file("big.dl", big, BIG_SIZE);
	curl_free(&r);

	/* By name: DNS:localhost (pinned to 127.0.0.1, where the server is,
	 * rather than whatever localhost resolves to first). */
	snprintf(resolve, sizeof(resolve), "localhost:%d:127.0.0.1", port);
	snprintf(u, sizeof(u), "https://localhost:%d/", port);
	r = run_curl("--cacert", ca, "--resolve", resolve, u, NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	cr_expect_str_eq(r.out, ROOT_INDEX);
	curl_free(&r);

	/* Keep-alive, a range and a redirect over TLS too. */
	char u2[160], u3[160];
	r = run_curl("--cacert", ca, "-r", "5-9", "-o", out, "-o", "/dev/null", "-o",
	    "/dev/null", "-w", "%{http_code} %{num_connects}\n",
	    url(u, sizeof(u), "/hello.txt"), url(u2, sizeof(u2), "/sub"),
	    url(u3, sizeof(u3), "/p1.txt"), NULL);
	cr_expect_eq(r.status, 0, "curl: %d: %s", r.status, r.err);
	int s1 = 0, s2 = 0, s3 = 0, c1 = -1, c2 = -1, c3 = -1;
	cr_expect_eq(sscanf(r.out, "%d %d\n%d %d\n%d %d", &s1, &c1, &s2, &c2, &s3, &c3), 6,
	    "%s", r.out);
	cr_expect(s1 == 206 && s2 == 301 && s3 == 206, "%s", r.out);
	cr_expect_eq(c1 + c2 + c3, 1, "connections: %s", r.out);
	expect_file("big.dl", &HELLO[5], 5);
	curl_free(&r);

	/* Without --cacert, curl does not trust the test CA: exit 60. */
	r = run_curl("-o", "/dev/null", url(u, sizeof(u), "/hello.txt"), NULL);
	cr_expect_eq(r.status, 60, "curl without --cacert: %d: %s", r.status, r.err);
	curl_free(&r);

	/* Plain HTTP to the TLS port is not answered with a file. */
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/hello.txt", port);
	r = run_curl("--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", u, NULL);
	cr_expect(r.status != 0 || strcmp(r.out, "200") != 0,
	    "plain http on the https port: %d %s", r.status, r.out);
	curl_free(&r);

	stop_server();
}
#endif
