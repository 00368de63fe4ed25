/* WebSocket against a real browser: headless Chromium loads a page from
 * our HTTP server and talks to our echo WebSocket on the same port (the
 * ws:// listener joins the HTTP server of its host:port).  The page sends
 * text with non-ASCII characters, a 70000-byte text and binary messages,
 * checks every echo byte for byte and its type, closes with 4000, and
 * reports with GET /done?<result line>, which the test waits for before
 * it kills the browser.  (--dump-dom with --virtual-time-budget does not
 * wait for WebSocket traffic: in two runs of four the DOM was printed,
 * and the browser gone, before the exchange ended.)
 * A second test does the same with nghttpw-serve --ws-deflate, serving
 * the page from a directory, with permessage-deflate agreed (Chromium
 * offers it) and large compressible messages; there the page's GET /done
 * is read from nghttpw-serve's access log.
 * tools/install-deps.sh installs chromium: its absence is a failure, not
 * a skip. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "nghttpw/http.h"
#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/child.h"
#include "support/programs.h"
#include "support/ws_util.h"

#define CHROMIUM_MS 60000 /* hard limit for the browser's run */

#define EXPECTED "RESULT ok text=2 binary=2 extensions=\"\" close=4000 clean=true"

/* The pages.  Their script sends its messages (want) at once, then
 * checks the echoes in order: the text and type of each and every byte,
 * the extensions (want_ext), then closes with 4000 and reports the close
 * event.  Any failure or a 20 s wait ends it with "RESULT fail ...".  The
 * line goes to /done, and into the title and the <pre> for whoever looks
 * at the page.  PAGE_HEAD and PAGE_TAIL are around the definitions of
 * want and want_ext of each page. */
#define PAGE_HEAD \
	"<!DOCTYPE html>\n" \
	"<html><head><meta charset=\"utf-8\"><title>running</title></head>\n" \
	"<body><pre id=\"result\">RESULT pending</pre>\n" \
	"<script>\n" \
	"\"use strict\";\n" \
	"(function () {\n" \
	"  var out = document.getElementById(\"result\");\n" \
	"  var errs = [], got = 0, ntext = 0, nbin = 0, ext = null, done = false;\n" \
	"  function finish(line) {\n" \
	"    if (done) { return; }\n" \
	"    done = true;\n" \
	"    out.textContent = line;\n" \
	"    document.title = line;\n" \
	"    fetch(\"/done?\" + encodeURIComponent(line)).catch(function () {});\n" \
	"  }\n" \
	"  function fail(why) { errs.push(why); }\n" \
	"  function summary(code, clean) {\n" \
	"    return \"text=\" + ntext + \" binary=\" + nbin + \" extensions=\" +\n" \
	"      JSON.stringify(ext) + \" close=\" + code + \" clean=\" + clean;\n" \
	"  }\n"

