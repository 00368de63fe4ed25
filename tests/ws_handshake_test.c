/* WebSocket opening handshakes: what servers answer to bad requests,
 * subprotocols, schemes, upgrades inside HTTP handlers and over a user's
 * own stream, listeners sharing a port, and dials cancelled in flight. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "nghttpw/http.h"
#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/pairs.h"
#include "support/ws_util.h"

#define T_TIMEOUT 60

static int
ntohs_port(const nghttpw_sockaddr *sa)
{
	uint16_t p = sa->s_family == NGHTTPW_AF_INET6 ? sa->s_in6.sa_port : sa->s_in.sa_port;
	return (ntohs(p));
}

TestSuite(ws_handshake, .timeout = T_TIMEOUT);

Test(ws_handshake, bad_requests_get_400_and_other_versions_426)
{
	nghttpw_stream_listener *l;
	int                      p, status;
	char                     head[512];

	cr_assert_eq(ws_listen("/h", &l, &p), 0);
	cr_assert_null(raw_open(p, "/nothere", "", &status));
	cr_assert_eq(status, 404);
	/* A second Sec-WebSocket-Version makes the value "13, 8". */
	cr_assert_null(raw_open(p, "/h", "Sec-WebSocket-Version: 8\r\n", &status));
	cr_assert_eq(status, 426);

	/* 426 says which version we speak. */
	cr_assert_eq(raw_request(p,
	                 "GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	                 "Connection: upgrade\r\n"
	                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                 "Sec-WebSocket-Version: 12\r\n\r\n",
	                 head, sizeof(head)), 0);
	cr_assert_not_null(strstr(head, " 426 "), "%s", head);
	cr_assert_not_null(strstr(head, "Sec-WebSocket-Version: 13"), "%s", head);

	/* A key that is not 16 bytes of base64. */
	cr_assert_eq(raw_request(p,
	                 "GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
	                 "Connection: upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
	                 "Sec-WebSocket-Version: 13\r\n\r\n",
	                 head, sizeof(head)), 0);
	cr_assert_not_null(strstr(head, " 400 "), "%s", head);

	/* Without Upgrade it is no WebSocket request. */
	cr_assert_eq(raw_request(p,
	                 "GET /h HTTP/1.1\r\nHost: x\r\n\r\n",
	                 head, sizeof(head)), 0);
	cr_assert_not_null(strstr(head, " 400 "), "%s", head);
	nghttpw_stream_listener_free(l);
}

Test(ws_handshake, the_accept_value_is_rfc_6455s_example)
{
	nghttpw_stream_listener *l;
	int                      p;
	char                     head[512];

	cr_assert_eq(ws_listen("/h", &l, &p), 0);
	cr_assert_eq(raw_request(p,
	                 "GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
	                 "Connection: keep-alive, Upgrade\r\n"
	                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                 "Sec-WebSocket-Version: 13\r\n"
	                 "Sec-WebSocket-Extensions: permessage-deflate; "
	                 "client_max_window_bits\r\n\r\n",
	                 head, sizeof(head)), 0);
	cr_assert_not_null(strstr(head, "HTTP/1.1 101 "), "%s", head);
	cr_assert_not_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "%s", head);
	/* The deflate offer is refused by leaving it out. */
	cr_assert_null(strstr(head, "Extensions"), "%s", head);
	nghttpw_stream_listener_free(l);
}

Test(ws_handshake, schemes)
{
	nghttpw_stream_dialer   *d;
	nghttpw_stream_listener *l;
	static const char *ok[] = { "ws://127.0.0.1/", "ws4://127.0.0.1:81/x",
		"ws6://[::1]:82/y", "wss://127.0.0.1/", "wss4://127.0.0.1/",
		"wss6://[::1]/" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *u;
		cr_assert_eq(nghttpw_stream_dialer_alloc(&d, ok[i]), 0, "%s", ok[i]);
		cr_assert_eq(nghttpw_stream_dialer_get_ptr(d, NGHTTPW_OPT_URL, (void **) &u),
		    NGHTTPW_EBADTYPE);
		nghttpw_stream_dialer_free(d);
	}
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "ws://127.0.0.1:0/a"), 0);
	nghttpw_stream_listener_free(l);
	cr_assert_neq(nghttpw_stream_dialer_alloc(&d, "wsx://127.0.0.1/"), 0);
}

