/*
 * Tests for nghttpw_url_parse(), nghttpw_url_free() and
 * nghttpw_url_clone().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"

/*
 * Allocation failure injection.
 *
 * With glibc (and no address or thread sanitizer, which bring their
 * own allocator) we replace malloc() and free() by thin wrappers
 * around glibc's own implementation.  While "armed" they count calls,
 * and can make one particular call fail, so that the ENOMEM paths can
 * be exercised and checked for leaks.  Criterion runs each test in its
 * own process, so this state never leaks between tests.  Where the
 * wrappers are not wanted (gcc's -fsanitize=leak cannot be detected),
 * build with -DURL_TEST_NO_MALLOC_HOOK; the allocation tests are then
 * skipped.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(thread_sanitizer) ||                                     \
    __has_feature(hwaddress_sanitizer) || __has_feature(leak_sanitizer)
#define URL_TEST_NO_MALLOC_HOOK 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
    defined(__SANITIZE_HWADDRESS__)
#define URL_TEST_NO_MALLOC_HOOK 1
#endif

#if defined(__GLIBC__) && !defined(URL_TEST_NO_MALLOC_HOOK)
#define URL_TEST_MALLOC_HOOK 1

extern void *__libc_malloc(size_t);
extern void  __libc_free(void *);

/* Volatile: the compiler assumes malloc() touches no user globals, and
 * would otherwise keep stale copies of these across calls to it. */
static volatile bool   hook_armed;
static volatile size_t hook_fail_at; /* fail the call with this 1-based index */
static volatile size_t hook_mallocs; /* successful allocations while armed */
static volatile size_t hook_frees;   /* non-NULL frees while armed */
static volatile size_t hook_calls;   /* malloc calls while armed */

void *
malloc(size_t n)
{
	if (hook_armed) {
		void *p;
		hook_calls++;
		if (hook_calls == hook_fail_at) {
			return (NULL);
		}
		if ((p = __libc_malloc(n)) != NULL) {
			hook_mallocs++;
		}
		return (p);
	}
	return (__libc_malloc(n));
}

void
free(void *p)
{
	if (hook_armed && p != NULL) {
		hook_frees++;
	}
	__libc_free(p);
}

static void
hook_arm(size_t fail_at)
{
	hook_calls   = 0;
	hook_mallocs = 0;
	hook_frees   = 0;
	hook_fail_at = fail_at;
	hook_armed   = true;
}

static void
hook_disarm(void)
{
	hook_armed = false;
}

/* Tools such as valgrind replace malloc() themselves, so our wrapper
 * may never be called; find out before relying on it. */
static bool
hook_works(void)
{
	void *volatile p;
	size_t         n;

	hook_arm(0);
	p = malloc(16);
	free(p);
	n = hook_mallocs;
	hook_disarm();
	return (n == 1);
}
#endif

/* The expected contents of every field. */
typedef struct {
	const char *raw;
	const char *scheme;
	const char *userinfo;
	const char *host;
	const char *hostname;
	const char *port;
	const char *path;
	const char *query;
	const char *fragment;
	const char *requri;
} url_expect;

static void
check_field(const char *raw, const char *what, const char *got,
    const char *want)
{
	if (want == NULL) {
		cr_assert_null(got, "%s: %s should be NULL, got \"%s\"", raw,
		    what, got);
	} else {
		cr_assert_not_null(got, "%s: %s is NULL, want \"%s\"", raw, what,
		    want);
		cr_assert_str_eq(got, want, "%s: %s is \"%s\", want \"%s\"", raw,
		    what, got, want);
	}
}

static void
check_url(const nghttpw_url *u, const url_expect *e)
{
	check_field(e->raw, "u_rawurl", u->u_rawurl, e->raw);
	check_field(e->raw, "u_scheme", u->u_scheme, e->scheme);
	check_field(e->raw, "u_userinfo", u->u_userinfo, e->userinfo);
	check_field(e->raw, "u_host", u->u_host, e->host);
	check_field(e->raw, "u_hostname", u->u_hostname, e->hostname);
	check_field(e->raw, "u_port", u->u_port, e->port);
	check_field(e->raw, "u_path", u->u_path, e->path);
	check_field(e->raw, "u_query", u->u_query, e->query);
	check_field(e->raw, "u_fragment", u->u_fragment, e->fragment);
	check_field(e->raw, "u_requri", u->u_requri, e->requri);
}

