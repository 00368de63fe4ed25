/* What the WebSocket connection, handshakes, dialer and listener share. */
#ifndef NGHTTPW_WS_IMPL_H
#define NGHTTPW_WS_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/stream.h"
#include "nghttpw/http.h"
#include "nghttpw/ws.h"
#include "ws/ws_deflate.h"

/* nng's defaults: frames of at most 64 KiB sent, 1 MiB received, and
 * messages read whole of at most 1 MiB. */
#define WS_DEF_SENDMAXFRAME (64u * 1024u)
#define WS_DEF_RECVMAXFRAME (1024u * 1024u)
#define WS_DEF_RECVMAXSZ (1024u * 1024u)
/* Beyond nng: what a peer that does not read can make us hold. */
#define WS_DEF_SENDQ_MAX (16u * 1024u * 1024u)
/* Listeners: a ping after 150 s of silence, a close after 300 s. */
#define WS_DEF_SERVER_PING_MS 150000
#define WS_DEF_SERVER_IDLE_MS 300000

/* What a dialer or listener hands to the streams it makes, and what each
 * stream keeps; 0 for a size means no limit, 0 for a time never. */
typedef struct ws_settings {
	size_t           sendmaxframe;
	size_t           recvmaxframe;
	size_t           recvmaxsz;
	size_t           sendq_max;
	bool             send_text;
	bool             recv_text;
	nghttpw_duration ping_ms;
	nghttpw_duration idle_ms;
	ws_pmd_config    pmd;
} ws_settings;

void ws_settings_init(ws_settings *ws, bool server);

/* The options above by name: NGHTTPW_ENOTSUP for any other name. */
int ws_settings_get(const ws_settings *ws, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int ws_settings_set(ws_settings *ws, const char *name, const void *buf,
    size_t sz, nghttpw_type t);

/* Extra header fields that a dialer adds to its requests or a listener
 * to its answers (nng's WS_REQUEST_HEADER(S) and WS_RESPONSE_HEADER(S)). */
typedef struct ws_header {
	struct ws_header *next;
	char             *name;
	char             *value;
} ws_header;

int ws_headers_apply_req(const ws_header *list, nghttpw_http_req *req);
int ws_headers_apply_res(const ws_header *list, nghttpw_http_res *res);

/* What dialers and listeners share (ws_endpoint.c): the settings their
 * streams start with, the subprotocols (offered by a dialer, accepted by
 * a listener; NULL for none) and the extra header fields. */
typedef struct ws_endpoint {
	ws_settings set;
	char       *proto;
	ws_header  *headers;
	bool        server;
} ws_endpoint;

void ws_endpoint_init(ws_endpoint *ep, bool server);
void ws_endpoint_fini(ws_endpoint *ep);

/* Their options (the caller locks): NGHTTPW_ENOTSUP for other names. */
int ws_endpoint_get(ws_endpoint *ep, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int ws_endpoint_set(ws_endpoint *ep, const char *name, const void *buf,
    size_t sz, nghttpw_type t);

/* What a stream remembers of its handshake, for its options: the request
 * URI and both header blocks ("Name: value\r\n" lines), malloc'd. */
typedef struct ws_handshake_info {
	char  *uri;
	char  *req_headers;
	char  *res_headers;
	ws_pmd pmd; /* what was agreed on compression */
} ws_handshake_info;

void ws_handshake_info_fini(ws_handshake_info *hi);

/* Makes the WebSocket stream over conn once the handshake is over; the
 * stream then owns conn and hi's strings (also on failure). */
int ws_conn_alloc(nghttpw_stream **sp, nghttpw_http_conn *conn, bool server,
    const ws_settings *ws, ws_handshake_info *hi);

/* Frees a stream no program has seen (its listener is closing): the
 * peer is told 1001, going away. */
void ws_conn_discard(nghttpw_stream *s);

/* Server side of the handshake.  ws_check_request says whether req asks
 * for a WebSocket, and if not the status to answer (405 for a method
 * other than GET, 400, or 426 for a version other than 13).
 * ws_prepare_response fills res with the 101 answer; protocols is the
 * server's list of subprotocols (comma-separated, NULL for none): the
 * first of them that the client offered is chosen, and a client that
 * offered none of them gets 400 (a status is returned) when the list is
 * not NULL.  A subprotocol the caller set in res already must be one the
 * client offered (else 500).  permessage-deflate is accepted as pmd
 * allows, or left out. */
uint16_t ws_check_request(nghttpw_http_req *req);
uint16_t ws_prepare_response(nghttpw_http_req *req, nghttpw_http_res *res,
    const char *protocols, const ws_pmd_config *pmd);

/* Fills res with the error answer for status (426 adds the version). */
int ws_error_response(nghttpw_http_res *res, uint16_t status);

/* The rest of a handshake whose message is ready, over conn (then the
 * stream's, or closed): a server writes res, a client writes req and
 * reads res.  aio (begun) finishes with the stream as output 0. */
void ws_handshake_start(nghttpw_http_conn *conn, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio, bool server, const ws_settings *set);

/* Client side: adds the upgrade fields (a fresh key, and the
 * permessage-deflate offer if pmd is on) to req. */
int ws_prepare_request(nghttpw_http_req *req, const ws_pmd_config *pmd);

/* The schemes the WebSocket layer serves, for the library's top level. */
extern const stream_scheme ws_schemes[];

int ws_dialer_alloc(nghttpw_stream_dialer *d, const nghttpw_url *url);
int ws_listener_alloc(nghttpw_stream_listener *l, const nghttpw_url *url);

#endif
