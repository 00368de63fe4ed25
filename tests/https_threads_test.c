/* An HTTPS server with two poller threads serves its connections on both.
 * Accepted connections are placed on the loops in turn; the admission of
 * a TLS connection once took a turn of its own for its handshake timer,
 * so that with two loops every connection went to the same one and the
 * second thread stayed idle.  curl opens the connections, all at once. */
#ifdef NGHTTPW_HAVE_TLS

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "nghttpw/http.h"
#include "nghttpw/tls.h"
#include "support/child.h"
#include "support/programs.h"
#include "support/tls_certs.h"

#define CONNS 8

static void
two_pollers(void)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 2);
}

TestSuite(https_threads, .init = two_pollers, .timeout = 60);

/* The threads the handler ran on, and how many requests each. */
static pthread_mutex_t seen_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_t       seen[CONNS];
static int             nseen;
static int             requests;

static void
record_thread_cb(nghttpw_aio *aio)
{
	nghttpw_http_res *res;
	int               i;

	pthread_mutex_lock(&seen_mtx);
	for (i = 0; i < nseen && !pthread_equal(seen[i], pthread_self()); i++) {
	}
	if (i == nseen && nseen < CONNS) {
		seen[nseen++] = pthread_self();
	}
	requests++;
	pthread_mutex_unlock(&seen_mtx);
	if (nghttpw_http_res_alloc(&res) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

Test(https_threads, connections_go_to_both_pollers)
{
	const tls_test_certs *certs = tls_test_certs_get();
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_tls_config   *cfg;
	nghttpw_url          *url;
	nghttpw_sockaddr      sa;
	char                  curl[PATH_MAX];
	char                  target[64];
	char                 *argv[10 + 3 * CONNS];
	int                   argc = 0;
	child                 c;

	if (!program_in_path("curl", curl, sizeof(curl))) {
		cr_skip_test("curl is not on PATH (tools/install-deps.sh installs it)");
	}
	cr_assert_not_null(certs);
	cr_assert_eq(nghttpw_url_parse(&url, "https://127.0.0.1:0/"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 cfg, certs->server_cert, certs->server_key, NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_tls(s, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", record_thread_cb), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	snprintf(target, sizeof(target), "https://127.0.0.1:%u/",
	    ntohs(sa.s_in.sa_port));

	/* Each transfer on a connection of its own, all started at once. */
	argv[argc++] = "curl";
	argv[argc++] = "-q";
	argv[argc++] = "-s";
	argv[argc++] = "-k";
	argv[argc++] = "--http1.1";
	argv[argc++] = "--parallel";
	argv[argc++] = "--parallel-immediate";
	argv[argc++] = "--parallel-max";
	argv[argc++] = "8";
	for (int i = 0; i < CONNS; i++) {
		argv[argc++] = "-o";
		argv[argc++] = "/dev/null";
		argv[argc++] = target;
	}
	argv[argc] = NULL;
	cr_assert_eq(child_start(&c, curl, argv), 0);
	cr_assert_eq(child_wait(&c, 30000), 0, "curl failed");

	pthread_mutex_lock(&seen_mtx);
	cr_assert_eq(requests, CONNS);
	cr_assert_eq(nseen, 2, "the requests ran on %d poller thread(s)", nseen);
	pthread_mutex_unlock(&seen_mtx);
	nghttpw_http_server_stop(s);
	nghttpw_http_server_release(s);
}

#endif
