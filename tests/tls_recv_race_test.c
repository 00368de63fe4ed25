/* TLS receives that time out, or take a few bytes at a time, while records
 * keep arriving: not a byte may be lost, doubled or reordered.  (A receive
 * of the record layer left running across a timed-out read, and the read
 * buffer reset under it, once fed mbedTLS stale bytes: "bad record MAC"
 * under load, with the HTTP server's 50 ms idle read.) */
#ifdef NGHTTPW_HAVE_TLS

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/pairs.h"
#include "support/tls_certs.h"
#include "support/tls_endpoints.h"

#define TOTAL (2u << 20) /* bytes the writer sends */
#define ROUNDS 3

TestSuite(tls_recv_race, .timeout = 120);

typedef struct {
	nghttpw_stream *s;
	const char     *data;
	int             rv;
} writer;

/* Sends the data in pieces of 1 to 3000 bytes (a record or two each). */
static void *
writer_main(void *arg)
{
	writer      *w   = arg;
	nghttpw_aio *aio;
	size_t       off = 0;
	unsigned     seed = 7;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	while (off < TOTAL && w->rv == 0) {
		size_t      n   = 1 + rand_r(&seed) % 3000;
		nghttpw_iov iov = { (void *) (w->data + off), n < TOTAL - off ? n : TOTAL - off };
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_stream_send(w->s, aio);
		nghttpw_aio_wait(aio);
		w->rv = nghttpw_aio_result(aio);
		off += nghttpw_aio_count(aio);
	}
	nghttpw_aio_free(aio);
	return (NULL);
}

/* Reads everything in pieces of 1 to 200 bytes, each read with a timeout
 * of 0 to 2 ms, so that many end with NGHTTPW_ETIMEDOUT while records
 * are on their way; checks every byte. */
static void
read_all_racing(nghttpw_stream *s, const char *want, unsigned seed)
{
	char        *got = malloc(TOTAL);
	nghttpw_aio *aio;
	size_t       off = 0;
	unsigned     timeouts = 0;

	cr_assert_not_null(got);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	while (off < TOTAL) {
		size_t      n   = 1 + rand_r(&seed) % 200;
		nghttpw_iov iov = { got + off, n < TOTAL - off ? n : TOTAL - off };
		int         rv;
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_aio_set_timeout(aio, (nghttpw_duration) (rand_r(&seed) % 3));
		nghttpw_stream_recv(s, aio);
		nghttpw_aio_wait(aio);
		rv = nghttpw_aio_result(aio);
		if (rv == NGHTTPW_ETIMEDOUT) {
			timeouts++;
			continue;
		}
		cr_assert_eq(rv, 0, "recv at %zu: %s", off, nghttpw_strerror(rv));
		cr_assert_gt(nghttpw_aio_count(aio), 0);
		cr_assert(memcmp(got + off, want + off, nghttpw_aio_count(aio)) == 0,
		    "bytes differ at %zu", off);
		off += nghttpw_aio_count(aio);
	}
	cr_assert_gt(timeouts, 0, "no read timed out: the race was not run");
	nghttpw_aio_free(aio);
	free(got);
}

Test(tls_recv_race, timed_out_and_small_reads_lose_no_byte)
{
	const tls_test_certs    *c = tls_test_certs_get();
	nghttpw_tls_config      *scfg, *ccfg;
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	char                    *data = malloc(TOTAL);
	int                      port;

	cr_assert_not_null(c, "making the test certificates failed");
	cr_assert_not_null(data);
	fill_pattern(data, TOTAL, 3);
	cr_assert_eq(nghttpw_tls_config_alloc(&scfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(scfg, c->server_cert, c->server_key, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_alloc(&ccfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(ccfg, c->ca_cert, NULL), 0);
	l = tls_test_listen("tls+tcp", "127.0.0.1", scfg, false, &port);
	d = tls_test_dialer("tls+tcp", "localhost", port, ccfg);
	for (unsigned round = 0; round < ROUNDS; round++) {
		nghttpw_stream *cs, *ss;
		int             crv, srv;
		pthread_t       thr;
		writer          w = { 0 };

		tls_test_connect(l, d, &cs, &crv, &ss, &srv);
		cr_assert_eq(crv, 0, "dial: %s", nghttpw_strerror(crv));
		cr_assert_eq(srv, 0, "accept: %s", nghttpw_strerror(srv));
		w.s    = cs;
		w.data = data;
		cr_assert_eq(pthread_create(&thr, NULL, writer_main, &w), 0);
		read_all_racing(ss, data, round + 1);
		pthread_join(thr, NULL);
		cr_assert_eq(w.rv, 0, "send: %s", nghttpw_strerror(w.rv));
		nghttpw_stream_free(cs);
		nghttpw_stream_free(ss);
	}
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(scfg);
	nghttpw_tls_config_free(ccfg);
	free(data);
}

#endif /* NGHTTPW_HAVE_TLS */
