/*
 * soak: a load client for HTTP servers, on nghttpw's connection API.
 *
 *   soak [-c CONNS] [-n REQUESTS] [-T SECONDS] [-t THREADS] [-v] URL
 *
 * Opens CONNS keep-alive connections (default 256) to the http:// URL and
 * sends REQUESTS GET requests in all (default 1000000) over them, each
 * connection one request at a time (nghttpw_http_conn_transact), until
 * they are all done.  A request counts as done when it is answered 200
 * with a body of the size of the first such answer; anything else (a
 * failed dial, a failed exchange, another status or size) is an error.
 * A connection the server closes is dialled again.
 *
 * Prints one line at the end:
 *   requests=N errors=E elapsed=S rate=R
 * (with -v, progress every 10 s on standard error).  Exits 0 when every
 * request was done without error, 1 otherwise, 2 on bad arguments.
 *
 * Bounded: every exchange has 30 s, the whole run SECONDS (default 3600),
 * and the run gives up after 1000 errors.  Not built by CMake: the script
 * tools/soak/run builds it against build/soak.  Only the public API is
 * used.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

#define PROG "soak"
#define EXCHANGE_MS 30000
#define DIAL_MS 10000
#define REDIAL_PAUSE_MS 100
#define MAX_ERRORS 1000
#define MAX_CONNS 100000

typedef struct soak soak;

typedef enum {
	SC_DIAL,  /* aio: dialling */
	SC_PAUSE, /* aio: a pause before dialling again */
	SC_XACT,  /* aio: a request and its response */
	SC_DONE,
} sc_state;

typedef struct {
	soak              *sk;
	nghttpw_aio       *aio;
	nghttpw_http_conn *conn;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	sc_state           state;
} sconn;

struct soak {
	nghttpw_url           *url;
	nghttpw_stream_dialer *dialer;
	uint64_t               total;
	atomic_uint_fast64_t   issued; /* tickets: one per request */
	atomic_uint_fast64_t   ok;
	atomic_uint_fast64_t   errors;
	atomic_uint_fast64_t   redials;
	atomic_int_fast64_t    body_size; /* of the first 200; -1 until then */
	atomic_bool            stop;
	atomic_int             first_err; /* the first error code seen */
	pthread_mutex_t        mtx;
	pthread_cond_t         cv;
	int                    active; /* connections not yet SC_DONE */
};

static void sconn_next(sconn *c);

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-c CONNS] [-n REQUESTS] [-T SECONDS] [-t THREADS] "
	    "[-v] URL\n"
	    "\n"
	    "Sends REQUESTS GET requests to the http:// URL over CONNS keep-alive\n"
	    "connections and prints requests=N errors=E elapsed=S rate=R.\n"
	    "\n"
	    "  -c CONNS     connections (default 256)\n"
	    "  -n REQUESTS  requests in all (default 1000000)\n"
	    "  -T SECONDS   give up after this long (default 3600)\n"
	    "  -t THREADS   nghttpw I/O threads (default: the library's)\n"
	    "  -v           progress on standard error every 10 s\n");
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec / 1e9);
}

static void
note_error(soak *sk, int code)
{
	int none = 0;

	(void) atomic_compare_exchange_strong(&sk->first_err, &none, code);
	if (atomic_fetch_add(&sk->errors, 1) + 1 >= MAX_ERRORS) {
		atomic_store(&sk->stop, true);
	}
}

static void
sconn_finish(sconn *c)
{
	soak *sk = c->sk;

	c->state = SC_DONE;
	if (c->conn != NULL) {
		nghttpw_http_conn_close(c->conn);
		c->conn = NULL;
	}
	pthread_mutex_lock(&sk->mtx);
	if (--sk->active == 0) {
		pthread_cond_broadcast(&sk->cv);
	}
	pthread_mutex_unlock(&sk->mtx);
}

static void
sconn_dial(sconn *c)
{
	c->state = SC_DIAL;
	nghttpw_aio_set_timeout(c->aio, DIAL_MS);
	nghttpw_stream_dialer_dial(c->sk->dialer, c->aio);
}

