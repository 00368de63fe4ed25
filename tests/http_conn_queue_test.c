/* Operations queued on an HTTP connection: a read or write started while
 * another is pending waits behind it, first in first out, as in nng.
 * Order on the wire and in the results, cancel of a queued and of the
 * pending operation, close with several queued, and the races between
 * them and completion. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/http.h"
#include "support/http_util.h"
#include "support/pairs.h"

static void
conn_pair(nghttpw_http_conn **conn, nghttpw_stream **peer)
{
	nghttpw_stream *s;

	cr_assert_eq(tcp_pair("127.0.0.1", &s, peer), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(conn, s), 0);
}

/* An aio whose callback counts its calls, and notes a call made inside
 * the function that started the operation (which must never happen). */
typedef struct {
	nghttpw_aio *aio;
	atomic_int   calls;
	atomic_int   inline_calls;
	atomic_int   inside;
	pthread_t    starter;
} counted;

static void
counted_cb(void *arg)
{
	counted *k = arg;

	if (atomic_load(&k->inside) && pthread_equal(k->starter, pthread_self())) {
		atomic_fetch_add(&k->inline_calls, 1);
	}
	atomic_fetch_add(&k->calls, 1);
}

static counted *
counted_new(nghttpw_duration timeout)
{
	counted *k = calloc(1, sizeof(*k));

	cr_assert_not_null(k);
	cr_assert_eq(nghttpw_aio_alloc(&k->aio, counted_cb, k), 0);
	nghttpw_aio_set_timeout(k->aio, timeout);
	return (k);
}

/* Starts an operation on k's aio, watching for an inline callback. */
#define START(k, call)                        \
	do {                                      \
		(k)->starter = pthread_self();        \
		atomic_store(&(k)->inside, 1);        \
		call;                                 \
		atomic_store(&(k)->inside, 0);        \
	} while (0)

/* Waits for k's operation; its result.  The callback ran exactly once,
 * and not inline. */
static int
counted_wait(counted *k)
{
	nghttpw_aio_wait(k->aio);
	cr_assert_eq(atomic_load(&k->calls), 1, "%d callbacks",
	    atomic_load(&k->calls));
	cr_assert_eq(atomic_load(&k->inline_calls), 0);
	atomic_store(&k->calls, 0);
	return (nghttpw_aio_result(k->aio));
}

static void
counted_free(counted *k)
{
	nghttpw_aio_free(k->aio);
	free(k);
}

static bool
finished(counted *k)
{
	return (atomic_load(&k->calls) > 0);
}

static void
peer_send(nghttpw_stream *peer, const char *text)
{
	cr_assert_eq(send_all(peer, text, strlen(text), NULL), 0);
}

static void
peer_expect(nghttpw_stream *peer, const char *text)
{
	size_t len = strlen(text);
	char  *got = calloc(1, len + 1);

	cr_assert_eq(recv_all(peer, got, len, NULL), 0);
	cr_assert_str_eq(got, text);
	free(got);
}

#define BIG (8u << 20) /* too much for the socket buffers: stays pending */

