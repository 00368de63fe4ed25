/* What the server and client need of a connection beyond the public API. */
#ifndef NGHTTPW_HTTP_CONN_H
#define NGHTTPW_HTTP_CONN_H

#include <sys/types.h>

#include "core/stream.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"

/* Bounds for reading request heads: idle_ms for the first byte of a head
 * (a keep-alive connection waiting for its next request), head_ms from
 * that byte to the end of the head (slow-header defence).  Either may be
 * NGHTTPW_DURATION_INFINITE.  A read_req that runs over fails with
 * NGHTTPW_ETIMEDOUT; the caller's own aio timeout still applies too. */
void http_conn_set_read_timeouts(
    nghttpw_http_conn *conn, nghttpw_duration idle_ms, nghttpw_duration head_ms);

/* (read_req itself fails with NGHTTPW_ENOTSUP for a request whose
 * Transfer-Encoding does not end in chunked: its length is unknowable, and
 * a server answers 501.) */

/* Bounds each stream send under a write: one that moves no byte for ms
 * fails the write with NGHTTPW_ETIMEDOUT (a peer that stopped reading),
 * while a slow but moving transfer goes on.  Default: no bound. */
void http_conn_set_write_stall(nghttpw_http_conn *conn, nghttpw_duration ms);

/* Reads the body of the request whose head read_req just returned, framed
 * by Content-Length or chunked encoding (none: empty), into the request's
 * data (owned by it), at most max bytes: NGHTTPW_EMSGSIZE beyond that,
 * NGHTTPW_EPROTO for a malformed chunked body, NGHTTPW_ECLOSED if the peer
 * leaves first. */
void http_conn_read_body(
    nghttpw_http_conn *conn, nghttpw_http_req *req, size_t max, nghttpw_aio *aio);

/* Whether the body of req, whose head read_req read last, has been read to
 * its end (by nghttpw_http_conn_read_body, say), so that the next request
 * can follow on the connection. */
bool http_conn_body_done(nghttpw_http_conn *conn, nghttpw_http_req *req);

/* The same for the response whose head read_res just returned: framed by
 * Content-Length, chunked encoding (trailers kept apart) or the close of the
 * connection; no body for 1xx, 204 and 304.  The caller skips it for the
 * answer to a HEAD request.  Over max: NGHTTPW_EMSGSIZE. */
void http_conn_read_res_body(
    nghttpw_http_conn *conn, nghttpw_http_res *res, size_t max, nghttpw_aio *aio);

/* write_res (write_res_head when head_only) for a server answering a
 * pipeline: when bytes of a next request are already buffered (or answers
 * are queued), a small in-memory response after which the connection goes
 * on is copied to an output buffer and aio finishes at once, its count the
 * bytes queued.  The queue is sent with one stream send before the stream
 * is next used: a recv that has to wait, any write, or http_conn_flush.  A
 * failed flush closes the stream; what waited on it fails (NGHTTPW_ECLOSED).
 * A cancelled read waiting on the flush finishes when the flush does. */
void http_conn_write_res_batched(nghttpw_http_conn *conn,
    nghttpw_http_res *res, bool head_only, nghttpw_aio *aio);

/* Finishes once the queued answers are sent (at once when none are). */
void http_conn_flush(nghttpw_http_conn *conn, nghttpw_aio *aio);

/* Starts sending the queued answers, if any, with nobody waiting: for a
 * server whose handler did not answer at once, so that the answers
 * before it do not wait for it. */
void http_conn_kick_flush(nghttpw_http_conn *conn);

/* For a server whose handler answers on the connection itself: how many
 * response heads were written with write_res or write_res_head so far,
 * and whether a chunked message is still open (its last chunk not
 * written: the connection cannot go on). */
uint64_t http_conn_res_heads(nghttpw_http_conn *conn);
bool     http_conn_chunk_open(nghttpw_http_conn *conn);

/* Server side, before the first read_req: the connection starts with a
 * PROXY protocol header (versions 1 and 2, from HAProxy, nginx and other
 * balancers), which read_req consumes before the request head.  Its
 * addresses then stand for the stream's in nghttpw_http_conn_get_addr
 * (remote: the client; local: where it connected).  A missing or
 * malformed header fails read_req with NGHTTPW_EPROTO (or EMSGSIZE, or
 * the stream's error) and http_conn_proxy_failed then says so: the server
 * closes without an answer. */
void http_conn_expect_proxy_header(nghttpw_http_conn *conn);
bool http_conn_proxy_failed(nghttpw_http_conn *conn);
/* For parking: the header's addresses (remote, local; malloc'd) taken out
 * of a connection, or NULL; and given to one made again (taken). */
