/* WebSocket streams between nghttpw's own ends, and against a raw client
 * that sends frames byte by byte: the RFC 6455 rules, the message API,
 * the closing handshake, and the races of cancel and close. */
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

static nghttpw_stream *cli, *srv;
static nghttpw_stream_listener *lst;
static int                      port;

static void
pair_up(void)
{
	char url[64];
	cr_assert_eq(ws_listen("/t", &lst, &port), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/t", port);
	cr_assert_eq(ws_pair_on(lst, url, &cli, &srv), 0);
}

static void
pair_down(void)
{
	nghttpw_stream_free(cli);
	nghttpw_stream_free(srv);
	nghttpw_stream_listener_free(lst);
	cli = srv = NULL;
	lst       = NULL;
}

/* One message from one end to the other, compared byte for byte; the
 * read is started first, as a program that reads all the time would. */
static void
echo_check(nghttpw_stream *from, nghttpw_stream *to, unsigned flags, size_t len)
{
	uint8_t     *out = malloc(len + 1);
	uint8_t     *in  = malloc(len + 1);
	nghttpw_iov  iov = { in, len + 1 };
	nghttpw_aio *rd;
	unsigned     fl = 99;

	for (size_t i = 0; i < len; i++) {
		out[i] = (flags & NGHTTPW_WS_TEXT) ? (uint8_t) ('a' + i % 26)
		                                   : (uint8_t) (i * 7 + 3);
	}
	nghttpw_aio_alloc(&rd, NULL, NULL);
	nghttpw_aio_set_timeout(rd, 20000);
	nghttpw_aio_set_iov(rd, 1, &iov);
	nghttpw_ws_recv_msg(to, &fl, rd);
	cr_assert_eq(ws_send(from, flags, out, len), 0, "send of %zu", len);
	nghttpw_aio_wait(rd);
	cr_assert_eq(nghttpw_aio_result(rd), 0, "recv of %zu", len);
	cr_assert_eq(nghttpw_aio_count(rd), len);
	cr_assert_eq(fl, flags);
	cr_assert(len == 0 || memcmp(in, out, len) == 0);
	nghttpw_aio_free(rd);
	free(out);
	free(in);
}

TestSuite(ws, .init = pair_up, .fini = pair_down, .timeout = T_TIMEOUT);

Test(ws, messages_of_every_length_edge_both_ways)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 65537,
		300000 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		echo_check(cli, srv, NGHTTPW_WS_BINARY, lens[i]);
		echo_check(srv, cli, NGHTTPW_WS_BINARY, lens[i]);
		echo_check(cli, srv, NGHTTPW_WS_TEXT, lens[i]);
	}
}

Test(ws, sixteen_mebibytes_with_the_limit_raised)
{
	cr_assert_eq(nghttpw_stream_set_size(srv, NGHTTPW_OPT_RECVMAXSZ, 0), 0);
	cr_assert_eq(nghttpw_stream_set_size(srv, NGHTTPW_OPT_WS_RECVMAXFRAME, 0), 0);
	echo_check(cli, srv, NGHTTPW_WS_BINARY, 16u << 20);
	cr_assert_eq(nghttpw_stream_set_size(cli, NGHTTPW_OPT_RECVMAXSZ, 0), 0);
	echo_check(srv, cli, NGHTTPW_WS_BINARY, 16u << 20);
}

Test(ws, a_message_from_many_iov_entries_is_one_message)
{
	char         a[] = "hello, ", b[] = "", c[] = "world";
	nghttpw_iov  iov[3] = { { a, 7 }, { b, 0 }, { c, 5 } };
	nghttpw_aio *aio;
	char         in[32];
	size_t       got;
	unsigned     fl;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_iov(aio, 3, iov);
	nghttpw_ws_send_msg(cli, NGHTTPW_WS_TEXT, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_aio_count(aio), 12);
	cr_assert_eq(ws_recv(srv, in, sizeof(in), &got, &fl, 0), 0);
	cr_assert_eq(got, 12);
	cr_assert_eq(memcmp(in, "hello, world", 12), 0);
	nghttpw_aio_free(aio);
}

Test(ws, frames_sent_one_at_a_time_make_one_message)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov;
	char         in[64];
	size_t       got;
	unsigned     fl;
	const char  *parts[] = { "one ", "two ", "", "three" };

	nghttpw_aio_alloc(&aio, NULL, NULL);
	for (int i = 0; i < 4; i++) {
		iov.iov_buf = (void *) parts[i];
		iov.iov_len = strlen(parts[i]);
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_ws_send_frame(srv, NGHTTPW_WS_TEXT | (i == 3 ? NGHTTPW_WS_FIN : 0), aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		cr_assert_eq(nghttpw_aio_count(aio), strlen(parts[i]));
	}
	cr_assert_eq(ws_recv(cli, in, sizeof(in), &got, &fl, 0), 0);
	cr_assert_eq(got, 13);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	cr_assert_eq(memcmp(in, "one two three", 13), 0);
	nghttpw_aio_free(aio);
}

