/* The insides of an HTTP connection, shared by its read side and
 * queues (http_conn.c), its write side (http_conn_write.c) and its chunk
 * writer (http_conn_chunk.c). */
#ifndef NGHTTPW_HTTP_CONN_IMPL_H
#define NGHTTPW_HTTP_CONN_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/aio.h"
#include "core/list.h"
#include "core/loop.h"
#include "core/stream.h"
#include "http/http_conn.h"
#include "http/http_parse.h"
#include "nghttpw/http.h"

#define IDLE_BUF_SIZE 16

typedef enum {
	RD_SOME,  /* read: some bytes into the user's iov */
	RD_ALL,   /* read_all: fill the user's iov */
	RD_HEAD,  /* read_req / read_res: a message head */
	RD_WHOLE, /* transact: a response head and its body */
	RD_BODY,  /* the body of the request head just read (server) */
	RD_STREAM, /* read_body: the next body bytes into the user's iov */
} read_kind;

typedef enum {
	WR_SOME, /* write */
	WR_ALL,  /* write_all, write_req, write_res, transact's request */
} write_kind;

/* What a user aio asks for, kept in it (prov_op, with its messages in
 * prov_arg) while it waits in a queue. */
typedef enum {
	/* Reads first: conn_start tells the side by the order. */
	OP_READ,
	OP_READ_ALL,
	OP_READ_REQ,
	OP_READ_RES,
	OP_READ_BODY,
	OP_WRITE,
	OP_WRITE_ALL,
	OP_WRITE_REQ,
	OP_WRITE_RES,
	OP_WRITE_RES_HEAD,
	OP_WRITE_REQ_HEAD,
	OP_WRITE_CHUNK,
	OP_WRITE_REQ_TRAILER,
	OP_WRITE_RES_TRAILER,
	OP_BATCH_RES,      /* http_conn_write_res_batched */
	OP_BATCH_RES_HEAD, /* the same, head only */
	OP_FLUSH,          /* http_conn_flush */
	OP_TRANSACT,
} conn_op;

/* Where the chunked message being written is, as seen by the write that
 * starts next (writes start in order). */
typedef enum {
	CH_NONE,    /* no chunked message: a chunk is out of place */
	CH_OPEN,    /* its head is out (or going): chunks may follow */
	CH_DISCARD, /* the same, but it answers HEAD (or is a 1xx, 204 or
	             * 304): its chunks are dropped, not sent */
	CH_RAW,     /* the same, but it answers HTTP/1.0, which knows no
	             * chunks: their data goes out as is, and the close of
	             * the connection ends the body */
} chunk_state;

struct nghttpw_http_conn {
	plat_mutex mtx;
	nghttpw_stream *stream;
	bool            closed;
	atomic_bool     must_close; /* read by the owner without the mutex */
	bool            no_idle;    /* http_conn_stop_idle was called */
	void *_Atomic   owner;
	void           *lender;   /* http_conn_set_lender */
	uint64_t        lease;
	size_t          max_head;
	size_t          max_fields;
	size_t          max_body;
	task            reap_task;

	/* Read side. */
	nghttpw_aio *rd_sio;
	nghttpw_aio *rd_user;
	list_node    rd_q;        /* user aios waiting for rd_user's end */
	bool         rd_starting; /* rd_next is starting queued reads */
	read_kind    rd_kind;
	int          rd_abort;
	size_t       rd_done; /* bytes delivered into the user's iov */
	char        *rbuf; /* NULL while idle (see READ_LINGER_MS) */
	size_t       rcap;
	size_t       rpos; /* first byte not yet consumed */
	size_t       rlen; /* end of received bytes */
	uint64_t     received; /* bytes ever received (http_conn_received) */
	bool         rd_cold;     /* an idle wait: no rbuf until bytes come */
	bool         rd_ready_wait; /* rd_sio waits for readability */
	bool         no_ready_wait; /* the stream cannot: wait in idle_buf */
	bool         rd_linger;   /* the stream recv is bounded by the linger */
	bool         rd_lingered; /* this wait is past its linger */
	bool         raw_only;    /* no head will be read again */
	bool         park;        /* http_conn_set_park */
	bool         linger_ended; /* a read_req ended for parking */
	char         idle_buf[IDLE_BUF_SIZE];
	http_parser  parser;
	bool         body_raw; /* a raw read came after the last head */
	/* Which requests written with write_req and not yet answered were
	 * HEAD requests (bit 0 the oldest), for read_res: their answers
	 * have no body. */
	uint64_t     head_reqs;
	unsigned     nreqs;
	nghttpw_iov *rd_iov; /* scratch for the rest of the user's iov */
	unsigned     rd_iov_cap;
	/* Bounds on request heads (server side). */
	nghttpw_duration idle_ms;
	nghttpw_duration head_ms;
	bool             head_started;
	nghttpw_time     head_deadline;
	/* PROXY protocol (http_conn_proxy.c): a header awaited before the
	 * first request head, and the client and local addresses it gave. */
	bool              proxy_pending;
	nghttpw_sockaddr *proxied; /* [0] remote, [1] local; or NULL */
	struct http_trust *trust; /* whose forwarding fields to believe */
	/* A client's connection to a forward proxy: what its request heads
	 * carry beyond the request (http_conn_set_via), or NULL. */
	nhw_http_via      *via;

