/*
 * Tests for HTTP requests and responses (include/nghttpw/http.h) and the
 * internal message interface (src/http/http_msg.h).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

#include "http/http_date.h"
#include "http/http_msg.h"
#include "http/http_parse.h"

/* A URL as nghttpw_url_parse would leave it, built by hand so that these
 * tests do not depend on the URL parser. */
static nghttpw_url
make_url(char *host, char *requri)
{
	nghttpw_url u;
	memset(&u, 0, sizeof(u));
	u.u_scheme = "http";
	u.u_host   = host;
	u.u_requri = requri;
	u.u_path   = requri;
	return u;
}

/* The serialized head of a request, as a malloc'd string. */
static char *
req_head(nghttpw_http_req *req)
{
	const char *buf;
	size_t      len;
	cr_assert_eq(nhw_http_req_get_head(req, &buf, &len), 0);
	cr_assert_eq(strlen(buf), len);
	char *copy = strdup(buf);
	cr_assert_not_null(copy);
	return copy;
}

static char *
res_head(nghttpw_http_res *res)
{
	const char *buf;
	size_t      len;
	cr_assert_eq(nhw_http_res_get_head(res, &buf, &len), 0);
	cr_assert_eq(strlen(buf), len);
	char *copy = strdup(buf);
	cr_assert_not_null(copy);
	return copy;
}

/* ---- allocation and defaults ---- */

Test(http_req, alloc_with_url)
{
	nghttpw_http_req *req = NULL;
	nghttpw_url       u   = make_url("example.com:8080", "/a/b?x=1&y=2");

	cr_assert_eq(nghttpw_http_req_alloc(&req, &u), 0);
	cr_assert_not_null(req);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/a/b?x=1&y=2");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Host"), "example.com:8080");
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "GET");
	cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/1.1");
	nghttpw_http_req_free(req);
}

Test(http_req, alloc_with_parsed_url)
{
	nghttpw_http_req *req;
	nghttpw_url      *u;

	cr_assert_eq(nghttpw_url_parse(&u, "http://Example.COM:8080/p%20q?x=1#frag"), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, u), 0);
	nghttpw_url_free(u); /* nothing is borrowed from the URL */
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/p%20q?x=1");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Host"), "example.com:8080");
	char *h = req_head(req);
	cr_assert_str_eq(h, "GET /p%20q?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
	free(h);
	nghttpw_http_req_free(req);
}

Test(http_req, alloc_with_url_no_requri)
{
	nghttpw_http_req *req = NULL;
	nghttpw_url       u   = make_url("[::1]", NULL);

	cr_assert_eq(nghttpw_http_req_alloc(&req, &u), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "host"), "[::1]");
	nghttpw_http_req_free(req);
}

Test(http_req, alloc_with_bad_url)
{
	nghttpw_http_req *req = (nghttpw_http_req *) &req; /* sentinel */
	nghttpw_http_req *keep = req;
	nghttpw_url       u1   = make_url("example.com", "/a b");
	nghttpw_url       u2   = make_url("example.com\r\nEvil: 1", "/");

	cr_assert_eq(nghttpw_http_req_alloc(&req, &u1), NGHTTPW_EINVAL);
	cr_assert_eq(req, keep);
	cr_assert_eq(nghttpw_http_req_alloc(&req, &u2), NGHTTPW_EINVAL);
	cr_assert_eq(req, keep);
	cr_assert_eq(nghttpw_http_req_alloc(NULL, NULL), NGHTTPW_EINVAL);
}

Test(http_req, defaults)
{
	nghttpw_http_req *req;
	void             *data = (void *) 1;
	size_t            size = 99;

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "GET");
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/");
	cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/1.1");
	cr_assert_null(nghttpw_http_req_get_header(req, "Host"));
	nghttpw_http_req_get_data(req, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);

	char *h = req_head(req);
	cr_assert_str_eq(h, "GET / HTTP/1.1\r\n\r\n");
	free(h);
	nghttpw_http_req_free(req);
}

Test(http_res, defaults)
{
	nghttpw_http_res *res;
	void             *data = (void *) 1;
	size_t            size = 99;

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "OK");
	cr_assert_str_eq(nghttpw_http_res_get_version(res), "HTTP/1.1");
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);

	char *h = res_head(res);
	cr_assert_str_eq(h, "HTTP/1.1 200 OK\r\n\r\n");
	free(h);
	nghttpw_http_res_free(res);
	cr_assert_eq(nghttpw_http_res_alloc(NULL), NGHTTPW_EINVAL);
}

/* ---- start line ---- */