Test(ws, a_message_while_a_framed_one_is_open_is_refused)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov = { "x", 1 };

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_send_frame(cli, NGHTTPW_WS_BINARY, aio); /* no FIN */
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_ws_send_msg(cli, NGHTTPW_WS_BINARY, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ESTATE);
	nghttpw_aio_free(aio);
}

Test(ws, sends_queue_and_complete_in_order)
{
	enum { N = 200 };
	nghttpw_aio *aios[N];
	uint32_t     vals[N];
	nghttpw_iov  iov;

	for (int i = 0; i < N; i++) {
		vals[i]     = (uint32_t) i;
		iov.iov_buf = &vals[i];
		iov.iov_len = sizeof(vals[i]);
		nghttpw_aio_alloc(&aios[i], NULL, NULL);
		nghttpw_aio_set_iov(aios[i], 1, &iov);
		nghttpw_ws_send_msg(cli, NGHTTPW_WS_BINARY, aios[i]);
	}
	for (int i = 0; i < N; i++) {
		uint32_t v;
		size_t   got;
		unsigned fl;
		cr_assert_eq(ws_recv(srv, &v, sizeof(v), &got, &fl, 0), 0);
		cr_assert_eq(got, sizeof(v));
		cr_assert_eq(v, (uint32_t) i, "message %d arrived as %u", i, v);
	}
	for (int i = 0; i < N; i++) {
		nghttpw_aio_wait(aios[i]);
		cr_assert_eq(nghttpw_aio_result(aios[i]), 0);
		nghttpw_aio_free(aios[i]);
	}
}

Test(ws, stream_send_is_one_message_and_recv_a_byte_stream)
{
	char         out[100000];
	char        *in = malloc(sizeof(out));
	nghttpw_iov  iov = { out, sizeof(out) };
	size_t       got = 0, n;
	unsigned     fl;

	fill_pattern(out, sizeof(out), 7);
	/* Frames of 1000 bytes: still one message of 100000. */
	cr_assert_eq(nghttpw_stream_set_size(cli, NGHTTPW_OPT_WS_SENDMAXFRAME, 1000), 0);
	cr_assert_eq(sync_op(nghttpw_stream_send, cli, &iov, 1, 5000, &n), 0);
	cr_assert_eq(n, sizeof(out));
	cr_assert_eq(ws_recv(srv, in, sizeof(out), &got, &fl, 0), 0);
	cr_assert_eq(got, sizeof(out));
	cr_assert_eq(memcmp(in, out, sizeof(out)), 0);

	/* Stream reads take what has come, in small pieces if asked. */
	cr_assert_eq(send_all(srv, out, sizeof(out), NULL), 0);
	cr_assert_eq(recv_all(cli, in, sizeof(out), NULL), 0);
	cr_assert_eq(memcmp(in, out, sizeof(out)), 0);
	free(in);
}

Test(ws, text_to_a_stream_read_is_refused_with_1003_as_nng)
{
	char         buf[16];
	nghttpw_iov  iov = { buf, sizeof(buf) };
	size_t       n;
	int          code = 0;

	cr_assert_eq(ws_send(cli, NGHTTPW_WS_TEXT, "hi", 2), 0);
	cr_assert_neq(sync_op(nghttpw_stream_recv, srv, &iov, 1, 5000, &n), 0);
	/* The client sees the server's close. */
	cr_assert_neq(ws_recv(cli, buf, sizeof(buf), &n, NULL, 3000), 0);
	cr_assert_eq(nghttpw_stream_get_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, 1003);
}

Test(ws, text_allowed_on_stream_reads_with_recv_text)
{
	char        buf[16];
	nghttpw_iov iov = { buf, sizeof(buf) };
	size_t      n;

	cr_assert_eq(nghttpw_stream_set_bool(srv, NGHTTPW_OPT_WS_RECV_TEXT, true), 0);
	cr_assert_eq(ws_send(cli, NGHTTPW_WS_TEXT, "hi", 2), 0);
	cr_assert_eq(sync_op(nghttpw_stream_recv, srv, &iov, 1, 5000, &n), 0);
	cr_assert_eq(n, 2);
}

