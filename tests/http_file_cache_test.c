/* The open-file cache of the directory handler, end to end through a
 * server on 127.0.0.1 and raw keep-alive connections: changes to a file
 * (written in place, renamed over, deleted, made unreadable) are seen
 * within the revalidation time and never missed after it; revalidation 0
 * caches nothing; the entry and byte limits hold, least recently used
 * out first; conditional and range requests are answered from entries; a
 * small cached file leaves in one segment; many threads share one entry
 * while it is being replaced (run under TSan too). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_file.h"
#include "nghttpw/http.h"
#include "support/tmp_dir.h"

static char dir[256];

static void
setup(void)
{
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "fcache"), 0);
	cr_assert_eq(chmod(dir, 0755), 0); /* for the unreadable case */
}

static void
teardown(void)
{
	tmp_dir_remove(dir);
}

TestSuite(http_file_cache, .init = setup, .fini = teardown, .timeout = 60);

static void
put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "wb"), "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	cr_assert_eq(fclose(f), 0);
}

/* Writes text over the file's bytes, keeping its inode. */
static void
rewrite(const char *name, const char *text)
{
	char path[512];
	int  fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert((fd = open(path, O_WRONLY | O_TRUNC)) >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t) strlen(text));
	cr_assert_eq(close(fd), 0);
}

/* A new file renamed over the old one, as deployments do. */
static void
replace(const char *name, const char *text)
{
	char tmp[64], path[512], to[512];

	snprintf(tmp, sizeof(tmp), ".%s.new", name);
	put(tmp, text);
	snprintf(path, sizeof(path), "%s/%s", dir, tmp);
	snprintf(to, sizeof(to), "%s/%s", dir, name);
	cr_assert_eq(rename(path, to), 0);
}

static char *
path_of(const char *name)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* ------------------------------------------------------- the server */

typedef struct {
	nghttpw_http_server  *srv;
	nghttpw_http_handler *h;
	uint16_t              port;
} served;

static served
serve_dir(const char *root, nghttpw_duration revalidate, size_t entries,
    size_t bytes, size_t small)
{
	served           s;
	nghttpw_url     *url;
	nghttpw_sockaddr sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s.srv, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc_directory(&s.h, "/", root), 0);
	cr_assert_eq(nghttpw_http_handler_set_file_cache(
	                 s.h, revalidate, entries, bytes, small),
	    0);
	cr_assert_eq(nghttpw_http_server_add_handler(s.srv, s.h), 0);
	cr_assert_eq(nghttpw_http_server_start(s.srv), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s.srv, &sa), 0);
	s.port = ntohs(sa.s_in.sa_port);
	return s;
}

static served
serve(nghttpw_duration revalidate, size_t entries, size_t bytes, size_t small)
{
	return serve_dir(dir, revalidate, entries, bytes, small);
}

static void
unserve(served *s)
{
	nghttpw_http_server_release(s->srv);
}

static int
dial(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval     tv = { .tv_sec = 10 };
	int                fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

typedef struct {
	int    status;
	char   head[2048];
	char   body[24000];
	size_t len;
} reply;

/* One request on the keep-alive connection fd (extra: more header lines,
 * each ending in CRLF, or ""); the whole reply.  Not cr_assert, so that
 * it may run in other threads: status -1 when anything goes wrong. */
static reply
ask(int fd, const char *method, const char *path, const char *extra)
{
	reply  r = { .status = -1 };
	char   req[1024], buf[65536];
	size_t got = 0, need;
	char  *end, *cl;
	int    n;

	n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
	    method, path, extra);
	if (send(fd, req, (size_t) n, MSG_NOSIGNAL) != n) {
		return r;
	}
	for (;;) {
		ssize_t k = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (k <= 0) {
			return r;
		}
		got += (size_t) k;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL) {
			continue;
		}
		cl   = strcasestr(buf, "\r\nContent-Length: ");
		need = (size_t) (end + 4 - buf);
		if (cl != NULL && cl < end && strcmp(method, "HEAD") != 0) {
			need += strtoul(cl + 18, NULL, 10);
		}
		if (got >= need) {
			break;
		}
	}
	r.status = atoi(buf + 9);
	snprintf(r.head, sizeof(r.head), "%.*s", (int) (end + 4 - buf), buf);
	r.len = got - (size_t) (end + 4 - buf);
	memcpy(r.body, end + 4, r.len < sizeof(r.body) ? r.len : sizeof(r.body));
	r.body[r.len < sizeof(r.body) ? r.len : sizeof(r.body) - 1] = '\0';
	return r;
}

