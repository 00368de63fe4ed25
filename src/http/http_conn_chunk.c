/* The chunked writer of an HTTP connection: after the head of a message
 * that says Transfer-Encoding: chunked, each write_chunk sends the
 * caller's iov as one chunk (size line, data, CRLF, in one gather write,
 * the data not copied), and write_{req,res}_trailer the last chunk with
 * the message's trailer fields.  The state (ch_state) moves as the writes
 * start, in their order, so that a chunk queued behind its head finds the
 * head; a write that fails after some of its bytes left cuts the message,
 * and the connection must close.  The write itself is the write side's
 * (http_conn_write.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_conn_impl.h"

static const char chunk_end[] = "\r\n";

static bool
msg_chunked(nhw_http_msg *msg)
{
	return (nhw_http_list_has_token(
	    nhw_http_msg_get_known(msg, NHW_HDR_TRANSFER_ENCODING), "chunked"));
}

int
conn_chunk_prepare(nghttpw_http_conn *c, conn_op op, nhw_http_msg *msg)
{
	int rv;

	c->ch_unchunked = false;
	if (op != OP_WRITE_RES_HEAD || !c->answer_10 || c->answer_head ||
	    !msg_chunked(msg)) {
		return (0);
	}
	/* The body is then delimited by the close (msg_prepare sees no
	 * length and says so). */
	if ((rv = nhw_http_msg_set_header_n(msg, "Connection", 10, "close", 5)) != 0) {
		return (rv);
	}
	(void) nhw_http_msg_del_header_n(msg, "Transfer-Encoding", 17);
	c->ch_unchunked = true;
	return (0);
}

void
conn_chunk_head(nghttpw_http_conn *c, conn_op op, nhw_http_msg *msg,
    nghttpw_http_res *res)
{
	uint16_t status;

	if (op == OP_WRITE_RES || op == OP_WRITE_RES_HEAD) {
		c->res_heads++;
	}
	if (c->ch_unchunked) {
		c->ch_state = CH_RAW;
		return;
	}
	if ((op != OP_WRITE_RES_HEAD && op != OP_WRITE_REQ_HEAD) ||
	    !msg_chunked(msg)) {
		return;
	}
	c->ch_state = CH_OPEN;
	if (res != NULL) {
		/* RFC 9110 6.4.1: these responses end with their head. */
		status = nghttpw_http_res_get_status(res);
		if (c->answer_head || status < 200 || status == 204 ||
		    status == 304) {
			c->ch_state = CH_DISCARD;
		}
	}
}

/* Lays out the caller's iov as one chunk in c->ch_iov; returns the entry
 * count, 0 when out of memory. */
static unsigned
chunk_layout(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	nghttpw_iov *iov;
	unsigned     n = nghttpw_aio_get_iov(aio, &iov);
	int          line;

	if (n + 2 > c->ch_iov_cap) {
		nghttpw_iov *grown = realloc(c->ch_iov, (n + 2) * sizeof(*grown));
		if (grown == NULL) {
			return (0);
		}
		c->ch_iov     = grown;
		c->ch_iov_cap = n + 2;
	}
	c->ch_data = conn_iov_total(iov, n);
	line = snprintf(c->chunk_head, sizeof(c->chunk_head), "%zx\r\n", c->ch_data);
	c->ch_line   = (size_t) line;
	c->ch_iov[0] = (nghttpw_iov) { c->chunk_head, c->ch_line };
	memcpy(c->ch_iov + 1, iov, n * sizeof(*iov));
	c->ch_iov[n + 1] = (nghttpw_iov) { (void *) chunk_end, 2 };
	return (n + 2);
}

