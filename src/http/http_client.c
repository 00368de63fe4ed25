/* HTTP client: connections to the one origin a URL names, whole exchanges
 * over them, and a few idle keep-alive connections kept for reuse.
 * The streaming form of an exchange ends with the response head and lends
 * the connection to the caller, who gives it back once the body is read.
 *
 * Every operation is an "op" with internal aios of its own.  All of an
 * op's state is guarded by its client's mutex; each step runs from an
 * internal aio's callback (or from the call that starts the op), decides
 * the next step and starts it.  The caller's aio is finished once no
 * internal aio is pending any more; a cancel or timeout of the caller's
 * aio aborts whatever internal aio is running.  A finished op is kept,
 * aios and all, for the next operation: an exchange on a pooled
 * connection then allocates nothing.
 *
 * An exchange normally goes through nghttpw_http_conn_transact().  A
 * request with "Expect: 100-continue" and a body is composed here from
 * writes and reads instead, so that the body can wait for the server's
 * interim answer. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/aio.h"
#include "http/http_conn.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"

#include "http/http_client_impl.h"

static const char chunk_tail[] = "\r\n0\r\n\r\n";

static void op_aio_cb(void *);
static void op_rio_cb(void *);
static void op_tio_cb(void *);
static void x_start(client_op *);
static void x_check(client_op *);
static void x_fail(client_op *, int);
static bool x_body_all_out(client_op *);

/* ------------------------------------------------------------- the pool */

/* Lock held. */
static nghttpw_http_conn *
pool_take(nghttpw_http_client *cl)
{
	return (cl->nidle > 0 ? cl->idle[--cl->nidle] : NULL);
}

/* Lock held. */
static void
pool_put(nghttpw_http_client *cl, nghttpw_http_conn *conn)
{
	if (cl->nidle == CLIENT_MAX_IDLE) {
		nghttpw_http_conn_close(cl->idle[0]);
		memmove(&cl->idle[0], &cl->idle[1],
		    (CLIENT_MAX_IDLE - 1) * sizeof(cl->idle[0]));
		cl->nidle--;
	}
	cl->idle[cl->nidle++] = conn;
}

/* Lock held. */
static void
pool_clear(nghttpw_http_client *cl)
{
	while (cl->nidle > 0) {
		nghttpw_http_conn_close(cl->idle[--cl->nidle]);
	}
}

/* --------------------------------------------------------------- ops */