static reply
get(int fd, const char *path)
{
	return ask(fd, "GET", path, "");
}

static void
expect(reply r, int status, const char *body, const char *what)
{
	cr_expect_eq(r.status, status, "%s: status %d, wanted %d", what,
	    r.status, status);
	if (body != NULL) {
		cr_expect_str_eq(r.body, body, "%s: body '%s', wanted '%s'", what,
		    r.body, body);
	}
}

/* ----------------------------------------------- seeing changes */

#define REVALIDATE 250 /* ms */

/* After change() at t0, asks until the answer is new: it must be new by
 * REVALIDATE ms (and a little for the clock's milliseconds), and never
 * old again after that. */
static void
seen_in_time(served *s, const char *path, int status, const char *body,
    const char *what)
{
	int          fd = dial(s->port);
	nghttpw_time t0 = nghttpw_clock(), started;
	bool         fresh = false;
	reply        r;

	for (;;) {
		started = nghttpw_clock();
		r       = get(fd, path);
		cr_assert_neq(r.status, -1, "%s: no answer", what);
		bool is_new = r.status == status && (body == NULL ||
		                  strcmp(r.body, body) == 0);
		if (fresh || started >= t0 + REVALIDATE + 2) {
			cr_assert(is_new, "%s: stale %d '%s' %u ms after the change",
			    what, r.status, r.body, (unsigned) (started - t0));
		}
		fresh = fresh || is_new;
		if (started >= t0 + REVALIDATE + 100) {
			break;
		}
		nghttpw_msleep(5);
	}
	close(fd);
}

/* With a long revalidation time, an entry is used as it is: what proves
 * that there is a cache at all (and the tests above can fail). */
Test(http_file_cache, entries_are_used_until_revalidated)
{
	served s = serve(60000, 100, 1 << 20, 16384);
	int    fd;

	put("a.txt", "version 1\n");
	fd = dial(s.port);
	expect(get(fd, "/a.txt"), 200, "version 1\n", "first");
	rewrite("a.txt", "version 2\n");
	expect(get(fd, "/a.txt"), 200, "version 1\n", "cached");
	close(fd);
	unserve(&s);
}

