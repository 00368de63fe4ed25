/* The URL schemes served by TLS over TCP. */
#include "tls/tls_impl.h"
#include "tls/tls_schemes.h"

const stream_scheme tls_schemes[] = {
	{ "tls+tcp", tls_dialer_alloc, tls_listener_alloc },
	{ "tls+tcp4", tls_dialer_alloc, tls_listener_alloc },
	{ "tls+tcp6", tls_dialer_alloc, tls_listener_alloc },
	{ NULL, NULL, NULL },
};