Test(http_conn_queue, writes_of_every_kind_go_out_in_order)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	counted           *w[5];
	char              *big = malloc(BIG), *sink = malloc(BIG);
	nghttpw_iov        big_iov = { big, BIG }, raw_iov = { "raw!", 4 };

	for (int i = 0; i < 5; i++) {
		w[i] = counted_new(10000);
	}
	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_req_set_method(req, "POST");
	nghttpw_http_req_set_uri(req, "/upload");
	nghttpw_http_req_set_header(req, "Content-Length", "5");
	nghttpw_http_res_alloc(&res);
	nghttpw_http_res_copy_data(res, "ok", 2);
	fill_pattern(big, BIG, 4);

	nghttpw_aio_set_iov(w[0]->aio, 1, &big_iov);
	START(w[0], nghttpw_http_conn_write_all(c, w[0]->aio));
	START(w[1], nghttpw_http_conn_write_req(c, req, w[1]->aio));
	nghttpw_aio_set_iov(w[2]->aio, 1, &(nghttpw_iov) { "hello", 5 });
	START(w[2], nghttpw_http_conn_write_all(c, w[2]->aio));
	nghttpw_aio_set_iov(w[3]->aio, 1, &raw_iov);
	START(w[3], nghttpw_http_conn_write(c, w[3]->aio));
	START(w[4], nghttpw_http_conn_write_res(c, res, w[4]->aio));
	nghttpw_msleep(50);
	for (int i = 0; i < 5; i++) {
		cr_assert(!finished(w[i]), "write %d finished before its turn", i);
	}

	cr_assert_eq(recv_all(peer, sink, BIG, NULL), 0);
	cr_assert_eq(memcmp(big, sink, BIG), 0);
	peer_expect(peer,
	    "POST /upload HTTP/1.1\r\nContent-Length: 5\r\n\r\n"
	    "hello"
	    "raw!"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(counted_wait(w[i]), 0, "write %d", i);
	}
	cr_assert_eq(nghttpw_aio_count(w[0]->aio), BIG);
	cr_assert_eq(nghttpw_aio_count(w[2]->aio), 5);
	cr_assert_eq(nghttpw_aio_count(w[3]->aio), 4);

	for (int i = 0; i < 5; i++) {
		counted_free(w[i]);
	}
	free(big);
	free(sink);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn_queue, reads_of_every_kind_complete_in_order)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req1, *req2;
	nghttpw_http_res  *res;
	counted           *r[5];
	char               body[4] = { 0 }, some[8] = { 0 }, rest[3] = { 0 };

	for (int i = 0; i < 5; i++) {
		r[i] = counted_new(10000);
	}
	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req1, NULL);
	nghttpw_http_req_alloc(&req2, NULL);
	nghttpw_http_res_alloc(&res);

	/* All queued before a byte arrives. */
	START(r[0], nghttpw_http_conn_read_req(c, req1, r[0]->aio));
	nghttpw_aio_set_iov(r[1]->aio, 1, &(nghttpw_iov) { body, 3 });
	START(r[1], nghttpw_http_conn_read_all(c, r[1]->aio));
	START(r[2], nghttpw_http_conn_read_req(c, req2, r[2]->aio));
	nghttpw_aio_set_iov(r[3]->aio, 1, &(nghttpw_iov) { some, sizeof(some) });
	START(r[3], nghttpw_http_conn_read(c, r[3]->aio));
	START(r[4], nghttpw_http_conn_read_res(c, res, r[4]->aio));
	nghttpw_msleep(20);
	for (int i = 0; i < 5; i++) {
		cr_assert(!finished(r[i]), "read %d finished with nothing to read", i);
	}

	/* One send: most reads are served from the connection's buffer. */
	peer_send(peer,
	    "PUT /1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	    "GET /2 HTTP/1.1\r\n\r\n"
	    "xy");
	cr_assert_eq(counted_wait(r[0]), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req1), "/1");
	cr_assert_eq(counted_wait(r[1]), 0);
	cr_assert_str_eq(body, "abc");
	cr_assert_eq(counted_wait(r[2]), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req2), "/2");
	cr_assert_eq(counted_wait(r[3]), 0);
	cr_assert_str_eq(some, "xy");
	cr_assert(!finished(r[4]));
	peer_send(peer, "HTTP/1.1 204 No Content\r\n\r\n");
	cr_assert_eq(counted_wait(r[4]), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 204);

	/* The queue is empty again: a read starts at once. */
	nghttpw_aio_set_iov(r[3]->aio, 1, &(nghttpw_iov) { rest, 2 });
	peer_send(peer, "zz");
	START(r[3], nghttpw_http_conn_read_all(c, r[3]->aio));
	cr_assert_eq(counted_wait(r[3]), 0);
	cr_assert_str_eq(rest, "zz");

	for (int i = 0; i < 5; i++) {
		counted_free(r[i]);
	}
	nghttpw_http_req_free(req1);
	nghttpw_http_req_free(req2);
	nghttpw_http_res_free(res);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* A client that writes a request, then at once reads its response and
 * makes a transaction: the transaction's response is the second one. */
