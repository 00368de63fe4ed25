/* A server's connections: each runs a small state machine driven by its
 * aio's callbacks: read a request head, route it, maybe collect its body,
 * call the handler, write the response, then read the next request
 * (keep-alive and pipelining) or close.  Answers to pipelined requests
 * are batched: the connection queues a small one while the next request
 * is already buffered, and sends the queue with one write before it has
 * to wait for the network (http_conn_write_res_batched).
 *
 * A connection's state is touched only by its own aio callbacks, one at a
 * time (its single aio is busy with one thing at a time); what stop,
 * close and hijack share with them (the connection list, sc->conn, pins)
 * is under the server's mutex, which a request never takes: requests take
 * only the handler lock, for reading, to route.  Handlers and the access
 * log run with no lock of ours held. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/aio.h"
#include "core/loop.h"
#include "core/stream.h"
#include "core/tcp.h"
#include "http/http_conn.h"
#include "http/http_date.h"
#include "http/http_forwarded.h"
#include "http/http_msg.h"
#include "http/http_server_conn.h"

#define MAX_TARGET_LEN 8192
#define DRAIN_MAX (64u * 1024u)

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void sc_cb(void *);
static void sc_reap(void *);

static bool
str_eq_nocase_trim(const char *s, const char *want)
{
	size_t len;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
		len--;
	}
	return (nhw_http_name_eq(s, len, want, strlen(want)));
}

/* Connections. */

/* Closes the connection (unless hijacked) and has the reaper free the
 * rest once no callback of ours runs; lazy for one whose socket was
 * parked.  Caller holds s->mtx. */
static void
sc_end_locked(srv_conn *sc, bool lazy)
{
	if (sc->state == SC_DONE) {
		return;
	}
	sc->state = SC_DONE;
	if (sc->conn != NULL) {
		nghttpw_http_conn *c = sc->conn;
		sc->conn             = NULL;
		if (lazy) {
			http_conn_close_lazy(c);
		} else {
			nghttpw_http_conn_close(c);
		}
	}
	(lazy ? runtime_reap_lazy : runtime_reap)(&sc->reap);
}

static void
sc_close_locked(srv_conn *sc)
{
	sc_end_locked(sc, false);
}

static void
sc_close(srv_conn *sc)
{
	nghttpw_http_server *s = sc->srv;

	pthread_mutex_lock(&s->mtx);
	sc_close_locked(sc);
	pthread_mutex_unlock(&s->mtx);
}

static void
sc_reap(void *arg)
{
	srv_conn            *sc = arg;
	nghttpw_http_server *s  = sc->srv;

	pthread_mutex_lock(&s->mtx);
	while (sc->pins > 0) {
		pthread_cond_wait(&s->cv, &s->mtx);
	}
	sc->reaping = true;
	pthread_mutex_unlock(&s->mtx);
	nghttpw_aio_free(sc->aio);
	nghttpw_http_res_free(sc->res);
	nghttpw_http_req_free(sc->req);
	if (sc->h != NULL) {
		http_handler_release(sc->h);
	}
	pthread_mutex_lock(&s->mtx);
	list_remove(&sc->node);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	free(sc);
}

/* Closes once the answers still queued in the connection are out. */
static void
sc_close_flushed(srv_conn *sc)
{
	sc->state = SC_FLUSH;
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	http_conn_flush(sc->conn, sc->aio);
}

static void
sc_read_next(srv_conn *sc)
{
	if (atomic_load(&sc->srv->stopping)) {
		sc_close_flushed(sc);
		return;
	}
	sc->have_req     = false;
	sc->head_req     = false;
	sc->close_after  = false;
	sc->body_pending = false;
	sc->state        = SC_READ_HEAD;
	/* The connection bounds the head itself (idle, then slow head). */
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	nghttpw_http_conn_read_req(sc->conn, sc->req, sc->aio);
}