#define PAGE_TAIL \
	"  function same_text(i, a, b) {\n" \
	"    if (typeof a !== \"string\") {\n" \
	"      fail(\"echo \" + i + \": not text\"); return;\n" \
	"    }\n" \
	"    var x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);\n" \
	"    if (x.length !== y.length) {\n" \
	"      fail(\"echo \" + i + \": \" + x.length + \" bytes, sent \" + y.length);\n" \
	"      return;\n" \
	"    }\n" \
	"    for (var k = 0; k < x.length; k++) {\n" \
	"      if (x[k] !== y[k]) { fail(\"echo \" + i + \": byte \" + k); return; }\n" \
	"    }\n" \
	"    if (a !== b) { fail(\"echo \" + i + \": string differs\"); return; }\n" \
	"    ntext++;\n" \
	"  }\n" \
	"  function same_bin(i, a, b) {\n" \
	"    if (!(a instanceof ArrayBuffer)) {\n" \
	"      fail(\"echo \" + i + \": not an ArrayBuffer: \" + typeof a); return;\n" \
	"    }\n" \
	"    var x = new Uint8Array(a), y = new Uint8Array(b);\n" \
	"    if (x.length !== y.length) {\n" \
	"      fail(\"echo \" + i + \": \" + x.length + \" bytes, sent \" + y.length);\n" \
	"      return;\n" \
	"    }\n" \
	"    for (var k = 0; k < x.length; k++) {\n" \
	"      if (x[k] !== y[k]) { fail(\"echo \" + i + \": byte \" + k); return; }\n" \
	"    }\n" \
	"    nbin++;\n" \
	"  }\n" \
	"  var ws = new WebSocket(\"ws://\" + location.host + \"/ws\");\n" \
	"  ws.binaryType = \"arraybuffer\";\n" \
	"  setTimeout(function () {\n" \
	"    finish(\"RESULT fail timeout: \" + got + \" echoes, readyState \" +\n" \
	"      ws.readyState + \" \" + summary(\"none\", \"none\") +\n" \
	"      (errs.length ? \" errors: \" + errs.join(\"; \") : \"\"));\n" \
	"  }, 20000);\n" \
	"  ws.onopen = function () {\n" \
	"    ext = ws.extensions;\n" \
	"    if (ws.protocol !== \"\") { fail(\"protocol \" + ws.protocol); }\n" \
	"    for (var k = 0; k < want.length; k++) { ws.send(want[k]); }\n" \
	"  };\n" \
	"  ws.onerror = function () { fail(\"error event\"); };\n" \
	"  ws.onmessage = function (ev) {\n" \
	"    var i = got++;\n" \
	"    if (i >= want.length) { fail(\"extra message \" + i); return; }\n" \
	"    if (typeof want[i] === \"string\") {\n" \
	"      same_text(i, ev.data, want[i]);\n" \
	"    } else {\n" \
	"      same_bin(i, ev.data, want[i]);\n" \
	"    }\n" \
	"    if (got === want.length) {\n" \
	"      if (ext !== want_ext) { fail(\"extensions \" + JSON.stringify(ext)); }\n" \
	"      ws.close(4000, \"done\");\n" \
	"    }\n" \
	"  };\n" \
	"  ws.onclose = function (ev) {\n" \
	"    if (got !== want.length) { fail(got + \" echoes\"); }\n" \
	"    if (ev.code !== 4000) { fail(\"close code \" + ev.code); }\n" \
	"    if (!ev.wasClean) { fail(\"not clean\"); }\n" \
	"    finish(\"RESULT \" + (errs.length ? \"fail\" : \"ok\") + \" \" +\n" \
	"      summary(ev.code, ev.wasClean) +\n" \
	"      (errs.length ? \" errors: \" + errs.join(\"; \") : \"\"));\n" \
	"  };\n" \
	"})();\n" \
	"</script>\n" \
	"</body></html>\n"

/* Text with non-ASCII characters, a 70000-byte text, 256 bytes of
 * binary and an empty binary message; no extensions (Chromium offers
 * permessage-deflate, which the server refuses). */
static const char page[] =
    PAGE_HEAD
    "  /* Two-byte, three-byte and four-byte (a surrogate pair in JS)\n"
    "     characters, NUL and U+FFFF; and 10000 times a 7-byte piece. */\n"
    "  var uni = \"h\\u00e9llo w\\u00f6rld \\u2713 \\u65e5\\u672c\\u8a9e \" +\n"
    "    \"\\ud83d\\ude00 \\u0000 \\uffff end\";\n"
    "  var big = \"abcde\\u00e9\".repeat(10000);\n"
    "  var bytes = new Uint8Array(256);\n"
    "  for (var i = 0; i < 256; i++) { bytes[i] = i; }\n"
    "  var want = [uni, big, bytes.buffer, new ArrayBuffer(0)];\n"
    "  var want_ext = \"\";\n"
    "  if (new TextEncoder().encode(big).length !== 70000) {\n"
    "    fail(\"big text is not 70000 bytes\");\n"
    "  }\n"
    PAGE_TAIL;

