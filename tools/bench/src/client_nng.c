/*
 * client_nng: nng 1.5's HTTP client doing the same work as client_nghttpw
 * conn mode: K connections (nng_http_client_connect), each running
 * nng_http_conn_transact again from its completion callback, for SECONDS.
 * (nng 1.5's nng_http_client_transact dials a new connection for every
 * exchange, so it is not a keep-alive client.)
 *
 *   client_nng URL K SECONDS
 *
 * Prints: "requests seconds req_per_s errors".
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>

typedef struct op {
	nng_aio       *aio;
	nng_http_req  *req;
	nng_http_res  *res;
	nng_http_conn *conn;
} op;

static atomic_bool   stop;
static atomic_ullong done, errors;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
op_cb(void *arg)
{
	op *o = arg;

	if (nng_aio_result(o->aio) != 0 || nng_http_res_get_status(o->res) != 200) {
		atomic_fetch_add(&errors, 1);
		return;
	}
	atomic_fetch_add(&done, 1);
	if (!atomic_load(&stop)) {
		nng_http_res_reset(o->res);
		nng_http_conn_transact(o->conn, o->req, o->res, o->aio);
	}
}

int
main(int argc, char **argv)
{
	nng_url         *url;
	nng_http_client *client;
	op              *ops;
	int              k, rv;
	double           secs, t0, t1;

	if (argc != 4) {
		fprintf(stderr, "usage: client_nng URL K SECONDS\n");
		return 2;
	}
	k    = atoi(argv[2]);
	secs = atof(argv[3]);
	if ((rv = nng_url_parse(&url, argv[1])) != 0 ||
	    (rv = nng_http_client_alloc(&client, url)) != 0) {
		fprintf(stderr, "client_nng: %s\n", nng_strerror(rv));
		return 1;
	}
	ops = calloc((size_t) k, sizeof(*ops));
	for (int i = 0; i < k; i++) {
		nng_aio *a;
		if ((rv = nng_aio_alloc(&ops[i].aio, op_cb, &ops[i])) != 0 ||
		    (rv = nng_http_req_alloc(&ops[i].req, url)) != 0 ||
		    (rv = nng_http_res_alloc(&ops[i].res)) != 0 ||
		    (rv = nng_aio_alloc(&a, NULL, NULL)) != 0) {
			fprintf(stderr, "client_nng: %s\n", nng_strerror(rv));
			return 1;
		}
		nng_http_client_connect(client, a);
		nng_aio_wait(a);
		if ((rv = nng_aio_result(a)) != 0) {
			fprintf(stderr, "client_nng: connect: %s\n", nng_strerror(rv));
			return 1;
		}
		ops[i].conn = nng_aio_get_output(a, 0);
		nng_aio_free(a);
	}
	t0 = now_s();
	for (int i = 0; i < k; i++) {
		nng_http_conn_transact(ops[i].conn, ops[i].req, ops[i].res, ops[i].aio);
	}
	nng_msleep((nng_duration) (secs * 1000));
	atomic_store(&stop, true);
	t1 = now_s();
	unsigned long long n = atomic_load(&done);
	for (int i = 0; i < k; i++) {
		nng_aio_wait(ops[i].aio);
	}
	printf("%llu %.3f %.0f %llu\n", n, t1 - t0, (double) n / (t1 - t0),
	    (unsigned long long) atomic_load(&errors));
	for (int i = 0; i < k; i++) {
		nng_aio_free(ops[i].aio);
		nng_http_req_free(ops[i].req);
		nng_http_res_free(ops[i].res);
		nng_http_conn_close(ops[i].conn);
	}
	nng_http_client_free(client);
	nng_url_free(url);
	return 0;
}