Test(ws, a_message_larger_than_the_buffer_gives_emsgsize_and_1009)
{
	char   big[5000] = { 0 }, small[100];
	size_t n;
	int    code = 0;

	cr_assert_eq(ws_send(cli, 0, big, sizeof(big)), 0);
	cr_assert_eq(ws_recv(srv, small, sizeof(small), &n, NULL, 0), NGHTTPW_EMSGSIZE);
	cr_assert_neq(ws_recv(cli, small, sizeof(small), &n, NULL, 3000), 0);
	nghttpw_stream_get_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 1009);
}

Test(ws, a_message_over_recvmaxsz_gives_1009_before_it_is_read)
{
	char  *big = calloc(1, 2u << 20);
	size_t n;
	int    code = 0;

	/* 2 MiB in frames of 64 KiB: each frame fits, the message does not. */
	cr_assert_eq(nghttpw_stream_set_size(srv, NGHTTPW_OPT_RECVMAXSZ, 1u << 20), 0);
	cr_assert_eq(ws_send(cli, 0, big, 2u << 20), 0);
	cr_assert_eq(ws_recv(srv, big, 2u << 20, &n, NULL, 0), NGHTTPW_EMSGSIZE);
	cr_assert_neq(ws_recv(cli, big, 16, &n, NULL, 3000), 0);
	nghttpw_stream_get_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 1009);
	free(big);
}

Test(ws, ping_completes_on_its_pong)
{
	nghttpw_aio *aio;
	uint8_t      p[125];

	memset(p, 'p', sizeof(p));
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 3000);
	/* The server answers without anyone reading on it. */
	nghttpw_ws_ping(cli, p, sizeof(p), aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_ws_ping(srv, "x", 1, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_ws_ping(cli, p, 126, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_aio_free(aio);
}

Test(ws, close_handshake_carries_code_and_reason_both_ways)
{
	nghttpw_aio *aio;
	char         buf[8];
	size_t       n;
	int          code = 0;
	char        *reason;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_ws_close(cli, 4001, "bye now", aio);
	/* The server's pending read ends with the close. */
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 0), NGHTTPW_ECLOSED);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_stream_get_int(srv, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, 4001);
	cr_assert_eq(nghttpw_stream_get_string(srv, NGHTTPW_OPT_WS_CLOSE_REASON, &reason), 0);
	cr_assert_str_eq(reason, "bye now");
	nghttpw_strfree(reason);
	/* The server echoed the code. */
	cr_assert_eq(nghttpw_stream_get_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, 4001);
	/* Nothing more goes out. */
	cr_assert_eq(ws_send(cli, 0, "x", 1), NGHTTPW_ECLOSED);
	cr_assert_eq(ws_send(srv, 0, "x", 1), NGHTTPW_ECLOSED);
	nghttpw_aio_free(aio);
}

