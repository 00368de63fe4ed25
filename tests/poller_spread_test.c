/* With two poller threads, new connections go to the loops in turn, and
 * nothing a connection allocates may take a turn of that rotation.  An
 * aio allocated without a home once did (the TLS listener's handshake
 * timer, a WebSocket upgrade's aio, a handler's own aio): with two loops
 * every accepted HTTPS connection went to the same one, and the second
 * thread stayed idle. */
#include <criterion/criterion.h>
#include <limits.h>

#include "core/loop.h"
#include "core/stream.h"
#include "nghttpw/nghttpw.h"
#include "support/child.h"
#include "support/programs.h"
#ifdef NGHTTPW_HAVE_TLS
#include <stdio.h>

#include "nghttpw/tls.h"
#include "support/tls_certs.h"
#include "support/tls_endpoints.h"
#endif

static void
two_pollers(void)
{
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 2);
}

TestSuite(poller_spread, .init = two_pollers, .timeout = 60);

/* Aios allocated between two connections leave them on different loops. */
Test(poller_spread, aios_take_no_turn_of_the_connections)
{
	int   rv   = 0;
	loop *prev = loop_pick(&rv);

	cr_assert_not_null(prev);
	for (int i = 0; i < 6; i++) {
		nghttpw_aio *aio;
		loop        *next;
		cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
		nghttpw_aio_free(aio);
		next = loop_pick(&rv);
		cr_assert_neq(next, prev, "connection %d on the loop before", i + 1);
		prev = next;
	}
}

#ifdef NGHTTPW_HAVE_TLS
/* TLS connections accepted one after another, each from a curl of its
 * own (so that nothing on the client's side takes a turn), alternate. */
Test(poller_spread, tls_connections_alternate)
{
	const tls_test_certs    *certs = tls_test_certs_get();
	nghttpw_tls_config      *cfg;
	nghttpw_stream_listener *l;
	nghttpw_aio             *aio;
	char                     curl[PATH_MAX];
	char                     target[64];
	loop                    *prev = NULL;
	int                      port;

	if (!program_in_path("curl", curl, sizeof(curl))) {
		cr_skip_test("curl is not on PATH (tools/install-deps.sh installs it)");
	}
	cr_assert_not_null(certs);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 cfg, certs->server_cert, certs->server_key, NULL), 0);
	l = tls_test_listen("tls+tcp", "127.0.0.1", cfg, false, &port);
	snprintf(target, sizeof(target), "https://127.0.0.1:%d/", port);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	for (int i = 0; i < 4; i++) {
		char *const argv[] = { "curl", "-q", "-s", "-k", "--max-time", "5",
			"-o", "/dev/null", target, NULL };
		child           c;
		nghttpw_stream *s;

		cr_assert_eq(child_start(&c, curl, argv), 0);
		nghttpw_stream_listener_accept(l, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0, "accept %d: %s", i,
		    nghttpw_strerror(nghttpw_aio_result(aio)));
		s = nghttpw_aio_get_output(aio, 0);
		cr_assert_neq(s->loop, prev, "connection %d on the loop before", i);
		prev = s->loop;
		/* Closed unanswered: curl's own result does not matter. */
		nghttpw_stream_free(s);
		(void) child_wait(&c, 10000);
	}
	nghttpw_aio_free(aio);
	nghttpw_stream_listener_free(l);
	nghttpw_tls_config_free(cfg);
}
#endif
