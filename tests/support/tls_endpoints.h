/* TLS listeners and dialers on loopback for the TLS tests, and one dial
 * with its accept.  Each asserts what it sets up. */
#ifndef NGHTTPW_TESTS_TLS_ENDPOINTS_H
#define NGHTTPW_TESTS_TLS_ENDPOINTS_H

#include <pthread.h>
#include <stdbool.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"

/* Listens on scheme://host:0 with cfg (unless NULL); report: whether
 * failed handshakes reach accept.  The bound port in *port. */
nghttpw_stream_listener *tls_test_listen(const char *scheme, const char *host,
    nghttpw_tls_config *cfg, bool report, int *port);

/* A dialer to scheme://host:port with cfg (unless NULL). */
nghttpw_stream_dialer *tls_test_dialer(
    const char *scheme, const char *host, int port, nghttpw_tls_config *cfg);

/* Dials while the listener (if any) accepts, 5 s at most each; both
 * results come back, with the streams of those that succeeded (else
 * NULL).  *ss and *srv are left alone without a listener. */
void tls_test_connect(nghttpw_stream_listener *l, nghttpw_stream_dialer *d,
    nghttpw_stream **cs, int *crv, nghttpw_stream **ss, int *srv);

/* A listener on tls+tcp://127.0.0.1 whose thread accepts until the
 * listener closes, and drops what it accepts, or holds it (up to
 * TLS_TEST_HELD streams) so that no close_notify follows a handshake. */
#define TLS_TEST_HELD 16
typedef struct tls_test_server {
	nghttpw_stream_listener *l;
	pthread_t                thr;
	int                      port;
	bool                     hold;
	nghttpw_stream          *held[TLS_TEST_HELD];
	int                      nheld;
} tls_test_server;

void tls_test_server_start(tls_test_server *, nghttpw_tls_config *, bool hold);
void tls_test_server_stop(tls_test_server *);

#endif
