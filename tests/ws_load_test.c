/* WebSockets under load: a peer that never reads cannot make a server
 * hold more than its send queue limit, and a broadcast to many
 * connections, some of them stalled, still reaches the others on time. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/pairs.h"
#include "support/ws_util.h"

static void
more_files(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
	}
}

TestSuite(ws_load, .init = more_files, .timeout = 120);

static nghttpw_stream *
accept_one(nghttpw_stream_listener *l)
{
	nghttpw_aio    *acc;
	nghttpw_stream *s;

	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, 5000);
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_aio_wait(acc);
	cr_assert_eq(nghttpw_aio_result(acc), 0);
	s = nghttpw_aio_get_output(acc, 0);
	nghttpw_aio_free(acc);
	return (s);
}

/* ------------------------------------------------------------ a peer that does not read */

#define QMAX (1024u * 1024u)
#define MSG (64u * 1024u)
#define NSEND 1000

Test(ws_load, send_queue_is_bounded_for_a_peer_that_does_not_read)
{
	nghttpw_stream_listener *l;
	nghttpw_stream          *raw, *s;
	nghttpw_aio             *aio[NSEND];
	uint8_t                 *msg = malloc(MSG), *buf = malloc(MSG + 16), b0;
	nghttpw_iov              iov = { msg, MSG };
	int                      port, status = 0, refused = 0, pending = 0, sent = 0;
	size_t                   sz, n;

	cr_assert_eq(ws_listen("/q", &l, &port), 0);
	cr_assert_eq(nghttpw_stream_listener_get_size(l, NGHTTPW_OPT_WS_SEND_QUEUE_MAX, &sz), 0);
	cr_assert_eq(sz, 16u << 20);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, NGHTTPW_OPT_WS_SEND_QUEUE_MAX, QMAX), 0);
	cr_assert_not_null(raw = raw_open(port, "/q", "", &status), "status %d", status);
	s = accept_one(l);
	fill_pattern(msg, MSG, 1);
	for (int i = 0; i < NSEND; i++) {
		cr_assert_eq(nghttpw_aio_alloc(&aio[i], NULL, NULL), 0);
		nghttpw_aio_set_iov(aio[i], 1, &iov);
		nghttpw_ws_send_msg(s, NGHTTPW_WS_BINARY, aio[i]);
	}
	/* What the kernel took is written; of the rest, no more than the
	 * limit waits, and the others were refused at once. */
	nghttpw_msleep(200);
	for (int i = 0; i < NSEND; i++) {
		if (nghttpw_aio_busy(aio[i])) {
			pending++;
		} else if (nghttpw_aio_result(aio[i]) == NGHTTPW_EAGAIN) {
			refused++;
		} else {
			cr_assert_eq(nghttpw_aio_result(aio[i]), 0);
			sent++;
		}
	}
	cr_assert_gt(refused, 0, "nothing was refused (%d sent)", sent);
	cr_assert_leq((size_t) pending * MSG, QMAX + MSG, "%d sends wait", pending);
	/* Once the peer reads, all that waited goes out, in order. */
	for (int i = 0; i < sent + pending; i++) {
		cr_assert_eq(raw_read_frame(raw, &b0, buf, MSG + 16, &n), 0, "frame %d", i);
		cr_assert_eq(n, MSG);
	}
	for (int i = 0; i < NSEND; i++) {
		nghttpw_aio_wait(aio[i]);
		cr_assert(nghttpw_aio_result(aio[i]) == 0 ||
		    nghttpw_aio_result(aio[i]) == NGHTTPW_EAGAIN);
		nghttpw_aio_free(aio[i]);
	}
	/* The queue is empty again: a send goes. */
	cr_assert_eq(ws_send(s, NGHTTPW_WS_BINARY, msg, MSG), 0);
	nghttpw_stream_free(s);
	nghttpw_stream_free(raw);
	nghttpw_stream_listener_free(l);
	free(msg);
	free(buf);
}

/* ------------------------------------------------------------ broadcast */

#define NCONN 1000
#define NSLOW 10
#define PRIME (8u << 20) /* more than loopback's socket buffers take */
#define ROUNDS 50
#define BLEN 1024
#define RING 8

/* A client that reads every message, counting them. */
typedef struct {
	nghttpw_stream *s;
	nghttpw_aio    *aio;
	uint8_t         buf[BLEN];
	unsigned        flags;
	atomic_int      got;
	atomic_int      bad;
} reader;

static void
reader_cb(void *arg)
{
	reader *r = arg;

	if (nghttpw_aio_result(r->aio) != 0) {
		return;
	}
	if (nghttpw_aio_count(r->aio) != BLEN) {
		atomic_fetch_add(&r->bad, 1);
	}
	atomic_fetch_add(&r->got, 1);
	nghttpw_ws_recv_msg(r->s, &r->flags, r->aio);
}