Test(http_conn_queue, transact_waits_for_the_write_and_read_before_it)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req1, *req2;
	nghttpw_http_res  *res1, *res2;
	counted           *w = counted_new(10000), *r = counted_new(10000);
	counted           *t = counted_new(10000);

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req1, NULL);
	nghttpw_http_req_alloc(&req2, NULL);
	nghttpw_http_req_set_uri(req1, "/first");
	nghttpw_http_req_set_uri(req2, "/second");
	nghttpw_http_res_alloc(&res1);
	nghttpw_http_res_alloc(&res2);

	START(w, nghttpw_http_conn_write_req(c, req1, w->aio));
	START(r, nghttpw_http_conn_read_res(c, res1, r->aio));
	START(t, nghttpw_http_conn_transact(c, req2, res2, t->aio));
	peer_expect(peer,
	    "GET /first HTTP/1.1\r\n\r\n"
	    "GET /second HTTP/1.1\r\n\r\n");
	cr_assert_eq(counted_wait(w), 0);
	peer_send(peer,
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	cr_assert_eq(counted_wait(r), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res1), 200);
	cr_assert_eq(counted_wait(t), 0);
	http_res_assert(res2, 201, "ok");

	counted_free(w);
	counted_free(r);
	counted_free(t);
	nghttpw_http_req_free(req1);
	nghttpw_http_req_free(req2);
	nghttpw_http_res_free(res1);
	nghttpw_http_res_free(res2);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn_queue, cancel_of_a_queued_operation_ends_only_it)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	counted           *r[3], *w[3];
	char               b0[3] = { 0 }, b2[3] = { 0 };
	char              *big = malloc(BIG), *sink = malloc(BIG);
	nghttpw_iov        big_iov = { big, BIG };

	for (int i = 0; i < 3; i++) {
		r[i] = counted_new(10000);
		w[i] = counted_new(10000);
	}
	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	fill_pattern(big, BIG, 5);

	nghttpw_aio_set_iov(r[0]->aio, 1, &(nghttpw_iov) { b0, 2 });
	START(r[0], nghttpw_http_conn_read_all(c, r[0]->aio));
	START(r[1], nghttpw_http_conn_read_req(c, req, r[1]->aio));
	nghttpw_aio_set_iov(r[2]->aio, 1, &(nghttpw_iov) { b2, 2 });
	START(r[2], nghttpw_http_conn_read_all(c, r[2]->aio));
	nghttpw_aio_set_iov(w[0]->aio, 1, &big_iov);
	START(w[0], nghttpw_http_conn_write_all(c, w[0]->aio));
	nghttpw_aio_set_iov(w[1]->aio, 1, &(nghttpw_iov) { "NOT SENT", 8 });
	START(w[1], nghttpw_http_conn_write_all(c, w[1]->aio));
	nghttpw_aio_set_iov(w[2]->aio, 1, &(nghttpw_iov) { "tail", 4 });
	START(w[2], nghttpw_http_conn_write_all(c, w[2]->aio));

	nghttpw_aio_cancel(r[1]->aio);
	nghttpw_aio_cancel(w[1]->aio);
	cr_assert_eq(counted_wait(r[1]), NGHTTPW_ECANCELED);
	cr_assert_eq(counted_wait(w[1]), NGHTTPW_ECANCELED);
	cr_assert_eq(nghttpw_aio_count(w[1]->aio), 0);
	cr_assert(!finished(r[0]) && !finished(r[2]) && !finished(w[0]) &&
	    !finished(w[2]));

	/* The others go on as if the canceled ones had never been. */
	peer_send(peer, "abcd");
	cr_assert_eq(counted_wait(r[0]), 0);
	cr_assert_eq(counted_wait(r[2]), 0);
	cr_assert_str_eq(b0, "ab");
	cr_assert_str_eq(b2, "cd");
	cr_assert_eq(recv_all(peer, sink, BIG, NULL), 0);
	cr_assert_eq(memcmp(big, sink, BIG), 0);
	peer_expect(peer, "tail");
	cr_assert_eq(counted_wait(w[0]), 0);
	cr_assert_eq(counted_wait(w[2]), 0);

	for (int i = 0; i < 3; i++) {
		counted_free(r[i]);
		counted_free(w[i]);
	}
	free(big);
	free(sink);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

/* The pending operation canceled (or timed out): it alone fails, and the
 * next queued one starts where it stopped. */
