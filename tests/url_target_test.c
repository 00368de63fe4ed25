/*
 * The request target that a URL turns into, as a peer reads it off the
 * wire, and URLs in nng's forms used end to end.  nghttpw_url_parse keeps u_requri as nng does (fragment
 * included, empty for an empty path, UTF-8 decoded); what the HTTP
 * client and the WebSocket dialer send must still be a valid
 * request-target: no fragment, "/" for an empty path, ASCII only.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "nghttpw/http.h"
#include "nghttpw/nghttpw.h"
#include "support/child.h"
#include "support/pairs.h"
#include "support/ws_util.h"

/* A one-shot raw HTTP peer: accepts one connection, records the request
 * line, answers 200 with no body and closes. */
typedef struct {
	int       fd;
	int       port;
	char      line[512];
	pthread_t thread;
} peer;

static void *
peer_run(void *arg)
{
	peer   *p = arg;
	char    buf[4096];
	size_t  got = 0;
	ssize_t n;
	int     c   = accept(p->fd, NULL, NULL);

	if (c < 0) {
		return (NULL);
	}
	while (got < sizeof(buf) - 1 &&
	    (n = recv(c, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
		got += (size_t) n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL) {
			break;
		}
	}
	buf[got] = '\0';
	got      = strcspn(buf, "\r\n");
	if (got >= sizeof(p->line)) {
		got = sizeof(p->line) - 1;
	}
	memcpy(p->line, buf, got);
	p->line[got] = '\0';
	static const char res[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
	                          "Connection: close\r\n\r\n";
	(void) send(c, res, sizeof(res) - 1, MSG_NOSIGNAL);
	close(c);
	return (NULL);
}

static void
peer_start(peer *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = raw_tcp_listen(&p->port);
	cr_assert_geq(p->fd, 0);
	cr_assert_eq(pthread_create(&p->thread, NULL, peer_run, p), 0);
}

static void
peer_stop(peer *p)
{
	pthread_join(p->thread, NULL);
	close(p->fd);
}

/* Sends a GET for scheme://127.0.0.1:port<suffix> with the HTTP client,
 * returns the request line the peer read. */
static void
client_request_line(const char *suffix, char *line, size_t len)
{
	peer                 p;
	char                 raw[256];
	nghttpw_url         *url;
	nghttpw_http_client *cl;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio;

	peer_start(&p);
	snprintf(raw, sizeof(raw), "http://127.0.0.1:%d%s", p.port, suffix);
	cr_assert_eq(nghttpw_url_parse(&url, raw), 0, "%s", raw);
	cr_assert_eq(nghttpw_http_client_alloc(&cl, url), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, url), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_client_transact(cl, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "%s: %s", raw,
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	nghttpw_aio_free(aio);
	nghttpw_http_res_free(res);
	nghttpw_http_req_free(req);
	nghttpw_http_client_free(cl);
	nghttpw_url_free(url);
	peer_stop(&p);
	snprintf(line, len, "%s", p.line);
}

typedef struct {
	const char *suffix; /* after http://127.0.0.1:PORT */
	const char *requri; /* u_requri, as nng keeps it */
	const char *target; /* on the wire */
} target_case;

static const target_case target_cases[] = {
	{ "", "", "/" },
	{ "#top", "#top", "/" },
	{ "?q=1", "?q=1", "/?q=1" },
	{ "?q=1#f", "?q=1#f", "/?q=1" },
	{ "/", "/", "/" },
	{ "/a/b#frag", "/a/b#frag", "/a/b" },
	{ "/a/b?x=1&y#frag?z", "/a/b?x=1&y#frag?z", "/a/b?x=1&y" },
	{ "//a/./b/../c", "/a/c", "/a/c" },
	{ "/%7euser/%41%2f", "/~user/A%2F", "/~user/A%2F" },
	{ "/%c2%a2?%e2%82%ac#%c2%a2", "/\xc2\xa2?\xe2\x82\xac#\xc2\xa2",
	    "/%C2%A2?%E2%82%AC" },
	{ "/..", "", "/" },
};

Test(url_target, requri_keeps_what_nng_keeps)
{
	for (size_t i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]);
	     i++) {
		const target_case *c = &target_cases[i];
		char               raw[128];
		nghttpw_url       *url;
		nghttpw_http_req  *req;

		snprintf(raw, sizeof(raw), "http://h%s", c->suffix);
		cr_assert_eq(nghttpw_url_parse(&url, raw), 0, "%s", raw);
		cr_assert_str_eq(url->u_requri, c->requri, "%s", raw);
		cr_assert_eq(nghttpw_http_req_alloc(&req, url), 0);
		cr_assert_str_eq(nghttpw_http_req_get_uri(req), c->target,
		    "%s", raw);
		nghttpw_http_req_free(req);
		nghttpw_url_free(url);
	}
}

Test(url_target, http_client_sends_a_valid_target)
{
	for (size_t i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]);
	     i++) {
		const target_case *c = &target_cases[i];
		char               line[512];
		char               want[512];

		client_request_line(c->suffix, line, sizeof(line));
		snprintf(want, sizeof(want), "GET %s HTTP/1.1", c->target);
		cr_assert_str_eq(line, want, "URL suffix \"%s\"", c->suffix);
	}
}