Test(http_req, method_uri_version)
{
	nghttpw_http_req *req;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);

	cr_assert_eq(nghttpw_http_req_set_method(req, "POST"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "POST");
	cr_assert_eq(nghttpw_http_req_set_method(req, "M-SEARCH"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "M-SEARCH");
	cr_assert_eq(nghttpw_http_req_set_method(req, "A-VERY-LONG-EXTENSION-METHOD-NAME-X"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "A-VERY-LONG-EXTENSION-METHOD-NAME-X");

	const char *bad_methods[] = { "", "GET POST", "GET\r\n", "G:T", "(GET)", "GET\t", "G\x7f" };
	for (size_t i = 0; i < sizeof(bad_methods) / sizeof(bad_methods[0]); i++) {
		cr_assert_eq(nghttpw_http_req_set_method(req, bad_methods[i]), NGHTTPW_EINVAL, "method %zu", i);
		cr_assert_str_eq(nghttpw_http_req_get_method(req), "A-VERY-LONG-EXTENSION-METHOD-NAME-X");
	}

	cr_assert_eq(nghttpw_http_req_set_uri(req, "/index.html?q=%20x#frag"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/index.html?q=%20x#frag");
	cr_assert_eq(nghttpw_http_req_set_uri(req, "*"), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, "http://example.com/abs"), 0);
	const char *bad_uris[] = { "", "/a b", "/a\r\nEvil: 1", "/\t", "/\x01", "/\x7f" };
	for (size_t i = 0; i < sizeof(bad_uris) / sizeof(bad_uris[0]); i++) {
		cr_assert_eq(nghttpw_http_req_set_uri(req, bad_uris[i]), NGHTTPW_EINVAL, "uri %zu", i);
		cr_assert_str_eq(nghttpw_http_req_get_uri(req), "http://example.com/abs");
	}

	cr_assert_eq(nghttpw_http_req_set_version(req, "HTTP/1.0"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/1.0");
	cr_assert_eq(nghttpw_http_req_set_version(req, "HTTP/2.0"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/2.0");
	const char *bad_versions[] = { "", "HTTP/2", "http/1.1", "HTTP/1.1 ", "HTTP/1.12", "HTTP/a.1", "HTTP/1,1", "HTTP/1.1\r\n" };
	for (size_t i = 0; i < sizeof(bad_versions) / sizeof(bad_versions[0]); i++) {
		cr_assert_eq(nghttpw_http_req_set_version(req, bad_versions[i]), NGHTTPW_EINVAL, "version %zu", i);
		cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/2.0");
	}
	cr_assert_eq(nghttpw_http_req_set_method(req, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_set_uri(req, NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_set_version(req, NULL), NGHTTPW_EINVAL);
	nghttpw_http_req_free(req);
}

Test(http_req, start_line_aliasing)
{
	nghttpw_http_req *req;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, "/some/long/path/that/needs/a/bigger/buffer"), 0);
	/* A tail of the current value, set in place. */
	cr_assert_eq(nghttpw_http_req_set_uri(req, nghttpw_http_req_get_uri(req) + 5), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/long/path/that/needs/a/bigger/buffer");
	cr_assert_eq(nghttpw_http_req_set_uri(req, nghttpw_http_req_get_uri(req)), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/long/path/that/needs/a/bigger/buffer");
	nghttpw_http_req_free(req);
}

/* ---- headers ---- */

Test(http_hdr, case_insensitive)
{
	nghttpw_http_req *req;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Content-Type", "text/plain"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "content-type"), "text/plain");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "CONTENT-TYPE"), "text/plain");
	cr_assert_null(nghttpw_http_req_get_header(req, "Content-Typ"));
	cr_assert_null(nghttpw_http_req_get_header(req, "Content-Types"));
	cr_assert_eq(nghttpw_http_req_set_header(req, "CONTENT-type", "text/html"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Content-Type"), "text/html");

	/* The first spelling is kept on the wire. */
	char *h = req_head(req);
	cr_assert_str_eq(h, "GET / HTTP/1.1\r\nContent-Type: text/html\r\n\r\n");
	free(h);

	cr_assert_eq(nghttpw_http_req_del_header(req, "content-TYPE"), 0);
	cr_assert_null(nghttpw_http_req_get_header(req, "Content-Type"));
	nghttpw_http_req_free(req);
}

Test(http_hdr, add_appends)
{
	nghttpw_http_res *res;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Vary", "Accept"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "X-Other", "1"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "vary", "Accept-Encoding"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Vary"), "Accept, Accept-Encoding");
	cr_assert_eq(nghttpw_http_res_add_header(res, "VARY", "Origin"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Vary"), "Accept, Accept-Encoding, Origin");

	/* Empty elements add nothing; an empty field takes the new value. */
	cr_assert_eq(nghttpw_http_res_add_header(res, "Vary", ""), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Vary"), "Accept, Accept-Encoding, Origin");
	cr_assert_eq(nghttpw_http_res_add_header(res, "X-Empty", ""), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "X-Empty"), "");
	cr_assert_eq(nghttpw_http_res_add_header(res, "X-Empty", "now"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "X-Empty"), "now");

	char *h = res_head(res);
	cr_assert_str_eq(h,
	    "HTTP/1.1 200 OK\r\n"
	    "Vary: Accept, Accept-Encoding, Origin\r\n"
	    "X-Other: 1\r\n"
	    "X-Empty: now\r\n"
	    "\r\n");
	free(h);
	nghttpw_http_res_free(res);
}

Test(http_hdr, add_own_value)
{
	nghttpw_http_req *req;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "A", "x"), 0);
	/* Growing several times, each time appending the field's own value. */
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(nghttpw_http_req_add_header(req, "A", nghttpw_http_req_get_header(req, "A")), 0);
	}
	const char *v = nghttpw_http_req_get_header(req, "A");
	cr_assert_eq(strlen(v), 64 + 63 * 2);
	cr_assert_eq(strncmp(v, "x, x, x, ", 9), 0);

	cr_assert_eq(nghttpw_http_req_set_header(req, "B", "some value"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "B", nghttpw_http_req_get_header(req, "B") + 5), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "B"), "value");
	cr_assert_eq(nghttpw_http_req_set_header(req, "B", nghttpw_http_req_get_header(req, "A")), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "B"), nghttpw_http_req_get_header(req, "A"));
	nghttpw_http_req_free(req);
}

Test(http_hdr, set_cookie_separate)
{
	nghttpw_http_res *res;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Set-Cookie", "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Content-Type", "text/plain"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "set-cookie", "b=2; Path=/"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Set-Cookie"), "a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT");

	char *h = res_head(res);
	cr_assert_str_eq(h,
	    "HTTP/1.1 200 OK\r\n"
	    "Set-Cookie: a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT\r\n"
	    "Content-Type: text/plain\r\n"
	    "set-cookie: b=2; Path=/\r\n"
	    "\r\n");
	free(h);

	/* Iteration sees both lines. */
	size_t                n;
	const nhw_http_field *f = nhw_http_msg_fields(nhw_http_res_msg(res), &n);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(f[2].name, "set-cookie");
	cr_assert_eq(f[2].name_len, 10);
	cr_assert_str_eq(f[2].value, "b=2; Path=/");
	cr_assert_eq(f[2].value_len, 11);

	/* set replaces every line with one. */
	cr_assert_eq(nghttpw_http_res_set_header(res, "Set-Cookie", "c=3"), 0);
	h = res_head(res);
	cr_assert_str_eq(h,
	    "HTTP/1.1 200 OK\r\n"
	    "Set-Cookie: c=3\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n");
	free(h);

	cr_assert_eq(nghttpw_http_res_add_header(res, "Set-Cookie", "d=4"), 0);
	cr_assert_eq(nghttpw_http_res_del_header(res, "SET-COOKIE"), 0);
	cr_assert_null(nghttpw_http_res_get_header(res, "Set-Cookie"));
	cr_assert_eq(nghttpw_http_res_del_header(res, "Set-Cookie"), NGHTTPW_ENOENT);
	nghttpw_http_res_free(res);
}

Test(http_hdr, set_replaces_all)
{
	nghttpw_http_req *req;
	nhw_http_msg     *m;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	m = nhw_http_req_msg(req);
	/* Duplicate lines can only arise through Set-Cookie; build some. */
	cr_assert_eq(nhw_http_msg_add_header_n(m, "Set-Cookie", 10, "1", 1), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "X", "x"), 0);
	cr_assert_eq(nhw_http_msg_add_header_n(m, "set-cookie", 10, "2", 1), 0);
	cr_assert_eq(nhw_http_msg_add_header_n(m, "SET-COOKIE", 10, "3", 1), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Set-cookie", "a much longer value than before"), 0);
	char *h = req_head(req);
	cr_assert_str_eq(h, "GET / HTTP/1.1\r\nSet-Cookie: a much longer value than before\r\nX: x\r\n\r\n");
	free(h);

	cr_assert_eq(nghttpw_http_req_set_header(req, "X", "y"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "x"), "y");
	cr_assert_eq(nghttpw_http_req_set_header(req, "New", "n"), 0);
	h = req_head(req);
	cr_assert_str_eq(h, "GET / HTTP/1.1\r\nSet-Cookie: a much longer value than before\r\nX: y\r\nNew: n\r\n\r\n");
	free(h);
	nghttpw_http_req_free(req);
}

Test(http_hdr, del)
{
	nghttpw_http_req *req;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_del_header(req, "Host"), NGHTTPW_ENOENT);
	cr_assert_eq(nghttpw_http_req_add_header(req, "A", "1"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "B", "2"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "C", "3"), 0);
	cr_assert_eq(nghttpw_http_req_del_header(req, "b"), 0);
	cr_assert_eq(nghttpw_http_req_del_header(req, "B"), NGHTTPW_ENOENT);
	char *h = req_head(req);
	cr_assert_str_eq(h, "GET / HTTP/1.1\r\nA: 1\r\nC: 3\r\n\r\n");
	free(h);
	/* A spare slot is reused. */
	cr_assert_eq(nghttpw_http_req_add_header(req, "D", "4"), 0);
	h = req_head(req);
	cr_assert_str_eq(h, "GET / HTTP/1.1\r\nA: 1\r\nC: 3\r\nD: 4\r\n\r\n");
	free(h);
	cr_assert_eq(nghttpw_http_req_del_header(req, ""), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_del_header(req, "A B"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_del_header(req, NULL), NGHTTPW_EINVAL);
	nghttpw_http_req_free(req);
}

Test(http_hdr, many_fields)
{
	nghttpw_http_req *req;
	char              name[32], val[32];
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "X-Field-%d", i);
			snprintf(val, sizeof(val), "value %d", i * round);
			cr_assert_eq(nghttpw_http_req_add_header(req, name, val), 0);
		}
		for (int i = 0; i < 100; i += 3) {
			snprintf(name, sizeof(name), "x-field-%d", i);
			cr_assert_eq(nghttpw_http_req_del_header(req, name), 0);
		}
		size_t                n;
		const nhw_http_field *f = nhw_http_msg_fields(nhw_http_req_msg(req), &n);
		cr_assert_eq(n, 66);
		cr_assert_str_eq(f[0].name, "X-Field-1");
		snprintf(val, sizeof(val), "value %d", 1 * round);
		cr_assert_str_eq(f[0].value, val);
		char *h = req_head(req);
		cr_assert_eq(nhw_http_req_head_size(req), strlen(h));
		free(h);
		nghttpw_http_req_reset(req);
	}
	nghttpw_http_req_free(req);
}

/* The serialized head, for checking that a failed call changed nothing. */
static void
check_unchanged(nghttpw_http_req *req, const char *want)
{
	char *h = req_head(req);
	cr_assert_str_eq(h, want);
	free(h);
}

Test(http_hdr, injection_refused)
{
	nghttpw_http_req *req;
	nhw_http_msg     *m;
	const char       *want = "GET / HTTP/1.1\r\nX: safe\r\nSet-Cookie: s=1\r\n\r\n";

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	m = nhw_http_req_msg(req);
	cr_assert_eq(nghttpw_http_req_set_header(req, "X", "safe"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "Set-Cookie", "s=1"), 0);
	check_unchanged(req, want);

	const char *bad_values[] = {
		"a\r\nEvil: 1", "a\nEvil: 1", "a\rEvil: 1", "\r\n", "a\x01", "a\x1b[0m", "a\x7f", "\x0b",
	};
	const char *names[] = { "X", "x", "Set-Cookie", "Y" };
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			cr_assert_eq(nghttpw_http_req_set_header(req, names[j], bad_values[i]), NGHTTPW_EINVAL, "v%zu n%zu", i, j);
			cr_assert_eq(nghttpw_http_req_add_header(req, names[j], bad_values[i]), NGHTTPW_EINVAL, "v%zu n%zu", i, j);
			check_unchanged(req, want);
		}
	}

	const char *bad_names[] = {
		"", "X Y", "X:Y", "X:", " X", "X\r\nEvil", "X\n", "(X)", "X/Y", "X@", "X\"", "X\t", "X,Y", "[X]", "X\x80", "X=Y", "X{",
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		cr_assert_eq(nghttpw_http_req_set_header(req, bad_names[i], "v"), NGHTTPW_EINVAL, "name %zu", i);
		cr_assert_eq(nghttpw_http_req_add_header(req, bad_names[i], "v"), NGHTTPW_EINVAL, "name %zu", i);
		cr_assert_eq(nghttpw_http_req_del_header(req, bad_names[i]), NGHTTPW_EINVAL, "name %zu", i);
		cr_assert_null(nghttpw_http_req_get_header(req, bad_names[i]));
		check_unchanged(req, want);
	}

	/* NUL bytes through the counted functions. */
	cr_assert_eq(nhw_http_msg_add_header_n(m, "X", 1, "a\0Evil", 6), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_msg_set_header_n(m, "X", 1, "a\0Evil", 6), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_msg_add_header_n(m, "X\0Y", 3, "a", 1), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_msg_set_header_n(m, "X\0Y", 3, "a", 1), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_msg_del_header_n(m, "X\0Y", 3), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_msg_set_header_n(m, "X", 0, "a", 1), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_req_set_method_n(req, "GET\0X", 5), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_req_set_uri_n(req, "/a\0b", 4), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_req_set_version_n(req, "HTTP/1.1\0", 9), NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_req_set_version_n(req, "HTTP/1\0.1", 8), NGHTTPW_EINVAL);
	check_unchanged(req, want);

	/* Tabs and bytes above 0x7f are legal in values. */
	cr_assert_eq(nghttpw_http_req_set_header(req, "Y", "a\tb \xc3\xa9"), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Y"), "a\tb \xc3\xa9");

	/* NULL arguments. */
	cr_assert_eq(nghttpw_http_req_set_header(req, NULL, "v"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_set_header(req, "X", NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_add_header(req, NULL, "v"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_add_header(req, "X", NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_set_header(NULL, "X", "v"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_add_header(NULL, "X", "v"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_del_header(NULL, "X"), NGHTTPW_EINVAL);
	cr_assert_null(nghttpw_http_req_get_header(NULL, "X"));
	cr_assert_null(nghttpw_http_req_get_header(req, NULL));
	nghttpw_http_req_free(req);
}

Test(http_hdr, counted_setters)
{
	nghttpw_http_res *res;
	nhw_http_msg     *m;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	m = nhw_http_res_msg(res);
	/* Not NUL-terminated: the lengths decide. */
	const char line[] = "Content-LengthXX: 42YY";
	cr_assert_eq(nhw_http_msg_add_header_n(m, line, 14, line + 18, 2), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "content-length"), "42");
	cr_assert_str_eq(nhw_http_msg_get_header_n(m, "CONTENT-LENGTHzzz", 14), "42");
	cr_assert_eq(nhw_http_msg_set_header_n(m, "Content-Length", 14, "7xyz", 1), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "7");
	cr_assert_eq(nhw_http_msg_del_header_n(m, "content-length!!", 14), 0);
	cr_assert_eq(nhw_http_msg_del_header_n(m, "content-length", 14), NGHTTPW_ENOENT);

	cr_assert_eq(nhw_http_res_set_version_n(res, "HTTP/1.0 200", 8), 0);
	cr_assert_str_eq(nghttpw_http_res_get_version(res), "HTTP/1.0");
	cr_assert_eq(nhw_http_res_set_reason_n(res, "Fine\r\n", 4), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Fine");
	cr_assert_eq(nhw_http_res_set_reason_n(res, "Fi\0ne", 5), NGHTTPW_EINVAL);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Fine");
	char *h = res_head(res);
	cr_assert_str_eq(h, "HTTP/1.0 200 Fine\r\n\r\n");
	free(h);
	nghttpw_http_res_free(res);

	nghttpw_http_req *req;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nhw_http_req_set_method_n(req, "DELETE /x", 6), 0);
	cr_assert_eq(nhw_http_req_set_uri_n(req, "/x HTTP/1.1", 2), 0);
	cr_assert_eq(nhw_http_req_set_version_n(req, "HTTP/1.0\r\n", 8), 0);
	h = req_head(req);
	cr_assert_str_eq(h, "DELETE /x HTTP/1.0\r\n\r\n");
	free(h);
	nghttpw_http_req_free(req);
}

/* ---- status and reason ---- */

static const struct {
	uint16_t    status;
	const char *reason;
} status_table[] = {
	{ NGHTTPW_HTTP_STATUS_CONTINUE, "Continue" },
	{ NGHTTPW_HTTP_STATUS_SWITCHING, "Switching Protocols" },
	{ NGHTTPW_HTTP_STATUS_PROCESSING, "Processing" },
	{ NGHTTPW_HTTP_STATUS_OK, "OK" },
	{ NGHTTPW_HTTP_STATUS_CREATED, "Created" },
	{ NGHTTPW_HTTP_STATUS_ACCEPTED, "Accepted" },
	{ NGHTTPW_HTTP_STATUS_NOT_AUTHORITATIVE, "Non-Authoritative Information" },
	{ NGHTTPW_HTTP_STATUS_NO_CONTENT, "No Content" },
	{ NGHTTPW_HTTP_STATUS_RESET_CONTENT, "Reset Content" },
	{ NGHTTPW_HTTP_STATUS_PARTIAL_CONTENT, "Partial Content" },
	{ NGHTTPW_HTTP_STATUS_MULTI_STATUS, "Multi-Status" },
	{ NGHTTPW_HTTP_STATUS_ALREADY_REPORTED, "Already Reported" },
	{ NGHTTPW_HTTP_STATUS_IM_USED, "IM Used" },
	{ NGHTTPW_HTTP_STATUS_MULTIPLE_CHOICES, "Multiple Choices" },
	{ NGHTTPW_HTTP_STATUS_STATUS_MOVED_PERMANENTLY, "Moved Permanently" },
	{ NGHTTPW_HTTP_STATUS_MOVED_PERMANENTLY, "Moved Permanently" },
	{ NGHTTPW_HTTP_STATUS_FOUND, "Found" },
	{ NGHTTPW_HTTP_STATUS_SEE_OTHER, "See Other" },
	{ NGHTTPW_HTTP_STATUS_NOT_MODIFIED, "Not Modified" },
	{ NGHTTPW_HTTP_STATUS_USE_PROXY, "Use Proxy" },
	{ NGHTTPW_HTTP_STATUS_TEMPORARY_REDIRECT, "Temporary Redirect" },
	{ NGHTTPW_HTTP_STATUS_PERMANENT_REDIRECT, "Permanent Redirect" },
	{ NGHTTPW_HTTP_STATUS_BAD_REQUEST, "Bad Request" },
	{ NGHTTPW_HTTP_STATUS_UNAUTHORIZED, "Unauthorized" },
	{ NGHTTPW_HTTP_STATUS_PAYMENT_REQUIRED, "Payment Required" },
	{ NGHTTPW_HTTP_STATUS_FORBIDDEN, "Forbidden" },
	{ NGHTTPW_HTTP_STATUS_NOT_FOUND, "Not Found" },
	{ NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED, "Method Not Allowed" },
	{ NGHTTPW_HTTP_STATUS_NOT_ACCEPTABLE, "Not Acceptable" },
	{ NGHTTPW_HTTP_STATUS_PROXY_AUTH_REQUIRED, "Proxy Authentication Required" },
	{ NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT, "Request Timeout" },
	{ NGHTTPW_HTTP_STATUS_CONFLICT, "Conflict" },
	{ NGHTTPW_HTTP_STATUS_GONE, "Gone" },
	{ NGHTTPW_HTTP_STATUS_LENGTH_REQUIRED, "Length Required" },
	{ NGHTTPW_HTTP_STATUS_PRECONDITION_FAILED, "Precondition Failed" },
	{ NGHTTPW_HTTP_STATUS_PAYLOAD_TOO_LARGE, "Content Too Large" },
	{ NGHTTPW_HTTP_STATUS_ENTITY_TOO_LONG, "URI Too Long" },
	{ NGHTTPW_HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type" },
	{ NGHTTPW_HTTP_STATUS_RANGE_NOT_SATISFIABLE, "Range Not Satisfiable" },
	{ NGHTTPW_HTTP_STATUS_EXPECTATION_FAILED, "Expectation Failed" },
	{ NGHTTPW_HTTP_STATUS_TEAPOT, "I'm a teapot" },
	{ NGHTTPW_HTTP_STATUS_UNPROCESSABLE_ENTITY, "Unprocessable Content" },
	{ NGHTTPW_HTTP_STATUS_LOCKED, "Locked" },
	{ NGHTTPW_HTTP_STATUS_FAILED_DEPENDENCY, "Failed Dependency" },
	{ NGHTTPW_HTTP_STATUS_UPGRADE_REQUIRED, "Upgrade Required" },
	{ NGHTTPW_HTTP_STATUS_PRECONDITION_REQUIRED, "Precondition Required" },
	{ NGHTTPW_HTTP_STATUS_TOO_MANY_REQUESTS, "Too Many Requests" },
	{ NGHTTPW_HTTP_STATUS_HEADERS_TOO_LARGE, "Request Header Fields Too Large" },
	{ NGHTTPW_HTTP_STATUS_UNAVAIL_LEGAL_REASONS, "Unavailable For Legal Reasons" },
	{ NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR, "Internal Server Error" },
	{ NGHTTPW_HTTP_STATUS_NOT_IMPLEMENTED, "Not Implemented" },
	{ NGHTTPW_HTTP_STATUS_BAD_GATEWAY, "Bad Gateway" },
	{ NGHTTPW_HTTP_STATUS_SERVICE_UNAVAILABLE, "Service Unavailable" },
	{ NGHTTPW_HTTP_STATUS_GATEWAY_TIMEOUT, "Gateway Timeout" },
	{ NGHTTPW_HTTP_STATUS_HTTP_VERSION_NOT_SUPP, "HTTP Version Not Supported" },
	{ NGHTTPW_HTTP_STATUS_VARIANT_ALSO_NEGOTIATES, "Variant Also Negotiates" },
	{ NGHTTPW_HTTP_STATUS_INSUFFICIENT_STORAGE, "Insufficient Storage" },
	{ NGHTTPW_HTTP_STATUS_LOOP_DETECTED, "Loop Detected" },
	{ NGHTTPW_HTTP_STATUS_NOT_EXTENDED, "Not Extended" },
	{ NGHTTPW_HTTP_STATUS_NETWORK_AUTH_REQUIRED, "Network Authentication Required" },
	{ 103, "Early Hints" },
	{ 421, "Misdirected Request" },
	{ 425, "Too Early" },
	{ 199, "Unknown HTTP Status" },
	{ 299, "Unknown HTTP Status" },
	{ 419, "Unknown HTTP Status" },
	{ 599, "Unknown HTTP Status" },
	{ 999, "Unknown HTTP Status" },
};

Test(http_res, status_reasons)
{
	nghttpw_http_res *res;
	char              want[128];
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
		cr_assert_eq(nghttpw_http_res_set_status(res, status_table[i].status), 0);
		cr_assert_eq(nghttpw_http_res_get_status(res), status_table[i].status);
		cr_assert_str_eq(nghttpw_http_res_get_reason(res), status_table[i].reason, "status %u", status_table[i].status);
		char *h = res_head(res);
		snprintf(want, sizeof(want), "HTTP/1.1 %u %s\r\n\r\n", status_table[i].status, status_table[i].reason);
		cr_assert_str_eq(h, want);
		free(h);
	}
	cr_assert_eq(nghttpw_http_res_set_status(res, 404), 0);
	cr_assert_eq(nghttpw_http_res_set_status(res, 0), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_status(res, 99), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_status(res, 1000), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_status(res, 65535), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_get_status(res), 404);
	cr_assert_eq(nghttpw_http_res_set_status(NULL, 200), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_get_status(NULL), 0);
	cr_assert_null(nghttpw_http_res_get_reason(NULL));
	nghttpw_http_res_free(res);
}

Test(http_res, custom_reason)
{
	nghttpw_http_res *res;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_set_reason(res, "Everything Is Fine"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Everything Is Fine");
	/* The set reason stays when the status changes. */
	cr_assert_eq(nghttpw_http_res_set_status(res, 404), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Everything Is Fine");
	char *h = res_head(res);
	cr_assert_str_eq(h, "HTTP/1.1 404 Everything Is Fine\r\n\r\n");
	free(h);

	const char *bad[] = { "a\r\nEvil: 1", "a\n", "a\r", "\x01", "\x7f" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(nghttpw_http_res_set_reason(res, bad[i]), NGHTTPW_EINVAL);
		cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Everything Is Fine");
	}
	cr_assert_eq(nghttpw_http_res_set_reason(res, nghttpw_http_res_get_reason(res) + 11), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Is Fine");

	cr_assert_eq(nghttpw_http_res_set_reason(res, ""), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "");
	h = res_head(res);
	cr_assert_str_eq(h, "HTTP/1.1 404 \r\n\r\n");
	free(h);

	cr_assert_eq(nghttpw_http_res_set_reason(res, NULL), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Not Found");
	cr_assert_eq(nghttpw_http_res_set_reason(NULL, "x"), NGHTTPW_EINVAL);
	nghttpw_http_res_free(res);
}

Test(http_res, version)
{
	nghttpw_http_res *res;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_set_version(res, "HTTP/1.0"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_version(res), "HTTP/1.0");
	cr_assert_eq(nghttpw_http_res_set_version(res, "HTTP/1.1\r\nX: y"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_version(res, "HTTP/1"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_version(res, NULL), NGHTTPW_EINVAL);
	cr_assert_str_eq(nghttpw_http_res_get_version(res), "HTTP/1.0");
	cr_assert_eq(nghttpw_http_res_set_version(NULL, "HTTP/1.1"), NGHTTPW_EINVAL);
	cr_assert_null(nghttpw_http_res_get_version(NULL));
	nghttpw_http_res_free(res);
}

Test(http_res, alloc_error)
{
	nghttpw_http_res *res;
	void             *data;
	size_t            size;
	char              cl[32];

	cr_assert_eq(nghttpw_http_res_alloc_error(&res, NGHTTPW_HTTP_STATUS_NOT_FOUND), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 404);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Not Found");
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Type"), "text/html; charset=UTF-8");
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_not_null(data);
	cr_assert_gt(size, 0);
	snprintf(cl, sizeof(cl), "%zu", size);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), cl);
	char *body = strndup(data, size);
	cr_assert_not_null(body);
	cr_assert_not_null(strstr(body, "404 Not Found"));
	cr_assert_not_null(strstr(body, "<html>"));
	free(body);
	nghttpw_http_res_free(res);

	cr_assert_eq(nghttpw_http_res_alloc_error(&res, 599), 0);
	nghttpw_http_res_get_data(res, &data, &size);
	body = strndup(data, size);
	cr_assert_not_null(strstr(body, "599 Unknown HTTP Status"));
	free(body);
	/* reset makes it a plain 200 again. */
	nghttpw_http_res_reset(res);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_assert_null(nghttpw_http_res_get_header(res, "Content-Type"));
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);
	nghttpw_http_res_free(res);

	res = (nghttpw_http_res *) &res;
	cr_assert_eq(nghttpw_http_res_alloc_error(&res, 0), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_alloc_error(&res, 1000), NGHTTPW_EINVAL);
	cr_assert_eq(res, (nghttpw_http_res *) &res);
	cr_assert_eq(nghttpw_http_res_alloc_error(NULL, 500), NGHTTPW_EINVAL);
}

/* ---- data ---- */

Test(http_data, set_data_no_copy)
{
	static const char body[] = "hello, world";
	nghttpw_http_req *req;
	void             *data;
	size_t            size;

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_data(req, body, 12), 0);
	nghttpw_http_req_get_data(req, &data, &size);
	cr_assert_eq(data, (void *) body);
	cr_assert_eq(size, 12);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Content-Length"), "12");

	/* Content-Length is replaced, not appended to. */
	cr_assert_eq(nghttpw_http_req_set_data(req, body, 5), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Content-Length"), "5");
	cr_assert_eq(nghttpw_http_req_set_data(req, body, 0), 0);
	nghttpw_http_req_get_data(req, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);
	cr_assert_eq(nghttpw_http_req_set_data(req, NULL, 0), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Content-Length"), "0");
	nghttpw_http_req_get_data(req, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);

	cr_assert_eq(nghttpw_http_req_set_data(req, NULL, 3), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_copy_data(req, NULL, 3), NGHTTPW_EINVAL);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "Content-Length"), "0");
	cr_assert_eq(nghttpw_http_req_set_data(NULL, body, 3), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_req_copy_data(NULL, body, 3), NGHTTPW_EINVAL);

	/* Optional outputs. */
	nghttpw_http_req_get_data(req, NULL, &size);
	nghttpw_http_req_get_data(req, &data, NULL);
	data = (void *) 1;
	size = 9;
	nghttpw_http_req_get_data(NULL, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);
	nghttpw_http_req_free(req);
}

Test(http_data, copy_data)
{
	char              body[] = "copied body";
	nghttpw_http_res *res;
	void             *data;
	size_t            size;

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_copy_data(res, body, 11), 0);
	memset(body, 'z', 11); /* the message has its own copy */
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_neq(data, (void *) body);
	cr_assert_eq(size, 11);
	cr_assert_eq(memcmp(data, "copied body", 11), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "11");

	/* Copying from the message's own body. */
	cr_assert_eq(nghttpw_http_res_copy_data(res, (char *) data + 7, 4), 0);
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_eq(size, 4);
	cr_assert_eq(memcmp(data, "body", 4), 0);
	/* Borrowing from the owned body takes a copy instead of dangling. */
	cr_assert_eq(nghttpw_http_res_set_data(res, (char *) data + 1, 3), 0);
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_eq(size, 3);
	cr_assert_eq(memcmp(data, "ody", 3), 0);

	/* Replacing an owned body with a borrowed one frees the copy. */
	cr_assert_eq(nghttpw_http_res_set_data(res, "static", 6), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "6");

	cr_assert_eq(nghttpw_http_res_copy_data(res, "", 0), 0);
	nghttpw_http_res_get_data(res, &data, &size);
	cr_assert_null(data);
	cr_assert_eq(size, 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "0");
	nghttpw_http_res_free(res);
}

Test(http_data, alloc_data)
{
	nghttpw_http_req *req;
	void             *buf, *data;
	size_t            size;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nhw_http_msg_alloc_data(nhw_http_req_msg(req), 10, &buf), 0);
	memcpy(buf, "0123456789", 10);
	nghttpw_http_req_get_data(req, &data, &size);
	cr_assert_eq(data, buf);
	cr_assert_eq(size, 10);
	cr_assert_null(nghttpw_http_req_get_header(req, "Content-Length"));
	cr_assert_eq(nhw_http_msg_alloc_data(nhw_http_req_msg(req), 0, &buf), 0);
	cr_assert_null(buf);
	cr_assert_eq(nhw_http_msg_alloc_data(nhw_http_req_msg(req), 5, NULL), 0);
	nghttpw_http_req_free(req); /* frees the owned buffer */
}

/* ---- serialization ---- */

Test(http_wire, request_exact)
{
	nghttpw_http_req *req;
	nghttpw_url       u = make_url("example.org", "/api/v1/items?id=7");
	const char       *want =
	    "POST /api/v1/items?id=7 HTTP/1.1\r\n"
	    "Host: example.org\r\n"
	    "Content-Type: application/json\r\n"
	    "Accept: text/html, application/json\r\n"
	    "X-Empty: \r\n"
	    "Content-Length: 2\r\n"
	    "\r\n";

	cr_assert_eq(nghttpw_http_req_alloc(&req, &u), 0);
	cr_assert_eq(nghttpw_http_req_set_method(req, "POST"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Content-Type", "application/json"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "Accept", "text/html"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "Accept", "application/json"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "X-Empty", ""), 0);
	cr_assert_eq(nghttpw_http_req_set_data(req, "{}", 2), 0);

	size_t len = nhw_http_req_head_size(req);
	cr_assert_eq(len, strlen(want));
	char *buf = malloc(len);
	cr_assert_not_null(buf);
	nhw_http_req_head_write(req, buf);
	cr_assert_eq(memcmp(buf, want, len), 0);
	free(buf);

	const char *h1, *h2;
	size_t      l1, l2;
	cr_assert_eq(nhw_http_req_get_head(req, &h1, &l1), 0);
	cr_assert_eq(l1, len);
	cr_assert_eq(memcmp(h1, want, len), 0);
	cr_assert_eq(h1[l1], '\0');
	/* The buffer is reused when the head still fits. */
	cr_assert_eq(nghttpw_http_req_del_header(req, "X-Empty"), 0);
	cr_assert_eq(nhw_http_req_get_head(req, &h2, &l2), 0);
	cr_assert_eq(h2, h1);
	cr_assert_eq(l2, len - strlen("X-Empty: \r\n"));
	nghttpw_http_req_free(req);
}

Test(http_wire, response_exact)
{
	nghttpw_http_res *res;
	const char       *want =
	    "HTTP/1.1 201 Created\r\n"
	    "Location: /items/8\r\n"
	    "Cache-Control: no-cache, no-store\r\n"
	    "Set-Cookie: id=1\r\n"
	    "Set-Cookie: theme=dark\r\n"
	    "Content-Length: 5\r\n"
	    "\r\n";

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_set_status(res, NGHTTPW_HTTP_STATUS_CREATED), 0);
	cr_assert_eq(nghttpw_http_res_set_header(res, "Location", "/items/8"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Cache-Control", "no-cache"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Cache-Control", "no-store"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Set-Cookie", "id=1"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Set-Cookie", "theme=dark"), 0);
	cr_assert_eq(nghttpw_http_res_copy_data(res, "hello", 5), 0);

	size_t len = nhw_http_res_head_size(res);
	cr_assert_eq(len, strlen(want));
	char *buf = malloc(len);
	nhw_http_res_head_write(res, buf);
	cr_assert_eq(memcmp(buf, want, len), 0);
	free(buf);
	char *h = res_head(res);
	cr_assert_str_eq(h, want);
	free(h);
	nghttpw_http_res_free(res);
}

Test(http_wire, large_head)
{
	nghttpw_http_res *res;
	char             *big = malloc(5000);
	memset(big, 'v', 4999);
	big[4999] = '\0';
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	char *h = res_head(res); /* small buffer first */
	free(h);
	cr_assert_eq(nghttpw_http_res_set_header(res, "X-Big", big), 0);
	const char *buf;
	size_t      len;
	cr_assert_eq(nhw_http_res_get_head(res, &buf, &len), 0);
	cr_assert_eq(len, strlen("HTTP/1.1 200 OK\r\nX-Big: \r\n\r\n") + 4999);
	cr_assert_eq(nhw_http_res_head_size(res), len);
	free(big);
	nghttpw_http_res_free(res);
}

/* ---- reset ---- */

Test(http_reset, request)
{
	nghttpw_http_req *req;
	nghttpw_url       u = make_url("example.com", "/x");
	void             *data;
	size_t            size;
	char              big[600];

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(nghttpw_http_req_alloc(&req, &u), 0);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(nghttpw_http_req_set_method(req, "PROPFIND"), 0);
		cr_assert_eq(nghttpw_http_req_set_uri(req, "/some/where/else"), 0);
		cr_assert_eq(nghttpw_http_req_set_version(req, "HTTP/1.0"), 0);
		cr_assert_eq(nghttpw_http_req_add_header(req, "X-Big", big), 0);
		cr_assert_eq(nghttpw_http_req_add_header(req, "X-Small", "s"), 0);
		cr_assert_eq(nghttpw_http_req_copy_data(req, "abc", 3), 0);
		char *h = req_head(req);
		free(h);

		nghttpw_http_req_reset(req);
		cr_assert_str_eq(nghttpw_http_req_get_method(req), "GET");
		cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/");
		cr_assert_str_eq(nghttpw_http_req_get_version(req), "HTTP/1.1");
		cr_assert_null(nghttpw_http_req_get_header(req, "Host"));
		cr_assert_null(nghttpw_http_req_get_header(req, "X-Big"));
		cr_assert_null(nghttpw_http_req_get_header(req, "Content-Length"));
		nghttpw_http_req_get_data(req, &data, &size);
		cr_assert_null(data);
		cr_assert_eq(size, 0);
		check_unchanged(req, "GET / HTTP/1.1\r\n\r\n");
	}
	nghttpw_http_req_reset(NULL);
	nghttpw_http_req_free(NULL);
	nghttpw_http_req_free(req);
}

Test(http_reset, response)
{
	nghttpw_http_res *res;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_set_status(res, 503), 0);
	cr_assert_eq(nghttpw_http_res_set_reason(res, "Busy"), 0);
	cr_assert_eq(nghttpw_http_res_set_version(res, "HTTP/1.0"), 0);
	cr_assert_eq(nghttpw_http_res_set_header(res, "Retry-After", "5"), 0);
	cr_assert_eq(nghttpw_http_res_set_data(res, "later", 5), 0);
	nghttpw_http_res_reset(res);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "OK");
	cr_assert_str_eq(nghttpw_http_res_get_version(res), "HTTP/1.1");
	cr_assert_null(nghttpw_http_res_get_header(res, "Retry-After"));
	char *h = res_head(res);
	cr_assert_str_eq(h, "HTTP/1.1 200 OK\r\n\r\n");
	free(h);
	/* Usable again afterwards. */
	cr_assert_eq(nghttpw_http_res_set_reason(res, "Fine"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_reason(res), "Fine");
	nghttpw_http_res_reset(NULL);
	nghttpw_http_res_free(NULL);
	nghttpw_http_res_free(res);
}

/* ---- helpers for the connection code ---- */

Test(http_util, list_has_token)
{
	cr_assert(nhw_http_list_has_token("close", "close"));
	cr_assert(nhw_http_list_has_token("keep-alive, Close", "close"));
	cr_assert(nhw_http_list_has_token(" ,\tUpgrade ,x", "upgrade"));
	cr_assert(nhw_http_list_has_token("gzip, chunked;foo=bar", "chunked"));
	cr_assert_not(nhw_http_list_has_token("closed", "close"));
	cr_assert_not(nhw_http_list_has_token("x-close", "close"));
	cr_assert_not(nhw_http_list_has_token("a;close", "close"));
	/* Space does not separate elements (found by fuzzing). */
	cr_assert_not(nhw_http_list_has_token("gzip chunked", "chunked"));
	cr_assert_not(nhw_http_list_has_token("close cluse", "close"));
	cr_assert(nhw_http_list_has_token("gzip , chunked ", "chunked"));
	cr_assert_not(nhw_http_list_has_token("", "close"));
	cr_assert_not(nhw_http_list_has_token(NULL, "close"));
}

Test(http_util, syntax)
{
	cr_assert(nhw_http_is_token("!#$%&'*+-.^_`|~09azAZ", 21));
	cr_assert_not(nhw_http_is_token("", 0));
	cr_assert(nhw_http_is_value("", 0));
	cr_assert(nhw_http_is_value("\t \x80\xff", 4));
	cr_assert_not(nhw_http_is_value("\x7f", 1));
	cr_assert(nhw_http_is_version("HTTP/3.0", 8));
	cr_assert_not(nhw_http_is_version("HTTP/3", 6));
	cr_assert(nhw_http_is_uri("/\x80", 2));
	cr_assert(nhw_http_name_eq("Content-Length", 14, "cONTENT-lENGTH", 14));
	cr_assert_not(nhw_http_name_eq("a", 1, "ab", 2));
	cr_assert_str_eq(nhw_http_status_reason(404), "Not Found");
	cr_assert_null(nhw_http_status_reason(499));
}

/* ---- fast paths: well-known fields, number and date formatting ---- */

Test(http_fast, u64_str)
{
	char   buf[NHW_HTTP_U64_LEN];
	size_t n;

	n = nhw_http_u64_str(0, buf);
	cr_assert(n == 1 && memcmp(buf, "0", 1) == 0);
	n = nhw_http_u64_str(9, buf);
	cr_assert(n == 1 && memcmp(buf, "9", 1) == 0);
	n = nhw_http_u64_str(10, buf);
	cr_assert(n == 2 && memcmp(buf, "10", 2) == 0);
	n = nhw_http_u64_str(1234567890, buf);
	cr_assert(n == 10 && memcmp(buf, "1234567890", 10) == 0);
	n = nhw_http_u64_str(UINT64_MAX, buf);
	cr_assert(n == 20 && memcmp(buf, "18446744073709551615", 20) == 0);
}

Test(http_fast, content_length_values)
{
	nghttpw_http_res *res;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_set_data(res, NULL, 0), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "0");
	cr_assert_eq(nghttpw_http_res_copy_data(res, "0123456789", 10), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "content-length"), "10");

	/* A file body of the largest length: the value grows in place. */
	int fd = open("/dev/null", O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(nhw_http_res_set_file(res, fd, 0, UINT64_MAX), 0);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "CONTENT-LENGTH"),
	    "18446744073709551615");
	char *h = res_head(res);
	cr_assert_str_eq(h,
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 18446744073709551615\r\n"
	    "\r\n");
	free(h);
	nghttpw_http_res_free(res);
}

Test(http_fast, known_fields)
{
	nghttpw_http_req *req;
	nhw_http_msg     *m;
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	m = nhw_http_req_msg(req);
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_HOST));

	/* Set in any spelling through the public calls, found by kind. */
	cr_assert_eq(nghttpw_http_req_add_header(req, "hOST", "a.example"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "X-Other", "1"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "transfer-encoding", "gzip"), 0);
	cr_assert_eq(nghttpw_http_req_add_header(req, "Transfer-Encoding", "chunked"), 0);
	cr_assert_str_eq(nhw_http_msg_get_known(m, NHW_HDR_HOST), "a.example");
	cr_assert_str_eq(nhw_http_msg_get_known(m, NHW_HDR_TRANSFER_ENCODING),
	    "gzip, chunked");
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_EXPECT));
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_CONTENT_LENGTH));
	/* Names that only look alike are not the known field. */
	cr_assert_eq(nghttpw_http_req_set_header(req, "Hosts", "x"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Expect-", "x"), 0);
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_EXPECT));

	/* set_known keeps the field's place and spelling, and appends a
	 * missing one with the usual spelling; get_header sees both. */
	cr_assert_eq(nhw_http_msg_set_known(m, NHW_HDR_HOST, "b.example", 9), 0);
	cr_assert_eq(nhw_http_msg_set_known(m, NHW_HDR_EXPECT, "100-continue", 12), 0);
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "HOST"), "b.example");
	cr_assert_str_eq(nghttpw_http_req_get_header(req, "expect"), "100-continue");
	char *h = req_head(req);
	cr_assert_str_eq(h,
	    "GET / HTTP/1.1\r\n"
	    "hOST: b.example\r\n"
	    "X-Other: 1\r\n"
	    "transfer-encoding: gzip, chunked\r\n"
	    "Hosts: x\r\n"
	    "Expect-: x\r\n"
	    "Expect: 100-continue\r\n"
	    "\r\n");
	free(h);

	/* Deleting, or a reset, forgets them. */
	cr_assert_eq(nghttpw_http_req_del_header(req, "TRANSFER-encoding"), 0);
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_TRANSFER_ENCODING));
	cr_assert_str_eq(nhw_http_msg_get_known(m, NHW_HDR_EXPECT), "100-continue");
	cr_assert_str_eq(nhw_http_msg_get_known(m, NHW_HDR_HOST), "b.example");
	nghttpw_http_req_reset(req);
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_HOST));
	cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_EXPECT));
	cr_assert_eq(nghttpw_http_req_set_header(req, "Connection", "close"), 0);
	cr_assert_str_eq(nhw_http_msg_get_known(m, NHW_HDR_CONNECTION), "close");
	nghttpw_http_req_free(req);
}

