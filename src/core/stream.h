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

/* Typed option access through a stream's, dialer's or listener's table,
 * for a transport that passes options on to the object under it (as the
 * public get and set functions do).  A NULL object, name or buffer gives
 * NGHTTPW_EINVAL, an object without the entry NGHTTPW_ENOTSUP. */
int stream_get_opt(nghttpw_stream *s, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int stream_set(nghttpw_stream *s, const char *name, const void *buf,
    size_t sz, nghttpw_type t);
int dialer_get_opt(nghttpw_stream_dialer *d, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int dialer_set_opt(nghttpw_stream_dialer *d, const char *name,
    const void *buf, size_t sz, nghttpw_type t);
int listener_get_opt(nghttpw_stream_listener *l, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int listener_set_opt(nghttpw_stream_listener *l, const char *name,
    const void *buf, size_t sz, nghttpw_type t);

/* For a transport that embeds its nghttpw_stream in its own object. */
void stream_init(nghttpw_stream *, const nghttpw_stream_ops *, void *arg);

/* nghttpw_aio_alloc for an aio that serves s: homed on the loop that runs
 * s, so that its lock and timer are that thread's own, not another
 * loop's (round-robin for a stream no loop of ours runs). */
int stream_aio_alloc(
    nghttpw_stream *s, nghttpw_aio **aiop, void (*cb)(void *), void *arg);

/* The stop entries close, then wait until the object's own work has
 * ceased: none of its handlers or cancel functions will touch an aio
 * again.  Free closes and lets go; it need not wait for what stop waits
 * for, as long as the object lives until that is over. */
typedef struct dialer_ops {
	void (*d_free)(void *arg);
	void (*d_close)(void *arg);
	void (*d_stop)(void *arg);
	void (*d_dial)(void *arg, nghttpw_aio *aio);
	int (*d_get)(void *arg, const char *name, void *buf, size_t *szp,
	    nghttpw_type t);
	int (*d_set)(void *arg, const char *name, const void *buf, size_t sz,
	    nghttpw_type t);
} dialer_ops;

typedef struct listener_ops {
	void (*l_free)(void *arg);
	void (*l_close)(void *arg);
	void (*l_stop)(void *arg);
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

/* Sends from iov what the socket takes at once, without an aio: for a
 * caller that would otherwise begin, finish and call back an operation
 * for a send that usually goes whole (an HTTP answer).  Returns the bytes
 * sent; 0 when none went: s is not an epoll TCP stream, is closed, has
 * sends queued, its socket is full, or failed (the caller's next send
 * through an aio then meets the error). */
size_t stream_send_now(nghttpw_stream *s, const nghttpw_iov *iov, unsigned niov);

/* Finishes the aio (count 0) once s has something to read -- data, an end
 * or an error -- without reading it, so that a connection idle for long
 * needs no buffer until then.  Only TCP streams can; others finish it
 * with NGHTTPW_ENOTSUP. */
void stream_wait_readable(nghttpw_stream *s, nghttpw_aio *aio);

/* The transports: each serves some URL schemes, and registers a table of
 * them (ended by an entry with a NULL name) with stream_schemes_register.
 * Dialers and listeners are made by the entry whose name is the URL's
 * scheme; a scheme nobody registered gives NGHTTPW_ENOTSUP. */
typedef struct stream_scheme {
	const char *name;
	int (*dialer_alloc)(nghttpw_stream_dialer *, const nghttpw_url *);
	int (*listener_alloc)(nghttpw_stream_listener *, const nghttpw_url *);
} stream_scheme;

/* Makes a dialer or listener in place by the scheme of url (the entry's
 * constructor): for a transport whose scheme is another's under a new
 * name.  NGHTTPW_ENOTSUP for a scheme nobody registered. */
int stream_dialer_init(nghttpw_stream_dialer *d, const nghttpw_url *url);
int stream_listener_init(nghttpw_stream_listener *l, const nghttpw_url *url);

/* Adds a table (kept, not copied).  Only stream_schemes_builtin calls
 * this, once, before the first lookup, so lookups need no lock. */
void stream_schemes_register(const stream_scheme *table);

/* Registers the schemes of every transport built into the library: the
 * library's top level (src/builtin.c) defines it, since only it knows
 * which layers are built in.  Called once, on the first lookup. */
void stream_schemes_builtin(void);

/* The TCP transport's schemes: tcp, tcp4, tcp6 and http. */
extern const stream_scheme tcp_schemes[];

#endif
