/* WebSocket connections: reading.
 *
 * Reading: bytes come into a buffer of the connection's through
 * nghttpw_http_conn_read, which first hands out what the handshake read
 * ahead.  Frame heads are parsed from the buffer; control frames are
 * handled at once; data is unmasked into the head reader's iov as it
 * comes.  With no reader waiting, reading goes on up to the next data
 * frame, so that pings and closes are seen while a program only sends,
 * and a peer that sends more than is read meets TCP's flow control; that
 * frame is judged (its size, its place in a message) only once a reader
 * comes, so that what came before it can still be answered. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/aio.h"
#include "core/options.h"
#include "http/http_conn.h"
#include "ws/ws_conn.h"

/* ------------------------------------------------------------ reading */

/* Reads more into the buffer, keeping the unparsed bytes. */
static void
rx_fill(ws_conn *c)
{
	nghttpw_iov iov;

	if (c->rd_busy || c->torn_down) {
		return;
	}
	if (c->rpos > 0) {
		memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
		c->rlen -= c->rpos;
		c->rpos = 0;
	}
	iov.iov_buf = c->rbuf + c->rlen;
	iov.iov_len = WS_RBUF_SIZE - c->rlen;
	c->rd_busy  = true;
	c->refs++;
	nghttpw_aio_set_iov(c->rx_aio, 1, &iov);
	nghttpw_http_conn_read(c->http, c->rx_aio);
}

void
ws_reader_done(ws_conn *c, int rv)
{
	ws_op       *op  = ws_opq_head(&c->recvq);
	nghttpw_aio *aio = op->aio;

	if (op->kind == OP_MSG && op->flagsp != NULL && rv == 0) {
		*op->flagsp = c->msg_type == WS_OP_TEXT ? NGHTTPW_WS_TEXT
		                                        : NGHTTPW_WS_BINARY;
	}
	ws_opq_remove(&c->recvq, 0);
	aio_finish_count(aio, rv, c->r_count);
	c->r_idx   = 0;
	c->r_off   = 0;
	c->r_count = 0;
	c->checked = false;
}

static void
control_frame(ws_conn *c, const ws_head *h, const uint8_t *p)
{
	switch (h->opcode) {
	case WS_OP_PING:
		if (!c->close_sent && !c->close_due) {
			/* Only the latest ping needs its pong (RFC 6455 5.5.3). */
			memcpy(c->pong, p, h->len);
			c->pong_len = (size_t) h->len;
			c->pong_due = true;
			ws_tx_run(c);
		}
		break;
	case WS_OP_PONG:
		c->ka_ping_out = false;
		for (size_t i = 0; i < c->pingq.n;) {
			ws_op *op = &c->pingq.v[i];
			if (op->sent && op->len == h->len &&
			    (h->len == 0 || memcmp(op->data, p, h->len) == 0)) {
				nghttpw_aio *aio = op->aio;
				ws_opq_remove(&c->pingq, i);
				nghttpw_aio_finish(aio, 0);
			} else {
				i++;
			}
		}
		break;
	default: { /* WS_OP_CLOSE */
		uint16_t code = NGHTTPW_WS_STATUS_NO_STATUS;
		ws_utf8  u    = { 0 };
		/* Even a bad close is the peer's last word: nothing more
		 * to wait for once ours answers it. */
		c->close_rcvd = true;
		if (h->len == 1) {
			ws_fail(c, NGHTTPW_WS_STATUS_PROTOCOL_ERROR, NGHTTPW_EPROTO);
			return;
		}
		if (h->len >= 2) {
			code = (uint16_t) ((p[0] << 8) | p[1]);
			if (!ws_close_code_valid(code)) {
				ws_fail(c, NGHTTPW_WS_STATUS_PROTOCOL_ERROR,
				    NGHTTPW_EPROTO);
				return;
			}
			if (!ws_utf8_feed(&u, p + 2, h->len - 2) || !ws_utf8_done(&u)) {
				ws_fail(c, NGHTTPW_WS_STATUS_INVALID_DATA, NGHTTPW_EPROTO);
				return;
			}
		}
		ws_set_peer_close(c, code, p + 2 * (h->len >= 2), h->len >= 2 ? h->len - 2 : 0);
		c->close_rcvd = true;
		c->rx_done    = true;
		ws_fail_users(c, NGHTTPW_ECLOSED);
		if (c->close_sent) {
			/* The answer to ours. */
			if (c->close_out) {
				ws_close_progress(c);
			}
			return;
		}
		/* Answer with the same code (none for none). */
		ws_close_queue(c, code, NULL, 0);
		ws_tx_run(c);
		break;
	}
	}
}

