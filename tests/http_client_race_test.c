/* The client's operations end and are cancelled from many threads at
 * once, against our own server on loopback: the client keeps each
 * finished operation (and its aio) for the next one, handing it back
 * before it finishes the caller's aio, so cancels racing completions,
 * callbacks that start the next exchange, several poller threads and a
 * client freed as soon as its last aio is done must all still give a
 * whole response or a clean error, with nothing used after it is freed
 * (the sanitizer builds watch that). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/http.h"

#define BODY "hi there"
#define WORKERS 4
#define CHAINS 4

/* More poller threads than CPUs, so that completions and callbacks of
 * one client really run side by side. */
static void
more_pollers(void)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 4);
}

TestSuite(http_client_race, .init = more_pollers, .timeout = 120);

static nghttpw_http_server *
server_start(char *url, size_t len)
{
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_url          *u;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&u, "http://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, u), 0);
	nghttpw_url_free(u);
	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/hello", BODY, strlen(BODY), "text/plain"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	snprintf(url, len, "http://127.0.0.1:%u/hello", ntohs(sa.s_in.sa_port));
	return (s);
}

static void
server_stop(nghttpw_http_server *s)
{
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

/* A whole answer, or when the exchange was cancelled or had a short
 * timeout, one of the errors that gives. */
static bool
outcome_ok(int rv, nghttpw_http_res *res, bool may_fail)
{
	void  *data;
	size_t size;

	if (rv != 0) {
		return (may_fail &&
		    (rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT));
	}
	nghttpw_http_res_get_data(res, &data, &size);
	return (nghttpw_http_res_get_status(res) == 200 &&
	    size == strlen(BODY) && memcmp(data, BODY, size) == 0);
}

/* Spins for up to about n microseconds' worth of loop turns. */
static void
spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n * 50; i++) {
	}
}

typedef struct {
	nghttpw_http_client *c;
	unsigned             seed;
	int                  rounds;
	atomic_int          *bad;
	atomic_int          *answered;
} worker;

/* Exchanges one after another, most cancelled at a random moment (before
 * the dial, in the middle of the exchange, or after its end), some with a
 * timeout of 0 or 1 ms; every third one streamed, its body read or not
 * before the connection goes back. */
static void *
worker_main(void *arg)
{
	worker           *w = arg;
	nghttpw_aio      *aio;
	nghttpw_aio      *bio;
	nghttpw_http_req *req;
	nghttpw_http_res *res;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&bio, NULL, NULL), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, "/hello"), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	for (int i = 0; i < w->rounds; i++) {
		unsigned r             = (unsigned) rand_r(&w->seed);
		bool     stream        = r % 3 == 0;
		bool     short_timeout = r % 7 == 0;
		bool     cancel        = r % 4 != 0;
		int      rv;

		/* Exchanges neither cancelled nor short of time must succeed:
		 * a cancel that reached another thread's exchange through a
		 * reused op would fail one of them. */
		nghttpw_aio_set_timeout(aio, short_timeout ? (int) (r / 7 % 2) : 5000);
		nghttpw_http_res_reset(res);
		if (stream) {
			nghttpw_http_client_transact_stream(w->c, req, res, aio);
		} else {
			nghttpw_http_client_transact(w->c, req, res, aio);
		}
		if (cancel) {
			spin(r / 4 % 200);
			nghttpw_aio_cancel(aio);
		}
		nghttpw_aio_wait(aio);
		rv = nghttpw_aio_result(aio);
		if (stream && rv == 0) {
			nghttpw_http_conn *conn = nghttpw_aio_get_output(aio, 0);
			char               buf[64];
			nghttpw_iov        iov = { buf, sizeof(buf) };
			if (r % 2 == 0) {
				nghttpw_aio_set_iov(bio, 1, &iov);
				nghttpw_aio_set_timeout(bio, 5000);
				nghttpw_http_conn_read_body(conn, bio);
				nghttpw_aio_wait(bio);
			}
			nghttpw_http_client_release_conn(w->c, conn);
			if (nghttpw_http_res_get_status(res) != 200) {
				atomic_fetch_add(w->bad, 1);
			}
		} else if (!outcome_ok(rv, res, cancel || short_timeout)) {
			atomic_fetch_add(w->bad, 1);
		}
		if (rv == 0) {
			atomic_fetch_add(w->answered, 1);
		}
	}
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(bio);
	nghttpw_aio_free(aio);
	return (NULL);
}