static bool
method_idempotent(const char *method)
{
	static const char *const safe[] = { "GET", "HEAD", "PUT", "DELETE",
		"OPTIONS", "TRACE" };

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
		if (strcmp(method, safe[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

static void
op_free(client_op *op)
{
	/* Reaped rather than freed: this may run in one of their callbacks. */
	nghttpw_aio_reap(op->aio);
	nghttpw_aio_reap(op->rio);
	nghttpw_aio_reap(op->tio);
	free(op);
}

/* A spare op, or a new one; with the aios of the composed exchange
 * when it is one.  Lock held. */
static int
op_get(nghttpw_http_client *cl, bool composed, client_op **opp)
{
	client_op *op = cl->spare;
	int        rv;

	if (op != NULL) {
		cl->spare = op->next_spare;
		cl->nspare--;
	} else if ((op = calloc(1, sizeof(*op))) == NULL) {
		return (NGHTTPW_ENOMEM);
	} else if ((rv = nghttpw_aio_alloc(&op->aio, op_aio_cb, op)) != 0) {
		free(op);
		return (rv);
	} else {
		/* Never written again: a late op_cancel() reads it unlocked
		 * to find the lock. */
		op->cl = cl;
	}
	if (composed && op->rio == NULL &&
	    ((rv = nghttpw_aio_alloc(&op->rio, op_rio_cb, op)) != 0 ||
	        (rv = nghttpw_aio_alloc(&op->tio, op_tio_cb, op)) != 0)) {
		nghttpw_aio_free(op->rio); /* neither has run */
		op->rio = NULL;
		op->next_spare = cl->spare; /* still fit for a plain exchange */
		cl->spare      = op;
		cl->nspare++;
		return (rv);
	}
	memset(&op->user, 0, offsetof(client_op, err) - offsetof(client_op, user));
	*opp = op;
	return (0);
}

/* Keeps a finished op for the next operation, unless there are enough:
 * false then, and the caller frees it.  Its aios may still be in their
 * callbacks, which touch nothing of the op once it is done: one restarted
 * by the next owner just runs again.  Lock held. */
static bool
op_put(nghttpw_http_client *cl, client_op *op)
{
	if (cl->nspare == CLIENT_MAX_SPARE) {
		return (false);
	}
	op->next_spare = cl->spare;
	cl->spare      = op;
	cl->nspare++;
	return (true);
}

/* Whether the request itself lets its connection persist. */
static bool
req_allows_reuse(nghttpw_http_req *req)
{
	const char *conn =
	    nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_CONNECTION);

	if (nhw_http_list_has_token(conn, "close")) {
		return (false);
	}
	/* memcmp of a constant size is a compare or two, inline. */
	return (memcmp(nghttpw_http_req_get_version(req), "HTTP/1.0", 9) != 0 ||
	    nhw_http_list_has_token(conn, "keep-alive"));
}

/* Ends the op: the connection goes back to the pool when keep says it
 * may and it is fit for it, else it is closed.  The caller's aio is
 * finished by op_teardown() once the lock is dropped.  Lock held. */
static void
op_finish(client_op *op, int rv, bool keep)
{
	nghttpw_http_conn *conn = op->conn;

	if (conn != NULL) {
		op->conn = NULL;
		if (rv == 0 && keep && !nghttpw_http_conn_must_close(conn) &&
		    http_conn_buffered(conn) == 0 && req_allows_reuse(op->req) &&
		    op->generation == op->cl->generation) {
			pool_put(op->cl, conn);
		} else {
			nghttpw_http_conn_close(conn);
		}
	}
	op->done    = true;
	op->fin_aio = op->user;
	op->fin_rv  = rv;
	op->user    = NULL; /* the cancel function now leaves it alone */
}

/* Ends the streaming form with the final response head in op->res: the
 * connection, its body unread, goes to the caller as the aio's output.
 * It may come back to the pool (nghttpw_http_client_release_conn) only
 * when keep and the request allow it, and when its body has been read to
 * the end by then.  Lock held. */
static void
op_lend(client_op *op, bool keep)
{
	nghttpw_http_conn *conn = op->conn;

	op->conn = NULL;
	http_conn_set_lender(conn,
	    keep && req_allows_reuse(op->req) ? op->cl : NULL, op->generation);
	nghttpw_aio_set_output(op->user, 0, conn);
	op_finish(op, 0, false);
}

/* Whether a response head is an interim one, which the final follows. */
static bool
status_interim(uint16_t status)
{
	return (status >= 100 && status < 200 &&
	    status != NGHTTPW_HTTP_STATUS_SWITCHING);
}

/* Gives back an op that never started: aio_defer refused the caller's
 * aio (and finished it).  Drops the lock. */
static void
op_unused(client_op *op)
{
	bool kept = op_put(op->cl, op);

	plat_mutex_unlock(&op->cl->mtx);
	if (!kept) {
		op_free(op);
	}
}

/* Drops the lock, then finishes the caller's aio if the op is done.
 * The op goes back to the spares first: once the caller's aio is
 * finished, the client may be freed.  A cancel function that started
 * before the finish may still call op_cancel() with the caller's aio,
 * which the op no longer has, so it does nothing. */
static void
op_unlock(client_op *op)
{
	nghttpw_http_client *cl      = op->cl;
	bool                 done    = op->done;
	nghttpw_aio         *fin_aio = op->fin_aio;
	int                  fin_rv  = op->fin_rv;
	bool                 kept    = done && op_put(cl, op);

	plat_mutex_unlock(&cl->mtx);
	if (!done) {
		return;
	}
	nghttpw_aio_finish(fin_aio, fin_rv);
	if (!kept) {
		aio_cancel_barrier(op);
		op_free(op);
	}
}

static void
op_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	client_op *op = arg;

	plat_mutex_lock(&op->cl->mtx);
	if (op->user == aio && op->abort_rv == 0) {
		op->abort_rv = rv;
		/* Whatever runs reports the abort from its callback. */
		nghttpw_aio_abort(op->aio, rv);
		if (op->expect) {
			nghttpw_aio_abort(op->rio, rv);
			nghttpw_aio_abort(op->tio, rv);
		}
	}
	plat_mutex_unlock(&op->cl->mtx);
}

/* Lock held. */
void
client_dial_bound(client_op *op)
{
	if (op->dial_deadline != 0) {
		nghttpw_aio_set_expire(op->aio, op->dial_deadline);
	} else {
		nghttpw_aio_set_timeout(op->aio, NGHTTPW_DURATION_INFINITE);
	}
}

/* Lock held. */
static void
op_dial(client_op *op)
{
	nghttpw_http_client *cl = op->cl;

	op->stage         = ST_DIAL;
	op->reused        = false;
	op->generation    = cl->generation;
	op->dial_deadline = 0;
	op->via_proxy     = cl->proxy_dialer != NULL;
	op->tunnel        = op->via_proxy && cl->tunnel;
	if (cl->connect_timeout > 0) {
		op->dial_deadline = nghttpw_clock() + (nghttpw_time) cl->connect_timeout;
	}
	client_dial_bound(op);
	nghttpw_stream_dialer_dial(
	    cl->proxy_dialer != NULL ? cl->proxy_dialer : cl->dialer, op->aio);
}

/* Starts the exchange on op->conn.  Lock held. */
static void
op_exchange(client_op *op)
{
	op->max_body = op->cl->max_body;
	/* A pooled connection may have had another limit. */
	op->rx_mark = http_conn_exchange_start(op->conn, op->max_body);
	if (op->expect) {
		op->stage = ST_EXPECT;
		x_start(op);
		return;
	}
	if (op->stream) {
		/* The request, then heads until the final one (op_aio_cb). */
		op->stage = ST_WRITE;
		nghttpw_http_res_reset(op->res);
		nghttpw_http_conn_write_req(op->conn, op->req, op->aio);
		return;
	}
	/* op->res is reset by the connection once the request is out, or
	 * by op_exchange_failed() when it fails before. */
	op->stage = ST_EXCHANGE;
	nghttpw_http_conn_transact(op->conn, op->req, op->res, op->aio);
}

/* Takes an idle connection, or dials a new one.  Lock held. */
static void
op_acquire(client_op *op)
{
	nghttpw_http_conn *conn = pool_take(op->cl);

	if (conn == NULL) {
		op_dial(op);
		return;
	}
	op->conn       = conn;
	op->reused     = true;
	op->generation = op->cl->generation;
	op_exchange(op);
}

/* Whether the failure of rv is how a connection closed by the server
 * shows itself: on the write of the request or on the read of its
 * response. */
static bool
err_conn_gone(int rv)
{
	return (rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET ||
	    rv == NGHTTPW_ECONNSHUT);
}

/* The exchange on op->conn failed with rv.  A reused connection that the
 * server had closed while it was idle fails so before any byte of the
 * response has come (the server may have closed it just as the request
 * left, but then it never saw the request); an idempotent request is
 * then tried once more on a new connection.  Lock held. */
static void
op_exchange_failed(client_op *op, int rv)
{
	bool response_seen = http_conn_received(op->conn) != op->rx_mark;

	nghttpw_http_conn_close(op->conn);
	op->conn = NULL;
	if (!response_seen && !op->expect && !op->stream) {
		/* Nothing of this exchange's response is in op->res (the
		 * connection resets it once the request is out): no older
		 * one's fields either. */
		nghttpw_http_res_reset(op->res);
	}
	if (op->abort_rv == 0 && op->reused && !op->retried && !response_seen &&
	    err_conn_gone(rv) &&
	    method_idempotent(nghttpw_http_req_get_method(op->req))) {
		op->retried = true;
		op_dial(op);
		return;
	}
	op_finish(op, rv, false);
}

/* The dial (to the origin or to the proxy) ended.  Lock held. */
static void
op_dialed(client_op *op, int rv)
{
	nghttpw_stream *s = rv == 0 ? nghttpw_aio_get_output(op->aio, 0) : NULL;

	if (s != NULL && op->abort_rv == 0 && op->tunnel) {
		if (op->cl->authority != NULL) {
			client_tunnel_start(op, s);
			return;
		}
		/* The proxy was taken away meanwhile. */
		nghttpw_stream_free(s);
		s  = NULL;
		rv = NGHTTPW_ECLOSED;
	}
	client_dialed(op, rv, s);
}

/* Lock held. */
void
client_dialed(client_op *op, int rv, nghttpw_stream *s)
{
	nghttpw_http_client *cl   = op->cl;
	nghttpw_http_conn   *conn = NULL;

	/* The connect timeout bounds the dial alone: not the exchange that
	 * follows, nor those of a spare op made of this one. */
	nghttpw_aio_set_timeout(op->aio, NGHTTPW_DURATION_DEFAULT);
	if (rv == 0 && op->abort_rv == 0 && op->generation != cl->generation &&
	    (op->via_proxy || cl->proxy_dialer != NULL)) {
		/* The proxy changed meanwhile: this stream goes the old
		 * way, which the request may not be fit for. */
		nghttpw_stream_free(s);
		op_dial(op);
		return;
	}
	if (rv == 0) {
		if (op->abort_rv == 0) {
			rv = nghttpw_http_conn_alloc(&conn, s);
			if (rv == 0 && op->via_proxy && !op->tunnel &&
			    (rv = http_conn_set_via(
			         conn, cl->via_prefix, cl->proxy_auth)) != 0) {
				nghttpw_http_conn_close(conn);
				conn = NULL;
				s    = NULL; /* the connection had it */
			}
		}
		if (op->abort_rv != 0 || (rv != 0 && s != NULL)) {
			nghttpw_stream_free(s); /* e.g. made just as it was aborted */
		}
	}
	if (op->abort_rv != 0) {
		rv = op->abort_rv; /* the caller's cancel or timeout says why */
	}
	if (rv != 0) {
		op_finish(op, rv, false);
		return;
	}
	if (op->req == NULL) {
		/* connect(): the caller owns the connection. */
		nghttpw_aio_set_output(op->user, 0, conn);
		op_finish(op, 0, false);
		return;
	}
	op->conn = conn;
	op_exchange(op);
}

/* The streaming form's request was written, or a response head read.
 * Lock held. */
static void
op_stream_step(client_op *op, int rv)
{
	uint16_t status;

	if (op->abort_rv != 0) {
		rv = op->abort_rv;
	}
	if (rv != 0) {
		op_exchange_failed(op, rv);
		return;
	}
	if (op->stage == ST_WRITE ||
	    status_interim(status = nghttpw_http_res_get_status(op->res))) {
		op->stage = ST_HEAD;
		nghttpw_http_conn_read_res(op->conn, op->res, op->aio);
		return;
	}
	/* After 101 the connection speaks another protocol. */
	op_lend(op, status != NGHTTPW_HTTP_STATUS_SWITCHING);
}

static void
op_aio_cb(void *arg)
{
	client_op *op = arg;
	int        rv = nghttpw_aio_result(op->aio);

	plat_mutex_lock(&op->cl->mtx);
	switch (op->stage) {
	case ST_DIAL:
		op_dialed(op, rv);
		break;
	case ST_TUNNEL_SEND:
	case ST_TUNNEL_RECV:
	case ST_TUNNEL_TLS:
		client_tunnel_step(op, rv);
		break;
	case ST_EXCHANGE:
		if (op->abort_rv != 0) {
			rv = op->abort_rv;
		}
		if (rv == 0) {
			/* After 101 the connection speaks another protocol. */
			op_finish(op, 0,
			    nghttpw_http_res_get_status(op->res) !=
			        NGHTTPW_HTTP_STATUS_SWITCHING);
		} else {
			op_exchange_failed(op, rv);
		}
		break;
	case ST_WRITE:
	case ST_HEAD:
		op_stream_step(op, rv);
		break;
	case ST_EXPECT:
		/* A write of the composed exchange. */
		op->wr_busy = false;
		if (op->err != 0 || op->abort_rv != 0) {
			/* Failing already: only wait for the rest to stop. */
		} else if (rv != 0 && !op->head_sent) {
			x_fail(op, rv);
		} else if (rv != 0 && x_body_all_out(op)) {
			/* Stopped (the answer came) just as the last byte
			 * went: the body is sent all the same, and the
			 * connection may go on. */
			op->body = BODY_SENT;
		} else if (rv != 0) {
			/* The body did not all go.  A server that answers
			 * early may stop reading and close: a read still
			 * pending gets its answer, or fails in turn. */
			op->body = BODY_SKIPPED;
			if (!op->rd_busy && !op->resp_done) {
				x_fail(op, rv);
			}
		} else if (!op->head_sent) {
			op->head_sent = true;
			op->rd_busy   = true;
			op->tm_busy   = true;
			nghttpw_http_conn_read_res(op->conn, op->res, op->rio);
			nghttpw_sleep_aio(EXPECT_WAIT_MS, op->tio);
		} else {
			op->body = BODY_SENT;
		}
		x_check(op);
		break;
	}
	op_unlock(op);
}

/* ------------------------------------------- Expect: 100-continue */

/* Lays out the head and the body: Content-Length is added when the body
 * is not chunked and has none.  Lock held. */
static int
x_prepare(client_op *op)
{
	nhw_http_msg *msg = nhw_http_req_msg(op->req);
	const void   *body;
	size_t        size;
	const char   *head;
	size_t        head_len;
	int           rv;

	nhw_http_msg_get_data(msg, &body, &size);
	bool chunked = nhw_http_list_has_token(
	    nhw_http_msg_get_known(msg, NHW_HDR_TRANSFER_ENCODING), "chunked");
	if (!chunked &&
	    nhw_http_msg_get_known(msg, NHW_HDR_CONTENT_LENGTH) == NULL) {
		char len[NHW_HTTP_U64_LEN];
		if ((rv = nhw_http_msg_set_known(msg, NHW_HDR_CONTENT_LENGTH, len,
		         nhw_http_u64_str(size, len))) != 0) {
			return (rv);
		}
	}
	if ((rv = nhw_http_req_get_head_via(op->req, http_conn_via(op->conn),
	         &head, &head_len)) != 0) {
		return (rv);
	}
	op->head_iov = (nghttpw_iov) { (void *) head, head_len };
	if (chunked) {
		int l = snprintf(
		    op->chunk_head, sizeof(op->chunk_head), "%zx\r\n", size);
		op->body_iov[0] = (nghttpw_iov) { op->chunk_head, (size_t) l };
		op->body_iov[1] = (nghttpw_iov) { (void *) body, size };
		op->body_iov[2] = (nghttpw_iov) { (void *) chunk_tail,
			sizeof(chunk_tail) - 1 };
		op->body_niov   = 3;
	} else {
		op->body_iov[0] = (nghttpw_iov) { (void *) body, size };
		op->body_niov   = 1;
	}
	return (0);
}

/* Sends the head; the rest follows from the callbacks.  Lock held. */
static void
x_start(client_op *op)
{
	int rv;

	op->err       = 0;
	op->rd_busy   = false;
	op->tm_busy   = false;
	op->head_sent = false;
	op->got_final = false;
	op->resp_done = false;
	op->body      = BODY_WAITING;
	nghttpw_http_res_reset(op->res);
	if ((rv = x_prepare(op)) != 0) {
		nghttpw_http_conn_close(op->conn);
		op->conn = NULL;
		op_finish(op, rv, false);
		return;
	}
	op->wr_busy = true;
	nghttpw_aio_set_iov(op->aio, 1, &op->head_iov);
	nghttpw_http_conn_write_all(op->conn, op->aio);
}

/* Lock held. */
static void
x_send_body(client_op *op)
{
	op->body    = BODY_SENDING;
	op->wr_busy = true;
	nghttpw_aio_set_iov(op->aio, op->body_niov, op->body_iov);
	nghttpw_http_conn_write_all(op->conn, op->aio);
}

/* Whether the body write, stopped, had moved every byte.  Lock held. */
static bool
x_body_all_out(client_op *op)
{
	size_t total = 0;

	for (unsigned i = 0; i < op->body_niov; i++) {
		total += op->body_iov[i].iov_len;
	}
	return (op->body == BODY_SENDING && nghttpw_aio_count(op->aio) == total);
}

/* Lock held. */
static void
x_fail(client_op *op, int rv)
{
	if (op->err == 0) {
		op->err = rv;
	}
}

/* The final head is in op->res: reads its body (the connection knows
 * 1xx, 204 and 304 have none; HEAD requests are not composed), unless
 * the streaming form leaves it to its caller.  Lock held. */
static void
x_read_body(client_op *op)
{
	if (op->stream) {
		op->resp_done = true;
		return;
	}
	op->rd_busy = true;
	http_conn_read_res_body(op->conn, op->res, op->max_body, op->rio);
}

/* A response head arrived.  Lock held. */
static void
x_got_head(client_op *op)
{
	uint16_t status = nghttpw_http_res_get_status(op->res);

	if (status_interim(status)) {
		if (status == 100 && op->body == BODY_WAITING) {
			nghttpw_aio_abort(op->tio, NGHTTPW_ECANCELED);
			x_send_body(op);
		}
		/* The final response follows. */
		op->rd_busy = true;
		nghttpw_http_conn_read_res(op->conn, op->res, op->rio);
		return;
	}
	op->got_final = true;
	if (op->body == BODY_WAITING) {
		op->body = BODY_SKIPPED; /* the server decided without it */
	}
	nghttpw_aio_abort(op->tio, NGHTTPW_ECANCELED);
	x_read_body(op);
}

static void
op_rio_cb(void *arg)
{
	client_op *op = arg;
	int        rv = nghttpw_aio_result(op->rio);

	plat_mutex_lock(&op->cl->mtx);
	op->rd_busy = false;
	if (op->err != 0 || op->abort_rv != 0) {
		/* Failing already: only wait for the rest to stop. */
	} else if (rv != 0) {
		x_fail(op, rv);
	} else if (op->got_final) {
		op->resp_done = true; /* its body is read */
	} else {
		x_got_head(op);
	}
	x_check(op);
	op_unlock(op);
}

static void
op_tio_cb(void *arg)
{
	client_op *op = arg;
	int        rv = nghttpw_aio_result(op->tio);

	plat_mutex_lock(&op->cl->mtx);
	op->tm_busy = false;
	if (rv == 0 && op->err == 0 && op->abort_rv == 0 &&
	    op->body == BODY_WAITING && !op->got_final) {
		/* No answer in time: send the body anyway. */
		x_send_body(op);
	}
	x_check(op);
	op_unlock(op);
}

/* Decides whether the composed exchange is over.  Lock held. */
static void
x_check(client_op *op)
{
	int  err = op->abort_rv != 0 ? op->abort_rv : op->err;
	bool keep;

	if (err != 0) {
		if (op->wr_busy) {
			nghttpw_aio_abort(op->aio, err);
		}
		if (op->rd_busy) {
			nghttpw_aio_abort(op->rio, err);
		}
		if (op->tm_busy) {
			nghttpw_aio_abort(op->tio, err);
		}
		if (!op->wr_busy && !op->rd_busy && !op->tm_busy) {
			op_exchange_failed(op, err);
		}
		return;
	}
	if (!op->resp_done) {
		return;
	}
	if (op->wr_busy) {
		/* The server answered before taking the whole body (it
		 * sent its final response early): stop sending. */
		nghttpw_aio_abort(op->aio, NGHTTPW_ECANCELED);
		return;
	}
	if (op->tm_busy) {
		nghttpw_aio_abort(op->tio, NGHTTPW_ECANCELED);
		return;
	}
	/* After 101 the connection speaks another protocol. */
	keep = op->body == BODY_SENT &&
	    nghttpw_http_res_get_status(op->res) != NGHTTPW_HTTP_STATUS_SWITCHING;
	if (op->stream) {
		op_lend(op, keep);
	} else {
		op_finish(op, 0, keep);
	}
}

/* ------------------------------------------------------------ the API */

int
nghttpw_http_client_alloc(nghttpw_http_client **cp, const nghttpw_url *url)
{
	nghttpw_http_client *cl;
	int                  rv;
	nghttpw_url         *stream_url;

	if (cp == NULL || url == NULL || url->u_scheme == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = http_transport_url(url, &stream_url)) != 0) {
		return (rv);
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		nghttpw_url_free(stream_url);
		return (NGHTTPW_ENOMEM);
	}
	/* TCP for http and ws, TLS for https and wss. */
	if ((rv = nghttpw_url_clone(&cl->url, url)) != 0 ||
	    (rv = nghttpw_stream_dialer_alloc_url(&cl->dialer, stream_url)) != 0) {
		nghttpw_url_free(cl->url);
		nghttpw_url_free(stream_url);
		free(cl);
		return (rv);
	}
	nghttpw_url_free(stream_url);
	plat_mutex_init(&cl->mtx);
	cl->max_body        = NGHTTPW_HTTP_MAX_BODY_DEFAULT;
	cl->connect_timeout = NGHTTPW_DURATION_INFINITE;
	*cp                 = cl;
	return (0);
}

int
nghttpw_http_client_set_max_body(nghttpw_http_client *cl, size_t size)
{
	if (cl == NULL) {
		return (NGHTTPW_EINVAL);
	}
	plat_mutex_lock(&cl->mtx);
	cl->max_body = size;
	plat_mutex_unlock(&cl->mtx);
	return (0);
}

int
nghttpw_http_client_set_connect_timeout(nghttpw_http_client *cl, nghttpw_duration timeout)
{
	/* Zero would fail every dial at once. */
	if (cl == NULL || timeout < NGHTTPW_DURATION_DEFAULT ||
	    timeout == NGHTTPW_DURATION_ZERO) {
		return (NGHTTPW_EINVAL);
	}
	plat_mutex_lock(&cl->mtx);
	cl->connect_timeout = timeout;
	plat_mutex_unlock(&cl->mtx);
	return (0);
}

void
nghttpw_http_client_free(nghttpw_http_client *cl)
{
	if (cl == NULL) {
		return;
	}
	plat_mutex_lock(&cl->mtx);
	pool_clear(cl);
	plat_mutex_unlock(&cl->mtx);
	/* The caller has waited for its aios, so each spare is done but for
	 * the tail of a callback (op_free reaps) or of a cancel function. */
	while (cl->spare != NULL) {
		client_op *op = cl->spare;
		cl->spare     = op->next_spare;
		aio_cancel_barrier(op);
		op_free(op);
	}
	nghttpw_stream_dialer_free(cl->dialer);
	client_proxy_clear(cl);
	nghttpw_url_free(cl->url);
	free(cl);
}

int
nghttpw_http_client_set_tls(nghttpw_http_client *cl, nghttpw_tls_config *cfg)
{
	int rv;

	if (cl == NULL) {
		return (NGHTTPW_EINVAL);
	}
	plat_mutex_lock(&cl->mtx);
	rv = nghttpw_stream_dialer_set_ptr(cl->dialer, CLIENT_OPT_TLS, cfg);
	if (rv == 0) {
		/* Idle connections were made with the old configuration. */
		pool_clear(cl);
		cl->generation++;
	}
	plat_mutex_unlock(&cl->mtx);
	return (rv);
}

int
nghttpw_http_client_get_tls(nghttpw_http_client *cl, nghttpw_tls_config **cfgp)
{
	void *p;
	int   rv;

	if (cl == NULL || cfgp == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_stream_dialer_get_ptr(cl->dialer, CLIENT_OPT_TLS, &p)) ==
	    0) {
		*cfgp = p;
	}
	return (rv);
}

