/* The WebSocket connection's insides, shared by ws_conn.c (lifetime,
 * closing, timer, options), ws_read.c, ws_write.c and ws_api.c (the
 * operations users start).  Everything here is under the connection's
 * mutex unless said otherwise. */
#ifndef NGHTTPW_WS_CONN_H
#define NGHTTPW_WS_CONN_H

#include <pthread.h>

#include "core/loop.h"
#include "core/task.h"
#include "nghttpw/ws.h"
#include "ws/ws_frame.h"
#include "ws/ws_impl.h"

typedef struct ws_conn ws_conn;

#define WS_RBUF_SIZE (16u * 1024u)
#define WS_RBUF_IDLE 128 /* read into while frames come small or not at all */
#define WS_WBUF_SIZE (64u * 1024u) /* a client masks this much at a go */
#define WS_LINGER_MS 2000          /* for the closing handshake */
#define WS_ZBUF_SIZE (64u * 1024u) /* compressed bytes, a frame at most */

enum { OP_STREAM, OP_MSG, OP_FRAME, OP_PING };

typedef struct ws_op {
	nghttpw_aio *aio;
	uint8_t      kind;
	uint8_t      type; /* WS_OP_TEXT or WS_OP_BINARY */
	bool         fin;
	bool         sent; /* a ping that is out, waiting for its pong */
	unsigned    *flagsp;
	const void  *data; /* a ping's payload (the caller's) */
	size_t       len;  /* ... its length; a send's bytes */
} ws_op;

typedef struct {
	ws_op *v;
	size_t n;
	size_t cap;
} opq;

/* What the write in flight carries. */
enum { WR_NONE, WR_DATA, WR_CONTROL };

struct ws_conn {
	nghttpw_stream     stream; /* ours, handed to the user */
	pthread_mutex_t    mtx;
	unsigned           refs;
	nghttpw_http_conn *http;
	bool               server;
	ws_settings        set;
	ws_handshake_info  hi;
	task               free_task;

	/* Read side. */
	nghttpw_aio *rx_aio;
	bool         rd_busy;
	uint8_t     *rbuf;     /* rbuf_idle, or WS_RBUF_SIZE of the heap */
	size_t       rcap;
	bool         rd_small; /* the last read brought less than rbuf_idle holds */
	uint8_t      rbuf_idle[WS_RBUF_IDLE];
	size_t       rpos;
	size_t       rlen;
	bool         in_frame;
	ws_head      cur;
	uint64_t     left;    /* payload of cur still to come */
	unsigned     phase;   /* mask phase within cur */
	bool         checked; /* cur was checked against the head reader */
	bool         in_msg;
	uint8_t      msg_type;
	uint64_t     msg_len;
	bool         skip_msg; /* its reader gave up on it: drop the rest */
	bool         msg_streamed; /* stream reads have taken its bytes */
	ws_utf8      utf8;
	bool         msg_z;    /* it is compressed (RSV1 on its first frame) */
	uint64_t     msg_out;  /* ... and inflated to this many bytes so far */
	z_stream    *zin;      /* the decompressor, while it is needed */
	size_t       rx_plain; /* bytes after rpos unmasked in place already */
	bool         z_pending; /* it may hold output for want of room */
	unsigned     z_tail;    /* bytes of the message's trailer inflated */
	opq          recvq;
	unsigned     r_idx; /* the head reader's cursor */
	size_t       r_off;
	size_t       r_count;
	int          rx_err; /* what readers get now that reading is over */
	bool         rx_done;
	nghttpw_time last_rx;

	/* Write side. */
	nghttpw_aio *tx_aio;
	int          wr_what;
	size_t       wr_payload; /* of the head op, in the write in flight */
	size_t       wr_head;    /* frame head bytes before it */
	opq          sendq;
	size_t       sendq_bytes; /* the payload queued in sendq */
	unsigned     w_idx; /* the head op's cursor */
	size_t       w_off;
	size_t       w_count;
	bool         w_started; /* the head op has a frame out */
	bool         w_in_frame;
	bool         w_fin;
	uint64_t     w_left;
	unsigned     w_phase;
	uint8_t      w_mask[4];
	bool         w_msg_open; /* frames sent without a FIN yet */
	int          w_abort;    /* the head op's cancel, while written */
	bool         w_text;     /* ... and it is text */
	ws_utf8      w_utf8;     /* ... so far */
	bool         w_z;        /* the message goes compressed */
	bool         w_z_done;   /* the head op's bytes are all in zbuf */
	bool         wr_z;       /* the write in flight is a compressed frame */
	bool         wr_zlast;   /* ... the last of the head op */
	size_t       w_z_in;     /* the head op's bytes compressed so far */
	z_stream    *zout;       /* the compressor, while it is needed */
	uint8_t     *zbuf;       /* its output, WS_ZBUF_SIZE */
	size_t       zlen;
	uint8_t      whead[WS_HEAD_MAX + WS_CONTROL_MAX];
	uint8_t     *wbuf; /* a client's masked payload */
	nghttpw_iov *wiov;
	unsigned     wiov_cap;
	bool         pong_due;
	uint8_t      pong[WS_CONTROL_MAX];
	size_t       pong_len;
	bool         ka_ping_due;
	bool         ka_ping_out;
	opq          pingq;

