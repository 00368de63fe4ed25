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
 * once its request is out in the read queue.
 *
 * This file has the queues, the read side and the life cycle; the write
 * side is in http_conn_write.c, the shared state in http_conn_impl.h. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy_header.h"
#include "http/http_forwarded.h"
#include "http/http_conn_impl.h"

#define READ_BUF_INITIAL 4096
/* An idle keep-alive connection gives its read buffer back after this
 * long without a byte, and waits with a few inline bytes instead (or is
 * parked by its owner, see http_conn_set_park): the buffer costs no
 * syscall while requests follow each other closely. */
#define READ_LINGER_MS HTTP_CONN_READ_LINGER_MS

size_t
conn_iov_total(const nghttpw_iov *iov, unsigned n)
{
	size_t total = 0;

	for (unsigned i = 0; i < n; i++) {
		total += iov[i].iov_len;
	}
	return (total);
}

/* Points aio at what is left of src after skip bytes, using scratch (grown
 * as needed, then reused) to hold the trimmed entries. */
int
conn_iov_set_rest(nghttpw_aio *aio, const nghttpw_iov *src, unsigned n,
    size_t skip, nghttpw_iov **scratch, unsigned *cap)
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

/* Queues. */

/* Puts aio at the end of a side's queue, unless it was canceled or timed
 * out already (then it is finished).  Mutex held. */
static void
queue_append(nghttpw_http_conn *c, list_node *q, nghttpw_aio *aio)
{
	if (aio_defer(aio, conn_cancel, c)) {
		list_append(q, &aio->prov_node);
	}
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
	queue_run(c, &c->rd_q, &c->rd_user, &c->rd_starting, conn_rd_activate);
}

void
conn_wr_next(nghttpw_http_conn *c)
{
	queue_run(c, &c->wr_q, &c->wr_user, &c->wr_starting, conn_wr_activate);
}

/* Begins aio and, when c and the caller's arguments are valid, keeps
 * what it asks for in it (prov_op, prov_arg) for when it starts: then it
 * starts, or waits in its side's queue behind the pending one.  Reads go
 * on the read side, the rest (a transaction starts as a write) on the
 * write side. */
void
conn_start(nghttpw_http_conn *c, nghttpw_aio *aio, conn_op op, bool valid,
    void *arg0, void *arg1)
{
	bool         read;
	list_node   *q;
	nghttpw_aio *const *user;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (c == NULL || !valid) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	read             = op <= OP_READ_BODY;
	q                = read ? &c->rd_q : &c->wr_q;
	user             = read ? &c->rd_user : &c->wr_user;
	aio->prov_op     = (uint8_t) op;
	aio->prov_arg[0] = arg0;
	aio->prov_arg[1] = arg1;
	plat_mutex_lock(&c->mtx);
	if (c->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (*user == NULL && list_empty(q)) {
		(read ? conn_rd_activate : conn_wr_activate)(c, aio, false);
	} else {
		queue_append(c, q, aio);
	}
	plat_mutex_unlock(&c->mtx);
}

/* The raw reads and writes: into or from aio's iov, which must hold a
 * byte at least. */
void
conn_start_raw(nghttpw_http_conn *c, nghttpw_aio *aio, conn_op op)
{
	nghttpw_iov *iov;
	unsigned     n = nghttpw_aio_get_iov(aio, &iov);

	conn_start(c, aio, op, conn_iov_total(iov, n) > 0, NULL, NULL);
}

/* Starts what rd_sio is set up for: a recv, or in a cold idle wait a
 * wait for readability. */
void
conn_rd_stream_start(nghttpw_http_conn *c)
{
	if (c->rd_ready_wait) {
		stream_wait_readable(c->stream, c->rd_sio);
	} else {
		nghttpw_stream_recv(c->stream, c->rd_sio);
	}
}

/* Read side. */

/* Starts rd_sio after the flush of queued answers if any. */
static void
rd_recv(nghttpw_http_conn *c)
{
	if (!conn_out_flush_first(c, &c->rd_after_flush)) {
		conn_rd_stream_start(c);
	}
}

void
conn_rd_finish(nghttpw_http_conn *c, int rv)
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
		/* A body or raw read needs no earlier bytes, but those of a
		 * trailer field being parsed. */
		size_t keep = c->rd_kind == RD_SOME || c->rd_kind == RD_ALL
		    ? c->rlen
		    : http_parser_pending(&c->parser, c->rlen);
		if (keep < c->rlen) {
			memmove(c->rbuf, c->rbuf + keep, c->rlen - keep);
			http_parser_shift(&c->parser, keep);
		}
		c->rpos = c->rlen = c->rlen - keep;
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
	    (c->rd_kind == RD_SOME || c->rd_done == conn_iov_total(iov, n))) {
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
	rv = conn_iov_set_rest(c->rd_sio, iov, n, c->rd_done, &c->rd_iov, &c->rd_iov_cap);
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
	c->linger_ended = false;
	c->body_raw     = false;
	if (req != NULL) {
		nghttpw_http_req_reset(req);
		http_parser_init_req(&c->parser, req, c->max_head, c->max_fields);
	} else {
		nghttpw_http_res_reset(res);
		http_parser_init_res(
		    &c->parser, res, c->max_head, c->max_fields, head_request);
	}
}

