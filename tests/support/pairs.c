#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <unistd.h>

#include "support/pairs.h"

int
raw_tcp_listen(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t          len = sizeof(sin);
	int                fd  = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (void *) &sin, sizeof(sin)) != 0 ||
	    listen(fd, 8) != 0 || getsockname(fd, (void *) &sin, &len) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return (-1);
	}
	*port = ntohs(sin.sin_port);
	return (fd);
}

int
raw_tcp_connect(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int                fd  = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port        = htons((uint16_t) port);
	if (fd >= 0 && connect(fd, (void *) &sin, sizeof(sin)) != 0) {
		close(fd);
		return (-1);
	}
	return (fd);
}

int
tcp_pair(const char *host, nghttpw_stream **a, nghttpw_stream **b)
{
	nghttpw_stream_listener *l;
	nghttpw_stream_dialer   *d;
	nghttpw_aio             *acc, *dial;
	char                     url[128];
	int                      port;
	int                      rv;

	snprintf(url, sizeof(url), "tcp://%s:0", host);
	if ((rv = nghttpw_stream_listener_alloc(&l, url)) != 0) {
		return (rv);
	}
	if ((rv = nghttpw_stream_listener_listen(l)) != 0 ||
	    (rv = nghttpw_stream_listener_get_int(
	         l, NGHTTPW_OPT_TCP_BOUND_PORT, &port)) != 0) {
		nghttpw_stream_listener_free(l);
		return (rv);
	}
	snprintf(url, sizeof(url), "tcp://%s:%d", host, port);
	if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0) {
		nghttpw_stream_listener_free(l);
		return (rv);
	}
	if ((rv = nghttpw_aio_alloc(&acc, NULL, NULL)) != 0) {
		nghttpw_stream_dialer_free(d);
		nghttpw_stream_listener_free(l);
		return (rv);
	}
	if ((rv = nghttpw_aio_alloc(&dial, NULL, NULL)) != 0) {
		nghttpw_aio_free(acc);
		nghttpw_stream_dialer_free(d);
		nghttpw_stream_listener_free(l);
		return (rv);
	}
	nghttpw_aio_set_timeout(acc, 5000);
	nghttpw_aio_set_timeout(dial, 5000);
	nghttpw_stream_listener_accept(l, acc);
	nghttpw_stream_dialer_dial(d, dial);
	nghttpw_aio_wait(acc);
	nghttpw_aio_wait(dial);
	if ((rv = nghttpw_aio_result(dial)) == 0 &&
	    (rv = nghttpw_aio_result(acc)) == 0) {
		*a = nghttpw_aio_get_output(dial, 0);
		*b = nghttpw_aio_get_output(acc, 0);
	} else {
		nghttpw_stream_free(nghttpw_aio_get_output(dial, 0));
		nghttpw_stream_free(nghttpw_aio_get_output(acc, 0));
	}
	nghttpw_aio_free(acc);
	nghttpw_aio_free(dial);
	nghttpw_stream_dialer_free(d);
	nghttpw_stream_listener_free(l);
	return (rv);
}

int
tcp_dial(int port, nghttpw_stream **sp)
{
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	char                   url[64];
	int                    rv;

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0) {
		return (rv);
	}
	if ((rv = nghttpw_aio_alloc(&aio, NULL, NULL)) == 0) {
		nghttpw_aio_set_timeout(aio, 5000);
		nghttpw_stream_dialer_dial(d, aio);
		nghttpw_aio_wait(aio);
		if ((rv = nghttpw_aio_result(aio)) == 0) {
			*sp = nghttpw_aio_get_output(aio, 0);
		}
		nghttpw_aio_free(aio);
	}
	nghttpw_stream_dialer_free(d);
	return (rv);
}

bool
have_ipv6(void)
{
	nghttpw_stream_listener *l;
	bool                     ok = false;

	if (nghttpw_stream_listener_alloc(&l, "tcp://[::1]:0") == 0) {
		ok = nghttpw_stream_listener_listen(l) == 0;
		nghttpw_stream_listener_free(l);
	}
	return (ok);
}