Test(http_file_cache, changes_are_seen_within_the_revalidation_time)
{
	served s = serve(REVALIDATE, 100, 1 << 20, 16384);
	char   big[20000];
	int    fd;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put("a.txt", "version 1\n");
	put("b.txt", "bbb\n");
	put("c.txt", "ccc\n");
	put("big.txt", big); /* held open, not in memory */
	fd = dial(s.port);
	expect(get(fd, "/a.txt"), 200, "version 1\n", "a");
	expect(get(fd, "/b.txt"), 200, "bbb\n", "b");
	expect(get(fd, "/c.txt"), 200, "ccc\n", "c");
	expect(get(fd, "/big.txt"), 200, NULL, "big");
	expect(get(fd, "/"), 404, NULL, "no index yet");
	close(fd);

	rewrite("a.txt", "version 2\n"); /* same size, in place */
	seen_in_time(&s, "/a.txt", 200, "version 2\n", "written in place");
	replace("b.txt", "BBB\n");
	seen_in_time(&s, "/b.txt", 200, "BBB\n", "renamed over");
	cr_assert_eq(unlink(path_of("c.txt")), 0);
	seen_in_time(&s, "/c.txt", 404, NULL, "deleted");
	rewrite("big.txt", "short now\n"); /* truncated under its fd */
	seen_in_time(&s, "/big.txt", 200, "short now\n", "large, rewritten");

	/* An index served, then an index.html put before the index.htm. */
	put("index.htm", "htm\n");
	fd = dial(s.port);
	expect(get(fd, "/"), 200, "htm\n", "index.htm");
	close(fd);
	put("index.html", "html\n");
	seen_in_time(&s, "/", 200, "html\n", "index.html put in");

	/* Root reads anything: the requests go as nobody, which the
	 * server's threads become too (seteuid is process-wide). */
	bool root = geteuid() == 0;
	if (root) {
		cr_assert_eq(seteuid(65534), 0, "seteuid: %s", strerror(errno));
	}
	fd = dial(s.port);
	expect(get(fd, "/a.txt"), 200, "version 2\n", "readable");
	close(fd);
	cr_assert_eq(root ? seteuid(0) : 0, 0);
	cr_assert_eq(chmod(path_of("a.txt"), 0), 0);
	cr_assert_eq(root ? seteuid(65534) : 0, 0);
	seen_in_time(&s, "/a.txt", 403, NULL, "made unreadable");
	cr_assert_eq(root ? seteuid(0) : 0, 0);
	unserve(&s);
}

/* Deployments switch a symbolic link from one release to the next: the
 * handler's directory, held open, follows it in the same time. */
Test(http_file_cache, a_directory_switched_by_a_link_is_followed)
{
	char   root[512];
	served s;
	int    fd;

	cr_assert_eq(mkdir(path_of("v1"), 0755), 0);
	cr_assert_eq(mkdir(path_of("v2"), 0755), 0);
	put("v1/index.html", "one\n");
	put("v2/index.html", "two\n");
	put("v2/new.txt", "new\n");
	cr_assert_eq(symlink("v1", path_of("current")), 0);
	snprintf(root, sizeof(root), "%s/current", dir);
	for (int off = 0; off < 2; off++) {
		s  = serve_dir(root, off ? 0 : REVALIDATE, 100, 1 << 20, 16384);
		fd = dial(s.port);
		expect(get(fd, "/"), 200, off ? "two\n" : "one\n", "before");
		expect(get(fd, "/index.html"), 200, off ? "two\n" : "one\n", "before");
		close(fd);
		cr_assert_eq(symlink(off ? "v1" : "v2", path_of("next")), 0);
		cr_assert_eq(rename(path_of("next"), root), 0);
		if (off) { /* no cache: at once */
			fd = dial(s.port);
			expect(get(fd, "/"), 200, "one\n", "switched back");
			expect(get(fd, "/new.txt"), 404, NULL, "not in v1");
			close(fd);
		} else {
			seen_in_time(&s, "/", 200, "two\n", "switched: index");
			seen_in_time(&s, "/index.html", 200, "two\n", "switched: file");
			seen_in_time(&s, "/new.txt", 200, "new\n", "switched: new file");
		}
		unserve(&s);
	}
}

Test(http_file_cache, revalidate_zero_caches_nothing)
{
	served s = serve(0, 100, 1 << 20, 16384);
	size_t entries = 1, bytes = 1;
	int    fd;

	put("a.txt", "version 1\n");
	fd = dial(s.port);
	expect(get(fd, "/a.txt"), 200, "version 1\n", "first");
	rewrite("a.txt", "version 2\n");
	expect(get(fd, "/a.txt"), 200, "version 2\n", "at once");
	cr_assert(http_file_handler_cache_usage(s.h, &entries, &bytes));
	cr_expect_eq(entries, 0);
	cr_expect_eq(bytes, 0);
	close(fd);
	unserve(&s);
}

/* ------------------------------------------------------- limits */

