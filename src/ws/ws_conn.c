/* WebSocket connections (RFC 6455) over an HTTP connection whose
 * handshake is done: their lifetime, the closing handshake and failures,
 * the timer (keep-alive pings, idle close, the closing deadline), options
 * and the stream table.  Reading, writing and the operations users start
 * live in ws_read.c, ws_write.c and ws_api.c.
 *
 * Every event runs under the connection's mutex.  Lifetime: the user's
 * reference plus one per internal operation in flight; the last frees,
 * on the loop, after the callback that dropped it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/aio.h"
#include "core/options.h"
#include "http/http_conn.h"
#include "ws/ws_conn.h"

/* ------------------------------------------------------------ queues */

int
ws_opq_push(opq *q, const ws_op *op)
{
	if (q->n == q->cap) {
		size_t cap = q->cap != 0 ? q->cap * 2 : 2;
		ws_op *v   = realloc(q->v, cap * sizeof(*v));
		if (v == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		q->v   = v;
		q->cap = cap;
	}
	q->v[q->n++] = *op;
	return (0);
}

ws_op *
ws_opq_head(opq *q)
{
	return (q->n > 0 ? &q->v[0] : NULL);
}

void
ws_opq_remove(opq *q, size_t i)
{
	memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof(*q->v));
	q->n--;
}

bool
ws_opq_find(const opq *q, nghttpw_aio *aio, size_t *ip)
{
	for (size_t i = 0; i < q->n; i++) {
		if (q->v[i].aio == aio) {
			*ip = i;
			return (true);
		}
	}
	return (false);
}

/* Fails every operation of q with rv. */
static void
ws_opq_fail_all(opq *q, int rv)
{
	while (q->n > 0) {
		nghttpw_aio *aio = q->v[0].aio;
		ws_opq_remove(q, 0);
		nghttpw_aio_finish(aio, rv);
	}
}

/* ------------------------------------------------------------ lifetime */

static void
conn_destroy(void *arg)
{
	ws_conn *c = arg;

	/* A cancel function of ours running elsewhere must be over. */
	aio_cancel_barrier(c);
	nghttpw_aio_free(c->rx_aio);
	nghttpw_aio_free(c->tx_aio);
	nghttpw_aio_free(c->tm_aio);
	if (c->http != NULL) {
		nghttpw_http_conn_close(c->http);
	}
	free(c->recvq.v);
	free(c->sendq.v);
	free(c->pingq.v);
	if (c->rbuf != c->rbuf_idle) {
		free(c->rbuf);
	}
	free(c->wbuf);
	free(c->wiov);
	free(c->zbuf);
	ws_pmd_deflater_free(&c->zout);
	ws_pmd_inflater_free(&c->zin);
	ws_handshake_info_fini(&c->hi);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

/* Drops a reference; the caller holds the mutex, which is released. */
void
ws_conn_release_unlock(ws_conn *c)
{
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&c->mtx);
	if (last) {
		/* Not inside an aio callback of ours: run it after. */
		loop *l = loop_current();
		task_init(&c->free_task, conn_destroy, c);
		if (l != NULL) {
			loop_post(l, &c->free_task);
		} else {
			conn_destroy(c);
		}
	}
}

void
ws_sendq_remove(ws_conn *c, size_t i)
{
	c->sendq_bytes -= c->sendq.v[i].len;
	ws_opq_remove(&c->sendq, i);
}

/* ------------------------------------------------------------ iov cursor */

/* Free space of an aio's iov after a cursor. */
size_t
ws_iov_space(nghttpw_aio *aio, unsigned idx, size_t off)
{
	nghttpw_iov *iov;
	unsigned     n     = nghttpw_aio_get_iov(aio, &iov);
	size_t       space = 0;

	for (unsigned i = idx; i < n; i++) {
		space += iov[i].iov_len - (i == idx ? off : 0);
	}
	return (space);
}

void
ws_iov_advance(nghttpw_aio *aio, unsigned *idx, size_t *off, size_t n)
{
	nghttpw_iov *iov;
	unsigned     cnt = nghttpw_aio_get_iov(aio, &iov);

	*off += n;
	while (*idx < cnt && *off >= iov[*idx].iov_len) {
		*off -= iov[*idx].iov_len;
		(*idx)++;
		if (*off == 0) {
			/* Skip empty entries only up to the next with room. */
			while (*idx < cnt && iov[*idx].iov_len == 0) {
				(*idx)++;
			}
			break;
		}
	}
}