	/* Closing. */
	bool         close_due;
	bool         close_sent; /* being written, or written */
	bool         close_out;  /* written */
	bool         close_rcvd;
	bool         failing; /* 7.1.7: no waiting for the peer */
	bool         torn_down;
	bool         user_closed;
	uint8_t      close_body[WS_CONTROL_MAX];
	size_t       close_len;
	int          peer_code;
	char         peer_reason[WS_CONTROL_MAX];
	nghttpw_aio *close_user;
	nghttpw_time deadline; /* tear down then, 0: none */

	/* The timer: pings, idle close and the closing deadline. */
	nghttpw_aio *tm_aio;
	bool         tm_busy;

	/* Listed while it closes with no owner (it holds a reference):
	 * nghttpw_fini ends it. */
	runtime_linger linger;
};

/* Queues of operations.  Sends leave theirs with ws_sendq_remove, which
 * keeps the count of bytes queued. */
int    ws_opq_push(opq *q, const ws_op *op);
void   ws_sendq_remove(ws_conn *c, size_t i);
ws_op *ws_opq_head(opq *q);
void   ws_opq_remove(opq *q, size_t i);
bool   ws_opq_find(const opq *q, nghttpw_aio *aio, size_t *ip);

/* A cursor (entry, offset) into an aio's iov. */
size_t   ws_iov_space(nghttpw_aio *aio, unsigned idx, size_t off);
size_t   ws_iov_total(nghttpw_aio *aio);
/* Feeds the aio's bytes to u; false when they cannot be UTF-8, or (fin)
 * end inside a character. */
bool     ws_iov_utf8(ws_utf8 *u, nghttpw_aio *aio, bool fin);
void     ws_iov_advance(nghttpw_aio *aio, unsigned *idx, size_t *off, size_t n);
unsigned ws_iov_slice(nghttpw_aio *aio, unsigned idx, size_t off, size_t len,
    nghttpw_iov *out, unsigned max);

/* Drops a reference; the caller holds the mutex, which is released. */
void ws_conn_release_unlock(ws_conn *c);

/* The closing handshake and failures (ws_conn.c). */
void ws_set_peer_close(ws_conn *c, int code, const uint8_t *reason, size_t len);
void ws_close_queue(ws_conn *c, uint16_t code, const char *reason, size_t len);
void ws_fail_users(ws_conn *c, int recv_rv);
void ws_fail(ws_conn *c, uint16_t code, int rv);
void ws_close_progress(ws_conn *c);
void ws_teardown(ws_conn *c);

/* Finishes the send at the head of the queue, whose message the end of
 * the connection cut short (with its cancel's error, or ECLOSED). */
void ws_cut_head_send(ws_conn *c);

/* What a close waiter learns: 0 after a clean closing handshake, else
 * NGHTTPW_ECLOSED. */
int ws_close_result(const ws_conn *c);
void ws_tm_arm(ws_conn *c);

/* Writing (ws_write.c): starts the next write if the writer is free. */
void ws_tx_run(ws_conn *c);
void ws_tx_cb(void *arg);
int  ws_wiov_reserve(ws_conn *c, unsigned n);

/* Reading (ws_read.c): goes on as far as it can. */
void ws_rx_run(ws_conn *c);
void ws_rx_cb(void *arg);
void ws_reader_done(ws_conn *c, int rv);

/* The stream's send and recv (ws_api.c), for the stream table. */
void ws_stream_send(void *arg, nghttpw_aio *aio);
void ws_stream_recv(void *arg, nghttpw_aio *aio);
extern const nghttpw_stream_ops ws_stream_ops;

#endif
