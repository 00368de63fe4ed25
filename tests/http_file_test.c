/* The file and directory handlers: what they answer for each request,
 * called directly through their callback on a tree made for each test
 * (media types, index files, redirects, traversal and symlink escapes,
 * permissions, conditional requests, ranges, large files), then end to
 * end through a server on 127.0.0.1 with raw requests. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "http/http_file.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"
#include "support/pairs.h"

/* ------------------------------------------------------------ the tree */

static char base[PATH_MAX]; /* temp dir: root/ and outside/ */
static char root[PATH_MAX + 16];

#define BIG_SIZE (3u * 1024u * 1024u + 123u)
#define TEXT "hello, text\n"
#define LM_TIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */
#define LM_TEXT "Sun, 06 Nov 1994 08:49:37 GMT"

static void
put_file(const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot create %s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static void
put_text(const char *rel, const char *text)
{
	put_file(rel, text, strlen(text));
}

static void
put_dir(const char *rel)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	cr_assert_eq(mkdir(path, 0755), 0, "mkdir %s: %s", path, strerror(errno));
}

static void
put_link(const char *target, const char *rel)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof(path), "%s/%s", base, rel);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
}

static char *
path_of(const char *rel)
{
	char *p;
	cr_assert(asprintf(&p, "%s/%s", base, rel) > 0);
	return p;
}

static unsigned char *big_data;

static void
make_tree(void)
{
	char *p;

	/* ctest runs this program twice: as it is (openat2 on this
	 * kernel) and with NGHTTPW_FILE_WALK set (the realpath walk that
	 * stands in where openat2 is missing). */
	http_file_force_walk(getenv("NGHTTPW_FILE_WALK") != NULL);
	snprintf(base, sizeof(base), "/tmp/nghttpw-file-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	snprintf(root, sizeof(root), "%s/root", base);

	put_dir("root");
	put_dir("outside");
	put_text("outside/secret.txt", "SECRET\n");
	put_text("root/index.html", "<h1>root</h1>\n");
	put_text("root/a.txt", TEXT);
	put_text("root/style.css", "body{}\n");
	put_text("root/app.js", "let a;\n");
	put_text("root/mod.mjs", "export {};\n");
	put_text("root/data.json", "{}\n");
	put_text("root/README.md", "# hi\n");
	put_file("root/pic.png", "\x89PNG\r\n\x1a\n", 8);
	put_file("root/PHOTO.JPG", "\xff\xd8\xff", 3);
	put_text("root/noext", "x");
	put_text("root/page.htm", "<p>htm</p>\n");
	put_text("root/100%.txt", "percent\n");
	put_text("root/sp ace.txt", "space\n");
	put_file("root/empty.txt", "", 0);
	put_dir("root/sub");
	put_text("root/sub/index.html", "<h1>sub</h1>\n");
	put_text("root/sub/page.htm", "<p>sub page</p>\n");
	put_dir("root/noindex");
	put_text("root/noindex/file.txt", "file\n");
	put_dir("root/htmonly");
	put_text("root/htmonly/index.htm", "<p>index.htm</p>\n");
	put_dir("root/a");
	put_text("root/b", "b at the root\n");
	put_link("../outside/secret.txt", "root/escape.txt");
	put_link("../outside", "root/escapedir");
	put_link("a.txt", "root/inlink.txt");
	put_dir("root/evil");
	put_link("../../outside/secret.txt", "root/evil/index.html");
	put_text("root/noperm.txt", "nope\n");
	p = path_of("root/noperm.txt");
	cr_assert_eq(chmod(p, 0), 0);
	free(p);
	p = path_of("root/fifo");
	cr_assert_eq(mkfifo(p, 0644), 0);
	free(p);

	big_data = malloc(BIG_SIZE);
	cr_assert_not_null(big_data);
	fill_pattern(big_data, BIG_SIZE, 7);
	put_file("root/big.bin", big_data, BIG_SIZE);

	/* A known modification time for the date tests. */
	p = path_of("root/a.txt");
	struct timespec ts[2] = { { LM_TIME, 0 }, { LM_TIME, 0 } };
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) ftw;
	if (flag == FTW_DP) {
		return rmdir(path);
	}
	return unlink(path);
}

static void
remove_tree(void)
{
	if (base[0] != '\0') {
		(void) nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	free(big_data);
	big_data = NULL;
}

TestSuite(http_file, .init = make_tree, .fini = remove_tree, .timeout = 60);

/* ------------------------------------------------------- calling it */

static nghttpw_http_handler *
dir_handler(const char *path)
{
	nghttpw_http_handler *h;
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, path, root), 0);
	return h;
}

static nghttpw_http_handler *
file_handler(const char *path, const char *rel)
{
	nghttpw_http_handler *h;
	char                 *p = path_of(rel);
	cr_assert_eq(nghttpw_http_handler_alloc_file(&h, path, p), 0);
	free(p);
	return h;
}

/* Runs the handler's callback on a request, the way a server does, and
 * returns the response it produced. */
static nghttpw_http_res *
run(nghttpw_http_handler *h, nghttpw_http_req *req)
{
	nghttpw_aio      *aio;
	nghttpw_http_res *res;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	cr_assert(nghttpw_aio_begin(aio));
	nghttpw_aio_set_input(aio, 0, req);
	nghttpw_aio_set_input(aio, 1, h);
	nghttpw_aio_set_input(aio, 2, NULL);
	http_file_serve(aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "handler failed: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	res = nghttpw_aio_get_output(aio, 0);
	cr_assert_not_null(res);
	nghttpw_aio_free(aio);
	return res;
}

/* A request for uri with up to two header fields (name, value pairs,
 * NULL-terminated). */
static nghttpw_http_res *
request(nghttpw_http_handler *h, const char *method, const char *uri,
    const char *n1, const char *v1, const char *n2, const char *v2)
{
	nghttpw_http_req *req;
	nghttpw_http_res *res;

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_method(req, method), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, uri), 0, "bad uri %s", uri);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Host", "test"), 0);
	if (n1 != NULL) {
		cr_assert_eq(nghttpw_http_req_set_header(req, n1, v1), 0);
	}
	if (n2 != NULL) {
		cr_assert_eq(nghttpw_http_req_set_header(req, n2, v2), 0);
	}
	res = run(h, req);
	nghttpw_http_req_free(req);
	return res;
}

static nghttpw_http_res *
get(nghttpw_http_handler *h, const char *uri)
{
	return request(h, "GET", uri, NULL, NULL, NULL, NULL);
}

static nghttpw_http_res *
get1(nghttpw_http_handler *h, const char *uri, const char *name, const char *value)
{
	return request(h, "GET", uri, name, value, NULL, NULL);
}

/* The body, whether in memory or an open file; *lenp its length. */
static unsigned char *
body_of(nghttpw_http_res *res, size_t *lenp)
{
	int            fd;
	uint64_t       off, len;
	unsigned char *buf;

	if (nhw_http_msg_get_file(nhw_http_res_msg(res), &fd, &off, &len)) {
		buf = malloc(len + 1);
		cr_assert_not_null(buf);
		size_t got = 0;
		while (got < len) {
			ssize_t n = pread(fd, buf + got, len - got, (off_t) (off + got));
			cr_assert_gt(n, 0, "pread: %s", strerror(errno));
			got += (size_t) n;
		}
		buf[len] = 0;
		*lenp    = len;
		return buf;
	}
	void  *data;
	size_t size;
	nghttpw_http_res_get_data(res, &data, &size);
	buf = malloc(size + 1);
	cr_assert_not_null(buf);
	if (size > 0) {
		memcpy(buf, data, size);
	}
	buf[size] = 0;
	*lenp     = size;
	return buf;
}

static bool
body_is_file(nghttpw_http_res *res)
{
	int      fd;
	uint64_t off, len;
	return nhw_http_msg_get_file(nhw_http_res_msg(res), &fd, &off, &len);
}

/* Checks status, body (NULL: not checked) and Content-Type (NULL: not
 * checked), then frees the response. */
static void
expect(nghttpw_http_res *res, uint16_t status, const char *body, const char *type,
    const char *what)
{
	cr_expect_eq(nghttpw_http_res_get_status(res), status,
	    "%s: status %u, wanted %u", what, nghttpw_http_res_get_status(res),
	    status);
	if (body != NULL) {
		size_t         len;
		unsigned char *b = body_of(res, &len);
		cr_expect(len == strlen(body) && memcmp(b, body, len) == 0,
		    "%s: body '%s', wanted '%s'", what, b, body);
		char cl[32];
		snprintf(cl, sizeof(cl), "%zu", strlen(body));
		const char *got = nghttpw_http_res_get_header(res, "Content-Length");
		cr_expect(got != NULL && strcmp(got, cl) == 0,
		    "%s: Content-Length %s, wanted %s", what, got ? got : "(none)", cl);
		free(b);
	}
	if (type != NULL) {
		const char *ct = nghttpw_http_res_get_header(res, "Content-Type");
		cr_expect(ct != NULL && strcmp(ct, type) == 0,
		    "%s: Content-Type %s, wanted %s", what, ct ? ct : "(none)", type);
	}
	nghttpw_http_res_free(res);
}

