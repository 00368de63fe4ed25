/* permessage-deflate (RFC 7692): the negotiation of both sides, messages
 * both ways under every parameter, the frames on the wire (read and
 * written with zlib here, not with our code), and the refusals: RSV1
 * where it may not be, data that does not inflate, and a small frame
 * that would inflate past the limit (a decompression bomb). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>
#include <zlib.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/pairs.h"
#include "support/ws_util.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define SHA1 mbedtls_sha1
#else
#define SHA1 mbedtls_sha1_ret
#endif

TestSuite(ws_deflate, .timeout = 60);

/* ------------------------------------------------------------ helpers */

/* A listener at /d with deflate on and the options given as name, int
 * pairs (NULL-ended; bools as 0/1, the threshold 0 unless given). */
static nghttpw_stream_listener *
deflate_listen(int *port, ...)
{
	nghttpw_stream_listener *l;
	va_list                  ap;
	const char              *name;

	cr_assert_eq(ws_listen("/d", &l, port), 0);
	cr_assert_eq(nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_WS_DEFLATE, true), 0);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 0), 0);
	va_start(ap, port);
	while ((name = va_arg(ap, const char *)) != NULL) {
		int v = va_arg(ap, int);
		if (strstr(name, "context") != NULL) {
			cr_assert_eq(nghttpw_stream_listener_set_bool(l, name, v != 0), 0, "%s", name);
		} else if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD) == 0 ||
		    strcmp(name, NGHTTPW_OPT_RECVMAXSZ) == 0 ||
		    strcmp(name, NGHTTPW_OPT_WS_SENDMAXFRAME) == 0) {
			cr_assert_eq(nghttpw_stream_listener_set_size(l, name, (size_t) v), 0, "%s", name);
		} else {
			cr_assert_eq(nghttpw_stream_listener_set_int(l, name, v), 0, "%s", name);
		}
	}
	va_end(ap);
	return (l);
}

static nghttpw_stream_dialer *
deflate_dialer(int port, ...)
{
	nghttpw_stream_dialer *d;
	char                   url[64];
	va_list                ap;
	const char            *name;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_WS_DEFLATE, true), 0);
	cr_assert_eq(nghttpw_stream_dialer_set_size(d, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 0), 0);
	va_start(ap, port);
	while ((name = va_arg(ap, const char *)) != NULL) {
		int v = va_arg(ap, int);
		if (strstr(name, "context") != NULL) {
			cr_assert_eq(nghttpw_stream_dialer_set_bool(d, name, v != 0), 0, "%s", name);
		} else if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD) == 0 ||
		    strcmp(name, NGHTTPW_OPT_RECVMAXSZ) == 0 ||
		    strcmp(name, NGHTTPW_OPT_WS_SENDMAXFRAME) == 0) {
			cr_assert_eq(nghttpw_stream_dialer_set_size(d, name, (size_t) v), 0, "%s", name);
		} else {
			cr_assert_eq(nghttpw_stream_dialer_set_int(d, name, v), 0, "%s", name);
		}
	}
	va_end(ap);
	return (d);
}

/* Text that compresses (repeats with variation), or bytes that do not. */
static void
fill(uint8_t *p, size_t n, bool compressible, unsigned seed)
{
	if (!compressible) {
		fill_pattern(p, n, seed);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t) ("{\"name\":\"sensor\",\"value\":12.5,\"ok\":true}\n"[i % 41] +
		    ((i / 997 + seed) % 3 == 0 ? 1 : 0));
	}
}

/* Sends n bytes from one end and checks what the other end reads. */
static void
one_way(nghttpw_stream *from, nghttpw_stream *to, size_t n, bool compressible,
    bool text, unsigned seed)
{
	uint8_t *out = malloc(n + 1), *in = malloc(n + 16);
	size_t   got = 0;
	unsigned flags;

	fill(out, n, compressible || text, seed);
	cr_assert_eq(ws_send(from, text ? NGHTTPW_WS_TEXT : NGHTTPW_WS_BINARY, out, n), 0,
	    "send of %zu bytes", n);
	cr_assert_eq(ws_recv(to, in, n + 16, &got, &flags, 0), 0, "recv of %zu bytes", n);
	cr_assert_eq(got, n);
	cr_assert_eq(flags, text ? NGHTTPW_WS_TEXT : NGHTTPW_WS_BINARY);
	cr_assert(n == 0 || memcmp(in, out, n) == 0, "%zu bytes differ", n);
	free(out);
	free(in);
}