Test(ws_handshake, refusals_map_to_errors_as_nng)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *c, *s;
	char                     url[64];
	int                      p;

	cr_assert_eq(ws_listen("/h", &l, &p), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/other", p);
	{
		nghttpw_stream_dialer *d;
		nghttpw_aio           *a;
		nghttpw_stream_dialer_alloc(&d, url);
		nghttpw_aio_alloc(&a, NULL, NULL);
		nghttpw_aio_set_timeout(a, 5000);
		nghttpw_stream_dialer_dial(d, a);
		nghttpw_aio_wait(a);
		cr_assert_eq(nghttpw_aio_result(a), NGHTTPW_ECONNREFUSED);
		nghttpw_aio_free(a);
		nghttpw_stream_dialer_free(d);
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/h", p);
	cr_assert_eq(ws_pair_on(l, url, &c, &s), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_listener_free(l);
}

/* A handler that upgrades only a request with the right cookie. */

static void
upgrade_handler(nghttpw_aio *aio)
{
	nghttpw_http_req  *req  = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_conn *conn = nghttpw_aio_get_input(aio, 2);
	nghttpw_aio       *ws_aio = nghttpw_http_handler_get_data(nghttpw_aio_get_input(aio, 1));
	nghttpw_http_res  *res;
	const char        *cookie = nghttpw_http_req_get_header(req, "Cookie");

	if (cookie == NULL || strcmp(cookie, "k=1") != 0) {
		nghttpw_http_res_alloc_error(&res, NGHTTPW_HTTP_STATUS_FORBIDDEN);
		nghttpw_aio_set_output(aio, 0, res);
		nghttpw_aio_finish(aio, 0);
		return;
	}
	nghttpw_http_res_alloc(&res);
	nghttpw_http_res_set_header(res, "Set-Cookie", "seen=1");
	nghttpw_aio_set_input(ws_aio, 0, req);
	nghttpw_aio_set_input(ws_aio, 1, res);
	cr_assert_eq(nghttpw_ws_upgrade(conn, req, res, ws_aio), 0);
	nghttpw_aio_set_output(aio, 0, NULL);
	nghttpw_aio_finish(aio, 0);
}

Test(ws_handshake, upgrade_inside_a_handler_beside_other_handlers)
{
	nghttpw_http_server  *hs;
	nghttpw_http_handler *h, *st;
	nghttpw_url          *url;
	nghttpw_aio          *ws_aio;
	nghttpw_sockaddr      sa;
	int                   p, status;
	nghttpw_stream       *s, *r;
	char                  buf[16];
	size_t                n;
	unsigned              fl;

	nghttpw_aio_alloc(&ws_aio, NULL, NULL);
	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&hs, url), 0);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/live", upgrade_handler), 0);
	nghttpw_http_handler_set_data(h, ws_aio, NULL);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&st, "/", "hi", 2, "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(hs, h), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(hs, st), 0);
	cr_assert_eq(nghttpw_http_server_start(hs), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(hs, &sa), 0);
	p = ntohs_port(&sa);

	cr_assert_null(raw_open(p, "/live", "", &status));
	cr_assert_eq(status, 403);
	cr_assert_not_null(r = raw_open(p, "/live", "Cookie: k=1\r\n", &status));
	nghttpw_aio_wait(ws_aio);
	cr_assert_eq(nghttpw_aio_result(ws_aio), 0);
	s = nghttpw_aio_get_output(ws_aio, 0);
	nghttpw_http_req_free(nghttpw_aio_get_input(ws_aio, 0));
	nghttpw_http_res_free(nghttpw_aio_get_input(ws_aio, 1));
	cr_assert_eq(raw_frame(r, 0x82, true, "abc", 3), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 3);

	nghttpw_stream_free(s);
	nghttpw_stream_free(r);
	nghttpw_http_server_stop(hs);
	nghttpw_http_server_release(hs); /* frees its handlers */
	nghttpw_url_free(url);
	nghttpw_aio_free(ws_aio);
}

