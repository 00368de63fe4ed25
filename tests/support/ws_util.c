#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/pairs.h"
#include "support/ws_util.h"

static int
wait_aio(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

int
ws_listen(const char *path, nghttpw_stream_listener **lp, int *portp)
{
	char url[128];
	int  rv;

	snprintf(url, sizeof(url), "ws://127.0.0.1:0%s", path);
	if ((rv = nghttpw_stream_listener_alloc(lp, url)) != 0) {
		return (rv);
	}
	if ((rv = nghttpw_stream_listener_listen(*lp)) != 0 ||
	    (rv = nghttpw_stream_listener_get_int(
	         *lp, NGHTTPW_OPT_TCP_BOUND_PORT, portp)) != 0) {
		nghttpw_stream_listener_free(*lp);
	}
	return (rv);
}

int
ws_dial_accept(nghttpw_stream_listener *l, nghttpw_stream_dialer *d,
    nghttpw_stream **client, nghttpw_stream **server)
{
	nghttpw_aio *acc, *dial;
	int          rv;

	nghttpw_aio_alloc(&acc, NULL, NULL);
	nghttpw_aio_alloc(&dial, NULL, NULL);
	nghttpw_aio_set_timeout(acc, 5000);
	nghttpw_aio_set_timeout(dial, 5000);
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_stream_dialer_dial(d, dial);
	if ((rv = wait_aio(dial)) == 0 && (rv = wait_aio(acc)) == 0) {
		*client = nghttpw_aio_get_output(dial, 0);
		*server = nghttpw_aio_get_output(acc, 0);
	} else {
		nghttpw_aio_stop(acc);
		if (nghttpw_aio_result(dial) == 0) {
			nghttpw_stream_free(nghttpw_aio_get_output(dial, 0));
		}
		if (nghttpw_aio_result(acc) == 0) {
			nghttpw_stream_free(nghttpw_aio_get_output(acc, 0));
		}
	}
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	return (rv);
}

int
ws_pair_on(nghttpw_stream_listener *l, const char *url,
    nghttpw_stream **client, nghttpw_stream **server)
{
	nghttpw_stream_dialer *d;
	int                    rv;

	if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0) {
		return (rv);
	}
	rv = ws_dial_accept(l, d, client, server);
	nghttpw_stream_dialer_free(d);
	return (rv);
}

int
ws_pair(nghttpw_stream **client, nghttpw_stream **server)
{
	nghttpw_stream_listener *l;
	char                     url[64];
	int                      port, rv;

	if ((rv = ws_listen("/p", &l, &port)) != 0) {
		return (rv);
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/p", port);
	rv = ws_pair_on(l, url, client, server);
	nghttpw_stream_listener_free(l);
	return (rv);
}

int
ws_send(nghttpw_stream *s, unsigned flags, const void *buf, size_t len)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov = { (void *) buf, len };
	int          rv;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_send_msg(s, flags, aio);
	rv = wait_aio(aio);
	if (rv == 0 && nghttpw_aio_count(aio) != len) {
		rv = NGHTTPW_EINTERNAL;
	}
	nghttpw_aio_free(aio);
	return (rv);
}

int
ws_recv(nghttpw_stream *s, void *buf, size_t cap, size_t *lenp,
    unsigned *flagsp, nghttpw_duration timeout)
{
	nghttpw_aio *aio;
	nghttpw_iov  iov = { buf, cap };
	int          rv;

	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, timeout != 0 ? timeout : 5000);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_recv_msg(s, flagsp, aio);
	rv    = wait_aio(aio);
	*lenp = nghttpw_aio_count(aio);
	nghttpw_aio_free(aio);
	return (rv);
}

/* Reads until the end of the response head, into head; returns its
 * status. */
static int
raw_read_head(nghttpw_stream *s, char *head, size_t cap)
{
	size_t n = 0;

	while (n < cap - 1) {
		if (recv_all(s, head + n, 1, NULL) != 0) {
			return (-1);
		}
		n++;
		head[n] = '\0';
		if (n >= 4 && strcmp(head + n - 4, "\r\n\r\n") == 0) {
			int status = -1;
			sscanf(head, "HTTP/1.1 %d", &status);
			return (status);
		}
	}
	return (-1);
}

nghttpw_stream *
raw_open(int port, const char *path, const char *extra, int *statusp)
{
	char head[4096];

	return (raw_open_head(port, path, extra, statusp, head, sizeof(head)));
}