static void
both_ways(nghttpw_stream *c, nghttpw_stream *s)
{
	static const size_t sizes[] = { 0, 1, 100, 2000, 65536, 70001, 300000 };
	unsigned            seed    = 1;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int kind = 0; kind < 3; kind++) {
			one_way(c, s, sizes[i], kind != 1, kind == 2, seed++);
			one_way(s, c, sizes[i], kind != 1, kind == 2, seed++);
		}
	}
}

static void
expect_agreed(nghttpw_stream *s, bool want)
{
	bool b = !want;

	cr_assert_eq(nghttpw_stream_get_bool(s, NGHTTPW_OPT_WS_DEFLATE, &b), 0);
	cr_assert_eq(b, want);
}

/* ------------------------------------------------------------ round trips */

static void
round_trip(nghttpw_stream_listener *l, nghttpw_stream_dialer *d)
{
	nghttpw_stream *c, *s;

	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	expect_agreed(c, true);
	expect_agreed(s, true);
	both_ways(c, s);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

Test(ws_deflate, defaults_both_ways)
{
	int port;
	nghttpw_stream_listener *l = deflate_listen(&port, NULL);

	round_trip(l, deflate_dialer(port, NULL));
}

Test(ws_deflate, no_context_takeover_asked_by_either_side)
{
	int port;
	nghttpw_stream_listener *l;

	l = deflate_listen(&port, NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT, 1, NULL);
	round_trip(l, deflate_dialer(port, NULL));
	l = deflate_listen(&port, NULL);
	round_trip(l, deflate_dialer(port, NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT, 1,
	    NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT, 1, NULL));
	l = deflate_listen(&port, NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT, 1, NULL);
	round_trip(l, deflate_dialer(port, NULL));
}

Test(ws_deflate, window_bits_each_side)
{
	for (int bits = 8; bits <= 15; bits += 7 - (bits == 8) * 6) {
		int port;
		nghttpw_stream_listener *l;

		l = deflate_listen(&port, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW, bits,
		    NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW, bits, NULL);
		round_trip(l, deflate_dialer(port, NULL));
		l = deflate_listen(&port, NULL);
		round_trip(l, deflate_dialer(port, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW,
		    bits, NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW, bits, NULL));
	}
}

Test(ws_deflate, levels_memory_and_small_frames)
{
	int port;
	nghttpw_stream_listener *l;

	l = deflate_listen(&port, NGHTTPW_OPT_WS_DEFLATE_LEVEL, 0,
	    NGHTTPW_OPT_WS_DEFLATE_MEM_LEVEL, 1, NGHTTPW_OPT_WS_SENDMAXFRAME, 1000, NULL);
	round_trip(l, deflate_dialer(port, NGHTTPW_OPT_WS_DEFLATE_LEVEL, 9,
	    NGHTTPW_OPT_WS_SENDMAXFRAME, 777, NULL));
}

Test(ws_deflate, off_on_either_side_means_off)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	char                     url[64];
	int                      port;

	l = deflate_listen(&port, NULL);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	expect_agreed(c, false);
	expect_agreed(s, false);
	one_way(c, s, 5000, true, false, 7);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	cr_assert_eq(nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_WS_DEFLATE, false), 0);
	d = deflate_dialer(port, NULL);
	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	expect_agreed(c, false);
	expect_agreed(s, false);
	one_way(s, c, 5000, true, true, 8);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

/* A compressed message read through the stream API, a few bytes at a
 * time, then one sent frame by frame. */