Test(ws, close_arguments_are_checked)
{
	nghttpw_aio *aio;
	static const uint16_t bad[] = { 0, 999, 1004, 1005, 1006, 1015, 2999, 5000 };
	char         reason[200];

	nghttpw_aio_alloc(&aio, NULL, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nghttpw_ws_close(cli, bad[i], bad[i] == 1005 ? "r" : NULL, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL, "code %u", bad[i]);
	}
	memset(reason, 'r', sizeof(reason));
	reason[124] = '\0'; /* 124 bytes: one past the room in a frame */
	nghttpw_ws_close(cli, 1000, reason, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_ws_close(cli, 1000, "\xc3\x28", aio); /* not UTF-8 */
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	nghttpw_aio_free(aio);
}

Test(ws, a_close_with_no_answer_times_out)
{
	nghttpw_aio *aio;
	nghttpw_aio *hold;
	char         buf[8];
	nghttpw_iov  iov = { buf, sizeof(buf) };
	nghttpw_time t0;

	/* The server reads nothing: its pending data keeps it from seeing
	 * the close, so it never answers. */
	cr_assert_eq(ws_send(cli, 0, "xx", 2), 0);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_alloc(&hold, NULL, NULL);
	(void) iov;
	nghttpw_aio_set_timeout(aio, 300);
	t0 = nghttpw_clock();
	nghttpw_ws_close(cli, 1000, NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_lt(nghttpw_clock() - t0, 2000);
	nghttpw_aio_free(aio);
	nghttpw_aio_free(hold);
}

Test(ws, options_of_a_stream)
{
	char  *s;
	size_t sz;
	bool   b;
	int    code = -1;

	cr_assert_eq(nghttpw_stream_get_string(srv, NGHTTPW_OPT_WS_REQUEST_URI, &s), 0);
	cr_assert_str_eq(s, "/t");
	nghttpw_strfree(s);
	cr_assert_eq(nghttpw_stream_get_string(srv, NGHTTPW_OPT_WS_REQUEST_HEADER "sec-websocket-version", &s), 0);
	cr_assert_str_eq(s, "13");
	nghttpw_strfree(s);
	cr_assert_eq(nghttpw_stream_get_string(cli, NGHTTPW_OPT_WS_RESPONSE_HEADER "Upgrade", &s), 0);
	cr_assert_str_eq(s, "websocket");
	nghttpw_strfree(s);
	cr_assert_eq(nghttpw_stream_get_string(cli, NGHTTPW_OPT_WS_REQUEST_HEADER "X-None", &s), NGHTTPW_ENOENT);
	cr_assert_eq(nghttpw_stream_get_string(srv, NGHTTPW_OPT_WS_REQUEST_HEADERS, &s), 0);
	cr_assert_not_null(strstr(s, "Sec-WebSocket-Key: "));
	nghttpw_strfree(s);
	cr_assert_eq(nghttpw_stream_get_size(cli, NGHTTPW_OPT_WS_SENDMAXFRAME, &sz), 0);
	cr_assert_eq(sz, 65536);
	cr_assert_eq(nghttpw_stream_get_size(cli, NGHTTPW_OPT_WS_RECVMAXFRAME, &sz), 0);
	cr_assert_eq(sz, 1u << 20);
	cr_assert_eq(nghttpw_stream_get_bool(cli, NGHTTPW_OPT_WS_SEND_TEXT, &b), 0);
	cr_assert(!b);
	cr_assert_eq(nghttpw_stream_get_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, 0);
	/* The TCP stream's options come through. */
	cr_assert_eq(nghttpw_stream_get_bool(cli, NGHTTPW_OPT_TCP_NODELAY, &b), 0);
	cr_assert_eq(nghttpw_stream_set_bool(cli, NGHTTPW_OPT_WS_SEND_TEXT, 3), 0);
	cr_assert_eq(nghttpw_stream_set_int(cli, NGHTTPW_OPT_WS_SEND_TEXT, 1), NGHTTPW_EBADTYPE);
}

Test(ws, keepalive_pings_keep_an_idle_connection_and_silence_closes_it)
{
	char         buf[4];
	size_t       n;
	int          code = 0;
	nghttpw_time t0;

	/* A client that answers pings stays. */
	cr_assert_eq(nghttpw_stream_set_ms(srv, NGHTTPW_OPT_WS_PING_INTERVAL, 100), 0);
	cr_assert_eq(nghttpw_stream_set_ms(srv, NGHTTPW_OPT_WS_IDLE_TIMEOUT, 300), 0);
	nghttpw_msleep(800);
	echo_check(cli, srv, 0, 10);
	/* The server stops pinging; silence for 300 ms ends it with 1001. */
	cr_assert_eq(nghttpw_stream_set_ms(srv, NGHTTPW_OPT_WS_PING_INTERVAL,
	                 NGHTTPW_DURATION_INFINITE), 0);
	t0 = nghttpw_clock();
	cr_assert_neq(ws_recv(cli, buf, sizeof(buf), &n, NULL, 3000), 0);
	cr_assert_lt(nghttpw_clock() - t0, 2000);
	nghttpw_stream_get_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 1001);
}

Test(ws, cancelled_reads_and_sends_leave_a_working_stream, .timeout = 120)
{
	nghttpw_aio *aio;
	char         buf[64];

	nghttpw_aio_alloc(&aio, NULL, NULL);
	for (int i = 0; i < 500; i++) {
		nghttpw_iov iov = { buf, sizeof(buf) };
		unsigned    fl;
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_ws_recv_msg(srv, &fl, aio);
		if (i % 2 == 0) {
			nghttpw_aio_cancel(aio);
		} else {
			nghttpw_aio_abort(aio, NGHTTPW_ETIMEDOUT);
		}
		nghttpw_aio_wait(aio);
		cr_assert(nghttpw_aio_result(aio) == NGHTTPW_ECANCELED ||
		    nghttpw_aio_result(aio) == NGHTTPW_ETIMEDOUT);
	}
	echo_check(cli, srv, NGHTTPW_WS_TEXT, 33);
	echo_check(srv, cli, NGHTTPW_WS_BINARY, 70000);
	nghttpw_aio_free(aio);
}

/* ------------------------------------------------------------ raw peer */

static nghttpw_stream *raw;

static void
raw_up(void)
{
	int status = 0;
	cr_assert_eq(ws_listen("/r", &lst, &port), 0);
	cr_assert_not_null(raw = raw_open(port, "/r", "", &status), "status %d", status);
	{
		nghttpw_aio *acc;
		nghttpw_aio_alloc(&acc, NULL, NULL);
		nghttpw_aio_set_timeout(acc, 5000);
		nghttpw_stream_listener_accept(lst, acc);
		nghttpw_aio_wait(acc);
		cr_assert_eq(nghttpw_aio_result(acc), 0);
		srv = nghttpw_aio_get_output(acc, 0);
		nghttpw_aio_free(acc);
	}
}

static void
raw_down(void)
{
	nghttpw_stream_free(raw);
	nghttpw_stream_free(srv);
	nghttpw_stream_listener_free(lst);
	raw = srv = NULL;
	lst       = NULL;
}

TestSuite(ws_rfc, .init = raw_up, .fini = raw_down, .timeout = T_TIMEOUT);

/* Sends a frame that breaks the protocol, with a read pending on the
 * server: the read fails, the server closes with code, then ends TCP. */
static void
violation(uint8_t b0, bool masked, const void *p, size_t len, int code)
{
	char   buf[256];
	size_t n;
	int    rv;

	cr_assert_eq(raw_frame(raw, b0, masked, p, len), 0);
	rv = ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000);
	cr_assert_neq(rv, 0);
	cr_assert_neq(rv, NGHTTPW_ETIMEDOUT);
	cr_assert_eq(raw_close_code(raw), code);
	cr_assert(raw_ended(raw), "the server closes TCP first");
}