static void
expect_header(nghttpw_http_res *res, const char *name, const char *value)
{
	const char *v = nghttpw_http_res_get_header(res, name);
	if (value == NULL) {
		cr_expect_null(v, "%s should be absent, is '%s'", name, v);
	} else {
		cr_expect(v != NULL && strcmp(v, value) == 0, "%s: '%s', wanted '%s'",
		    name, v ? v : "(none)", value);
	}
}

/* ------------------------------------------------------------- tests */

Test(http_file_mime, table)
{
	static const char *const cases[][2] = {
		{ "a.html", "text/html; charset=utf-8" },
		{ "a.htm", "text/html; charset=utf-8" },
		{ "a.css", "text/css; charset=utf-8" },
		{ "a.js", "text/javascript; charset=utf-8" },
		{ "a.mjs", "text/javascript; charset=utf-8" },
		{ "a.json", "application/json" },
		{ "a.txt", "text/plain; charset=utf-8" },
		{ "a.xml", "application/xml" },
		{ "a.svg", "image/svg+xml" },
		{ "a.png", "image/png" },
		{ "a.jpg", "image/jpeg" },
		{ "a.jpeg", "image/jpeg" },
		{ "a.gif", "image/gif" },
		{ "a.webp", "image/webp" },
		{ "a.ico", "image/x-icon" },
		{ "a.pdf", "application/pdf" },
		{ "a.wasm", "application/wasm" },
		{ "a.woff", "font/woff" },
		{ "a.woff2", "font/woff2" },
		{ "a.mp4", "video/mp4" },
		{ "a.webm", "video/webm" },
		{ "a.mp3", "audio/mpeg" },
		{ "a.ogg", "audio/ogg" },
		{ "a.zip", "application/zip" },
		{ "a.gz", "application/gzip" },
		{ "a.tar", "application/x-tar" },
		{ "a.csv", "text/csv; charset=utf-8" },
		{ "a.md", "text/markdown; charset=utf-8" },
		/* Every type of nng's table, as nng gives it unless noted. */
		{ "a.ai", "application/postscript" },
		{ "a.aif", "audio/aiff" },
		{ "a.aiff", "audio/aiff" },
		{ "a.avi", "video/avi" },
		{ "a.au", "audio/basic" },
		{ "a.bin", "application/octet-stream" },
		{ "a.bmp", "image/bmp" },
		{ "a.eps", "application/postscript" },
		{ "a.mp2", "video/mpeg" },
		{ "a.mpeg", "video/mpeg" },
		{ "a.mpg", "video/mpeg" },
		{ "a.ps", "application/postscript" },
		{ "a.rtf", "text/rtf" },
		{ "a.text", "text/plain; charset=utf-8" },
		{ "a.tif", "image/tiff" },
		{ "a.tiff", "image/tiff" },
		{ "a.wav", "audio/wav" },
		{ "docs/README", "text/plain; charset=utf-8" },
		{ "readme", "text/plain; charset=utf-8" },
		{ "README.bak", "application/octet-stream" },
		{ "NOTREADME", "application/octet-stream" },
		{ "dir.d/INDEX.HTML", "text/html; charset=utf-8" },
		{ "/x/y/archive.tar.gz", "application/gzip" },
		{ "Photo.JpEg", "image/jpeg" },
		{ "noext", "application/octet-stream" },
		{ ".profile", "application/octet-stream" },
		{ "trailing.", "application/octet-stream" },
		{ "dir.html/file", "application/octet-stream" },
		{ "a.unknownext", "application/octet-stream" },
		{ "a.c", "application/octet-stream" },
		{ "", "application/octet-stream" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_str_eq(http_mime_type(cases[i][0]), cases[i][1], "%s",
		    cases[i][0]);
	}
	cr_expect_str_eq(http_mime_type(NULL), "application/octet-stream");
}

Test(http_file, directory_serves_files_with_their_types)
{
	nghttpw_http_handler *h = dir_handler("/");
	nghttpw_http_res     *res;

	expect(get(h, "/a.txt"), 200, TEXT, "text/plain; charset=utf-8", "a.txt");
	expect(get(h, "/style.css"), 200, "body{}\n", "text/css; charset=utf-8", "css");
	expect(get(h, "/app.js"), 200, "let a;\n", "text/javascript; charset=utf-8", "js");
	expect(get(h, "/mod.mjs"), 200, NULL, "text/javascript; charset=utf-8", "mjs");
	expect(get(h, "/data.json"), 200, "{}\n", "application/json", "json");
	expect(get(h, "/README.md"), 200, "# hi\n", "text/markdown; charset=utf-8", "md");
	expect(get(h, "/pic.png"), 200, NULL, "image/png", "png");
	expect(get(h, "/PHOTO.JPG"), 200, "\xff\xd8\xff", "image/jpeg", "JPG");
	expect(get(h, "/noext"), 200, "x", "application/octet-stream", "noext");
	expect(get(h, "/page.htm"), 200, "<p>htm</p>\n", "text/html; charset=utf-8", "htm");
	expect(get(h, "/inlink.txt"), 200, TEXT, "text/plain; charset=utf-8", "link inside");
	expect(get(h, "/a.txt?x=1&y=../../etc"), 200, TEXT, NULL, "query ignored");
	expect(get(h, "/sub/page.htm"), 200, "<p>sub page</p>\n", NULL, "subdir");
	expect(get(h, "/noindex/file.txt"), 200, "file\n", NULL, "noindex file");
	expect(get(h, "//a.txt"), 200, TEXT, NULL, "double slash");
	expect(get(h, "/./a.txt"), 200, TEXT, NULL, "dot segment");
	expect(get(h, "http://test/a.txt"), 200, TEXT, NULL, "absolute form");

	res = get(h, "/a.txt");
	expect_header(res, "Accept-Ranges", "bytes");
	expect_header(res, "Last-Modified", LM_TEXT);
	cr_expect_not_null(nghttpw_http_res_get_header(res, "ETag"));
	cr_expect_eq(nghttpw_http_res_get_header(res, "ETag")[0], '"');
	/* A small file comes from the cache's memory. */
	cr_expect(!body_is_file(res), "a cached small file");
	nghttpw_http_res_free(res);
	cr_assert_eq(nghttpw_http_handler_set_file_cache(h, 0, 0, 0, 0), 0);
	res = get(h, "/a.txt");
	cr_expect(body_is_file(res), "without the cache: the open file");
	nghttpw_http_res_free(res);

	res = get(h, "/empty.txt");
	expect_header(res, "Content-Length", "0");
	expect(res, 200, "", "text/plain; charset=utf-8", "empty");

	nghttpw_http_handler_free(h);
}

Test(http_file, percent_decoding_happens_once)
{
	nghttpw_http_handler *h = dir_handler("/");

	expect(get(h, "/100%25.txt"), 200, "percent\n", NULL, "%25");
	expect(get(h, "/100%2525.txt"), 404, NULL, NULL, "%2525 (no second decoding)");
	expect(get(h, "/sp%20ace.txt"), 200, "space\n", NULL, "%20");
	expect(get(h, "/%61.txt"), 200, TEXT, NULL, "%61");
	expect(get(h, "/sub%2Fpage.htm"), 200, "<p>sub page</p>\n", NULL, "%2F");
	expect(get(h, "/%zz"), 400, NULL, NULL, "bad escape");
	expect(get(h, "/a.txt%2"), 400, NULL, NULL, "short escape");
	expect(get(h, "/a.txt%"), 400, NULL, NULL, "bare %");
	nghttpw_http_handler_free(h);
}

Test(http_file, index_files_and_directory_redirects)
{
	nghttpw_http_handler *h = dir_handler("/");
	nghttpw_http_res     *res;

	expect(get(h, "/"), 200, "<h1>root</h1>\n", "text/html; charset=utf-8", "root");
	expect(get(h, "/sub/"), 200, "<h1>sub</h1>\n", "text/html; charset=utf-8", "sub/");
	expect(get(h, "/htmonly/"), 200, "<p>index.htm</p>\n",
	    "text/html; charset=utf-8", "index.htm");
	expect(get(h, "/noindex/"), 404, NULL, NULL, "no index");
	expect(get(h, "/a.txt/"), 404, NULL, NULL, "file with a slash");
	expect(get(h, "/missing.txt"), 404, NULL, NULL, "missing");
	expect(get(h, "/missing/"), 404, NULL, NULL, "missing dir");

	res = get(h, "/sub");
	expect_header(res, "Location", "/sub/");
	expect(res, 301, NULL, NULL, "sub");
	res = get(h, "/sub?a=1&b=2");
	expect_header(res, "Location", "/sub/?a=1&b=2");
	expect(res, 301, NULL, NULL, "sub with query");
	res = get(h, "/s%75b");
	expect_header(res, "Location", "/s%75b/");
	expect(res, 301, NULL, NULL, "encoded dir name");
	nghttpw_http_handler_free(h);

	/* Under a prefix: the prefix itself is the root directory. */
	h   = dir_handler("/static");
	res = get(h, "/static");
	expect_header(res, "Location", "/static/");
	expect(res, 301, NULL, NULL, "prefix");
	expect(get(h, "/static/"), 200, "<h1>root</h1>\n", NULL, "prefix/");
	expect(get(h, "/static/a.txt"), 200, TEXT, NULL, "prefix file");
	expect(get(h, "/static/sub/"), 200, "<h1>sub</h1>\n", NULL, "prefix sub");
	expect(get(h, "/staticx/a.txt"), 404, NULL, NULL, "not at a boundary");
	expect(get(h, "/a.txt"), 404, NULL, NULL, "outside the prefix");
	nghttpw_http_handler_free(h);

	h = dir_handler("/static/");
	expect(get(h, "/static/a.txt"), 200, TEXT, NULL, "prefix with slash");
	nghttpw_http_handler_free(h);
}

Test(http_file, traversal_is_refused)
{
	nghttpw_http_handler *h = dir_handler("/");
	static const char *const uris[] = {
		"/../etc/passwd",
		"/../outside/secret.txt",
		"/%2e%2e/outside/secret.txt",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/a/..%2f..%2fb",
		"/a/..%2F..%2Foutside%2Fsecret.txt",
		"/%2E%2E/x",
		"/%2E%2E/outside/secret.txt",
		"/.%2e/outside/secret.txt",
		"/sub/../a.txt",
		"/sub/..",
		"/..",
		"/a.txt%00.html",
		"/%00",
		"/sub%00/index.html",
		"/sub\\..\\a.txt",
		"/..\\outside\\secret.txt",
		"/sub%5c..%5ca.txt",
		"/%5c..%5coutside%5csecret.txt",
		"/escape.txt",
		"/escapedir/secret.txt",
		"/escapedir/",
		"/evil/",
		"/evil/index.html",
		"http://test/../outside/secret.txt",
		"*",
	};
	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		nghttpw_http_res *res = get(h, uris[i]);
		size_t            len;
		unsigned char    *b = body_of(res, &len);
		cr_expect(strstr((char *) b, "SECRET") == NULL, "%s leaked", uris[i]);
		cr_expect(!body_is_file(res), "%s: a file body", uris[i]);
		free(b);
		expect(res, 404, NULL, NULL, uris[i]);
	}
	/* "b" exists at the root: a/../b would reach it, and still fails. */
	expect(get(h, "/b"), 200, "b at the root\n", NULL, "b itself");
	nghttpw_http_handler_free(h);

	/* A root reached through a symlink is fine; leaving it is not. */
	char *lnk = path_of("rootlink");
	cr_assert_eq(symlink(root, lnk), 0);
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, "/", lnk), 0);
	expect(get(h, "/a.txt"), 200, TEXT, NULL, "via linked root");
	expect(get(h, "/escape.txt"), 404, NULL, NULL, "escape via linked root");
	nghttpw_http_handler_free(h);
	free(lnk);
}