/* The server's side of one connection, with a few sends in flight. */
typedef struct {
	nghttpw_stream *s;
	nghttpw_aio    *aio[RING];
	int             dropped;
} member;

Test(ws_load, broadcast_is_not_held_up_by_slow_members)
{
	static reader            readers[NCONN - NSLOW];
	static member            members[NCONN];
	static nghttpw_stream   *slow[NSLOW];
	static uint8_t           msg[BLEN];
	uint8_t                 *prime;
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_iov              iov = { msg, BLEN };
	char                     url[64];
	int                      port, status = 0;
	nghttpw_time             end;

	cr_assert_eq(ws_listen("/b", &l, &port), 0);
	cr_assert_eq(nghttpw_stream_listener_set_size(l, NGHTTPW_OPT_WS_SEND_QUEUE_MAX, 16 * BLEN), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/b", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	for (int i = 0; i < NCONN; i++) {
		if (i % (NCONN / NSLOW) == 0) {
			/* Stalled: connected, never reading. */
			cr_assert_not_null(slow[i / (NCONN / NSLOW)] = raw_open(port, "/b", "", &status));
			members[i].s = accept_one(l);
		} else {
			reader *r = &readers[i - i / (NCONN / NSLOW) - 1];
			cr_assert_eq(ws_dial_accept(l, d, &r->s, &members[i].s), 0);
			cr_assert_eq(nghttpw_aio_alloc(&r->aio, reader_cb, r), 0);
			nghttpw_aio_set_iov(r->aio, 1, &(nghttpw_iov) { r->buf, BLEN });
			nghttpw_ws_recv_msg(r->s, &r->flags, r->aio);
		}
		for (int k = 0; k < RING; k++) {
			cr_assert_eq(nghttpw_aio_alloc(&members[i].aio[k], NULL, NULL), 0);
			nghttpw_aio_set_iov(members[i].aio[k], 1, &iov);
		}
	}
	/* The stalled ones get a message that fills their sockets, and
	 * stays queued. */
	prime = calloc(1, PRIME);
	for (int i = 0; i < NCONN; i += NCONN / NSLOW) {
		nghttpw_aio_set_iov(members[i].aio[0], 1, &(nghttpw_iov) { prime, PRIME });
		nghttpw_ws_send_msg(members[i].s, NGHTTPW_WS_BINARY, members[i].aio[0]);
	}
	/* Each round goes to every member with a free send; one without is
	 * skipped, as is one whose queue is full. */
	for (int round = 0; round < ROUNDS; round++) {
		memset(msg, 'a' + round % 26, BLEN);
		for (int i = 0; i < NCONN; i++) {
			member *m = &members[i];
			int     k;
			for (k = 0; k < RING && nghttpw_aio_busy(m->aio[k]); k++) {
			}
			if (k == RING) {
				m->dropped++;
				continue;
			}
			if (nghttpw_aio_result(m->aio[k]) == NGHTTPW_EAGAIN) {
				m->dropped++;
			}
			nghttpw_aio_set_iov(m->aio[k], 1, &iov);
			nghttpw_ws_send_msg(m->s, NGHTTPW_WS_BINARY, m->aio[k]);
		}
		nghttpw_msleep(20);
	}
	end = nghttpw_clock() + 20000;
	for (int i = 0; i < NCONN - NSLOW; i++) {
		while (atomic_load(&readers[i].got) < ROUNDS && nghttpw_clock() < end) {
			nghttpw_msleep(10);
		}
		cr_assert_eq(atomic_load(&readers[i].got), ROUNDS, "reader %d got %d of %d", i,
		    atomic_load(&readers[i].got), ROUNDS);
		cr_assert_eq(atomic_load(&readers[i].bad), 0);
	}
	for (int i = 0; i < NCONN; i += NCONN / NSLOW) {
		cr_assert_geq(members[i].dropped, ROUNDS - RING, "stalled member %d dropped %d",
		    i, members[i].dropped);
	}
	for (int i = 0; i < NCONN - NSLOW; i++) {
		nghttpw_stream_close(readers[i].s);
		nghttpw_aio_stop(readers[i].aio);
		nghttpw_aio_free(readers[i].aio);
		nghttpw_stream_free(readers[i].s);
	}
	for (int i = 0; i < NCONN; i++) {
		nghttpw_stream_close(members[i].s);
		for (int k = 0; k < RING; k++) {
			nghttpw_aio_stop(members[i].aio[k]);
			nghttpw_aio_free(members[i].aio[k]);
		}
		nghttpw_stream_free(members[i].s);
	}
	for (int i = 0; i < NSLOW; i++) {
		nghttpw_stream_free(slow[i]);
	}
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	free(prime);
}