/* Checks an answer: 200, with the body size of the first one. */
static bool
answer_ok(soak *sk, nghttpw_http_res *res)
{
	void   *body;
	size_t  size;
	int64_t want = -1;

	if (nghttpw_http_res_get_status(res) != 200) {
		return (false);
	}
	nghttpw_http_res_get_data(res, &body, &size);
	if (atomic_compare_exchange_strong(&sk->body_size, &want, (int64_t) size)) {
		return (true);
	}
	return (want == (int64_t) size);
}

static void
sconn_cb(void *arg)
{
	sconn *c  = arg;
	soak  *sk = c->sk;
	int    rv = nghttpw_aio_result(c->aio);

	switch (c->state) {
	case SC_DIAL:
		if (rv != 0) {
			note_error(sk, rv);
			c->state = SC_PAUSE;
			nghttpw_aio_set_timeout(c->aio, NGHTTPW_DURATION_INFINITE);
			nghttpw_sleep_aio(REDIAL_PAUSE_MS, c->aio);
			return;
		}
		if ((rv = nghttpw_http_conn_alloc(
		         &c->conn, nghttpw_aio_get_output(c->aio, 0))) != 0) {
			nghttpw_stream_free(nghttpw_aio_get_output(c->aio, 0));
			c->conn = NULL;
			note_error(sk, rv);
			sconn_finish(c);
			return;
		}
		break;
	case SC_PAUSE:
		if (atomic_load(&sk->stop)) {
			sconn_finish(c);
		} else {
			sconn_dial(c);
		}
		return;
	case SC_XACT:
		if (rv == 0 && answer_ok(sk, c->res)) {
			atomic_fetch_add(&sk->ok, 1);
		} else {
			note_error(sk, rv != 0 ? rv : NGHTTPW_EPROTO);
		}
		if (rv != 0 || nghttpw_http_conn_must_close(c->conn)) {
			nghttpw_http_conn_close(c->conn);
			c->conn = NULL;
			atomic_fetch_add(&sk->redials, 1);
		}
		break;
	default:
		return;
	}
	sconn_next(c);
}

/* The next request on c (dialling first if it has no connection), or the
 * end of c when every request has been handed out. */
static void
sconn_next(sconn *c)
{
	soak *sk = c->sk;

	if (atomic_load(&sk->stop) ||
	    atomic_load(&sk->issued) >= sk->total) {
		sconn_finish(c);
		return;
	}
	if (c->conn == NULL) {
		sconn_dial(c);
		return;
	}
	if (atomic_fetch_add(&sk->issued, 1) >= sk->total) {
		sconn_finish(c);
		return;
	}
	c->state = SC_XACT;
	nghttpw_aio_set_timeout(c->aio, EXCHANGE_MS);
	nghttpw_http_conn_transact(c->conn, c->req, c->res, c->aio);
}

static long
parse_num(const char *opt, const char *s, long min, long max)
{
	char *end;
	long  v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, PROG ": %s: '%s' is not a number from %ld to %ld\n",
		    opt, s, min, max);
		exit(2);
	}
	return (v);
}