/* Starts writing res (which the server now owns). */
static void
sc_write(srv_conn *sc, nghttpw_http_res *res)
{
	nghttpw_http_server *s = sc->srv;

	sc->res   = res;
	sc->state = SC_WRITE;
	http_server_headers_apply(s, res);
	if (nhw_http_msg_get_known(nhw_http_res_msg(res), NHW_HDR_DATE) == NULL) {
		/* An origin server with a clock must send one (RFC 9110). */
		size_t      dlen;
		const char *date = http_date_now(&dlen);
		(void) nhw_http_msg_set_known(
		    nhw_http_res_msg(res), NHW_HDR_DATE, date, dlen);
	}
	if (sc->body_pending || atomic_load(&s->stopping) ||
	    nghttpw_http_conn_must_close(sc->conn)) {
		sc->close_after = true;
	}
	if (sc->close_after) {
		(void) nghttpw_http_res_set_header(res, "Connection", "close");
	} else if (sc->have_req &&
	    nhw_http_version_is(
	        nghttpw_http_req_get_version(sc->req), "HTTP/1.0") &&
	    nhw_http_msg_get_known(nhw_http_res_msg(res), NHW_HDR_CONNECTION) ==
	        NULL) {
		/* It asked for keep-alive (else must_close said so). */
		(void) nghttpw_http_res_set_header(res, "Connection", "keep-alive");
	}
	/* No bound on the whole write: a large body to a slow client may
	 * take long.  A stop closes what is left. */
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	http_conn_write_res_batched(sc->conn, res, sc->head_req, sc->aio);
}

/* A response made by the server itself: status with the error page, and
 * the Allow field for a 405.  NULL when out of memory. */
static nghttpw_http_res *
error_res(nghttpw_http_server *s, uint16_t status, const char *allow)
{
	nghttpw_http_res *res;

	if (nghttpw_http_res_alloc(&res) != 0) {
		return (NULL);
	}
	if (nghttpw_http_res_set_status(res, status) != 0 ||
	    nghttpw_http_server_res_error(s, res) != 0 ||
	    (allow != NULL &&
	        nghttpw_http_res_set_header(res, "Allow", allow) != 0)) {
		nghttpw_http_res_free(res);
		return (NULL);
	}
	return (res);
}

/* Answers with an error; close says the stream is unusable after it. */
static void
sc_error(srv_conn *sc, uint16_t status, bool close, const char *allow)
{
	nghttpw_http_res *res = error_res(sc->srv, status, allow);

	if (res == NULL) {
		sc_close(sc);
		return;
	}
	if (close) {
		sc->close_after = true;
	}
	sc_write(sc, res);
}

static bool
sc_has_body(nghttpw_http_req *req, bool *chunked, uint64_t *length)
{
	const char *cl =
	    nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_CONTENT_LENGTH);

	*chunked = nhw_http_msg_get_known(nhw_http_req_msg(req),
	               NHW_HDR_TRANSFER_ENCODING) != NULL;
	*length  = 0;
	if (cl != NULL) {
		*length = strtoull(cl, NULL, 10);
	}
	return (*chunked || *length > 0);
}

/* An error answer to a request whose body may follow: a small one is read
 * and dropped first, so that the connection can stay; a large one, or one
 * the client waits to send (Expect), closes it instead. */
static void
sc_error_drain(srv_conn *sc, uint16_t status, const char *allow,
    bool expect, bool chunked, uint64_t length)
{
	nghttpw_http_res *res;

	if (!sc->body_pending || expect || (!chunked && length > DRAIN_MAX)) {
		sc_error(sc, status, sc->body_pending, allow);
		return;
	}
	if ((res = error_res(sc->srv, status, allow)) == NULL) {
		sc_close(sc);
		return;
	}
	sc->res   = res;
	sc->state = SC_DRAIN;
	nghttpw_aio_set_timeout(sc->aio, sc->idle_ms);
	http_conn_read_body(sc->conn, sc->req, DRAIN_MAX, sc->aio);
}

static void
sc_read_body(srv_conn *sc)
{
	sc->state = SC_READ_BODY;
	nghttpw_aio_set_timeout(sc->aio, sc->idle_ms);
	http_conn_read_body(sc->conn, sc->req, sc->h->max_body, sc->aio);
}

/* The bytes of a uri-host[:port] (RFC 3986: letters, digits and
 * "-._~!$&'()*+;=:%[]"), by byte, ASCII only: one load per byte, as every
 * request's Host is checked. */
static const unsigned char host_tab[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, /* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, /* 0x30 */
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, /* 0x50 */
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, /* 0x70 */
};

