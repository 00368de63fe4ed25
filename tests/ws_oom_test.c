/* Out of memory over WebSockets: the opening handshake, a message read
 * and a message written, with and without compression, each allocation
 * failed in turn (the driver and its rules: tests/support/oom_run.h and
 * tests/oom_test.c).  Every run ends in success or a clean failure, and
 * leaves nothing allocated. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/oom.h"
#include "support/oom_run.h"
#include "support/pairs.h"

typedef struct {
	oom_scope scope;
	bool      deflate;
} ws_case;

#define MSG_LEN 3000

static uint8_t msg_out[MSG_LEN];

/* A failure that ended an exchange: the injected one, or (when the I/O
 * threads' allocations fail too) the close it led to on the other side. */
static void
exchange_failed(const ws_case *k, int rv, const char *what)
{
	if (k->scope == OOM_ANY && oom_fired() &&
	    (rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET ||
	        rv == NGHTTPW_EPROTO || rv == NGHTTPW_ECANCELED)) {
		return;
	}
	first_failure(rv, what);
}

/* One message from a to b, checked. */
static int
one_message(const ws_case *k, nghttpw_stream *a, nghttpw_stream *b,
    nghttpw_aio *sa, nghttpw_aio *rb)
{
	static uint8_t in[MSG_LEN + 16];
	nghttpw_iov    out = { msg_out, MSG_LEN };
	nghttpw_iov    iv  = { in, sizeof(in) };
	unsigned       flags;
	int            rs, rr;

	nghttpw_aio_set_iov(sa, 1, &out);
	nghttpw_aio_set_iov(rb, 1, &iv);
	nghttpw_ws_recv_msg(b, &flags, rb);
	nghttpw_ws_send_msg(a, NGHTTPW_WS_TEXT, sa);
	rs = wait_rv(sa, "send_msg");
	if (rs != 0) {
		/* Nothing will come: the reader ends when the sender's
		 * connection closes, or here. */
		nghttpw_stream_close(a);
	}
	rr = wait_rv(rb, "recv_msg");
	if (rs != 0) {
		exchange_failed(k, rs, "send_msg");
		later_failure(rr, "recv_msg");
		return (rs);
	}
	if (rr != 0) {
		exchange_failed(k, rr, "recv_msg");
		return (rr);
	}
	if (nghttpw_aio_count(rb) != MSG_LEN || memcmp(in, msg_out, MSG_LEN) != 0 ||
	    flags != NGHTTPW_WS_TEXT) {
		bad("the message came back wrong (%zu bytes)", nghttpw_aio_count(rb));
		return (NGHTTPW_EINTERNAL);
	}
	return (0);
}

static void
scen_ws(void *arg)
{
	const ws_case           *k = arg;
	nghttpw_stream_listener *l = NULL;
	nghttpw_stream_dialer   *d = NULL;
	nghttpw_stream          *c = NULL, *s = NULL;
	nghttpw_aio             *acc = NULL, *dial = NULL, *a1 = NULL, *a2 = NULL;
	char                     url[64];
	uint8_t                  probe;
	int                      port, rv, rd, ra;

	CHECK(nghttpw_stream_listener_alloc(&l, "ws://127.0.0.1:0/o"), "listener_alloc");
	if (k->deflate) {
		CHECK(nghttpw_stream_listener_set_bool(l, NGHTTPW_OPT_WS_DEFLATE, true),
		    "listener_set_bool");
		CHECK(nghttpw_stream_listener_set_size(l, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 0),
		    "listener_set_size");
	}
	CHECK(nghttpw_stream_listener_listen(l), "listener_listen");
	CHECK(nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    "listener_get_int");
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/o", port);
	CHECK(nghttpw_stream_dialer_alloc(&d, url), "dialer_alloc");
	if (k->deflate) {
		CHECK(nghttpw_stream_dialer_set_bool(d, NGHTTPW_OPT_WS_DEFLATE, true),
		    "dialer_set_bool");
		CHECK(nghttpw_stream_dialer_set_size(d, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 0),
		    "dialer_set_size");
	}
	CHECK((acc = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");
	CHECK((dial = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");
	CHECK((a1 = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");
	CHECK((a2 = aio_new(&rv)) == NULL ? rv : 0, "aio_alloc");

	/* The handshake.  A server that fails it before its answer is out
	 * answers 500 or closes (the dial fails); one that fails after
	 * drops the connection, which the client then sees closed, and its
	 * accept goes on waiting for another client (a failed handshake is
	 * not the listener's failure). */
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_stream_dialer_dial(d, dial);
	if ((rd = wait_rv(dial, "dial")) != 0) {
		nghttpw_aio_cancel(acc);
		ra = wait_rv(acc, "accept");
		exchange_failed(k, rd, "dial");
		if (ra == 0) {
			/* The server's side was through before the cancel. */
			s = nghttpw_aio_get_output(acc, 0);
		} else if (ra != NGHTTPW_ECANCELED) {
			later_failure(ra, "accept");
		}
		goto out;
	}
	c = nghttpw_aio_get_output(dial, 0);
	nghttpw_aio_set_iov(a1, 1, &(nghttpw_iov) { &probe, 1 });
	nghttpw_stream_recv(c, a1);
	for (nghttpw_time end = nghttpw_clock() + OP_TIMEOUT;
	     nghttpw_aio_busy(acc) && !(k->scope == OOM_ANY && oom_fired() &&
	                                  !nghttpw_aio_busy(a1)) &&
	     nghttpw_clock() < end;) {
		nghttpw_msleep(2);
	}
	if (nghttpw_aio_busy(acc)) {
		/* The server dropped it: the client's read saw the close. */
		nghttpw_aio_cancel(acc);
		later_failure(wait_rv(a1, "recv"), "client recv after a failed accept");
		nghttpw_aio_wait(acc);
		goto out;
	}
	nghttpw_aio_cancel(a1);
	nghttpw_aio_wait(a1);
	if ((ra = wait_rv(acc, "accept")) != 0) {
		exchange_failed(k, ra, "accept");
		goto out;
	}
	s = nghttpw_aio_get_output(acc, 0);

	/* A message each way. */
	if (one_message(k, c, s, a1, a2) == 0) {
		(void) one_message(k, s, c, a1, a2);
	}
out:
	nghttpw_stream_free(c);
	nghttpw_stream_free(s);
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	nghttpw_aio_free(a1);
	nghttpw_aio_free(a2);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
}

static void
setup(void)
{
	for (size_t i = 0; i < MSG_LEN; i++) {
		msg_out[i] = (uint8_t) ("websocket text, repeated "[i % 25]);
	}
}

TestSuite(ws_oom, .init = setup, .timeout = 600);

Test(ws_oom, handshake_and_messages_thread)
{
	static const ws_case k = { OOM_THREAD, false };

	run_loop("ws", OOM_THREAD, scen_ws, (void *) &k);
}

Test(ws_oom, handshake_and_messages_any_thread)
{
	static const ws_case k = { OOM_ANY, false };

	run_loop("ws", OOM_ANY, scen_ws, (void *) &k);
}

Test(ws_oom, handshake_and_messages_any_thread_from_n_on)
{
	static const ws_case k = { OOM_ANY, false };

	run_loop_sticky("ws", OOM_ANY, scen_ws, (void *) &k);
}

Test(ws_oom, compressed_any_thread)
{
	static const ws_case k = { OOM_ANY, true };

	run_loop("ws deflate", OOM_ANY, scen_ws, (void *) &k);
}
