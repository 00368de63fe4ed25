/* TLS listeners and dialers on loopback for the TLS tests, and one dial
 * with its accept.  Each asserts what it sets up. */
#ifndef NGHTTPW_TESTS_TLS_ENDPOINTS_H
#define NGHTTPW_TESTS_TLS_ENDPOINTS_H

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

#endif