/* Whether this kernel has openat2 (Linux 5.6). */
static bool
kernel_has_openat2(void)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC };
	long            fd  = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));

	if (fd >= 0) {
		close((int) fd);
	}
	return fd >= 0;
}

Test(http_file, resolution_uses_openat2_unless_forced)
{
	nghttpw_http_handler *h = dir_handler("/");

	expect(get(h, "/a.txt"), 200, TEXT, NULL, "a file");
	if (getenv("NGHTTPW_FILE_WALK") != NULL) {
		cr_assert(!http_file_uses_openat2(), "the walk was asked for");
	} else if (kernel_has_openat2()) {
		cr_assert(http_file_uses_openat2(), "openat2 is there but unused");
	} else {
		cr_log_warn("no openat2 in this kernel: only the walk is tested");
	}
	nghttpw_http_handler_free(h);
}

/* openat2 refuses every absolute link; the walk still serves one that
 * stays in the tree, as before, and refuses one that leaves it. */
Test(http_file, absolute_links)
{
	nghttpw_http_handler *h = dir_handler("/");
	char                  target[PATH_MAX * 2];

	snprintf(target, sizeof(target), "%s/a.txt", root);
	put_link(target, "root/abs-in.txt");
	snprintf(target, sizeof(target), "%s/outside/secret.txt", base);
	put_link(target, "root/abs-out.txt");
	snprintf(target, sizeof(target), "%s/sub", root);
	put_link(target, "root/abs-sub");
	snprintf(target, sizeof(target), "%s/outside", base);
	put_link(target, "root/abs-outdir");

	expect(get(h, "/abs-in.txt"), 200, TEXT, NULL, "absolute link inside");
	expect(get(h, "/abs-sub/"), 200, "<h1>sub</h1>\n", NULL, "absolute dir link");
	expect(get(h, "/abs-out.txt"), 404, NULL, NULL, "absolute link out");
	expect(get(h, "/abs-outdir/secret.txt"), 404, NULL, NULL, "through it");
	expect(get(h, "/abs-outdir/"), 404, NULL, NULL, "the dir itself");
	nghttpw_http_handler_free(h);
}

/* Permission checks mean nothing to root: as root, the checks run with
 * the effective user nobody (the saved user stays root to come back). */
static bool
drop_root(void)
{
	if (geteuid() != 0) {
		return false;
	}
	cr_assert_eq(chmod(base, 0755), 0);
	cr_assert_eq(seteuid(65534), 0, "seteuid: %s", strerror(errno));
	return true;
}

static void
restore_root(bool dropped)
{
	if (dropped) {
		cr_assert_eq(seteuid(0), 0, "seteuid back: %s", strerror(errno));
	}
}

Test(http_file, unreadable_and_special_files)
{
	nghttpw_http_handler *h = dir_handler("/");
	bool                  dropped;
	char                 *d = path_of("root/sub");

	expect(get(h, "/fifo"), 403, NULL, NULL, "fifo");
	dropped = drop_root();
	expect(get(h, "/noperm.txt"), 403, NULL, NULL, "no permission");
	expect(get(h, "/a.txt"), 200, TEXT, NULL, "readable");
	restore_root(dropped);
	/* A directory that cannot be searched. */
	cr_assert_eq(chmod(d, 0), 0);
	dropped = drop_root();
	expect(get(h, "/sub/index.html"), 403, NULL, NULL, "closed dir");
	expect(get(h, "/sub/"), 403, NULL, NULL, "closed dir index");
	restore_root(dropped);
	cr_assert_eq(chmod(d, 0755), 0);
	free(d);
	nghttpw_http_handler_free(h);

	/* The root itself missing, or not a directory. */
	char *missing = path_of("nothing-here");
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, "/", missing), 0);
	expect(get(h, "/"), 404, NULL, NULL, "missing root");
	expect(get(h, "/a.txt"), 404, NULL, NULL, "missing root file");
	nghttpw_http_handler_free(h);
	free(missing);
	char *file = path_of("root/a.txt");
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, "/d", file), 0);
	expect(get(h, "/d"), 404, NULL, NULL, "file as root");
	expect(get(h, "/d/"), 404, NULL, NULL, "file as root/");
	nghttpw_http_handler_free(h);
	free(file);
}

