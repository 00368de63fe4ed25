/*
 * nghttpw WebSocket (RFC 6455): what nng lacks beside its ws:// and wss://
 * streams.  A WebSocket is an nghttpw_stream, made by a ws:// or wss://
 * dialer or listener (nng's API, see nghttpw_ws(7)), by nghttpw_ws_upgrade
 * inside an HTTP handler, or by nghttpw_ws_connect over any connection.
 * On such a stream, nghttpw_stream_send sends one message and
 * nghttpw_stream_recv reads message bytes as a byte stream, as in nng;
 * the functions below work with whole messages, frames, pings and the
 * closing handshake, in the manner of Boost.Beast's websocket::stream.
 */
#ifndef NGHTTPW_WS_H
#define NGHTTPW_WS_H

#include <stdint.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Message types and frame flags. */
enum nghttpw_ws_flag {
	NGHTTPW_WS_BINARY = 0x0, /* a binary message (the default) */
	NGHTTPW_WS_TEXT   = 0x1, /* a text message: UTF-8, checked */
	NGHTTPW_WS_FIN    = 0x2, /* nghttpw_ws_send_frame: the last frame */
};

/* Close status codes (RFC 6455 section 7.4.1). */
enum nghttpw_ws_status {
	NGHTTPW_WS_STATUS_NORMAL         = 1000,
	NGHTTPW_WS_STATUS_GOING_AWAY     = 1001,
	NGHTTPW_WS_STATUS_PROTOCOL_ERROR = 1002,
	NGHTTPW_WS_STATUS_UNSUPPORTED    = 1003,
	NGHTTPW_WS_STATUS_NO_STATUS      = 1005, /* received, never sent */
	NGHTTPW_WS_STATUS_ABNORMAL       = 1006, /* received, never sent */
	NGHTTPW_WS_STATUS_INVALID_DATA   = 1007,
	NGHTTPW_WS_STATUS_POLICY         = 1008,
	NGHTTPW_WS_STATUS_TOO_BIG        = 1009,
	NGHTTPW_WS_STATUS_EXTENSION      = 1010,
	NGHTTPW_WS_STATUS_INTERNAL_ERROR = 1011,
};

/* Options beyond nng's, on WebSocket streams (read-only): the close code
 * and reason the peer sent (1005 when its close had none, 1006 when the
 * connection ended without one, 0 while it is open). */
#define NGHTTPW_OPT_WS_CLOSE_CODE "ws:close-code"     /* int */
#define NGHTTPW_OPT_WS_CLOSE_REASON "ws:close-reason" /* string */
/* On dialers, listeners and streams (milliseconds, or
 * NGHTTPW_DURATION_INFINITE): when nothing has been received for
 * PING_INTERVAL, send a ping; when nothing has been received for
 * IDLE_TIMEOUT, close with 1001.  Listeners default to 150 s and 300 s,
 * dialers to neither. */
#define NGHTTPW_OPT_WS_PING_INTERVAL "ws:ping-interval"
#define NGHTTPW_OPT_WS_IDLE_TIMEOUT "ws:idle-timeout"
/* On dialers, listeners and streams (size): a send is refused with
 * NGHTTPW_EAGAIN when it would take the bytes queued and not yet written
 * past this, unless nothing is queued.  Default 16 MiB; 0: no limit. */
#define NGHTTPW_OPT_WS_SEND_QUEUE_MAX "ws:send-queue-max"

/* On dialers (strings): the forward proxy the dial goes through, as
 * nghttpw_http_client_set_proxy takes it ("" for none, the default), and
 * the servers it does not apply to (curl's no_proxy list).  The
 * connection is a CONNECT tunnel, with TLS to the server in it for wss. */
#define NGHTTPW_OPT_WS_PROXY "ws:proxy"
#define NGHTTPW_OPT_WS_NO_PROXY "ws:no-proxy"

/* permessage-deflate compression (RFC 7692), off by default.  On dialers
 * and listeners; NGHTTPW_OPT_WS_DEFLATE on a stream (read-only) says
 * whether it was agreed.  See nghttpw_ws(7). */
#define NGHTTPW_OPT_WS_DEFLATE "ws:deflate"                     /* bool */
#define NGHTTPW_OPT_WS_DEFLATE_LEVEL "ws:deflate-level"         /* int 0-9 */
#define NGHTTPW_OPT_WS_DEFLATE_MEM_LEVEL "ws:deflate-mem-level" /* int 1-9 */
#define NGHTTPW_OPT_WS_DEFLATE_THRESHOLD "ws:deflate-threshold" /* size */
#define NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT \
	"ws:deflate-server-no-context-takeover" /* bool */
#define NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT \
	"ws:deflate-client-no-context-takeover" /* bool */
#define NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW \
	"ws:deflate-server-max-window-bits" /* int 8-15 */
#define NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW \
	"ws:deflate-client-max-window-bits" /* int 8-15 */

/* Handshakes over a connection of the caller's (any stream).  The new
 * WebSocket stream owns conn from then on, and is aio output 0. */
NGHTTPW_DECL int nghttpw_ws_upgrade(nghttpw_http_conn *conn,
    nghttpw_http_req *req, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_ws_connect(nghttpw_http_conn *conn,
    nghttpw_http_req *req, nghttpw_http_res *res, nghttpw_aio *aio);

/* Messages and frames. */
NGHTTPW_DECL void nghttpw_ws_send_msg(
    nghttpw_stream *s, unsigned flags, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_ws_send_frame(
    nghttpw_stream *s, unsigned flags, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_ws_recv_msg(
    nghttpw_stream *s, unsigned *flagsp, nghttpw_aio *aio);

/* Control frames and the closing handshake. */
NGHTTPW_DECL void nghttpw_ws_ping(
    nghttpw_stream *s, const void *data, size_t len, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_ws_close(nghttpw_stream *s, uint16_t code,
    const char *reason, nghttpw_aio *aio);

#ifdef __cplusplus
}
#endif

#endif /* NGHTTPW_WS_H */
