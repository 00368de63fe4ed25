/* The URL schemes served by WebSocket, over TCP (ws) or TLS (wss). */
#include "ws/ws_impl.h"

const stream_scheme ws_schemes[] = {
	{ "ws", ws_dialer_alloc, ws_listener_alloc },
	{ "ws4", ws_dialer_alloc, ws_listener_alloc },
	{ "ws6", ws_dialer_alloc, ws_listener_alloc },
	{ "wss", ws_dialer_alloc, ws_listener_alloc },
	{ "wss4", ws_dialer_alloc, ws_listener_alloc },
	{ "wss6", ws_dialer_alloc, ws_listener_alloc },
	{ NULL, NULL, NULL },
};