Test(http_file, not_modified)
{
	nghttpw_http_handler *h = dir_handler("/");
	nghttpw_http_res     *res;
	char                  etag[128];

	res = get(h, "/a.txt");
	expect_header(res, "Last-Modified", LM_TEXT);
	snprintf(etag, sizeof(etag), "%s", nghttpw_http_res_get_header(res, "ETag"));
	nghttpw_http_res_free(res);

	static const char *const same_or_later[] = {
		LM_TEXT,
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"Sun, 06 Nov 1994 08:49:38 GMT",
		"Mon, 07 Nov 1994 00:00:00 GMT",
		"Thu, 01 Jan 2099 00:00:00 GMT",
	};
	for (size_t i = 0; i < sizeof(same_or_later) / sizeof(same_or_later[0]); i++) {
		res = get1(h, "/a.txt", "If-Modified-Since", same_or_later[i]);
		expect_header(res, "ETag", etag);
		expect_header(res, "Last-Modified", LM_TEXT);
		expect_header(res, "Content-Length", NULL);
		cr_expect(!body_is_file(res));
		size_t len;
		free(body_of(res, &len));
		cr_expect_eq(len, 0, "%s: a body", same_or_later[i]);
		expect(res, 304, NULL, NULL, same_or_later[i]);
	}
	static const char *const older_or_bad[] = {
		"Sun, 06 Nov 1994 08:49:36 GMT",
		"Sat, 05 Nov 1994 08:49:37 GMT",
		"Sun Nov  6 08:49:36 1994",
		"Thu, 01 Jan 1970 00:00:00 GMT",
		"yesterday",
		"Sun, 06 Nov 1994 08:49:37",
		"Sun, 06 Nov 1994 08:49:37 GMT x",
		"",
	};
	for (size_t i = 0; i < sizeof(older_or_bad) / sizeof(older_or_bad[0]); i++) {
		expect(get1(h, "/a.txt", "If-Modified-Since", older_or_bad[i]), 200,
		    TEXT, NULL, older_or_bad[i]);
	}

	/* Entity tags: If-None-Match wins over If-Modified-Since. */
	expect(get1(h, "/a.txt", "If-None-Match", etag), 304, NULL, NULL, "etag");
	char weak[160], list[200];
	snprintf(weak, sizeof(weak), "W/%s", etag);
	expect(get1(h, "/a.txt", "If-None-Match", weak), 304, NULL, NULL, "weak");
	snprintf(list, sizeof(list), "\"other\", %s", etag);
	expect(get1(h, "/a.txt", "If-None-Match", list), 304, NULL, NULL, "list");
	expect(get1(h, "/a.txt", "If-None-Match", "*"), 304, NULL, NULL, "*");
	expect(request(h, "GET", "/a.txt", "If-None-Match", "\"other\"",
	           "If-Modified-Since", LM_TEXT),
	    200, TEXT, NULL, "etag differs, date matches");

	/* HEAD is conditional too; other methods are not. */
	expect(request(h, "HEAD", "/a.txt", "If-Modified-Since", LM_TEXT, NULL, NULL),
	    304, NULL, NULL, "HEAD");
	expect(request(h, "POST", "/a.txt", "If-Modified-Since", LM_TEXT, NULL, NULL),
	    200, NULL, NULL, "POST");

	/* A file changed since: a new validator (at once with the cache
	 * off; the cache's own delay is tested in http_file_cache_test). */
	cr_assert_eq(nghttpw_http_handler_set_file_cache(h, 0, 0, 0, 0), 0);
	char *p = path_of("root/a.txt");
	cr_assert_eq(utimensat(AT_FDCWD, p, NULL, 0), 0);
	free(p);
	expect(get1(h, "/a.txt", "If-Modified-Since", LM_TEXT), 200, TEXT, NULL,
	    "touched");
	expect(get1(h, "/a.txt", "If-None-Match", etag), 200, TEXT, NULL,
	    "touched etag");
	nghttpw_http_handler_free(h);
}

/* A range request on big.bin: status, Content-Range and the exact bytes. */
static void
expect_range(nghttpw_http_handler *h, const char *range, uint64_t off,
    uint64_t len)
{
	nghttpw_http_res *res = get1(h, "/big.bin", "Range", range);
	char              want[96], cl[32];
	size_t            blen;

	cr_expect_eq(nghttpw_http_res_get_status(res), 206, "%s: status %u", range,
	    nghttpw_http_res_get_status(res));
	snprintf(want, sizeof(want), "bytes %llu-%llu/%u", (unsigned long long) off,
	    (unsigned long long) (off + len - 1), BIG_SIZE);
	expect_header(res, "Content-Range", want);
	snprintf(cl, sizeof(cl), "%llu", (unsigned long long) len);
	expect_header(res, "Content-Length", cl);
	expect_header(res, "Content-Type", "application/octet-stream");
	unsigned char *b = body_of(res, &blen);
	cr_expect_eq(blen, len, "%s: %zu bytes", range, blen);
	cr_expect(blen == len && memcmp(b, big_data + off, len) == 0,
	    "%s: wrong bytes", range);
	free(b);
	nghttpw_http_res_free(res);
}

Test(http_file, ranges)
{
	nghttpw_http_handler *h = dir_handler("/");
	nghttpw_http_res     *res;
	char                  r[64], unsat[64];

	expect_range(h, "bytes=0-9", 0, 10);
	expect_range(h, "bytes=0-0", 0, 1);
	expect_range(h, "bytes=1048576-2097151", 1048576, 1048576);
	expect_range(h, "bytes=1000-", 1000, BIG_SIZE - 1000);
	expect_range(h, "bytes=-5", BIG_SIZE - 5, 5);
	expect_range(h, "bytes=-1", BIG_SIZE - 1, 1);
	expect_range(h, "BYTES=3-4", 3, 2);
	expect_range(h, " bytes=3-4 ", 3, 2);
	expect_range(h, "bytes=10-99999999999999999999999", 10, BIG_SIZE - 10);
	expect_range(h, "bytes=-99999999999999999999999", 0, BIG_SIZE);
	expect_range(h, "bytes=-4000000", 0, BIG_SIZE);
	expect_range(h, "bytes=, 5-6,", 5, 2);
	snprintf(r, sizeof(r), "bytes=%u-", BIG_SIZE - 1);
	expect_range(h, r, BIG_SIZE - 1, 1);
	snprintf(r, sizeof(r), "bytes=%u-%u", BIG_SIZE - 2, BIG_SIZE + 100);
	expect_range(h, r, BIG_SIZE - 2, 2);

	/* Unsatisfiable: 416 with the size. */
	snprintf(unsat, sizeof(unsat), "bytes */%u", BIG_SIZE);
	snprintf(r, sizeof(r), "bytes=%u-", BIG_SIZE);
	static const char *const bad[] = { NULL, "bytes=-0",
		"bytes=99999999999999999999999-", "bytes=4000000-4000001" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *v = bad[i] != NULL ? bad[i] : r;
		res           = get1(h, "/big.bin", "Range", v);
		expect_header(res, "Content-Range", unsat);
		cr_expect(!body_is_file(res));
		expect(res, 416, NULL, NULL, v);
	}

	/* Ignored: the whole file, 200. */
	static const char *const whole[] = { "bytes=0-1,5-6", "bytes=0-1, -3",
		"bytes=5-2", "items=0-1", "bytes=abc", "bytes=", "bytes=1-2x",
		"bytes 0-1", "bytes=--1", "bytes=0-1-2" };
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
		size_t blen;
		res = get1(h, "/big.bin", "Range", whole[i]);
		cr_expect_eq(nghttpw_http_res_get_status(res), 200, "%s: %u",
		    whole[i], nghttpw_http_res_get_status(res));
		expect_header(res, "Content-Range", NULL);
		unsigned char *b = body_of(res, &blen);
		cr_expect(blen == BIG_SIZE && memcmp(b, big_data, BIG_SIZE) == 0,
		    "%s: not the whole file", whole[i]);
		free(b);
		nghttpw_http_res_free(res);
	}

	/* Small text file, and the empty one. */
	res = get1(h, "/a.txt", "Range", "bytes=0-4");
	expect_header(res, "Content-Range", "bytes 0-4/12");
	expect(res, 206, "hello", "text/plain; charset=utf-8", "a.txt 0-4");
	res = get1(h, "/a.txt", "Range", "bytes=-6");
	expect_header(res, "Content-Range", "bytes 6-11/12");
	expect(res, 206, " text\n", NULL, "a.txt -6");
	res = get1(h, "/empty.txt", "Range", "bytes=0-");
	expect_header(res, "Content-Range", "bytes */0");
	expect(res, 416, NULL, NULL, "empty 0-");
	expect(get1(h, "/empty.txt", "Range", "bytes=-5"), 200, "", NULL, "empty -5");

	/* HEAD gets the same head. */
	res = request(h, "HEAD", "/a.txt", "Range", "bytes=1-2", NULL, NULL);
	expect_header(res, "Content-Range", "bytes 1-2/12");
	expect(res, 206, "el", NULL, "HEAD range");

	/* If-Range: a matching validator keeps the range, else 200. */
	res = get(h, "/a.txt");
	char etag[128];
	snprintf(etag, sizeof(etag), "%s", nghttpw_http_res_get_header(res, "ETag"));
	nghttpw_http_res_free(res);
	char weak[140];
	snprintf(weak, sizeof(weak), "W/%s", etag);
	expect(request(h, "GET", "/a.txt", "Range", "bytes=0-4", "If-Range", etag),
	    206, "hello", NULL, "If-Range etag");
	expect(request(h, "GET", "/a.txt", "Range", "bytes=0-4", "If-Range", LM_TEXT),
	    206, "hello", NULL, "If-Range date");
	expect(request(h, "GET", "/a.txt", "Range", "bytes=0-4", "If-Range", "\"nope\""),
	    200, TEXT, NULL, "If-Range other etag");
	expect(request(h, "GET", "/a.txt", "Range", "bytes=0-4", "If-Range", weak),
	    200, TEXT, NULL, "If-Range weak");
	expect(request(h, "GET", "/a.txt", "Range", "bytes=0-4", "If-Range",
	           "Sun, 06 Nov 1994 08:49:38 GMT"),
	    200, TEXT, NULL, "If-Range other date");
	/* A fresh If-Modified-Since comes before the range. */
	expect(request(h, "GET", "/a.txt", "Range", "bytes=0-4", "If-Modified-Since",
	           LM_TEXT),
	    304, NULL, NULL, "IMS before Range");
	nghttpw_http_handler_free(h);
}

