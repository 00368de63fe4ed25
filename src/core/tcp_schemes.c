/* The URL schemes served by plain TCP.  The dialer and listener take the
 * address family from the scheme's last character (tcp4, tcp6). */
#include "core/tcp.h"

const stream_scheme tcp_schemes[] = {
	{ "tcp", tcp_dialer_alloc, tcp_listener_alloc },
	{ "tcp4", tcp_dialer_alloc, tcp_listener_alloc },
	{ "tcp6", tcp_dialer_alloc, tcp_listener_alloc },
	{ NULL, NULL, NULL },
};