	/* Write side. */
	nghttpw_aio       *wr_sio;
	nghttpw_aio       *wr_user;
	list_node          wr_q;
	bool               wr_starting;
	write_kind         wr_kind;
	int                wr_abort;
	const nghttpw_iov *wr_src;
	unsigned           wr_nsrc;
	size_t             wr_done;
	size_t             wr_total;
	nghttpw_iov        msg_iov[4]; /* head, chunk size, body, chunk end */
	char               chunk_head[24];
	nghttpw_iov       *wr_iov;
	unsigned           wr_iov_cap;
	/* The chunked message being written (http_conn_chunk.c). */
	chunk_state        ch_state;
	nghttpw_iov       *ch_iov; /* size line, the caller's iov, CRLF */
	unsigned           ch_iov_cap;
	size_t             ch_line; /* bytes of the size line */
	size_t             ch_data; /* bytes of data in the chunk */
	bool               answer_head; /* the last request read was HEAD */
	bool               answer_10;   /* ... was HTTP/1.0 */
	bool               ch_unchunked; /* conn_chunk_prepare took chunked off */
	uint64_t           res_heads;   /* response heads the user wrote */
	/* A body sent from a file after the head. */
	nghttpw_duration   wr_stall_ms; /* bound on a send moving nothing */
	int                wr_file_fd;
	uint64_t           wr_file_off;
	uint64_t           wr_file_left;
	bool               wr_file_bounce; /* no sendfile: read, then send */
	char              *wr_bounce;
	/* Queued answers (NULL while idle, like rbuf).  While they are
	 * flushed the write side's stream aio is theirs, and a recv or send
	 * that wants the stream waits (rd_/wr_after_flush). */
	char              *obuf;
	size_t             ocap;
	size_t             olen;
	size_t             osent;
	bool               flushing;
	bool               rd_after_flush;
	bool               wr_after_flush;

	/* Transact: the response being read (once the request is out). */
	nghttpw_http_res *tx_res;
	bool              tx_head_request;
};

/* Both sides (http_conn.c). */

size_t conn_iov_total(const nghttpw_iov *iov, unsigned n);
int    conn_iov_set_rest(nghttpw_aio *aio, const nghttpw_iov *src, unsigned n,
       size_t skip, nghttpw_iov **scratch, unsigned *cap);
void   conn_cancel(nghttpw_aio *aio, void *arg, int rv);

/* The read side and its queue (http_conn.c); mutex held. */
void conn_rd_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred);
void conn_rd_finish(nghttpw_http_conn *c, int rv);
void conn_rd_stream_start(nghttpw_http_conn *c);

/* Starting an operation (http_conn.c); mutex not held. */
void conn_start(nghttpw_http_conn *c, nghttpw_aio *aio, conn_op op, bool valid,
    void *arg0, void *arg1);
void conn_start_raw(nghttpw_http_conn *c, nghttpw_aio *aio, conn_op op);

/* The write queue (http_conn.c); mutex held. */
void conn_wr_next(nghttpw_http_conn *c);

/* The write side (http_conn_write.c); mutex held but for the callback. */
void conn_wr_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred);
bool conn_out_flush_first(nghttpw_http_conn *c, bool *waits);
void conn_wr_sio_cb(void *arg);
/* Starts writing the gather list src (n entries, kept by the caller until
 * aio finishes) for aio; false when aio was finished instead. */
bool conn_wr_start_iov(nghttpw_http_conn *c, nghttpw_aio *aio,
    const nghttpw_iov *src, unsigned n, bool deferred);

/* The chunk writer (http_conn_chunk.c); mutex held. */
/* Before a message head is laid out: a chunked response head to an
 * HTTP/1.0 request loses its chunked coding (RFC 9112 6.1) and says
 * Connection: close instead.  Errors: NGHTTPW_ENOMEM. */
int    conn_chunk_prepare(nghttpw_http_conn *c, conn_op op, nhw_http_msg *msg);
/* A message head starts (op): a chunked one opens chunks. */
void   conn_chunk_head(nghttpw_http_conn *c, conn_op op, nhw_http_msg *msg,
      nghttpw_http_res *res);
/* Starts a chunk or the last chunk (conn_wr_activate). */
void   conn_chunk_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred);
/* The pending write ends with rv: what its count is (data bytes for a
 * chunk), and where a failed one leaves the chunked message. */
size_t conn_chunk_write_end(nghttpw_http_conn *c, nghttpw_aio *aio, int rv);

/* http_conn_proxy.c: consumes the PROXY header at the start of the read
 * buffer (0), or returns PROXY_HEADER_MORE, NGHTTPW_EPROTO or
 * NGHTTPW_ENOMEM.  Lock held. */
int conn_take_proxy_header(nghttpw_http_conn *c);

/* The header's address for get_addr's name, when it gave one. */
bool conn_proxied_addr(nghttpw_http_conn *c, const char *name, nghttpw_sockaddr *addr);

#endif