int
sync_op(void (*op)(nghttpw_stream *, nghttpw_aio *), nghttpw_stream *s,
    nghttpw_iov *iov, unsigned niov, nghttpw_duration timeout, size_t *count)
{
	nghttpw_aio *aio;
	int          rv;

	if ((rv = nghttpw_aio_alloc(&aio, NULL, NULL)) != 0) {
		return (rv);
	}
	nghttpw_aio_set_timeout(aio, timeout);
	nghttpw_aio_set_iov(aio, niov, iov);
	op(s, aio);
	nghttpw_aio_wait(aio);
	rv = nghttpw_aio_result(aio);
	if (count != NULL) {
		*count = nghttpw_aio_count(aio);
	}
	nghttpw_aio_free(aio);
	return (rv);
}

static int
transfer_all(void (*op)(nghttpw_stream *, nghttpw_aio *), nghttpw_stream *s,
    void *buf, size_t len, size_t *moved)
{
	size_t done = 0;
	int    rv   = 0;

	while (done < len) {
		nghttpw_iov iov = { (char *) buf + done, len - done };
		size_t      n;
		if ((rv = sync_op(op, s, &iov, 1, 10000, &n)) != 0) {
			break;
		}
		done += n;
	}
	if (moved != NULL) {
		*moved = done;
	}
	return (rv);
}

int
send_all(nghttpw_stream *s, const void *buf, size_t len, size_t *moved)
{
	return (transfer_all(nghttpw_stream_send, s, (void *) buf, len, moved));
}

int
recv_all(nghttpw_stream *s, void *buf, size_t len, size_t *moved)
{
	return (transfer_all(nghttpw_stream_recv, s, buf, len, moved));
}

void
fill_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	unsigned       x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x    = x * 1103515245u + 12345u;
		p[i] = (unsigned char) (x >> 16);
	}
}

unsigned char
pattern_byte(uint64_t off)
{
	return ((unsigned char) (off * 131 + (off >> 10) * 7 + (off >> 20)));
}

/* The in-memory stream: two ends sharing a pipe, one byte queue per
 * direction, and at most one waiting recv per end. */

typedef struct mem_pipe mem_pipe;

typedef struct mem_end {
	mem_pipe    *pipe;
	int          side;
	nghttpw_aio *waiting; /* a recv with nothing to read yet */
	unsigned char *data;  /* bytes travelling to this end */
	size_t       len;
	size_t       cap;
	bool         closed;
} mem_end;

struct mem_pipe {
	pthread_mutex_t mtx;
	mem_end         ends[2];
	int             refs;
};

static mem_end *
mem_peer(mem_end *e)
{
	return (&e->pipe->ends[1 - e->side]);
}

/* Moves queued bytes into e's waiting recv, or fails it if the peer is
 * gone; pipe mutex held. */
static void
mem_serve(mem_end *e)
{
	nghttpw_aio *aio = e->waiting;
	size_t       moved = 0;

	if (aio == NULL) {
		return;
	}
	if (e->len == 0) {
		if (e->closed || mem_peer(e)->closed) {
			e->waiting = NULL;
			nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		}
		return;
	}
	nghttpw_iov *iov;
	unsigned     niov = nghttpw_aio_get_iov(aio, &iov);
	for (unsigned i = 0; i < niov && moved < e->len; i++) {
		size_t n = iov[i].iov_len < e->len - moved ? iov[i].iov_len
		                                           : e->len - moved;
		memcpy(iov[i].iov_buf, e->data + moved, n);
		moved += n;
	}
	memmove(e->data, e->data + moved, e->len - moved);
	e->len -= moved;
	e->waiting = NULL;
	nghttpw_aio_set_count(aio, moved);
	nghttpw_aio_finish(aio, 0);
}