static void
expect_url(const url_expect *e)
{
	nghttpw_url *u  = NULL;
	int          rv = nghttpw_url_parse(&u, e->raw);
	cr_assert_eq(rv, 0, "parsing \"%s\" failed: %d", e->raw, rv);
	cr_assert_not_null(u);
	check_url(u, e);
	nghttpw_url_free(u);
}

static void
expect_invalid(const char *raw)
{
	nghttpw_url *u  = (nghttpw_url *) &u; /* must not be touched */
	int          rv = nghttpw_url_parse(&u, raw);
	cr_assert_eq(rv, NGHTTPW_EINVAL, "\"%s\" gave %d, want EINVAL (%d)",
	    raw ? raw : "(null)", rv, NGHTTPW_EINVAL);
	cr_assert_eq(u, (nghttpw_url *) &u,
	    "\"%s\": output changed on failure", raw ? raw : "(null)");
}

/* ---- what nghttpw_url_parse makes of each URL ---------------------------
 *
 * The first group is nng's own URL test cases, with the fields nng 1.x
 * gives; the rest cover each of nng's rules (and ours) one by one. */

#define U(r, sc, ui, ho, hn, po, pa, q, f, rq)                               \
	{ .raw = r, .scheme = sc, .userinfo = ui, .host = ho, .hostname = hn, \
		.port = po, .path = pa, .query = q, .fragment = f,             \
		.requri = rq }