/* Copies (unmasking) what the buffer holds of the current frame into the
 * head reader's iov, checking text as it goes. */
static bool
deliver(ws_conn *c, ws_op *op, size_t n)
{
	nghttpw_iov part[8];
	unsigned    k;
	uint8_t    *src = c->rbuf + c->rpos;

	k = ws_iov_slice(op->aio, c->r_idx, c->r_off, n, part, 8);
	n = 0;
	for (unsigned i = 0; i < k; i++) {
		uint8_t *dst = part[i].iov_buf;
		if (c->cur.masked) {
			c->phase = ws_mask_copy(dst, src + n, part[i].iov_len,
			    c->cur.mask, c->phase);
		} else {
			memcpy(dst, src + n, part[i].iov_len);
		}
		if (c->msg_type == WS_OP_TEXT &&
		    !ws_utf8_feed(&c->utf8, dst, part[i].iov_len)) {
			return (false);
		}
		n += part[i].iov_len;
	}
	c->rpos += n;
	c->left -= n;
	c->r_count += n;
	ws_iov_advance(op->aio, &c->r_idx, &c->r_off, n);
	return (true);
}

/* The head reader meets the current frame: may it take it? */
static bool
check_frame(ws_conn *c, ws_op *op)
{
	if (c->checked) {
		return (true);
	}
	c->checked = true;
	if (op->kind == OP_STREAM && c->msg_type == WS_OP_TEXT &&
	    !c->set.recv_text) {
		/* nng: a stream reads binary messages only, unless told. */
		ws_fail(c, NGHTTPW_WS_STATUS_UNSUPPORTED, NGHTTPW_EPROTO);
		return (false);
	}
	if (op->kind == OP_MSG &&
	    ((c->set.recvmaxsz != 0 && c->msg_len > c->set.recvmaxsz) ||
	        c->left > ws_iov_space(op->aio, c->r_idx, c->r_off))) {
		/* Refused before a byte of it is read. */
		ws_fail(c, NGHTTPW_WS_STATUS_TOO_BIG, NGHTTPW_EMSGSIZE);
		return (false);
	}
	return (true);
}

/* A frame head has been parsed: check it against the connection. */
static bool
frame_begin(ws_conn *c, const ws_head *h)
{
	if (h->masked != c->server) {
		/* Clients mask, servers do not (RFC 6455 5.1). */
		ws_fail(c, NGHTTPW_WS_STATUS_PROTOCOL_ERROR, NGHTTPW_EPROTO);
		return (false);
	}
	if (ws_op_is_control(h->opcode)) {
		return (true);
	}
	if ((h->opcode == WS_OP_CONT) != c->in_msg) {
		ws_fail(c, NGHTTPW_WS_STATUS_PROTOCOL_ERROR, NGHTTPW_EPROTO);
		return (false);
	}
	if (c->set.recvmaxframe != 0 && h->len > c->set.recvmaxframe) {
		ws_fail(c, NGHTTPW_WS_STATUS_TOO_BIG, NGHTTPW_EMSGSIZE);
		return (false);
	}
	if (h->opcode != WS_OP_CONT) {
		c->in_msg   = true;
		c->msg_type = h->opcode;
		c->msg_len  = 0;
		c->skip_msg = false;
		c->msg_streamed = false;
		memset(&c->utf8, 0, sizeof(c->utf8));
	}
	c->msg_len += h->len;
	c->cur      = *h;
	c->left     = h->len;
	c->phase    = 0;
	c->in_frame = true;
	c->checked  = false;
	return (true);
}

/* The current data frame is all read. */
/* Whether the current message's data is dropped: its reader gave up on
 * it, or we are closing and nobody reads any more. */
static bool
dropping(const ws_conn *c)
{
	return (c->skip_msg || c->close_due || c->close_sent || c->failing);
}

static bool
frame_end(ws_conn *c)
{
	ws_op *op = ws_opq_head(&c->recvq);

	if (!c->cur.fin) {
		c->in_frame = false;
		c->checked  = false;
		return (true);
	}
	if (dropping(c)) {
		c->in_frame = false;
		c->in_msg   = false;
		return (true);
	}
	if (c->msg_type == WS_OP_TEXT && !ws_utf8_done(&c->utf8)) {
		ws_fail(c, NGHTTPW_WS_STATUS_INVALID_DATA, NGHTTPW_EPROTO);
		return (false);
	}
	if (op == NULL && !c->msg_streamed) {
		return (false); /* the end of a message waits for a reader */
	}
	if (op == NULL) {
		/* Stream reads took its bytes: nobody waits for its end. */
		c->in_frame = false;
		c->in_msg   = false;
		return (true);
	}
	if (op->kind == OP_MSG) {
		if (!check_frame(c, op)) {
			return (false);
		}
		ws_reader_done(c, 0);
	}
	c->in_frame = false;
	c->in_msg   = false;
	c->checked  = false;
	return (true);
}