/* WebSocket over a stream of the caller's own (in memory): the server
 * reads the request and upgrades; the client connects. */

Test(ws_handshake, over_a_users_own_stream)
{
	nghttpw_stream    *a, *b, *ca, *sb;
	nghttpw_http_conn *conn_a, *conn_b;
	nghttpw_http_req  *req, *sreq;
	nghttpw_http_res  *res, *sres;
	nghttpw_aio       *ca_aio, *sb_aio, *rd;
	nghttpw_url       *url;
	char               buf[32];
	size_t             n;
	unsigned           fl;

	cr_assert_eq(mem_pair(&a, &b), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&conn_a, a), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&conn_b, b), 0);
	nghttpw_url_parse(&url, "ws://example.org/chat");
	nghttpw_http_req_alloc(&req, url);
	nghttpw_http_res_alloc(&res);
	nghttpw_http_req_alloc(&sreq, NULL);
	nghttpw_http_res_alloc(&sres);
	nghttpw_aio_alloc(&ca_aio, NULL, NULL);
	nghttpw_aio_alloc(&sb_aio, NULL, NULL);
	nghttpw_aio_alloc(&rd, NULL, NULL);
	nghttpw_aio_set_timeout(rd, 5000);
	nghttpw_aio_set_timeout(ca_aio, 5000);

	nghttpw_ws_connect(conn_a, req, res, ca_aio);
	nghttpw_http_conn_read_req(conn_b, sreq, rd);
	nghttpw_aio_wait(rd);
	cr_assert_eq(nghttpw_aio_result(rd), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(sreq), "/chat");
	cr_assert_eq(nghttpw_ws_upgrade(conn_b, sreq, sres, sb_aio), 0);
	nghttpw_aio_wait(sb_aio);
	nghttpw_aio_wait(ca_aio);
	cr_assert_eq(nghttpw_aio_result(sb_aio), 0);
	cr_assert_eq(nghttpw_aio_result(ca_aio), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 101);
	ca = nghttpw_aio_get_output(ca_aio, 0);
	sb = nghttpw_aio_get_output(sb_aio, 0);
	cr_assert_eq(ws_send(ca, NGHTTPW_WS_TEXT, "over memory", 11), 0);
	cr_assert_eq(ws_recv(sb, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 11);
	cr_assert_eq(ws_send(sb, 0, "back", 4), 0);
	cr_assert_eq(ws_recv(ca, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 4);

	nghttpw_stream_free(ca);
	nghttpw_stream_free(sb);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_req_free(sreq);
	nghttpw_http_res_free(sres);
	nghttpw_aio_free(ca_aio);
	nghttpw_aio_free(sb_aio);
	nghttpw_aio_free(rd);
	nghttpw_url_free(url);
}

Test(ws_handshake, many_dials_cancelled_and_closed_in_flight, .timeout = 120)
{
	nghttpw_stream_listener *l;
	int                      p;
	char                     url[64];

	cr_assert_eq(ws_listen("/c", &l, &p), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/c", p);
	for (int i = 0; i < 200; i++) {
		nghttpw_stream_dialer *d;
		nghttpw_aio           *a, *acc;
		nghttpw_stream_dialer_alloc(&d, url);
		nghttpw_aio_alloc(&a, NULL, NULL);
		nghttpw_aio_alloc(&acc, NULL, NULL);
		nghttpw_stream_listener_accept(l, acc);
		nghttpw_stream_dialer_dial(d, a);
		if (i % 3 == 0) {
			nghttpw_aio_cancel(a);
		} else if (i % 3 == 1) {
			nghttpw_stream_dialer_close(d);
		} else {
			nghttpw_msleep(i % 5);
			nghttpw_aio_cancel(acc);
		}
		nghttpw_aio_wait(a);
		if (nghttpw_aio_result(a) == 0) {
			nghttpw_stream_free(nghttpw_aio_get_output(a, 0));
		}
		nghttpw_aio_cancel(acc);
		nghttpw_aio_wait(acc);
		if (nghttpw_aio_result(acc) == 0) {
			nghttpw_stream_free(nghttpw_aio_get_output(acc, 0));
		}
		nghttpw_aio_free(a);
		nghttpw_aio_free(acc);
		nghttpw_stream_dialer_free(d);
	}
	nghttpw_stream_listener_free(l);
}

Test(ws_handshake, close_races_with_traffic, .timeout = 120)
{
	for (int i = 0; i < 100; i++) {
		nghttpw_stream *c, *s;
		nghttpw_aio    *sa, *ra;
		char            buf[2048];
		nghttpw_iov     siov = { buf, sizeof(buf) }, riov = { buf, sizeof(buf) };
		unsigned        fl;

		cr_assert_eq(ws_pair(&c, &s), 0);
		nghttpw_aio_alloc(&sa, NULL, NULL);
		nghttpw_aio_alloc(&ra, NULL, NULL);
		nghttpw_aio_set_iov(sa, 1, &siov);
		nghttpw_aio_set_iov(ra, 1, &riov);
		nghttpw_ws_send_msg(c, 0, sa);
		nghttpw_ws_recv_msg(s, &fl, ra);
		if (i % 2 == 0) {
			nghttpw_stream_close(c);
		} else {
			nghttpw_stream_close(s);
		}
		nghttpw_aio_wait(sa);
		nghttpw_aio_wait(ra);
		nghttpw_stream_free(c);
		nghttpw_stream_free(s);
		nghttpw_aio_free(sa);
		nghttpw_aio_free(ra);
	}
}

Test(ws_handshake, one_port_serves_files_api_and_two_websocket_paths)
{
	nghttpw_http_server     *hs;
	nghttpw_http_handler    *st;
	nghttpw_url             *url;
	nghttpw_sockaddr         sa;
	nghttpw_stream_listener *la, *lb;
	nghttpw_stream          *c, *s;
	char                     u[64], buf[512];
	int                      p;
	size_t                   n;
	unsigned                 fl;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&hs, url), 0);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&st, "/", "file!", 5, "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(hs, st), 0);
	cr_assert_eq(nghttpw_http_server_start(hs), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(hs, &sa), 0);
	p = ntohs_port(&sa);

	/* Both listeners join the server already on that port. */
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/a", p);
	cr_assert_eq(nghttpw_stream_listener_alloc(&la, u), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(la), 0, "%s", nghttpw_strerror(nghttpw_stream_listener_listen(la)));
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/b", p);
	cr_assert_eq(nghttpw_stream_listener_alloc(&lb, u), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(lb), 0);

	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/a", p);
	cr_assert_eq(ws_pair_on(la, u, &c, &s), 0);
	cr_assert_eq(ws_send(c, 0, "to a", 4), 0);
	cr_assert_eq(ws_recv(s, buf, sizeof(buf), &n, &fl, 0), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/b", p);
	cr_assert_eq(ws_pair_on(lb, u, &c, &s), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);

	/* The file is still there. */
	cr_assert_eq(tcp_dial(p, &c), 0);
	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert_eq(send_all(c, buf, strlen(buf), NULL), 0);
	memset(buf, 0, sizeof(buf));
	{
		nghttpw_iov iov = { buf, sizeof(buf) - 1 };
		size_t      got = 0;
		while (sync_op(nghttpw_stream_recv, c, &iov, 1, 3000, &n) == 0) {
			got += n;
			iov.iov_buf = buf + got;
			iov.iov_len = sizeof(buf) - 1 - got;
		}
	}
	cr_assert_not_null(strstr(buf, " 200 "), "%s", buf);
	cr_assert_not_null(strstr(buf, "file!"), "%s", buf);
	nghttpw_stream_free(c);

	/* Closing one listener leaves the other and the files. */
	nghttpw_stream_listener_free(la);
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/b", p);
	cr_assert_eq(ws_pair_on(lb, u, &c, &s), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_listener_free(lb);
	nghttpw_http_server_stop(hs);
	nghttpw_http_server_release(hs);
	nghttpw_url_free(url);
}

Test(ws_handshake, subprotocol_is_picked_from_the_clients_list)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	char                     u[64], *str;
	int                      p, status;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "ws://127.0.0.1:0/sp"), 0);
	cr_assert_eq(nghttpw_stream_listener_set_string(l, NGHTTPW_OPT_WS_PROTOCOL, "mqtt, chat"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &p), 0);
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/sp", p);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, u), 0);
	/* nng compares the whole header with its list, and refuses this. */
	cr_assert_eq(nghttpw_stream_dialer_set_string(d, NGHTTPW_OPT_WS_PROTOCOL, "v2.chat, chat"), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_string(
	                 d, NGHTTPW_OPT_WS_REQUEST_HEADER "Origin", "http://app.example"), 0);
	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	cr_assert_eq(nghttpw_stream_get_string(c, NGHTTPW_OPT_WS_PROTOCOL, &str), 0);
	cr_assert_str_eq(str, "chat");
	nghttpw_strfree(str);
	cr_assert_eq(nghttpw_stream_get_string(s, NGHTTPW_OPT_WS_PROTOCOL, &str), 0);
	cr_assert_str_eq(str, "chat");
	nghttpw_strfree(str);
	/* The Origin is there for the server to judge. */
	cr_assert_eq(nghttpw_stream_get_string(s, NGHTTPW_OPT_WS_REQUEST_HEADER "origin", &str), 0);
	cr_assert_str_eq(str, "http://app.example");
	nghttpw_strfree(str);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);

	/* A client that offers none of ours is refused, as nng does. */
	cr_assert_null(raw_open(p, "/sp", "Sec-WebSocket-Protocol: other\r\n", &status));
	cr_assert_eq(status, 400);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