static const url_expect good_urls[] = {
	/* nng's cases. */
	U("http://www.google.com", "http", NULL, "www.google.com",
	    "www.google.com", "80", "", NULL, NULL, ""),
	U("http://www.google.com:1234", "http", NULL, "www.google.com:1234",
	    "www.google.com", "1234", "", NULL, NULL, ""),
	U("http://www.google.com:1234/somewhere", "http", NULL,
	    "www.google.com:1234", "www.google.com", "1234", "/somewhere",
	    NULL, NULL, "/somewhere"),
	U("http://garrett@www.google.com:1234/somewhere", "http", "garrett",
	    "www.google.com:1234", "www.google.com", "1234", "/somewhere",
	    NULL, NULL, "/somewhere"),
	U("http://www.google.com/somewhere?result=yes", "http", NULL,
	    "www.google.com", "www.google.com", "80", "/somewhere",
	    "result=yes", NULL, "/somewhere?result=yes"),
	U("http://www.google.com/somewhere?result=yes#chapter1", "http", NULL,
	    "www.google.com", "www.google.com", "80", "/somewhere",
	    "result=yes", "chapter1", "/somewhere?result=yes#chapter1"),
	U("http://www.google.com/somewhere#chapter2", "http", NULL,
	    "www.google.com", "www.google.com", "80", "/somewhere", NULL,
	    "chapter2", "/somewhere#chapter2"),
	U("http://www.google.com#chapter3", "http", NULL, "www.google.com",
	    "www.google.com", "80", "", NULL, "chapter3", "#chapter3"),
	U("http://www.google.com?color=red", "http", NULL, "www.google.com",
	    "www.google.com", "80", "", "color=red", NULL, "?color=red"),
	U("http://[::1]", "http", NULL, "[::1]", "::1", "80", "", NULL, NULL,
	    ""),
	U("http://[::1]:29", "http", NULL, "[::1]:29", "::1", "29", "", NULL,
	    NULL, ""),
	U("http://[::1]:29/bottles", "http", NULL, "[::1]:29", "::1", "29",
	    "/bottles", NULL, NULL, "/bottles"),
	U("tcp://:9876/", "tcp", NULL, ":9876", "", "9876", "/", NULL, NULL,
	    "/"),
	U("ws://", "ws", NULL, "", "", "80", "", NULL, NULL, ""),
	U("ws://*:12345/foobar", "ws", NULL, ":12345", "", "12345", "/foobar",
	    NULL, NULL, "/foobar"),
	U("ssh://user@host.example.com", "ssh", "user", "host.example.com",
	    "host.example.com", "22", "", NULL, NULL, ""),
	U("hTTp://www.EXAMPLE.com/bogus/.%2e/%7egarrett", "http", NULL,
	    "www.example.com", "www.example.com", "80", "/~garrett", NULL,
	    NULL, "/~garrett"),
	U("http://www.x.com//abc/def/./x/..///./../y", "http", NULL,
	    "www.x.com", "www.x.com", "80", "/abc/y", NULL, NULL, "/abc/y"),
	U("http://www.x.com/?/abc/def/./x/.././../y", "http", NULL,
	    "www.x.com", "www.x.com", "80", "/", "/abc/def/./x/.././../y",
	    NULL, "/?/abc/def/./x/.././../y"),
	U("http://www.x.com/%c2%a2_cents", "http", NULL, "www.x.com",
	    "www.x.com", "80", "/\xc2\xa2_cents", NULL, NULL,
	    "/\xc2\xa2_cents"),

	/* Default ports: nng's table, each name also with 4 or 6 after it;
	 * any other scheme is accepted with no default. */
	U("https://h", "https", NULL, "h", "h", "443", "", NULL, NULL, ""),
	U("wss://h/", "wss", NULL, "h", "h", "443", "/", NULL, NULL, "/"),
	U("ws4://h", "ws4", NULL, "h", "h", "80", "", NULL, NULL, ""),
	U("wss6://h", "wss6", NULL, "h", "h", "443", "", NULL, NULL, ""),
	U("http6://h", "http6", NULL, "h", "h", "80", "", NULL, NULL, ""),
	U("git://h", "git", NULL, "h", "h", "9418", "", NULL, NULL, ""),
	U("gopher://h", "gopher", NULL, "h", "h", "70", "", NULL, NULL, ""),
	U("telnet://h", "telnet", NULL, "h", "h", "23", "", NULL, NULL, ""),
	U("tcp://h", "tcp", NULL, "h", "h", "", "", NULL, NULL, ""),
	U("tls+tcp://h:443", "tls+tcp", NULL, "h:443", "h", "443", "", NULL,
	    NULL, ""),
	U("ftp://h/f", "ftp", NULL, "h", "h", "", "/f", NULL, NULL, "/f"),
	U("NoSuch.Scheme-1://h:7", "nosuch.scheme-1", NULL, "h:7", "h", "7",
	    "", NULL, NULL, ""),
	U("mailto://x@y", "mailto", "x", "y", "y", "", "", NULL, NULL, ""),
	U("http4s://h", "http4s", NULL, "h", "h", "", "", NULL, NULL, ""),

	/* Ports: given ones are kept as written. */
	U("http://h:80/", "http", NULL, "h:80", "h", "80", "/", NULL, NULL,
	    "/"),
	U("tcp://127.0.0.1:0", "tcp", NULL, "127.0.0.1:0", "127.0.0.1", "0",
	    "", NULL, NULL, ""),
	U("http://h:65535", "http", NULL, "h:65535", "h", "65535", "", NULL,
	    NULL, ""),
	U("http://h:00080", "http", NULL, "h:00080", "h", "00080", "", NULL,
	    NULL, ""),

	/* '*' is the empty host (any address). */
	U("tcp://*", "tcp", NULL, "", "", "", "", NULL, NULL, ""),
	U("tcp://u@*:80", "tcp", "u", ":80", "", "80", "", NULL, NULL, ""),
	U("ws://*/p", "ws", NULL, "", "", "80", "/p", NULL, NULL, "/p"),
	U("http://*x/", "http", NULL, "*x", "*x", "80", "/", NULL, NULL, "/"),

	/* Empty hosts are for listeners; nng accepts them everywhere. */
	U("http://", "http", NULL, "", "", "80", "", NULL, NULL, ""),
	U("http://:8080/", "http", NULL, ":8080", "", "8080", "/", NULL, NULL,
	    "/"),
	U("wss://u@/", "wss", "u", "", "", "443", "/", NULL, NULL, "/"),
	U("http:///path", "http", NULL, "", "", "80", "/path", NULL, NULL,
	    "/path"),

	/* Case: scheme and host fold (all of the host, as nng's does),
	 * userinfo, path, query and fragment do not. */
	U("HTTP://User:PW@Example.COM:8080/A/B?Q=X#F", "http", "User:PW",
	    "example.com:8080", "example.com", "8080", "/A/B", "Q=X", "F",
	    "/A/B?Q=X#F"),
	U("http://[FE80::1%25Eth0]:8080/", "http", NULL,
	    "[fe80::1%25eth0]:8080", "fe80::1%25eth0", "8080", "/", NULL, NULL,
	    "/"),
	U("http://[2001:db8::1.2.3.4]/", "http", NULL, "[2001:db8::1.2.3.4]",
	    "2001:db8::1.2.3.4", "80", "/", NULL, NULL, "/"),
	U("tcp6://[::]:0", "tcp6", NULL, "[::]:0", "::", "0", "", NULL, NULL,
	    ""),

	/* Escapes: unreserved characters and UTF-8 decoded, everywhere
	 * after the authority; the others kept, in upper case. */
	U("http://h/%41%2f%2F%3a?%7e%2e#%41%20", "http", NULL, "h", "h", "80",
	    "/A%2F%2F%3A", "~.", "A%20", "/A%2F%2F%3A?~.#A%20"),
	U("http://h/%00%25", "http", NULL, "h", "h", "80", "/%00%25", NULL,
	    NULL, "/%00%25"),
	U("http://h/%2541", "http", NULL, "h", "h", "80", "/%2541", NULL, NULL,
	    "/%2541"),
	U("http://h/%e2%82%ac?%F0%9F%98%80", "http", NULL, "h", "h", "80",
	    "/\xe2\x82\xac", "\xf0\x9f\x98\x80", NULL,
	    "/\xe2\x82\xac?\xf0\x9f\x98\x80"),
	U("http://h/\xc3\xa9", "http", NULL, "h", "h", "80", "/\xc3\xa9", NULL,
	    NULL, "/\xc3\xa9"),
	U("http://u%41@h%41/", "http", "u%41", "h%41", "h%41", "80", "/",
	    NULL, NULL, "/"),

	/* Dot segments and empty segments: in the path only. */
	U("http://h/a/b/..", "http", NULL, "h", "h", "80", "/a", NULL, NULL,
	    "/a"),
	U("http://h/a/b/../", "http", NULL, "h", "h", "80", "/a/", NULL, NULL,
	    "/a/"),
	U("http://h/..", "http", NULL, "h", "h", "80", "", NULL, NULL, ""),
	U("http://h/../../x", "http", NULL, "h", "h", "80", "/x", NULL, NULL,
	    "/x"),
	U("http://h/a/./b/.", "http", NULL, "h", "h", "80", "/a/b", NULL, NULL,
	    "/a/b"),
	U("http://h/a/.b/..c/...", "http", NULL, "h", "h", "80",
	    "/a/.b/..c/...", NULL, NULL, "/a/.b/..c/..."),
	U("http://h/%2e%2E/x/%2E", "http", NULL, "h", "h", "80", "/x", NULL,
	    NULL, "/x"),
	U("http://h/a/..?x/../y#/./z", "http", NULL, "h", "h", "80", "", "x/../y",
	    "/./z", "?x/../y#/./z"),
	U("http://h//a//b///?q//#//", "http", NULL, "h", "h", "80", "/a/b/",
	    "q//", "//", "/a/b/?q//#//"),

	/* Query and fragment edges. */
	U("http://h/p?#", "http", NULL, "h", "h", "80", "/p", "", "", "/p?#"),
	U("http://h/p#f?g#h", "http", NULL, "h", "h", "80", "/p", NULL, "f?g#h",
	    "/p#f?g#h"),
	U("http://h/p?a@b:c/d", "http", NULL, "h", "h", "80", "/p", "a@b:c/d",
	    NULL, "/p?a@b:c/d"),
	U("http://h?q@x", "http", NULL, "h", "h", "80", "", "q@x", NULL, "?q@x"),
	U("http://u@h/p@q", "http", "u", "h", "h", "80", "/p@q", NULL, NULL,
	    "/p@q"),
	U("http://@h/", "http", "", "h", "h", "80", "/", NULL, NULL, "/"),
};