/* A response head read by read_res answers the oldest request written
 * (but for interim 1xx): that to a HEAD request has no body. */
static void
rd_head_answered(nghttpw_http_conn *c)
{
	uint16_t status;

	if (c->parser.res == NULL || c->nreqs == 0) {
		return;
	}
	status = nghttpw_http_res_get_status(c->parser.res);
	if (status >= 200 || status == 101) {
		c->parser.no_body |= (c->head_reqs & 1) != 0;
		c->head_reqs >>= 1;
		c->nreqs--;
	}
}

static int
rd_progress_message(nghttpw_http_conn *c, bool *done)
{
	parse_state state = PARSE_MORE;
	size_t      used;
	int         rv;

	if (c->proxy_pending && c->parser.req != NULL) {
		if ((rv = conn_take_proxy_header(c)) == PROXY_HEADER_MORE) {
			return (rd_fill_buffer(c));
		}
		if (rv != 0) {
			return (rv);
		}
	}
	while (c->rpos < c->rlen) {
		rv = http_parser_feed(
		    &c->parser, c->rbuf, c->rpos, c->rlen - c->rpos, &state, &used);
		if (rv != 0) {
			return (rv);
		}
		c->rpos += used;
		if (state == PARSE_HEAD_DONE) {
			/* The head is rbuf[0, rpos): see rd_start_message. */
			if (c->parser.res != NULL &&
			    (rv = nhw_http_res_save_raw_head(
			         c->parser.res, c->rbuf, c->rpos)) != 0) {
				return (rv);
			}
			if (c->rd_kind == RD_HEAD) {
				rd_head_answered(c);
				/* For the chunk writer: HEAD is answered
				 * with a head alone, HTTP/1.0 without
				 * chunks. */
				c->answer_head = c->parser.req != NULL &&
				    nhw_http_req_is_head(c->parser.req);
				c->answer_10 = c->parser.req != NULL &&
				    nhw_http_version_is(nghttpw_http_req_get_version(
				                            c->parser.req),
				        "HTTP/1.0");
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

/* read_body: feeds the parser no more than the user's iov has room for,
 * so that every decoded byte has a place there; done once some are in, or
 * at the end of the body (count 0). */
static int
rd_progress_stream(nghttpw_http_conn *c, bool *done)
{
	http_parser *p = &c->parser;
	nghttpw_iov *iov;
	unsigned     n     = nghttpw_aio_get_iov(c->rd_user, &iov);
	size_t       total = conn_iov_total(iov, n);
	parse_state  state;
	size_t       used;
	int          rv = 0;

	http_parser_set_sink(p, iov, n);
	while (!p->message_done && c->rpos < c->rlen && p->sink_done < total) {
		size_t len = c->rlen - c->rpos;
		if (len > total - p->sink_done) {
			len = total - p->sink_done;
		}
		if ((rv = http_parser_feed(p, c->rbuf, c->rpos, len, &state, &used)) !=
		    0) {
			break;
		}
		c->rpos += used;
	}
	c->rd_done = p->sink_done;
	http_parser_set_sink(p, NULL, 0);
	if (rv == 0 && (c->rd_done > 0 || p->message_done)) {
		*done = true;
	} else if (rv == 0) {
		if (c->rpos == c->rlen && c->rcap < total && c->rcap <= c->max_head) {
			/* Receive as much as the reader takes at once (up to
			 * the size a head may have: memory stays bounded). */
			rv = rd_grow(c);
		}
		if (rv == 0) {
			rv = rd_fill_buffer(c);
		}
	}
	if (rv != 0) {
		/* The framing is lost: nothing after it can be read. */
		c->must_close = true;
	}
	return (rv);
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
		conn_rd_finish(c, NGHTTPW_ECLOSED);
		return;
	}
	if (c->rd_kind == RD_SOME || c->rd_kind == RD_ALL) {
		rv = rd_progress_raw(c, &done);
	} else if (c->rd_kind == RD_STREAM) {
		rv = rd_progress_stream(c, &done);
	} else {
		rv = rd_progress_message(c, &done);
	}
	if (rv != 0 || done) {
		conn_rd_finish(c, rv);
	}
}

/* The first read_body of a message starts its body; one after its end
 * finds count 0 again.  Only after a head that read_req or read_res gave,
 * with no raw read since. */
static void
rd_start_stream(nghttpw_http_conn *c)
{
	http_parser *p = &c->parser;
	parse_state  state;

	if (!p->head_done || c->body_raw ||
	    (p->in_body && !p->streaming && !p->message_done)) {
		conn_rd_finish(c, NGHTTPW_ESTATE);
		return;
	}
	if (!p->in_body && !p->message_done) {
		http_parser_body_stream(p, &state);
	}
	rd_progress(c);
}

static void
rd_sio_cb(void *arg)
{
	nghttpw_http_conn *c  = arg;
	int                rv = nghttpw_aio_result(c->rd_sio);
	size_t             n  = nghttpw_aio_count(c->rd_sio);

	plat_mutex_lock(&c->mtx);
	if (c->rd_ready_wait) {
		c->rd_ready_wait = false;
		if (rv == NGHTTPW_ENOTSUP) {
			c->no_ready_wait = true; /* wait again, in idle_buf */
			rv               = 0;
		} else if (rv == 0 && rd_grow(c) != 0) {
			rv = NGHTTPW_ENOMEM;
		}
	}
	c->received += n;
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
		if (c->park && c->rd_kind == RD_HEAD && c->parser.req != NULL) {
			c->linger_ended = true;
			conn_rd_finish(c, NGHTTPW_ETIMEDOUT);
		} else {
			rd_progress(c);
		}
	} else if (rv == NGHTTPW_ECLOSED &&
	    (c->rd_kind == RD_WHOLE || c->rd_kind == RD_BODY ||
	        c->rd_kind == RD_STREAM) &&
	    c->parser.in_body && !c->closed) {
		/* A body delimited by the close of the connection ends here;
		 * one framed otherwise is cut short (ECLOSED, as read_all). */
		if ((rv = http_parser_eof(&c->parser)) == 0 &&
		    c->rd_kind != RD_STREAM) {
			rv = http_parser_take_body(&c->parser);
		}
		c->must_close = true;
		conn_rd_finish(c, rv);
	} else if (rv != 0) {
		conn_rd_finish(c, rv);
	} else {
		rd_progress(c);
	}
	plat_mutex_unlock(&c->mtx);
}

/* The caller's aio of a read, a write or a transact was cancelled or timed
 * out.  A pending one: abort the stream I/O under it; the stream aio is
 * pending, or its callback waits for the mutex, and that callback
 * reports the abort (and starts what is queued next).  A queued one has
 * not started: it just leaves its queue. */
void
conn_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	nghttpw_http_conn *c = arg;

	plat_mutex_lock(&c->mtx);
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
	plat_mutex_unlock(&c->mtx);
}

/* Makes aio the pending read; deferred when it waited in the queue (its
 * cancel function set).  Returns false when aio was finished. */
static bool
rd_begin(nghttpw_http_conn *c, nghttpw_aio *aio, read_kind kind, bool deferred)
{
	if (!deferred && !aio_defer(aio, conn_cancel, c)) {
		return (false);
	}
	c->rd_user  = aio;
	c->rd_kind  = kind;
	c->rd_abort = 0;
	c->rd_done  = 0;
	return (true);
}

/* Starts the read that aio asks for (conn_start).  Mutex held. */
void
conn_rd_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	nghttpw_http_req *req = NULL;
	nghttpw_http_res *res = NULL;
	read_kind         kind;

	switch ((conn_op) aio->prov_op) {
	case OP_READ:
	case OP_READ_ALL:
		kind = aio->prov_op == OP_READ ? RD_SOME : RD_ALL;
		if (rd_begin(c, aio, kind, deferred)) {
			/* Bytes of a body, if any, now go around the parser. */
			c->body_raw = true;
			rd_progress(c);
		}
		return;
	case OP_READ_BODY:
		if (rd_begin(c, aio, RD_STREAM, deferred)) {
			rd_start_stream(c);
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

void
nghttpw_http_conn_read(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_start_raw(c, aio, OP_READ);
}

void
nghttpw_http_conn_read_all(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_start_raw(c, aio, OP_READ_ALL);
}

void
nghttpw_http_conn_read_req(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_READ_REQ, req != NULL, req, NULL);
}

void
nghttpw_http_conn_read_res(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_READ_RES, res != NULL, res, NULL);
}

void
nghttpw_http_conn_read_body(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_start_raw(c, aio, OP_READ_BODY);
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
	plat_mutex_lock(&c->mtx);
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
			conn_rd_finish(c, rv);
		} else if (state == PARSE_MESSAGE_DONE) {
			conn_rd_finish(c, http_parser_take_body(&c->parser));
		} else {
			rd_progress(c);
		}
	}
	plat_mutex_unlock(&c->mtx);
}