Test(ws_deflate, stream_reads_and_frames)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	uint8_t                  out[50000], in[50000];
	size_t                   got = 0, n;
	unsigned                 flags;
	int                      port;

	l = deflate_listen(&port, NULL);
	d = deflate_dialer(port, NULL);
	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	nghttpw_stream_dialer_free(d);
	fill(out, sizeof(out), true, 3);
	cr_assert_eq(ws_send(c, NGHTTPW_WS_BINARY, out, sizeof(out)), 0);
	while (got < sizeof(out)) {
		nghttpw_iov iov = { in + got, sizeof(out) - got < 333 ? sizeof(out) - got : 333 };
		cr_assert_eq(sync_op(nghttpw_stream_recv, s, &iov, 1, 5000, &n), 0);
		cr_assert_gt(n, 0);
		got += n;
	}
	cr_assert_eq(memcmp(in, out, sizeof(out)), 0);

	/* Three frames, the middle one empty, as one message. */
	for (int i = 0; i < 3; i++) {
		nghttpw_aio *aio;
		nghttpw_iov  iov = { out + i * 10000, i == 1 ? 0 : 10000 };
		cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
		nghttpw_aio_set_timeout(aio, 5000);
		cr_assert_eq(nghttpw_aio_set_iov(aio, 1, &iov), 0);
		nghttpw_ws_send_frame(s, NGHTTPW_WS_TEXT | (i == 2 ? NGHTTPW_WS_FIN : 0), aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		nghttpw_aio_free(aio);
	}
	cr_assert_eq(ws_recv(c, in, sizeof(in), &n, &flags, 0), 0);
	cr_assert_eq(n, 20000);
	cr_assert_eq(flags, NGHTTPW_WS_TEXT);
	cr_assert_eq(memcmp(in, out, 10000), 0);
	cr_assert_eq(memcmp(in + 10000, out + 20000, 10000), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_listener_free(l);
}

/* ------------------------------------------------------------ server's answer */

/* The Sec-WebSocket-Extensions of the server's 101 to an offer ("" when
 * there is none). */
static void
answer_to(int port, const char *offer, char *out, size_t cap)
{
	char            extra[512], head[4096];
	const char     *p;
	nghttpw_stream *raw;
	int             status = 0;

	snprintf(extra, sizeof(extra), "Sec-WebSocket-Extensions: %s\r\n", offer);
	raw = raw_open_head(port, "/d", extra, &status, head, sizeof(head));
	cr_assert_not_null(raw, "offer '%s': status %d", offer, status);
	nghttpw_stream_free(raw);
	out[0] = '\0';
	if ((p = strstr(head, "Sec-WebSocket-Extensions: ")) != NULL) {
		p += strlen("Sec-WebSocket-Extensions: ");
		snprintf(out, cap, "%.*s", (int) strcspn(p, "\r"), p);
	}
}

static void
expect_answer(int port, const char *offer, const char *want)
{
	char got[256];

	answer_to(port, offer, got, sizeof(got));
	cr_expect_str_eq(got, want, "offer '%s'", offer);
}

Test(ws_deflate, server_answers_each_parameter)
{
	int                      port;
	nghttpw_stream_listener *l = deflate_listen(&port, NULL);

	expect_answer(port, "permessage-deflate", "permessage-deflate");
	expect_answer(port, "permessage-deflate; client_max_window_bits", "permessage-deflate");
	expect_answer(port, "permessage-deflate; client_max_window_bits=10",
	    "permessage-deflate; client_max_window_bits=10");
	expect_answer(port, "permessage-deflate; client_max_window_bits=\"9\"",
	    "permessage-deflate; client_max_window_bits=9");
	expect_answer(port, "permessage-deflate; server_max_window_bits=11",
	    "permessage-deflate; server_max_window_bits=11");
	expect_answer(port, "permessage-deflate; server_max_window_bits=8",
	    "permessage-deflate; server_max_window_bits=8");
	expect_answer(port, "permessage-deflate;server_no_context_takeover",
	    "permessage-deflate; server_no_context_takeover");
	expect_answer(port, "PerMessage-Deflate ; client_no_context_takeover",
	    "permessage-deflate; client_no_context_takeover");
	/* Several offers: the first that can be taken. */
	expect_answer(port, "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=16, "
	                    "permessage-deflate; server_max_window_bits=12, permessage-deflate",
	    "permessage-deflate; server_max_window_bits=12");
	/* What cannot be taken: left out, and the handshake goes on. */
	expect_answer(port, "permessage-deflate; server_max_window_bits=7", "");
	expect_answer(port, "permessage-deflate; server_max_window_bits=08", "");
	expect_answer(port, "permessage-deflate; server_max_window_bits", "");
	expect_answer(port, "permessage-deflate; client_max_window_bits=16", "");
	expect_answer(port, "permessage-deflate; server_no_context_takeover=1", "");
	expect_answer(port, "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "");
	expect_answer(port, "permessage-deflate; mystery", "");
	expect_answer(port, "permessage-deflate; client_max_window_bits=\"10", "");
	expect_answer(port, "x-webkit-deflate-frame", "");
	nghttpw_stream_listener_free(l);

	/* The server's own settings go into the answer. */
	l = deflate_listen(&port, NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT, 1,
	    NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT, 1,
	    NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW, 10,
	    NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW, 9, NULL);
	expect_answer(port, "permessage-deflate; client_max_window_bits",
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=10; client_max_window_bits=9");
	/* A client that cannot limit its window is not asked to. */
	expect_answer(port, "permessage-deflate; server_max_window_bits=12",
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=10");
	nghttpw_stream_listener_free(l);
}

Test(ws_deflate, options_are_checked)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_stream          *c, *s;
	int                      port, v;
	size_t                   sz;
	bool                     b;

	cr_assert_eq(ws_listen("/d", &l, &port), 0);
	cr_assert_eq(nghttpw_stream_listener_get_bool(l, NGHTTPW_OPT_WS_DEFLATE, &b), 0);
	cr_assert_eq(b, false);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_WS_DEFLATE_LEVEL, &v), 0);
	cr_assert_eq(v, 6);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_WS_DEFLATE_MEM_LEVEL, &v), 0);
	cr_assert_eq(v, 8);
	cr_assert_eq(nghttpw_stream_listener_get_size(l, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, &sz), 0);
	cr_assert_eq(sz, 1024);
	cr_assert_eq(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW, &v), 0);
	cr_assert_eq(v, 15);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, NGHTTPW_OPT_WS_DEFLATE_LEVEL, 10), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, NGHTTPW_OPT_WS_DEFLATE_LEVEL, -1), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, NGHTTPW_OPT_WS_DEFLATE_MEM_LEVEL, 0), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW, 7), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_int(l, NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW, 16), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_WS_DEFLATE, true), 0);
	d = deflate_dialer(port, NULL);
	cr_assert_eq(ws_dial_accept(l, d, &c, &s), 0);
	nghttpw_stream_dialer_free(d);
	/* On a stream: what was agreed, read-only; the threshold may move. */
	cr_assert_eq(nghttpw_stream_set_bool(s, NGHTTPW_OPT_WS_DEFLATE, false), NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_set_int(s, NGHTTPW_OPT_WS_DEFLATE_LEVEL, 1), NGHTTPW_EREADONLY);
	cr_assert_eq(nghttpw_stream_set_size(s, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 100), 0);
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_stream_listener_free(l);
}

