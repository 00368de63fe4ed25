/* The HTTP client through a real forward proxy: Debian's tinyproxy, run
 * by each test on loopback with a configuration of its own.  Plain http
 * goes to the proxy in absolute form (tinyproxy's log shows the request
 * line it got, the origin the one it was given), https through CONNECT,
 * with and without the proxy's Basic credentials; the environment
 * variables and no_proxy decide whether the proxy is used.  Skipped when
 * tinyproxy is not installed. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_proxy.h"
#include "nghttpw/http.h"
#include "support/http_util.h"
#include "support/tinyproxy.h"
#include "support/ws_util.h"
#ifdef NGHTTPW_HAVE_TLS
#include "nghttpw/tls.h"
#include "support/tls_certs.h"
#endif

#define WAIT_MS 10000

/* ---------------------------------------------------------- the origin */

/* Answers with the request line and the Host field the origin got. */
static void
echo_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	const char       *host = nghttpw_http_req_get_header(req, "Host");
	const char       *auth = nghttpw_http_req_get_header(req, "Proxy-Authorization");
	char              text[512];
	int               rv;

	snprintf(text, sizeof(text), "%s %s host=%s auth=%s",
	    nghttpw_http_req_get_method(req), nghttpw_http_req_get_uri(req),
	    host != NULL ? host : "-", auth != NULL ? auth : "-");
	if ((rv = nghttpw_http_res_alloc(&res)) != 0 ||
	    (rv = nghttpw_http_res_copy_data(res, text, strlen(text))) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static nghttpw_http_server *
origin_start(int *portp)
{
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", echo_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	*portp = ntohs(sa.s_in.sa_port);
	return (s);
}

static nghttpw_http_client *
client_for(const char *fmt, int port)
{
	nghttpw_http_client *cl;
	nghttpw_url         *url;
	char                 s[128];

	snprintf(s, sizeof(s), fmt, port);
	cr_assert_eq(nghttpw_url_parse(&url, s), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&cl, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(cl, WAIT_MS), 0);
	return (cl);
}

/* One GET of uri; its result, the response in res. */
static int
get(nghttpw_http_client *cl, const char *uri, nghttpw_http_res *res)
{
	nghttpw_http_req *req;
	nghttpw_aio      *aio;
	int               rv;

	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, uri), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_http_client_transact(cl, req, res, aio);
	nghttpw_aio_wait(aio);
	rv = nghttpw_aio_result(aio);
	/* The request is the caller's as it was: nothing of the proxy. */
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), uri);
	cr_assert_null(nghttpw_http_req_get_header(req, "Proxy-Authorization"));
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	return (rv);
}

/* -------------------------------------------------------------- tests */

Test(proxy, plain_http_absolute_form)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;
	char                 want[256];

	tinyproxy_start(&p, false, 0);
	origin = origin_start(&port);
	cl     = client_for("http://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(get(cl, "/a/b?c=d", res), 0);
	/* Origin-form and the origin's Host reached the origin... */
	snprintf(want, sizeof(want), "GET /a/b?c=d host=127.0.0.1:%d auth=-", port);
	http_res_assert(res, 200, want);
	/* ...after the absolute form went to the proxy. */
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/a/b?c=d HTTP/1.1",
	    port);
	cr_assert_eq(tinyproxy_log_count(&p, want), 1, "the proxy did not see '%s'", want);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

/* Several exchanges in a row through the proxy, which may keep the
 * client's connection or close it after each answer. */
Test(proxy, plain_http_several)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;
	char                 want[256];

	tinyproxy_start(&p, false, 0);
	origin = origin_start(&port);
	cl     = client_for("http://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	for (int i = 0; i < 5; i++) {
		char uri[32];
		snprintf(uri, sizeof(uri), "/n%d", i);
		cr_assert_eq(get(cl, uri, res), 0, "exchange %d", i);
		snprintf(want, sizeof(want), "GET %s host=127.0.0.1:%d auth=-",
		    uri, port);
		http_res_assert(res, 200, want);
	}
	cr_assert_eq(tinyproxy_log_count(&p, "Request (file descriptor"), 5);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

/* Answers with the target as the server got it and the client's port,
 * which tells one connection from another. */