Test(http_file_cache, limits_hold_least_recently_used_out)
{
	served s = serve(60000, 3, 100, 16384);
	size_t entries, bytes;
	char   name[32], want[64];
	int    fd;

	/* 40 bytes each: at most two fit in 100 bytes. */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "f%d.txt", i);
		snprintf(want, sizeof(want), "%-39d\n", i);
		put(name, want);
	}
	fd = dial(s.port);
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "/f%d.txt", i);
		snprintf(want, sizeof(want), "%-39d\n", i);
		expect(get(fd, name), 200, want, name);
		cr_assert(http_file_handler_cache_usage(s.h, &entries, &bytes));
		cr_expect_leq(entries, 3);
		cr_expect_leq(bytes, 100);
	}
	cr_expect_eq(bytes, 80);

	/* f8 and f9 in memory; f8 used last, then f0 pushes f9 out. */
	expect(get(fd, "/f8.txt"), 200, NULL, "f8 again");
	expect(get(fd, "/f0.txt"), 200, NULL, "f0 again");
	rewrite("f8.txt", "eight, changed\n");
	rewrite("f9.txt", "nine, changed\n");
	snprintf(want, sizeof(want), "%-39d\n", 8);
	expect(get(fd, "/f8.txt"), 200, want, "f8 kept (stale by design)");
	expect(get(fd, "/f9.txt"), 200, "nine, changed\n", "f9 was evicted");

	/* An entry count bound with files too large for memory. */
	close(fd);
	unserve(&s);
	s  = serve(60000, 2, 0, 16384);
	fd = dial(s.port);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "/f%d.txt", i);
		expect(get(fd, name), 200, NULL, name);
		cr_assert(http_file_handler_cache_usage(s.h, &entries, &bytes));
		cr_expect_leq(entries, 2);
		cr_expect_eq(bytes, 0, "nothing in memory with 0 bytes");
	}
	cr_expect_eq(entries, 2);
	close(fd);
	unserve(&s);
}

/* Entries nobody asks for go after a while (60 s; 600 ms here), so that
 * a file deleted on disk is not held open for ever. */
Test(http_file_cache, unused_entries_go)
{
	served s = serve(60000, 100, 1 << 20, 16);
	size_t entries, bytes;
	int    fd;

	cr_assert(http_file_handler_cache_inactive(s.h, 600));
	put("a.txt", "a file held open\n");
	put("b.txt", "b\n");
	put("c.txt", "c\n");
	fd = dial(s.port);
	expect(get(fd, "/a.txt"), 200, NULL, "a");
	expect(get(fd, "/b.txt"), 200, NULL, "b");
	nghttpw_msleep(400);
	expect(get(fd, "/b.txt"), 200, NULL, "b used again");
	cr_assert(http_file_handler_cache_usage(s.h, &entries, &bytes));
	cr_expect_eq(entries, 2);
	nghttpw_msleep(400); /* a unused for 800 ms, b for 400 */
	expect(get(fd, "/c.txt"), 200, NULL, "c");
	cr_assert(http_file_handler_cache_usage(s.h, &entries, &bytes));
	cr_expect_eq(entries, 2, "a went, b and c stay");
	cr_expect_eq(bytes, 4, "b and c in memory");
	close(fd);
	unserve(&s);
}

/* --------------------------------------- conditionals and ranges */

