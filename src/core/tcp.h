/* TCP streams over non-blocking sockets owned by one event loop. */
#ifndef NGHTTPW_CORE_TCP_H
#define NGHTTPW_CORE_TCP_H

#include "core/stream.h"

/* Settings a dialer or listener hands to the streams it makes. */
typedef struct tcp_settings {
	bool nodelay;
	bool keepalive;
} tcp_settings;

/* What a connect in progress reports when it ends: rv is 0 and s the new
 * stream, or rv is why it failed.  Runs on the stream's loop. */
typedef void (*tcp_connect_cb)(void *arg, int rv, nghttpw_stream *s);

/* Wraps a connected socket (which it then owns) in a stream. */
int tcp_conn_alloc(nghttpw_stream **sp, int fd, const tcp_settings *ts);

/* Wraps a socket whose non-blocking connect is under way; cb is called
 * once, unless tcp_conn_abort_connect wins first.  Returns an opaque
 * handle for tcp_conn_abort_connect. */
int tcp_conn_connect(int fd, const tcp_settings *ts, tcp_connect_cb cb,
    void *cb_arg, void **handle);

/* Abandons a connect: returns true if cb will not be called (the socket is
 * then closed and freed), false if cb has run or is about to. */
bool tcp_conn_abort_connect(void *handle);

/* Whether s is a TCP stream, whose socket tcp_stream_detach can take. */
bool tcp_stream_detachable(nghttpw_stream *s);

/* Takes the socket out of a TCP stream with nothing pending on it, with
 * the settings it was made with (for tcp_conn_alloc to wrap it again):
 * the stream acts closed from then on, and its free leaves the socket
 * open.  On either back-end; on io_uring the stream has no buffer of its
 * own (recvs go straight into the caller's iov), so once no operation is
 * in the kernel no byte of the socket's is held anywhere.  Any thread.
 * Errors: NGHTTPW_ENOTSUP (not TCP), NGHTTPW_ESTATE (closed, or an
 * operation pending, or on io_uring one whose completion is not back). */
int tcp_stream_detach(nghttpw_stream *s, int *fdp, tcp_settings *ts);

/* Shared option handling for dialers and listeners. */
int tcp_settings_get(const tcp_settings *, const char *name, void *buf,
    size_t *szp, nghttpw_type t);
int tcp_settings_set(tcp_settings *, const char *name, const void *buf,
    size_t sz, nghttpw_type t);

/* The dialer and listener constructors behind tcp_schemes. */
int tcp_dialer_alloc(nghttpw_stream_dialer *, const nghttpw_url *);
int tcp_listener_alloc(nghttpw_stream_listener *, const nghttpw_url *);

/* The address family a scheme asks for: AF_INET for one ending in 4,
 * AF_INET6 for 6, else AF_UNSPEC. */
int tcp_scheme_family(const char *scheme);

#endif