Test(ws_handshake, dialers_hand_their_limits_to_their_streams)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	char                     u[64];
	int                      p;
	size_t                   sz;
	bool                     b;

	cr_assert_eq(ws_listen("/lim", &l, &p), 0);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, NGHTTPW_OPT_WS_RECVMAXFRAME, 777), 0);
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/lim", p);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, u), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_size(d, NGHTTPW_OPT_WS_SENDMAXFRAME, 100), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_size(d, NGHTTPW_OPT_RECVMAXSZ, 12345), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_WS_SEND_TEXT, true), 0);
	cr_assert_eq(nghttpw_stream_dialer_get_size(d, NGHTTPW_OPT_RECVMAXSZ, &sz), 0);
	cr_assert_eq(sz, 12345);
	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	cr_assert_eq(nghttpw_stream_get_size(c, NGHTTPW_OPT_WS_SENDMAXFRAME, &sz), 0);
	cr_assert_eq(sz, 100);
	cr_assert_eq(nghttpw_stream_get_size(c, NGHTTPW_OPT_RECVMAXSZ, &sz), 0);
	cr_assert_eq(sz, 12345);
	cr_assert_eq(nghttpw_stream_get_bool(c, NGHTTPW_OPT_WS_SEND_TEXT, &b), 0);
	cr_assert(b);
	cr_assert_eq(nghttpw_stream_get_size(s, NGHTTPW_OPT_WS_RECVMAXFRAME, &sz), 0);
	cr_assert_eq(sz, 777);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* A send that times out half way through its message: the stream cannot
 * go on (a frame is cut or the message is), so it ends, and the peer
 * learns it. */