Test(url, parses_as_nng_does)
{
	for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
		expect_url(&good_urls[i]);
	}
}

Test(url, rawurl_is_a_copy)
{
	char         buf[] = "http://h/p";
	nghttpw_url *u;
	cr_assert_eq(nghttpw_url_parse(&u, buf), 0);
	cr_assert_neq((void *) u->u_rawurl, (void *) buf);
	buf[7] = 'X';
	cr_assert_str_eq(u->u_rawurl, "http://h/p");
	cr_assert_str_eq(u->u_hostname, "h");
	nghttpw_url_free(u);
}

/* A canonical URL parses to itself. */
Test(url, canonical_form_is_stable)
{
	for (size_t i = 0; i < sizeof(good_urls) / sizeof(good_urls[0]); i++) {
		const url_expect *e = &good_urls[i];
		char              raw[512];
		nghttpw_url      *u;

		snprintf(raw, sizeof(raw), "%s://%s%s%s%s", e->scheme,
		    e->userinfo != NULL ? e->userinfo : "",
		    e->userinfo != NULL ? "@" : "", e->host, e->requri);
		cr_assert_eq(nghttpw_url_parse(&u, raw), 0, "%s", raw);
		cr_assert_str_eq(u->u_path, e->path, "%s", raw);
		cr_assert_str_eq(u->u_requri, e->requri, "%s", raw);
		cr_assert_str_eq(u->u_host, e->host, "%s", raw);
		nghttpw_url_free(u);
	}
}