/* At most max entries describing up to len bytes after a cursor. */
unsigned
ws_iov_slice(nghttpw_aio *aio, unsigned idx, size_t off, size_t len,
    nghttpw_iov *out, unsigned max)
{
	nghttpw_iov *iov;
	unsigned     cnt = nghttpw_aio_get_iov(aio, &iov);
	unsigned     k   = 0;

	for (unsigned i = idx; i < cnt && len > 0 && k < max; i++) {
		size_t skip = i == idx ? off : 0;
		size_t take = iov[i].iov_len - skip;
		if (take == 0) {
			continue;
		}
		if (take > len) {
			take = len;
		}
		out[k].iov_buf = (uint8_t *) iov[i].iov_buf + skip;
		out[k].iov_len = take;
		len -= take;
		k++;
	}
	return (k);
}

size_t
ws_iov_total(nghttpw_aio *aio)
{
	return (ws_iov_space(aio, 0, 0));
}

bool
ws_iov_utf8(ws_utf8 *u, nghttpw_aio *aio, bool fin)
{
	nghttpw_iov *iov;
	unsigned     n = nghttpw_aio_get_iov(aio, &iov);

	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len > 0 && !ws_utf8_feed(u, iov[i].iov_buf, iov[i].iov_len)) {
			return (false);
		}
	}
	return (!fin || ws_utf8_done(u));
}

/* ------------------------------------------------------------ failure */

void
ws_set_peer_close(ws_conn *c, int code, const uint8_t *reason, size_t len)
{
	c->peer_code = code;
	if (len > 0) {
		memcpy(c->peer_reason, reason, len);
	}
	c->peer_reason[len] = '\0';
}

/* Queues our close frame (once): the closing handshake has begun. */
void
ws_close_queue(ws_conn *c, uint16_t code, const char *reason, size_t len)
{
	if (c->close_due || c->close_sent || c->torn_down) {
		return;
	}
	c->close_due = true;
	c->close_len = 0;
	if (code != NGHTTPW_WS_STATUS_NO_STATUS) {
		c->close_body[0] = (uint8_t) (code >> 8);
		c->close_body[1] = (uint8_t) code;
		if (len > 0) {
			memcpy(c->close_body + 2, reason, len);
		}
		c->close_len = 2 + len;
	}
	if (c->deadline == 0) {
		c->deadline = nghttpw_clock() + WS_LINGER_MS;
		ws_tm_arm(c);
	}
}

/* After the close: no data goes out, nothing more is read for users. */
void
ws_fail_users(ws_conn *c, int recv_rv)
{
	if (c->rx_err == 0) {
		c->rx_err = recv_rv;
	}
	while (c->recvq.n > 0) {
		/* A stream read keeps the bytes it has. */
		bool got = c->recvq.v[0].kind == OP_STREAM && c->r_count > 0;
		ws_reader_done(c, got ? 0 : c->rx_err);
	}
	/* Sends behind the frame in flight fail; that one, when it ends. */
	while (c->sendq.n > (c->w_in_frame ? 1u : 0u)) {
		size_t       i   = c->sendq.n - 1;
		nghttpw_aio *aio = c->sendq.v[i].aio;
		ws_sendq_remove(c, i);
		aio_finish_count(aio, NGHTTPW_ECLOSED, i == 0 ? c->w_count : 0);
		if (i == 0) {
			c->w_started = false;
			c->w_count   = 0;
			c->w_idx     = 0;
			c->w_off     = 0;
		}
	}
	ws_opq_fail_all(&c->pingq, NGHTTPW_ECLOSED);
}

/* Fails the connection (RFC 6455 7.1.7): our close with code, then the
 * TCP connection goes; the head reader gets rv. */
void
ws_fail(ws_conn *c, uint16_t code, int rv)
{
	/* Reading goes on (dropping data) for the peer's close, so that
	 * ours is not lost to a reset from closing on unread bytes. */
	c->failing = true;
	if (c->peer_code == 0) {
		ws_set_peer_close(c, NGHTTPW_WS_STATUS_ABNORMAL, NULL, 0);
	}
	ws_fail_users(c, rv);
	if (c->close_out) {
		ws_teardown(c);
		return;
	}
	ws_close_queue(c, code, NULL, 0);
	ws_tx_run(c);
}

/* Our close is out: what now depends on who closed and who we are. */
void
ws_close_progress(ws_conn *c)
{
	if (c->server ? c->close_rcvd : c->failing) {
		/* A server with both closes ends the TCP connection first
		 * (RFC 6455 7.1.1); a client that failed it ends it too. */
		ws_teardown(c);
	} else {
		/* Waits for the peer's close, or a client for the server's
		 * end of stream (bounded by the closing deadline). */
		ws_rx_run(c);
	}
}