Test(http_file, large_file_is_not_read_into_memory)
{
	nghttpw_http_handler *h = dir_handler("/files");
	nghttpw_http_res     *res;
	size_t                len;
	char                  cl[32];

	res = get(h, "/files/big.bin");
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_expect(body_is_file(res));
	snprintf(cl, sizeof(cl), "%u", BIG_SIZE);
	expect_header(res, "Content-Length", cl);
	unsigned char *b = body_of(res, &len);
	cr_expect_eq(len, BIG_SIZE);
	cr_expect(memcmp(b, big_data, BIG_SIZE) == 0);
	free(b);
	nghttpw_http_res_free(res);
	nghttpw_http_handler_free(h);
}

Test(http_file, single_file_handler)
{
	nghttpw_http_handler *h;
	nghttpw_http_res     *res;

	h   = file_handler("/one", "root/data.json");
	res = get(h, "/one");
	expect_header(res, "Accept-Ranges", "bytes");
	cr_expect_not_null(nghttpw_http_res_get_header(res, "Last-Modified"));
	expect(res, 200, "{}\n", "application/json", "file");
	/* The request path plays no part in it. */
	expect(get(h, "/one?q=1"), 200, "{}\n", NULL, "file with query");
	res = get1(h, "/one", "Range", "bytes=1-");
	expect_header(res, "Content-Range", "bytes 1-2/3");
	expect(res, 206, "}\n", NULL, "file range");
	nghttpw_http_handler_free(h);

	h   = file_handler("/t", "root/a.txt");
	res = get1(h, "/t", "If-Modified-Since", LM_TEXT);
	expect(res, 304, NULL, NULL, "file 304");
	nghttpw_http_handler_free(h);

	/* Symlinks are the application's business here: followed. */
	h = file_handler("/s", "root/escape.txt");
	expect(get(h, "/s"), 200, "SECRET\n", "text/plain; charset=utf-8", "link");
	nghttpw_http_handler_free(h);

	h = file_handler("/m", "root/missing.txt");
	expect(get(h, "/m"), 404, NULL, NULL, "missing file");
	nghttpw_http_handler_free(h);
	h = file_handler("/d", "root/sub");
	expect(get(h, "/d"), 403, NULL, NULL, "a directory");
	nghttpw_http_handler_free(h);
	h = file_handler("/f", "root/fifo");
	expect(get(h, "/f"), 403, NULL, NULL, "a fifo");
	nghttpw_http_handler_free(h);
	h            = file_handler("/p", "root/noperm.txt");
	bool dropped = drop_root();
	expect(get(h, "/p"), 403, NULL, NULL, "no permission");
	restore_root(dropped);
	nghttpw_http_handler_free(h);
}

Test(http_file, alloc_arguments)
{
	nghttpw_http_handler *h;

	cr_expect_eq(nghttpw_http_handler_alloc_file(NULL, "/", "/tmp"), NGHTTPW_EINVAL);
	cr_expect_eq(nghttpw_http_handler_alloc_file(&h, "/", NULL), NGHTTPW_EINVAL);
	cr_expect_eq(nghttpw_http_handler_alloc_file(&h, "/", ""), NGHTTPW_EINVAL);
	cr_expect_eq(nghttpw_http_handler_alloc_directory(NULL, "/", "/tmp"),
	    NGHTTPW_EINVAL);
	cr_expect_eq(nghttpw_http_handler_alloc_directory(&h, "/", NULL),
	    NGHTTPW_EINVAL);
	cr_expect_eq(nghttpw_http_handler_alloc_directory(&h, "/", ""), NGHTTPW_EINVAL);

	/* The callback with its inputs missing fails the aio. */
	nghttpw_aio *aio;
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	cr_assert(nghttpw_aio_begin(aio));
	http_file_serve(aio);
	nghttpw_aio_wait(aio);
	cr_expect_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	cr_expect_null(nghttpw_aio_get_output(aio, 0));
	nghttpw_aio_free(aio);
}

/* ------------------------------------------------- through a server */

typedef struct {
	nghttpw_http_server *srv;
	int                  port;
} e2e;

/* A server on a free loopback port with the tree under /files and
 * data.json at /one. */
static e2e
e2e_start(void)
{
	e2e                   e;
	nghttpw_url          *url;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&e.srv, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_server_add_handler(e.srv, dir_handler("/files")), 0);
	h = file_handler("/one", "root/data.json");
	cr_assert_eq(nghttpw_http_server_add_handler(e.srv, h), 0);
	cr_assert_eq(nghttpw_http_server_start(e.srv), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(e.srv, &sa), 0);
	e.port = ntohs(sa.s_in.sa_port);
	return e;
}

static void
e2e_stop(e2e *e)
{
	nghttpw_http_server_stop(e->srv);
	nghttpw_http_server_release(e->srv); /* and its handlers */
}

static int
e2e_connect(e2e *e)
{
	int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { 0 };
	struct timeval     tv = { 10, 0 };

	cr_assert_geq(fd, 0);
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) e->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0,
	    "connect: %s", strerror(errno));
	return fd;
}

static void
e2e_send(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);
		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		off += (size_t) n;
	}
}

typedef struct {
	int            status;
	char          *head; /* NUL-terminated, with the final CRLF CRLF */
	unsigned char *body;
	size_t         len;
} raw_res;

/* The value of a field in a raw head, copied into buf; NULL when absent. */
static const char *
raw_header(const raw_res *r, const char *name, char *buf, size_t cap)
{
	size_t      n = strlen(name);
	const char *p = strstr(r->head, "\r\n");
	while (p != NULL && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ') {
				v++;
			}
			size_t vl = strcspn(v, "\r");
			snprintf(buf, cap, "%.*s", (int) vl, v);
			return buf;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

/* Reads one response; a body of Content-Length bytes unless no_body. */
static raw_res
e2e_read(int fd, bool no_body)
{
	raw_res r   = { 0 };
	size_t  cap = 16384, hl = 0;
	char    cl[32];

	r.head = calloc(1, cap);
	while (hl < 4 || memcmp(r.head + hl - 4, "\r\n\r\n", 4) != 0) {
		cr_assert_lt(hl, cap - 1, "head too long");
		cr_assert_eq(recv(fd, r.head + hl, 1, 0), 1, "head cut short: '%s'",
		    r.head);
		hl++;
	}
	cr_assert_eq(sscanf(r.head, "HTTP/1.1 %d", &r.status), 1, "%s", r.head);
	if (!no_body && raw_header(&r, "Content-Length", cl, sizeof(cl)) != NULL) {
		r.len = strtoul(cl, NULL, 10);
	}
	r.body = calloc(1, r.len + 1);
	for (size_t got = 0; got < r.len;) {
		ssize_t n = recv(fd, r.body + got, r.len - got, 0);
		cr_assert_gt(n, 0, "body cut short at %zu of %zu", got, r.len);
		got += (size_t) n;
	}
	return r;
}

static void
raw_free(raw_res *r)
{
	free(r->head);
	free(r->body);
}

/* Sends a request and reads its response. */
static raw_res
e2e_ask(int fd, const char *method, const char *target, const char *extra)
{
	char req[1024];
	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
	    method, target, extra != NULL ? extra : "");
	e2e_send(fd, req);
	return e2e_read(fd, strcmp(method, "HEAD") == 0);
}

static void
expect_raw(raw_res r, int status, const char *body, const char *what)
{
	cr_expect_eq(r.status, status, "%s: %d, wanted %d\n%s", what, r.status,
	    status, r.head);
	if (body != NULL) {
		cr_expect(r.len == strlen(body) && memcmp(r.body, body, r.len) == 0,
		    "%s: body '%s', wanted '%s'", what, r.body, body);
	}
	raw_free(&r);
}

