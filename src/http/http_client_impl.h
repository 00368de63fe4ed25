/* The HTTP client's internals, shared by http_client.c (operations,
 * the pool, Expect: 100-continue) and http_client_proxy.c (forward
 * proxies: their settings and the CONNECT tunnel). */
#ifndef NGHTTPW_HTTP_CLIENT_IMPL_H
#define NGHTTPW_HTTP_CLIENT_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "nghttpw/http.h"
#include "platform/mutex.h"

#define CLIENT_MAX_IDLE 8        /* idle connections kept per client */
#define CLIENT_MAX_SPARE 16      /* finished ops kept for the next ones */
#define EXPECT_WAIT_MS 1000      /* how long a body waits for 100 */
#define CLIENT_OPT_TLS "tls-config"

struct nghttpw_http_client {
	plat_mutex             mtx;
	nghttpw_url           *url;
	nghttpw_stream_dialer *dialer;
	/* Idle connections, oldest first; taken from the end. */
	nghttpw_http_conn *idle[CLIENT_MAX_IDLE];
	size_t             nidle;
	/* Finished ops with their aios, so that an exchange allocates
	 * nothing and hands no aio to the reaper thread. */
	struct client_op  *spare;
	size_t             nspare;
	size_t             max_body; /* of a response */
	nghttpw_duration   connect_timeout; /* of each dial */
	/* Changes with the TLS configuration and the proxy: a connection
	 * had before (being dialed, in use, lent) is closed at its end, as
	 * the idle ones were at once. */
	uint64_t generation;

	/* A forward proxy (http_client_proxy.c), used when proxy_dialer is
	 * set: dials go to it.  https, ws and wss origins are reached
	 * through a CONNECT tunnel (tunnel); requests to an http origin
	 * go to the proxy itself with absolute-form targets (via_prefix). */
	nghttpw_stream_dialer *proxy_dialer;
	bool                   tunnel;
	bool                   origin_tls; /* https and wss: TLS in the tunnel */
	char                  *via_prefix; /* "http://host:port" */
	char                  *proxy_auth; /* "Proxy-Authorization: ...\r\n" */
	char                  *authority;  /* the origin's "host:port" */
};

typedef enum {
	ST_DIAL,     /* aio: dialing */
	ST_EXCHANGE, /* aio: nghttpw_http_conn_transact */
	ST_EXPECT,   /* the composed exchange for Expect: 100-continue */
	ST_WRITE,    /* streaming form, aio: nghttpw_http_conn_write_req */
	ST_HEAD,     /* streaming form, aio: nghttpw_http_conn_read_res */
	ST_TUNNEL_SEND, /* aio: the CONNECT request to the proxy */
	ST_TUNNEL_RECV, /* aio: the proxy's answer */
	ST_TUNNEL_TLS,  /* aio: the TLS handshake with the origin in it */
} op_stage;

/* The body of the request, for the composed exchange. */
typedef enum {
	BODY_WAITING, /* not sent yet: waiting for 100, a final answer or time */
	BODY_SENDING,
	BODY_SENT,
	BODY_SKIPPED, /* a final response came first, or the write failed
	                 after it: the connection is not reused */
} body_state;

typedef struct client_op {
	/* Kept while the op waits in the client's spares. */
	nghttpw_http_client *cl;
	struct client_op    *next_spare;
	nghttpw_aio         *aio; /* dial, transact; composed: writes */
	nghttpw_aio         *rio; /* composed: reads (made when first needed) */
	nghttpw_aio         *tio; /* composed: the wait for 100 */

	/* Cleared for each operation, from user to the composed exchange's
	 * state, which x_start() sets. */
	nghttpw_aio         *user;     /* the caller's aio, NULL once done */
	nghttpw_http_req    *req;      /* NULL for connect */
	nghttpw_http_res    *res;
	nghttpw_http_conn   *conn;     /* the connection in use */
	op_stage             stage;
	int                  abort_rv; /* the caller's cancel or timeout */
	bool                 reused;   /* conn came from the idle pool */
	bool                 retried;
	bool                 expect;
	bool                 stream;   /* ends with the head (transact_stream) */
	size_t               max_body; /* of the response */
	uint64_t             rx_mark;  /* http_conn_received before it */
	uint64_t             generation; /* the client's, when conn was had */
	/* The dial, up to a connection (tunnel and handshake included):
	 * bounded by the connect timeout as a whole. */
	nghttpw_time         dial_deadline; /* 0: no bound */
	bool                 via_proxy; /* the client's proxy, at the dial */
	bool                 tunnel;    /* ... and CONNECT through it */
	nghttpw_stream      *tun;      /* to the proxy, while CONNECT runs */
	char                *tun_buf;  /* the CONNECT request, then answer */
	size_t               tun_len;
	size_t               tun_off;
	nghttpw_iov          tun_iov;

	/* Completion, set under the lock, acted on after it. */
	bool         done;
	nghttpw_aio *fin_aio;
	int          fin_rv;

	/* The composed exchange. */
	int         err;       /* first failure: everything is aborted */
	bool        wr_busy;   /* aio pending */
	bool        rd_busy;   /* rio pending */
	bool        tm_busy;   /* tio pending */
	bool        head_sent;
	bool        got_final;
	bool        resp_done; /* the final response is complete */
	body_state  body;
	nghttpw_iov head_iov;
	nghttpw_iov body_iov[3];
	unsigned    body_niov;
	char        chunk_head[24];
} client_op;

/* In http_client.c, lock held: sets the dial's bound on op->aio before
 * each step of the dial; takes the stream s the dial made (rv 0), or its
 * failure, and goes on with the operation. */
void client_dial_bound(client_op *op);
void client_dialed(client_op *op, int rv, nghttpw_stream *s);

/* In http_client_proxy.c, lock held: opens the tunnel over s, the
 * stream to the proxy, and then calls client_dialed; takes the end of a
 * step of it (op->stage ST_TUNNEL_*).  Both go on in op->aio. */
void client_tunnel_start(client_op *op, nghttpw_stream *s);
void client_tunnel_step(client_op *op, int rv);
/* Frees the proxy settings (client free). */
void client_proxy_clear(nghttpw_http_client *cl);

#endif