int
ws_close_result(const ws_conn *c)
{
	return (c->close_out && c->close_rcvd && !c->failing ? 0 : NGHTTPW_ECLOSED);
}

void
ws_cut_head_send(ws_conn *c)
{
	if (c->sendq.n > 0) {
		nghttpw_aio *aio = c->sendq.v[0].aio;
		ws_sendq_remove(c, 0);
		aio_finish_count(aio, c->w_abort != 0 ? c->w_abort : NGHTTPW_ECLOSED,
		    c->w_count);
		c->w_abort = 0;
	}
}

/* Ends everything: the HTTP connection (and the stream under it) closes,
 * every operation finishes. */
void
ws_teardown(ws_conn *c)
{
	if (c->torn_down) {
		return;
	}
	c->torn_down = true;
	c->rx_done   = true;
	if (c->peer_code == 0) {
		ws_set_peer_close(c, NGHTTPW_WS_STATUS_ABNORMAL, NULL, 0);
	}
	ws_fail_users(c, NGHTTPW_ECLOSED);
	if (c->wr_what != WR_DATA) {
		/* (While its bytes are being written, the write's end
		 * does this: the caller's buffers are in use till then.) */
		ws_cut_head_send(c);
	}
	if (c->close_user != NULL) {
		nghttpw_aio *aio = c->close_user;
		c->close_user    = NULL;
		nghttpw_aio_finish(aio, ws_close_result(c));
	}
	nghttpw_http_conn_close(c->http);
	c->http = NULL;
	if (c->tm_busy) {
		nghttpw_aio_abort(c->tm_aio, NGHTTPW_ECLOSED);
	}
	if (runtime_linger_remove(&c->linger)) {
		/* Its listing's reference; the caller holds another. */
		c->refs--;
	}
}

/* ------------------------------------------------------------ timer */

static nghttpw_duration
tm_next(ws_conn *c, nghttpw_time now)
{
	nghttpw_time next = TIMER_NEVER;

	if (c->deadline != 0) {
		next = c->deadline;
	} else {
		if (c->set.idle_ms > 0) {
			next = c->last_rx + (nghttpw_time) c->set.idle_ms;
		}
		if (c->set.ping_ms > 0 && !c->ka_ping_out &&
		    c->last_rx + (nghttpw_time) c->set.ping_ms < next) {
			next = c->last_rx + (nghttpw_time) c->set.ping_ms;
		}
	}
	if (next == TIMER_NEVER) {
		return (-1);
	}
	if (next <= now) {
		return (0);
	}
	return (next - now > INT32_MAX ? INT32_MAX : (nghttpw_duration) (next - now));
}

void
ws_tm_arm(ws_conn *c)
{
	nghttpw_duration d;

	if (c->torn_down) {
		return;
	}
	if (c->tm_busy) {
		/* tm_cb sees the new times and sleeps again. */
		nghttpw_aio_abort(c->tm_aio, NGHTTPW_ECANCELED);
		return;
	}
	if ((d = tm_next(c, nghttpw_clock())) < 0) {
		return;
	}
	c->tm_busy = true;
	c->refs++;
	nghttpw_sleep_aio(d, c->tm_aio);
}

static void
tm_cb(void *arg)
{
	ws_conn     *c = arg;
	nghttpw_time now;

	pthread_mutex_lock(&c->mtx);
	c->tm_busy = false;
	now        = nghttpw_clock();
	if (!c->torn_down) {
		if (c->deadline != 0 && now >= c->deadline) {
			ws_teardown(c);
		} else if (c->deadline == 0) {
			if (c->set.idle_ms > 0 &&
			    now >= c->last_rx + (nghttpw_time) c->set.idle_ms) {
				ws_close_queue(c, NGHTTPW_WS_STATUS_GOING_AWAY, "idle", 4);
				ws_fail_users(c, NGHTTPW_ECLOSED);
				ws_tx_run(c);
			} else if (c->set.ping_ms > 0 && !c->ka_ping_out &&
			    now >= c->last_rx + (nghttpw_time) c->set.ping_ms) {
				c->ka_ping_due = true;
				c->ka_ping_out = true;
				ws_tx_run(c);
			}
		}
		ws_tm_arm(c);
	}
	ws_conn_release_unlock(c);
}

/* ------------------------------------------------------------ stream ops */

/* The program is done with the stream: the closing handshake goes on
 * without it, with code unless one was under way. */
