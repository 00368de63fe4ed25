/* The library's top level: the one place that knows which layers are
 * built in, and registers their URL schemes with the core. */
#include "core/stream.h"
#include "http/http_conn.h"
#include "ws/ws_impl.h"
#ifdef NGHTTPW_HAVE_TLS
#include "tls/tls_schemes.h"
#endif

void
stream_schemes_builtin(void)
{
	stream_schemes_register(tcp_schemes);
#ifdef NGHTTPW_HAVE_TLS
	stream_schemes_register(tls_schemes);
#endif
	stream_schemes_register(http_schemes);
	stream_schemes_register(ws_schemes);
}