bool
http_conn_body_done(nghttpw_http_conn *c, nghttpw_http_req *req)
{
	bool done;

	plat_mutex_lock(&c->mtx);
	done = c->parser.req == req && c->parser.message_done &&
	    c->rd_user == NULL && !c->body_raw;
	plat_mutex_unlock(&c->mtx);
	return (done);
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
	free(c->proxied);
	free(c->via);
	http_trust_release(c->trust);
	free(c->wr_iov);
	free(c->ch_iov);
	free(c->wr_bounce);
	free(c->obuf);
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
	    (rv = stream_aio_alloc(stream, &c->wr_sio, conn_wr_sio_cb, c)) != 0) {
		nghttpw_aio_free(c->rd_sio);
		free(c);
		return (rv);
	}
	plat_mutex_init(&c->mtx);
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

static void
conn_close(nghttpw_http_conn *c, void (*reap)(task *))
{
	bool first;

	plat_mutex_lock(&c->mtx);
	first     = !c->closed;
	c->closed = true;
	/* What waits in the queues never started: it ends now. */
	queue_fail(&c->rd_q, NGHTTPW_ECLOSED);
	queue_fail(&c->wr_q, NGHTTPW_ECLOSED);
	plat_mutex_unlock(&c->mtx);
	if (first) {
		/* Pending stream operations fail with ECLOSED, and their
		 * callbacks pass that on to the caller's aios. */
		nghttpw_stream_close(c->stream);
		reap(&c->reap_task);
	}
}

