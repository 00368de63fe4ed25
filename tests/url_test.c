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

/* ---- http and https ---------------------------------------------------- */

Test(url, http_host_only)
{
	url_expect e = { .raw = "http://www.example.com",
		.scheme            = "http",
		.userinfo          = NULL,
		.host              = "www.example.com",
		.hostname          = "www.example.com",
		.port              = "80",
		.path              = "",
		.query             = NULL,
		.fragment          = NULL,
		.requri            = "/" };
	expect_url(&e);
}

Test(url, http_root_path)
{
	url_expect e = { .raw = "http://www.example.com/",
		.scheme            = "http",
		.host              = "www.example.com",
		.hostname          = "www.example.com",
		.port              = "80",
		.path              = "/",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, http_port_path)
{
	url_expect e = { .raw = "http://www.example.com:8080/a/b/c.html",
		.scheme            = "http",
		.host              = "www.example.com:8080",
		.hostname          = "www.example.com",
		.port              = "8080",
		.path              = "/a/b/c.html",
		.requri            = "/a/b/c.html" };
	expect_url(&e);
}

Test(url, http_explicit_default_port_kept_in_host)
{
	url_expect e = { .raw = "http://example.com:80/x",
		.scheme            = "http",
		.host              = "example.com:80",
		.hostname          = "example.com",
		.port              = "80",
		.path              = "/x",
		.requri            = "/x" };
	expect_url(&e);
}

Test(url, http_query)
{
	url_expect e = { .raw = "http://h/p/q?a=1&b=2",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/p/q",
		.query             = "a=1&b=2",
		.requri            = "/p/q?a=1&b=2" };
	expect_url(&e);
}

Test(url, http_query_fragment)
{
	url_expect e = { .raw = "http://h:81/p?q=1#frag",
		.scheme            = "http",
		.host              = "h:81",
		.hostname          = "h",
		.port              = "81",
		.path              = "/p",
		.query             = "q=1",
		.fragment          = "frag",
		.requri            = "/p?q=1" };
	expect_url(&e);
}

Test(url, http_fragment_only)
{
	url_expect e = { .raw = "http://h/index.html#top",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/index.html",
		.fragment          = "top",
		.requri            = "/index.html" };
	expect_url(&e);
}

Test(url, http_query_without_path)
{
	url_expect e = { .raw = "http://h?x=y",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "",
		.query             = "x=y",
		.requri            = "/?x=y" };
	expect_url(&e);
}

Test(url, http_fragment_without_path)
{
	url_expect e = { .raw = "http://h#f",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "",
		.fragment          = "f",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, http_empty_query_and_fragment)
{
	url_expect e = { .raw = "http://h/p?#",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/p",
		.query             = "",
		.fragment          = "",
		.requri            = "/p?" };
	expect_url(&e);
}

Test(url, http_question_mark_in_fragment)
{
	url_expect e = { .raw = "http://h/p#a?b/c",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/p",
		.fragment          = "a?b/c",
		.requri            = "/p" };
	expect_url(&e);
}

Test(url, http_slash_and_question_in_query)
{
	url_expect e = { .raw = "http://h?a/b?c#d",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "",
		.query             = "a/b?c",
		.fragment          = "d",
		.requri            = "/?a/b?c" };
	expect_url(&e);
}

Test(url, http_empty_port_means_default)
{
	url_expect e = { .raw = "http://h:/p",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/p",
		.requri            = "/p" };
	expect_url(&e);
}

Test(url, https_default_port)
{
	url_expect e = { .raw = "https://secure.example.org/login",
		.scheme            = "https",
		.host              = "secure.example.org",
		.hostname          = "secure.example.org",
		.port              = "443",
		.path              = "/login",
		.requri            = "/login" };
	expect_url(&e);
}

Test(url, https_explicit_port)
{
	url_expect e = { .raw = "https://h:8443",
		.scheme            = "https",
		.host              = "h:8443",
		.hostname          = "h",
		.port              = "8443",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, ws_and_wss_defaults)
{
	url_expect ws  = { .raw = "ws://h/chat",
                 .scheme            = "ws",
                 .host              = "h",
                 .hostname          = "h",
                 .port              = "80",
                 .path              = "/chat",
                 .requri            = "/chat" };
	url_expect wss = { .raw = "wss://h/chat?v=2",
		.scheme             = "wss",
		.host               = "h",
		.hostname           = "h",
		.port               = "443",
		.path               = "/chat",
		.query              = "v=2",
		.requri             = "/chat?v=2" };
	expect_url(&ws);
	expect_url(&wss);
}

Test(url, port_zero_and_max)
{
	url_expect zero = { .raw = "http://h:0/",
		.scheme              = "http",
		.host                = "h:0",
		.hostname            = "h",
		.port                = "0",
		.path                = "/",
		.requri              = "/" };
	url_expect max  = { .raw = "http://h:65535/",
                 .scheme              = "http",
                 .host                = "h:65535",
                 .hostname            = "h",
                 .port                = "65535",
                 .path                = "/",
                 .requri              = "/" };
	expect_url(&zero);
	expect_url(&max);
}

/* ---- userinfo ------------------------------------------------------------ */

Test(url, userinfo)
{
	url_expect e = { .raw = "http://user:pass@h:8080/p?q#f",
		.scheme            = "http",
		.userinfo          = "user:pass",
		.host              = "h:8080",
		.hostname          = "h",
		.port              = "8080",
		.path              = "/p",
		.query             = "q",
		.fragment          = "f",
		.requri            = "/p?q" };
	expect_url(&e);
}

Test(url, userinfo_empty_and_at_in_path)
{
	url_expect empty = { .raw = "https://@h",
		.scheme               = "https",
		.userinfo             = "",
		.host                 = "h",
		.hostname             = "h",
		.port                 = "443",
		.path                 = "",
		.requri               = "/" };
	/* An '@' after the authority belongs to the path, not userinfo. */
	url_expect inpath = { .raw = "http://h/~u@x",
		.scheme                = "http",
		.userinfo              = NULL,
		.host                  = "h",
		.hostname              = "h",
		.port                  = "80",
		.path                  = "/~u@x",
		.requri                = "/~u@x" };
	expect_url(&empty);
	expect_url(&inpath);
}

Test(url, userinfo_percent_encoding_kept)
{
	url_expect e = { .raw = "http://us%40er:p%3Ass@h/",
		.scheme            = "http",
		.userinfo          = "us%40er:p%3Ass",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/",
		.requri            = "/" };
	expect_url(&e);
}

/* ---- IP literals --------------------------------------------------------- */

Test(url, ipv4)
{
	url_expect e = { .raw = "http://192.168.1.10:8000/status",
		.scheme            = "http",
		.host              = "192.168.1.10:8000",
		.hostname          = "192.168.1.10",
		.port              = "8000",
		.path              = "/status",
		.requri            = "/status" };
	expect_url(&e);
}

Test(url, ipv6_no_port)
{
	url_expect e = { .raw = "http://[::1]/x",
		.scheme            = "http",
		.host              = "[::1]",
		.hostname          = "::1",
		.port              = "80",
		.path              = "/x",
		.requri            = "/x" };
	expect_url(&e);
}

Test(url, ipv6_with_port)
{
	url_expect e = { .raw = "https://[2001:db8::42]:9443/a?b",
		.scheme            = "https",
		.host              = "[2001:db8::42]:9443",
		.hostname          = "2001:db8::42",
		.port              = "9443",
		.path              = "/a",
		.query             = "b",
		.requri            = "/a?b" };
	expect_url(&e);
}

Test(url, ipv6_with_zone)
{
	url_expect e = { .raw = "http://[fe80::1%25eth0]:8080/",
		.scheme            = "http",
		.host              = "[fe80::1%25eth0]:8080",
		.hostname          = "fe80::1%25eth0",
		.port              = "8080",
		.path              = "/",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, ipv6_upper_case_zone_kept)
{
	/* The address is folded to lower case; the zone (an interface
	 * name, which is case sensitive) is not. */
	url_expect e = { .raw = "tcp://[FE80::AB%25En0]:1",
		.scheme            = "tcp",
		.host              = "[fe80::ab%25En0]:1",
		.hostname          = "fe80::ab%25En0",
		.port              = "1",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, ipv6_forms)
{
	static const char *good[] = {
		"http://[::]/",
		"http://[1:2:3:4:5:6:7:8]/",
		"http://[1::8]/",
		"http://[1:2:3:4:5:6:7::]/",
		"http://[::ffff:192.0.2.1]/",
		"http://[64:ff9b::1.2.3.4]:80/",
		"http://[1:2:3:4:5:6:1.2.3.4]/",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		nghttpw_url *u;
		cr_assert_eq(nghttpw_url_parse(&u, good[i]), 0, "%s", good[i]);
		cr_assert_eq(u->u_hostname[0] != '[', true);
		nghttpw_url_free(u);
	}
}

/* ---- tcp and tls --------------------------------------------------------- */

Test(url, tcp_loopback_port_zero)
{
	url_expect e = { .raw = "tcp://127.0.0.1:0",
		.scheme            = "tcp",
		.host              = "127.0.0.1:0",
		.hostname          = "127.0.0.1",
		.port              = "0",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, tcp_any_address)
{
	url_expect e = { .raw = "tcp://:8080",
		.scheme            = "tcp",
		.host              = ":8080",
		.hostname          = "",
		.port              = "8080",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, tcp_no_port_has_no_default)
{
	url_expect e = { .raw = "tcp://example.net",
		.scheme            = "tcp",
		.host              = "example.net",
		.hostname          = "example.net",
		.port              = "",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, tcp_nothing_at_all)
{
	url_expect e = { .raw = "tcp://",
		.scheme            = "tcp",
		.host              = "",
		.hostname          = "",
		.port              = "",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, tls_tcp)
{
	url_expect e = { .raw = "tls+tcp://host:443",
		.scheme            = "tls+tcp",
		.host              = "host:443",
		.hostname          = "host",
		.port              = "443",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, tls_tcp_no_default_port)
{
	url_expect e = { .raw = "tls+tcp://host",
		.scheme            = "tls+tcp",
		.host              = "host",
		.hostname          = "host",
		.port              = "",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, tcp6_ipv6)
{
	url_expect e = { .raw = "tcp6://[::1]:5555",
		.scheme            = "tcp6",
		.host              = "[::1]:5555",
		.hostname          = "::1",
		.port              = "5555",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, other_tcp_schemes)
{
	static const char *schemes[] = { "tcp4", "tls+tcp4", "tls+tcp6" };
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		char         buf[64];
		nghttpw_url *u;
		snprintf(buf, sizeof(buf), "%s://a:1", schemes[i]);
		cr_assert_eq(nghttpw_url_parse(&u, buf), 0, "%s", buf);
		cr_assert_str_eq(u->u_scheme, schemes[i]);
		cr_assert_str_eq(u->u_hostname, "a");
		cr_assert_str_eq(u->u_port, "1");
		nghttpw_url_free(u);
	}
}

/* ---- normalisation and preservation ------------------------------------- */

Test(url, upper_case_scheme_and_host)
{
	url_expect e = { .raw = "HTTP://WWW.Example.COM:8080/Path/To?Q=V#Frag",
		.scheme            = "http",
		.host              = "www.example.com:8080",
		.hostname          = "www.example.com",
		.port              = "8080",
		.path              = "/Path/To",
		.query             = "Q=V",
		.fragment          = "Frag",
		.requri            = "/Path/To?Q=V" };
	expect_url(&e);
}

Test(url, mixed_case_tls_scheme)
{
	url_expect e = { .raw = "TLS+Tcp://[::FFFF:1.2.3.4]:99",
		.scheme            = "tls+tcp",
		.host              = "[::ffff:1.2.3.4]:99",
		.hostname          = "::ffff:1.2.3.4",
		.port              = "99",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, upper_case_userinfo_kept)
{
	url_expect e = { .raw = "HTTPS://Alice@HOST",
		.scheme            = "https",
		.userinfo          = "Alice",
		.host              = "host",
		.hostname          = "host",
		.port              = "443",
		.path              = "",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, percent_encoding_preserved)
{
	url_expect e = { .raw = "http://h/a%20b?c%3Dd#e%2Ff",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "/a%20b",
		.query             = "c%3Dd",
		.fragment          = "e%2Ff",
		.requri            = "/a%20b?c%3Dd" };
	expect_url(&e);
}

Test(url, percent_encoding_in_host_not_folded)
{
	/* Lower-casing the host must leave %XX escapes exactly as given. */
	url_expect e = { .raw = "http://CAF%C3%A9.Example/",
		.scheme            = "http",
		.host              = "caf%C3%A9.example",
		.hostname          = "caf%C3%A9.example",
		.port              = "80",
		.path              = "/",
		.requri            = "/" };
	expect_url(&e);
}

Test(url, no_path_normalisation)
{
	url_expect e = { .raw = "http://h//a/./b/../c/",
		.scheme            = "http",
		.host              = "h",
		.hostname          = "h",
		.port              = "80",
		.path              = "//a/./b/../c/",
		.requri            = "//a/./b/../c/" };
	expect_url(&e);
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

/* ---- errors -------------------------------------------------------------- */

Test(url, invalid_urls)
{
	static const char *bad[] = {
		"",
		"www.example.com",
		"www.example.com/path",
		"http:/h/",
		"http:h",
		"://h/",
		"ftp://h/",
		"mailto://x@y",
		"tcpx://h:1",
		"tls://h:1",
		"http+tcp://h:1",
		" http://h/",
		"http://h:99999",
		"http://h:65536",
		"http://h:8x",
		"http://h:-1",
		"http://h:+80",
		"http://h:80:81/",
		"http://h: 80/",
		"http://h:%38%30/",
		"http://[::1",
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
		"http://h/%zz",
		"http://h/%4",
		"http://h/%4z",
		"http://h/%z4",
		"http://h/x%4/",
		"http://h/%",
		"http://h/a%g0",
		"http://h?%2",
		"http://h#%",
		"http://%zzh/",
		"http:///path",
		"http://",
		"https://",
		"ws://:80/",
		"wss://u@/",
		"http://:8080/",
		"http://a@b@h/",
		"tcp://a@@h:1",
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
		.requri            = "/p?q" };
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
			cr_assert_str_eq(u->u_requri, "/p?q");
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