static void
conn_close(ws_conn *c, uint16_t code)
{
	pthread_mutex_lock(&c->mtx);
	if (!c->user_closed) {
		c->user_closed = true;
		ws_close_queue(c, code, NULL, 0);
		ws_fail_users(c, NGHTTPW_ECLOSED);
		ws_tx_run(c);
		ws_rx_run(c);
	}
	pthread_mutex_unlock(&c->mtx);
}

static void
ws_s_close(void *arg)
{
	conn_close(arg, NGHTTPW_WS_STATUS_NORMAL);
}

static void
ws_s_stop(void *arg)
{
	ws_conn *c = arg;

	ws_s_close(c);
	pthread_mutex_lock(&c->mtx);
	ws_teardown(c);
	pthread_mutex_unlock(&c->mtx);
	nghttpw_aio_stop(c->rx_aio);
	nghttpw_aio_stop(c->tx_aio);
	nghttpw_aio_stop(c->tm_aio);
}

/* nghttpw_fini: a closing handshake still under way ends at once. */
static void
conn_linger_stop(runtime_linger *lg)
{
	ws_conn *c = LIST_ENTRY(lg, ws_conn, linger);

	pthread_mutex_lock(&c->mtx);
	ws_teardown(c);
	ws_conn_release_unlock(c); /* the listing's reference */
}

/* The owner lets go after its close: the closing handshake goes on in
 * the background, listed for nghttpw_fini. */
static void
conn_let_go(ws_conn *c, uint16_t code)
{
	conn_close(c, code);
	pthread_mutex_lock(&c->mtx);
	if (!c->torn_down) {
		c->refs++;
		c->linger.stop = conn_linger_stop;
		runtime_linger_add(&c->linger);
	}
	ws_conn_release_unlock(c);
}

static void
ws_s_free(void *arg)
{
	conn_let_go(arg, NGHTTPW_WS_STATUS_NORMAL);
}

void
ws_conn_discard(nghttpw_stream *s)
{
	conn_let_go(s->arg, NGHTTPW_WS_STATUS_GOING_AWAY);
}

/* One named field of a header block, as a string option. */
static int
header_get(const char *block, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	size_t nlen = strlen(name);

	for (const char *p = block; p != NULL && *p != '\0';) {
		const char *eol = strstr(p, "\r\n");
		if (eol == NULL) {
			break;
		}
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			char       *val;
			int         rv;
			while (*v == ' ' || *v == '\t') {
				v++;
			}
			if ((val = strndup(v, (size_t) (eol - v))) == NULL) {
				return (NGHTTPW_ENOMEM);
			}
			rv = opt_out_string(val, buf, szp, t);
			free(val);
			return (rv);
		}
		p = eol + 2;
	}
	return (NGHTTPW_ENOENT);
}