/* ------------------------------------------------------------ client's check */

/* A server of our own making for one connection: answers the handshake
 * with the Extensions line given, then keeps the connection. */
typedef struct {
	int             lfd, fd, port;
	const char     *ext;
	pthread_t       t;
} fake_server;

static void *
fake_main(void *arg)
{
	fake_server  *f = arg;
	char          req[4096], res[1024], in[128];
	unsigned char digest[20], b64[64];
	size_t        n = 0, blen;
	const char   *k;

	if ((f->fd = accept(f->lfd, NULL, NULL)) < 0) {
		return (NULL);
	}
	while (n < sizeof(req) - 1 && (n < 4 || memcmp(req + n - 4, "\r\n\r\n", 4) != 0)) {
		if (read(f->fd, req + n, 1) != 1) {
			return (NULL);
		}
		req[++n] = '\0';
	}
	if ((k = strstr(req, "Sec-WebSocket-Key: ")) == NULL) {
		return (NULL);
	}
	snprintf(in, sizeof(in), "%.24s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
	    k + strlen("Sec-WebSocket-Key: "));
	(void) SHA1((const unsigned char *) in, strlen(in), digest);
	(void) mbedtls_base64_encode(b64, sizeof(b64), &blen, digest, 20);
	snprintf(res, sizeof(res),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %.*s\r\n%s%s%s\r\n",
	    (int) blen, b64, f->ext[0] ? "Sec-WebSocket-Extensions: " : "", f->ext,
	    f->ext[0] ? "\r\n" : "");
	(void) write(f->fd, res, strlen(res));
	return (NULL);
}

