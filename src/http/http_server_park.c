/* Parked connections.  A keep-alive connection that has had no byte for
 * the read linger (HTTP_CONN_READ_LINGER_MS) keeps only its socket, in a
 * record of about a hundred bytes from a slab; its HTTP connection,
 * request, aio and TCP stream are freed.  Once the socket is readable
 * (the next request, or the peer's close) it is served as if just
 * accepted; at the idle timeout, or the server's stop, it is closed.
 * The same on epoll and io_uring: there the wait is in the epoll set the
 * ring watches, and the socket wakes as a ring stream again.
 *
 * The records are the server's (in s->parked, under s->mtx) from park
 * until their wait ends, and the wait's callback is the only one to free
 * them, so stop just cancels the waits and waits for the list to empty. */
#include <stdlib.h>
#include <unistd.h>

#include "core/fd_wait.h"
#include "core/slab.h"
#include "core/tcp.h"
#include "http/http_conn.h"
#include "http/http_server_conn.h"

typedef struct srv_parked {
	fd_wait              wait;
	list_node            node; /* in the server's parked */
	nghttpw_http_server *srv;
	tcp_settings         settings; /* to wrap the socket again */
	/* A PROXY protocol header was read: its addresses (or NULL for
	 * LOCAL and UNKNOWN), and none is to be read again. */
	nghttpw_sockaddr    *proxied;
	bool                 proxy_read;
} srv_parked;

static slab parked_slab = SLAB_INITIALIZER(parked_slab, sizeof(srv_parked));

static void
parked_done(fd_wait *w, int rv)
{
	srv_parked          *p = LIST_ENTRY(w, srv_parked, wait);
	nghttpw_http_server *s = p->srv;
	nghttpw_stream      *stream;

	pthread_mutex_lock(&s->mtx);
	list_remove(&p->node);
	if (rv != 0 || s->stopping ||
	    tcp_conn_alloc(&stream, p->wait.pfd.fd, &p->settings) != 0) {
		/* Timed out, stopped, or no memory to serve it: an idle
		 * keep-alive connection may be closed at any time. */
		close(p->wait.pfd.fd);
		free(p->proxied);
	} else {
		http_server_conn_resume_locked(s, stream, p->proxy_read, p->proxied);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	slab_free(&parked_slab, p);
}

bool
http_server_park_locked(nghttpw_http_server *s, nghttpw_http_conn *conn,
    nghttpw_duration idle_ms)
{
	nghttpw_stream *stream = http_conn_stream(conn);
	srv_parked     *p;
	int             fd;

	if (!tcp_stream_detachable(stream) ||
	    (p = slab_alloc(&parked_slab)) == NULL) {
		return (false);
	}
	if (tcp_stream_detach(stream, &fd, &p->settings) != 0) {
		slab_free(&parked_slab, p);
		return (false);
	}
	p->srv        = s;
	p->proxy_read = s->proxy_protocol;
	p->proxied    = http_conn_take_proxied(conn);
	if (fd_wait_start(&p->wait, stream->loop, fd, idle_ms, parked_done) != 0) {
		/* The stream gave its socket up already: close it, as the
		 * idle timeout would. */
		close(fd);
		free(p->proxied);
		slab_free(&parked_slab, p);
		return (true);
	}
	list_append(&s->parked, &p->node);
	return (true);
}

void
http_server_unpark_all_locked(nghttpw_http_server *s)
{
	for (list_node *n = s->parked.next; n != &s->parked; n = n->next) {
		/* A wait that ended already is being served or closed; its
		 * callback takes the record off the list all the same. */
		(void) fd_wait_cancel(&LIST_ENTRY(n, srv_parked, node)->wait);
	}
}
