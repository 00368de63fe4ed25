#include <criterion/criterion.h>
#include <stdio.h>

#include "support/tls_endpoints.h"

#define WAIT_MS 5000

nghttpw_stream_listener *
tls_test_listen(const char *scheme, const char *host, nghttpw_tls_config *cfg,
    bool report, int *port)
{
	nghttpw_stream_listener *l;
	char                     url[128];
	int                      rv;

	snprintf(url, sizeof(url), "%s://%s:0", scheme, host);
	cr_assert_eq(nghttpw_stream_listener_alloc(&l, url), 0, "listener %s", url);
	if (cfg != NULL) {
		cr_assert_eq(
		    nghttpw_stream_listener_set_ptr(l, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	}
	cr_assert_eq(nghttpw_stream_listener_set_bool(
	                 l, NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS, report),
	    0);
	rv = nghttpw_stream_listener_listen(l);
	cr_assert_eq(rv, 0, "listen: %s", nghttpw_strerror(rv));
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, port), 0);
	return (l);
}

nghttpw_stream_dialer *
tls_test_dialer(
    const char *scheme, const char *host, int port, nghttpw_tls_config *cfg)
{
	nghttpw_stream_dialer *d;
	char                   url[128];

	snprintf(url, sizeof(url), "%s://%s:%d", scheme, host, port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0, "dialer %s", url);
	if (cfg != NULL) {
		cr_assert_eq(
		    nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	}
	return (d);
}

void
tls_test_connect(nghttpw_stream_listener *l, nghttpw_stream_dialer *d,
    nghttpw_stream **cs, int *crv, nghttpw_stream **ss, int *srv)
{
	nghttpw_aio *acc, *dial;

	cr_assert_eq(nghttpw_aio_alloc(&acc, NULL, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&dial, NULL, NULL), 0);
	nghttpw_aio_set_timeout(acc, WAIT_MS);
	nghttpw_aio_set_timeout(dial, WAIT_MS);
	if (l != NULL) {
		nghttpw_stream_listener_accept(l, acc);
	}
	nghttpw_stream_dialer_dial(d, dial);
	nghttpw_aio_wait(dial);
	*crv = nghttpw_aio_result(dial);
	*cs  = *crv == 0 ? nghttpw_aio_get_output(dial, 0) : NULL;
	if (l != NULL) {
		nghttpw_aio_wait(acc);
		*srv = nghttpw_aio_result(acc);
		*ss  = *srv == 0 ? nghttpw_aio_get_output(acc, 0) : NULL;
	}
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
}

static void *
tls_test_server_main(void *arg)
{
	tls_test_server *sv = arg;
	nghttpw_aio     *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	for (;;) {
		nghttpw_stream *s;
		nghttpw_stream_listener_accept(sv->l, aio);
		nghttpw_aio_wait(aio);
		if (nghttpw_aio_result(aio) == NGHTTPW_ECLOSED) {
			break;
		}
		if (nghttpw_aio_result(aio) != 0) {
			continue;
		}
		s = nghttpw_aio_get_output(aio, 0);
		if (sv->hold) {
			cr_assert_lt(sv->nheld, TLS_TEST_HELD);
			sv->held[sv->nheld++] = s;
		} else {
			nghttpw_stream_free(s);
		}
	}
	nghttpw_aio_free(aio);
	return (NULL);
}

void
tls_test_server_start(tls_test_server *sv, nghttpw_tls_config *cfg, bool hold)
{
	sv->hold  = hold;
	sv->nheld = 0;
	sv->l     = tls_test_listen("tls+tcp", "127.0.0.1", cfg, false, &sv->port);
	cr_assert_eq(pthread_create(&sv->thr, NULL, tls_test_server_main, sv), 0);
}

void
tls_test_server_stop(tls_test_server *sv)
{
	nghttpw_stream_listener_close(sv->l);
	pthread_join(sv->thr, NULL);
	nghttpw_stream_listener_free(sv->l);
	for (int i = 0; i < sv->nheld; i++) {
		nghttpw_stream_free(sv->held[i]);
	}
}