void
nghttpw_http_conn_close(nghttpw_http_conn *c)
{
	if (c != NULL) {
		conn_close(c, runtime_reap);
	}
}

void
http_conn_close_lazy(nghttpw_http_conn *c)
{
	conn_close(c, runtime_reap_lazy);
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
	if (name != NULL && addr != NULL && conn_proxied_addr(c, name, addr)) {
		return (0);
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
	plat_mutex_lock(&c->mtx);
	*limit = value;
	plat_mutex_unlock(&c->mtx);
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
	plat_mutex_lock(&c->mtx);
	c->raw_only = true;
	plat_mutex_unlock(&c->mtx);
}

void
http_conn_set_read_timeouts(
    nghttpw_http_conn *c, nghttpw_duration idle_ms, nghttpw_duration head_ms)
{
	plat_mutex_lock(&c->mtx);
	c->idle_ms = idle_ms;
	c->head_ms = head_ms;
	plat_mutex_unlock(&c->mtx);
}

void
http_conn_set_write_stall(nghttpw_http_conn *c, nghttpw_duration ms)
{
	plat_mutex_lock(&c->mtx);
	c->wr_stall_ms = ms;
	plat_mutex_unlock(&c->mtx);
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

	plat_mutex_lock(&c->mtx);
	n = c->rlen - c->rpos;
	plat_mutex_unlock(&c->mtx);
	return (n);
}

bool
http_conn_head_started(nghttpw_http_conn *c)
{
	bool started;

	plat_mutex_lock(&c->mtx);
	started = c->head_started || c->rlen > 0;
	plat_mutex_unlock(&c->mtx);
	return (started);
}

void
http_conn_stop_idle(nghttpw_http_conn *c)
{
	plat_mutex_lock(&c->mtx);
	c->no_idle = true;
	if (c->rd_user != NULL && c->rd_kind == RD_HEAD && c->rd_abort == 0) {
		/* As conn_cancel: the stream aio's callback reports it. */
		c->rd_abort = NGHTTPW_ECLOSED;
		nghttpw_aio_abort(c->rd_sio, NGHTTPW_ECLOSED);
	}
	plat_mutex_unlock(&c->mtx);
}

void
http_conn_set_park(nghttpw_http_conn *c, bool on)
{
	plat_mutex_lock(&c->mtx);
	c->park = on;
	plat_mutex_unlock(&c->mtx);
}

bool
http_conn_linger_ended(nghttpw_http_conn *c)
{
	bool ended;

	plat_mutex_lock(&c->mtx);
	ended = c->linger_ended;
	plat_mutex_unlock(&c->mtx);
	return (ended);
}

void
http_conn_resume_idle(nghttpw_http_conn *c)
{
	plat_mutex_lock(&c->mtx);
	c->no_idle = false;
	plat_mutex_unlock(&c->mtx);
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

uint64_t
http_conn_received(nghttpw_http_conn *c)
{
	uint64_t n;

	plat_mutex_lock(&c->mtx);
	n = c->received;
	plat_mutex_unlock(&c->mtx);
	return (n);
}

uint64_t
http_conn_exchange_start(nghttpw_http_conn *c, size_t max_body)
{
	uint64_t n;

	plat_mutex_lock(&c->mtx);
	c->max_body = max_body;
	n           = c->received;
	plat_mutex_unlock(&c->mtx);
	return (n);
}

bool
http_conn_reusable(nghttpw_http_conn *c)
{
	http_parser *p = &c->parser;
	bool         idle;

	plat_mutex_lock(&c->mtx);
	idle = !c->closed && !c->must_close && c->rd_user == NULL &&
	    list_empty(&c->rd_q) && c->wr_user == NULL && list_empty(&c->wr_q) &&
	    !c->flushing && c->olen == 0 && c->rpos == c->rlen &&
	    c->nreqs == 0 && !c->body_raw && p->res != NULL && p->head_done &&
	    (p->message_done || (!p->in_body && http_parser_no_body(p)));
	plat_mutex_unlock(&c->mtx);
	return (idle);
}

void
http_conn_set_lender(nghttpw_http_conn *c, void *lender, uint64_t lease)
{
	plat_mutex_lock(&c->mtx);
	c->lender = lender;
	c->lease  = lease;
	plat_mutex_unlock(&c->mtx);
}

void *
http_conn_lender(nghttpw_http_conn *c, uint64_t *lease)
{
	void *lender;

	plat_mutex_lock(&c->mtx);
	lender = c->lender;
	*lease = c->lease;
	plat_mutex_unlock(&c->mtx);
	return (lender);
}

int
http_conn_set_via(nghttpw_http_conn *c, const char *prefix, const char *lines)
{
	size_t        plen = strlen(prefix) + 1;
	size_t        llen = lines != NULL ? strlen(lines) + 1 : 0;
	nhw_http_via *via;
	char         *p;

	/* One allocation: the structure, then its strings. */
	if ((via = malloc(sizeof(*via) + plen + llen)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	p = (char *) (via + 1);
	memcpy(p, prefix, plen);
	via->prefix = p;
	via->lines  = NULL;
	if (lines != NULL) {
		memcpy(p + plen, lines, llen);
		via->lines = p + plen;
	}
	free(c->via);
	c->via = via;
	return (0);
}

const nhw_http_via *
http_conn_via(nghttpw_http_conn *c)
{
	return (c->via);
}