Test(ws_rfc, echo_through_the_raw_client)
{
	uint8_t  b0;
	uint8_t  buf[300];
	size_t   n;
	unsigned fl;

	cr_assert_eq(raw_frame(raw, 0x81, true, "hello", 5), 0);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	cr_assert_eq(ws_send(srv, NGHTTPW_WS_BINARY, buf, 5), 0);
	cr_assert_eq(raw_read_frame(raw, &b0, buf, sizeof(buf), &n), 0);
	cr_assert_eq(b0, 0x82, "FIN, binary, no RSV: %#x", b0);
	cr_assert_eq(n, 5);
}

Test(ws_rfc, ping_is_answered_with_its_payload_between_fragments)
{
	uint8_t      b0;
	uint8_t      buf[200];
	size_t       n;
	char         msg[16];
	unsigned     fl;
	nghttpw_aio *rd;
	nghttpw_iov  iov = { msg, sizeof(msg) };

	/* Control frames are handled while the server reads. */
	nghttpw_aio_alloc(&rd, NULL, NULL);
	nghttpw_aio_set_timeout(rd, 5000);
	nghttpw_aio_set_iov(rd, 1, &iov);
	nghttpw_ws_recv_msg(srv, &fl, rd);
	cr_assert_eq(raw_frame(raw, 0x01, true, "frag", 4), 0); /* text, no FIN */
	cr_assert_eq(raw_frame(raw, 0x89, true, "ping!", 5), 0);
	cr_assert_eq(raw_read_frame(raw, &b0, buf, sizeof(buf), &n), 0);
	cr_assert_eq(b0, 0x8a);
	cr_assert_eq(n, 5);
	cr_assert_eq(memcmp(buf, "ping!", 5), 0);
	cr_assert_eq(raw_frame(raw, 0x80, true, "ment", 4), 0); /* FIN cont */
	nghttpw_aio_wait(rd);
	cr_assert_eq(nghttpw_aio_result(rd), 0);
	cr_assert_eq(nghttpw_aio_count(rd), 8);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	cr_assert_eq(memcmp(msg, "fragment", 8), 0);
	nghttpw_aio_free(rd);
}

Test(ws_rfc, ping_with_no_data_pending_is_answered_without_a_reader)
{
	uint8_t b0;
	uint8_t buf[200];
	size_t  n;

	cr_assert_eq(raw_frame(raw, 0x89, true, "idle", 4), 0);
	cr_assert_eq(raw_read_frame(raw, &b0, buf, sizeof(buf), &n), 0);
	cr_assert_eq(b0, 0x8a);
	cr_assert_eq(n, 4);
}

Test(ws_rfc, unmasked_client_frame_is_1002)
{
	violation(0x82, false, "x", 1, 1002);
}

Test(ws_rfc, reserved_bits_are_1002)
{
	violation(0xc2, true, "x", 1, 1002);
}

Test(ws_rfc, unknown_data_opcode_is_1002)
{
	violation(0x83, true, "x", 1, 1002);
}

Test(ws_rfc, unknown_control_opcode_is_1002)
{
	violation(0x8b, true, "x", 1, 1002);
}

Test(ws_rfc, fragmented_control_frame_is_1002)
{
	violation(0x09, true, "x", 1, 1002);
}

Test(ws_rfc, long_control_frame_is_1002)
{
	char p[126] = { 0 };
	violation(0x89, true, p, sizeof(p), 1002);
}