/* Dials a fake server that answers ext; the dial's result. */
static int
dial_answered(const char *ext, bool offer_bits)
{
	fake_server            f = { .ext = ext, .fd = -1 };
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	int                    rv;

	cr_assert_geq(f.lfd = raw_tcp_listen(&f.port), 0);
	pthread_create(&f.t, NULL, fake_main, &f);
	d = offer_bits ? deflate_dialer(f.port, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW, 10,
	                     NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW, 12, NULL)
	               : deflate_dialer(f.port, NULL);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	rv = nghttpw_aio_result(aio);
	if (rv == 0) {
		nghttpw_stream *s = nghttpw_aio_get_output(aio, 0);
		expect_agreed(s, ext[0] != '\0');
		nghttpw_stream_free(s);
	}
	pthread_join(f.t, NULL);
	if (f.fd >= 0) {
		close(f.fd);
	}
	close(f.lfd);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	return (rv);
}

Test(ws_deflate, client_checks_the_answer)
{
	cr_expect_eq(dial_answered("", false), 0);
	cr_expect_eq(dial_answered("permessage-deflate", false), 0);
	cr_expect_eq(dial_answered("permessage-deflate; server_no_context_takeover; "
	                           "client_no_context_takeover; server_max_window_bits=9; "
	                           "client_max_window_bits=8",
	                 false),
	    0);
	/* What was not offered, or breaks the offer's limits. */
	cr_expect_eq(dial_answered("x-webkit-deflate-frame", false), NGHTTPW_EPROTO);
	cr_expect_eq(dial_answered("permessage-deflate, permessage-deflate", false), NGHTTPW_EPROTO);
	cr_expect_eq(dial_answered("permessage-deflate; client_max_window_bits", false), NGHTTPW_EPROTO);
	cr_expect_eq(dial_answered("permessage-deflate; mystery", false), NGHTTPW_EPROTO);
	cr_expect_eq(dial_answered("permessage-deflate; server_max_window_bits=10; "
	                           "client_max_window_bits=12",
	                 true),
	    0);
	cr_expect_eq(dial_answered("permessage-deflate", true), NGHTTPW_EPROTO);
	cr_expect_eq(dial_answered("permessage-deflate; server_max_window_bits=11", true),
	    NGHTTPW_EPROTO);
	cr_expect_eq(dial_answered("permessage-deflate; server_max_window_bits=10; "
	                           "client_max_window_bits=13",
	                 true),
	    NGHTTPW_EPROTO);
}

/* ------------------------------------------------------------ the wire */

/* Raw deflate of p, with the trailer taken off (RFC 7692 7.2.1). */
static size_t
deflate_raw(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	z_stream z = { 0 };

	cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in   = (Bytef *) (uintptr_t) p;
	z.avail_in  = (uInt) n;
	z.next_out  = out;
	z.avail_out = (uInt) cap;
	cr_assert_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	cr_assert_gt(z.avail_out, 0);
	n = cap - z.avail_out;
	deflateEnd(&z);
	cr_assert_geq(n, 4);
	cr_assert_eq(memcmp(out + n - 4, "\x00\x00\xff\xff", 4), 0);
	return (n - 4);
}