void
conn_chunk_activate(nghttpw_http_conn *c, nghttpw_aio *aio, bool deferred)
{
	conn_op      op = (conn_op) aio->prov_op;
	nhw_http_msg *msg;
	const char   *last;
	size_t        last_len;
	unsigned      n;
	int           rv;

	if (c->ch_state == CH_NONE) {
		/* No chunked head before it, or the last chunk is out. */
		nghttpw_aio_finish(aio, NGHTTPW_ESTATE);
		return;
	}
	if (c->ch_state == CH_DISCARD ||
	    (c->ch_state == CH_RAW && op != OP_WRITE_CHUNK)) {
		/* Dropped; or the end of a raw body, which is the close. */
		if (op != OP_WRITE_CHUNK) {
			c->ch_state = CH_NONE;
		}
		nghttpw_aio_set_count(aio, 0);
		nghttpw_aio_finish(aio, 0);
		return;
	}
	if (c->ch_state == CH_RAW) {
		nghttpw_iov *iov;
		unsigned     n = nghttpw_aio_get_iov(aio, &iov);
		c->ch_line     = 0;
		c->ch_data     = conn_iov_total(iov, n);
		(void) conn_wr_start_iov(c, aio, iov, n, deferred);
		return;
	}
	if (op == OP_WRITE_CHUNK) {
		if ((n = chunk_layout(c, aio)) == 0) {
			nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		} else {
			(void) conn_wr_start_iov(c, aio, c->ch_iov, n, deferred);
		}
		return;
	}
	msg = op == OP_WRITE_RES_TRAILER ? nhw_http_res_msg(aio->prov_arg[0])
	                                 : nhw_http_req_msg(aio->prov_arg[0]);
	if (c->ch_iov_cap == 0) {
		if ((c->ch_iov = malloc(sizeof(*c->ch_iov))) == NULL) {
			nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
			return;
		}
		c->ch_iov_cap = 1;
	}
	if ((rv = nhw_http_msg_get_last_chunk(msg, &last, &last_len)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	c->ch_iov[0] = (nghttpw_iov) { (void *) last, last_len };
	c->ch_line   = 0;
	c->ch_data   = 0;
	if (conn_wr_start_iov(c, aio, c->ch_iov, 1, deferred)) {
		/* Set now (a write that fails at once puts it back): what is
		 * queued behind sees the message ended. */
		c->ch_state = CH_NONE;
	}
}

size_t
conn_chunk_write_end(nghttpw_http_conn *c, nghttpw_aio *aio, int rv)
{
	size_t done = c->wr_done;

	switch ((conn_op) aio->prov_op) {
	case OP_WRITE_REQ_HEAD:
	case OP_WRITE_RES_HEAD:
		if (rv != 0) {
			c->ch_state = CH_NONE; /* no head, no chunks */
		}
		break;
	case OP_WRITE_CHUNK:
		/* The count is of the caller's bytes: those of the chunk's
		 * data that left. */
		done = done > c->ch_line ? done - c->ch_line : 0;
		done = done > c->ch_data ? c->ch_data : done;
		break;
	case OP_WRITE_REQ_TRAILER:
	case OP_WRITE_RES_TRAILER:
		if (rv != 0 && c->wr_done == 0) {
			c->ch_state = CH_OPEN; /* nothing left: it may be retried */
		}
		break;
	default:
		return (done);
	}
	if (rv != 0 && c->wr_done > 0) {
		/* Part of it left: the peer cannot find where the message
		 * ends, nothing more can follow it. */
		c->must_close = true;
		c->ch_state   = CH_NONE;
	}
	return (done);
}

void
nghttpw_http_conn_write_chunk(nghttpw_http_conn *c, nghttpw_aio *aio)
{
	/* An empty iov would be the last chunk: see write_*_trailer. */
	conn_start_raw(c, aio, OP_WRITE_CHUNK);
}

void
nghttpw_http_conn_write_req_trailer(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_WRITE_REQ_TRAILER, req != NULL, req, NULL);
}

void
nghttpw_http_conn_write_res_trailer(
    nghttpw_http_conn *c, nghttpw_http_res *res, nghttpw_aio *aio)
{
	conn_start(c, aio, OP_WRITE_RES_TRAILER, res != NULL, res, NULL);
}

uint64_t
http_conn_res_heads(nghttpw_http_conn *c)
{
	uint64_t n;

	plat_mutex_lock(&c->mtx);
	n = c->res_heads;
	plat_mutex_unlock(&c->mtx);
	return (n);
}

bool
http_conn_chunk_open(nghttpw_http_conn *c)
{
	bool open;

	plat_mutex_lock(&c->mtx);
	open = c->ch_state != CH_NONE;
	plat_mutex_unlock(&c->mtx);
	return (open);
}