/* The Host field: required in HTTP/1.1, never repeated (repeats are
 * combined with ", ", so a comma means two), and a uri-host[:port] in its
 * characters: no space, slash or '@' a router or proxy might read
 * otherwise. */
static bool
host_field_ok(const char *h, const char *version)
{
	if (h == NULL) {
		return (!nhw_http_version_is(version, "HTTP/1.1"));
	}
	for (const char *p = h; *p != '\0'; p++) {
		if (host_tab[(unsigned char) *p] == 0) {
			return (false);
		}
	}
	return (true);
}

/* The request target's path and the host it names. */
static bool
sc_target(nghttpw_http_req *req, const char **path, size_t *path_len,
    const char **host, size_t *host_len)
{
	const char *uri = nghttpw_http_req_get_uri(req);
	const char *h   = nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_HOST);

	*host     = h;
	*host_len = h != NULL ? strlen(h) : 0;
	if (uri[0] == '/') {
		*path     = uri;
		*path_len = strcspn(uri, "?#");
		return (true);
	}
	if (strncasecmp(uri, "http://", 7) == 0 ||
	    strncasecmp(uri, "https://", 8) == 0) {
		/* Absolute form: its authority is the host. */
		const char *auth = strstr(uri, "//") + 2;
		size_t      alen = strcspn(auth, "/?#");
		*host            = auth;
		*host_len        = alen;
		*path            = auth + alen;
		*path_len        = strcspn(*path, "?#");
		if (*path_len == 0) {
			*path     = "/";
			*path_len = 1;
		}
		return (alen > 0);
	}
	if (strcmp(uri, "*") == 0) {
		*path     = uri;
		*path_len = 1;
		return (true);
	}
	return (false);
}

/* A request head has arrived: check it and route it.  Returns true when
 * the handler is to be called (by the caller). */