Test(ws_handshake, a_listener_closing_tells_waiting_clients_1001)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *r;
	int                      p, status;

	cr_assert_eq(ws_listen("/gone", &l, &p), 0);
	/* Upgraded, but nobody accepts it. */
	cr_assert_not_null(r = raw_open(p, "/gone", "", &status));
	nghttpw_msleep(50);
	nghttpw_stream_listener_free(l);
	cr_assert_eq(raw_close_code(r), 1001);
	nghttpw_stream_free(r);
}

/* ws4 and wss4 stay on IPv4, ws6 and wss6 on IPv6, as nng's do. */
Test(ws_handshake, ws4_and_ws6_keep_to_their_family)
{
	nghttpw_stream_listener *l4, *l6 = NULL;
	nghttpw_stream          *c, *s;
	char                     u[64];
	int                      p4, p6;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l4, "ws4://127.0.0.1:0/f"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l4), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(l4, NGHTTPW_OPT_TCP_BOUND_PORT, &p4), 0);
	snprintf(u, sizeof(u), "ws4://127.0.0.1:%d/f", p4);
	cr_assert_eq(ws_pair_on(l4, u, &c, &s), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	/* An IPv6 address is no address for ws4, nor IPv4 for ws6. */
	snprintf(u, sizeof(u), "ws6://127.0.0.1:%d/f", p4);
	cr_assert_neq(ws_pair_on(l4, u, &c, &s), 0);
	if (have_ipv6()) {
		cr_assert_eq(nghttpw_stream_listener_alloc(&l6, "ws6://[::1]:0/f"), 0);
		cr_assert_eq(nghttpw_stream_listener_listen(l6), 0);
		cr_assert_eq(nghttpw_stream_listener_get_int(l6, NGHTTPW_OPT_TCP_BOUND_PORT, &p6), 0);
		snprintf(u, sizeof(u), "ws4://[::1]:%d/f", p6);
		cr_assert_neq(ws_pair_on(l6, u, &c, &s), 0);
		snprintf(u, sizeof(u), "ws6://[::1]:%d/f", p6);
		cr_assert_eq(ws_pair_on(l6, u, &c, &s), 0);
		nghttpw_stream_free(c);
		nghttpw_stream_free(s);
		nghttpw_stream_listener_free(l6);
	}
	nghttpw_stream_listener_free(l4);
}

