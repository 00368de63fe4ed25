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

/* Picks the read buffer: the small one inside the connection while
 * nothing is kept and reads come small (an idle connection, or one of
 * small messages), else WS_RBUF_SIZE from the heap.  False when that
 * cannot be had. */
static bool
rx_buffer(ws_conn *c)
{
	uint8_t *big;

	if (c->rbuf != c->rbuf_idle && c->rlen == 0 && c->rd_small) {
		free(c->rbuf);
		c->rbuf = c->rbuf_idle;
		c->rcap = WS_RBUF_IDLE;
	} else if (c->rbuf == c->rbuf_idle && (c->rlen > 0 || !c->rd_small)) {
		/* Part of a frame is kept: more of it comes. */
		if ((big = malloc(WS_RBUF_SIZE)) == NULL) {
			return (false);
		}
		memcpy(big, c->rbuf_idle, c->rlen);
		c->rbuf = big;
		c->rcap = WS_RBUF_SIZE;
	}
	return (true);
}

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
	if (!rx_buffer(c)) {
		/* No memory to read even a close: readers learn why. */
		if (c->rx_err == 0) {
			c->rx_err = NGHTTPW_ENOMEM;
		}
		ws_teardown(c);
		return;
	}
	iov.iov_buf = c->rbuf + c->rlen;
	iov.iov_len = c->rcap - c->rlen;
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

/* The most a compressed message may take on the wire: deflate adds a
 * little to what does not compress, never more than this. */