static bool
sc_request(srv_conn *sc)
{
	nghttpw_http_server  *s   = sc->srv;
	nghttpw_http_req     *req = sc->req;
	const char           *version = nghttpw_http_req_get_version(req);
	const char           *method  = nghttpw_http_req_get_method(req);
	const char           *te, *expect, *path, *host;
	size_t                path_len, host_len;
	bool                  chunked, want_continue = false;
	uint64_t              length;
	nghttpw_http_handler *h;
	char                  allow[ALLOW_MAX];

	if (s->proxy_protocol || s->trust != NULL) {
		/* For the log: the client the balancer's header named, or
		 * the one trusted proxies forwarded the request for. */
		nghttpw_sockaddr peer;
		if (nghttpw_http_conn_get_addr(
		        sc->conn, NGHTTPW_OPT_REMADDR, &peer) == 0) {
			http_trust_client(s->trust, req, &peer, &sc->peer);
		}
	}

	sc->have_req     = true;
	sc->head_req     = nhw_http_req_is_head(req);
	sc->body_pending = sc_has_body(req, &chunked, &length);

	if (!nhw_http_version_is(version, "HTTP/1.1") &&
	    !nhw_http_version_is(version, "HTTP/1.0")) {
		sc_error(sc, NGHTTPW_HTTP_STATUS_HTTP_VERSION_NOT_SUPP, true,
		    NULL);
		return (false);
	}
	if (strlen(nghttpw_http_req_get_uri(req)) > MAX_TARGET_LEN) {
		sc_error(sc, NGHTTPW_HTTP_STATUS_ENTITY_TOO_LONG, true, NULL);
		return (false);
	}
	te = nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_TRANSFER_ENCODING);
	if (te != NULL && !str_eq_nocase_trim(te, "chunked")) {
		/* No other coding is understood, so the body cannot be
		 * found: the stream is lost. */
		sc_error(sc, NGHTTPW_HTTP_STATUS_NOT_IMPLEMENTED, true, NULL);
		return (false);
	}
	if (!sc_target(req, &path, &path_len, &host, &host_len) ||
	    !host_field_ok(nhw_http_msg_get_known(nhw_http_req_msg(req),
	                       NHW_HDR_HOST), version) ||
	    (path_len == 1 && path[0] == '*' && strcmp(method, "OPTIONS") != 0)) {
		/* RFC 9112 3.2: an HTTP/1.1 request has exactly one valid
		 * Host field; and '*' only ever targets OPTIONS. */
		sc_error(sc, NGHTTPW_HTTP_STATUS_BAD_REQUEST, true, NULL);
		return (false);
	}
	if (te != NULL && nhw_http_version_is(version, "HTTP/1.0")) {
		/* RFC 9112 6.1: a 1.0 peer may not frame what follows the
		 * way we do, so the connection ends after this answer. */
		sc->close_after = true;
	}
	expect = nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_EXPECT);
	if (expect != NULL) {
		if (!str_eq_nocase_trim(expect, "100-continue")) {
			sc_error(sc, NGHTTPW_HTTP_STATUS_EXPECTATION_FAILED,
			    sc->body_pending, NULL);
			return (false);
		}
		want_continue = sc->body_pending;
	}
	pthread_rwlock_rdlock(&s->hlock);
	h = http_server_route_locked(
	    s, host, host_len, path, path_len, method, sc->head_req, allow);
	if (h != NULL) {
		/* Held: a del_handler meanwhile leaves it to this request. */
		http_handler_hold(h);
	}
	pthread_rwlock_unlock(&s->hlock);
	if (h == NULL) {
		bool wrong_method = allow[0] != '\0';
		sc_error_drain(sc,
		    wrong_method ? NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED
		                 : NGHTTPW_HTTP_STATUS_NOT_FOUND,
		    wrong_method ? allow : NULL, want_continue, chunked, length);
		return (false);
	}
	sc->h = h;
	if (!h->collect || !sc->body_pending) {
		return (true);
	}
	if (!chunked && length > h->max_body) {
		sc_error(sc, NGHTTPW_HTTP_STATUS_PAYLOAD_TOO_LARGE, true, NULL);
		return (false);
	}
	if (want_continue && nhw_http_version_is(version, "HTTP/1.1") &&
	    http_conn_buffered(sc->conn) == 0) {
		sc->state             = SC_CONTINUE;
		sc->cont_iov.iov_buf  = (void *) continue_line;
		sc->cont_iov.iov_len  = sizeof(continue_line) - 1;
		nghttpw_aio_set_iov(sc->aio, 1, &sc->cont_iov);
		nghttpw_aio_set_timeout(sc->aio, sc->idle_ms);
		nghttpw_http_conn_write_all(sc->conn, sc->aio);
		return (false);
	}
	sc_read_body(sc);
	return (false);
}

/* Calls the handler; no lock held. */
static void
sc_call_handler(srv_conn *sc)
{
	nghttpw_http_handler *h = sc->h;

	sc->state = SC_HANDLER;
	atomic_store(&sc->hstate, SC_H_OPEN);
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	if (!nghttpw_aio_begin(sc->aio)) {
		/* Cannot happen (the aio is never stopped); answer 500. */
		nghttpw_aio_finish(sc->aio, NGHTTPW_ECANCELED);
		return;
	}
	nghttpw_aio_set_input(sc->aio, 0, sc->req);
	nghttpw_aio_set_input(sc->aio, 1, h);
	nghttpw_aio_set_input(sc->aio, 2, sc->conn);
	sc->heads_before = http_conn_res_heads(sc->conn);
	h->cb(sc->aio);
	if (!aio_finished(sc->aio)) {
		/* A handler that takes its time (a slow backend, a long
		 * poll) must not hold back the answers queued before it. */
		pthread_mutex_lock(&sc->srv->mtx);
		if (atomic_load(&sc->hstate) == SC_H_OPEN && sc->conn != NULL) {
			http_conn_kick_flush(sc->conn);
		}
		pthread_mutex_unlock(&sc->srv->mtx);
	}
}

/* Idle past the read linger: the socket waits on alone (or is closed
 * when it cannot, as the idle timeout would). */
static void
sc_park(srv_conn *sc)
{
	nghttpw_http_server *s    = sc->srv;
	nghttpw_duration     left = sc->idle_ms < 0
	        ? NGHTTPW_DURATION_INFINITE
	        : sc->idle_ms - HTTP_CONN_READ_LINGER_MS;
	bool                 parked = false;

	pthread_mutex_lock(&s->mtx);
	if (!s->stopping) {
		parked = http_server_park_locked(s, sc->conn, left);
	}
	/* Its objects are freed with other parked ones', in one go, and
	 * their pages given back after (runtime_reap_lazy). */
	sc_end_locked(sc, parked);
	pthread_mutex_unlock(&s->mtx);
}