/* ------------------------------------------------------- /done?result */

static pthread_mutex_t done_mtx  = PTHREAD_MUTEX_INITIALIZER;
static char            done_line[1024];
static bool            done_seen = false;

static int
hexval(int c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	if (c >= 'a' && c <= 'f') {
		return (c - 'a' + 10);
	}
	if (c >= 'A' && c <= 'F') {
		return (c - 'A' + 10);
	}
	return (-1);
}

/* Percent-decodes src (up to '#' or its end) into dst. */
static void
unescape(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	while (*src != '\0' && *src != '#' && n < cap - 1) {
		if (src[0] == '%' && hexval(src[1]) >= 0 && hexval(src[2]) >= 0) {
			dst[n++] = (char) (hexval(src[1]) * 16 + hexval(src[2]));
			src += 3;
		} else {
			dst[n++] = *src++;
		}
	}
	dst[n] = '\0';
}

/* GET /done?<line>: keeps the first line and answers 204. */
static void
done_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	const char       *uri = nghttpw_http_req_get_uri(req);
	const char       *q   = strchr(uri, '?');
	nghttpw_http_res *res;
	int               rv;

	pthread_mutex_lock(&done_mtx);
	if (!done_seen) {
		unescape(done_line, sizeof(done_line), q != NULL ? q + 1 : "");
		done_seen = true;
	}
	pthread_mutex_unlock(&done_mtx);
	if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_http_res_set_status(res, 204);
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static bool
done_get(char *line, size_t cap)
{
	bool seen;

	pthread_mutex_lock(&done_mtx);
	seen = done_seen;
	if (seen) {
		snprintf(line, cap, "%s", done_line);
	}
	pthread_mutex_unlock(&done_mtx);
	return (seen);
}

/* ----------------------------------------------------------- chromium */

/* Chromium runs in a process group of its own, so that the browser and
 * the processes it starts (zygote, renderer, utility) are killed
 * together, and this process is a subreaper, so that those that leave
 * the group (the crash handler, double-forked into a session of its own)
 * or lose their parent become our children, to be killed and reaped
 * here.  PDEATHSIG kills the browser if this worker dies (a Criterion
 * timeout). */
static pid_t browser_pgid = -1;
static char  tmpdir[64]   = "";

static long
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L);
}

static int
rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void) st;
	(void) type;
	(void) ftw;
	remove(path);
	return (0);
}

/* SIGKILL to every child of this process: all of them are the browser's
 * (this worker starts no other process).  Found in /proc, as
 * /proc/<pid>/task/<tid>/children is not in every kernel. */