Test(url_target, websocket_dialer_sends_a_valid_target)
{
	static const struct {
		const char *suffix;
		const char *line;
	} cases[] = {
		{ "", "GET / HTTP/1.1" },
		{ "#frag", "GET / HTTP/1.1" },
		{ "/chat?room=1#frag", "GET /chat?room=1 HTTP/1.1" },
		{ "/a/../%63hat", "GET /chat HTTP/1.1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		peer                   p;
		char                   raw[256];
		nghttpw_stream_dialer *d;
		nghttpw_aio           *aio;

		peer_start(&p);
		snprintf(raw, sizeof(raw), "ws://127.0.0.1:%d%s", p.port,
		    cases[i].suffix);
		cr_assert_eq(nghttpw_stream_dialer_alloc(&d, raw), 0, "%s", raw);
		cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
		nghttpw_aio_set_timeout(aio, 5000);
		nghttpw_stream_dialer_dial(d, aio);
		nghttpw_aio_wait(aio);
		/* The peer answers 200, not 101: the dial fails, after the
		 * handshake request went out. */
		cr_assert_neq(nghttpw_aio_result(aio), 0);
		nghttpw_aio_free(aio);
		nghttpw_stream_dialer_free(d);
		peer_stop(&p);
		cr_assert_str_eq(p.line, cases[i].line, "%s", raw);
	}
}

/* Both ends together: a listener on the '*' host (any address, as in
 * nng) serves a dialer whose URL names its path in another spelling. */
Test(url_target, websocket_star_listener_and_canonical_path)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *sv;
	char                     raw[128];
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "ws://*:0/chat"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    0);
	snprintf(raw, sizeof(raw), "ws://127.0.0.1:%d//x/.././%%63hat#frag",
	    port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, raw), 0);
	cr_assert_eq(ws_dial_accept(l, d, &c, &sv), 0, "%s", raw);
	nghttpw_stream_free(c);
	nghttpw_stream_free(sv);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

#ifdef NGHTTPW_TOOLS_DIR
/* The tools make their requests the same way: nghttpw-get sends no
 * fragment and an ASCII target. */
Test(url_target, get_tool_sends_a_valid_target)
{
	static const struct {
		const char *suffix;
		const char *line;
	} cases[] = {
		{ "#frag", "GET / HTTP/1.1" },
		{ "/a/%e2%82%ac?q#frag", "GET /a/%E2%82%AC?q HTTP/1.1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		peer  p;
		child c;
		char  raw[256];
		char *argv[] = { "nghttpw-get", "-s", raw, NULL };

		peer_start(&p);
		snprintf(raw, sizeof(raw), "http://127.0.0.1:%d%s", p.port,
		    cases[i].suffix);
		cr_assert_eq(
		    child_start(&c, NGHTTPW_TOOLS_DIR "/nghttpw-get", argv), 0);
		cr_assert_eq(child_wait(&c, 10000), 0, "%s", raw);
		peer_stop(&p);
		cr_assert_str_eq(p.line, cases[i].line, "%s", raw);
	}
}
#endif