/* What a failed head read means. */
static void
sc_head_failed(srv_conn *sc, int rv)
{
	if (sc->srv->stopping) {
		/* The read may have been refused before it flushed. */
		sc_close_flushed(sc);
		return;
	}
	if (sc->srv->proxy_protocol && http_conn_proxy_failed(sc->conn)) {
		/* Not from the balancer: no answer (HAProxy's specification
		 * says to drop the connection). */
		sc_close(sc);
		return;
	}
	switch (rv) {
	case NGHTTPW_ETIMEDOUT:
		if (http_conn_linger_ended(sc->conn)) {
			sc_park(sc);
		} else if (http_conn_head_started(sc->conn)) {
			sc_error(
			    sc, NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT, true, NULL);
		} else {
			sc_close(sc); /* idle keep-alive connection */
		}
		break;
	case NGHTTPW_EPROTO:
		sc_error(sc, NGHTTPW_HTTP_STATUS_BAD_REQUEST, true, NULL);
		break;
	case NGHTTPW_EMSGSIZE:
		sc_error(sc, NGHTTPW_HTTP_STATUS_HEADERS_TOO_LARGE, true, NULL);
		break;
	case NGHTTPW_ENOTSUP:
		/* A request body in a transfer coding we cannot undo. */
		sc_error(sc, NGHTTPW_HTTP_STATUS_NOT_IMPLEMENTED, true, NULL);
		break;
	default:
		sc_close(sc); /* gone, reset, closed */
		break;
	}
}

static void
sc_body_failed(srv_conn *sc, int rv)
{
	switch (rv) {
	case NGHTTPW_EMSGSIZE:
		sc_error(sc, NGHTTPW_HTTP_STATUS_PAYLOAD_TOO_LARGE, true, NULL);
		break;
	case NGHTTPW_EPROTO:
		sc_error(sc, NGHTTPW_HTTP_STATUS_BAD_REQUEST, true, NULL);
		break;
	case NGHTTPW_ETIMEDOUT:
		sc_error(sc, NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT, true, NULL);
		break;
	default:
		sc_close(sc);
		break;
	}
}

static void
sc_read_done(srv_conn *sc, int rv)
{
	bool call_handler = false;

	switch (sc->state) {
	case SC_READ_HEAD:
		if (rv != 0) {
			sc_head_failed(sc, rv);
		} else {
			call_handler = sc_request(sc);
		}
		break;
	case SC_READ_BODY:
		if (rv != 0) {
			sc_body_failed(sc, rv);
		} else {
			sc->body_pending = false;
			call_handler     = true;
		}
		break;
	default: { /* SC_DRAIN */
		nghttpw_http_res *res = sc->res;
		sc->res               = NULL;
		if (rv == 0) {
			sc->body_pending = false;
		} else {
			sc->close_after = true;
		}
		if (rv == 0 || rv == NGHTTPW_EMSGSIZE) {
			sc_write(sc, res);
		} else if (rv == NGHTTPW_EPROTO || rv == NGHTTPW_ETIMEDOUT) {
			/* The body was malformed or too slow: that is the
			 * answer now, and the stream ends with it. */
			nghttpw_http_res_free(res);
			sc_error(sc,
			    rv == NGHTTPW_EPROTO ? NGHTTPW_HTTP_STATUS_BAD_REQUEST
			                         : NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT,
			    true, NULL);
		} else {
			nghttpw_http_res_free(res); /* the peer is gone */
			sc_close(sc);
		}
		break;
	}
	}
	if (call_handler) {
		sc_call_handler(sc);
	}
}