static void
peer_cb(nghttpw_aio *aio)
{
	nghttpw_http_req  *req  = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_conn *conn = nghttpw_aio_get_input(aio, 2);
	nghttpw_http_res  *res;
	nghttpw_sockaddr   sa;
	char               text[512];
	int                rv;

	if ((rv = nghttpw_http_conn_get_addr(conn, NGHTTPW_OPT_REMADDR, &sa)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	snprintf(text, sizeof(text), "%s %u", nghttpw_http_req_get_uri(req),
	    ntohs(sa.s_in.sa_port));
	if ((rv = nghttpw_http_res_alloc(&res)) != 0 ||
	    (rv = nghttpw_http_res_copy_data(res, text, strlen(text))) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

/* tinyproxy closes each client connection after its answer; a proxy
 * that keeps them (here a server of ours standing in for one) gets every
 * exchange on the one connection, in absolute form. */
Test(proxy, plain_http_keep_alive)
{
	nghttpw_url          *url;
	nghttpw_http_server  *fake;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;
	nghttpw_http_client  *cl;
	nghttpw_http_res     *res;
	char                  proxy[64], first[64];
	void                 *body;
	size_t                size;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&fake, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", peer_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(fake, h), 0);
	cr_assert_eq(nghttpw_http_server_start(fake), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(fake, &sa), 0);
	snprintf(proxy, sizeof(proxy), "127.0.0.1:%d", ntohs(sa.s_in.sa_port));
	cl = client_for("http://origin.test:%d/", 8080);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, proxy, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(get(cl, "/k", res), 0);
		cr_assert_eq(nghttpw_http_res_get_status(res), 200);
		nghttpw_http_res_get_data(res, &body, &size);
		cr_assert_lt(size, sizeof(first));
		if (i == 0) {
			memcpy(first, body, size);
			first[size] = '\0';
			cr_assert_eq(strncmp(first, "http://origin.test:8080/k ", 26), 0,
			    "'%s'", first);
		} else {
			cr_assert(size == strlen(first) && memcmp(body, first, size) == 0,
			    "another connection: '%.*s' after '%s'", (int) size,
			    (char *) body, first);
		}
	}
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(fake);
}

Test(proxy, credentials_plain_http)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;
	char                 want[256];

	tinyproxy_start(&p, true, 0);
	origin = origin_start(&port);
	cl     = client_for("http://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	/* Without credentials the proxy answers 407 itself. */
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(get(cl, "/x", res), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 407);
	/* "p%61ss" is "pass" once decoded. */
	cr_assert_eq(nghttpw_http_client_set_proxy(
	                 cl, tinyproxy_url(&p, "user:p%61ss"), NULL), 0);
	cr_assert_eq(get(cl, "/x", res), 0);
	/* The proxy took its field off. */
	snprintf(want, sizeof(want), "GET /x host=127.0.0.1:%d auth=-", port);
	http_res_assert(res, 200, want);
	/* Wrong ones: tinyproxy 1.11 answers those with 401. */
	cr_assert_eq(nghttpw_http_client_set_proxy(
	                 cl, tinyproxy_url(&p, "user:nope"), NULL), 0);
	cr_assert_eq(get(cl, "/x", res), 0);
	cr_assert(nghttpw_http_res_get_status(res) == 401 ||
	    nghttpw_http_res_get_status(res) == 407);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

Test(proxy, no_proxy_exempts_origin)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;

	tinyproxy_start(&p, false, 0);
	origin = origin_start(&port);
	cl     = client_for("http://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_http_client_set_proxy(
	                 cl, tinyproxy_url(&p, ""), "example.com, 127.0.0.0/8"), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(get(cl, "/direct", res), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_assert_eq(tinyproxy_log_count(&p, "Request (file descriptor"), 0);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

Test(proxy, environment)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;

	tinyproxy_start(&p, false, 0);
	origin = origin_start(&port);
	cl     = client_for("http://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	unsetenv("http_proxy");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	/* HTTP_PROXY is not looked at (httpoxy). */
	setenv("HTTP_PROXY", tinyproxy_url(&p, ""), 1);
	cr_assert_eq(nghttpw_http_client_set_proxy_env(cl), 0);
	cr_assert_eq(get(cl, "/env0", res), 0);
	cr_assert_eq(tinyproxy_log_count(&p, "/env0"), 0);
	unsetenv("HTTP_PROXY");
	setenv("http_proxy", tinyproxy_url(&p, ""), 1);
	cr_assert_eq(nghttpw_http_client_set_proxy_env(cl), 0);
	cr_assert_eq(get(cl, "/env1", res), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	cr_assert_eq(tinyproxy_log_count(&p, "/env1 HTTP/1.1"), 1);
	setenv("NO_PROXY", "127.0.0.1", 1);
	cr_assert_eq(nghttpw_http_client_set_proxy_env(cl), 0);
	cr_assert_eq(get(cl, "/env2", res), 0);
	cr_assert_eq(tinyproxy_log_count(&p, "/env2"), 0);
	/* no_proxy first, as curl. */
	setenv("no_proxy", "other.example", 1);
	cr_assert_eq(nghttpw_http_client_set_proxy_env(cl), 0);
	cr_assert_eq(get(cl, "/env3", res), 0);
	cr_assert_eq(tinyproxy_log_count(&p, "/env3 HTTP/1.1"), 1);
	unsetenv("http_proxy");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

/* A ws:// client goes through a tunnel (proxies seldom pass an upgrade
 * on): its connection reaches the origin itself, with origin-form. */
Test(proxy, ws_origin_tunnels)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_conn   *conn;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio;
	int                  port;
	char                 want[256];

	origin = origin_start(&port);
	tinyproxy_start(&p, false, port);
	cl = client_for("ws://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, WAIT_MS);
	nghttpw_http_client_connect(cl, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	conn = nghttpw_aio_get_output(aio, 0);
	snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d HTTP/1.1", port);
	cr_assert_eq(tinyproxy_log_count(&p, want), 1);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, "/through"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Host", "origin.test"), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nghttpw_http_conn_transact(conn, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	http_res_assert(res, 200, "GET /through host=origin.test auth=-");
	nghttpw_http_conn_close(conn);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

typedef struct {
	nghttpw_http_client *cl;
	const char          *url;
	atomic_bool          stop;
} toggler;

static void *
toggle_proxy(void *arg)
{
	toggler *t = arg;

	for (int i = 0; !atomic_load(&t->stop); i++) {
		cr_assert_eq(nghttpw_http_client_set_proxy(
		                 t->cl, i % 2 == 0 ? t->url : NULL, NULL), 0);
		nghttpw_msleep(1);
	}
	return (NULL);
}

/* The proxy changes (on, off) while exchanges run: each ends once, with
 * the origin's answer or ECLOSED (a dial to the proxy just dropped). */
Test(proxy, changed_while_in_use)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_res    *res;
	toggler              t;
	pthread_t            thr;
	int                  port;
	int                  ok = 0;

	tinyproxy_start(&p, false, 0);
	origin = origin_start(&port);
	t.cl   = client_for("http://127.0.0.1:%d/", port);
	t.url  = tinyproxy_url(&p, "");
	atomic_init(&t.stop, false);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(pthread_create(&thr, NULL, toggle_proxy, &t), 0);
	for (int i = 0; i < 200; i++) {
		int rv = get(t.cl, "/toggle", res);
		cr_assert(rv == 0 || rv == NGHTTPW_ECLOSED, "%d: %s", i,
		    nghttpw_strerror(rv));
		if (rv == 0) {
			cr_assert_eq(nghttpw_http_res_get_status(res), 200);
			ok++;
		}
	}
	atomic_store(&t.stop, true);
	pthread_join(thr, NULL);
	cr_assert_gt(ok, 100);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(t.cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

Test(proxy, bad_proxy_urls)
{
	nghttpw_http_client *cl = client_for("http://127.0.0.1:%d/", 9);

	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "https://127.0.0.1:3128", NULL),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "socks5://127.0.0.1", NULL),
	    NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "http://127.0.0.1:99999", NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "http://:80", NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "http://h/path", NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "http://u:%zz@h", NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_proxy(NULL, "http://h", NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, "", NULL), 0);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, NULL, NULL), 0);
	nghttpw_http_client_free(cl);
}

Test(proxy, url_parse)
{
	http_proxy p;

	cr_assert_eq(http_proxy_parse("http://proxy.example", &p), 0);
	cr_assert_str_eq(p.host, "proxy.example");
	cr_assert_str_eq(p.port, "1080"); /* curl's default */
	cr_assert_null(p.auth_line);
	http_proxy_fini(&p);
	cr_assert_eq(http_proxy_parse("HTTP://[::1]:3128/", &p), 0);
	cr_assert_str_eq(p.host, "[::1]");
	cr_assert_str_eq(p.port, "3128");
	http_proxy_fini(&p);
	cr_assert_eq(http_proxy_parse("10.0.0.1:8080", &p), 0);
	cr_assert_str_eq(p.host, "10.0.0.1");
	cr_assert_str_eq(p.port, "8080");
	http_proxy_fini(&p);
	/* "Aladdin:open sesame", RFC 7617's example, with escapes. */
	cr_assert_eq(http_proxy_parse("http://Aladdin:open%20sesame@h:1", &p), 0);
	cr_assert_str_eq(p.auth_line,
	    "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n");
	http_proxy_fini(&p);
}

Test(proxy, connect_answer_head)
{
	unsigned status = 1;

	cr_assert_eq(http_proxy_connect_res("HTTP/1.1 200 OK\r\n", 17, 64, &status), 0);
	cr_assert_eq(http_proxy_connect_res("HTTP/1.1 200 OK\r\n\r\n", 19, 64, &status), 19);
	cr_assert_eq(status, 200);
	cr_assert_eq(http_proxy_connect_res("HTTP/1.0 407 Auth\r\nA: b\r\n\r\nbody", 31,
	                 64, &status), 27);
	cr_assert_eq(status, 407);
	/* Not a status: 0, which opens no tunnel (found by fuzzing). */
	cr_assert_eq(http_proxy_connect_res("HTTP/1.1 007 X\r\n\r\n", 18, 64, &status), 18);
	cr_assert_eq(status, 0);
	cr_assert_eq(http_proxy_connect_res("SSH-2.0-x\r\n\r\n", 13, 64, &status), 13);
	cr_assert_eq(status, 0);
	/* No end of the head within the bound. */
	cr_assert_eq(http_proxy_connect_res("HTTP/1.1 200 OK\r\nX: y", 21, 21, &status), -1);
}

Test(proxy, no_proxy_matcher)
{
	/* Names: the name and its subdomains, with or without a dot. */
	cr_assert(http_no_proxy_match("example.com", "example.com"));
	cr_assert(http_no_proxy_match("example.com", "www.Example.COM"));
	cr_assert(http_no_proxy_match(".example.com", "www.example.com"));
	cr_assert(http_no_proxy_match(".example.com", "example.com"));
	cr_assert(http_no_proxy_match("example.com", "example.com."));
	cr_assert_not(http_no_proxy_match("example.com", "badexample.com"));
	cr_assert_not(http_no_proxy_match("www.example.com", "example.com"));
	cr_assert_not(http_no_proxy_match("example.com", "example.com.evil"));
	/* Lists. */
	cr_assert(http_no_proxy_match("a.test, b.test,c.test", "x.c.test"));
	cr_assert(http_no_proxy_match(" localhost ,foo", "localhost"));
	cr_assert_not(http_no_proxy_match("a.test,,b.test", "c.test"));
	cr_assert_not(http_no_proxy_match("", "example.com"));
	cr_assert_not(http_no_proxy_match(NULL, "example.com"));
	/* "*" alone means every host; inside a name it is nothing. */
	cr_assert(http_no_proxy_match("*", "anything.example"));
	cr_assert(http_no_proxy_match("a.test, *", "10.1.2.3"));
	cr_assert_not(http_no_proxy_match("*.example.com", "www.example.com"));
	/* Addresses and prefixes. */
	cr_assert(http_no_proxy_match("127.0.0.1", "127.0.0.1"));
	cr_assert_not(http_no_proxy_match("127.0.0.1", "127.0.0.2"));
	cr_assert(http_no_proxy_match("10.0.0.0/8", "10.200.3.4"));
	cr_assert_not(http_no_proxy_match("10.0.0.0/8", "11.0.0.1"));
	cr_assert(http_no_proxy_match("192.168.1.0/25", "192.168.1.127"));
	cr_assert_not(http_no_proxy_match("192.168.1.0/25", "192.168.1.128"));
	cr_assert(http_no_proxy_match("0.0.0.0/0", "8.8.8.8"));
	cr_assert_not(http_no_proxy_match("10.0.0.0/33", "10.0.0.1"));
	cr_assert(http_no_proxy_match("::1", "[::1]"));
	cr_assert(http_no_proxy_match("[::1]", "::1"));
	cr_assert(http_no_proxy_match("fd00::/8", "fd12:3456::1"));
	cr_assert_not(http_no_proxy_match("fd00::/8", "fe80::1"));
	/* An address is not a name's suffix, nor the other way. */
	cr_assert_not(http_no_proxy_match("0.1", "10.0.0.1"));
	cr_assert_not(http_no_proxy_match("10.0.0.0/8", "ten.example"));
	cr_assert_not(http_no_proxy_match("127.0.0.1", "localhost"));
}

/* A "proxy" that answers CONNECT a byte every 50 ms: each read moves,
 * but the answer takes over a second in all. */
static void *
slow_proxy(void *arg)
{
	static const char answer[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	int  lfd = *(int *) arg;
	int  fd  = accept(lfd, NULL, NULL);
	char buf[512];

	if (fd < 0) {
		return (NULL);
	}
	(void) read(fd, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(answer) - 1; i++) {
		if (send(fd, answer + i, 1, MSG_NOSIGNAL) != 1) {
			break;
		}
		nghttpw_msleep(50);
	}
	close(fd);
	return (NULL);
}

/* The connect timeout bounds the tunnel as a whole, not each step. */
Test(proxy, connect_timeout_covers_tunnel)
{
	struct sockaddr_in   sa  = { .sin_family = AF_INET };
	socklen_t            len = sizeof(sa);
	int                  lfd = socket(AF_INET, SOCK_STREAM, 0);
	pthread_t            thr;
	nghttpw_http_client *cl;
	nghttpw_aio         *aio;
	char                 url[64];
	nghttpw_time         start;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(listen(lfd, 4), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *) &sa, &len), 0);
	cr_assert_eq(pthread_create(&thr, NULL, slow_proxy, &lfd), 0);
	/* ws: a tunnel, and no TLS needed in the build. */
	cl = client_for("ws://127.0.0.1:%d/", 9);
	cr_assert_eq(nghttpw_http_client_set_connect_timeout(cl, 300), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, url, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	start = nghttpw_clock();
	nghttpw_http_client_connect(cl, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT, "%s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_lt(nghttpw_clock() - start, 1000);
	pthread_join(thr, NULL);
	close(lfd);
	nghttpw_aio_free(aio);
	nghttpw_http_client_free(cl);
}

#ifdef NGHTTPW_HAVE_TLS
/* An https client that trusts the test CA. */
static nghttpw_http_client *
https_client(int port)
{
	nghttpw_http_client *cl = client_for("https://localhost:%d/", port);
	nghttpw_tls_config  *cfg;

	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(
	                 cfg, tls_test_certs_get()->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_http_client_set_tls(cl, cfg), 0);
	nghttpw_tls_config_free(cfg);
	return (cl);
}

Test(proxy, https_through_connect)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;
	char                 want[128];

	origin = https_test_server("secret words", &port);
	tinyproxy_start(&p, false, port);
	cl = https_client(port);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	/* Two exchanges, one tunnel: the connection is kept. */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(get(cl, "/secret", res), 0);
		http_res_assert(res, 200, "secret words");
	}
	snprintf(want, sizeof(want), "CONNECT localhost:%d HTTP/1.1", port);
	cr_assert_eq(tinyproxy_log_count(&p, want), 1, "one '%s' expected", want);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

Test(proxy, https_credentials)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	int                  port;

	origin = https_test_server("behind auth", &port);
	tinyproxy_start(&p, true, port);
	cl = https_client(port);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(get(cl, "/secret", res), NGHTTPW_EPERM); /* 407 */
	cr_assert_eq(nghttpw_http_client_set_proxy(
	                 cl, tinyproxy_url(&p, "user:pass"), NULL), 0);
	cr_assert_eq(get(cl, "/secret", res), 0);
	http_res_assert(res, 200, "behind auth");
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}

/* A CONNECT the proxy refuses (a port it does not allow): the dial
 * fails; and the TLS name is still the origin's (a wrong one fails). */
Test(proxy, https_refused_and_verified)
{
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_res    *res;
	nghttpw_tls_config  *cfg;
	int                  port;

	origin = https_test_server("x", &port);
	tinyproxy_start(&p, false, port + 1 == 65536 ? 1 : port + 1);
	cl = https_client(port);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(get(cl, "/secret", res), NGHTTPW_ECONNREFUSED);
	nghttpw_http_client_free(cl);
	tinyproxy_stop(&p);

	tinyproxy_start(&p, false, port);
	cl = https_client(port);
	cr_assert_eq(nghttpw_http_client_get_tls(cl, &cfg), 0);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(
	                 cfg, tls_test_certs_get()->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "wrong.example"), 0);
	cr_assert_eq(nghttpw_http_client_set_tls(cl, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	cr_assert_eq(get(cl, "/secret", res), NGHTTPW_EPEERAUTH);
	nghttpw_http_res_free(res);
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}
/* Exchanges cancelled at every point of the dial (the TCP connection to
 * the proxy, CONNECT, the answer, the handshake in the tunnel), and
 * several at once: each ends once, with its result or ECANCELED, and
 * nothing leaks (ASan) or races (TSan). */
Test(proxy, https_cancel_and_concurrent)
{
	enum { N = 6, ROUNDS = 30 };
	tinyproxy            p;
	nghttpw_http_server *origin;
	nghttpw_http_client *cl;
	nghttpw_http_req    *req[N];
	nghttpw_http_res    *res[N];
	nghttpw_aio         *aio[N];
	int                  port;
	int                  ok = 0;

	origin = https_test_server("many", &port);
	tinyproxy_start(&p, false, port);
	cl = https_client(port);
	cr_assert_eq(nghttpw_http_client_set_proxy(cl, tinyproxy_url(&p, ""), NULL), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(nghttpw_http_req_alloc(&req[i], NULL), 0);
		cr_assert_eq(nghttpw_http_req_set_uri(req[i], "/secret"), 0);
		cr_assert_eq(nghttpw_http_res_alloc(&res[i]), 0);
		cr_assert_eq(nghttpw_aio_alloc(&aio[i], NULL, NULL), 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < N; i++) {
			nghttpw_aio_set_timeout(aio[i], WAIT_MS);
			nghttpw_http_client_transact(cl, req[i], res[i], aio[i]);
		}
		/* From at once to after a handshake or two. */
		nghttpw_msleep(r % 10);
		for (int i = 0; i < N; i += 2) {
			nghttpw_aio_cancel(aio[i]);
		}
		for (int i = 0; i < N; i++) {
			nghttpw_aio_wait(aio[i]);
			int rv = nghttpw_aio_result(aio[i]);
			cr_assert(rv == 0 || (rv == NGHTTPW_ECANCELED && i % 2 == 0),
			    "round %d, exchange %d: %s", r, i, nghttpw_strerror(rv));
			if (rv == 0) {
				http_res_assert(res[i], 200, "many");
				ok++;
			}
		}
	}
	cr_assert_geq(ok, ROUNDS * N / 2);
	for (int i = 0; i < N; i++) {
		nghttpw_aio_free(aio[i]);
		nghttpw_http_req_free(req[i]);
		nghttpw_http_res_free(res[i]);
	}
	nghttpw_http_client_free(cl);
	nghttpw_http_server_release(origin);
	tinyproxy_stop(&p);
}
/* A wss dialer with NGHTTPW_OPT_WS_PROXY: the WebSocket goes through a
 * CONNECT tunnel, with the TLS handshake to the server in it; the
 * option reads back, and "" takes the proxy away. */
Test(proxy, wss_dialer_option)
{
	const tls_test_certs    *certs = tls_test_certs_get();
	tinyproxy                p;
	nghttpw_tls_config      *scfg, *ccfg;
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *sv;
	char                     url[64], want[64], buf[16];
	char                    *got;
	int                      port;
	size_t                   n;
	unsigned                 fl;

	cr_assert_eq(nghttpw_tls_config_alloc(&scfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 scfg, certs->server_cert, certs->server_key, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_alloc(&ccfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(ccfg, certs->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "wss://127.0.0.1:0/ws"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, scfg), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	tinyproxy_start(&p, true, port);
	snprintf(url, sizeof(url), "wss://localhost:%d/ws", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, ccfg), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_WS_PROXY, tinyproxy_url(&p, "user:pass")), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_string(d, NGHTTPW_OPT_WS_PROXY, &got), 0);
	cr_assert_str_eq(got, tinyproxy_url(&p, "user:pass"));
	nghttpw_strfree(got);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_WS_PROXY, "https://127.0.0.1:1"), NGHTTPW_ENOTSUP);
	cr_assert_eq(ws_dial_accept(l, d, &c, &sv), 0);
	snprintf(want, sizeof(want), "CONNECT localhost:%d HTTP/1.1", port);
	cr_assert_eq(tinyproxy_log_count(&p, want), 1);
	cr_assert_eq(ws_send(c, NGHTTPW_WS_TEXT, "tunnelled", 9), 0);
	cr_assert_eq(ws_recv(sv, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 9);
	cr_assert_eq(memcmp(buf, "tunnelled", 9), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(sv);
	/* Exempt, then none: straight to the server. */
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_WS_NO_PROXY, "localhost"), 0);
	cr_assert_eq(ws_dial_accept(l, d, &c, &sv), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(sv);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_WS_NO_PROXY, ""), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_WS_PROXY, ""), 0);
	cr_assert_eq(ws_dial_accept(l, d, &c, &sv), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(sv);
	cr_assert_eq(tinyproxy_log_count(&p, want), 1);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
	tinyproxy_stop(&p);
}
#endif
