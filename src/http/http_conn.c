/* HTTP connections: message framing over a stream, one read and one write
 * at a time, a single read buffer per connection.
 *
 * Each side (read, write) has one pending user aio, a queue of the user
 * aios started after it (first in, first out, as in nng), and one
 * internal aio that drives the stream.  The internal aio's callback moves
 * the operation on and finishes the user's aio when it is done, then
 * starts the next queued one; a cancel or timeout of the pending user aio
 * aborts the internal one, whose callback then reports, while a queued
 * one is just taken out.  A transaction waits in the write queue, then
 * once its request is out in the read queue. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "core/aio.h" /* aio_cancel_barrier */
#include "core/loop.h"
#include "core/stream.h"
#include "http/http_conn.h"
#include "http/http_parse.h"
#include "nghttpw/http.h"

#define READ_BUF_INITIAL 4096
/* An idle keep-alive connection gives its read buffer back after this
 * long without a byte, and waits with a few inline bytes instead: the
 * buffer costs no syscall while requests follow each other closely. */
#define READ_LINGER_MS 50
#define IDLE_BUF_SIZE 16
#define FILE_BOUNCE_SIZE (64u * 1024u)
/* Answers to pipelined requests wait in the output buffer (up to this
 * much) and leave with one send; see conn_queue_msg. */
#define OUT_BUF_INITIAL 4096
#define OUT_BUF_MAX (16u * 1024u)

typedef enum {
	RD_SOME,  /* read: some bytes into the user's iov */
	RD_ALL,   /* read_all: fill the user's iov */
	RD_HEAD,  /* read_req / read_res: a message head */
	RD_WHOLE, /* transact: a response head and its body */
	RD_BODY,  /* the body of the request head just read (server) */
} read_kind;

typedef enum {
	WR_SOME, /* write */
	WR_ALL,  /* write_all, write_req, write_res, transact's request */
} write_kind;

/* What a user aio asks for, kept in it (prov_op, with its messages in
 * prov_arg) while it waits in a queue. */
typedef enum {
	OP_READ,
	OP_READ_ALL,
	OP_READ_REQ,
	OP_READ_RES,
	OP_WRITE,
	OP_WRITE_ALL,
	OP_WRITE_REQ,
	OP_WRITE_RES,
	OP_WRITE_RES_HEAD,
	OP_BATCH_RES,      /* http_conn_write_res_batched */
	OP_BATCH_RES_HEAD, /* the same, head only */
	OP_FLUSH,          /* http_conn_flush */
	OP_TRANSACT,
} conn_op;

struct nghttpw_http_conn {
	pthread_mutex_t mtx;
	nghttpw_stream *stream;
	bool            closed;
	atomic_bool     must_close; /* read by the owner without the mutex */
	bool            no_idle;    /* http_conn_stop_idle was called */
	void *_Atomic   owner;
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
	bool         rd_cold;     /* an idle wait: no rbuf until bytes come */
	bool         rd_ready_wait; /* rd_sio waits for readability */
	bool         no_ready_wait; /* the stream cannot: wait in idle_buf */
	bool         rd_linger;   /* the stream recv is bounded by the linger */
	bool         rd_lingered; /* this wait is past its linger */
	bool         raw_only;    /* no head will be read again */
	char         idle_buf[IDLE_BUF_SIZE];
	http_parser  parser;
	nghttpw_iov *rd_iov; /* scratch for the rest of the user's iov */
	unsigned     rd_iov_cap;
	/* Bounds on request heads (server side). */
	nghttpw_duration idle_ms;
	nghttpw_duration head_ms;
	bool             head_started;
	nghttpw_time     head_deadline;

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

static const char chunk_tail_body[]  = "\r\n0\r\n\r\n";
static const char chunk_tail_empty[] = "0\r\n\r\n";

static size_t
iov_total(const nghttpw_iov *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		total += iov[i].iov_len;
	}
	return (total);
}

/* Points aio at what is left of src after skip bytes, using scratch (grown
 * as needed, then reused) to hold the trimmed entries. */
static int
iov_set_rest(nghttpw_aio *aio, const nghttpw_iov *src, unsigned n, size_t skip,
    nghttpw_iov **scratch, unsigned *cap)
{
	unsigned first = 0;

	while (first < n && skip >= src[first].iov_len) {
		skip -= src[first].iov_len;
		first++;
	}
	if (skip == 0) {
		return (nghttpw_aio_set_iov(aio, n - first, src + first));
	}
	if (n - first > *cap) {
		nghttpw_iov *grown = realloc(*scratch, (n - first) * sizeof(*grown));
		if (grown == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		*scratch = grown;
		*cap     = n - first;
	}
	memcpy(*scratch, src + first, (n - first) * sizeof(*src));
	(*scratch)[0].iov_buf = (char *) (*scratch)[0].iov_buf + skip;
	(*scratch)[0].iov_len -= skip;
	return (nghttpw_aio_set_iov(aio, n - first, *scratch));
}

static void rd_finish(nghttpw_http_conn *c, int rv);
static void wr_finish(nghttpw_http_conn *c, int rv);
static int  wr_send_rest(nghttpw_http_conn *c);
static void rd_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred);
static void wr_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred);
static void conn_cancel(nghttpw_aio *aio, void *arg, int rv);

/* Queues. */

/* Keeps what aio asks for in it, for when it starts (perhaps after a
 * wait in a queue).  After nghttpw_aio_begin, which resets the fields. */
static void
op_set(nghttpw_aio *aio, conn_op op, void *arg0, void *arg1)
{
	aio->prov_op     = (uint8_t) op;
	aio->prov_arg[0] = arg0;
	aio->prov_arg[1] = arg1;
}

/* Puts aio at the end of a side's queue; false when it was finished
 * instead (canceled or timed out already).  Mutex held. */
static bool
queue_append(nghttpw_http_conn *c, list_node *q, nghttpw_aio *aio)
{
	if (!nghttpw_aio_defer(aio, conn_cancel, c)) {
		return (false);
	}
	list_append(q, &aio->prov_node);
	return (true);
}

/* Finishes every aio still queued on q (the connection closed). */
static void
queue_fail(list_node *q, int rv)
{
	list_node *node;

	while ((node = list_first(q)) != NULL) {
		list_remove(node);
		nghttpw_aio_finish(LIST_ENTRY(node, nghttpw_aio, prov_node), rv);
	}
}

/* Starts the operations queued on a side, in order, until one is pending
 * (*user set).  A loop, not a recursion: an operation that finishes at
 * once (from buffered bytes, say) calls back here, and *starting makes
 * that inner call return to this loop.  Mutex held. */