static void
kill_children(void)
{
	DIR           *d = opendir("/proc");
	struct dirent *ent;

	if (d == NULL) {
		return;
	}
	while ((ent = readdir(d)) != NULL) {
		char  path[300], stat[512], *rp;
		FILE *f;
		int   ppid = 0;
		pid_t pid  = (pid_t) atoi(ent->d_name);

		if (pid <= 0) {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%s/stat", ent->d_name);
		if ((f = fopen(path, "r")) == NULL) {
			continue;
		}
		if (fgets(stat, sizeof(stat), f) != NULL &&
		    (rp = strrchr(stat, ')')) != NULL &&
		    sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == getpid()) {
			kill(pid, SIGKILL);
		}
		fclose(f);
	}
	closedir(d);
}

/* Kills the browser's process group and every child left, reaps them
 * all, removes the profile directory.  Idempotent: the test calls it,
 * and .fini again when an assertion ended the test early. */
static void
browser_stop(void)
{
	int status;

	if (browser_pgid > 0) {
		kill(-browser_pgid, SIGKILL);
		/* Each round kills the children there are (those just
		 * reparented to us included) and reaps one; it ends when no
		 * child is left. */
		for (;;) {
			kill_children();
			if (waitpid(-1, &status, 0) < 0 && errno == ECHILD) {
				break;
			}
		}
		browser_pgid = -1;
	}
	if (tmpdir[0] != '\0') {
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		tmpdir[0] = '\0';
	}
}

TestSuite(ws_browser, .fini = browser_stop, .timeout = 120);

/* Starts path with argv in a new process group; its standard output and
 * error go to tmpdir/output, HOME is tmpdir.  Its pid. */
static pid_t
browser_start(const char *path, char *const argv[])
{
	extern char **environ;
	char          home[80], outpath[80];
	char         *envp[256];
	size_t        n = 0;
	int           in, out;
	pid_t         pid, parent = getpid();

	snprintf(home, sizeof(home), "HOME=%s", tmpdir);
	snprintf(outpath, sizeof(outpath), "%s/output", tmpdir);
	for (char **e = environ; *e != NULL && n < 250; e++) {
		if (strncmp(*e, "HOME=", 5) != 0 && strncmp(*e, "XDG_", 4) != 0) {
			envp[n++] = *e;
		}
	}
	envp[n++] = home;
	envp[n]   = NULL;
	cr_assert_geq(in = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	cr_assert_geq(out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), 0);
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	fflush(NULL);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		setpgid(0, 0);
		(void) prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(127);
		}
		dup2(in, STDIN_FILENO);
		dup2(out, STDOUT_FILENO);
		dup2(out, STDERR_FILENO);
		execve(path, argv, envp);
		_exit(127);
	}
	setpgid(pid, pid); /* either of the two calls wins the race */
	browser_pgid = pid;
	close(in);
	close(out);
	return (pid);
}

/* Logs the browser's output (its first lines, without the noise of a
 * machine with no D-Bus). */
static void
log_browser_output(void)
{
	char  path[80], line[512];
	FILE *f;
	int   n = 0;

	snprintf(path, sizeof(path), "%s/output", tmpdir);
	if ((f = fopen(path, "r")) == NULL) {
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL && n < 40) {
		line[strcspn(line, "\n")] = '\0';
		if (strstr(line, "ERROR:dbus/") == NULL) {
			cr_log_info("chromium: %s", line);
			n++;
		}
	}
	fclose(f);
}

static int
ntohs_port(const nghttpw_sockaddr *sa)
{
	uint16_t p = sa->s_family == NGHTTPW_AF_INET6 ? sa->s_in6.sa_port : sa->s_in.sa_port;
	return (ntohs(p));
}

/* The chromium to run, in path; fails the test when it is not there. */
static void
find_chromium(char *path, size_t cap)
{
	if (!program_in_path("chromium", path, cap)) {
		snprintf(path, cap, "/usr/bin/chromium");
	}
	cr_assert_eq(access(path, X_OK), 0,
	    "chromium is not installed: tools/install-deps.sh installs it "
	    "(apt-get install --no-install-recommends chromium)");
}

/* Runs chromium on pageurl, with a new profile in tmpdir (made here),
 * until reported(line) says the page reported, the browser ends (it
 * should not), or the time limit; then kills it (browser_stop) and
 * checks that the page reported want.  stop_server, if not NULL, is
 * called before the browser is killed (which kills every child). */
static void
browse(const char *chromium, const char *pageurl, bool (*reported)(char *, size_t),
    void (*stop_server)(void), const char *want)
{
	char  profile[96], line[1024];
	int   status, exited = -1;
	bool  posted = false;
	pid_t pid;
	long  t0;

	snprintf(profile, sizeof(profile), "--user-data-dir=%s", tmpdir);
	char *argv[] = { "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
		"--no-first-run", profile, (char *) pageurl, NULL };
	cr_log_info("%s %s %s %s %s %s %s", chromium, argv[1], argv[2], argv[3],
	    argv[4], argv[5], argv[6]);

	/* Until the page reports, the browser ends (it should not), or the
	 * time limit. */
	t0  = now_ms();
	pid = browser_start(chromium, argv);
	while (!(posted = reported(line, sizeof(line))) && now_ms() - t0 < CHROMIUM_MS) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = status;
			posted = reported(line, sizeof(line));
			break;
		}
		usleep(20000);
	}
	cr_log_info("page after %ld ms: %s", now_ms() - t0,
	    posted ? line : "(no GET /done)");
	if (!posted || strcmp(line, want) != 0) {
		log_browser_output();
	}
	if (stop_server != NULL) {
		stop_server();
	}
	browser_stop();

	cr_assert(posted || exited == -1,
	    "chromium ended (wait status 0x%x) before the page reported", exited);
	cr_assert(posted, "the page did not report within %d s", CHROMIUM_MS / 1000);
	cr_assert_str_eq(line, want);
}