static uint64_t
z_wire_max(size_t limit)
{
	return ((uint64_t) limit + limit / 64 + 1024);
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
	if (c->msg_z) {
		/* Its size is known as it is inflated (rx_inflate). */
		if (c->set.recvmaxsz != 0 && c->msg_len > z_wire_max(c->set.recvmaxsz)) {
			ws_fail(c, NGHTTPW_WS_STATUS_TOO_BIG, NGHTTPW_EMSGSIZE);
			return (false);
		}
		return (true);
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
	if ((h->opcode == WS_OP_CONT) != c->in_msg ||
	    (h->rsv1 && h->opcode == WS_OP_CONT)) {
		/* RSV1 marks a message's first frame only (RFC 7692 6). */
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
		c->msg_z     = h->rsv1;
		c->msg_out   = 0;
		c->z_tail    = 0;
		c->z_pending = false;
	}
	c->msg_len += h->len;
	c->cur      = *h;
	c->left     = h->len;
	c->phase    = 0;
	c->rx_plain = 0;
	c->in_frame = true;
	c->checked  = false;
	return (true);
}

/* ------------------------------------------------------------ inflating */

/* Whether a compressed message's end still has to go through the
 * decompressor: its trailer, and what that brings out. */
static bool
z_tail_due(const ws_conn *c)
{
	return (c->msg_z && c->cur.fin && (c->z_tail < WS_PMD_TAIL_LEN || c->z_pending));
}

/* A compressed message is all in: the decompressor is dropped when the
 * peer keeps no context and nothing more is at hand, else kept. */
static void
z_msg_end(ws_conn *c)
{
	c->msg_z = false;
	if (c->hi.pmd.rx_reset && c->zin != NULL) {
		if (c->rpos < c->rlen) {
			(void) inflateReset(c->zin);
		} else {
			ws_pmd_inflater_free(&c->zin);
		}
	}
}

/* Runs the decompressor over what has come of the current frame (or, at
 * the message's end, its trailer), into out[0..k).  *moved gets the bytes
 * put out; *probe_hit whether the last entry, a probe, got any.  1: it
 * took input or gave output, 0: neither (it needs more input, or room),
 * -1: the connection failed. */
static int
z_run(ws_conn *c, size_t avail, nghttpw_iov *out, unsigned k, bool probe,
    size_t *moved, bool *probe_hit)
{
	z_stream *z;
	size_t    in_len, used;
	int       zrv  = Z_OK;
	bool      stop = false;

	*moved     = 0;
	*probe_hit = false;
	if ((z = ws_pmd_inflater(&c->zin, c->hi.pmd.rx_bits)) == NULL) {
		ws_fail(c, NGHTTPW_WS_STATUS_INTERNAL_ERROR, NGHTTPW_ENOMEM);
		return (-1);
	}
	if (c->left > 0) {
		in_len = avail < c->left ? avail : (size_t) c->left;
		if (c->cur.masked && c->rx_plain < in_len) {
			/* Unmasked in place, once. */
			uint8_t *p = c->rbuf + c->rpos + c->rx_plain;
			c->phase    = ws_mask_copy(p, p, in_len - c->rx_plain, c->cur.mask, c->phase);
			c->rx_plain = in_len;
		}
		z->next_in = c->rbuf + c->rpos;
	} else {
		in_len     = WS_PMD_TAIL_LEN - c->z_tail;
		z->next_in = (Bytef *) (uintptr_t) (ws_pmd_tail + c->z_tail);
	}
	z->avail_in  = (uInt) in_len;
	c->z_pending = false;
	for (unsigned i = 0; i < k; i++) {
		size_t cap = out[i].iov_len;
		size_t n   = 0;
		/* Entries past where it stops get nothing. */
		out[i].iov_len = 0;
		if (stop) {
			continue;
		}
		z->next_out  = out[i].iov_buf;
		z->avail_out = (uInt) cap;
		zrv          = inflate(z, Z_SYNC_FLUSH);
		n            = cap - z->avail_out;
		if (probe && i == k - 1) {
			*probe_hit = n > 0;
			break;
		}
		out[i].iov_len = n;
		*moved += n;
		if (zrv == Z_STREAM_END) {
			/* The peer ended its stream (BFINAL): what follows
			 * starts a new one. */
			(void) inflateReset(z);
			stop = true;
		} else if ((zrv != Z_OK && zrv != Z_BUF_ERROR) || z->avail_out > 0) {
			stop = true; /* an error, or all it can give for now */
		} else {
			c->z_pending = i == k - 1;
		}
	}
	if (zrv == Z_MEM_ERROR) {
		ws_fail(c, NGHTTPW_WS_STATUS_INTERNAL_ERROR, NGHTTPW_ENOMEM);
		return (-1);
	}
	if (zrv != Z_OK && zrv != Z_BUF_ERROR && zrv != Z_STREAM_END) {
		ws_fail(c, NGHTTPW_WS_STATUS_INVALID_DATA, NGHTTPW_EPROTO);
		return (-1);
	}
	used = in_len - z->avail_in;
	if (c->left > 0) {
		c->rpos += used;
		c->left -= used;
		c->rx_plain -= used;
	} else {
		c->z_tail += (unsigned) used;
	}
	return (used > 0 || *moved > 0 || *probe_hit);
}

/* Inflates into the head reader's iov.  1: it moved on, 0: it needs more
 * input, -1: the connection failed.  The limit on a message applies to
 * its inflated size, and is checked as it grows: a byte past the limit
 * (or past a whole-message reader's buffer) lands in a probe, and the
 * message is refused there, without inflating the rest. */
static int
rx_inflate(ws_conn *c, ws_op *op, size_t avail)
{
	nghttpw_iov part[9];
	uint8_t     probe;
	size_t      space = ws_iov_space(op->aio, c->r_idx, c->r_off);
	size_t      limit = c->set.recvmaxsz;
	size_t      want, sliced = 0, moved;
	bool        capped = false, probed = false, hit;
	unsigned    k;
	int         r;

	want = space;
	if (limit != 0 && limit - c->msg_out < want) {
		want   = (size_t) (limit - c->msg_out);
		capped = true;
	}
	k = ws_iov_slice(op->aio, c->r_idx, c->r_off, want, part, 8);
	for (unsigned i = 0; i < k; i++) {
		sliced += part[i].iov_len;
	}
	/* The probe goes only after all the room there is. */
	if (sliced == want && (capped || op->kind == OP_MSG)) {
		part[k].iov_buf = &probe;
		part[k].iov_len = 1;
		k++;
		probed = true;
	}
	if ((r = z_run(c, avail, part, k, probed, &moved, &hit)) <= 0) {
		return (r);
	}
	if (hit) {
		ws_fail(c, NGHTTPW_WS_STATUS_TOO_BIG, NGHTTPW_EMSGSIZE);
		return (-1);
	}
	for (unsigned i = 0; i < k - probed && c->msg_type == WS_OP_TEXT; i++) {
		if (!ws_utf8_feed(&c->utf8, part[i].iov_buf, part[i].iov_len)) {
			ws_fail(c, NGHTTPW_WS_STATUS_INVALID_DATA, NGHTTPW_EPROTO);
			return (-1);
		}
	}
	c->msg_out += moved;
	c->r_count += moved;
	ws_iov_advance(op->aio, &c->r_idx, &c->r_off, moved);
	c->msg_streamed = c->msg_streamed || op->kind == OP_STREAM;
	if (op->kind == OP_STREAM && c->r_count > 0 &&
	    (moved == space || (!c->z_pending && c->rpos == c->rlen))) {
		ws_reader_done(c, 0);
	}
	return (1);
}

/* Whether a compressed message that is being dropped must go through the
 * decompressor all the same: its reader gave up on it, but the peer
 * builds the next message on it. */
static bool
z_keeps_context(const ws_conn *c)
{
	return (c->msg_z && c->skip_msg && !c->hi.pmd.rx_reset && !c->close_due &&
	    !c->close_sent && !c->failing && (c->left > 0 || z_tail_due(c)));
}

/* Drops the rest of a compressed message whose reader gave up on it,
 * through the decompressor all the same while the peer keeps its context:
 * the next message builds on this one.  As rx_inflate. */
static int
rx_inflate_drop(ws_conn *c, size_t avail)
{
	uint8_t     scratch[4096];
	nghttpw_iov out = { .iov_buf = scratch, .iov_len = sizeof(scratch) };
	size_t      moved;
	bool        hit;

	return (z_run(c, avail, &out, 1, false, &moved, &hit));
}

/* Whether the current message's data is dropped: its reader gave up on
 * it, or we are closing and nobody reads any more. */
static bool
dropping(const ws_conn *c)
{
	return (c->skip_msg || c->close_due || c->close_sent || c->failing);
}

/* The current data frame is all read. */
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
		z_msg_end(c);
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
		z_msg_end(c);
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
	z_msg_end(c);
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
			int     n = ws_head_parse(c->rbuf + c->rpos, avail,
			            c->hi.pmd.on, &h);
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
		if (c->left == 0 && !z_tail_due(c)) {
			if (!frame_end(c)) {
				return;
			}
			continue;
		}
		if (dropping(c) && z_keeps_context(c)) {
			int r = rx_inflate_drop(c, avail);
			if (r < 0) {
				return;
			}
			if (r == 0) {
				rx_fill(c);
				return;
			}
			continue;
		}
		if (c->left == 0 && dropping(c)) {
			/* Nothing will be built on this message. */
			c->z_tail    = WS_PMD_TAIL_LEN;
			c->z_pending = false;
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
		if (c->msg_z) {
			int r = rx_inflate(c, op, avail);
			if (r < 0) {
				return;
			}
			if (r > 0) {
				continue;
			}
		} else if (avail > 0) {
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
	c->rd_busy  = false;
	c->rd_small = n < WS_RBUF_IDLE;
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