Test(ws_rfc, continuation_without_a_start_is_1002)
{
	violation(0x80, true, "x", 1, 1002);
}

Test(ws_rfc, a_new_message_inside_another_is_1002)
{
	cr_assert_eq(raw_frame(raw, 0x02, true, "a", 1), 0);
	violation(0x82, true, "b", 1, 1002);
}

Test(ws_rfc, non_minimal_length_is_1002)
{
	/* 16-bit length 5, masked, no payload follows. */
	static const uint8_t f[] = { 0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4 };
	char   buf[8];
	size_t n;
	cr_assert_eq(raw_bytes(raw, f, sizeof(f)), 0);
	cr_assert_neq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000), 0);
	cr_assert_eq(raw_close_code(raw), 1002);
}

Test(ws_rfc, length_with_the_top_bit_is_1002)
{
	static const uint8_t f[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	char   buf[8];
	size_t n;
	cr_assert_eq(raw_bytes(raw, f, sizeof(f)), 0);
	cr_assert_neq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000), 0);
	cr_assert_eq(raw_close_code(raw), 1002);
}

Test(ws_rfc, invalid_utf8_split_across_frames_is_1007)
{
	/* U+20AC is e2 82 ac: a valid start, then a byte that ends it. */
	cr_assert_eq(raw_frame(raw, 0x01, true, "ok\xe2\x82", 4), 0);
	violation(0x80, true, "\x28", 1, 1007);
}

Test(ws_rfc, utf8_split_across_frames_is_fine)
{
	char     buf[16];
	size_t   n;
	unsigned fl;

	cr_assert_eq(raw_frame(raw, 0x01, true, "\xe2", 1), 0);
	cr_assert_eq(raw_frame(raw, 0x00, true, "\x82", 1), 0);
	cr_assert_eq(raw_frame(raw, 0x80, true, "\xac", 1), 0);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 3);
}

Test(ws_rfc, text_ending_inside_a_character_is_1007)
{
	violation(0x81, true, "\xf0\x9f\x98", 3, 1007);
}

Test(ws_rfc, surrogates_and_overlongs_are_1007)
{
	violation(0x81, true, "\xed\xa0\x80", 3, 1007);
}

Test(ws_rfc, bad_close_codes_are_1002)
{
	static const uint8_t body[] = { 0x03, 0xec }; /* 1004 */
	violation(0x88, true, body, 2, 1002);
}

Test(ws_rfc, a_close_with_one_byte_is_1002)
{
	violation(0x88, true, "\x03", 1, 1002);
}

Test(ws_rfc, a_close_reason_that_is_not_utf8_is_1007)
{
	violation(0x88, true, "\x03\xe8\xff", 3, 1007);
}

Test(ws_rfc, peer_close_is_echoed_and_the_server_ends_tcp)
{
	char   buf[8];
	size_t n;
	int    code = 0;

	cr_assert_eq(raw_frame(raw, 0x88, true, "\x0f\xa1", 2), 0); /* 4001 */
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000), NGHTTPW_ECLOSED);
	cr_assert_eq(raw_close_code(raw), 4001);
	cr_assert(raw_ended(raw));
	nghttpw_stream_get_int(srv, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 4001);
}

Test(ws_rfc, an_empty_close_is_answered_with_an_empty_close)
{
	char   buf[8];
	size_t n;
	int    code = 0;

	cr_assert_eq(raw_frame(raw, 0x88, true, "", 0), 0);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000), NGHTTPW_ECLOSED);
	cr_assert_eq(raw_close_code(raw), 1005);
	nghttpw_stream_get_int(srv, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 1005);
}

Test(ws_rfc, a_peer_that_vanishes_mid_message)
{
	char   buf[64];
	size_t n;
	int    code = 0;

	/* Half a frame, then the TCP connection goes. */
	static const uint8_t f[] = { 0x82, 0x90, 1, 2, 3, 4, 'a', 'b' };
	cr_assert_eq(raw_bytes(raw, f, sizeof(f)), 0);
	nghttpw_stream_close(raw);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000), NGHTTPW_ECLOSED);
	nghttpw_stream_get_int(srv, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 1006);
}

/* ------------------------------------------------------------ handshakes */

TestSuite(ws_handshake, .timeout = T_TIMEOUT);