Test(http_client_race, cancels_racing_completions_from_many_threads)
{
	char                 url_s[64];
	nghttpw_http_server *s = server_start(url_s, sizeof(url_s));
	nghttpw_url         *url;
	nghttpw_http_client *c;
	pthread_t            thr[WORKERS];
	worker               w[WORKERS];
	atomic_int           bad = 0, answered = 0;

	cr_assert_eq(nghttpw_url_parse(&url, url_s), 0);
	cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (worker) { c, 17u * (unsigned) i + 1, 1000, &bad, &answered };
		cr_assert_eq(pthread_create(&thr[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(thr[i], NULL);
	}
	cr_assert_eq(atomic_load(&bad), 0);
	/* The cancels leave some exchanges whole. */
	cr_assert_gt(atomic_load(&answered), 0);
	nghttpw_http_client_free(c);
	nghttpw_url_free(url);
	server_stop(s);
}

/* Exchanges each started again from its own callback, as a load
 * generator does; the client is freed as soon as the last aio is done,
 * which must not find an operation still on its way back. */
typedef struct {
	nghttpw_http_client *c;
	nghttpw_aio         *aio;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	atomic_int           left;
	atomic_int           bad;
} chain;

static void
chain_cb(void *arg)
{
	chain *ch = arg;

	if (!outcome_ok(nghttpw_aio_result(ch->aio), ch->res, false)) {
		atomic_fetch_add(&ch->bad, 1);
	}
	if (atomic_fetch_sub(&ch->left, 1) > 1) {
		nghttpw_http_res_reset(ch->res);
		nghttpw_http_client_transact(ch->c, ch->req, ch->res, ch->aio);
	}
}

Test(http_client_race, chained_exchanges_then_free_at_once)
{
	char                 url_s[64];
	nghttpw_http_server *s = server_start(url_s, sizeof(url_s));
	nghttpw_url         *url;

	cr_assert_eq(nghttpw_url_parse(&url, url_s), 0);
	for (int round = 0; round < 30; round++) {
		nghttpw_http_client *c;
		chain                ch[CHAINS];

		cr_assert_eq(nghttpw_http_client_alloc(&c, url), 0);
		for (int i = 0; i < CHAINS; i++) {
			ch[i].c = c;
			atomic_init(&ch[i].left, 1 + (round + i) % 5);
			atomic_init(&ch[i].bad, 0);
			cr_assert_eq(nghttpw_aio_alloc(&ch[i].aio, chain_cb, &ch[i]), 0);
			nghttpw_aio_set_timeout(ch[i].aio, 5000);
			cr_assert_eq(nghttpw_http_req_alloc(&ch[i].req, url), 0);
			cr_assert_eq(nghttpw_http_res_alloc(&ch[i].res), 0);
			nghttpw_http_client_transact(c, ch[i].req, ch[i].res, ch[i].aio);
		}
		for (int i = 0; i < CHAINS; i++) {
			/* The callback's last exchange is done once the aio is
			 * idle and no exchange is left to start. */
			while (atomic_load(&ch[i].left) > 0 ||
			    nghttpw_aio_busy(ch[i].aio)) {
				nghttpw_aio_wait(ch[i].aio);
			}
		}
		nghttpw_http_client_free(c);
		for (int i = 0; i < CHAINS; i++) {
			cr_assert_eq(atomic_load(&ch[i].bad), 0, "round %d", round);
			nghttpw_aio_free(ch[i].aio);
			nghttpw_http_req_free(ch[i].req);
			nghttpw_http_res_free(ch[i].res);
		}
	}
	nghttpw_url_free(url);
	server_stop(s);
}