static void
sc_handler_done(srv_conn *sc, int rv)
{
	nghttpw_http_server *s   = sc->srv;
	nghttpw_http_res    *res = nghttpw_aio_get_output(sc->aio, 0);
	bool                 answered;

	if (atomic_exchange(&sc->hstate, SC_H_SHUT) == SC_H_HIJACKED) {
		/* The connection and the request are the handler's now, and
		 * no response is ours to send.  Answers still queued for
		 * earlier pipelined requests leave before the handler's first
		 * read or write on it (a handler that closes it at once drops
		 * them). */
		pthread_mutex_lock(&s->mtx);
		/* The connection is not touched: the handler may have closed
		 * it already (hijack let go of it). */
		sc->conn = NULL;
		sc->req  = NULL;
		sc_close_locked(sc);
		pthread_mutex_unlock(&s->mtx);
		return;
	}
	/* A handler that wrote a response head on the connection itself
	 * answered: nothing of ours may follow it. */
	answered = http_conn_res_heads(sc->conn) != sc->heads_before;
	if (rv != 0 && !answered) {
		nghttpw_http_res_free(res);
		sc_error(sc, NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR, true, NULL);
	} else {
		if (sc->body_pending && http_conn_body_done(sc->conn, sc->req)) {
			/* The handler read the body to its end itself
			 * (read_body): the next request can follow. */
			sc->body_pending = false;
		}
		if (res == NULL || answered) {
			/* The handler wrote its answer on the connection
			 * itself (as in nng; a response it gives besides is
			 * dropped).  The next request follows, unless the
			 * answer failed or was left unfinished: a body cut
			 * short cannot be mended but by the close. */
			nghttpw_http_res_free(res);
			http_handler_release(sc->h);
			sc->h = NULL;
			if (rv != 0 || sc->body_pending || sc->close_after ||
			    nghttpw_http_conn_must_close(sc->conn) ||
			    http_conn_chunk_open(sc->conn)) {
				sc_close(sc);
			} else {
				sc_read_next(sc);
			}
			return;
		}
		if (nhw_http_res_is_error(res)) {
			/* Made by nghttpw_http_res_alloc_error and left as
			 * it was: the server's own page for the status goes
			 * out instead, as nng does.  On failure the default
			 * page stays. */
			(void) nghttpw_http_server_res_error(s, res);
		}
		sc_write(sc, res);
	}
}

static void
sc_write_done(srv_conn *sc, int rv)
{
	nghttpw_http_server  *s     = sc->srv;
	size_t                count = nghttpw_aio_count(sc->aio);
	nghttpw_http_res     *res   = sc->res;
	nghttpw_http_handler *h     = sc->h;
	server_log_fn         log_fn = NULL;
	void                 *log_arg = NULL;

	if (sc->state == SC_CONTINUE) {
		if (rv != 0) {
			sc_close(sc);
		} else {
			sc_read_body(sc);
		}
		return;
	}
	sc->res = NULL;
	sc->h   = NULL;
	if (atomic_load(&s->log_on)) {
		pthread_rwlock_rdlock(&s->hlock);
		log_fn  = s->log_fn;
		log_arg = s->log_arg;
		pthread_rwlock_unlock(&s->hlock);
	}
	/* A batched answer is logged when queued, before it is sent (a
	 * failed flush closes the connection later). */
	if (log_fn != NULL) {
		size_t head = nhw_http_res_head_size(res);
		log_fn(log_arg, sc->have_req ? sc->req : NULL, res, &sc->peer,
		    rv == 0 && count > head ? (uint64_t) (count - head) : 0);
	}
	nghttpw_http_res_free(res);
	if (h != NULL) {
		http_handler_release(h);
	}
	if (rv != 0 || sc->close_after || nghttpw_http_conn_must_close(sc->conn)) {
		sc_close(sc);
	} else {
		sc_read_next(sc);
	}
}

/* The callback of the connection's one aio: what finished is what the
 * state says was started. */
static void
sc_cb(void *arg)
{
	srv_conn *sc = arg;
	int       rv = nghttpw_aio_result(sc->aio);

	switch (sc->state) {
	case SC_READ_HEAD:
	case SC_READ_BODY:
	case SC_DRAIN:
		sc_read_done(sc, rv);
		break;
	case SC_HANDLER:
		sc_handler_done(sc, rv);
		break;
	case SC_CONTINUE:
	case SC_WRITE:
		sc_write_done(sc, rv);
		break;
	case SC_FLUSH:
		sc_close(sc);
		break;
	case SC_DONE:
		break; /* the close or stop got here first */
	}
}