static size_t
inflate_raw(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
	z_stream z   = { 0 };
	uint8_t *buf = malloc(n + 4);

	memcpy(buf, p, n);
	memcpy(buf + n, "\x00\x00\xff\xff", 4);
	cr_assert_eq(inflateInit2(&z, -15), Z_OK);
	z.next_in   = buf;
	z.avail_in  = (uInt) n + 4;
	z.next_out  = out;
	z.avail_out = (uInt) cap;
	cr_assert(inflate(&z, Z_SYNC_FLUSH) == Z_OK);
	cr_assert_eq(z.avail_in, 0);
	n = cap - z.avail_out;
	inflateEnd(&z);
	free(buf);
	return (n);
}

/* A raw client that offered permessage-deflate, and the server's stream. */
static nghttpw_stream_listener *wl;
static nghttpw_stream          *wraw, *wsrv;

static void
wire_open(const char *offer, size_t recvmax)
{
	char         extra[256];
	int          port, status = 0;
	nghttpw_aio *acc;

	wl = deflate_listen(&port, NGHTTPW_OPT_RECVMAXSZ, (int) recvmax,
	    NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 64, NULL);
	snprintf(extra, sizeof(extra), "%s%s%s", offer ? "Sec-WebSocket-Extensions: " : "",
	    offer ? offer : "", offer ? "\r\n" : "");
	cr_assert_not_null(wraw = raw_open(port, "/d", extra, &status), "status %d", status);
	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, 5000);
	nghttpw_stream_listener_accept(wl, acc);
	nghttpw_aio_wait(acc);
	cr_assert_eq(nghttpw_aio_result(acc), 0);
	wsrv = nghttpw_aio_get_output(acc, 0);
	nghttpw_aio_free(acc);
}

static void
wire_close(void)
{
	nghttpw_stream_free(wraw);
	nghttpw_stream_free(wsrv);
	nghttpw_stream_listener_free(wl);
}

Test(ws_deflate, frames_on_the_wire)
{
	uint8_t  msg[3000], z[4000], back[4000], b0;
	size_t   zn, n;
	unsigned flags;

	wire_open("permessage-deflate", 1 << 20);
	fill(msg, sizeof(msg), true, 5);
	/* Ours to theirs: RSV1 on the first frame, the trailer left off. */
	cr_assert_eq(ws_send(wsrv, NGHTTPW_WS_BINARY, msg, sizeof(msg)), 0);
	cr_assert_eq(raw_read_frame(wraw, &b0, z, sizeof(z), &zn), 0);
	cr_assert_eq(b0, 0x80 | 0x40 | 0x2, "first byte %#x", b0);
	cr_assert_lt(zn, sizeof(msg) / 4, "%zu bytes on the wire for %zu", zn, sizeof(msg));
	cr_assert_eq(inflate_raw(z, zn, back, sizeof(back)), sizeof(msg));
	cr_assert_eq(memcmp(back, msg, sizeof(msg)), 0);
	/* Below the threshold: plain. */
	cr_assert_eq(ws_send(wsrv, NGHTTPW_WS_TEXT, "short", 5), 0);
	cr_assert_eq(raw_read_frame(wraw, &b0, z, sizeof(z), &zn), 0);
	cr_assert_eq(b0, 0x81);
	cr_assert_eq(zn, 5);

	/* Theirs to ours: compressed, and uncompressed in between. */
	zn = deflate_raw(msg, sizeof(msg), z, sizeof(z));
	cr_assert_eq(raw_frame(wraw, 0x80 | 0x40 | 0x1, true, z, zn), 0);
	cr_assert_eq(ws_recv(wsrv, back, sizeof(back), &n, &flags, 0), 0);
	cr_assert_eq(n, sizeof(msg));
	cr_assert_eq(flags, NGHTTPW_WS_TEXT);
	cr_assert_eq(memcmp(back, msg, n), 0);
	cr_assert_eq(raw_frame(wraw, 0x82, true, "plain", 5), 0);
	cr_assert_eq(ws_recv(wsrv, back, sizeof(back), &n, &flags, 0), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(memcmp(back, "plain", 5), 0);
	/* Fragmented: RSV1 on the first frame only. */
	cr_assert_eq(raw_frame(wraw, 0x40 | 0x2, true, z, zn / 2), 0);
	cr_assert_eq(raw_frame(wraw, 0x80, true, z + zn / 2, zn - zn / 2), 0);
	cr_assert_eq(ws_recv(wsrv, back, sizeof(back), &n, &flags, 0), 0);
	cr_assert_eq(n, sizeof(msg));
	cr_assert_eq(memcmp(back, msg, n), 0);
	wire_close();
}

/* What the server closes with after a frame, a reader waiting. */
static void
expect_close(uint8_t b0, const void *p, size_t len, int code, int recv_rv)
{
	nghttpw_aio *aio;
	uint8_t      buf[4096];
	nghttpw_iov  iov = { buf, sizeof(buf) };
	unsigned     flags;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_recv_msg(wsrv, &flags, aio);
	cr_assert_eq(raw_frame(wraw, b0, true, p, len), 0);
	cr_assert_eq(raw_close_code(wraw), code);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), recv_rv, "recv: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	nghttpw_aio_free(aio);
}