nghttpw_stream *
raw_open_head(int port, const char *path, const char *extra, int *statusp,
    char *head, size_t cap)
{
	nghttpw_stream *s;
	char            req[1024];
	int             status;

	if (tcp_dial(port, &s) != 0) {
		return (NULL);
	}
	snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n%s\r\n",
	    path, port, extra);
	if (send_all(s, req, strlen(req), NULL) != 0) {
		nghttpw_stream_free(s);
		return (NULL);
	}
	status = raw_read_head(s, head, cap);
	if (statusp != NULL) {
		*statusp = status;
	}
	if (status != 101) {
		nghttpw_stream_free(s);
		return (NULL);
	}
	return (s);
}

int
raw_request(int port, const char *request, char *out, size_t cap)
{
	nghttpw_stream *s;
	nghttpw_iov     iov = { out, cap - 1 };
	size_t          n   = 0;
	int             rv;

	memset(out, 0, cap);
	if (tcp_dial(port, &s) != 0) {
		return (-1);
	}
	rv = send_all(s, request, strlen(request), NULL) == 0 &&
	        sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n) == 0 && n > 0
	    ? 0
	    : -1;
	nghttpw_stream_free(s);
	return (rv);
}

int
raw_bytes(nghttpw_stream *s, const void *p, size_t len)
{
	return (send_all(s, p, len, NULL));
}

int
raw_frame(nghttpw_stream *s, uint8_t b0, bool masked, const void *p, size_t len)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t             *f      = malloc(len + 14);
	size_t               n      = 0;
	int                  rv;

	f[n++] = b0;
	if (len < 126) {
		f[n++] = (uint8_t) len;
	} else if (len < 65536) {
		f[n++] = 126;
		f[n++] = (uint8_t) (len >> 8);
		f[n++] = (uint8_t) len;
	} else {
		f[n++] = 127;
		for (int i = 7; i >= 0; i--) {
			f[n++] = (uint8_t) ((uint64_t) len >> (8 * i));
		}
	}
	if (masked) {
		f[1] |= 0x80;
		memcpy(f + n, key, 4);
		n += 4;
	}
	for (size_t i = 0; i < len; i++) {
		f[n + i] = ((const uint8_t *) p)[i] ^ (masked ? key[i & 3] : 0);
	}
	rv = send_all(s, f, n + len, NULL);
	free(f);
	return (rv);
}

static int
raw_recv(nghttpw_stream *s, void *buf, size_t len)
{
	nghttpw_iov iov = { buf, len };
	size_t      got = 0;

	while (got < len) {
		size_t n;
		iov.iov_buf = (uint8_t *) buf + got;
		iov.iov_len = len - got;
		if (sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n) != 0 || n == 0) {
			return (-1);
		}
		got += n;
	}
	return (0);
}

int
raw_read_frame(nghttpw_stream *s, uint8_t *b0, uint8_t *buf, size_t cap, size_t *lenp)
{
	uint8_t  h[8];
	uint64_t len;

	if (raw_recv(s, h, 2) != 0) {
		return (-1);
	}
	*b0 = h[0];
	len = h[1] & 0x7f;
	if (len == 126) {
		if (raw_recv(s, h, 2) != 0) {
			return (-1);
		}
		len = ((uint64_t) h[0] << 8) | h[1];
	} else if (len == 127) {
		if (raw_recv(s, h, 8) != 0) {
			return (-1);
		}
		len = 0;
		for (int i = 0; i < 8; i++) {
			len = (len << 8) | h[i];
		}
	}
	if (len > cap || (len > 0 && raw_recv(s, buf, (size_t) len) != 0)) {
		return (-1);
	}
	*lenp = (size_t) len;
	return (0);
}

int
raw_close_code(nghttpw_stream *s)
{
	static uint8_t buf[1 << 20];
	uint8_t        b0;
	size_t         len;

	while (raw_read_frame(s, &b0, buf, sizeof(buf), &len) == 0) {
		if ((b0 & 0x0f) == 0x8) {
			return (len >= 2 ? (buf[0] << 8) | buf[1] : 1005);
		}
	}
	return (-1);
}

bool
raw_ended(nghttpw_stream *s)
{
	uint8_t     b;
	nghttpw_iov iov = { &b, 1 };
	size_t      n;

	for (;;) {
		int rv = sync_op(nghttpw_stream_recv, s, &iov, 1, 3000, &n);
		if (rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET) {
			return (true);
		}
		if (rv != 0) {
			return (false);
		}
	}
}

/* ------------------------------------------------------------ echo */

typedef struct echo_conn {
	struct echo_conn *next;
	ws_echo          *e;
	nghttpw_stream   *s;
	nghttpw_aio      *aio;
	uint8_t          *buf;
	unsigned          flags;
	bool              writing;
} echo_conn;