void
http_server_conn_start_locked(nghttpw_http_server *s, nghttpw_stream *stream)
{
	http_server_conn_resume_locked(s, stream, false, NULL);
}

void
http_server_conn_resume_locked(nghttpw_http_server *s, nghttpw_stream *stream,
    bool proxy_read, nghttpw_sockaddr *proxied)
{
	srv_conn          *sc;
	nghttpw_http_conn *conn;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		nghttpw_stream_free(stream);
		free(proxied);
		return;
	}
	if (nghttpw_http_conn_alloc(&conn, stream) != 0) {
		nghttpw_stream_free(stream);
		free(proxied);
		free(sc);
		return;
	}
	http_conn_give_proxied(conn, proxied);
	if (stream_aio_alloc(stream, &sc->aio, sc_cb, sc) != 0 ||
	    nghttpw_http_req_alloc(&sc->req, NULL) != 0) {
		nghttpw_aio_free(sc->aio);
		nghttpw_http_conn_close(conn);
		free(sc);
		return;
	}
	sc->srv     = s;
	sc->conn    = conn;
	sc->idle_ms = s->idle_ms;
	atomic_init(&sc->hstate, SC_H_SHUT);
	http_conn_set_owner(conn, sc);
	if (s->proxy_protocol && !proxy_read) {
		http_conn_expect_proxy_header(conn);
	}
	http_conn_set_trust(conn, s->trust);
	task_init(&sc->reap, sc_reap, sc);
	(void) nghttpw_http_conn_get_addr(conn, NGHTTPW_OPT_REMADDR, &sc->peer);
	http_conn_set_read_timeouts(conn, s->idle_ms, s->head_ms);
	/* A client that stops reading its response is dropped after the
	 * idle time without progress (slow-read defence). */
	http_conn_set_write_stall(conn, s->idle_ms);
	if (tcp_stream_detachable(stream) &&
	    (s->idle_ms < 0 || s->idle_ms > HTTP_CONN_READ_LINGER_MS)) {
		http_conn_set_park(conn, true);
	}
	list_append(&s->conns, &sc->node);
	if (s->stopping) {
		sc_close_locked(sc);
		return;
	}
	/* Not stopping: sc_read_next does not take the lock we hold. */
	sc_read_next(sc);
}

/* Serves one given stream as if the listener had accepted it (for
 * tests and fuzz targets, which hand the server a scripted stream).  The
 * server need not be started.  The stream is the server's from now on,
 * freed (with its connection) once the server is done with it, also on
 * failure. */
int
http_server_serve_stream(nghttpw_http_server *s, nghttpw_stream *stream)
{
	if (s == NULL || stream == NULL) {
		nghttpw_stream_free(stream);
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	http_server_conn_start_locked(s, stream);
	pthread_mutex_unlock(&s->mtx);
	return (0);
}

/* The owner of a hijacked connection: no server's any more. */
static char hijacked;

int
nghttpw_http_hijack(nghttpw_http_conn *conn)
{
	srv_conn *sc;
	void     *owner;
	int       open = SC_H_OPEN;
	int       rv   = NGHTTPW_ESTATE;

	if (conn == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((owner = http_conn_owner(conn)) == &hijacked) {
		return (0); /* twice is harmless */
	}
	if ((sc = owner) == NULL) {
		return (NGHTTPW_ESTATE); /* not a server's */
	}
	pthread_mutex_lock(&sc->srv->mtx);
	if (atomic_compare_exchange_strong(&sc->hstate, &open, SC_H_HIJACKED)) {
		sc->conn = NULL; /* stop must not close it from now on */
		/* nor keep it from reading requests, if it began already,
		 * nor end its reads for a park */
		http_conn_resume_idle(conn);
		http_conn_set_park(conn, false);
		/* From here the handler may close the connection at any time,
		 * even before its call returns: it must not point to sc. */
		http_conn_set_owner(conn, &hijacked);
		rv = 0;
	} else if (open == SC_H_HIJACKED) {
		rv = 0; /* twice is harmless */
	}
	pthread_mutex_unlock(&sc->srv->mtx);
	return (rv);
}
