/* The write side of an HTTP connection: raw bytes, messages laid out for
 * one gather write (a file body after the head), the output buffer in
 * which a server's answers to pipelined requests wait to leave with one
 * send, and the request of a transaction.  See http_conn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "http/http_conn_impl.h"

#define FILE_BOUNCE_SIZE (64u * 1024u)
/* Answers to pipelined requests wait in the output buffer (up to this
 * much) and leave with one send; see conn_queue_msg. */
#define OUT_BUF_INITIAL 4096
#define OUT_BUF_MAX (16u * 1024u)

static void wr_finish(nghttpw_http_conn *c, int rv);
static int  wr_send_rest(nghttpw_http_conn *c);

static const char chunk_tail_body[]  = "\r\n0\r\n\r\n";
static const char chunk_tail_empty[] = "0\r\n\r\n";

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
bool
conn_out_flush_first(nghttpw_http_conn *c, bool *waits)
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
			conn_rd_stream_start(c);
		} else {
			/* An abort while waiting took effect only now. */
			conn_rd_finish(c, rv == 0 && c->rd_abort != 0 ? c->rd_abort
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

/* Write side. */

/* The first send of a whole write, tried on the socket at once: an
 * answer usually fits, and then it is done without a stream operation
 * (begun, finished and called back).  True when that finished the write;
 * else what went is counted and the stream sends the rest.  Not for a
 * file body, nor after a first send, which found the socket full. */
static bool
wr_send_now(nghttpw_http_conn *c)
{
	if (c->wr_done > 0 || c->wr_total == 0 || c->wr_kind != WR_ALL ||
	    c->wr_file_left > 0) {
		return (false);
	}
	c->wr_done = stream_send_now(c->stream, c->wr_src, c->wr_nsrc);
	if (c->wr_done < c->wr_total) {
		return (false);
	}
	wr_finish(c, 0);
	return (true);
}

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
	if (conn_out_flush_first(c, &c->wr_after_flush)) {
		return (0);
	}
	if (wr_send_now(c)) {
		return (0);
	}
	rv = conn_iov_set_rest(c->wr_sio, c->wr_src, c->wr_nsrc, c->wr_done,
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
	nghttpw_aio_set_count(aio, conn_chunk_write_end(c, aio, rv));
	if (aio->prov_op == OP_TRANSACT && rv == 0) {
		/* The request is out: the response is read in its turn,
		 * after the reads started before this moment (as in nng,
		 * whose transaction queues its read then). */
		if (c->rd_user == NULL && list_empty(&c->rd_q)) {
			conn_rd_activate(c, aio, true);
		} else {
			list_append(&c->rd_q, &aio->prov_node);
		}
	} else {
		nghttpw_aio_finish(aio, rv);
	}
	conn_wr_next(c);
}

void
conn_wr_sio_cb(void *arg)
{
	nghttpw_http_conn *c  = arg;
	int                rv = nghttpw_aio_result(c->wr_sio);

	size_t             n  = nghttpw_aio_count(c->wr_sio);

	plat_mutex_lock(&c->mtx);
	if (c->flushing) {
		out_sent(c, rv, n);
		plat_mutex_unlock(&c->mtx);
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
	plat_mutex_unlock(&c->mtx);
}

/* Makes aio the pending write, as rd_begin. */
static bool
wr_begin(nghttpw_http_conn *c, nghttpw_aio *aio, write_kind kind,
    const nghttpw_iov *src, unsigned nsrc, bool deferred)
{
	if (!deferred && !aio_defer(aio, conn_cancel, c)) {
		return (false);
	}
	c->wr_user  = aio;
	c->wr_kind  = kind;
	c->wr_abort = 0;
	c->wr_done  = 0;
	c->wr_src   = src;
	c->wr_nsrc  = nsrc;
	c->wr_total = conn_iov_total(src, nsrc);
	c->wr_file_left   = 0;
	c->wr_file_bounce = false;
	return (true);
}

void
nghttpw_http_conn_write(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_start_raw(c, aio, OP_WRITE);
}

void
nghttpw_http_conn_write_all(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_start_raw(c, aio, OP_WRITE_ALL);
}

/* Whether a message's own headers say the connection ends after it. */
static bool
msg_says_close(nhw_http_msg *msg, const char *version)
{
	const char *conn = nhw_http_msg_get_known(msg, NHW_HDR_CONNECTION);

	if (nhw_http_list_has_token(conn, "close")) {
		return (true);
	}
	return (nhw_http_version_is(version, "HTTP/1.0") &&
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
	                 : nhw_http_req_get_head_via(req, c->via, &head, &head_len);
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
 * comes next on the stream sends the queue first (conn_out_flush_first), so a
 * pipelined batch is answered with one send.  Returns the bytes queued, 0
 * when it is to be written now. */
static size_t
conn_queue_msg(nghttpw_http_conn *c, nhw_http_msg *msg, nghttpw_http_res *res,
    bool head_only, unsigned n)
{
	size_t len = conn_iov_total(c->msg_iov, n);

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

bool
conn_wr_start_iov(nghttpw_http_conn *c, nghttpw_aio *aio,
    const nghttpw_iov *src, unsigned n, bool deferred)
{
	int rv;

	if (!wr_begin(c, aio, WR_ALL, src, n, deferred)) {
		return (false);
	}
	if ((rv = wr_send_rest(c)) != 0) {
		wr_finish(c, rv);
	}
	return (true);
}

/* Starts writing the message that aio asks for (conn_start): it is laid out
 * now, not when it was queued, so that a write waiting in the queue
 * touches neither its message nor the one being sent.  Mutex held. */
static void
wr_start_msg(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	conn_op           op    = (conn_op) aio->prov_op;
	bool              batch = op == OP_BATCH_RES || op == OP_BATCH_RES_HEAD;
	bool              head_only = op == OP_WRITE_RES_HEAD ||
	    op == OP_BATCH_RES_HEAD || op == OP_WRITE_REQ_HEAD;
	bool              is_response = op != OP_WRITE_REQ && op != OP_WRITE_REQ_HEAD;
	nghttpw_http_req *req = is_response ? NULL : aio->prov_arg[0];
	nghttpw_http_res *res = is_response ? aio->prov_arg[0] : NULL;
	bool              close_delimited = false;
	int               file_fd;
	uint64_t          file_off, file_len;
	nhw_http_msg     *msg;
	unsigned          n;
	size_t            queued;
	int               rv;

	msg = is_response ? nhw_http_res_msg(res) : nhw_http_req_msg(req);
	if (c->ch_state != CH_NONE) {
		/* The chunked message before it has not ended. */
		nghttpw_aio_finish(aio, NGHTTPW_ESTATE);
	} else if ((rv = conn_chunk_prepare(c, op, msg)) != 0) {
		nghttpw_aio_finish(aio, rv);
	} else if ((rv = msg_prepare(c, msg, is_response, batch, head_only, req, res,
	         &n, &close_delimited)) != 0) {
		nghttpw_aio_finish(aio, rv);
	} else if (batch && !c->closed &&
	    (queued = conn_queue_msg(c, msg, res, head_only, n)) > 0) {
		nghttpw_aio_set_count(aio, queued);
		nghttpw_aio_finish(aio, 0);
	} else if (wr_begin(c, aio, WR_ALL, c->msg_iov, n, deferred)) {
		conn_chunk_head(c, op, msg, res);
		if (req != NULL && c->nreqs < 64) {
			/* For read_res: the answer to HEAD has no body. */
			c->head_reqs |= (uint64_t) (strcmp(nghttpw_http_req_get_method(
			                    req), "HEAD") == 0) << c->nreqs;
			c->nreqs++;
		}
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

void
nghttpw_http_conn_write_req(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_WRITE_REQ, req != NULL, req, NULL);
}

void
nghttpw_http_conn_write_res(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_WRITE_RES, res != NULL, res, NULL);
}

void
nghttpw_http_conn_write_req_head(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_WRITE_REQ_HEAD, req != NULL, req, NULL);
}

void
nghttpw_http_conn_write_res_head(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_WRITE_RES_HEAD, res != NULL, res, NULL);
}

void
http_conn_write_res_batched(nghttpw_http_conn *c, nghttpw_http_res *res,
    bool head_only, nghttpw_aio *aio)
{
	conn_start(c, aio, head_only ? OP_BATCH_RES_HEAD : OP_BATCH_RES,
	    res != NULL, res, NULL);
}

void
http_conn_kick_flush(nghttpw_http_conn *c)
{
	plat_mutex_lock(&c->mtx);
	if (!c->closed) {
		/* Nobody waits for it: out_flushed just empties the queue. */
		(void) conn_out_flush_first(c, NULL);
	}
	plat_mutex_unlock(&c->mtx);
}

void
http_conn_flush(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_FLUSH, true, NULL, NULL);
}

/* Transact: the request goes out as a write in its turn; wr_finish then
 * queues the reading of the response (conn_rd_activate). */
static void
wr_start_transact(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	nghttpw_http_req *req = aio->prov_arg[0];
	unsigned          n;
	int               fd;
	uint64_t          off, len;
	int               rv;

	if (c->ch_state != CH_NONE) {
		/* The chunked message before it has not ended. */
		nghttpw_aio_finish(aio, NGHTTPW_ESTATE);
	} else if ((rv = msg_prepare(c, nhw_http_req_msg(req), false, false,
	                false, req, NULL, &n, &(bool) { false })) != 0) {
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

/* Starts the write that aio asks for (conn_start).  Mutex held. */
void
conn_wr_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
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
	case OP_WRITE_CHUNK:
	case OP_WRITE_REQ_TRAILER:
	case OP_WRITE_RES_TRAILER:
		conn_chunk_activate(c, aio, deferred);
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
	conn_start(c, aio, OP_TRANSACT, req != NULL && res != NULL, req, res);
}