Test(http_file, e2e_get_head_keepalive)
{
	e2e     e  = e2e_start();
	int     fd = e2e_connect(&e);
	raw_res r;
	char    v[128], cl[32];

	/* GET, HEAD, GET again: one connection throughout. */
	r = e2e_ask(fd, "GET", "/files/a.txt", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Type", v, sizeof(v)),
	    "text/plain; charset=utf-8");
	cr_expect_str_eq(raw_header(&r, "Last-Modified", v, sizeof(v)), LM_TEXT);
	cr_expect_str_eq(raw_header(&r, "Accept-Ranges", v, sizeof(v)), "bytes");
	expect_raw(r, 200, TEXT, "GET");

	r = e2e_ask(fd, "HEAD", "/files/a.txt", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Length", v, sizeof(v)), "12");
	cr_expect_str_eq(raw_header(&r, "Content-Type", v, sizeof(v)),
	    "text/plain; charset=utf-8");
	expect_raw(r, 200, "", "HEAD");

	r = e2e_ask(fd, "GET", "/files/", NULL);
	expect_raw(r, 200, "<h1>root</h1>\n", "index after HEAD");

	/* The large file goes out through sendfile; HEAD gives its length. */
	snprintf(cl, sizeof(cl), "%u", BIG_SIZE);
	r = e2e_ask(fd, "HEAD", "/files/big.bin", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Length", v, sizeof(v)), cl);
	expect_raw(r, 200, NULL, "HEAD big");
	r = e2e_ask(fd, "GET", "/files/big.bin", NULL);
	cr_expect_eq(r.status, 200);
	cr_expect(r.len == BIG_SIZE && memcmp(r.body, big_data, BIG_SIZE) == 0,
	    "big.bin: %zu bytes, or different", r.len);
	raw_free(&r);

	r = e2e_ask(fd, "GET", "/files/big.bin", "Range: bytes=1000000-1999999\r\n");
	cr_expect_str_eq(raw_header(&r, "Content-Range", v, sizeof(v)),
	    "bytes 1000000-1999999/3145851");
	cr_expect(r.len == 1000000 && memcmp(r.body, big_data + 1000000, 1000000) == 0,
	    "range of big.bin");
	expect_raw(r, 206, NULL, "range");

	r = e2e_ask(fd, "HEAD", "/files/big.bin", "Range: bytes=-10\r\n");
	cr_expect_str_eq(raw_header(&r, "Content-Length", v, sizeof(v)), "10");
	expect_raw(r, 206, NULL, "HEAD range");

	r = e2e_ask(fd, "GET", "/files/a.txt", "If-Modified-Since: " LM_TEXT "\r\n");
	cr_expect_null(raw_header(&r, "Content-Length", v, sizeof(v)));
	expect_raw(r, 304, "", "304");

	r = e2e_ask(fd, "GET", "/files/a.txt", "Range: bytes=100-\r\n");
	cr_expect_str_eq(raw_header(&r, "Content-Range", v, sizeof(v)), "bytes */12");
	expect_raw(r, 416, NULL, "416");

	r = e2e_ask(fd, "GET", "/one", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Type", v, sizeof(v)),
	    "application/json");
	expect_raw(r, 200, "{}\n", "file handler");

	/* Two requests sent at once. */
	e2e_send(fd, "GET /files/b HTTP/1.1\r\nHost: x\r\n\r\n"
	             "GET /files/sub/page.htm HTTP/1.1\r\nHost: x\r\n\r\n");
	expect_raw(e2e_read(fd, false), 200, "b at the root\n", "pipelined 1");
	expect_raw(e2e_read(fd, false), 200, "<p>sub page</p>\n", "pipelined 2");

	close(fd);
	e2e_stop(&e);
}

Test(http_file, e2e_redirects_and_refusals)
{
	e2e     e  = e2e_start();
	int     fd = e2e_connect(&e);
	raw_res r;
	char    v[256];

	r = e2e_ask(fd, "GET", "/files", NULL);
	cr_expect_str_eq(raw_header(&r, "Location", v, sizeof(v)), "/files/");
	expect_raw(r, 301, NULL, "/files");
	r = e2e_ask(fd, "GET", "/files/sub?x=1", NULL);
	cr_expect_str_eq(raw_header(&r, "Location", v, sizeof(v)), "/files/sub/?x=1");
	expect_raw(r, 301, NULL, "/files/sub");

	static const char *const bad[] = {
		"/files/../outside/secret.txt",
		"/files/%2e%2e/outside/secret.txt",
		"/files/%2E%2E/%2E%2E/etc/passwd",
		"/files/sub/..%2f..%2f..%2foutside/secret.txt",
		"/files/a.txt%00.html",
		"/files/..\\outside\\secret.txt",
		"/files/escape.txt",
		"/files/escapedir/secret.txt",
		"/files/evil/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = e2e_ask(fd, "GET", bad[i], NULL);
		cr_expect(r.status == 404 || r.status == 400, "%s: %d", bad[i], r.status);
		cr_expect(memmem(r.body, r.len, "SECRET", 6) == NULL, "%s leaked", bad[i]);
		bool closing = raw_header(&r, "Connection", v, sizeof(v)) != NULL &&
		    strcasecmp(v, "close") == 0;
		raw_free(&r);
		if (closing) {
			close(fd);
			fd = e2e_connect(&e);
		}
	}
	r = e2e_ask(fd, "GET", "/files/fifo", NULL);
	expect_raw(r, 403, NULL, "fifo");
	r = e2e_ask(fd, "GET", "/files/missing", NULL);
	expect_raw(r, 404, NULL, "missing");
	close(fd);
	e2e_stop(&e);
}

/* A directory handler owns its tree, as in nng: nothing else for GET may
 * go inside it (nor it over a tree), until set_tree makes it ordinary. */
Test(http_file, directory_tree_is_exclusive)
{
	nghttpw_http_server  *srv;
	nghttpw_url          *url;
	nghttpw_http_handler *dir, *h;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&srv, url), 0);
	nghttpw_url_free(url);
	dir = dir_handler("/files");
	cr_assert_eq(nghttpw_http_server_add_handler(srv, dir), 0);
	h = file_handler("/files/x", "root/a.txt");
	cr_expect_eq(nghttpw_http_server_add_handler(srv, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	h = dir_handler("/files/sub/");
	cr_expect_eq(nghttpw_http_server_add_handler(srv, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	h = dir_handler("/");
	cr_expect_eq(nghttpw_http_server_add_handler(srv, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	/* Another method may go inside. */
	h = file_handler("/files/x", "root/a.txt");
	cr_assert_eq(nghttpw_http_handler_set_method(h, "PUT"), 0);
	cr_expect_eq(nghttpw_http_server_add_handler(srv, h), 0);
	/* Made an ordinary tree, the directory takes company. */
	cr_assert_eq(nghttpw_http_server_del_handler(srv, dir), 0);
	cr_assert_eq(nghttpw_http_handler_set_tree(dir), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(srv, dir), 0);
	h = file_handler("/files/x", "root/a.txt");
	cr_expect_eq(nghttpw_http_server_add_handler(srv, h), 0);
	/* NULL is the root, as in nng. */
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, NULL, root), 0);
	cr_expect_eq(nghttpw_http_server_add_handler(srv, h), NGHTTPW_EADDRINUSE,
	    "the root's exclusive tree holds /files");
	nghttpw_http_handler_free(h);
	nghttpw_http_server_release(srv);
}

/* The directory handler's errors carry the server's custom pages, as in
 * nng (they are nghttpw_http_res_alloc_error responses). */
Test(http_file, e2e_errors_use_the_server_error_pages)
{
	e2e     e = e2e_start();
	int     fd;
	raw_res r;
	char    v[128];

	cr_assert_eq(nghttpw_http_server_set_error_page(e.srv, 404, "<p>lost</p>"), 0);
	cr_assert_eq(nghttpw_http_server_set_error_page(e.srv, 403, "<p>keep out</p>"), 0);
	fd = e2e_connect(&e);
	r  = e2e_ask(fd, "GET", "/files/missing", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Type", v, sizeof(v)),
	    "text/html; charset=UTF-8");
	expect_raw(r, 404, "<p>lost</p>", "missing file");
	r = e2e_ask(fd, "GET", "/files/noindex/", NULL);
	expect_raw(r, 404, "<p>lost</p>", "directory without index");
	r = e2e_ask(fd, "GET", "/files/fifo", NULL);
	expect_raw(r, 403, "<p>keep out</p>", "fifo");
	r = e2e_ask(fd, "HEAD", "/files/missing", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Length", v, sizeof(v)), "11");
	expect_raw(r, 404, "", "HEAD missing");
	/* Files still come as they are. */
	r = e2e_ask(fd, "GET", "/files/a.txt", NULL);
	expect_raw(r, 200, TEXT, "a.txt");
	close(fd);
	e2e_stop(&e);
}

/* ------------------------------------------------------------ listings */

/* root/list: names that are markup, need escaping or encoding, a dotfile,
 * directories (one of them reached through a link) and a link out. */
static void
make_list_tree(void)
{
	put_dir("root/list");
	put_dir("root/list/sub");
	put_text("root/list/sub/inner.txt", "inner\n");
	put_dir("root/list/zdir");
	put_dir("root/list/<b>x<");
	put_text("root/list/<b>x</b>", "bold\n"); /* the path "<b>x</b>" */
	put_text("root/list/<script>", "script\n");
	put_text("root/list/a b&c", "abc\n");
	put_text("root/list/.hidden", "hidden\n");
	put_text("root/list/q\"'.txt", "quotes\n");
	put_text("root/list/\xc3\xa9.txt", "e acute\n");
	put_link("sub", "root/list/in");
	put_link("../../outside", "root/list/out");
}

static nghttpw_http_handler *
listing_handler(const char *path)
{
	nghttpw_http_handler *h = dir_handler(path);
	cr_assert_eq(nghttpw_http_handler_set_listing(h, true), 0);
	return h;
}

/* The body of a response as a string (freed by the caller). */
static char *
body_text(nghttpw_http_res *res)
{
	size_t len;
	char  *b = (char *) body_of(res, &len);
	cr_expect_eq(strlen(b), len, "a NUL in the body");
	return b;
}

#define LIST_HEAD(path)                                                      \
	"<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"            \
	"<title>Index of " path "</title>\n</head>\n<body>\n"                    \
	"<h1>Index of " path "</h1>\n<hr>\n<ul>\n"
#define LIST_TAIL "</ul>\n<hr>\n</body>\n</html>\n"

Test(http_file, listing_is_off_by_default)
{
	nghttpw_http_handler *h;

	make_list_tree();
	h = dir_handler("/");
	expect(get(h, "/list/"), 404, NULL, NULL, "list, listings off");
	expect(get(h, "/noindex/"), 404, NULL, NULL, "noindex, listings off");
	/* On, then off again. */
	cr_assert_eq(nghttpw_http_handler_set_listing(h, true), 0);
	expect(get(h, "/noindex/"), 200, NULL, "text/html; charset=utf-8", "on");
	cr_assert_eq(nghttpw_http_handler_set_listing(h, false), 0);
	expect(get(h, "/noindex/"), 404, NULL, NULL, "off again");
	nghttpw_http_handler_free(h);
}

Test(http_file, listing_shows_escaped_sorted_entries)
{
	nghttpw_http_handler *h;
	nghttpw_http_res     *res;

	make_list_tree();
	h = listing_handler("/");
	/* Directories first, each sorted bytewise; names escaped in the
	 * text and percent-encoded in the links; ".hidden" left out. */
	static const char want[] = LIST_HEAD("/list/")
	    "<li><a href=\"../\">../</a></li>\n"
	    "<li><a href=\"%3Cb%3Ex%3C/\">&lt;b&gt;x&lt;/</a></li>\n"
	    "<li><a href=\"in/\">in/</a></li>\n"
	    "<li><a href=\"sub/\">sub/</a></li>\n"
	    "<li><a href=\"zdir/\">zdir/</a></li>\n"
	    "<li><a href=\"%3Cscript%3E\">&lt;script&gt;</a></li>\n"
	    "<li><a href=\"a%20b%26c\">a b&amp;c</a></li>\n"
	    "<li><a href=\"out\">out</a></li>\n"
	    "<li><a href=\"q%22%27.txt\">q&quot;&#39;.txt</a></li>\n"
	    "<li><a href=\"%C3%A9.txt\">\xc3\xa9.txt</a></li>\n" LIST_TAIL;
	res = get(h, "/list/");
	expect_header(res, "ETag", NULL);
	char *b = body_text(res);
	cr_expect_null(strstr(b, "<script>"), "raw markup in the listing");
	cr_expect_null(strstr(b, "<b>"), "raw markup in the listing");
	cr_expect_null(strstr(b, "href=\"./\""), "an entry for .");
	cr_expect_null(strstr(b, ">../</a></li>\n<li><a href=\"../\""), "two ..");
	free(b);
	expect(res, 200, want, "text/html; charset=utf-8", "list/");

	/* The links lead where they say. */
	expect(get(h, "/list/a%20b%26c"), 200, "abc\n", NULL, "a b&c");
	expect(get(h, "/list/%3Cscript%3E"), 200, "script\n", NULL, "<script>");
	expect(get(h, "/list/q%22%27.txt"), 200, "quotes\n", NULL, "quotes");
	expect(get(h, "/list/%C3%A9.txt"), 200, "e acute\n", NULL, "utf-8");
	expect(get(h, "/list/%3Cb%3Ex%3C/"), 200,
	    LIST_HEAD("/list/&lt;b&gt;x&lt;/")
	    "<li><a href=\"../\">../</a></li>\n"
	    "<li><a href=\"b%3E\">b&gt;</a></li>\n" LIST_TAIL,
	    "text/html; charset=utf-8", "<b>x</");
	expect(get(h, "/list/%3Cb%3Ex%3Cb%3E"), 404, NULL, NULL, "not a name");
	expect(get(h, "/list/%3Cb%3Ex%3C/b%3E"), 200, "bold\n", NULL, "<b>x</b>");
	expect(get(h, "/list/in/"), 200,
	    LIST_HEAD("/list/in/")
	    "<li><a href=\"../\">../</a></li>\n"
	    "<li><a href=\"inner.txt\">inner.txt</a></li>\n" LIST_TAIL,
	    NULL, "linked dir inside");
	expect(get(h, "/list/zdir/"), 200,
	    LIST_HEAD("/list/zdir/") "<li><a href=\"../\">../</a></li>\n" LIST_TAIL,
	    NULL, "empty dir");

	/* Still a redirect without the slash. */
	res = get(h, "/list");
	expect_header(res, "Location", "/list/");
	expect(res, 301, NULL, NULL, "list without slash");

	/* HEAD: the same head (the server drops the body). */
	res = request(h, "HEAD", "/list/", NULL, NULL, NULL, NULL);
	char cl[32];
	snprintf(cl, sizeof(cl), "%zu", strlen(want));
	expect_header(res, "Content-Length", cl);
	expect(res, 200, NULL, "text/html; charset=utf-8", "HEAD list/");
	nghttpw_http_handler_free(h);
}

Test(http_file, listing_keeps_index_and_root_rules)
{
	nghttpw_http_handler *h;
	char                 *dir;

	make_list_tree();
	h = listing_handler("/");
	/* An index is still served. */
	expect(get(h, "/"), 200, "<h1>root</h1>\n", "text/html; charset=utf-8", "root");
	expect(get(h, "/sub/"), 200, "<h1>sub</h1>\n", NULL, "sub/");
	expect(get(h, "/htmonly/"), 200, "<p>index.htm</p>\n", NULL, "index.htm");
	expect(get(h, "/noindex/"), 200,
	    LIST_HEAD("/noindex/")
	    "<li><a href=\"../\">../</a></li>\n"
	    "<li><a href=\"file.txt\">file.txt</a></li>\n" LIST_TAIL,
	    "text/html; charset=utf-8", "noindex/");
	expect(get(h, "/a.txt/"), 404, NULL, NULL, "file with a slash");
	expect(get(h, "/missing/"), 404, NULL, NULL, "missing dir");

	/* Nothing outside is listed: a linked directory leading out, a
	 * link out inside the listing, an index that leads out. */
	static const char *const out[] = { "/escapedir/", "/list/out/",
		"/list/out/secret.txt", "/evil/", "/%2e%2e/", "/%2e%2e/outside/",
		"/list/..%2f..%2f", "/list/sub/../../" };
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		nghttpw_http_res *res = get(h, out[i]);
		char             *b   = body_text(res);
		cr_expect_null(strstr(b, "secret"), "%s: listed outside", out[i]);
		free(b);
		expect(res, 404, NULL, NULL, out[i]);
	}
	nghttpw_http_handler_free(h);

	/* At the handler's own directory: no "../"; below a prefix the
	 * title has the whole path. */
	dir = path_of("root/list/sub");
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, "/s", dir), 0);
	cr_assert_eq(nghttpw_http_handler_set_listing(h, true), 0);
	static const char top[] = LIST_HEAD("/s/")
	    "<li><a href=\"inner.txt\">inner.txt</a></li>\n" LIST_TAIL;
	expect(get(h, "/s/"), 200, top, NULL, "top");
	expect(get(h, "/s/./"), 200, LIST_HEAD("/s/./")
	    "<li><a href=\"inner.txt\">inner.txt</a></li>\n" LIST_TAIL, NULL, "top/.");
	nghttpw_http_res *res = get(h, "/s");
	expect_header(res, "Location", "/s/");
	expect(res, 301, NULL, NULL, "top without slash");
	nghttpw_http_handler_free(h);
	free(dir);

	/* A directory that cannot be read. */
	h   = listing_handler("/");
	dir = path_of("root/list/zdir");
	cr_assert_eq(chmod(dir, 0311), 0);
	bool dropped = drop_root();
	expect(get(h, "/list/zdir/"), 403, NULL, NULL, "unreadable dir");
	restore_root(dropped);
	cr_assert_eq(chmod(dir, 0755), 0);
	free(dir);
	nghttpw_http_handler_free(h);
}

Test(http_file, listing_is_bounded)
{
	nghttpw_http_handler *h;
	char                  name[PATH_MAX + 64];

	put_dir("root/many");
	for (int i = 0; i < 10005; i++) {
		snprintf(name, sizeof(name), "%s/root/many/f%05d", base, i);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
		close(fd);
	}
	h = listing_handler("/");
	nghttpw_http_res *res = get(h, "/many/");
	char             *b   = body_text(res);
	size_t            n   = 0;
	for (const char *p = b; (p = strstr(p, "<li>")) != NULL; p++) {
		n++;
	}
	cr_expect_eq(n, 10001, "%zu items, wanted 10000 and ../", n);
	cr_expect_not_null(strstr(b, "<p>... 5 more entries not shown</p>\n"));
	free(b);
	expect(res, 200, NULL, "text/html; charset=utf-8", "many");
	nghttpw_http_handler_free(h);
}

Test(http_file, set_listing_arguments)
{
	nghttpw_http_handler *h;
	nghttpw_http_server  *srv;
	nghttpw_url          *url;
	int                   x;

	cr_expect_eq(nghttpw_http_handler_set_listing(NULL, true), NGHTTPW_EINVAL);

	h = file_handler("/f", "root/a.txt");
	cr_expect_eq(nghttpw_http_handler_set_listing(h, true), NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);

	cr_assert_eq(nghttpw_http_handler_alloc_static(&h, "/s", "x", 1, NULL), 0);
	cr_expect_eq(nghttpw_http_handler_set_listing(h, true), NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);

	cr_assert_eq(nghttpw_http_handler_alloc_redirect(&h, "/r", 0, "/x"), 0);
	cr_expect_eq(nghttpw_http_handler_set_listing(h, false), NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/c", http_file_serve), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h, &x, NULL), 0);
	cr_expect_eq(nghttpw_http_handler_set_listing(h, true), NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);

	/* A directory handler whose data was replaced is one no more. */
	h = dir_handler("/");
	cr_assert_eq(nghttpw_http_handler_set_data(h, NULL, NULL), 0);
	cr_expect_eq(nghttpw_http_handler_set_listing(h, true), NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);

	/* Registered: busy, and unchanged. */
	h = dir_handler("/");
	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&srv, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_server_add_handler(srv, h), 0);
	cr_expect_eq(nghttpw_http_handler_set_listing(h, true), NGHTTPW_EBUSY);
	expect(get(h, "/noindex/"), 404, NULL, NULL, "busy: still off");
	cr_assert_eq(nghttpw_http_server_del_handler(srv, h), 0);
	cr_expect_eq(nghttpw_http_handler_set_listing(h, true), 0);
	expect(get(h, "/noindex/"), 200, NULL, NULL, "removed: on");
	nghttpw_http_handler_free(h);
	nghttpw_http_server_release(srv);
}

Test(http_file, e2e_listing_get_and_head)
{
	e2e                   e;
	nghttpw_url          *url;
	nghttpw_sockaddr      sa;
	raw_res               r;
	char                  v[128], cl[32];
	int                   fd;

	make_list_tree();
	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&e.srv, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_server_add_handler(e.srv, listing_handler("/files")), 0);
	cr_assert_eq(nghttpw_http_server_start(e.srv), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(e.srv, &sa), 0);
	e.port = ntohs(sa.s_in.sa_port);
	fd     = e2e_connect(&e);

	r = e2e_ask(fd, "GET", "/files/list/", NULL);
	cr_expect_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(raw_header(&r, "Content-Type", v, sizeof(v)),
	    "text/html; charset=utf-8");
	cr_expect_not_null(strstr((char *) r.body,
	    "<li><a href=\"%3Cscript%3E\">&lt;script&gt;</a></li>\n"));
	cr_expect_not_null(strstr((char *) r.body, "<title>Index of /files/list/</title>"));
	snprintf(cl, sizeof(cl), "%zu", r.len);
	raw_free(&r);

	/* HEAD: the same length, no body; the connection goes on. */
	r = e2e_ask(fd, "HEAD", "/files/list/", NULL);
	cr_expect_str_eq(raw_header(&r, "Content-Length", v, sizeof(v)), cl);
	expect_raw(r, 200, NULL, "HEAD listing");
	r = e2e_ask(fd, "GET", "/files/list/a%20b%26c", NULL);
	expect_raw(r, 200, "abc\n", "after HEAD");
	r = e2e_ask(fd, "GET", "/files/", NULL);
	expect_raw(r, 200, "<h1>root</h1>\n", "index");
	r = e2e_ask(fd, "GET", "/files/escapedir/", NULL);
	expect_raw(r, 404, NULL, "linked dir outside");

	close(fd);
	e2e_stop(&e);
}

/* ------------------------------------------------------ hidden names */

/* The body of a 200 response as a string (freed by the caller); the
 * response is freed. */
static char *
page_text(nghttpw_http_res *res)
{
	char *b = body_text(res);

	cr_expect_eq(nghttpw_http_res_get_status(res), 200);
	nghttpw_http_res_free(res);
	return b;
}

/* A name that starts with a dot (".git", ".env") is neither served nor
 * listed, however its dot is spelled, but for "/.well-known/" at the top
 * of the site; set_dotfiles serves and lists them all. */
Test(http_file, hidden_names_are_refused_and_unlisted)
{
	static const char *const hidden[] = {
		"/.git/config", "/.git/", "/.git", "/%2egit/config",
		"/%2Egit/config", "/sub%2f.hidden", "/sub/.hidden", "/.env",
		"/./.env", "//.env", "/sub/%2e%68idden", "http://test/.env",
		"/site/.well-known/x", "/.well-known/../.env",
	};
	nghttpw_http_handler *h;
	char                 *site = path_of("root/site");
	char                 *b;

	put_dir("root/.git");
	put_text("root/.git/config", "[core]\n");
	put_text("root/.env", "SECRET=1\n");
	put_text("root/sub/.hidden", "hidden\n");
	put_dir("root/.well-known");
	put_text("root/.well-known/security.txt", "Contact: x\n");
	put_dir("root/site");
	put_dir("root/site/.well-known");
	put_text("root/site/.well-known/x", "x\n");
	put_dir("root/site/.git");
	put_text("root/site/page.txt", "page\n");

	h = listing_handler("/");
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		expect(get(h, hidden[i]), 404, NULL, NULL, hidden[i]);
	}
	expect(get(h, "/.well-known/security.txt"), 200, "Contact: x\n", NULL,
	    "well-known");
	expect(get(h, "/%2ewell-known/security.txt"), 200, "Contact: x\n", NULL,
	    "well-known, encoded");
	expect(get(h, "/./a.txt"), 200, TEXT, NULL, "a \".\" segment");
	b = page_text(get(h, "/site/"));
	cr_expect_null(strstr(b, ".git"), "%s", b);
	cr_expect_null(strstr(b, ".well-known"), "not the site's top: %s", b);
	cr_expect_not_null(strstr(b, "page.txt"), "%s", b);
	free(b);

	/* Served and listed when told to. */
	cr_assert_eq(nghttpw_http_handler_set_dotfiles(h, true), 0);
	expect(get(h, "/.git/config"), 200, "[core]\n", NULL, "dotfiles on");
	expect(get(h, "/%2eenv"), 200, "SECRET=1\n", NULL, "dotfiles on");
	expect(get(h, "/site/.well-known/x"), 200, "x\n", NULL, "dotfiles on");
	b = page_text(get(h, "/site/"));
	cr_expect_not_null(strstr(b, "href=\".git/\""), "%s", b);
	free(b);
	/* Off again: nothing found under the old rule is served from the
	 * cache. */
	cr_assert_eq(nghttpw_http_handler_set_dotfiles(h, false), 0);
	expect(get(h, "/.git/config"), 404, NULL, NULL, "dotfiles off again");
	nghttpw_http_handler_free(h);

	/* The site's top, served from a directory without an index. */
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&h, "/", site), 0);
	cr_assert_eq(nghttpw_http_handler_set_listing(h, true), 0);
	b = page_text(get(h, "/"));
	cr_expect_not_null(strstr(b, "href=\".well-known/\""), "%s", b);
	cr_expect_null(strstr(b, ".git"), "%s", b);
	free(b);
	expect(get(h, "/.well-known/x"), 200, "x\n", NULL, "top well-known");
	nghttpw_http_handler_free(h);
	free(site);

	cr_assert_eq(nghttpw_http_handler_set_dotfiles(NULL, true), NGHTTPW_EINVAL);
	h = file_handler("/f", "root/a.txt");
	cr_assert_eq(nghttpw_http_handler_set_dotfiles(h, true), NGHTTPW_EINVAL);
	cr_assert_eq(
	    nghttpw_http_handler_set_outside_links(h, true), NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);
}