int
main(int argc, char **argv)
{
	soak    sk;
	sconn  *conns;
	long    nconns = 256, total = 1000000, limit_s = 3600, threads = 0;
	bool    verbose = false;
	double  start, elapsed, next_report;
	int     opt, rv;
	uint64_t ok, errors;

	while ((opt = getopt(argc, argv, "c:n:T:t:vh")) != -1) {
		switch (opt) {
		case 'c':
			nconns = parse_num("-c", optarg, 1, MAX_CONNS);
			break;
		case 'n':
			total = parse_num("-n", optarg, 1, 1000000000L);
			break;
		case 'T':
			limit_s = parse_num("-T", optarg, 1, 86400 * 7);
			break;
		case 't':
			threads = parse_num("-t", optarg, 1, 256);
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	if (threads > 0) {
		nghttpw_init_set_parameter(
		    NGHTTPW_INIT_NUM_POLLER_THREADS, (uint64_t) threads);
	}

	memset(&sk, 0, sizeof(sk));
	if ((rv = nghttpw_url_parse(&sk.url, argv[optind])) != 0 ||
	    strcmp(sk.url->u_scheme, "http") != 0) {
		fprintf(stderr, PROG ": '%s' is not an http:// URL\n", argv[optind]);
		return (2);
	}
	if ((rv = nghttpw_stream_dialer_alloc_url(&sk.dialer, sk.url)) != 0) {
		fprintf(stderr, PROG ": dialer: %s\n", nghttpw_strerror(rv));
		return (1);
	}
	sk.total = (uint64_t) total;
	atomic_init(&sk.issued, 0);
	atomic_init(&sk.ok, 0);
	atomic_init(&sk.errors, 0);
	atomic_init(&sk.redials, 0);
	atomic_init(&sk.body_size, -1);
	atomic_init(&sk.stop, false);
	atomic_init(&sk.first_err, 0);
	pthread_mutex_init(&sk.mtx, NULL);
	pthread_cond_init(&sk.cv, NULL);

	if ((conns = calloc((size_t) nconns, sizeof(*conns))) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return (1);
	}
	for (long i = 0; i < nconns; i++) {
		sconn *c = &conns[i];
		c->sk    = &sk;
		if ((rv = nghttpw_aio_alloc(&c->aio, sconn_cb, c)) != 0 ||
		    (rv = nghttpw_http_req_alloc(&c->req, sk.url)) != 0 ||
		    (rv = nghttpw_http_res_alloc(&c->res)) != 0) {
			fprintf(stderr, PROG ": %s\n", nghttpw_strerror(rv));
			return (1);
		}
	}

	start = now_s();
	pthread_mutex_lock(&sk.mtx);
	sk.active = (int) nconns;
	pthread_mutex_unlock(&sk.mtx);
	for (long i = 0; i < nconns; i++) {
		sconn_dial(&conns[i]);
	}

	/* Wait for all, bounded by the time limit (and then by the exchange
	 * timeout of what is in flight). */
	next_report = start + 10;
	pthread_mutex_lock(&sk.mtx);
	while (sk.active > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&sk.cv, &sk.mtx, &ts);
		if (now_s() - start > (double) limit_s && !atomic_load(&sk.stop)) {
			fprintf(stderr, PROG ": time limit of %ld s reached\n", limit_s);
			atomic_store(&sk.stop, true);
		}
		if (verbose && now_s() >= next_report) {
			next_report += 10;
			fprintf(stderr, PROG ": %.0f s: %" PRIu64 " done, %" PRIu64
			                " errors\n",
			    now_s() - start, (uint64_t) atomic_load(&sk.ok),
			    (uint64_t) atomic_load(&sk.errors));
		}
	}
	pthread_mutex_unlock(&sk.mtx);
	elapsed = now_s() - start;

	for (long i = 0; i < nconns; i++) {
		nghttpw_aio_free(conns[i].aio);
		nghttpw_http_req_free(conns[i].req);
		nghttpw_http_res_free(conns[i].res);
	}
	free(conns);
	nghttpw_stream_dialer_free(sk.dialer);
	nghttpw_url_free(sk.url);

	ok     = atomic_load(&sk.ok);
	errors = atomic_load(&sk.errors);
	if (errors > 0) {
		fprintf(stderr, PROG ": first error: %s\n",
		    nghttpw_strerror(atomic_load(&sk.first_err)));
	}
	if (verbose) {
		fprintf(stderr, PROG ": %" PRIu64 " reconnections, body %" PRId64
		                " bytes\n",
		    (uint64_t) atomic_load(&sk.redials),
		    (int64_t) atomic_load(&sk.body_size));
	}
	printf("requests=%" PRIu64 " errors=%" PRIu64 " elapsed=%.3f rate=%.0f\n",
	    ok, errors, elapsed, elapsed > 0 ? (double) ok / elapsed : 0.0);
	return (errors == 0 && ok == (uint64_t) total ? 0 : 1);
}
