/* WebSocket streams between nghttpw's own ends: the message API, frames,
 * options, the closing handshake, keep-alive, and the races of cancel and
 * close. */
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

/* A server's send is written from the caller's buffer as it is: a send
 * cancelled or timed out while its bytes are being written must not
 * finish before the write lets go of the buffer (ASan sees the buffer
 * freed at once after each completion). */
Test(ws, a_cut_send_lets_go_of_the_buffer_before_it_completes, .timeout = 120)
{
	for (int i = 0; i < 40; i++) {
		nghttpw_stream *c, *s;
		nghttpw_aio    *aio;
		size_t          len = (size_t) (1 + i % 4) << 20;
		char           *big = malloc(len);
		nghttpw_iov     iov = { big, len };

		memset(big, 'x', len);
		cr_assert_eq(ws_pair(&c, &s), 0);
		nghttpw_aio_alloc(&aio, NULL, NULL);
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_aio_set_timeout(aio, i % 7);
		nghttpw_ws_send_msg(s, 0, aio);
		if (i % 3 == 0) {
			nghttpw_aio_cancel(aio);
		} else if (i % 3 == 1) {
			nghttpw_stream_close(s);
		}
		nghttpw_aio_wait(aio);
		cr_assert_leq(nghttpw_aio_count(aio), len);
		free(big);
		nghttpw_stream_free(c);
		nghttpw_stream_free(s);
		nghttpw_aio_free(aio);
	}
}

/* nghttpw_stream_stop ends the connection and stops the stream's reads at
 * once, while the connection underneath is being freed: a cancel of that
 * read racing with its end must not touch the freed connection. */
Test(ws, stop_races_with_the_connection_going, .timeout = 120)
{
	for (int i = 0; i < 150; i++) {
		nghttpw_stream *c, *s;
		cr_assert_eq(ws_pair(&c, &s), 0);
		if (i % 2 == 0) {
			cr_assert_eq(ws_send(c, 0, "x", 1), 0);
		}
		nghttpw_stream_stop(c);
		nghttpw_stream_stop(s);
		nghttpw_stream_free(c);
		nghttpw_stream_free(s);
	}
}

/* Frame-by-frame text is checked as each frame goes out: a refused frame
 * leaves the message open for a corrected one, a withdrawn one counts for
 * nothing, and a frame that would break the text on the wire is refused
 * whatever its flags say. */
Test(ws, frame_text_is_checked_as_each_frame_goes_out)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov;
	char         in[16];
	size_t       n;
	unsigned     fl;

	nghttpw_aio_alloc(&aio, NULL, NULL);
#define SEND_FRAME(bytes, len, flags, tmo, want)                            \
	do {                                                                 \
		iov.iov_buf = (bytes);                                       \
		iov.iov_len = (len);                                         \
		nghttpw_aio_set_iov(aio, 1, &iov);                           \
		nghttpw_aio_set_timeout(aio, (tmo));                         \
		nghttpw_ws_send_frame(cli, (flags), aio);                    \
		nghttpw_aio_wait(aio);                                       \
		cr_assert_eq(nghttpw_aio_result(aio), (want), "%s", #bytes); \
	} while (0)
	SEND_FRAME("\xe2", 1, NGHTTPW_WS_TEXT, 5000, 0);
	/* Withdrawn before it went (a timeout of 0): as if never sent. */
	SEND_FRAME("\x82\xac", 2, NGHTTPW_WS_FIN, 0, NGHTTPW_ETIMEDOUT);
	/* Flagged binary, but it continues the text: checked as text. */
	SEND_FRAME("zz", 2, NGHTTPW_WS_FIN, 5000, NGHTTPW_EINVAL);
	SEND_FRAME("\x82\xac", 2, NGHTTPW_WS_FIN, 5000, 0);
#undef SEND_FRAME
	cr_assert_eq(ws_recv(srv, in, sizeof(in), &n, &fl, 0), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	cr_assert_eq(memcmp(in, "\xe2\x82\xac", 3), 0);
	nghttpw_aio_free(aio);
}

/* A cancel that comes just as a server's frame finishes being written is
 * not lost for the sends after it: each later cancel still works. */
Test(ws, cancels_racing_the_end_of_a_write_are_never_lost, .timeout = 120)
{
	static uint8_t small[100];
	size_t         bigsz = 32u << 20;
	uint8_t       *big   = calloc(1, bigsz);

	for (int i = 0; i < 300; i++) {
		nghttpw_stream *c, *s;
		nghttpw_aio    *a, *b;
		nghttpw_iov     iov = { small, sizeof(small) }, bi = { big, bigsz };
		nghttpw_time    t0;

		cr_assert_eq(ws_pair(&c, &s), 0);
		nghttpw_aio_alloc(&a, NULL, NULL);
		nghttpw_aio_alloc(&b, NULL, NULL);
		nghttpw_aio_set_iov(a, 1, &iov);
		nghttpw_ws_send_msg(s, 0, a);
		for (volatile int k = (i * 37) % 5000; k > 0; k--) {
		}
		nghttpw_aio_cancel(a);
		nghttpw_aio_wait(a);
		if (nghttpw_aio_result(a) == 0 && i % 10 == 0) {
			/* The stream lives on: a send that cannot finish (the
			 * peer reads nothing) is still cut by its cancel. */
			nghttpw_aio_set_iov(b, 1, &bi);
			nghttpw_ws_send_frame(s, NGHTTPW_WS_FIN, b);
			nghttpw_msleep(20);
			t0 = nghttpw_clock();
			nghttpw_aio_cancel(b);
			nghttpw_aio_wait(b);
			cr_assert_lt(nghttpw_clock() - t0, 1000);
			cr_assert_eq(nghttpw_aio_result(b), NGHTTPW_ECANCELED);
		}
		nghttpw_aio_free(a);
		nghttpw_aio_free(b);
		nghttpw_stream_free(c);
		nghttpw_stream_free(s);
	}
	free(big);
}

Test(ws, receives_after_a_close_has_begun_are_refused)
{
	nghttpw_aio *aio;
	char         buf[16];
	size_t       n;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_ws_close(cli, 1000, NULL, aio);
	/* (The server may have seen the close already, and refuse.) */
	(void) ws_send(srv, 0, "after-close", 11);
	cr_assert_eq(ws_recv(cli, buf, sizeof(buf), &n, NULL, 0), NGHTTPW_ECLOSED);
	nghttpw_aio_wait(aio);
	nghttpw_aio_free(aio);
}

Test(ws, a_message_read_by_stream_reads_needs_no_other_reader)
{
	char        buf[16];
	nghttpw_iov iov = { buf, 5 };
	size_t      n;
	unsigned    fl;

	cr_assert_eq(nghttpw_stream_set_bool(srv, NGHTTPW_OPT_WS_RECV_TEXT, true), 0);
	cr_assert_eq(ws_send(cli, 0, "first", 5), 0);
	cr_assert_eq(ws_send(cli, 0, "second", 6), 0);
	nghttpw_msleep(50); /* both are here */
	cr_assert_eq(sync_op(nghttpw_stream_recv, srv, &iov, 1, 5000, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(ws_recv(srv, buf, sizeof(buf), &n, &fl, 0), 0);
	cr_assert_eq(n, 6, "the next message, not an empty end of the first");
	cr_assert_eq(memcmp(buf, "second", 6), 0);
}