/* ---- errors -------------------------------------------------------------- */

Test(url, invalid_urls)
{
	static const char *bad[] = {
		/* nng refuses these too. */
		"",
		"www.google.com",
		"http:www.google.com",
		"http:/h/",
		"http://[::1",
		"http://[::1]bogus",
		"http://x.com/x%80x",
		"http://x.com/x%c0%81",
		"http://h:",
		"http://h:/p",
		"http://[::1]:",
		"tcp://*:",
		"http://a@b@h/",
		"tcp://a@@h:1",
		"http://h/%zz",
		"http://h/%4",
		"http://h/%",
		"http://h?%2",
		"http://h#%",
		/* Malformed UTF-8 after decoding, anywhere after the host:
		 * overlong, surrogate, past U+10FFFF, cut short, stray. */
		"http://h/%c0%af",
		"http://h/%e0%80%af",
		"http://h/%ed%a0%80",
		"http://h/%f4%90%80%80",
		"http://h/%e2%82",
		"http://h/%bf",
		"http://h/\xff",
		"http://h/\xc3",
		"http://h?%80",
		"http://h#%c0%af",
		/* Beyond nng: what RFC 3986 does not allow in a scheme, a
		 * host, a port or userinfo, and any control character or
		 * space (which would end up in a request line or header). */
		"://h/",
		"1http://h/",
		"ht_tp://h/",
		" http://h/",
		"http://h:99999",
		"http://h:65536",
		"http://h:8x",
		"http://h:-1",
		"http://h:+80",
		"http://h:80:81/",
		"http://h: 80/",
		"http://h:%38%30/",
		"http://[::1/",
		"http://::1]/",
		"http://[::1]]/",
		"http://h]/",
		"http://h[/",
		"http://[::1]x/",
		"http://[::1]:x/",
		"http://x[::1]/",
		"http://[]/",
		"tcp://[]:80",
		"http://[::1::2]/",
		"http://[1:2:3:4:5:6:7:8:9]/",
		"http://[1:2:3]/",
		"http://[12345::1]/",
		"http://[::g]/",
		"http://[:1]/",
		"http://[1:]/",
		"http://[::1.2.3]/",
		"http://[::1.2.3.256]/",
		"http://[fe80::1%eth0]/",
		"http://[fe80::1%25]/",
		"http://[fe80::1%41eth0]/",
		"http://h/a b",
		"http://h /",
		"http://h/a\tb",
		"http://h/a\nb",
		"http://h/a\rb",
		"http://h/\x7f",
		"http://h/\x01",
		"http://%zzh/",
		"http://u[x]@h/",
		"http://h<x>/",
		"http://h\\x/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_invalid(bad[i]);
	}
}