/* Links that lead out of the tree are followed only when allowed, on
 * both resolution paths; ".." stays refused. */
Test(http_file, outside_links_only_when_allowed)
{
	nghttpw_http_handler *h = dir_handler("/");
	char                  target[PATH_MAX * 2];

	snprintf(target, sizeof(target), "%s/outside/secret.txt", base);
	put_link(target, "root/abs-out.txt");
	expect(get(h, "/escape.txt"), 404, NULL, NULL, "relative link out");
	cr_assert_eq(nghttpw_http_handler_set_outside_links(h, true), 0);
	expect(get(h, "/escape.txt"), 200, "SECRET\n", NULL, "relative, allowed");
	expect(get(h, "/escapedir/secret.txt"), 200, "SECRET\n", NULL,
	    "through a directory link, allowed");
	expect(get(h, "/abs-out.txt"), 200, "SECRET\n", NULL, "absolute, allowed");
	expect(get(h, "/../outside/secret.txt"), 404, NULL, NULL, "a .. segment");
	expect(get(h, "/%2e%2e/outside/secret.txt"), 404, NULL, NULL, "encoded ..");
	cr_assert_eq(nghttpw_http_handler_set_outside_links(h, false), 0);
	expect(get(h, "/escape.txt"), 404, NULL, NULL, "refused again");
	expect(get(h, "/abs-out.txt"), 404, NULL, NULL, "absolute, refused again");
	cr_assert_eq(nghttpw_http_handler_set_outside_links(NULL, true),
	    NGHTTPW_EINVAL);
	nghttpw_http_handler_free(h);
}