Test(ws_handshake, bad_requests_get_400_and_other_versions_426)
{
	nghttpw_stream_listener *l;
	int                      p, status;
	nghttpw_stream          *s;
	char                     head[512];
	size_t                   n;

	cr_assert_eq(ws_listen("/h", &l, &p), 0);
	cr_assert_null(raw_open(p, "/nothere", "", &status));
	cr_assert_eq(status, 404);
	/* A second Sec-WebSocket-Version makes the value "13, 8". */
	cr_assert_null(raw_open(p, "/h", "Sec-WebSocket-Version: 8\r\n", &status));
	cr_assert_eq(status, 426);

	/* 426 says which version we speak. */
	cr_assert_eq(tcp_dial(p, &s), 0);
	snprintf(head, sizeof(head),
	    "GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n");
	cr_assert_eq(send_all(s, head, strlen(head), NULL), 0);
	memset(head, 0, sizeof(head));
	{
		nghttpw_iov iov = { head, sizeof(head) - 1 };
		cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n), 0);
	}
	cr_assert_not_null(strstr(head, " 426 "), "%s", head);
	cr_assert_not_null(strstr(head, "Sec-WebSocket-Version: 13"), "%s", head);
	nghttpw_stream_free(s);

	/* A key that is not 16 bytes of base64. */
	cr_assert_eq(tcp_dial(p, &s), 0);
	snprintf(head, sizeof(head),
	    "GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
	    "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n");
	cr_assert_eq(send_all(s, head, strlen(head), NULL), 0);
	memset(head, 0, sizeof(head));
	{
		nghttpw_iov iov = { head, sizeof(head) - 1 };
		cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n), 0);
	}
	cr_assert_not_null(strstr(head, " 400 "), "%s", head);
	nghttpw_stream_free(s);

	/* Without Upgrade it is no WebSocket request. */
	cr_assert_eq(tcp_dial(p, &s), 0);
	snprintf(head, sizeof(head), "GET /h HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(send_all(s, head, strlen(head), NULL), 0);
	memset(head, 0, sizeof(head));
	{
		nghttpw_iov iov = { head, sizeof(head) - 1 };
		cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n), 0);
	}
	cr_assert_not_null(strstr(head, " 400 "), "%s", head);
	nghttpw_stream_free(s);
	nghttpw_stream_listener_free(l);
}

Test(ws_handshake, the_accept_value_is_rfc_6455s_example)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *s;
	int                      p;
	char                     head[512] = { 0 };
	size_t                   n;

	cr_assert_eq(ws_listen("/h", &l, &p), 0);
	cr_assert_eq(tcp_dial(p, &s), 0);
	snprintf(head, sizeof(head),
	    "GET /h HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n");
	cr_assert_eq(send_all(s, head, strlen(head), NULL), 0);
	memset(head, 0, sizeof(head));
	{
		nghttpw_iov iov = { head, sizeof(head) - 1 };
		cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n), 0);
	}
	cr_assert_not_null(strstr(head, "HTTP/1.1 101 "), "%s", head);
	cr_assert_not_null(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "%s", head);
	/* The deflate offer is refused by leaving it out. */
	cr_assert_null(strstr(head, "Extensions"), "%s", head);
	nghttpw_stream_free(s);
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

/* ------------------------------------------------------------ one port */

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
	nghttpw_aio             *acc, *dial;
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
	nghttpw_aio_alloc(&acc, NULL, NULL);
	nghttpw_aio_alloc(&dial, NULL, NULL);
	nghttpw_aio_set_timeout(acc, 5000);
	nghttpw_aio_set_timeout(dial, 5000);
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_stream_dialer_dial(d, dial);
	nghttpw_aio_wait(dial);
	nghttpw_aio_wait(acc);
	cr_assert_eq(nghttpw_aio_result(dial), 0);
	cr_assert_eq(nghttpw_aio_result(acc), 0);
	c = nghttpw_aio_get_output(dial, 0);
	s = nghttpw_aio_get_output(acc, 0);
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
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

Test(ws_handshake, dialers_hand_their_limits_to_their_streams)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_aio             *acc, *dial;
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
	nghttpw_aio_alloc(&acc, NULL, NULL);
	nghttpw_aio_alloc(&dial, NULL, NULL);
	nghttpw_aio_set_timeout(acc, 5000);
	nghttpw_aio_set_timeout(dial, 5000);
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_stream_dialer_dial(d, dial);
	nghttpw_aio_wait(dial);
	nghttpw_aio_wait(acc);
	cr_assert_eq(nghttpw_aio_result(dial), 0);
	cr_assert_eq(nghttpw_aio_result(acc), 0);
	c = nghttpw_aio_get_output(dial, 0);
	s = nghttpw_aio_get_output(acc, 0);
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
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* A send that times out half way through its message: the stream cannot
 * go on (a frame is cut or the message is), so it ends, and the peer
 * learns it. */
