/* WebSocket servers against a raw client that sends frames byte by byte:
 * every rule of RFC 6455 that a peer can break, and the close code the
 * server answers each with. */
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

static nghttpw_stream          *raw, *srv;
static nghttpw_stream_listener *lst;
static int                      port;

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
	/* A client answers the close (the server may be gone already, when
	 * the broken frame was itself a close); then the server, not the
	 * client, ends the TCP connection, at once. */
	(void) raw_frame(raw, 0x88, true, "\x03\xe8", 2);
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

/* Keep-alive pings go on as long as the peer answers them. */
Test(ws_rfc, keepalive_pings_repeat_while_answered)
{
	int          pings = 0;
	nghttpw_time end;

	cr_assert_eq(nghttpw_stream_set_ms(srv, NGHTTPW_OPT_WS_PING_INTERVAL, 100), 0);
	cr_assert_eq(nghttpw_stream_set_ms(srv, NGHTTPW_OPT_WS_IDLE_TIMEOUT,
	                 NGHTTPW_DURATION_INFINITE), 0);
	end = nghttpw_clock() + 1200;
	while (nghttpw_clock() < end) {
		uint8_t b0, buf[128];
		size_t  n;
		cr_assert_eq(raw_read_frame(raw, &b0, buf, sizeof(buf), &n), 0);
		if ((b0 & 0x0f) == 0x9) {
			pings++;
			cr_assert_eq(raw_frame(raw, 0x8a, true, buf, n), 0);
		}
	}
	cr_assert_geq(pings, 5, "%d pings in 1.2 s at 100 ms", pings);
}