static int
ws_s_get(void *arg, const char *name, void *buf, size_t *szp, nghttpw_type t)
{
	ws_conn        *c = arg;
	nghttpw_stream *lower;
	int             rv;

	pthread_mutex_lock(&c->mtx);
	if (strcmp(name, NGHTTPW_OPT_WS_REQUEST_HEADERS) == 0) {
		rv = opt_out_string(c->hi.req_headers, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_WS_RESPONSE_HEADERS) == 0) {
		rv = opt_out_string(c->hi.res_headers, buf, szp, t);
	} else if (strncmp(name, NGHTTPW_OPT_WS_REQUEST_HEADER,
	               strlen(NGHTTPW_OPT_WS_REQUEST_HEADER)) == 0) {
		rv = header_get(c->hi.req_headers,
		    name + strlen(NGHTTPW_OPT_WS_REQUEST_HEADER), buf, szp, t);
	} else if (strncmp(name, NGHTTPW_OPT_WS_RESPONSE_HEADER,
	               strlen(NGHTTPW_OPT_WS_RESPONSE_HEADER)) == 0) {
		rv = header_get(c->hi.res_headers,
		    name + strlen(NGHTTPW_OPT_WS_RESPONSE_HEADER), buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_WS_REQUEST_URI) == 0) {
		rv = opt_out_string(c->hi.uri, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_WS_PROTOCOL) == 0) {
		rv = header_get(c->hi.res_headers, "Sec-WebSocket-Protocol", buf, szp, t);
		if (rv == NGHTTPW_ENOENT) {
			rv = opt_out_string("", buf, szp, t);
		}
	} else if (strcmp(name, NGHTTPW_OPT_WS_CLOSE_CODE) == 0) {
		rv = opt_out_int(c->peer_code, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_WS_CLOSE_REASON) == 0) {
		rv = opt_out_string(c->peer_reason, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE) == 0) {
		rv = opt_out_bool(c->hi.pmd.on, buf, szp, t); /* as agreed */
	} else if ((rv = ws_settings_get(&c->set, name, buf, szp, t)) ==
	    NGHTTPW_ENOTSUP) {
		/* Addresses, TCP and TLS options: the stream underneath. */
		if (c->torn_down) {
			rv = NGHTTPW_ECLOSED;
		} else {
			lower = http_conn_stream(c->http);
			rv    = stream_get_opt(lower, name, buf, szp, t);
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return (rv);
}

/* What a stream tells of its handshake and close, not to be changed. */
static bool
ws_option_read_only(const char *name)
{
	static const char *const names[] = { NGHTTPW_OPT_WS_REQUEST_HEADERS,
		NGHTTPW_OPT_WS_RESPONSE_HEADERS, NGHTTPW_OPT_WS_REQUEST_URI,
		NGHTTPW_OPT_WS_PROTOCOL, NGHTTPW_OPT_WS_CLOSE_CODE,
		NGHTTPW_OPT_WS_CLOSE_REASON,
		/* Agreed in the handshake (the threshold may change). */
		NGHTTPW_OPT_WS_DEFLATE, NGHTTPW_OPT_WS_DEFLATE_LEVEL,
		NGHTTPW_OPT_WS_DEFLATE_MEM_LEVEL,
		NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT,
		NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT,
		NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW,
		NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			return (true);
		}
	}
	return (strncmp(name, NGHTTPW_OPT_WS_REQUEST_HEADER,
	            strlen(NGHTTPW_OPT_WS_REQUEST_HEADER)) == 0 ||
	    strncmp(name, NGHTTPW_OPT_WS_RESPONSE_HEADER,
	        strlen(NGHTTPW_OPT_WS_RESPONSE_HEADER)) == 0);
}

static int
ws_s_set(void *arg, const char *name, const void *buf, size_t sz, nghttpw_type t)
{
	ws_conn *c = arg;
	int      rv;

	if (ws_option_read_only(name)) {
		return (NGHTTPW_EREADONLY);
	}
	pthread_mutex_lock(&c->mtx);
	if ((rv = ws_settings_set(&c->set, name, buf, sz, t)) == 0) {
		ws_tm_arm(c);
	} else if (rv == NGHTTPW_ENOTSUP) {
		rv = c->torn_down ? NGHTTPW_ECLOSED
		                  : stream_set(http_conn_stream(c->http), name, buf, sz, t);
	}
	pthread_mutex_unlock(&c->mtx);
	return (rv);
}

const nghttpw_stream_ops ws_stream_ops = {
	.s_free  = ws_s_free,
	.s_close = ws_s_close,
	.s_stop  = ws_s_stop,
	.s_send  = ws_stream_send,
	.s_recv  = ws_stream_recv,
	.s_get   = ws_s_get,
	.s_set   = ws_s_set,
};

int
ws_conn_alloc(nghttpw_stream **sp, nghttpw_http_conn *http, bool server,
    const ws_settings *set, ws_handshake_info *hi)
{
	ws_conn        *c;
	nghttpw_stream *lower = http_conn_stream(http);
	int             rv;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		nghttpw_http_conn_close(http);
		ws_handshake_info_fini(hi);
		return (NGHTTPW_ENOMEM);
	}
	c->http   = http;
	c->server = server;
	http_conn_set_raw_only(http);
	c->set    = *set;
	c->hi     = *hi;
	memset(hi, 0, sizeof(*hi));
	pthread_mutex_init(&c->mtx, NULL);
	stream_init(&c->stream, &ws_stream_ops, c);
	c->stream.loop = lower->loop;
	c->refs        = 1;
	c->last_rx     = nghttpw_clock();
	c->rbuf        = c->rbuf_idle;
	c->rcap        = WS_RBUF_IDLE;
	c->rd_small    = true;
	if ((rv = stream_aio_alloc(lower, &c->rx_aio, ws_rx_cb, c)) != 0 ||
	    (rv = stream_aio_alloc(lower, &c->tx_aio, ws_tx_cb, c)) != 0 ||
	    (rv = stream_aio_alloc(lower, &c->tm_aio, tm_cb, c)) != 0 ||
	    (rv = ws_wiov_reserve(c, 4)) != 0) {
		conn_destroy(c);
		return (rv);
	}
	pthread_mutex_lock(&c->mtx);
	ws_tm_arm(c);
	ws_rx_run(c); /* reads ahead, for pings and closes */
	pthread_mutex_unlock(&c->mtx);
	*sp = &c->stream;
	return (0);
}