static void
mem_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	mem_end *e = arg;

	pthread_mutex_lock(&e->pipe->mtx);
	if (e->waiting == aio) {
		e->waiting = NULL;
		nghttpw_aio_finish(aio, rv);
	}
	pthread_mutex_unlock(&e->pipe->mtx);
}

static void
mem_send(void *arg, nghttpw_aio *aio)
{
	mem_end     *e = arg;
	mem_end     *peer;
	nghttpw_iov *iov;
	unsigned     niov  = nghttpw_aio_get_iov(aio, &iov);
	size_t       total = 0;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&e->pipe->mtx);
	peer = mem_peer(e);
	if (e->closed || peer->closed) {
		pthread_mutex_unlock(&e->pipe->mtx);
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		return;
	}
	for (unsigned i = 0; i < niov; i++) {
		total += iov[i].iov_len;
	}
	if (peer->len + total > peer->cap) {
		size_t         cap   = (peer->len + total) * 2;
		unsigned char *grown = realloc(peer->data, cap);
		if (grown == NULL) {
			pthread_mutex_unlock(&e->pipe->mtx);
			nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
			return;
		}
		peer->data = grown;
		peer->cap  = cap;
	}
	for (unsigned i = 0; i < niov; i++) {
		memcpy(peer->data + peer->len, iov[i].iov_buf, iov[i].iov_len);
		peer->len += iov[i].iov_len;
	}
	mem_serve(peer);
	pthread_mutex_unlock(&e->pipe->mtx);
	nghttpw_aio_set_count(aio, total);
	nghttpw_aio_finish(aio, total > 0 ? 0 : NGHTTPW_EINVAL);
}

static void
mem_recv(void *arg, nghttpw_aio *aio)
{
	mem_end *e = arg;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&e->pipe->mtx);
	if (e->waiting != NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EBUSY);
	} else if (e->len == 0 && !e->closed && !mem_peer(e)->closed) {
		e->waiting = aio;
		nghttpw_aio_defer(aio, mem_cancel, e);
	} else {
		e->waiting = aio;
		mem_serve(e);
	}
	pthread_mutex_unlock(&e->pipe->mtx);
}

static void
mem_close(void *arg)
{
	mem_end *e = arg;

	pthread_mutex_lock(&e->pipe->mtx);
	e->closed = true;
	mem_serve(e);
	mem_serve(mem_peer(e));
	pthread_mutex_unlock(&e->pipe->mtx);
}

static void
mem_free(void *arg)
{
	mem_end  *e = arg;
	mem_pipe *p = e->pipe;
	int       refs;

	mem_close(e);
	pthread_mutex_lock(&p->mtx);
	refs = --p->refs;
	pthread_mutex_unlock(&p->mtx);
	if (refs == 0) {
		free(p->ends[0].data);
		free(p->ends[1].data);
		pthread_mutex_destroy(&p->mtx);
		free(p);
	}
}

static const nghttpw_stream_ops mem_ops = {
	.s_free  = mem_free,
	.s_close = mem_close,
	.s_stop  = mem_close,
	.s_send  = mem_send,
	.s_recv  = mem_recv,
};

int
mem_pair(nghttpw_stream **a, nghttpw_stream **b)
{
	mem_pipe *p = calloc(1, sizeof(*p));
	int       rv;

	if (p == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&p->mtx, NULL);
	p->refs = 2;
	for (int i = 0; i < 2; i++) {
		p->ends[i].pipe = p;
		p->ends[i].side = i;
	}
	if ((rv = nghttpw_stream_alloc(a, &mem_ops, &p->ends[0])) != 0) {
		pthread_mutex_destroy(&p->mtx);
		free(p);
		return (rv);
	}
	if ((rv = nghttpw_stream_alloc(b, &mem_ops, &p->ends[1])) != 0) {
		p->refs = 1; /* only a's end holds the pipe */
		nghttpw_stream_free(*a);
		*a = NULL;
		return (rv);
	}
	return (0);
}