nghttpw_sockaddr *http_conn_take_proxied(nghttpw_http_conn *conn);
void              http_conn_give_proxied(nghttpw_http_conn *conn, nghttpw_sockaddr *addrs);

/* The trusted proxies of the server that accepted the connection (a
 * reference is held), for nghttpw_http_conn_get_client_addr. */
struct http_trust;
void http_conn_set_trust(nghttpw_http_conn *conn, struct http_trust *t);

/* The stream underneath (for hijacking and options). */
nghttpw_stream *http_conn_stream(nghttpw_http_conn *conn);

/* Bytes received and not yet consumed (a pipelined request waiting). */
size_t http_conn_buffered(nghttpw_http_conn *conn);

/* Bytes received over the connection's life: unchanged across an exchange
 * means that no byte of its response arrived. */
uint64_t http_conn_received(nghttpw_http_conn *conn);

/* For a client about to start an exchange: sets the limit on the
 * response's body (as nghttpw_http_conn_set_max_body) and returns
 * http_conn_received(), under one lock. */
uint64_t http_conn_exchange_start(nghttpw_http_conn *conn, size_t max_body);

/* Whether the connection can carry another exchange: open, nothing
 * pending, queued or read ahead, every request written answered, and the
 * last response read to the end of its body (or one that has none). */
bool http_conn_reusable(nghttpw_http_conn *conn);

/* For a client's connection to a forward proxy, before its first
 * request: the absolute-form prefix and the extra lines (both copied)
 * that every request head written on it carries (see nhw_http_via). */
int                 http_conn_set_via(
                    nghttpw_http_conn *conn, const char *prefix, const char *lines);
const nhw_http_via *http_conn_via(nghttpw_http_conn *conn);

/* For a client that lends the connection to its caller: which client may
 * take it back (NULL: none, it is closed when given back), and a number
 * of the client's own that the client checks then (*lease). */
void  http_conn_set_lender(
     nghttpw_http_conn *conn, void *lender, uint64_t lease);
void *http_conn_lender(nghttpw_http_conn *conn, uint64_t *lease);

/* Whether any byte of the request head being read (or whose read just
 * failed) had arrived: a timeout then means a slow head (answer 408),
 * otherwise an idle keep-alive connection (just close). */
bool http_conn_head_started(nghttpw_http_conn *conn);

/* How long an idle connection waits with its read buffer before giving it
 * back (see http_conn_set_park). */
#define HTTP_CONN_READ_LINGER_MS 50

/* For a server that parks idle connections (on): a read_req that has
 * waited HTTP_CONN_READ_LINGER_MS without a byte fails with
 * NGHTTPW_ETIMEDOUT instead of waiting on without a buffer, and
 * http_conn_linger_ended then says so, so that the owner can park the
 * stream's socket and free the rest.  Only for a connection whose idle
 * time (set_read_timeouts) is longer than the linger; off again for one a
 * handler hijacked. */
void http_conn_set_park(nghttpw_http_conn *conn, bool on);
bool http_conn_linger_ended(nghttpw_http_conn *conn);

/* nghttpw_http_conn_close for a connection nobody waits for (its socket
 * parked): freed by the reaper with others, a little later. */
void http_conn_close_lazy(nghttpw_http_conn *conn);

/* For a server's stop: fails a request head read now pending, and every
 * later one, with NGHTTPW_ECLOSED (no new request is taken). */
void http_conn_stop_idle(nghttpw_http_conn *conn);

/* The connection will be read raw from now on (its bytes are another
 * protocol's): once what was read ahead is handed out, the read buffer
 * goes. */
void http_conn_set_raw_only(nghttpw_http_conn *conn);

/* Undoes http_conn_stop_idle for a connection a handler hijacked: its new
 * owner reads requests as it likes. */
void http_conn_resume_idle(nghttpw_http_conn *conn);

/* The stream URL (tcp[46]:// or tls+tcp[46]://, same host and port) that
 * an http, https, ws[46] or wss[46] URL is carried over; NGHTTPW_ENOTSUP
 * for another scheme. */
int http_transport_url(const nghttpw_url *url, nghttpw_url **outp);

/* http:// and https:// as stream schemes, for the library's top level. */
extern const stream_scheme http_schemes[];

/* An opaque pointer for the server that made the connection (set before
 * the connection is shared; NULL for others). */
void  http_conn_set_owner(nghttpw_http_conn *conn, void *owner);
void *http_conn_owner(nghttpw_http_conn *conn);

#endif