Test(http_file_cache, conditionals_and_ranges_from_entries)
{
	served s = serve(60000, 100, 1 << 20, 100);
	char   big[301], etag[128], hdr[256], *p;
	reply  r;
	int    fd;

	for (int i = 0; i < 300; i++) {
		big[i] = (char) ('a' + i % 26);
	}
	big[300] = '\0';
	put("small.txt", "0123456789");
	put("big.txt", big); /* over small (100): held open */
	fd = dial(s.port);
	for (int round = 0; round < 2; round++) { /* a miss, then hits */
		r = get(fd, "/small.txt");
		expect(r, 200, "0123456789", "small");
		cr_assert_not_null(p = strstr(r.head, "ETag: "));
		snprintf(etag, sizeof(etag), "%.*s", (int) strcspn(p + 6, "\r"), p + 6);
		snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
		r = ask(fd, "GET", "/small.txt", hdr);
		expect(r, 304, "", "304 small");
		r = ask(fd, "GET", "/small.txt", "Range: bytes=2-4\r\n");
		expect(r, 206, "234", "206 small");
		cr_expect_not_null(strstr(r.head, "Content-Range: bytes 2-4/10\r\n"));
		r = ask(fd, "GET", "/small.txt", "Range: bytes=20-\r\n");
		expect(r, 416, NULL, "416 small");
		cr_expect_not_null(strstr(r.head, "Content-Range: bytes */10\r\n"));
		r = ask(fd, "HEAD", "/small.txt", "");
		expect(r, 200, "", "HEAD small");
		cr_expect_not_null(strstr(r.head, "Content-Length: 10\r\n"));

		r = ask(fd, "GET", "/big.txt", "Range: bytes=-5\r\n");
		expect(r, 206, big + 295, "206 big");
		r = get(fd, "/big.txt");
		expect(r, 200, big, "big");
		cr_assert_not_null(p = strstr(r.head, "Last-Modified: "));
		snprintf(hdr, sizeof(hdr), "If-Modified-Since: %.*s\r\n",
		    (int) strcspn(p + 15, "\r"), p + 15);
		expect(ask(fd, "GET", "/big.txt", hdr), 304, "", "304 big");
	}
	close(fd);
	unserve(&s);
}

/* ---------------------------------------------------- one write */

static unsigned
segs_in(int fd)
{
	struct tcp_info ti;
	socklen_t       len = sizeof(ti);

	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_data_segs_in;
}

/* A cached small file leaves with its head in one send: the client's
 * socket receives it as one segment (loopback: nothing splits it). */
Test(http_file_cache, small_file_leaves_in_one_segment)
{
	served   s = serve(60000, 100, 1 << 20, 16384);
	unsigned before;
	int      fd;

	put("index.html", "<h1>hello</h1>"); /* 14 bytes, as the bench */
	fd = dial(s.port);
	expect(get(fd, "/"), 200, "<h1>hello</h1>", "the miss");
	for (int i = 0; i < 20; i++) {
		before = segs_in(fd);
		expect(get(fd, "/"), 200, "<h1>hello</h1>", "a hit");
		cr_expect_eq(segs_in(fd) - before, 1, "%u segments",
		    segs_in(fd) - before);
	}
	close(fd);
	unserve(&s);
}

/* Lines of a head that start with name and a colon. */
static int
count_field(const char *head, const char *name)
{
	int    n   = 0;
	size_t len = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		n += strncasecmp(p + 2, name, len) == 0 && p[2 + len] == ':';
	}
	return n;
}

/* A hit's unchanging fields come formatted by the entry: each once, as
 * on the miss, also beside a server-wide field of the same name (which
 * then stays out, as for any answer that has the field). */
Test(http_file_cache, a_hit_has_each_field_once)
{
	static const char *const fields[] = { "Last-Modified", "ETag",
		"Content-Type", "Accept-Ranges", "Content-Length", "Date" };
	served s = serve(60000, 100, 1 << 20, 16384);
	int    fd;

	put("a.txt", "hello");
	cr_assert_eq(nghttpw_http_server_set_header(s.srv, "Accept-Ranges", "none"), 0);
	cr_assert_eq(nghttpw_http_server_set_header(s.srv, "X-Site", "yes"), 0);
	fd = dial(s.port);
	for (int i = 0; i < 3; i++) {
		reply r = get(fd, "/a.txt");
		expect(r, 200, "hello", i == 0 ? "the miss" : "a hit");
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			cr_expect_eq(count_field(r.head, fields[k]), 1, "%s %d times:\n%s",
			    fields[k], count_field(r.head, fields[k]), r.head);
		}
		cr_expect(strcasestr(r.head, "\r\nAccept-Ranges: bytes\r\n") != NULL, "%s", r.head);
		cr_expect(strcasestr(r.head, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL, "%s", r.head);
		cr_expect_eq(count_field(r.head, "X-Site"), 1, "%s", r.head);
	}
	close(fd);
	unserve(&s);
}

