/* A TLS client over a stream that is already connected: what layers above
 * use when they reach the server through something other than a plain
 * dial (an HTTP proxy's CONNECT tunnel).  No mbedTLS type is named here. */
#ifndef NGHTTPW_TLS_OVER_H
#define NGHTTPW_TLS_OVER_H

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"

/* Runs a client handshake over lower, which it takes in every case (freed
 * on failure).  host is the name sent (SNI) and verified, unless cfg has a
 * server name; cfg NULL means the default client configuration (the
 * system's CA bundle).  The aio ends when the handshake does: output 0 is
 * the TLS stream.  Without TLS built in: NGHTTPW_ENOTSUP. */
void tls_client_over(nghttpw_stream *lower, nghttpw_tls_config *cfg,
    const char *host, nghttpw_aio *aio);

#endif
