/* WebSocket connections: writing.
 *
 * Writing: one frame at a time, in order of the queued operations, with
 * control frames (pongs, pings, the close) between frames, never inside
 * one.  A server's frame is its head plus slices of the caller's iov, in
 * one write; a client's is masked into a buffer of its own, a piece at a
 * time.  A compressed message (permessage-deflate) is deflated into a
 * buffer of the connection's, and each buffer's worth goes out as a frame
 * of its own, masked in place by a client. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/aio.h"
#include "core/options.h"
#include "http/http_conn.h"
#include "platform/random.h"
#include "ws/ws_conn.h"

/* ------------------------------------------------------------ writing */

static void
tx_start(ws_conn *c, unsigned niov, int what)
{
	c->wr_what = what;
	c->refs++;
	nghttpw_aio_set_iov(c->tx_aio, niov, c->wiov);
	nghttpw_http_conn_write_all(c->http, c->tx_aio);
}

int
ws_wiov_reserve(ws_conn *c, unsigned n)
{
	if (n > c->wiov_cap) {
		nghttpw_iov *v = realloc(c->wiov, n * sizeof(*v));
		if (v == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		c->wiov     = v;
		c->wiov_cap = n;
	}
	return (0);
}

static void
tx_control(ws_conn *c, uint8_t op, const void *data, size_t len)
{
	uint8_t  mask[4];
	size_t   hl;
	uint8_t *p;

	if (!c->server) {
		plat_random(mask, 4);
	}
	hl = ws_head_write(c->whead, true, false, op, len, c->server ? NULL : mask);
	p  = c->whead + hl;
	/* data may be NULL when len is 0 */
	if (len > 0 && c->server) {
		memcpy(p, data, len);
	} else if (len > 0) {
		ws_mask_copy(p, data, len, mask, 0);
	}
	(void) ws_wiov_reserve(c, 1); /* wiov_cap is never below 1 */
	c->wiov[0].iov_buf = c->whead;
	c->wiov[0].iov_len = hl + len;
	tx_start(c, 1, WR_CONTROL);
}

/* No memory to write the head op's frame.  Nothing may follow a message
 * cut short, and there is no memory for a close either: the connection
 * ends, and the head op learns why. */
static void
tx_nomem(ws_conn *c)
{
	c->w_in_frame = true; /* keeps it at the head for ws_cut_head_send */
	c->w_abort    = NGHTTPW_ENOMEM;
	ws_teardown(c);
}

/* Whether the head op's message goes compressed, decided at its first
 * frame: when deflate was agreed, zlib can keep to the window agreed, and
 * the message (or its first frame) is not below the threshold. */
static bool
tx_compressing(ws_conn *c, ws_op *op)
{
	if (!c->w_msg_open && !c->w_started && !c->w_in_frame) {
		c->w_z = c->hi.pmd.on && c->hi.pmd.tx_bits >= 9 &&
		    ws_iov_total(op->aio) >= c->set.pmd.threshold;
	}
	return (c->w_z);
}

/* Deflates more of the head op's bytes into zbuf: until it is full, or
 * they are all in and flushed.  When the op ends its message, the
 * trailer that the flush leaves is then taken off. */
static int
tx_deflate(ws_conn *c, ws_op *op, bool ends_msg)
{
	z_stream *z = c->zout;

	while (!c->w_z_done) {
		nghttpw_iov in;
		unsigned    k     = ws_iov_slice(op->aio, c->w_idx, c->w_off, SIZE_MAX, &in, 1);
		int         flush = k > 0 ? Z_NO_FLUSH : Z_SYNC_FLUSH;
		size_t      room  = WS_ZBUF_SIZE - c->zlen;
		size_t      give, used;
		int         zrv;

		/* zlib asks for more than 6 bytes of room for a flush, or
		 * it may write its marker twice. */
		if (room == 0 || (flush == Z_SYNC_FLUSH && room <= 6)) {
			return (0);
		}
		if (flush == Z_SYNC_FLUSH && c->w_z_in == 0) {
			/* Nothing to flush (zlib would write nothing after
			 * an earlier flush): an empty message is one empty
			 * block, 0x00 once its trailer is off (RFC 7692
			 * 7.2.3.6); an empty frame inside one is empty. */
			if (ends_msg && !c->w_msg_open) {
				c->zbuf[c->zlen++] = 0x00;
			}
			c->w_z_done = true;
			return (0);
		}
		give         = k > 0 ? (in.iov_len < UINT_MAX ? in.iov_len : UINT_MAX) : 0;
		z->next_in   = k > 0 ? in.iov_buf : NULL;
		z->avail_in  = (uInt) give;
		z->next_out  = c->zbuf + c->zlen;
		z->avail_out = (uInt) room;
		zrv          = deflate(z, flush);
		if (zrv != Z_OK && zrv != Z_BUF_ERROR) {
			return (NGHTTPW_EINTERNAL);
		}
		used = give - z->avail_in;
		ws_iov_advance(op->aio, &c->w_idx, &c->w_off, used);
		c->w_z_in += used;
		c->zlen = WS_ZBUF_SIZE - z->avail_out;
		if (flush == Z_SYNC_FLUSH && z->avail_out > 0) {
			c->w_z_done = true;
			if (ends_msg) {
				c->zlen -= WS_PMD_TAIL_LEN; /* RFC 7692 7.2.1 */
			}
		}
	}
	return (0);
}

/* Starts the next frame of a compressed message: what zbuf holds, less
 * the last four bytes while they may yet be the trailer. */
static void
tx_zdata(ws_conn *c, ws_op *op)
{
	bool     ends_msg = op->kind != OP_FRAME || op->fin;
	bool     first    = !c->w_msg_open && !c->w_started;
	size_t   max      = c->set.sendmaxframe;
	size_t   n, hl;
	unsigned niov = 1;

	if ((c->zbuf == NULL && (c->zbuf = malloc(WS_ZBUF_SIZE)) == NULL) ||
	    ws_pmd_deflater(&c->zout, &c->set.pmd, c->hi.pmd.tx_bits) == NULL ||
	    tx_deflate(c, op, ends_msg) != 0) {
		tx_nomem(c);
		return;
	}
	n = c->w_z_done ? c->zlen : c->zlen - WS_PMD_TAIL_LEN;
	if (max != 0 && n > max) {
		n = max;
	}
	c->wr_zlast = c->w_z_done && n == c->zlen;
	c->w_fin    = c->wr_zlast && ends_msg;
	if (!c->server) {
		plat_random(c->w_mask, 4);
		(void) ws_mask_copy(c->zbuf, c->zbuf, n, c->w_mask, 0);
	}
	hl = ws_head_write(c->whead, c->w_fin, first,
	    first ? op->type : WS_OP_CONT, n, c->server ? NULL : c->w_mask);
	c->wiov[0].iov_buf = c->whead;
	c->wiov[0].iov_len = hl;
	if (n > 0) {
		c->wiov[1].iov_buf = c->zbuf;
		c->wiov[1].iov_len = n;
		niov++;
	}
	c->w_started  = true;
	c->w_in_frame = true; /* until its write ends */
	c->wr_z       = true;
	c->wr_payload = n;
	c->wr_head    = hl;
	tx_start(c, niov, WR_DATA);
}

/* The head op is all written: it completes, having moved cnt bytes. */
static void
tx_head_done(ws_conn *c, size_t cnt)
{
	nghttpw_aio *aio = ws_opq_head(&c->sendq)->aio;

	ws_sendq_remove(c, 0);
	c->w_idx     = 0;
	c->w_off     = 0;
	c->w_count   = 0;
	c->w_started = false;
	aio_finish_count(aio, 0, cnt);
}

/* A compressed frame is out. */
static void
tx_zdone(ws_conn *c, ws_op *op)
{
	size_t cnt;

	memmove(c->zbuf, c->zbuf + c->wr_payload, c->zlen - c->wr_payload);
	c->zlen -= c->wr_payload;
	c->w_in_frame = false;
	c->w_count    = c->w_z_in; /* what went into it, at the least */
	if (!c->wr_zlast) {
		return;
	}
	if (op->kind == OP_FRAME) {
		c->w_msg_open = !op->fin;
	}
	if (!c->w_msg_open) {
		c->w_z = false;
		if (c->hi.pmd.tx_reset) {
			/* No context to keep: an idle connection holds no
			 * compressor, a busy one restarts it. */
			if (c->sendq.n > 1) {
				(void) deflateReset(c->zout);
			} else {
				ws_pmd_deflater_free(&c->zout);
				free(c->zbuf);
				c->zbuf = NULL;
			}
		}
	}
	cnt         = c->w_z_in;
	c->w_z_in   = 0;
	c->w_z_done = false;
	tx_head_done(c, cnt);
}

/* Starts the next piece of the head op's message: a frame's head with
 * the first of its payload, or more payload of a client's frame. */
static void
tx_data(ws_conn *c)
{
	ws_op   *op = ws_opq_head(&c->sendq);
	size_t   chunk;
	size_t   hl = 0;
	unsigned n  = 0;

	if (tx_compressing(c, op)) {
		tx_zdata(c, op);
		return;
	}
	c->wr_z = false;

	if (!c->w_in_frame) {
		size_t  rest = ws_iov_total(op->aio) - c->w_count;
		uint8_t opcode;
		if (op->kind == OP_FRAME) {
			c->w_left = rest;
			c->w_fin  = op->fin;
			opcode    = c->w_msg_open ? WS_OP_CONT : op->type;
		} else {
			size_t max = c->set.sendmaxframe;
			c->w_left  = max != 0 && rest > max ? max : rest;
			c->w_fin   = c->w_left == rest;
			opcode     = c->w_started ? WS_OP_CONT : op->type;
		}
		if (!c->server) {
			plat_random(c->w_mask, 4);
		}
		hl = ws_head_write(c->whead, c->w_fin, false, opcode, c->w_left,
		    c->server ? NULL : c->w_mask);
		c->w_phase    = 0;
		c->w_in_frame = true;
		c->w_started  = true;
	}
	chunk = (size_t) c->w_left;
	if (!c->server && chunk > WS_WBUF_SIZE) {
		chunk = WS_WBUF_SIZE;
	}
	if (c->server) {
		nghttpw_iov *uiov;
		unsigned     want = nghttpw_aio_get_iov(op->aio, &uiov) + 1;
		if (ws_wiov_reserve(c, want) != 0) {
			tx_nomem(c);
			return;
		}
		if (hl > 0) {
			c->wiov[n].iov_buf = c->whead;
			c->wiov[n].iov_len = hl;
			n++;
		}
		n += ws_iov_slice(op->aio, c->w_idx, c->w_off, chunk, c->wiov + n,
		    c->wiov_cap - n);
	} else {
		nghttpw_iov  part[8];
		unsigned     k;
		size_t       done = 0;
		if (c->wbuf == NULL && (c->wbuf = malloc(WS_WBUF_SIZE)) == NULL) {
			tx_nomem(c);
			return;
		}
		if (ws_wiov_reserve(c, 2) != 0) {
			tx_nomem(c);
			return;
		}
		/* Fewer than 8 entries may not reach chunk bytes: then send
		 * what they hold. */
		k = ws_iov_slice(op->aio, c->w_idx, c->w_off, chunk, part, 8);
		for (unsigned i = 0; i < k; i++) {
			c->w_phase = ws_mask_copy(c->wbuf + done, part[i].iov_buf,
			    part[i].iov_len, c->w_mask, c->w_phase);
			done += part[i].iov_len;
		}
		chunk = done;
		if (hl > 0) {
			c->wiov[n].iov_buf = c->whead;
			c->wiov[n].iov_len = hl;
			n++;
		}
		if (chunk > 0) {
			c->wiov[n].iov_buf = c->wbuf;
			c->wiov[n].iov_len = chunk;
			n++;
		}
	}
	c->wr_payload = chunk;
	c->wr_head    = hl;
	tx_start(c, n, WR_DATA);
}

/* Whether the head op may start now.  While a message sent frame by
 * frame is open, only its frames may go (NGHTTPW_ESTATE); and the text of
 * such a message is checked frame by frame, as each is about to go out
 * (NGHTTPW_EINVAL: the frame is not sent, the message stays open). */
static int
admit(ws_conn *c, const ws_op *op)
{
	ws_utf8 u = { 0 };
	bool    text;

	if (op->kind != OP_FRAME) {
		return (c->w_msg_open ? NGHTTPW_ESTATE : 0);
	}
	text = c->w_msg_open ? c->w_text : op->type == WS_OP_TEXT;
	if (c->w_msg_open) {
		u = c->w_utf8;
	}
	if (text && !ws_iov_utf8(&u, op->aio, op->fin)) {
		return (NGHTTPW_EINVAL);
	}
	c->w_text = text;
	c->w_utf8 = u;
	return (0);
}

/* Starts the next write, if the writer is free: the rest of a frame
 * first, then control frames, then the head op's next frame. */
void
ws_tx_run(ws_conn *c)
{
	ws_op *op;
	int    rv;

	if (c->wr_what != WR_NONE || c->torn_down || c->close_sent) {
		return;
	}
	if (c->w_in_frame) {
		tx_data(c);
		return;
	}
	if (c->close_due) {
		c->close_due  = false;
		c->close_sent = true;
		tx_control(c, WS_OP_CLOSE, c->close_body, c->close_len);
		return;
	}
	if (c->pong_due) {
		c->pong_due = false;
		tx_control(c, WS_OP_PONG, c->pong, c->pong_len);
		return;
	}
	for (size_t i = 0; i < c->pingq.n; i++) {
		if (!c->pingq.v[i].sent) {
			c->pingq.v[i].sent = true;
			tx_control(c, WS_OP_PING, c->pingq.v[i].data, c->pingq.v[i].len);
			return;
		}
	}
	if (c->ka_ping_due) {
		c->ka_ping_due = false;
		c->ka_ping_out = true;
		tx_control(c, WS_OP_PING, NULL, 0);
		return;
	}
	while ((op = ws_opq_head(&c->sendq)) != NULL && (rv = admit(c, op)) != 0) {
		nghttpw_aio *aio = op->aio;
		ws_sendq_remove(c, 0);
		nghttpw_aio_finish(aio, rv);
	}
	if (op != NULL) {
		tx_data(c);
	}
}

void
ws_tx_cb(void *arg)
{
	ws_conn *c  = arg;
	int      rv = nghttpw_aio_result(c->tx_aio);
	ws_op   *op;

	pthread_mutex_lock(&c->mtx);
	/* A frame whose send was cancelled while it was written cannot be
	 * withdrawn, even when the write ended before the abort came. */
	if (rv != 0 || c->torn_down || (c->wr_what == WR_DATA && c->w_abort != 0)) {
		if (c->wr_what == WR_DATA && !c->wr_z) {
			/* The payload part of what the write moved counts. */
			size_t moved = nghttpw_aio_count(c->tx_aio);
			moved        = moved > c->wr_head ? moved - c->wr_head : 0;
			c->w_count += moved < c->wr_payload ? moved : c->wr_payload;
		}
		c->wr_what = WR_NONE;
		ws_teardown(c);
		ws_cut_head_send(c);
		ws_conn_release_unlock(c);
		return;
	}
	if (c->wr_what == WR_DATA && c->wr_z &&
	    (op = ws_opq_head(&c->sendq)) != NULL) {
		tx_zdone(c, op);
	} else if (c->wr_what == WR_DATA && (op = ws_opq_head(&c->sendq)) != NULL) {
		ws_iov_advance(op->aio, &c->w_idx, &c->w_off, c->wr_payload);
		c->w_count += c->wr_payload;
		c->w_left -= c->wr_payload;
		if (c->w_left == 0) {
			c->w_in_frame = false;
			if (op->kind == OP_FRAME) {
				c->w_msg_open = !c->w_fin;
			}
			if (c->w_fin || op->kind == OP_FRAME) {
				tx_head_done(c, c->w_count);
			}
		}
	}
	if (c->wr_what == WR_CONTROL && c->close_sent && !c->close_out) {
		c->wr_what   = WR_NONE;
		c->close_out = true;
		ws_close_progress(c);
	} else {
		c->wr_what = WR_NONE;
		ws_tx_run(c);
	}
	ws_conn_release_unlock(c);
}
