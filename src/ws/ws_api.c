/* WebSocket connections: the operations users start (nghttpw_ws_* and
 * the stream's send and recv), queued in order, and their cancellation. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/aio.h"
#include "core/options.h"
#include "http/http_conn.h"
#include "ws/ws_conn.h"

/* ------------------------------------------------------------ user ops */

static ws_conn *
stream_conn(nghttpw_stream *s)
{
	return (s->arg);
}

static void
op_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	ws_conn *c = arg;
	size_t   i;

	pthread_mutex_lock(&c->mtx);
	if (ws_opq_find(&c->recvq, aio, &i)) {
		if (i == 0) {
			if (c->in_msg && c->r_count > 0 &&
			    c->recvq.v[0].kind == OP_MSG) {
				c->skip_msg = true; /* the rest is dropped */
			}
			ws_reader_done(c, rv);
		} else {
			ws_opq_remove(&c->recvq, i);
			nghttpw_aio_finish(aio, rv);
		}
	} else if (ws_opq_find(&c->sendq, aio, &i)) {
		if (i == 0 && c->wr_what == WR_DATA) {
			/* Its bytes are being written: the write's end
			 * finishes it, and ends the connection (a frame cut
			 * short cannot be followed by anything). */
			if (c->w_abort == 0) {
				c->w_abort = rv;
				nghttpw_aio_abort(c->tx_aio, rv);
			}
		} else if (i == 0 && c->w_started) {
			/* A message cut short: the connection cannot go on. */
			ws_sendq_remove(c, 0);
			aio_finish_count(aio, rv, c->w_count);
			c->w_started = false;
			c->w_count   = 0;
			c->w_idx     = 0;
			c->w_off     = 0;
			if (c->w_in_frame) {
				ws_teardown(c);
			} else {
				ws_fail(c, NGHTTPW_WS_STATUS_INTERNAL_ERROR,
				    NGHTTPW_ECLOSED);
			}
		} else {
			ws_sendq_remove(c, i);
			nghttpw_aio_finish(aio, rv);
		}
	} else if (ws_opq_find(&c->pingq, aio, &i)) {
		ws_opq_remove(&c->pingq, i);
		nghttpw_aio_finish(aio, rv);
	} else if (c->close_user == aio) {
		c->close_user = NULL;
		nghttpw_aio_finish(aio, rv);
		ws_teardown(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

/* Queues op; false (and the aio finished) when it cannot be. */
static bool
op_queue(ws_conn *c, opq *q, ws_op *op, bool sending)
{
	int rv = 0;

	if (c->torn_down || c->user_closed ||
	    (sending ? (c->close_sent || c->close_due)
	             : (c->rx_done || c->failing || c->close_due || c->close_sent))) {
		rv = sending || c->rx_err == 0 ? NGHTTPW_ECLOSED : c->rx_err;
	} else if (!aio_defer(op->aio, op_cancel, c)) {
		return (false);
	} else if ((rv = ws_opq_push(q, op)) == 0) {
		return (true);
	}
	nghttpw_aio_finish(op->aio, rv);
	return (false);
}

/* Checks what is queued for sending: 0 or NGHTTPW_EINVAL.  (Frames sent
 * one by one are checked as they go out, against the message so far.) */
static int
send_check(const ws_op *op)
{
	ws_utf8 u = { 0 };

	if (op->kind == OP_STREAM && ws_iov_total(op->aio) == 0) {
		return (NGHTTPW_EINVAL); /* as every stream's send */
	}
	if (op->kind != OP_FRAME && op->type == WS_OP_TEXT &&
	    !ws_iov_utf8(&u, op->aio, true)) {
		return (NGHTTPW_EINVAL); /* the peer would fail us, 1007 */
	}
	return (0);
}

static void
conn_send(nghttpw_stream *s, nghttpw_aio *aio, uint8_t kind, unsigned flags)
{
	ws_conn *c;
	ws_op    op = { .aio = aio, .kind = kind };
	int      rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (s == NULL || s->ops != &ws_stream_ops ||
	    (flags & ~(unsigned) (NGHTTPW_WS_TEXT | NGHTTPW_WS_FIN)) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	c = stream_conn(s);
	pthread_mutex_lock(&c->mtx);
	if (kind == OP_STREAM) {
		flags = c->set.send_text ? NGHTTPW_WS_TEXT : 0;
	}
	op.type = (flags & NGHTTPW_WS_TEXT) != 0 ? WS_OP_TEXT : WS_OP_BINARY;
	op.fin  = (flags & NGHTTPW_WS_FIN) != 0;
	op.len  = ws_iov_total(aio);
	if ((rv = send_check(&op)) != 0) {
		nghttpw_aio_finish(aio, rv);
	} else if (c->set.sendq_max != 0 && c->sendq_bytes > 0 &&
	    c->sendq_bytes + op.len > c->set.sendq_max) {
		/* A peer that does not read must not make us hold more. */
		nghttpw_aio_finish(aio, NGHTTPW_EAGAIN);
	} else if (op_queue(c, &c->sendq, &op, true)) {
		c->sendq_bytes += op.len;
		ws_tx_run(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

static void
conn_recv(nghttpw_stream *s, nghttpw_aio *aio, uint8_t kind, unsigned *flagsp)
{
	ws_conn *c;
	ws_op    op = { .aio = aio, .kind = kind, .flagsp = flagsp };

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (s == NULL || s->ops != &ws_stream_ops ||
	    (kind == OP_STREAM && ws_iov_total(aio) == 0)) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	c = stream_conn(s);
	pthread_mutex_lock(&c->mtx);
	if (op_queue(c, &c->recvq, &op, false) && c->recvq.n == 1) {
		ws_rx_run(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

void
ws_stream_send(void *arg, nghttpw_aio *aio)
{
	ws_conn *c = arg;
	conn_send(&c->stream, aio, OP_STREAM, 0);
}

void
ws_stream_recv(void *arg, nghttpw_aio *aio)
{
	ws_conn *c = arg;
	conn_recv(&c->stream, aio, OP_STREAM, NULL);
}

void
nghttpw_ws_send_msg(nghttpw_stream *s, unsigned flags, nghttpw_aio *aio)
{
	conn_send(s, aio, OP_MSG, flags & ~(unsigned) NGHTTPW_WS_FIN);
}

void
nghttpw_ws_send_frame(nghttpw_stream *s, unsigned flags, nghttpw_aio *aio)
{
	conn_send(s, aio, OP_FRAME, flags);
}

void
nghttpw_ws_recv_msg(nghttpw_stream *s, unsigned *flagsp, nghttpw_aio *aio)
{
	conn_recv(s, aio, OP_MSG, flagsp);
}

void
nghttpw_ws_ping(nghttpw_stream *s, const void *data, size_t len, nghttpw_aio *aio)
{
	ws_conn *c;
	ws_op    op = { .aio = aio, .kind = OP_PING, .data = data, .len = len };

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (s == NULL || s->ops != &ws_stream_ops || len > WS_CONTROL_MAX ||
	    (data == NULL && len > 0)) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	c = stream_conn(s);
	pthread_mutex_lock(&c->mtx);
	if (op_queue(c, &c->pingq, &op, true)) {
		ws_tx_run(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

void
nghttpw_ws_close(
    nghttpw_stream *s, uint16_t code, const char *reason, nghttpw_aio *aio)
{
	ws_conn *c;
	size_t   rlen = reason != NULL ? strlen(reason) : 0;
	ws_utf8  u    = { 0 };

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if (s == NULL || s->ops != &ws_stream_ops ||
	    (code != NGHTTPW_WS_STATUS_NO_STATUS && !ws_close_code_valid(code)) ||
	    rlen > WS_CONTROL_MAX - 2 || !ws_utf8_feed(&u, (const uint8_t *) reason, rlen) ||
	    !ws_utf8_done(&u) || (code == NGHTTPW_WS_STATUS_NO_STATUS && rlen > 0)) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	c = stream_conn(s);
	pthread_mutex_lock(&c->mtx);
	if (c->close_user != NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EBUSY);
	} else if (c->torn_down) {
		/* Over already: say how it ended. */
		nghttpw_aio_finish(aio, ws_close_result(c));
	} else if (aio_defer(aio, op_cancel, c)) {
		/* A close under way (the peer's, or ours from
		 * nghttpw_stream_close) is waited for; else ours starts. */
		c->close_user = aio;
		ws_close_queue(c, code, reason, rlen);
		ws_fail_users(c, NGHTTPW_ECLOSED);
		ws_tx_run(c);
		/* Reading goes on, for the peer's close. */
		ws_rx_run(c);
	}
	pthread_mutex_unlock(&c->mtx);
}
