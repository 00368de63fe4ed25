/*
 * client_nghttpw: K exchanges in flight against URL for SECONDS, each
 * started again from its completion callback.
 *
 *   client_nghttpw client URL K SECONDS   nghttpw_http_client_transact
 *                                         (the client's keep-alive pool)
 *   client_nghttpw conn   URL K SECONDS   K connections from
 *                                         nghttpw_http_client_connect,
 *                                         nghttpw_http_conn_transact on each
 *
 * One poller thread.  Prints: "requests seconds req_per_s errors".
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

typedef struct op {
	nghttpw_aio       *aio;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_http_conn *conn; /* conn mode */
} op;

static nghttpw_http_client *client;
static atomic_bool          stop;
static atomic_ullong        done, errors;
static bool                 conn_mode;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
start(op *o)
{
	nghttpw_http_res_reset(o->res);
	if (conn_mode) {
		nghttpw_http_conn_transact(o->conn, o->req, o->res, o->aio);
	} else {
		nghttpw_http_client_transact(client, o->req, o->res, o->aio);
	}
}

static void
op_cb(void *arg)
{
	op *o = arg;

	if (nghttpw_aio_result(o->aio) != 0 ||
	    nghttpw_http_res_get_status(o->res) != 200) {
		atomic_fetch_add(&errors, 1);
		if (conn_mode) {
			return; /* that connection is done */
		}
	} else {
		atomic_fetch_add(&done, 1);
	}
	if (!atomic_load(&stop)) {
		start(o);
	}
}

int
main(int argc, char **argv)
{
	nghttpw_url *url;
	op          *ops;
	int          k, rv;
	double       secs, t0, t1;

	if (argc != 5) {
		fprintf(stderr, "usage: client_nghttpw client|conn URL K SECONDS\n");
		return 2;
	}
	conn_mode = strcmp(argv[1], "conn") == 0;
	k         = atoi(argv[3]);
	secs      = atof(argv[4]);
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 1);
	if ((rv = nghttpw_url_parse(&url, argv[2])) != 0 ||
	    (rv = nghttpw_http_client_alloc(&client, url)) != 0) {
		fprintf(stderr, "client_nghttpw: %s\n", nghttpw_strerror(rv));
		return 1;
	}
	ops = calloc((size_t) k, sizeof(*ops));
	for (int i = 0; i < k; i++) {
		if ((rv = nghttpw_aio_alloc(&ops[i].aio, op_cb, &ops[i])) != 0 ||
		    (rv = nghttpw_http_req_alloc(&ops[i].req, url)) != 0 ||
		    (rv = nghttpw_http_res_alloc(&ops[i].res)) != 0) {
			fprintf(stderr, "client_nghttpw: %s\n", nghttpw_strerror(rv));
			return 1;
		}
		if (conn_mode) {
			nghttpw_aio *a;
			nghttpw_aio_alloc(&a, NULL, NULL);
			nghttpw_http_client_connect(client, a);
			nghttpw_aio_wait(a);
			if ((rv = nghttpw_aio_result(a)) != 0) {
				fprintf(stderr, "client_nghttpw: connect: %s\n",
				    nghttpw_strerror(rv));
				return 1;
			}
			ops[i].conn = nghttpw_aio_get_output(a, 0);
			nghttpw_aio_free(a);
		}
	}
	t0 = now_s();
	for (int i = 0; i < k; i++) {
		start(&ops[i]);
	}
	nghttpw_msleep((nghttpw_duration) (secs * 1000));
	atomic_store(&stop, true);
	t1 = now_s();
	unsigned long long n = atomic_load(&done);
	for (int i = 0; i < k; i++) {
		nghttpw_aio_wait(ops[i].aio);
	}
	printf("%llu %.3f %.0f %llu\n", n, t1 - t0, (double) n / (t1 - t0),
	    (unsigned long long) atomic_load(&errors));
	for (int i = 0; i < k; i++) {
		nghttpw_aio_free(ops[i].aio);
		nghttpw_http_req_free(ops[i].req);
		nghttpw_http_res_free(ops[i].res);
		if (ops[i].conn != NULL) {
			nghttpw_http_conn_close(ops[i].conn);
		}
	}
	nghttpw_http_client_free(client);
	nghttpw_url_free(url);
	nghttpw_fini();
	return 0;
}