static void
make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nghttpw-chromium-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

Test(ws_browser, chromium_talks_to_our_echo_server)
{
	nghttpw_http_server  *hs;
	nghttpw_http_handler *h;
	nghttpw_url          *url;
	nghttpw_sockaddr      sa;
	ws_echo              *e;
	char                  chromium[256], wsurl[64], pageurl[64];
	int                   port, wsport = 0, rv;

	find_chromium(chromium, sizeof(chromium));

	/* The HTTP server first, for its port; then the WebSocket listener
	 * on that host:port, which holds the same server. */
	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&hs, url), 0);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/", page, sizeof(page) - 1, "text/html; charset=UTF-8"),
	    0);
	cr_assert_eq(nghttpw_http_server_add_handler(hs, h), 0);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/done", done_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(hs, h), 0);
	cr_assert_eq(nghttpw_http_server_start(hs), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(hs, &sa), 0);
	port = ntohs_port(&sa);
	snprintf(wsurl, sizeof(wsurl), "ws://127.0.0.1:%d/ws", port);
	rv = ws_echo_start(wsurl, 1u << 20, &e, &wsport);
	cr_assert_eq(rv, 0,
	    "%s did not join the HTTP server started on http://127.0.0.1:0 "
	    "(now on port %d): %s", wsurl, port, nghttpw_strerror(rv));
	cr_assert_eq(wsport, port);

	make_tmpdir();
	snprintf(pageurl, sizeof(pageurl), "http://127.0.0.1:%d/", port);
	browse(chromium, pageurl, done_get, NULL, EXPECTED);

	ws_echo_stop(e);
	nghttpw_http_server_stop(hs);
	nghttpw_http_server_release(hs); /* frees its handlers */
	nghttpw_url_free(url);
}

/* ------------------------------------- nghttpw-serve --ws-deflate */

/* Chromium offers permessage-deflate ("permessage-deflate;
 * client_max_window_bits"), which nghttpw-serve --ws-deflate accepts:
 * ws.extensions must say so, and large compressible text and binary (and
 * incompressible binary) come back the same, compressed both ways: by
 * Chromium, which compresses every message, and by nghttpw-serve, which
 * compresses those of 1 KiB or more. */
#define EXPECTED_DEFLATE \
	"RESULT ok text=3 binary=4 extensions=\"permessage-deflate\" close=4000 " \
	"clean=true"

static const char page_deflate[] =
    PAGE_HEAD
    "  var uni = \"h\\u00e9llo w\\u00f6rld \\u2713 \\u65e5\\u672c\\u8a9e \" +\n"
    "    \"\\ud83d\\ude00 \\u0000 \\uffff end\";\n"
    "  /* 300000 bytes of JSON-like text; 500000 bytes of binary that\n"
    "     repeats every 100 bytes; 100000 random bytes. */\n"
    "  var parts = [];\n"
    "  for (var i = 0; i < 12000; i++) {\n"
    "    parts.push(\"{\\\"id\\\":\" + i + \",\\\"name\\\":\\\"item \" + (i % 97) +\n"
    "      \"\\\",\\\"ok\\\":true},\");\n"
    "  }\n"
    "  var json = parts.join(\"\").slice(0, 300000);\n"
    "  var rec = new Uint8Array(500000);\n"
    "  for (var i = 0; i < rec.length; i++) { rec[i] = ((i % 100) * 37) & 255; }\n"
    "  var noise = new Uint8Array(100000);\n"
    "  for (var o = 0; o < noise.length; o += 65536) {\n"
    "    crypto.getRandomValues(noise.subarray(o, Math.min(o + 65536, noise.length)));\n"
    "  }\n"
    "  var small = new Uint8Array([0, 1, 2, 255]);\n"
    "  var want = [uni, json, \"small\", rec.buffer, noise.buffer, small.buffer,\n"
    "    new ArrayBuffer(0)];\n"
    "  var want_ext = \"permessage-deflate\";\n"
    "  if (json.length !== 300000) { fail(\"json is \" + json.length + \" bytes\"); }\n"
    PAGE_TAIL;