struct ws_echo {
	nghttpw_stream_listener *l;
	nghttpw_aio             *acc;
	size_t                   max;
	pthread_mutex_t          mtx;
	echo_conn               *conns;
	bool                     stopping;
	int                      accepted;
	int                      agreed; /* with permessage-deflate */
};

static void
echo_read(echo_conn *c)
{
	nghttpw_iov iov = { c->buf, c->e->max };
	c->writing      = false;
	nghttpw_aio_set_iov(c->aio, 1, &iov);
	nghttpw_ws_recv_msg(c->s, &c->flags, c->aio);
}

static void
echo_cb(void *arg)
{
	echo_conn *c = arg;

	if (nghttpw_aio_result(c->aio) != 0) {
		return; /* gone; ws_echo_stop frees it */
	}
	if (c->writing) {
		echo_read(c);
	} else {
		nghttpw_iov iov = { c->buf, nghttpw_aio_count(c->aio) };
		c->writing      = true;
		nghttpw_aio_set_iov(c->aio, 1, &iov);
		nghttpw_ws_send_msg(c->s, c->flags, c->aio);
	}
}

static void
echo_accept_cb(void *arg)
{
	ws_echo   *e = arg;
	echo_conn *c;
	bool       deflate = false;

	if (nghttpw_aio_result(e->acc) != 0) {
		return;
	}
	c    = calloc(1, sizeof(*c));
	c->e = e;
	c->s = nghttpw_aio_get_output(e->acc, 0);
	c->buf = malloc(e->max);
	nghttpw_aio_alloc(&c->aio, echo_cb, c);
	nghttpw_stream_set_size(c->s, NGHTTPW_OPT_RECVMAXSZ, e->max);
	nghttpw_stream_set_size(c->s, NGHTTPW_OPT_WS_RECVMAXFRAME, e->max);
	nghttpw_stream_set_bool(c->s, NGHTTPW_OPT_WS_RECV_TEXT, true);
	(void) nghttpw_stream_get_bool(c->s, NGHTTPW_OPT_WS_DEFLATE, &deflate);
	pthread_mutex_lock(&e->mtx);
	e->accepted++;
	e->agreed += deflate;
	c->next  = e->conns;
	e->conns = c;
	if (!e->stopping) {
		echo_read(c);
		nghttpw_stream_listener_accept(e->l, e->acc);
	}
	pthread_mutex_unlock(&e->mtx);
}

int
ws_echo_serve(nghttpw_stream_listener *l, size_t max, ws_echo **ep, int *portp)
{
	ws_echo *e = calloc(1, sizeof(*e));
	int      rv;

	e->max = max;
	e->l   = l;
	pthread_mutex_init(&e->mtx, NULL);
	if ((rv = nghttpw_stream_listener_listen(e->l)) != 0 ||
	    (rv = nghttpw_stream_listener_get_int(e->l, NGHTTPW_OPT_TCP_BOUND_PORT, portp)) != 0) {
		nghttpw_stream_listener_free(e->l);
		pthread_mutex_destroy(&e->mtx);
		free(e);
		return (rv);
	}
	nghttpw_aio_alloc(&e->acc, echo_accept_cb, e);
	nghttpw_stream_listener_accept(e->l, e->acc);
	*ep = e;
	return (0);
}

int
ws_echo_start(const char *url, size_t max, ws_echo **ep, int *portp)
{
	nghttpw_stream_listener *l;
	int                      rv;

	if ((rv = nghttpw_stream_listener_alloc(&l, url)) != 0) {
		return (rv);
	}
	return (ws_echo_serve(l, max, ep, portp));
}

void
ws_echo_counts(ws_echo *e, int *accepted, int *agreed)
{
	pthread_mutex_lock(&e->mtx);
	*accepted = e->accepted;
	*agreed   = e->agreed;
	pthread_mutex_unlock(&e->mtx);
}

void
ws_echo_stop(ws_echo *e)
{
	echo_conn *c;

	pthread_mutex_lock(&e->mtx);
	e->stopping = true;
	pthread_mutex_unlock(&e->mtx);
	nghttpw_stream_listener_close(e->l);
	nghttpw_aio_stop(e->acc);
	for (c = e->conns; c != NULL; c = c->next) {
		nghttpw_stream_close(c->s);
	}
	while ((c = e->conns) != NULL) {
		e->conns = c->next;
		nghttpw_aio_stop(c->aio);
		nghttpw_stream_free(c->s);
		nghttpw_aio_free(c->aio);
		free(c->buf);
		free(c);
	}
	nghttpw_stream_listener_free(e->l);
	nghttpw_aio_free(e->acc);
	pthread_mutex_destroy(&e->mtx);
	free(e);
}