Test(ws_handshake, listeners_on_port_0_get_ports_of_their_own)
{
	nghttpw_stream_listener *a, *b;
	int                      pa, pb;

	cr_assert_eq(ws_listen("/same", &a, &pa), 0);
	cr_assert_eq(ws_listen("/same", &b, &pb), 0);
	cr_assert_neq(pa, pb);
	nghttpw_stream_listener_free(a);
	nghttpw_stream_listener_free(b);
}

/* The server may still hold the listener's handler for a request it
 * routed before the listener went (its body comes slowly): that request
 * must find the listener closed, not freed. */
Test(ws_handshake, a_listener_freed_under_a_slow_request)
{
	nghttpw_http_server     *hs;
	nghttpw_http_handler    *st;
	nghttpw_url             *url;
	nghttpw_sockaddr         sa;
	nghttpw_stream_listener *l;
	nghttpw_stream          *r;
	char                     u[64], req[512], resp[512] = { 0 };
	int                      p;
	size_t                   n;
	nghttpw_iov              iov = { resp, sizeof(resp) - 1 };

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&hs, url), 0);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&st, "/other", "x", 1, "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(hs, st), 0);
	cr_assert_eq(nghttpw_http_server_start(hs), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(hs, &sa), 0);
	p = ntohs_port(&sa);
	snprintf(u, sizeof(u), "ws://127.0.0.1:%d/ws", p);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, u), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(tcp_dial(p, &r), 0);
	snprintf(req, sizeof(req),
	    "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	    "Content-Length: 5\r\n\r\n");
	cr_assert_eq(send_all(r, req, strlen(req), NULL), 0);
	nghttpw_msleep(100);
	nghttpw_stream_listener_free(l);
	cr_assert_eq(send_all(r, "hello", 5, NULL), 0);
	cr_assert_eq(sync_op(nghttpw_stream_recv, r, &iov, 1, 3000, &n), 0);
	cr_assert_not_null(strstr(resp, " 503 "), "%s", resp);
	nghttpw_stream_free(r);
	nghttpw_http_server_stop(hs);
	nghttpw_http_server_release(hs);
	nghttpw_url_free(url);
}