static void
queue_run(nghttpw_http_conn *c, list_node *q, nghttpw_aio *const *user,
    bool *starting, void (*activate)(nghttpw_http_conn *, nghttpw_aio *, bool))
{
	list_node *node;

	if (*starting) {
		return;
	}
	if (c->closed) {
		queue_fail(q, NGHTTPW_ECLOSED);
		return;
	}
	*starting = true;
	while (*user == NULL && (node = list_first(q)) != NULL) {
		list_remove(node);
		activate(c, LIST_ENTRY(node, nghttpw_aio, prov_node), true);
	}
	*starting = false;
}

static void
rd_next(nghttpw_http_conn *c)
{
	queue_run(c, &c->rd_q, &c->rd_user, &c->rd_starting, rd_activate);
}

static void
wr_next(nghttpw_http_conn *c)
{
	queue_run(c, &c->wr_q, &c->wr_user, &c->wr_starting, wr_activate);
}

/* Starts a read, or queues it behind the pending one.  aio is begun, its
 * arguments checked and kept in it (op_set).  Mutex held. */
static void
rd_submit(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	if (c->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (c->rd_user == NULL && list_empty(&c->rd_q)) {
		rd_activate(c, aio, false);
	} else {
		(void) queue_append(c, &c->rd_q, aio);
	}
}

/* The same for a write (or a transaction, which starts as one). */
static void
wr_submit(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	if (c->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (c->wr_user == NULL && list_empty(&c->wr_q)) {
		wr_activate(c, aio, false);
	} else {
		(void) queue_append(c, &c->wr_q, aio);
	}
}

/* Output buffer. */

static void
out_send_rest(nghttpw_http_conn *c)
{
	nghttpw_iov iov = { c->obuf + c->osent, c->olen - c->osent };

	nghttpw_aio_set_iov(c->wr_sio, 1, &iov);
	nghttpw_aio_set_timeout(c->wr_sio, c->wr_stall_ms);
	nghttpw_stream_send(c->stream, c->wr_sio);
}

/* The stream is about to be used: queued answers go out first, so that
 * they keep their place before whatever comes next and nobody waits for
 * the network while answers are held back.  Returns true when the
 * caller's step is to wait: *waits (if given) is set, and out_flushed
 * resumes it.
 * Mutex held, connection not closed. */
static bool
out_flush_first(nghttpw_http_conn *c, bool *waits)
{
	if (c->olen == 0) {
		return (false);
	}
	if (waits != NULL) {
		*waits = true;
	}
	if (!c->flushing) {
		c->flushing = true;
		out_send_rest(c);
	}
	return (true);
}

/* Starts what rd_sio is set up for: a recv, or in a cold idle wait a
 * wait for readability. */
static void
rd_stream_start(nghttpw_http_conn *c)
{
	if (c->rd_ready_wait) {
		stream_wait_readable(c->stream, c->rd_sio);
	} else {
		nghttpw_stream_recv(c->stream, c->rd_sio);
	}
}

/* The flush is over: resumes what waited for it.  A failed flush lost
 * answers the peer is owed, so the stream is closed and what waited fails
 * with NGHTTPW_ECLOSED (the server closes the connection, as after any
 * failed write). */
static void
out_flushed(nghttpw_http_conn *c, int rv)
{
	bool rd = c->rd_after_flush;
	bool wr = c->wr_after_flush;

	c->flushing       = false;
	c->rd_after_flush = false;
	c->wr_after_flush = false;
	c->olen = c->osent = 0;
	if (rv != 0) {
		c->must_close = true;
		nghttpw_stream_close(c->stream);
	}
	if (rd) {
		if (rv == 0 && c->rd_abort == 0 && !c->closed) {
			rd_stream_start(c);
		} else {
			/* An abort while waiting took effect only now. */
			rd_finish(c, rv == 0 && c->rd_abort != 0 ? c->rd_abort
			                                         : NGHTTPW_ECLOSED);
		}
	}
	if (wr) {
		if (rv != 0) {
			wr_finish(c, c->wr_abort != 0 ? c->wr_abort : NGHTTPW_ECLOSED);
		} else if (c->wr_abort != 0) {
			wr_finish(c, c->wr_abort); /* cancelled while it waited */
		} else if (c->wr_total == 0) {
			wr_finish(c, 0); /* http_conn_flush: nothing of its own */
		} else if ((rv = wr_send_rest(c)) != 0) {
			wr_finish(c, rv);
		}
	}
}

/* A send of the flush is done (wr_sio's callback, mutex held). */
static void
out_sent(nghttpw_http_conn *c, int rv, size_t n)
{
	c->osent += n;
	if (rv == 0 && c->osent < c->olen) {
		if (!c->closed) {
			out_send_rest(c);
			return;
		}
		rv = NGHTTPW_ECLOSED;
	}
	out_flushed(c, rv);
}

/* Room for len more queued bytes, up to OUT_BUF_MAX. */
static bool
out_reserve(nghttpw_http_conn *c, size_t len)
{
	size_t cap = c->ocap == 0 ? OUT_BUF_INITIAL : c->ocap;
	char  *grown;

	if (c->olen + len > OUT_BUF_MAX) {
		return (false);
	}
	while (cap < c->olen + len) {
		cap *= 2;
	}
	if (cap > c->ocap) {
		if ((grown = realloc(c->obuf, cap)) == NULL) {
			return (false); /* written at once instead */
		}
		c->obuf = grown;
		c->ocap = cap;
	}
	return (true);
}

/* Read side. */

/* Starts rd_sio after the flush of queued answers if any. */
static void
rd_recv(nghttpw_http_conn *c)
{
	if (!out_flush_first(c, &c->rd_after_flush)) {
		rd_stream_start(c);
	}
}

static void
rd_finish(nghttpw_http_conn *c, int rv)
{
	nghttpw_aio *aio = c->rd_user;

	if (rv != 0 &&
	    (c->rd_kind == RD_HEAD ||
	        (c->rd_kind == RD_WHOLE && !c->parser.in_body))) {
		/* The head starts at offset 0: keep its bytes so that a later
		 * read (after a cancel or timeout) parses it from the start. */
		c->rpos = 0;
	}
	if (c->rd_kind != RD_SOME && c->rd_kind != RD_ALL) {
		http_parser_fini(&c->parser);
		if (rv == 0 && !http_parser_keep_alive(&c->parser)) {
			c->must_close = true;
		}
	}
	c->rd_user = NULL;
	nghttpw_aio_set_count(aio, c->rd_done);
	nghttpw_aio_finish(aio, rv);
	rd_next(c);
}

/* While a request head is awaited, the stream recv is bounded: first by
 * the idle time, then, from its first byte, by the time the whole head may
 * take.  Other reads rely on the caller's own aio timeout. */
static void
rd_set_deadline(nghttpw_http_conn *c, bool head_pending)
{
	nghttpw_duration ms = head_pending && c->rd_kind == RD_HEAD
	    ? (c->rlen == 0 ? c->idle_ms : c->head_ms)
	    : NGHTTPW_DURATION_INFINITE;

	c->rd_linger = false;
	if (head_pending && c->rd_kind == RD_HEAD && c->rlen == 0 &&
	    c->parser.req != NULL) {
		/* Waiting for a request: bounded by the linger first, then
		 * by what is left of the idle time (see rd_sio_cb). */
		if (c->rd_lingered) {
			ms = ms < 0 ? ms : ms - READ_LINGER_MS;
		} else if (!c->rd_cold && (ms < 0 || ms > READ_LINGER_MS)) {
			c->rd_linger = true;
			ms           = READ_LINGER_MS;
		}
	}
	if (ms < 0) {
		nghttpw_aio_set_timeout(c->rd_sio, NGHTTPW_DURATION_INFINITE);
	} else if (c->rlen == 0) {
		nghttpw_aio_set_timeout(c->rd_sio, ms);
	} else {
		if (!c->head_started) {
			c->head_started  = true;
			c->head_deadline = nghttpw_clock() + (nghttpw_time) ms;
		}
		nghttpw_aio_set_expire(c->rd_sio, c->head_deadline);
	}
}

/* Makes the read buffer (or doubles it), up to the head limit. */
static int
rd_grow(nghttpw_http_conn *c)
{
	size_t limit = c->max_head + 1;
	size_t cap   = c->rcap == 0 ? READ_BUF_INITIAL : c->rcap * 2;
	char  *grown;

	if (c->rcap >= limit) {
		return (NGHTTPW_EMSGSIZE);
	}
	if (cap > limit) {
		cap = limit;
	}
	if ((grown = realloc(c->rbuf, cap)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	c->rbuf    = grown;
	c->rcap    = cap;
	c->rd_cold = false;
	return (0);
}

/* Starts a stream recv into the free end of the read buffer, growing it
 * while a head is incomplete. */
static int
rd_fill_buffer(nghttpw_http_conn *c)
{
	nghttpw_iov iov;
	int         rv;

	bool head_pending = (c->rd_kind == RD_HEAD || c->rd_kind == RD_WHOLE) &&
	    !c->parser.in_body;

	if (c->rpos == c->rlen && !head_pending) {
		/* Nothing kept: a body or raw read needs no earlier bytes. */
		c->rpos = c->rlen = 0;
	}
	rd_set_deadline(c, head_pending);
	if (c->rbuf == NULL && c->rd_cold) {
		/* An idle wait after the linger: rd_sio_cb makes the buffer
		 * once the socket is readable (TCP streams tell without a
		 * read), or once bytes came into idle_buf (other streams). */
		c->rd_ready_wait = !c->no_ready_wait;
		iov.iov_buf = c->idle_buf;
		iov.iov_len = sizeof(c->idle_buf);
		nghttpw_aio_set_iov(c->rd_sio, 1, &iov);
		rd_recv(c);
		return (0);
	}
	if (c->rlen == c->rcap && (rv = rd_grow(c)) != 0) {
		return (rv);
	}
	iov.iov_buf = c->rbuf + c->rlen;
	iov.iov_len = c->rcap - c->rlen;
	nghttpw_aio_set_iov(c->rd_sio, 1, &iov);
	rd_recv(c);
	return (0);
}

/* Moves buffered bytes into the user's iov. */
static void
rd_copy_buffered(nghttpw_http_conn *c)
{
	nghttpw_iov *iov;
	unsigned     n    = nghttpw_aio_get_iov(c->rd_user, &iov);
	size_t       skip = c->rd_done;

	for (unsigned i = 0; i < n && c->rpos < c->rlen; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		size_t want = len - skip;
		size_t have = c->rlen - c->rpos;
		size_t take = want < have ? want : have;
		memcpy((char *) iov[i].iov_buf + skip, c->rbuf + c->rpos, take);
		c->rpos += take;
		c->rd_done += take;
		skip = 0;
	}
}

static int
rd_progress_raw(nghttpw_http_conn *c, bool *done)
{
	nghttpw_iov *iov;
	unsigned     n = nghttpw_aio_get_iov(c->rd_user, &iov);
	int          rv;

	rd_copy_buffered(c);
	if (c->rd_done > 0 &&
	    (c->rd_kind == RD_SOME || c->rd_done == iov_total(iov, n))) {
		*done = true;
		return (0);
	}
	/* Nothing buffered is left: receive straight into the caller's
	 * buffers, with no copy.  A connection that will only be read raw
	 * from now on (a WebSocket's, idle for long) needs no read buffer
	 * any more. */
	if (c->raw_only && c->rbuf != NULL && c->rpos == c->rlen) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
		c->rpos = c->rlen = 0;
	}
	rv = iov_set_rest(c->rd_sio, iov, n, c->rd_done, &c->rd_iov, &c->rd_iov_cap);
	if (rv == 0) {
		/* Bounded by the caller's aio alone, not by what the last
		 * head read left on rd_sio (its idle linger, say). */
		rd_set_deadline(c, false);
		rd_recv(c);
	}
	return (rv);
}

/* A response to skip: 1xx other than 101 precede the real one. */
static bool
rd_interim_response(nghttpw_http_conn *c)
{
	uint16_t status = nghttpw_http_res_get_status(c->tx_res);

	return (c->rd_kind == RD_WHOLE && status >= 100 && status < 200 &&
	    status != 101);
}

static void
rd_start_message(nghttpw_http_conn *c, nghttpw_http_req *req,
    nghttpw_http_res *res, bool head_request)
{
	/* A head must start at offset 0: it is parsed in place. */
	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	c->head_started = false;
	c->rd_lingered  = false;
	if (req != NULL) {
		nghttpw_http_req_reset(req);
		http_parser_init_req(&c->parser, req, c->max_head, c->max_fields);
	} else {
		nghttpw_http_res_reset(res);
		http_parser_init_res(
		    &c->parser, res, c->max_head, c->max_fields, head_request);
	}
}

static int
rd_progress_message(nghttpw_http_conn *c, bool *done)
{
	parse_state state = PARSE_MORE;
	size_t      used;
	int         rv;

	while (c->rpos < c->rlen) {
		rv = http_parser_feed(
		    &c->parser, c->rbuf, c->rpos, c->rlen - c->rpos, &state, &used);
		if (rv != 0) {
			return (rv);
		}
		c->rpos += used;
		if (state == PARSE_HEAD_DONE) {
			if (c->rd_kind == RD_HEAD) {
				*done = true;
				return (0);
			}
			if (rd_interim_response(c)) {
				rd_start_message(c, NULL, c->tx_res, c->tx_head_request);
				continue;
			}
			if ((rv = http_parser_body(&c->parser, c->max_body, &state)) !=
			    0) {
				return (rv);
			}
		}
		if (state == PARSE_MESSAGE_DONE) {
			*done = true;
			return (http_parser_take_body(&c->parser));
		}
	}
	return (rd_fill_buffer(c));
}

/* Moves the read on with what is buffered; finishes the user's aio when it
 * is complete, else starts the next stream recv.  Mutex held. */
static void
rd_progress(nghttpw_http_conn *c)
{
	bool done = false;
	int  rv;

	if (c->closed) {
		/* close() stops the internal aios: start nothing new. */
		rd_finish(c, NGHTTPW_ECLOSED);
		return;
	}
	if (c->rd_kind == RD_SOME || c->rd_kind == RD_ALL) {
		rv = rd_progress_raw(c, &done);
	} else {
		rv = rd_progress_message(c, &done);
	}
	if (rv != 0 || done) {
		rd_finish(c, rv);
	}
}

static void
rd_sio_cb(void *arg)
{
	nghttpw_http_conn *c  = arg;
	int                rv = nghttpw_aio_result(c->rd_sio);
	size_t             n  = nghttpw_aio_count(c->rd_sio);

	pthread_mutex_lock(&c->mtx);
	if (c->rd_ready_wait) {
		c->rd_ready_wait = false;
		if (rv == NGHTTPW_ENOTSUP) {
			c->no_ready_wait = true; /* wait again, in idle_buf */
			rv               = 0;
		} else if (rv == 0 && rd_grow(c) != 0) {
			rv = NGHTTPW_ENOMEM;
		}
	}
	if (c->rd_kind == RD_SOME || c->rd_kind == RD_ALL) {
		c->rd_done += n;
	} else if (c->rbuf == NULL && n > 0) {
		/* The first bytes after an idle wait came into idle_buf. */
		if (rd_grow(c) != 0) {
			rv            = NGHTTPW_ENOMEM;
			c->must_close = true; /* those bytes are lost */
		} else {
			memcpy(c->rbuf, c->idle_buf, n);
			c->rlen = n;
		}
	} else {
		c->rlen += n;
	}
	if (c->rd_abort != 0) {
		rv = c->rd_abort;
	}
	if (rv == NGHTTPW_ETIMEDOUT && c->rd_linger && c->rd_abort == 0 &&
	    c->rlen == 0 && !c->closed) {
		/* Idle past the linger: give the buffers back and wait on
		 * for the rest of the idle time in idle_buf. */
		free(c->rbuf);
		free(c->obuf); /* empty: the recv waited for its flush */
		c->rbuf        = NULL;
		c->rcap        = 0;
		c->obuf        = NULL;
		c->ocap        = 0;
		c->rd_cold     = true;
		c->rd_lingered = true;
		rd_progress(c);
	} else if (rv == NGHTTPW_ECLOSED &&
	    (c->rd_kind == RD_WHOLE || c->rd_kind == RD_BODY) &&
	    c->parser.in_body && !c->closed) {
		/* A body delimited by the close of the connection ends here. */
		if ((rv = http_parser_eof(&c->parser)) == 0) {
			rv = http_parser_take_body(&c->parser);
		}
		c->must_close = true;
		rd_finish(c, rv);
	} else if (rv != 0) {
		rd_finish(c, rv);
	} else {
		rd_progress(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

/* The caller's aio of a read, a write or a transact was cancelled or timed
 * out.  A pending one: abort the stream I/O under it; the stream aio is
 * pending, or its callback waits for the mutex, and that callback
 * reports the abort (and starts what is queued next).  A queued one has
 * not started: it just leaves its queue. */
static void
conn_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	nghttpw_http_conn *c = arg;

	pthread_mutex_lock(&c->mtx);
	if (c->rd_user == aio && c->rd_abort == 0) {
		c->rd_abort = rv;
		nghttpw_aio_abort(c->rd_sio, rv);
	} else if (c->wr_user == aio && c->wr_abort == 0) {
		c->wr_abort = rv;
		nghttpw_aio_abort(c->wr_sio, rv);
	} else if (list_linked(&aio->prov_node)) {
		list_remove(&aio->prov_node);
		nghttpw_aio_finish(aio, rv);
	}
	pthread_mutex_unlock(&c->mtx);
}

/* Makes aio the pending read; deferred when it waited in the queue (its
 * cancel function set).  Returns false when aio was finished. */
static bool
rd_begin(nghttpw_http_conn *c, nghttpw_aio *aio, read_kind kind, bool deferred)
{
	if (!deferred && !nghttpw_aio_defer(aio, conn_cancel, c)) {
		return (false);
	}
	c->rd_user  = aio;
	c->rd_kind  = kind;
	c->rd_abort = 0;
	c->rd_done  = 0;
	return (true);
}

/* Starts the read that aio asks for (op_set).  Mutex held. */
static void
rd_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	nghttpw_http_req *req = NULL;
	nghttpw_http_res *res = NULL;
	read_kind         kind;

	switch ((conn_op) aio->prov_op) {
	case OP_READ:
	case OP_READ_ALL:
		kind = aio->prov_op == OP_READ ? RD_SOME : RD_ALL;
		if (rd_begin(c, aio, kind, deferred)) {
			rd_progress(c);
		}
		return;
	case OP_TRANSACT:
		/* Its request is out: now its response. */
		if (rd_begin(c, aio, RD_WHOLE, true)) {
			c->tx_res          = aio->prov_arg[1];
			c->tx_head_request = strcmp(nghttpw_http_req_get_method(
			                         aio->prov_arg[0]), "HEAD") == 0;
			rd_start_message(c, NULL, c->tx_res, c->tx_head_request);
			rd_progress(c);
		}
		return;
	case OP_READ_REQ:
		if (c->no_idle) {
			nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
			return;
		}
		req = aio->prov_arg[0];
		break;
	default:
		res = aio->prov_arg[0];
		break;
	}
	if (rd_begin(c, aio, RD_HEAD, deferred)) {
		rd_start_message(c, req, res, false);
		rd_progress(c);
	}
}

static void
conn_read_raw(nghttpw_http_conn *c, nghttpw_aio *aio, conn_op op)
{
	nghttpw_iov *iov;
	unsigned     n;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	n = nghttpw_aio_get_iov(aio, &iov);
	if (c == NULL || iov_total(iov, n) == 0) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	op_set(aio, op, NULL, NULL);
	pthread_mutex_lock(&c->mtx);
	rd_submit(c, aio);
	pthread_mutex_unlock(&c->mtx);
}

void
nghttpw_http_conn_read(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_read_raw(c, aio, OP_READ);
}

void
nghttpw_http_conn_read_all(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_read_raw(c, aio, OP_READ_ALL);
}

static void
conn_read_head(nghttpw_http_conn *c, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio)
{
	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (c == NULL || (req == NULL && res == NULL)) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	if (req != NULL) {
		op_set(aio, OP_READ_REQ, req, NULL);
	} else {
		op_set(aio, OP_READ_RES, res, NULL);
	}
	pthread_mutex_lock(&c->mtx);
	rd_submit(c, aio);
	pthread_mutex_unlock(&c->mtx);
}

void
nghttpw_http_conn_read_req(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_aio *aio)
{
	conn_read_head(c, req, NULL, aio);
}

void
nghttpw_http_conn_read_res(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_read_head(c, NULL, res, aio);
}

/* Continues the message whose head was just read into its body. */
static void
conn_read_body(nghttpw_http_conn *c, const void *msg, size_t max,
    nghttpw_aio *aio)
{
	parse_state state;
	int         rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&c->mtx);
	if ((c->parser.req != msg && c->parser.res != msg) ||
	    !c->parser.head_done || c->parser.in_body) {
		/* Only right after the head of this message was read. */
		nghttpw_aio_finish(aio, NGHTTPW_ESTATE);
	} else if (c->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (c->rd_user != NULL || !list_empty(&c->rd_q)) {
		/* Not queued: a body follows its head at once. */
		nghttpw_aio_finish(aio, NGHTTPW_EBUSY);
	} else if (rd_begin(c, aio, RD_BODY, false)) {
		if ((rv = http_parser_body(&c->parser, max, &state)) != 0) {
			rd_finish(c, rv);
		} else if (state == PARSE_MESSAGE_DONE) {
			rd_finish(c, http_parser_take_body(&c->parser));
		} else {
			rd_progress(c);
		}
	}
	pthread_mutex_unlock(&c->mtx);
}

void
http_conn_read_body(nghttpw_http_conn *c, nghttpw_http_req *req, size_t max,
    nghttpw_aio *aio)
{
	conn_read_body(c, req, max, aio);
}

void
http_conn_read_res_body(nghttpw_http_conn *c, nghttpw_http_res *res,
    size_t max, nghttpw_aio *aio)
{
	conn_read_body(c, res, max, aio);
}

/* Write side. */

/* Sends what is left of the gather list (after the queued answers); an
 * error is the caller's to report with wr_finish. */
static int
wr_send_rest(nghttpw_http_conn *c)
{
	int rv;

	if (c->closed) {
		/* close() stops the internal aios: start nothing new. */
		return (NGHTTPW_ECLOSED);
	}
	if (out_flush_first(c, &c->wr_after_flush)) {
		return (0);
	}
	rv = iov_set_rest(c->wr_sio, c->wr_src, c->wr_nsrc, c->wr_done,
	    &c->wr_iov, &c->wr_iov_cap);
	if (rv == 0) {
		nghttpw_aio_set_timeout(c->wr_sio, c->wr_stall_ms);
		nghttpw_stream_send(c->stream, c->wr_sio);
	}
	return (rv);
}

/* The next piece of a file body: sendfile where the stream can, else a
 * bounded read into the bounce buffer and a send of it. */
static int
wr_file_step(nghttpw_http_conn *c)
{
	nghttpw_iov iov;
	ssize_t     n;

	if (c->closed) {
		return (NGHTTPW_ECLOSED);
	}
	nghttpw_aio_set_timeout(c->wr_sio, c->wr_stall_ms);
	if (!c->wr_file_bounce) {
		stream_sendfile(c->stream, c->wr_file_fd, c->wr_file_off,
		    c->wr_file_left, c->wr_sio);
		return (0);
	}
	if (c->wr_bounce == NULL &&
	    (c->wr_bounce = malloc(FILE_BOUNCE_SIZE)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	n = pread(c->wr_file_fd, c->wr_bounce,
	    c->wr_file_left < FILE_BOUNCE_SIZE ? (size_t) c->wr_file_left
	                                       : FILE_BOUNCE_SIZE,
	    (off_t) c->wr_file_off);
	if (n <= 0) {
		/* A file that shrank or fails to read cannot honour the
		 * Content-Length already sent: the stream is unusable. */
		c->must_close = true;
		return (NGHTTPW_EINTERNAL);
	}
	iov.iov_buf = c->wr_bounce;
	iov.iov_len = (size_t) n;
	nghttpw_aio_set_iov(c->wr_sio, 1, &iov);
	nghttpw_stream_send(c->stream, c->wr_sio);
	return (0);
}

static void
wr_finish(nghttpw_http_conn *c, int rv)
{
	nghttpw_aio *aio = c->wr_user;

	c->wr_user = NULL;
	nghttpw_aio_set_count(aio, c->wr_done);
	if (aio->prov_op == OP_TRANSACT && rv == 0) {
		/* The request is out: the response is read in its turn,
		 * after the reads started before this moment (as in nng,
		 * whose transaction queues its read then). */
		if (c->rd_user == NULL && list_empty(&c->rd_q)) {
			rd_activate(c, aio, true);
		} else {
			list_append(&c->rd_q, &aio->prov_node);
		}
	} else {
		nghttpw_aio_finish(aio, rv);
	}
	wr_next(c);
}

static void
wr_sio_cb(void *arg)
{
	nghttpw_http_conn *c  = arg;
	int                rv = nghttpw_aio_result(c->wr_sio);

	size_t             n  = nghttpw_aio_count(c->wr_sio);

	pthread_mutex_lock(&c->mtx);
	if (c->flushing) {
		out_sent(c, rv, n);
		pthread_mutex_unlock(&c->mtx);
		return;
	}
	c->wr_done += n;
	if (c->wr_done > c->wr_total) {
		/* Past the head: these bytes came from the file. */
		c->wr_file_off += n;
		c->wr_file_left -= n;
	}
	if (rv == NGHTTPW_ENOTSUP && c->wr_file_left > 0 && !c->wr_file_bounce) {
		c->wr_file_bounce = true;
		rv                = 0;
	}
	if (c->wr_abort != 0) {
		rv = c->wr_abort;
	}
	if (rv == 0 && c->wr_kind == WR_ALL && c->wr_done < c->wr_total) {
		rv = wr_send_rest(c);
	} else if (rv == 0 && c->wr_file_left > 0) {
		rv = wr_file_step(c);
	} else {
		wr_finish(c, rv);
		rv = 0;
	}
	if (rv != 0) {
		wr_finish(c, rv);
	}
	pthread_mutex_unlock(&c->mtx);
}

/* Makes aio the pending write, as rd_begin. */
static bool
wr_begin(nghttpw_http_conn *c, nghttpw_aio *aio, write_kind kind,
    const nghttpw_iov *src, unsigned nsrc, bool deferred)
{
	if (!deferred && !nghttpw_aio_defer(aio, conn_cancel, c)) {
		return (false);
	}
	c->wr_user  = aio;
	c->wr_kind  = kind;
	c->wr_abort = 0;
	c->wr_done  = 0;
	c->wr_src   = src;
	c->wr_nsrc  = nsrc;
	c->wr_total = iov_total(src, nsrc);
	c->wr_file_left   = 0;
	c->wr_file_bounce = false;
	return (true);
}

static void
conn_write_raw(nghttpw_http_conn *c, nghttpw_aio *aio, conn_op op)
{
	nghttpw_iov *iov;
	unsigned     n;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	n = nghttpw_aio_get_iov(aio, &iov);
	if (c == NULL || iov_total(iov, n) == 0) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	op_set(aio, op, NULL, NULL);
	pthread_mutex_lock(&c->mtx);
	wr_submit(c, aio);
	pthread_mutex_unlock(&c->mtx);
}

void
nghttpw_http_conn_write(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_write_raw(c, aio, OP_WRITE);
}

void
nghttpw_http_conn_write_all(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_write_raw(c, aio, OP_WRITE_ALL);
}

/* Whether a message's own headers say the connection ends after it. */
static bool
msg_says_close(nhw_http_msg *msg, const char *version)
{
	const char *conn = nhw_http_msg_get_known(msg, NHW_HDR_CONNECTION);

	if (nhw_http_list_has_token(conn, "close")) {
		return (true);
	}
	return (strcmp(version, "HTTP/1.0") == 0 &&
	    !nhw_http_list_has_token(conn, "keep-alive"));
}

/* Lays out head and body for one gather write in c->msg_iov, framing the
 * body as one chunk when the message asks for chunked encoding.  A
 * request with a body and, when the server writes (server_res), a
 * response without a length get Content-Length; a response the
 * application writes keeps the framing it chose, and one without any
 * is delimited by the close (*close_delimited).  Returns the entry count. */
static int
msg_prepare(nghttpw_http_conn *c, nhw_http_msg *msg, bool is_response,
    bool server_res, bool head_only, nghttpw_http_req *req,
    nghttpw_http_res *res, unsigned *niov, bool *close_delimited)
{
	const void *body;
	size_t      size;
	const char *head;
	size_t      head_len;
	unsigned    n = 0;
	bool        chunked;
	int         rv;

	nhw_http_msg_get_data(msg, &body, &size);
	chunked = nhw_http_list_has_token(
	    nhw_http_msg_get_known(msg, NHW_HDR_TRANSFER_ENCODING), "chunked");
	if (chunked) {
		/* set_data added a length; with chunks it must not be sent
		 * (a peer seeing both must refuse the message). */
		(void) nhw_http_msg_del_header_n(msg, "Content-Length", 14);
	}
	if (is_response) {
		uint16_t status = nghttpw_http_res_get_status(res);
		if (status < 200 || status == 204 || status == 304) {
			head_only = true; /* these never carry a body */
		}
	}
	if (!chunked &&
	    nhw_http_msg_get_known(msg, NHW_HDR_CONTENT_LENGTH) == NULL) {
		uint16_t status = is_response ? nghttpw_http_res_get_status(res) : 0;
		/* A response always states its length, so that keep-alive
		 * works; 1xx, 204 and 304 carry no body and no length. */
		bool bodyless = is_response &&
		    (status < 200 || status == 204 || status == 304);
		if (((!is_response && size > 0) || server_res) && !bodyless) {
			char len[NHW_HTTP_U64_LEN];
			if ((rv = nhw_http_msg_set_known(msg, NHW_HDR_CONTENT_LENGTH,
			         len, nhw_http_u64_str(size, len))) != 0) {
				return (rv);
			}
		} else if (is_response && !bodyless) {
			*close_delimited = true; /* RFC 9112 6.3, rule 8 */
		}
	}
	rv = is_response ? nhw_http_res_get_head(res, &head, &head_len)
	                 : nhw_http_req_get_head(req, &head, &head_len);
	if (rv != 0) {
		return (rv);
	}
	c->msg_iov[n++] = (nghttpw_iov) { (void *) head, head_len };
	if (head_only || nhw_http_msg_get_file(msg, &(int) { 0 },
	                     &(uint64_t) { 0 }, &(uint64_t) { 0 })) {
		/* Nothing more in the gather write (a file body follows it). */
	} else if (chunked && size > 0) {
		int l = snprintf(c->chunk_head, sizeof(c->chunk_head), "%zx\r\n", size);
		c->msg_iov[n++] = (nghttpw_iov) { c->chunk_head, (size_t) l };
		c->msg_iov[n++] = (nghttpw_iov) { (void *) body, size };
		c->msg_iov[n++] = (nghttpw_iov) { (void *) chunk_tail_body,
			sizeof(chunk_tail_body) - 1 };
	} else if (chunked) {
		c->msg_iov[n++] = (nghttpw_iov) { (void *) chunk_tail_empty,
			sizeof(chunk_tail_empty) - 1 };
	} else if (size > 0) {
		c->msg_iov[n++] = (nghttpw_iov) { (void *) body, size };
	}
	*niov = n;
	return (0);
}

/* Queues the response that msg_prepare laid out in c->msg_iov (n
 * entries) when it may wait: the peer has pipelined more (bytes of a next
 * request are buffered) or answers are queued already, the response is
 * small and in memory, and the connection goes on after it.  Whatever
 * comes next on the stream sends the queue first (out_flush_first), so a
 * pipelined batch is answered with one send.  Returns the bytes queued, 0
 * when it is to be written now. */
static size_t
conn_queue_msg(nghttpw_http_conn *c, nhw_http_msg *msg, nghttpw_http_res *res,
    bool head_only, unsigned n)
{
	size_t len = iov_total(c->msg_iov, n);

	if ((c->rpos == c->rlen && c->olen == 0) || c->flushing ||
	    c->must_close || (!head_only && nhw_http_msg_get_file(msg,
	                           &(int) { 0 }, &(uint64_t) { 0 },
	                           &(uint64_t) { 0 })) ||
	    msg_says_close(msg, nghttpw_http_res_get_version(res)) ||
	    !out_reserve(c, len)) {
		return (0);
	}
	for (unsigned i = 0; i < n; i++) {
		memcpy(c->obuf + c->olen, c->msg_iov[i].iov_buf, c->msg_iov[i].iov_len);
		c->olen += c->msg_iov[i].iov_len;
	}
	return (len);
}

/* Starts writing the message that aio asks for (op_set): it is laid out
 * now, not when it was queued, so that a write waiting in the queue
 * touches neither its message nor the one being sent.  Mutex held. */
static void
wr_start_msg(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	conn_op           op        = (conn_op) aio->prov_op;
	bool              head_only = op == OP_WRITE_RES_HEAD || op == OP_BATCH_RES_HEAD;
	bool              batch     = op == OP_BATCH_RES || op == OP_BATCH_RES_HEAD;
	bool              is_response     = op != OP_WRITE_REQ;
	nghttpw_http_req *req             = is_response ? NULL : aio->prov_arg[0];
	nghttpw_http_res *res             = is_response ? aio->prov_arg[0] : NULL;
	bool              close_delimited = false;
	int               file_fd;
	uint64_t          file_off, file_len;
	nhw_http_msg     *msg;
	unsigned          n;
	size_t            queued;
	int               rv;

	msg = is_response ? nhw_http_res_msg(res) : nhw_http_req_msg(req);
	if ((rv = msg_prepare(c, msg, is_response, batch, head_only, req, res,
	         &n, &close_delimited)) != 0) {
		nghttpw_aio_finish(aio, rv);
	} else if (batch && !c->closed &&
	    (queued = conn_queue_msg(c, msg, res, head_only, n)) > 0) {
		nghttpw_aio_set_count(aio, queued);
		nghttpw_aio_finish(aio, 0);
	} else if (wr_begin(c, aio, WR_ALL, c->msg_iov, n, deferred)) {
		if (!head_only &&
		    nhw_http_msg_get_file(msg, &file_fd, &file_off, &file_len)) {
			c->wr_file_fd   = file_fd;
			c->wr_file_off  = file_off;
			c->wr_file_left = file_len;
		}
		if (is_response &&
		    (close_delimited ||
		        msg_says_close(msg, nghttpw_http_res_get_version(res)))) {
			c->must_close = true;
		}
		if ((rv = wr_send_rest(c)) != 0) {
			wr_finish(c, rv);
		}
	}
}

static void
conn_write_msg(nghttpw_http_conn *c, void *msg, conn_op op, nghttpw_aio *aio)
{
	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (c == NULL || msg == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	op_set(aio, op, msg, NULL);
	pthread_mutex_lock(&c->mtx);
	wr_submit(c, aio);
	pthread_mutex_unlock(&c->mtx);
}

void
nghttpw_http_conn_write_req(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_aio *aio)
{
	conn_write_msg(c, req, OP_WRITE_REQ, aio);
}

void
nghttpw_http_conn_write_res(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_write_msg(c, res, OP_WRITE_RES, aio);
}

void
nghttpw_http_conn_write_res_head(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_write_msg(c, res, OP_WRITE_RES_HEAD, aio);
}

void
http_conn_write_res_batched(nghttpw_http_conn *c, nghttpw_http_res *res,
    bool head_only, nghttpw_aio *aio)
{
	conn_write_msg(c, res, head_only ? OP_BATCH_RES_HEAD : OP_BATCH_RES, aio);
}

void
http_conn_kick_flush(nghttpw_http_conn *c)
{
	pthread_mutex_lock(&c->mtx);
	if (!c->closed) {
		/* Nobody waits for it: out_flushed just empties the queue. */
		(void) out_flush_first(c, NULL);
	}
	pthread_mutex_unlock(&c->mtx);
}

void
http_conn_flush(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	op_set(aio, OP_FLUSH, NULL, NULL);
	pthread_mutex_lock(&c->mtx);
	wr_submit(c, aio);
	pthread_mutex_unlock(&c->mtx);
}

/* Transact: the request goes out as a write in its turn; wr_finish then
 * queues the reading of the response (rd_activate). */
static void
wr_start_transact(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	nghttpw_http_req *req = aio->prov_arg[0];
	unsigned          n;
	int               fd;
	uint64_t          off, len;
	int               rv;

	if ((rv = msg_prepare(c, nhw_http_req_msg(req), false, false, false, req,
	         NULL, &n, &(bool) { false })) != 0) {
		nghttpw_aio_finish(aio, rv);
	} else if (wr_begin(c, aio, WR_ALL, c->msg_iov, n, deferred)) {
		if (nhw_http_msg_get_file(nhw_http_req_msg(req), &fd, &off, &len)) {
			c->wr_file_fd   = fd;
			c->wr_file_off  = off;
			c->wr_file_left = len;
		}
		if ((rv = wr_send_rest(c)) != 0) {
			wr_finish(c, rv);
		}
	}
}

/* Starts the write that aio asks for (op_set).  Mutex held. */
static void
wr_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	nghttpw_iov *iov;
	unsigned     n;
	int          rv;

	switch ((conn_op) aio->prov_op) {
	case OP_WRITE:
	case OP_WRITE_ALL:
		n = nghttpw_aio_get_iov(aio, &iov);
		if (wr_begin(c, aio, aio->prov_op == OP_WRITE ? WR_SOME : WR_ALL,
		        iov, n, deferred) &&
		    (rv = wr_send_rest(c)) != 0) {
			wr_finish(c, rv);
		}
		break;
	case OP_FLUSH:
		if (c->olen == 0) {
			nghttpw_aio_finish(aio, 0);
		} else if (wr_begin(c, aio, WR_ALL, NULL, 0, deferred) &&
		    (rv = wr_send_rest(c)) != 0) {
			wr_finish(c, rv);
		}
		break;
	case OP_TRANSACT:
		wr_start_transact(c, aio, deferred);
		break;
	default:
		wr_start_msg(c, aio, deferred);
		break;
	}
}

void
nghttpw_http_conn_transact(nghttpw_http_conn *c, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio)
{
	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (c == NULL || req == NULL || res == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	op_set(aio, OP_TRANSACT, req, res);
	pthread_mutex_lock(&c->mtx);
	wr_submit(c, aio);
	pthread_mutex_unlock(&c->mtx);
}

/* Life cycle. */

static void
conn_reap(void *arg)
{
	nghttpw_http_conn *c = arg;

	/* Runs on the reaper thread, where waiting is allowed: the internal
	 * aios' callbacks finish the user's aios with ECLOSED first. */
	nghttpw_aio_stop(c->rd_sio);
	nghttpw_aio_stop(c->wr_sio);
	/* A cancel of a caller's aio may have taken conn_cancel just as
	 * that aio finished: it must be over before c goes. */
	aio_cancel_barrier(c);
	nghttpw_aio_free(c->rd_sio);
	nghttpw_aio_free(c->wr_sio);
	nghttpw_stream_free(c->stream);
	http_parser_fini(&c->parser);
	free(c->rbuf);
	free(c->rd_iov);
	free(c->wr_iov);
	free(c->wr_bounce);
	free(c->obuf);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

int
nghttpw_http_conn_alloc(nghttpw_http_conn **cp, nghttpw_stream *stream)
{
	nghttpw_http_conn *c;
	int                rv;

	if (cp == NULL || stream == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = stream_aio_alloc(stream, &c->rd_sio, rd_sio_cb, c)) != 0 ||
	    (rv = stream_aio_alloc(stream, &c->wr_sio, wr_sio_cb, c)) != 0) {
		nghttpw_aio_free(c->rd_sio);
		free(c);
		return (rv);
	}
	pthread_mutex_init(&c->mtx, NULL);
	list_init(&c->rd_q);
	list_init(&c->wr_q);
	task_init(&c->reap_task, conn_reap, c);
	c->stream     = stream;
	c->max_head   = NGHTTPW_HTTP_MAX_HEADER_SIZE_DEFAULT;
	c->max_fields = NGHTTPW_HTTP_MAX_HEADERS_DEFAULT;
	c->max_body   = NGHTTPW_HTTP_MAX_BODY_DEFAULT;
	c->idle_ms    = NGHTTPW_DURATION_INFINITE;
	c->head_ms    = NGHTTPW_DURATION_INFINITE;
	c->wr_stall_ms = NGHTTPW_DURATION_INFINITE;
	*cp           = c;
	return (0);
}

void
nghttpw_http_conn_close(nghttpw_http_conn *c)
{
	bool first;

	if (c == NULL) {
		return;
	}
	pthread_mutex_lock(&c->mtx);
	first     = !c->closed;
	c->closed = true;
	/* What waits in the queues never started: it ends now. */
	queue_fail(&c->rd_q, NGHTTPW_ECLOSED);
	queue_fail(&c->wr_q, NGHTTPW_ECLOSED);
	pthread_mutex_unlock(&c->mtx);
	if (first) {
		/* Pending stream operations fail with ECLOSED, and their
		 * callbacks pass that on to the caller's aios. */
		nghttpw_stream_close(c->stream);
		runtime_reap(&c->reap_task);
	}
}

bool
nghttpw_http_conn_must_close(nghttpw_http_conn *c)
{
	return (c != NULL && c->must_close);
}

int
nghttpw_http_conn_get_addr(
    nghttpw_http_conn *c, const char *name, nghttpw_sockaddr *addr)
{
	if (c == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (nghttpw_stream_get_addr(c->stream, name, addr));
}

int
nghttpw_http_conn_get_bool(nghttpw_http_conn *c, const char *name, bool *value)
{
	if (c == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (nghttpw_stream_get_bool(c->stream, name, value));
}

int
nghttpw_http_conn_get_string(
    nghttpw_http_conn *c, const char *name, char **value)
{
	if (c == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (nghttpw_stream_get_string(c->stream, name, value));
}

static int
conn_set_limit(nghttpw_http_conn *c, size_t *limit, size_t value, size_t min)
{
	if (c == NULL || value < min) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&c->mtx);
	*limit = value;
	pthread_mutex_unlock(&c->mtx);
	return (0);
}

int
nghttpw_http_conn_set_max_header_size(nghttpw_http_conn *c, size_t size)
{
	/* A request line and a Host field need a little room. */
	return (conn_set_limit(c, c == NULL ? NULL : &c->max_head, size, 64));
}

int
nghttpw_http_conn_set_max_headers(nghttpw_http_conn *c, size_t count)
{
	return (conn_set_limit(c, c == NULL ? NULL : &c->max_fields, count, 1));
}

int
nghttpw_http_conn_set_max_body(nghttpw_http_conn *c, size_t size)
{
	return (conn_set_limit(c, c == NULL ? NULL : &c->max_body, size, 0));
}

void
http_conn_set_raw_only(nghttpw_http_conn *c)
{
	pthread_mutex_lock(&c->mtx);
	c->raw_only = true;
	pthread_mutex_unlock(&c->mtx);
}

void
http_conn_set_read_timeouts(
    nghttpw_http_conn *c, nghttpw_duration idle_ms, nghttpw_duration head_ms)
{
	pthread_mutex_lock(&c->mtx);
	c->idle_ms = idle_ms;
	c->head_ms = head_ms;
	pthread_mutex_unlock(&c->mtx);
}

void
http_conn_set_write_stall(nghttpw_http_conn *c, nghttpw_duration ms)
{
	pthread_mutex_lock(&c->mtx);
	c->wr_stall_ms = ms;
	pthread_mutex_unlock(&c->mtx);
}

nghttpw_stream *
http_conn_stream(nghttpw_http_conn *c)
{
	return (c->stream);
}

size_t
http_conn_buffered(nghttpw_http_conn *c)
{
	size_t n;

	pthread_mutex_lock(&c->mtx);
	n = c->rlen - c->rpos;
	pthread_mutex_unlock(&c->mtx);
	return (n);
}

bool
http_conn_head_started(nghttpw_http_conn *c)
{
	bool started;

	pthread_mutex_lock(&c->mtx);
	started = c->head_started || c->rlen > 0;
	pthread_mutex_unlock(&c->mtx);
	return (started);
}

void
http_conn_stop_idle(nghttpw_http_conn *c)
{
	pthread_mutex_lock(&c->mtx);
	c->no_idle = true;
	if (c->rd_user != NULL && c->rd_kind == RD_HEAD && c->rd_abort == 0) {
		/* As conn_cancel: the stream aio's callback reports it. */
		c->rd_abort = NGHTTPW_ECLOSED;
		nghttpw_aio_abort(c->rd_sio, NGHTTPW_ECLOSED);
	}
	pthread_mutex_unlock(&c->mtx);
}

void
http_conn_resume_idle(nghttpw_http_conn *c)
{
	pthread_mutex_lock(&c->mtx);
	c->no_idle = false;
	pthread_mutex_unlock(&c->mtx);
}

void
http_conn_set_owner(nghttpw_http_conn *c, void *owner)
{
	c->owner = owner;
}

void *
http_conn_owner(nghttpw_http_conn *c)
{
	return (c->owner);
}