Test(http_conn_queue, cancel_of_the_pending_operation_starts_the_next)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	counted           *r0 = counted_new(60), *r1 = counted_new(10000);
	counted           *w0 = counted_new(10000), *w1 = counted_new(10000);
	char              *big = malloc(BIG), *sink = malloc(BIG);
	nghttpw_iov        big_iov = { big, BIG };
	char               b0[4];
	size_t             sent;

	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	fill_pattern(big, BIG, 6);

	/* A read that times out, with a request head read queued. */
	nghttpw_aio_set_iov(r0->aio, 1, &(nghttpw_iov) { b0, sizeof(b0) });
	START(r0, nghttpw_http_conn_read(c, r0->aio));
	START(r1, nghttpw_http_conn_read_req(c, req, r1->aio));
	cr_assert_eq(counted_wait(r0), NGHTTPW_ETIMEDOUT);
	cr_assert(!finished(r1));
	peer_send(peer, "GET /next HTTP/1.1\r\n\r\n");
	cr_assert_eq(counted_wait(r1), 0);
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/next");

	/* A write canceled part way: the next one follows its last byte. */
	nghttpw_aio_set_iov(w0->aio, 1, &big_iov);
	START(w0, nghttpw_http_conn_write_all(c, w0->aio));
	nghttpw_aio_set_iov(w1->aio, 1, &(nghttpw_iov) { "next", 4 });
	START(w1, nghttpw_http_conn_write_all(c, w1->aio));
	nghttpw_aio_cancel(w0->aio);
	cr_assert_eq(counted_wait(w0), NGHTTPW_ECANCELED);
	sent = nghttpw_aio_count(w0->aio);
	cr_assert_lt(sent, BIG);
	cr_assert_eq(recv_all(peer, sink, sent, NULL), 0);
	cr_assert_eq(memcmp(big, sink, sent), 0);
	peer_expect(peer, "next");
	cr_assert_eq(counted_wait(w1), 0);

	counted_free(r0);
	counted_free(r1);
	counted_free(w0);
	counted_free(w1);
	free(big);
	free(sink);
	nghttpw_http_req_free(req);
	nghttpw_http_conn_close(c);
	nghttpw_stream_free(peer);
}

Test(http_conn_queue, close_ends_every_queued_operation)
{
	nghttpw_http_conn *c;
	nghttpw_stream    *peer;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	counted           *k[8];
	char               buf[4];
	char              *big = malloc(BIG);
	nghttpw_iov        big_iov = { big, BIG };

	for (int i = 0; i < 8; i++) {
		k[i] = counted_new(10000);
	}
	conn_pair(&c, &peer);
	nghttpw_http_req_alloc(&req, NULL);
	nghttpw_http_res_alloc(&res);
	memset(big, 'x', BIG);

	nghttpw_aio_set_iov(k[0]->aio, 1, &(nghttpw_iov) { buf, sizeof(buf) });
	START(k[0], nghttpw_http_conn_read(c, k[0]->aio));
	START(k[1], nghttpw_http_conn_read_req(c, req, k[1]->aio));
	nghttpw_aio_set_iov(k[2]->aio, 1, &(nghttpw_iov) { buf, sizeof(buf) });
	START(k[2], nghttpw_http_conn_read_all(c, k[2]->aio));
	START(k[3], nghttpw_http_conn_read_res(c, res, k[3]->aio));
	nghttpw_aio_set_iov(k[4]->aio, 1, &big_iov);
	START(k[4], nghttpw_http_conn_write_all(c, k[4]->aio));
	START(k[5], nghttpw_http_conn_write_req(c, req, k[5]->aio));
	START(k[6], nghttpw_http_conn_transact(c, req, res, k[6]->aio));
	nghttpw_aio_set_iov(k[7]->aio, 1, &(nghttpw_iov) { "late", 4 });
	START(k[7], nghttpw_http_conn_write(c, k[7]->aio));
	nghttpw_msleep(20);
	for (int i = 0; i < 8; i++) {
		cr_assert(!finished(k[i]), "operation %d finished early", i);
	}

	nghttpw_http_conn_close(c);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(counted_wait(k[i]), NGHTTPW_ECLOSED, "operation %d", i);
	}
	for (int i = 0; i < 8; i++) {
		counted_free(k[i]);
	}
	free(big);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_stream_free(peer);
}

/* Races: a pending and queued operations on both sides, with tiny
 * timeouts, cancels, bytes arriving and the close all at once.  Every
 * operation completes exactly once, never inline, with a result that
 * fits what happened to it. */