void
ws_rx_run(ws_conn *c)
{
	while (!c->torn_down) {
		size_t avail = c->rlen - c->rpos;
		ws_op *op;

		if (c->rx_done) {
			if (c->recvq.n > 0) {
				ws_fail_users(c, NGHTTPW_ECLOSED);
			}
			if (c->close_out && c->close_rcvd && !c->server &&
			    !c->failing) {
				rx_fill(c); /* waits for the server's end */
			}
			return;
		}
		if (c->rd_busy) {
			return;
		}
		if (!c->in_frame) {
			ws_head h;
			int     n = ws_head_parse(c->rbuf + c->rpos, avail, &h);
			if (n < 0 && (c->failing || c->close_sent)) {
				ws_teardown(c); /* no frame can follow */
				return;
			}
			if (n < 0 && c->recvq.n == 0) {
				return; /* judged when a reader comes, as below */
			}
			if (n < 0) {
				ws_fail(c, (uint16_t) -n, NGHTTPW_EPROTO);
				return;
			}
			if (n == 0) {
				rx_fill(c);
				return;
			}
			if (!ws_op_is_control(h.opcode) && c->recvq.n == 0 &&
			    !dropping(c)) {
				/* A data frame waits, unjudged, for a reader: the
				 * message before it may still be answered. */
				return;
			}
			if (!frame_begin(c, &h)) {
				return;
			}
			if (ws_op_is_control(h.opcode)) {
				uint8_t payload[WS_CONTROL_MAX];
				if (avail - (size_t) n < h.len) {
					rx_fill(c);
					return;
				}
				if (h.masked) {
					ws_mask_copy(payload, c->rbuf + c->rpos + n,
					    (size_t) h.len, h.mask, 0);
				} else {
					memcpy(payload, c->rbuf + c->rpos + n, h.len);
				}
				c->rpos += (size_t) n + (size_t) h.len;
				control_frame(c, &h, payload);
				continue;
			}
			c->rpos += (size_t) n;
			continue;
		}
		if (c->left == 0) {
			if (!frame_end(c)) {
				return;
			}
			continue;
		}
		if (dropping(c)) {
			size_t n = avail < c->left ? avail : (size_t) c->left;
			c->rpos += n;
			c->left -= n;
			if (c->left > 0) {
				rx_fill(c);
				return;
			}
			continue;
		}
		if ((op = ws_opq_head(&c->recvq)) == NULL) {
			return; /* data with nowhere to go: stop reading */
		}
		if (!check_frame(c, op)) {
			return;
		}
		if (avail > 0) {
			size_t n     = avail < c->left ? avail : (size_t) c->left;
			size_t space = ws_iov_space(op->aio, c->r_idx, c->r_off);
			if (n > space) {
				n = space;
			}
			if (!deliver(c, op, n)) {
				ws_fail(c, NGHTTPW_WS_STATUS_INVALID_DATA, NGHTTPW_EPROTO);
				return;
			}
			c->msg_streamed = c->msg_streamed || op->kind == OP_STREAM;
			if (op->kind == OP_STREAM &&
			    (c->rpos == c->rlen || n == space)) {
				ws_reader_done(c, 0);
			}
			continue;
		}
		if (op->kind == OP_STREAM && c->r_count > 0) {
			ws_reader_done(c, 0);
			continue;
		}
		rx_fill(c);
		return;
	}
}

void
ws_rx_cb(void *arg)
{
	ws_conn *c  = arg;
	int      rv = nghttpw_aio_result(c->rx_aio);
	size_t   n  = nghttpw_aio_count(c->rx_aio);

	pthread_mutex_lock(&c->mtx);
	c->rd_busy = false;
	c->rlen += n;
	if (n > 0) {
		c->last_rx = nghttpw_clock();
		if (c->ka_ping_out) {
			/* The timer had only the idle limit to wait for:
			 * the next ping is due again. */
			c->ka_ping_out = false;
			ws_tm_arm(c);
		}
	}
	if (rv != 0) {
		/* The peer went away, or the close is over. */
		ws_teardown(c);
	} else {
		ws_rx_run(c);
	}
	ws_conn_release_unlock(c);
}