Test(ws_deflate, rsv1_on_a_control_frame_is_refused)
{
	wire_open("permessage-deflate", 1 << 20);
	expect_close(0x80 | 0x40 | 0x9, "", 0, 1002, NGHTTPW_EPROTO);
	wire_close();
}

Test(ws_deflate, rsv1_on_a_continuation_is_refused)
{
	uint8_t z[64];
	size_t  zn;

	wire_open("permessage-deflate", 1 << 20);
	zn = deflate_raw((const uint8_t *) "abcdefgh", 8, z, sizeof(z));
	cr_assert_eq(raw_frame(wraw, 0x40 | 0x2, true, z, 2), 0);
	expect_close(0x80 | 0x40, z + 2, zn - 2, 1002, NGHTTPW_EPROTO);
	wire_close();
}

Test(ws_deflate, rsv1_without_the_extension_is_refused)
{
	uint8_t z[64];
	size_t  zn;

	wire_open(NULL, 1 << 20);
	zn = deflate_raw((const uint8_t *) "abcdefgh", 8, z, sizeof(z));
	expect_close(0x80 | 0x40 | 0x2, z, zn, 1002, NGHTTPW_EPROTO);
	wire_close();
}

Test(ws_deflate, data_that_does_not_inflate_is_refused)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x12, 0x34 };

	wire_open("permessage-deflate", 1 << 20);
	expect_close(0x80 | 0x40 | 0x2, junk, sizeof(junk), 1007, NGHTTPW_EPROTO);
	wire_close();
}

Test(ws_deflate, compressed_text_must_be_utf8)
{
	uint8_t z[64];
	size_t  zn;

	wire_open("permessage-deflate", 1 << 20);
	zn = deflate_raw((const uint8_t *) "ok \xc3\x28 bad", 10, z, sizeof(z));
	expect_close(0x80 | 0x40 | 0x1, z, zn, 1007, NGHTTPW_EPROTO);
	wire_close();
}

/* 64 MiB of zeros compress to some 64 KiB: the limit of 1 MiB on what a
 * message inflates to stops it at once, without inflating the rest. */
Test(ws_deflate, decompression_bomb_closes_1009)
{
	size_t       n = 64u << 20, zn;
	uint8_t     *zeros = calloc(1, n), *z = malloc(1 << 20);
	nghttpw_time start;

	zn = deflate_raw(zeros, n, z, 1 << 20);
	free(zeros);
	cr_assert_lt(zn, 128 * 1024);
	wire_open("permessage-deflate", 1 << 20);
	start = nghttpw_clock();
	expect_close(0x80 | 0x40 | 0x2, z, zn, 1009, NGHTTPW_EMSGSIZE);
	cr_assert_lt(nghttpw_clock() - start, 1000);
	wire_close();
	free(z);
}