Test(url, null_arguments)
{
	nghttpw_url *u;
	expect_invalid(NULL);
	cr_assert_eq(nghttpw_url_parse(NULL, "http://h/"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_url_parse(NULL, NULL), NGHTTPW_EINVAL);

	cr_assert_eq(nghttpw_url_parse(&u, "http://h/"), 0);
	cr_assert_eq(nghttpw_url_clone(NULL, u), NGHTTPW_EINVAL);
	nghttpw_url_free(u);

	u = (nghttpw_url *) &u;
	cr_assert_eq(nghttpw_url_clone(&u, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(u, (nghttpw_url *) &u);
}

Test(url, free_null_is_noop)
{
	nghttpw_url_free(NULL);
}

Test(url, long_url)
{
	/* There is no arbitrary length limit. */
	size_t       n   = 100000;
	char        *raw = malloc(n + 32);
	nghttpw_url *u;
	cr_assert_not_null(raw);
	strcpy(raw, "http://h/");
	memset(raw + 9, 'a', n);
	strcpy(raw + 9 + n, "?q");
	cr_assert_eq(nghttpw_url_parse(&u, raw), 0);
	cr_assert_eq(strlen(u->u_path), n + 1);
	cr_assert_str_eq(u->u_query, "q");
	cr_assert_eq(strlen(u->u_requri), n + 3);
	cr_assert_str_eq(u->u_rawurl, raw);
	nghttpw_url_free(u);
	free(raw);
}

/* ---- clone --------------------------------------------------------------- */

static void
check_clone(const char *raw)
{
	nghttpw_url *orig;
	nghttpw_url *copy;
	url_expect   e;

	cr_assert_eq(nghttpw_url_parse(&orig, raw), 0, "%s", raw);
	cr_assert_eq(nghttpw_url_clone(&copy, orig), 0, "%s", raw);
	cr_assert_neq(copy, orig);

	/* Capture the original as expectations, then make sure no string
	 * in the copy is shared with the original. */
	e = (url_expect) { .raw = orig->u_rawurl,
		.scheme          = orig->u_scheme,
		.userinfo        = orig->u_userinfo,
		.host            = orig->u_host,
		.hostname        = orig->u_hostname,
		.port            = orig->u_port,
		.path            = orig->u_path,
		.query           = orig->u_query,
		.fragment        = orig->u_fragment,
		.requri          = orig->u_requri };
	check_url(copy, &e);

	cr_assert_neq(copy->u_rawurl, orig->u_rawurl);
	cr_assert_neq(copy->u_scheme, orig->u_scheme);
	cr_assert_neq(copy->u_host, orig->u_host);
	cr_assert_neq(copy->u_hostname, orig->u_hostname);
	cr_assert_neq(copy->u_port, orig->u_port);
	cr_assert_neq(copy->u_path, orig->u_path);
	cr_assert_neq(copy->u_requri, orig->u_requri);

	/* Scribble over the original, then free it: the copy must not
	 * change. */
	memset(orig->u_rawurl, 'Z', strlen(orig->u_rawurl));
	memset(orig->u_path, 'Z', strlen(orig->u_path));
	memset(orig->u_hostname, 'Z', strlen(orig->u_hostname));
	nghttpw_url_free(orig);

	{
		nghttpw_url *fresh;
		cr_assert_eq(nghttpw_url_parse(&fresh, raw), 0);
		e = (url_expect) { .raw = fresh->u_rawurl,
			.scheme          = fresh->u_scheme,
			.userinfo        = fresh->u_userinfo,
			.host            = fresh->u_host,
			.hostname        = fresh->u_hostname,
			.port            = fresh->u_port,
			.path            = fresh->u_path,
			.query           = fresh->u_query,
			.fragment        = fresh->u_fragment,
			.requri          = fresh->u_requri };
		check_url(copy, &e);
		nghttpw_url_free(fresh);
	}
	nghttpw_url_free(copy);
}

Test(url, clone_full)
{
	check_clone("https://user:pw@[2001:db8::1]:8443/a/b%20c?x=1&y#frag");
}

Test(url, clone_minimal)
{
	check_clone("http://h");
	check_clone("tcp://:0");
	check_clone("http://h/p?#");
}

Test(url, clone_of_clone)
{
	nghttpw_url *a, *b, *c;
	cr_assert_eq(nghttpw_url_parse(&a, "ws://u@H:1/p?q#f"), 0);
	cr_assert_eq(nghttpw_url_clone(&b, a), 0);
	nghttpw_url_free(a);
	cr_assert_eq(nghttpw_url_clone(&c, b), 0);
	nghttpw_url_free(b);
	url_expect e = { .raw = "ws://u@H:1/p?q#f",
		.scheme            = "ws",
		.userinfo          = "u",
		.host              = "h:1",
		.hostname          = "h",
		.port              = "1",
		.path              = "/p",
		.query             = "q",
		.fragment          = "f",
		.requri            = "/p?q#f" };
	check_url(c, &e);
	nghttpw_url_free(c);
}

Test(url, clone_hand_built)
{
	/* A structure not made by the parser, with some NULL fields. */
	char        host[] = "example.com";
	char        path[] = "/x";
	nghttpw_url src    = { 0 };
	nghttpw_url *dst;
	src.u_host     = host;
	src.u_hostname = host;
	src.u_path     = path;
	cr_assert_eq(nghttpw_url_clone(&dst, &src), 0);
	cr_assert_str_eq(dst->u_host, "example.com");
	cr_assert_str_eq(dst->u_hostname, "example.com");
	cr_assert_str_eq(dst->u_path, "/x");
	cr_assert_neq(dst->u_host, host);
	cr_assert_null(dst->u_rawurl);
	cr_assert_null(dst->u_scheme);
	cr_assert_null(dst->u_userinfo);
	cr_assert_null(dst->u_port);
	cr_assert_null(dst->u_query);
	cr_assert_null(dst->u_fragment);
	cr_assert_null(dst->u_requri);
	nghttpw_url_free(dst);
}

/* ---- allocation failure ------------------------------------------------- */

Test(url, parse_enomem_no_leak)
{
#ifdef URL_TEST_MALLOC_HOOK
	if (!hook_works()) {
		cr_skip_test("malloc() is not ours in this run");
	}
	const char *raw = "https://u:p@[::1]:99/a?b#c";
	/* Make the first, second, ... allocation fail until parsing no
	 * longer needs the failing one.  Each failure must report ENOMEM
	 * and give back everything it took. */
	for (size_t fail_at = 1;; fail_at++) {
		nghttpw_url *u = NULL;
		int          rv;
		size_t       calls, mallocs, frees;

		hook_arm(fail_at);
		rv      = nghttpw_url_parse(&u, raw);
		calls   = hook_calls;
		mallocs = hook_mallocs;
		frees   = hook_frees;
		hook_disarm();

		if (calls < fail_at) {
			/* Nothing failed: this is the success case. */
			cr_assert_eq(rv, 0);
			cr_assert_str_eq(u->u_host, "[::1]:99");
			nghttpw_url_free(u);
			break;
		}
		cr_assert_eq(rv, NGHTTPW_ENOMEM, "fail_at %zu gave %d",
		    fail_at, rv);
		cr_assert_null(u);
		cr_assert_eq(mallocs, frees, "fail_at %zu leaked %zu blocks",
		    fail_at, mallocs - frees);
		cr_assert_lt(fail_at, 100, "too many allocations");
	}
#else
	cr_skip_test("malloc hook unavailable in this build");
#endif
}

Test(url, clone_enomem_no_leak)
{
#ifdef URL_TEST_MALLOC_HOOK
	if (!hook_works()) {
		cr_skip_test("malloc() is not ours in this run");
	}
	nghttpw_url *src;
	cr_assert_eq(nghttpw_url_parse(&src, "http://u@h:1/p?q#f"), 0);
	for (size_t fail_at = 1;; fail_at++) {
		nghttpw_url *u = NULL;
		int          rv;
		size_t       calls, mallocs, frees;

		hook_arm(fail_at);
		rv      = nghttpw_url_clone(&u, src);
		calls   = hook_calls;
		mallocs = hook_mallocs;
		frees   = hook_frees;
		hook_disarm();

		if (calls < fail_at) {
			cr_assert_eq(rv, 0);
			cr_assert_str_eq(u->u_requri, "/p?q#f");
			nghttpw_url_free(u);
			break;
		}
		cr_assert_eq(rv, NGHTTPW_ENOMEM);
		cr_assert_null(u);
		cr_assert_eq(mallocs, frees);
		cr_assert_lt(fail_at, 100, "too many allocations");
	}
	nghttpw_url_free(src);
#else
	cr_skip_test("malloc hook unavailable in this build");
#endif
}

Test(url, free_releases_everything)
{
#ifdef URL_TEST_MALLOC_HOOK
	if (!hook_works()) {
		cr_skip_test("malloc() is not ours in this run");
	}
	nghttpw_url *u = NULL, *c = NULL;
	int          rv1, rv2;
	/* No Criterion calls while armed: they may allocate. */
	hook_arm(0);
	rv1 = nghttpw_url_parse(&u, "http://a:b@h:1/p?q#f");
	rv2 = (rv1 == 0) ? nghttpw_url_clone(&c, u) : -1;
	nghttpw_url_free(u);
	nghttpw_url_free(c);
	hook_disarm();
	cr_assert_eq(rv1, 0);
	cr_assert_eq(rv2, 0);
	cr_assert_gt(hook_mallocs, 0);
	cr_assert_eq(hook_mallocs, hook_frees);
#else
	cr_skip_test("malloc hook unavailable in this build");
#endif
}
