/* The generic stream, dialer and listener objects and the tables that
 * transports (TCP here, TLS above) implement. */
#ifndef NGHTTPW_CORE_STREAM_H
#define NGHTTPW_CORE_STREAM_H

#include "core/loop.h"
#include "nghttpw/nghttpw.h"

struct nghttpw_stream {
	const nghttpw_stream_ops *ops;
	void                     *arg;
	loop                     *loop; /* runs its I/O; NULL for a user's */
	bool                      wrapper_owned; /* allocated by stream_alloc */
};

/* Typed option access through a stream's table, for a transport that
 * passes options on to the stream under it (as the typed public get and
 * set functions do). */
int stream_get_opt(nghttpw_stream *s, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int stream_set(nghttpw_stream *s, const char *name, const void *buf,
    size_t sz, nghttpw_type t);

/* For a transport that embeds its nghttpw_stream in its own object. */
void stream_init(nghttpw_stream *, const nghttpw_stream_ops *, void *arg);

/* nghttpw_aio_alloc for an aio that serves s: homed on the loop that runs
 * s, so that its lock and timer are that thread's own, not another
 * loop's (round-robin for a stream no loop of ours runs). */
int stream_aio_alloc(
    nghttpw_stream *s, nghttpw_aio **aiop, void (*cb)(void *), void *arg);

typedef struct dialer_ops {
	void (*d_free)(void *arg);
	void (*d_close)(void *arg);
	void (*d_dial)(void *arg, nghttpw_aio *aio);
	int (*d_get)(void *arg, const char *name, void *buf, size_t *szp,
	    nghttpw_type t);
	int (*d_set)(void *arg, const char *name, const void *buf, size_t sz,
	    nghttpw_type t);
} dialer_ops;

typedef struct listener_ops {
	void (*l_free)(void *arg);
	void (*l_close)(void *arg);
	int (*l_listen)(void *arg);
	void (*l_accept)(void *arg, nghttpw_aio *aio);
	int (*l_get)(void *arg, const char *name, void *buf, size_t *szp,
	    nghttpw_type t);
	int (*l_set)(void *arg, const char *name, const void *buf, size_t sz,
	    nghttpw_type t);
} listener_ops;

struct nghttpw_stream_dialer {
	const dialer_ops *ops;
	void             *arg;
};

struct nghttpw_stream_listener {
	const listener_ops *ops;
	void               *arg;
};

/* Sends up to len bytes of the file fd from off with sendfile(2), moving
 * some bytes as send does (the count says how many).  Only TCP streams can;
 * others finish the aio with NGHTTPW_ENOTSUP, and the caller then reads
 * and sends the file itself. */
void stream_sendfile(nghttpw_stream *s, int fd, uint64_t off, uint64_t len,
    nghttpw_aio *aio);

/* Finishes the aio (count 0) once s has something to read -- data, an end
 * or an error -- without reading it, so that a connection idle for long
 * needs no buffer until then.  Only TCP streams can; others finish it
 * with NGHTTPW_ENOTSUP. */
void stream_wait_readable(nghttpw_stream *s, nghttpw_aio *aio);

/* TCP transport constructors; the URL has been checked for a tcp-like
 * scheme.  family is AF_INET, AF_INET6 or AF_UNSPEC. */
int tcp_dialer_alloc(nghttpw_stream_dialer *, const nghttpw_url *, int family);
int tcp_listener_alloc(
    nghttpw_stream_listener *, const nghttpw_url *, int family);

/* TLS transport constructors (src/tls, built with NGHTTPW_TLS): for the
 * schemes tls+tcp, tls+tcp4, tls+tcp6, https and wss. */
int tls_dialer_alloc(nghttpw_stream_dialer *, const nghttpw_url *);
int tls_listener_alloc(nghttpw_stream_listener *, const nghttpw_url *);

#endif