Test(http_conn_queue, stress_cancel_timeout_close_with_queued, .timeout = 240)
{
	unsigned seed = 31;
	char    *big  = malloc(1u << 20);
	/* How often each outcome came: each must, or the races ran dry. */
	int ok = 0, canceled = 0, timed_out = 0, closed = 0;

	memset(big, 'y', 1u << 20);
	for (int round = 0; round < 400; round++) {
		nghttpw_http_conn *c;
		nghttpw_stream    *peer;
		nghttpw_http_req  *req, *treq;
		nghttpw_http_res  *res, *tres;
		counted           *k[8];
		char               b0[8], b2[4];
		int                rv;

		conn_pair(&c, &peer);
		nghttpw_http_req_alloc(&req, NULL);
		nghttpw_http_req_alloc(&treq, NULL);
		nghttpw_http_res_alloc(&res);
		nghttpw_http_res_alloc(&tres);
		for (int i = 0; i < 8; i++) {
			/* Infinite, zero, or a few milliseconds. */
			unsigned t = rand_r(&seed) % 5;
			k[i] = counted_new(t == 0 ? NGHTTPW_DURATION_INFINITE
			                          : (nghttpw_duration) (t - 1));
		}
		if (rand_r(&seed) % 2) {
			peer_send(peer, "GET /a HTTP/1.1\r\n\r\nxyzw");
		}
		nghttpw_aio_set_iov(k[0]->aio, 1, &(nghttpw_iov) { b0, sizeof(b0) });
		START(k[0], nghttpw_http_conn_read(c, k[0]->aio));
		START(k[1], nghttpw_http_conn_read_req(c, req, k[1]->aio));
		nghttpw_aio_set_iov(k[2]->aio, 1, &(nghttpw_iov) { b2, sizeof(b2) });
		START(k[2], nghttpw_http_conn_read_all(c, k[2]->aio));
		START(k[3], nghttpw_http_conn_read_res(c, res, k[3]->aio));
		nghttpw_aio_set_iov(k[4]->aio, 1,
		    &(nghttpw_iov) { big, (rand_r(&seed) % 2) ? 1u << 20 : 16 });
		START(k[4], nghttpw_http_conn_write_all(c, k[4]->aio));
		START(k[5], nghttpw_http_conn_write_req(c, treq, k[5]->aio));
		START(k[6], nghttpw_http_conn_transact(c, treq, tres, k[6]->aio));
		nghttpw_aio_set_iov(k[7]->aio, 1, &(nghttpw_iov) { "late", 4 });
		START(k[7], nghttpw_http_conn_write(c, k[7]->aio));
		for (int i = 0; i < 8; i++) {
			if (rand_r(&seed) % 4 == 0) {
				nghttpw_aio_cancel(k[i]->aio);
			}
		}
		if (rand_r(&seed) % 2) {
			peer_send(peer, "GET /b HTTP/1.1\r\n\r\n");
		}
		if (rand_r(&seed) % 2) {
			nghttpw_msleep((nghttpw_duration) (rand_r(&seed) % 3));
		}
		nghttpw_http_conn_close(c);
		for (int i = 0; i < 8; i++) {
			rv = counted_wait(k[i]);
			cr_assert(rv == 0 || rv == NGHTTPW_ECANCELED ||
			        rv == NGHTTPW_ETIMEDOUT || rv == NGHTTPW_ECLOSED ||
			        rv == NGHTTPW_ECONNRESET || rv == NGHTTPW_EPROTO,
			    "round %d, operation %d: %s", round, i,
			    nghttpw_strerror(rv));
			ok += rv == 0;
			canceled += rv == NGHTTPW_ECANCELED;
			timed_out += rv == NGHTTPW_ETIMEDOUT;
			closed += rv == NGHTTPW_ECLOSED;
			counted_free(k[i]);
		}
		nghttpw_http_req_free(req);
		nghttpw_http_req_free(treq);
		nghttpw_http_res_free(res);
		nghttpw_http_res_free(tres);
		nghttpw_stream_free(peer);
	}
	cr_log_info("ok %d, canceled %d, timed out %d, closed %d", ok, canceled,
	    timed_out, closed);
	cr_assert(ok > 0 && canceled > 0 && timed_out > 0 && closed > 0);
	free(big);
}