void
nghttpw_http_client_connect(nghttpw_http_client *cl, nghttpw_aio *aio)
{
	client_op *op;
	int        rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (cl == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	plat_mutex_lock(&cl->mtx);
	if ((rv = op_get(cl, false, &op)) != 0) {
		plat_mutex_unlock(&cl->mtx);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	if (!aio_defer(aio, op_cancel, op)) {
		op_unused(op);
		return;
	}
	op->user = aio;
	op_dial(op);
	plat_mutex_unlock(&cl->mtx);
}

static void
client_transact(nghttpw_http_client *cl, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio, bool stream)
{
	client_op    *op;
	nhw_http_msg *msg;
	const char   *expect;
	const void   *body;
	size_t        size;
	bool          composed;
	int           rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (cl == NULL || req == NULL || res == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	msg = nhw_http_req_msg(req);
	if (nhw_http_msg_get_known(msg, NHW_HDR_HOST) == NULL &&
	    cl->url->u_host != NULL &&
	    (rv = nghttpw_http_req_set_header(req, "Host", cl->url->u_host)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	/* (A HEAD request with a body is odd enough to go in one piece: the
	 * connection then knows its answer has no body.) */
	expect   = nhw_http_msg_get_known(msg, NHW_HDR_EXPECT);
	composed = false;
	if (nhw_http_list_has_token(expect, "100-continue")) {
		nhw_http_msg_get_data(msg, &body, &size);
		composed = size > 0 &&
		    strcmp(nghttpw_http_req_get_method(req), "HEAD") != 0;
	}
	plat_mutex_lock(&cl->mtx);
	if ((rv = op_get(cl, composed, &op)) != 0) {
		plat_mutex_unlock(&cl->mtx);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	if (!aio_defer(aio, op_cancel, op)) {
		op_unused(op);
		return;
	}
	op->req        = req;
	op->res        = res;
	op->expect     = composed;
	op->stream     = stream;
	op->user       = aio;
	op_acquire(op);
	op_unlock(op); /* preparing the composed exchange can fail */
}

void
nghttpw_http_client_transact(nghttpw_http_client *cl, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio)
{
	client_transact(cl, req, res, aio, false);
}

void
nghttpw_http_client_transact_stream(nghttpw_http_client *cl,
    nghttpw_http_req *req, nghttpw_http_res *res, nghttpw_aio *aio)
{
	client_transact(cl, req, res, aio, true);
}

void
nghttpw_http_client_release_conn(
    nghttpw_http_client *cl, nghttpw_http_conn *conn)
{
	uint64_t lease;

	if (conn == NULL) {
		return;
	}
	/* Only a connection this client lent, whose exchange is over: any
	 * other is closed (a body not read to its end would be taken for
	 * the next response). */
	if (cl != NULL && http_conn_lender(conn, &lease) == cl &&
	    http_conn_reusable(conn)) {
		http_conn_set_lender(conn, NULL, 0);
		plat_mutex_lock(&cl->mtx);
		if (lease == cl->generation) {
			pool_put(cl, conn);
			conn = NULL;
		}
		plat_mutex_unlock(&cl->mtx);
	}
	if (conn != NULL) {
		nghttpw_http_conn_close(conn);
	}
}