static child serve;

/* The page's GET /done?<line> in nghttpw-serve's access log: "... \"GET
 * /done?<line> HTTP/1.1\" 404 ...". */
static bool
serve_reported(char *line, size_t cap)
{
	char        log[2048];
	const char *p, *q;
	char        target[1024];

	while (serve.pid > 0 && child_line(&serve, log, sizeof(log), 20) == 0) {
		if ((p = strstr(log, "\"GET /done?")) != NULL &&
		    (q = strstr(p, " HTTP/1.1\"")) != NULL) {
			p += strlen("\"GET /done?");
			snprintf(target, sizeof(target), "%.*s", (int) (q - p), p);
			unescape(line, cap, target);
			return (true);
		}
	}
	return (false);
}

static int serve_status = -3;

/* SIGTERM: nghttpw-serve stops and exits 0 (the status, -1 for a signal,
 * -2 when it had to be killed, in serve_status). */
static void
serve_stop(void)
{
	serve_status = child_stop(&serve, SIGTERM, 10000);
	serve.pid    = 0;
}

Test(ws_browser, chromium_deflate_with_nghttpw_serve)
{
	char  chromium[256], serve_path[PATH_MAX], www[128], file[192], line[512];
	char  pageurl[96];
	char *argv[9];
	int   port = 0;
	FILE *f;

	find_chromium(chromium, sizeof(chromium));
	if (!built_tool("nghttpw-serve", serve_path, sizeof(serve_path))) {
		cr_skip_test("nghttpw-serve is not built");
	}
	make_tmpdir();
	snprintf(www, sizeof(www), "%s/www", tmpdir);
	cr_assert_eq(mkdir(www, 0700), 0, "mkdir %s: %s", www, strerror(errno));
	snprintf(file, sizeof(file), "%s/deflate.html", www);
	cr_assert_not_null(f = fopen(file, "w"));
	cr_assert_eq(fwrite(page_deflate, 1, sizeof(page_deflate) - 1, f), sizeof(page_deflate) - 1);
	cr_assert_eq(fclose(f), 0);

	argv[0] = "nghttpw-serve";
	argv[1] = "--listen";
	argv[2] = "http://127.0.0.1:0";
	argv[3] = "--ws-echo";
	argv[4] = "/ws";
	argv[5] = "--ws-deflate";
	argv[6] = www;
	argv[7] = NULL;
	cr_assert_eq(child_start(&serve, serve_path, argv), 0);
	cr_assert_eq(child_line(&serve, line, sizeof(line), 10000), 0, "no start line");
	cr_assert_not_null(strstr(line, "http://127.0.0.1:"), "start line: '%s'", line);
	port = atoi(strstr(line, "http://127.0.0.1:") + strlen("http://127.0.0.1:"));
	cr_assert_gt(port, 0, "start line: '%s'", line);

	snprintf(pageurl, sizeof(pageurl), "http://127.0.0.1:%d/deflate.html", port);
	browse(chromium, pageurl, serve_reported, serve_stop, EXPECTED_DEFLATE);
	cr_assert_eq(serve_status, 0, "nghttpw-serve after SIGTERM: status %d", serve_status);
}