/* Many fields and long values: past the slots and the pool inside the
 * message, across resets, with known fields among them. */
Test(http_fast, storage_growth)
{
	nghttpw_http_res *res;
	nhw_http_msg     *m;
	char              name[32], val[128];
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	m = nhw_http_res_msg(res);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20; i++) {
			snprintf(name, sizeof(name), "X-%d", i);
			snprintf(val, sizeof(val), "%0*d", 10 + i * 5, round);
			cr_assert_eq(nghttpw_http_res_set_header(res, name, val), 0);
			if (i == 10) {
				cr_assert_eq(nhw_http_msg_set_known(
				                 m, NHW_HDR_DATE, "today", 5), 0);
			}
		}
		/* Grow one value in place several times. */
		for (int i = 0; i < 4; i++) {
			cr_assert_eq(nghttpw_http_res_add_header(res, "x-0", "more"), 0);
		}
		size_t                n;
		const nhw_http_field *f = nhw_http_msg_fields(m, &n);
		cr_assert_eq(n, 21);
		snprintf(val, sizeof(val), "%0*d, more, more, more, more", 10, round);
		cr_assert_str_eq(f[0].value, val);
		cr_assert_str_eq(f[11].name, "Date");
		cr_assert_str_eq(nhw_http_msg_get_known(m, NHW_HDR_DATE), "today");
		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(strlen(f[i].name), f[i].name_len);
			cr_assert_eq(strlen(f[i].value), f[i].value_len);
		}
		char *h = res_head(res);
		cr_assert_eq(nhw_http_res_head_size(res), strlen(h));
		free(h);
		nghttpw_http_res_reset(res);
		cr_assert_null(nhw_http_msg_get_known(m, NHW_HDR_DATE));
	}
	nghttpw_http_res_free(res);
}