Test(ws, a_send_cut_short_ends_the_stream)
{
	nghttpw_aio *aio;
	size_t       len = 64u << 20;
	char        *big = calloc(1, len);
	nghttpw_iov  iov = { big, len };
	char         buf[8];
	size_t       n;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 200);
	nghttpw_aio_set_iov(aio, 1, &iov);
	/* Nobody reads on the server: the kernel's buffers fill. */
	nghttpw_ws_send_msg(cli, 0, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ETIMEDOUT);
	cr_assert_lt(nghttpw_aio_count(aio), len);
	cr_assert_eq(ws_send(cli, 0, "x", 1), NGHTTPW_ECLOSED);
	/* The server sees the end, not a message. */
	cr_assert_eq(nghttpw_stream_set_size(srv, NGHTTPW_OPT_RECVMAXSZ, 0), 0);
	cr_assert_neq(ws_recv(srv, buf, sizeof(buf), &n, NULL, 3000), 0);
	nghttpw_aio_free(aio);
	free(big);
}

Test(ws, sends_are_checked_before_they_queue)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov;
	char         in[16];
	size_t       n;
	unsigned     fl;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	/* Text that is not UTF-8, whole or across frames. */
	cr_assert_eq(ws_send(cli, NGHTTPW_WS_TEXT, "\xc3\x28", 2), NGHTTPW_EINVAL);
	iov.iov_buf = "\xe2\x82";
	iov.iov_len = 2;
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_send_frame(cli, NGHTTPW_WS_TEXT, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	iov.iov_buf = "x";
	iov.iov_len = 1;
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_send_frame(cli, NGHTTPW_WS_FIN, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	iov.iov_buf = "\xac!";
	iov.iov_len = 2;
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_send_frame(cli, NGHTTPW_WS_FIN, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(ws_recv(srv, in, sizeof(in), &n, &fl, 0), 0);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(in, "\xe2\x82\xac!", 4), 0);
	/* An empty stream send is refused, as every stream's is. */
	iov.iov_len = 0;
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_stream_send(cli, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_EINVAL);
	/* Nor are these streams' options to be changed. */
	cr_assert_eq(nghttpw_stream_set_int(cli, NGHTTPW_OPT_WS_CLOSE_CODE, 1), NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_set_string(cli, NGHTTPW_OPT_WS_REQUEST_HEADER "X", "y"), NGHTTPW_EREADONLY);
	nghttpw_aio_free(aio);
}

Test(ws, close_after_the_peers_close_waits_for_the_end)
{
	nghttpw_aio *aio;
	char         buf[8];
	size_t       n;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_ws_close(srv, 4003, NULL, aio);
	cr_assert_eq(ws_recv(cli, buf, sizeof(buf), &n, NULL, 0), NGHTTPW_ECLOSED);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	/* The client answered already; its own close learns that it went
	 * well. */
	nghttpw_ws_close(cli, 1000, NULL, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_aio_free(aio);
}

Test(ws, closing_with_an_unread_message_still_completes)
{
	nghttpw_aio *aio;
	nghttpw_time t0;

	/* The server has a message it never reads, then closes: it must
	 * still see the client's answer. */
	cr_assert_eq(ws_send(cli, 0, "unread", 6), 0);
	nghttpw_msleep(50);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	t0 = nghttpw_clock();
	nghttpw_ws_close(srv, 1000, NULL, aio);
	{
		char   buf[8];
		size_t n;
		cr_assert_eq(ws_recv(cli, buf, sizeof(buf), &n, NULL, 0), NGHTTPW_ECLOSED);
	}
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_lt(nghttpw_clock() - t0, 1000);
	nghttpw_aio_free(aio);
}

Test(ws_rfc, a_message_before_a_bad_frame_can_be_answered)
{
	char     buf[16];
	size_t   n;
	unsigned fl;
	uint8_t  b0;
	char    *big = calloc(1, 2000);

	cr_assert_eq(nghttpw_stream_set_size(srv, NGHTTPW_OPT_WS_RECVMAXFRAME, 1000), 0);
	cr_assert_eq(raw_frame(raw, 0x81, true, "abc", 3), 0);
	cr_assert_eq(raw_frame(raw, 0x82, true, big, 2000), 0);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 3);
	nghttpw_msleep(50); /* the bad frame is here by now */
	cr_assert_eq(ws_send(srv, fl, buf, n), 0);
	cr_assert_eq(raw_read_frame(raw, &b0, (uint8_t *) buf, sizeof(buf), &n), 0);
	cr_assert_eq(b0, 0x81);
	cr_assert_eq(n, 3);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, &fl, 0), NGHTTPW_EMSGSIZE);
	cr_assert_eq(raw_close_code(raw), 1009);
	free(big);
}
