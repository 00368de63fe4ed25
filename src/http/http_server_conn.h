/* The records of a server and of its connections, shared by
 * http_server.c (servers: registry, error pages, routing, start and stop)
 * and http_server_conn.c (each connection's request cycle).  Nothing
 * here is public. */
#ifndef NGHTTPW_HTTP_SERVER_CONN_H
#define NGHTTPW_HTTP_SERVER_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/list.h"
#include "core/task.h"
#include "http/http_server.h"
#include "nghttpw/http.h"

/* Room for the Allow field of a 405. */
#define ALLOW_MAX 256

typedef struct error_page {
	struct error_page *next;
	uint16_t           status;
	size_t             len;
	char               body[];
} error_page;

/* A field added to every response (http_server_headers.c). */
typedef struct server_header server_header;

typedef void (*server_log_fn)(void *, nghttpw_http_req *, nghttpw_http_res *,
    const nghttpw_sockaddr *, uint64_t);

struct nghttpw_http_server {
	list_node    node; /* in servers */
	unsigned     refs; /* guarded by http_registry_mtx */
	nghttpw_url *url; /* tcp:// or tls+tcp://: what it listens on */

	pthread_mutex_t          mtx;
	pthread_cond_t           cv;
	nghttpw_stream_listener *listener;
	nghttpw_tls_config      *tls;
	nghttpw_aio             *accept_aio;
	bool                     accept_sleeping;
	unsigned                 starts;
	bool                     running;  /* accepting connections */
	atomic_bool              stopping; /* no new requests are read */
	list_node                conns;
	list_node                parked; /* idle sockets (srv_parked) */
	error_page              *pages;
	nghttpw_duration         idle_ms;
	nghttpw_duration         head_ms;
	nghttpw_duration         stop_ms;
	nghttpw_duration         tls_hs_ms; /* 0: the TLS listener's own */
	bool                     reuseport; /* SO_REUSEPORT on each listener */
	bool                     proxy_protocol; /* connections start with one */
	struct http_trust       *trust; /* trusted proxies, or NULL */

	/* Read by every request, changed rarely: under hlock. */
	pthread_rwlock_t hlock;
	list_node        handlers;
	server_log_fn    log_fn;
	void            *log_arg;
	atomic_bool      log_on; /* log_fn is set: worth taking hlock */
	server_header   *headers;
	atomic_bool      headers_on; /* headers is set: worth taking hlock */
};

/* Adds the server's own fields to res, where res has none of that name. */
void http_server_headers_apply(nghttpw_http_server *, nghttpw_http_res *);

/* Frees the server's fields (when the server is freed). */
void http_server_headers_free(nghttpw_http_server *);

typedef enum {
	SC_READ_HEAD, /* read_req */
	SC_CONTINUE,  /* writing "100 Continue" */
	SC_READ_BODY, /* the body for the handler */
	SC_DRAIN,     /* a small body nobody wants, then res */
	SC_HANDLER,   /* the handler */
	SC_WRITE,     /* the response */
	SC_FLUSH,     /* queued answers before a close (stop) */
	SC_DONE,      /* closed or hijacked; the reaper frees it */
} sc_state;

/* Whether the handler may hijack: open while it runs. */
enum { SC_H_SHUT, SC_H_OPEN, SC_H_HIJACKED };

typedef struct srv_conn {
	list_node             node; /* in the server's conns */
	nghttpw_http_server  *srv;
	nghttpw_http_conn    *conn; /* NULL once closed or hijacked */
	nghttpw_http_req     *req;  /* NULL once hijacked */
	nghttpw_http_res     *res;  /* being (or waiting to be) written */
	nghttpw_http_handler *h;    /* serving this request (held) */
	nghttpw_aio          *aio;  /* every step in turn: see sc_cb */
	sc_state              state;
	atomic_int            hstate; /* SC_H_* */
	unsigned              pins;   /* stop is using the aio unlocked */
	bool                  reaping; /* sc_reap is freeing it: stop keeps off */
	nghttpw_duration      idle_ms;
	bool                  have_req;     /* req holds this request's head */
	bool                  head_req;     /* HEAD: the head only */
	bool                  close_after;  /* the stream ends after res */
	bool                  body_pending; /* a body was left unread */
	uint64_t              heads_before; /* http_conn_res_heads then */
	nghttpw_sockaddr      peer;
	nghttpw_iov           cont_iov;
	task                  reap;
} srv_conn;

/* The handler for a request (NULL: none), and in allow the methods its
 * path takes when only the method failed.  is_head says that method is
 * HEAD.  Caller holds s->hlock. */
nghttpw_http_handler *http_server_route_locked(nghttpw_http_server *s,
    const char *host, size_t host_len, const char *path, size_t path_len,
    const char *method, bool is_head, char *allow);

/* Takes on an accepted stream (freed on failure).  Caller holds
 * s->mtx. */
void http_server_conn_start_locked(
    nghttpw_http_server *s, nghttpw_stream *stream);

/* The same for the socket of a parked connection: when proxy_read, its
 * PROXY header was read before it parked, and proxied (taken, may be
 * NULL) holds the addresses it gave. */
void http_server_conn_resume_locked(nghttpw_http_server *s,
    nghttpw_stream *stream, bool proxy_read, nghttpw_sockaddr *proxied);

/* Parks an idle connection's TCP stream (http_server_park.c): its socket
 * waits for the next request in a small record, for the idle time left
 * (idle_ms, or NGHTTPW_DURATION_INFINITE), and is served as a new
 * connection once readable.  False when it cannot (out of memory, not
 * a TCP stream, or one closed or still busy: tcp_stream_detach's
 * NGHTTPW_ESTATE): the stream is untouched then.  On success the stream
 * acts closed: the caller closes and frees it, which leaves the socket
 * open.  Caller holds s->mtx; s is not stopping. */
bool http_server_park_locked(nghttpw_http_server *s, nghttpw_http_conn *conn,
    nghttpw_duration idle_ms);

/* For stop: closes every parked socket (their records leave s->parked
 * soon after, with s->cv broadcast).  Caller holds s->mtx. */
void http_server_unpark_all_locked(nghttpw_http_server *s);

#endif