/* The same through stream reads, which have no whole-message buffer:
 * the limit holds all the same. */
Test(ws_deflate, decompression_bomb_through_stream_reads)
{
	size_t      n = 8u << 20, zn, got = 0, k;
	uint8_t    *zeros = calloc(1, n), *z = malloc(1 << 20), buf[65536];
	nghttpw_iov iov = { buf, sizeof(buf) };
	int         rv;

	zn = deflate_raw(zeros, n, z, 1 << 20);
	free(zeros);
	wire_open("permessage-deflate", 1 << 20);
	cr_assert_eq(raw_frame(wraw, 0x80 | 0x40 | 0x2, true, z, zn), 0);
	while ((rv = sync_op(nghttpw_stream_recv, wsrv, &iov, 1, 5000, &k)) == 0) {
		got += k;
	}
	cr_assert_eq(rv, NGHTTPW_EMSGSIZE, "after %zu bytes: %s", got, nghttpw_strerror(rv));
	cr_assert_leq(got, (size_t) 1 << 20);
	cr_assert_eq(raw_close_code(wraw), 1009);
	wire_close();
	free(z);
}

/* A server asked for a window of 8 bits, which zlib cannot compress
 * with: it agrees, and sends uncompressed (allowed, RFC 7692 6). */
Test(ws_deflate, window_of_8_bits_sends_plain)
{
	uint8_t msg[3000], back[4000], b0;
	size_t  n;

	wire_open("permessage-deflate; server_max_window_bits=8", 1 << 20);
	expect_agreed(wsrv, true);
	fill(msg, sizeof(msg), true, 9);
	cr_assert_eq(ws_send(wsrv, NGHTTPW_WS_BINARY, msg, sizeof(msg)), 0);
	cr_assert_eq(raw_read_frame(wraw, &b0, back, sizeof(back), &n), 0);
	cr_assert_eq(b0, 0x82);
	cr_assert_eq(n, sizeof(msg));
	cr_assert_eq(memcmp(back, msg, n), 0);
	wire_close();
}

/* A reader that gives up on a compressed message part way: the rest of
 * it is dropped, but through the decompressor, since the peer builds the
 * next message on it (context takeover). */
Test(ws_deflate, dropped_message_keeps_the_context)
{
	uint8_t      a[20000], b[20000], z[40000], back[20000];
	size_t       za, zb, n;
	unsigned     flags;
	z_stream     zs = { 0 };
	nghttpw_aio *aio;
	nghttpw_iov  iov = { back, sizeof(back) };

	fill(a, sizeof(a), true, 11);
	fill(b, sizeof(b), true, 12);
	/* Both messages from one compressor: b refers back into a. */
	cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = a, zs.avail_in = sizeof(a), zs.next_out = z, zs.avail_out = sizeof(z);
	cr_assert_eq(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	za = sizeof(z) - zs.avail_out - 4;
	zs.next_in = b, zs.avail_in = sizeof(b), zs.next_out = z + za, zs.avail_out = (uInt) (sizeof(z) - za);
	cr_assert_eq(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
	zb = sizeof(z) - za - zs.avail_out - 4;
	deflateEnd(&zs);

	wire_open("permessage-deflate", 1 << 20);
	/* Half of a's frames; the reader takes what they inflate to. */
	cr_assert_eq(raw_frame(wraw, 0x40 | 0x2, true, z, za / 2), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_recv_msg(wsrv, &flags, aio);
	nghttpw_msleep(100);
	nghttpw_aio_cancel(aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), NGHTTPW_ECANCELED);
	nghttpw_aio_free(aio);
	cr_assert_eq(raw_frame(wraw, 0x80, true, z + za / 2, za - za / 2), 0);
	cr_assert_eq(raw_frame(wraw, 0x80 | 0x40 | 0x2, true, z + za, zb), 0);
	cr_assert_eq(ws_recv(wsrv, back, sizeof(back), &n, &flags, 0), 0);
	cr_assert_eq(n, sizeof(b));
	cr_assert_eq(memcmp(back, b, n), 0);
	wire_close();
}
