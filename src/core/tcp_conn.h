/* The TCP stream's state, shared by its readiness path (tcp.c, epoll) and
 * its io_uring path (tcp_uring.c). */
#ifndef NGHTTPW_CORE_TCP_CONN_H
#define NGHTTPW_CORE_TCP_CONN_H

#include "core/aio.h"
#include "core/tcp.h"

typedef struct tcp_conn {
	nghttpw_stream   stream;
	plat_mutex       mtx;
	poller_fd        pfd;
	loop            *loop;
	list_node        sendq;
	list_node        recvq;
	list_node        readyq; /* stream_wait_readable's aios */
	bool             closed;
	bool             registered;
	bool             unreadable; /* last read emptied it, no event since */
	bool             eof_pending; /* the peer's FIN or an error is queued */
	tcp_settings     settings;
	nghttpw_sockaddr local;
	nghttpw_sockaddr remote;
	task             free_task;
	/* While connecting: whom to tell, and whether that is still owed. */
	tcp_connect_cb   connect_cb;
	void            *connect_arg;
} tcp_conn;

enum { IO_DONE, IO_AGAIN };

/* What both paths share, from tcp.c.  The _some functions move what the
 * socket takes now, without blocking: IO_DONE with *rv set when the
 * operation is over, IO_AGAIN when nothing could move. */
/* Begins a send or recv: false when the aio is already over (stopped,
 * or refused with NGHTTPW_EINVAL for an empty iov). */
bool tcp_io_begin(nghttpw_aio *aio);
int  tcp_send_some(tcp_conn *c, nghttpw_aio *aio, int *rv);
int  tcp_recv_some(tcp_conn *c, nghttpw_aio *aio, int *rv);
int  tcp_sendfile_some(tcp_conn *c, nghttpw_aio *aio, int *rv);
void tcp_connected(tcp_conn *c, tcp_connect_cb cb, void *arg);
int  tcp_get(void *arg, const char *name, void *buf, size_t *szp,
     nghttpw_type t);
int  tcp_set(void *arg, const char *name, const void *buf, size_t sz,
     nghttpw_type t);
void tcp_conn_destroy(tcp_conn *c);

/* Whether the streams of l run on its io_uring ring. */
static inline bool
tcp_conn_on_ring(loop *l)
{
	return (loop_poller(l)->ring != NULL);
}

#ifdef NGHTTPW_HAVE_IO_URING
/* The io_uring path: the size to allocate for a conn, its table, its
 * set-up once the common fields are filled in (the conn is not yet
 * shared), and the operations only TCP streams have. */
extern const size_t             tcp_uring_conn_size;
extern const nghttpw_stream_ops tcp_uring_ops;
void tcp_uring_init(tcp_conn *c);
void tcp_uring_connect(tcp_conn *c);
void tcp_uring_sendfile(tcp_conn *c, nghttpw_aio *aio);
void tcp_uring_wait_readable(tcp_conn *c, nghttpw_aio *aio);
/* Whether an operation of c is still in the kernel (its completion not
 * yet back).  Conn locked. */
bool tcp_uring_busy_locked(tcp_conn *c);
#endif

#endif