/* The parsed version string, now made without formatting. */
static void
check_parsed_version(const char *wire, const char *want)
{
	nghttpw_http_req *req;
	http_parser       p;
	parse_state       st;
	size_t            used;

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	http_parser_init_req(&p, req, 8192, 100);
	cr_assert_eq(http_parser_feed(&p, wire, 0, strlen(wire), &st, &used), 0);
	cr_assert_eq(st, PARSE_HEAD_DONE);
	cr_assert_str_eq(nghttpw_http_req_get_version(req), want);
	http_parser_fini(&p);
	nghttpw_http_req_free(req);
}

Test(http_fast, parsed_versions)
{
	check_parsed_version("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "HTTP/1.1");
	check_parsed_version("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0");
}

Test(http_fast, date_now)
{
	char   want[HTTP_DATE_SIZE];
	size_t len;
	time_t t;

	/* Equal to formatting the time now (retried across a second's
	 * edge), and a new value in the next second. */
	const char *d;
	do {
		t = time(NULL);
		http_date_format(t, want);
		d = http_date_now(&len);
	} while (time(NULL) != t);
	cr_assert_str_eq(d, want);
	cr_assert_eq(len, strlen(want));
	cr_assert_eq(len, 29);
	char first[HTTP_DATE_SIZE];
	memcpy(first, d, len + 1);
	while (time(NULL) == t) {
		usleep(10000);
	}
	d = http_date_now(&len);
	cr_assert_str_neq(d, first);
	int64_t parsed;
	cr_assert(http_date_parse(d, &parsed));
	cr_assert(parsed > (int64_t) t);
}

/* Every byte at every place of words read eight at a time and of the
 * tail: the value check agrees with the plain rule (no CTL but HTAB). */
Test(http_fast, value_check_by_word)
{
	char s[21];
	for (int pos = 0; pos < 21; pos++) {
		for (int c = 0; c < 256; c++) {
			memset(s, 'a', sizeof(s));
			s[pos]    = (char) c;
			bool want = c == '\t' || (c >= 0x20 && c != 0x7f);
			cr_assert_eq(nhw_http_is_value(s, sizeof(s)), want,
			    "byte %#x at %d", c, pos);
		}
	}
	/* A tab with a CTL after it in the same word. */
	cr_assert_not(nhw_http_is_value("ab\tcd\x01gh", 8));
	cr_assert(nhw_http_is_value("ab\tcd\x80gh", 8));
}

/* A lent body: the message never frees or closes it, and gives it back
 * (done, once) when it is replaced, reset or freed; not on failure. */
static int lent_done;

static void
count_done(void *arg)
{
	lent_done += *(int *) arg;
}

Test(http_res, lent_bodies_are_given_back_once)
{
	nghttpw_http_res *res;
	static const char bytes[] = "0123456789";
	int               one = 1, fd;
	const void       *body;
	size_t            size;
	uint64_t          off, len;

	lent_done = 0;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nhw_http_msg *msg = nhw_http_res_msg(res);
	cr_expect_eq(nhw_http_msg_lend_data(msg, bytes, 10, NULL, &one),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nhw_http_msg_lend_data(msg, bytes + 2, 3, count_done, &one), 0);
	nhw_http_msg_get_data(msg, &body, &size);
	cr_expect_eq(body, bytes + 2, "not copied");
	cr_expect_eq(size, 3);
	cr_expect_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "3");
	cr_expect_eq(lent_done, 0);
	/* Replaced: given back. */
	cr_assert_eq(nghttpw_http_res_copy_data(res, "x", 1), 0);
	cr_expect_eq(lent_done, 1);
	/* Reset: given back. */
	cr_assert_eq(nhw_http_msg_lend_data(msg, bytes, 10, count_done, &one), 0);
	nghttpw_http_res_reset(res);
	cr_expect_eq(lent_done, 2);

	/* A lent file: not closed by the message. */
	cr_assert((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	cr_assert_eq(nhw_http_msg_lend_file(msg, fd, 5, 7, count_done, &one), 0);
	cr_assert(nhw_http_msg_get_file(msg, &(int) { 0 }, &off, &len));
	cr_expect_eq(off, 5);
	cr_expect_eq(len, 7);
	cr_expect_str_eq(nghttpw_http_res_get_header(res, "Content-Length"), "7");
	nghttpw_http_res_free(res);
	cr_expect_eq(lent_done, 3, "freed: given back");
	cr_expect_eq(fcntl(fd, F_GETFD), FD_CLOEXEC, "the file is still open");
	close(fd);
}

/* Count of "name:" lines in a head (case as written). */
static int
field_lines(const char *head, const char *name)
{
	int    n   = 0;
	size_t len = strlen(name);

	for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
		if (strncmp(p + 2, name, len) == 0 && p[2 + len] == ':') {
			n++;
		}
	}
	return (n);
}

/* Fields lent with a body (a cached file's): in the head once, seen by
 * the getters, made ordinary before one of them changes, given back with
 * the body. */
Test(http_res, lent_fields_go_with_the_lent_body)
{
	static const char      bytes[] = "0123456789";
	static const char      lines[] = "ETag: \"x\"\r\nContent-Type: text/plain\r\n";
	static nhw_http_prefab p = { lines, sizeof(lines) - 1, { "ETag", "Content-Type" },
		{ "\"x\"", "text/plain" }, 2 };
	nghttpw_http_res *res;
	const char       *head;
	size_t            len;
	int               one = 1;

	lent_done = 0;
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nhw_http_msg *msg = nhw_http_res_msg(res);
	cr_expect_eq(nhw_http_msg_lend_fields(msg, &p), NGHTTPW_EINVAL, "no lent body");
	cr_assert_eq(nhw_http_msg_lend_data(msg, bytes, 10, count_done, &one), 0);
	cr_assert_eq(nhw_http_msg_lend_fields(msg, &p), 0);
	cr_expect_str_eq(nghttpw_http_res_get_header(res, "etag"), "\"x\"");
	cr_expect_str_eq(nghttpw_http_res_get_header(res, "Content-Type"), "text/plain");
	cr_assert_eq(nhw_http_res_get_head(res, &head, &len), 0);
	cr_expect_eq(strlen(head), len);
	cr_expect_eq(field_lines(head, "ETag"), 1, "%s", head);
	cr_expect_eq(field_lines(head, "Content-Type"), 1, "%s", head);
	cr_expect(strstr(head, "\r\n\r\n") == head + len - 4, "one end: %s", head);
	{
		const char *n, *v;
		void       *it    = NULL;
		int         found = 0;
		while (nghttpw_http_res_next_header(res, &n, &v, &it)) {
			found += strcmp(n, "ETag") == 0 && strcmp(v, "\"x\"") == 0;
			found += strcmp(n, "Content-Type") == 0 && strcmp(v, "text/plain") == 0;
		}
		cr_expect_eq(found, 2, "the walk sees the lent fields");
	}

	/* Set, added or deleted: ordinary fields first, each once. */
	cr_assert_eq(nghttpw_http_res_set_header(res, "Content-Type", "text/html"), 0);
	cr_assert_eq(nhw_http_res_get_head(res, &head, &len), 0);
	cr_expect_eq(field_lines(head, "Content-Type"), 1, "%s", head);
	cr_expect_str_eq(nghttpw_http_res_get_header(res, "Content-Type"), "text/html");
	cr_expect_eq(field_lines(head, "ETag"), 1, "%s", head);
	cr_assert_eq(nghttpw_http_res_del_header(res, "ETag"), 0);
	cr_assert_eq(nhw_http_res_get_head(res, &head, &len), 0);
	cr_expect_eq(field_lines(head, "ETag"), 0, "%s", head);

	/* Given back with the body. */
	cr_assert_eq(nhw_http_msg_lend_data(msg, bytes, 10, count_done, &one), 0);
	cr_assert_eq(nhw_http_msg_lend_fields(msg, &p), 0);
	cr_assert_eq(nghttpw_http_res_copy_data(res, "y", 1), 0);
	cr_expect_null(nghttpw_http_res_get_header(res, "ETag"));
	cr_assert_eq(nhw_http_res_get_head(res, &head, &len), 0);
	cr_expect_eq(field_lines(head, "ETag"), 0, "%s", head);
	nghttpw_http_res_free(res);
	cr_expect_eq(lent_done, 2);
}

/* The fields in order, names as spelled, repeats folded at the first. */
Test(http_hdr, next_header_walks_in_order)
{
	nghttpw_http_res *res;
	const char       *name;
	const char       *value;
	void             *it = NULL;
	const char       *want[][2] = {
		{ "content-TYPE", "text/plain" },
		{ "Vary", "Accept, Origin" },
		{ "Set-Cookie", "a=1" },
		{ "x-last", "z" },
		{ "Set-Cookie", "b=2" },
	};
	size_t n = 0;

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_not(nghttpw_http_res_next_header(res, &name, &value, &it));
	cr_assert_eq(nghttpw_http_res_add_header(res, "content-TYPE", "text/plain"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Vary", "Accept"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Set-Cookie", "a=1"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "X-Gone", "1"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "x-last", "z"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "vary", "Origin"), 0);
	cr_assert_eq(nghttpw_http_res_add_header(res, "Set-Cookie", "b=2"), 0);
	cr_assert_eq(nghttpw_http_res_del_header(res, "x-gone"), 0);
	it = NULL;
	while (nghttpw_http_res_next_header(res, &name, &value, &it)) {
		cr_assert_lt(n, 5);
		cr_assert_str_eq(name, want[n][0]);
		cr_assert_str_eq(value, want[n][1]);
		n++;
	}
	cr_assert_eq(n, 5);
	cr_assert_not(nghttpw_http_res_next_header(res, &name, &value, &it));
	cr_assert_not(nghttpw_http_res_next_header(NULL, &name, &value, &it));
	cr_assert_not(nghttpw_http_res_next_header(res, NULL, &value, &it));
	cr_assert_not(nghttpw_http_res_next_header(res, &name, &value, NULL));
	nghttpw_http_res_free(res);
}
