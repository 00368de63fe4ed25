/* The byte-stream URL under an HTTP or WebSocket URL: what HTTP clients
 * dial and servers listen on.  The core's stream schemes (tcp, tls+tcp)
 * know nothing of HTTP; this is where http:// and ws:// meet them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stream.h"
#include "http/http_conn.h"

int
http_transport_url(const nghttpw_url *url, nghttpw_url **outp)
{
	static const struct {
		const char *scheme;
		const char *transport;
	} map[] = {
		{ "http", "tcp" }, { "ws", "tcp" }, { "ws4", "tcp4" },
		{ "ws6", "tcp6" }, { "https", "tls+tcp" }, { "wss", "tls+tcp" },
		{ "wss4", "tls+tcp4" }, { "wss6", "tls+tcp6" },
	};
	const char *transport = NULL;
	const char *host;
	bool        v6;
	size_t      len;
	char       *s;
	int         rv;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(url->u_scheme, map[i].scheme) == 0) {
			transport = map[i].transport;
		}
	}
	if (transport == NULL) {
		return (NGHTTPW_ENOTSUP);
	}
	host = url->u_hostname != NULL ? url->u_hostname : "";
	v6   = strchr(host, ':') != NULL;
	len  = strlen(transport) + strlen(host) + strlen(url->u_port) + 8;
	if ((s = malloc(len)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	snprintf(s, len, "%s://%s%s%s:%s", transport, v6 ? "[" : "", host,
	    v6 ? "]" : "", url->u_port);
	rv = nghttpw_url_parse(outp, s);
	free(s);
	return (rv);
}

/* http:// and https:// as stream schemes (beyond nng): the TCP or TLS
 * stream an HTTP client or server would use. */
static int
http_dialer_alloc(nghttpw_stream_dialer *d, const nghttpw_url *url)
{
	nghttpw_url *stream_url;
	int          rv;

	if ((rv = http_transport_url(url, &stream_url)) == 0) {
		rv = stream_dialer_init(d, stream_url);
		nghttpw_url_free(stream_url);
	}
	return (rv);
}

static int
http_listener_alloc(nghttpw_stream_listener *l, const nghttpw_url *url)
{
	nghttpw_url *stream_url;
	int          rv;

	if ((rv = http_transport_url(url, &stream_url)) == 0) {
		rv = stream_listener_init(l, stream_url);
		nghttpw_url_free(stream_url);
	}
	return (rv);
}

const stream_scheme http_schemes[] = {
	{ "http", http_dialer_alloc, http_listener_alloc },
	{ "https", http_dialer_alloc, http_listener_alloc },
	{ NULL, NULL, NULL },
};