/* --------------------------------------------------- many threads */

#define CLIENTS 6
#define ROUNDS 300

static served          shared;
static atomic_bool     stop_writer;
static atomic_int      bad_answers;

static void *
client(void *arg)
{
	int fd = dial(shared.port);

	(void) arg;
	for (int i = 0; i < ROUNDS; i++) {
		reply r = get(fd, "/hot.txt");
		/* Whichever version, always a whole one. */
		if (r.status != 200 || r.len != 32 || r.body[0] != r.body[31] ||
		    strspn(r.body, (char[]) { r.body[0], 0 }) != 32) {
			atomic_fetch_add(&bad_answers, 1);
		}
	}
	close(fd);
	return NULL;
}

static void *
writer(void *arg)
{
	char text[33];
	char tmp[512], to[512];
	int  v = 0;

	(void) arg;
	snprintf(to, sizeof(to), "%s/hot.txt", dir);
	snprintf(tmp, sizeof(tmp), "%s/.hot.new", dir);
	while (!atomic_load(&stop_writer)) {
		memset(text, 'A' + v++ % 26, 32);
		text[32] = '\0';
		FILE *f = fopen(tmp, "wb");
		if (f == NULL || fwrite(text, 1, 32, f) != 32 || fclose(f) != 0 ||
		    rename(tmp, to) != 0) {
			atomic_fetch_add(&bad_answers, 1000);
			return NULL;
		}
		nghttpw_msleep(2);
	}
	return NULL;
}

Test(http_file_cache, many_threads_share_one_entry, .timeout = 120)
{
	pthread_t c[CLIENTS], w;

	put("hot.txt", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	shared = serve(1, 100, 1 << 20, 16384); /* checked every ms */
	atomic_store(&bad_answers, 0);
	atomic_store(&stop_writer, false);
	cr_assert_eq(pthread_create(&w, NULL, writer, NULL), 0);
	for (int i = 0; i < CLIENTS; i++) {
		cr_assert_eq(pthread_create(&c[i], NULL, client, NULL), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(c[i], NULL);
	}
	atomic_store(&stop_writer, true);
	pthread_join(w, NULL);
	cr_expect_eq(atomic_load(&bad_answers), 0, "%d bad answers",
	    atomic_load(&bad_answers));
	unserve(&shared);
}

/* ------------------------------------------------------- the setter */

Test(http_file_cache, set_file_cache_arguments)
{
	nghttpw_http_handler *h;
	served                s;

	cr_expect_eq(nghttpw_http_handler_set_file_cache(NULL, 1000, 1, 1, 1),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&h, "/x", "x", 1, "text/plain"), 0);
	cr_expect_eq(nghttpw_http_handler_set_file_cache(h, 1000, 1, 1, 1),
	    NGHTTPW_EINVAL, "not a file handler");
	nghttpw_http_handler_free(h);

	cr_assert_eq(nghttpw_http_handler_alloc_file(&h, "/f", path_of("f")), 0);
	cr_expect_eq(nghttpw_http_handler_set_file_cache(h, -1, 1, 1, 1),
	    NGHTTPW_EINVAL, "negative");
	cr_expect_eq(nghttpw_http_handler_set_file_cache(h, 0, 0, 0, 0), 0);
	nghttpw_http_handler_free(h);

	s = serve(1000, 10, 10, 10);
	cr_expect_eq(nghttpw_http_handler_set_file_cache(s.h, 10, 1, 1, 1),
	    NGHTTPW_EBUSY, "registered");
	unserve(&s);
}
