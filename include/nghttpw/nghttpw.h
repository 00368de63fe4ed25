/*
 * nghttpw: asynchronous HTTP/1.1 connections, clients and servers.
 *
 * This header holds the core of the library: errors, time, the aio handle
 * that drives every operation, URLs, socket addresses and byte streams.
 * The names, argument orders and semantics follow nng 1.x, so that a
 * program written against nng becomes an nghttpw program by renaming
 * nng_ to nghttpw_ and NNG_ to NGHTTPW_.
 */
#ifndef NGHTTPW_NGHTTPW_H
#define NGHTTPW_NGHTTPW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(NGHTTPW_STATIC_LIB)
#define NGHTTPW_DECL __attribute__((visibility("default")))
#else
#define NGHTTPW_DECL
#endif

#define NGHTTPW_MAJOR_VERSION 0
#define NGHTTPW_MINOR_VERSION 1
#define NGHTTPW_PATCH_VERSION 0
#define NGHTTPW_RELEASE_SUFFIX "" /* e.g. "pre" before a release */

/* Error codes.  The numbers match nng's so that code comparing them keeps
 * working.  NGHTTPW_ESYSERR is OR'ed with the errno that caused it. */
enum nghttpw_errno_enum {
	NGHTTPW_EINTR        = 1,
	NGHTTPW_ENOMEM       = 2,
	NGHTTPW_EINVAL       = 3,
	NGHTTPW_EBUSY        = 4,
	NGHTTPW_ETIMEDOUT    = 5,
	NGHTTPW_ECONNREFUSED = 6,
	NGHTTPW_ECLOSED      = 7,
	NGHTTPW_EAGAIN       = 8,
	NGHTTPW_ENOTSUP      = 9,
	NGHTTPW_EADDRINUSE   = 10,
	NGHTTPW_ESTATE       = 11,
	NGHTTPW_ENOENT       = 12,
	NGHTTPW_EPROTO       = 13,
	NGHTTPW_EUNREACHABLE = 14,
	NGHTTPW_EADDRINVAL   = 15,
	NGHTTPW_EPERM        = 16,
	NGHTTPW_EMSGSIZE     = 17,
	NGHTTPW_ECONNABORTED = 18,
	NGHTTPW_ECONNRESET   = 19,
	NGHTTPW_ECANCELED    = 20,
	NGHTTPW_ENOFILES     = 21,
	NGHTTPW_ENOSPC       = 22,
	NGHTTPW_EEXIST       = 23,
	NGHTTPW_EREADONLY    = 24,
	NGHTTPW_EWRITEONLY   = 25,
	NGHTTPW_ECRYPTO      = 26,
	NGHTTPW_EPEERAUTH    = 27,
	NGHTTPW_ENOARG       = 28,
	NGHTTPW_EAMBIGUOUS   = 29,
	NGHTTPW_EBADTYPE     = 30,
	NGHTTPW_ECONNSHUT    = 31,
	NGHTTPW_EINTERNAL    = 1000,
	NGHTTPW_ESYSERR      = 0x10000000,
	NGHTTPW_ETRANERR     = 0x20000000,
};

NGHTTPW_DECL const char *nghttpw_strerror(int);

/* Time.  A duration is relative, in milliseconds; a time is an absolute
 * reading of nghttpw_clock(), also in milliseconds. */
typedef int32_t  nghttpw_duration;
typedef uint64_t nghttpw_time;

#define NGHTTPW_DURATION_INFINITE (-1)
#define NGHTTPW_DURATION_DEFAULT (-2)
#define NGHTTPW_DURATION_ZERO (0)

NGHTTPW_DECL nghttpw_time nghttpw_clock(void);
NGHTTPW_DECL void         nghttpw_msleep(nghttpw_duration);

/* Library start-up and shut-down.  The runtime starts by itself on first
 * use; parameters set after that are ignored until nghttpw_fini.  Only
 * the poller ones mean something here (the I/O threads); the others are
 * nng's, accepted and ignored. */
typedef int nghttpw_init_parameter;

enum {
	NGHTTPW_INIT_PARAMETER_NONE = 0,
	NGHTTPW_INIT_NUM_TASK_THREADS,
	NGHTTPW_INIT_NUM_EXPIRE_THREADS,
	NGHTTPW_INIT_NUM_POLLER_THREADS,
	NGHTTPW_INIT_NUM_RESOLVER_THREADS,
	NGHTTPW_INIT_MAX_TASK_THREADS,
	NGHTTPW_INIT_MAX_EXPIRE_THREADS,
	NGHTTPW_INIT_MAX_POLLER_THREADS,
	/* nghttpw's own, numbered apart from nng's: which kernel interface
	 * the I/O threads wait in, one of NGHTTPW_POLLER_*. */
	NGHTTPW_INIT_POLLER_BACKEND = 0x100,
};

/* Values of NGHTTPW_INIT_POLLER_BACKEND.  AUTO (the default) takes the
 * environment variable NGHTTPW_POLLER (epoll or io_uring) if set, else
 * io_uring where the kernel allows it, else epoll. */
enum {
	NGHTTPW_POLLER_AUTO     = 0,
	NGHTTPW_POLLER_EPOLL    = 1,
	NGHTTPW_POLLER_IO_URING = 2,
};

NGHTTPW_DECL void nghttpw_init_set_parameter(nghttpw_init_parameter, uint64_t);
NGHTTPW_DECL void nghttpw_fini(void);

/* Asynchronous I/O. */
typedef struct nghttpw_aio nghttpw_aio;

typedef struct nghttpw_iov {
	void  *iov_buf;
	size_t iov_len;
} nghttpw_iov;

typedef void (*nghttpw_aio_cancelfn)(nghttpw_aio *, void *, int);

NGHTTPW_DECL int    nghttpw_aio_alloc(nghttpw_aio **, void (*)(void *), void *);
NGHTTPW_DECL void   nghttpw_aio_free(nghttpw_aio *);
NGHTTPW_DECL void   nghttpw_aio_reap(nghttpw_aio *);
NGHTTPW_DECL void   nghttpw_aio_stop(nghttpw_aio *);
NGHTTPW_DECL int    nghttpw_aio_result(nghttpw_aio *);
NGHTTPW_DECL size_t nghttpw_aio_count(nghttpw_aio *);
NGHTTPW_DECL void   nghttpw_aio_cancel(nghttpw_aio *);
NGHTTPW_DECL void   nghttpw_aio_abort(nghttpw_aio *, int);
NGHTTPW_DECL void   nghttpw_aio_wait(nghttpw_aio *);
NGHTTPW_DECL bool   nghttpw_aio_busy(nghttpw_aio *);
NGHTTPW_DECL void   nghttpw_aio_set_timeout(nghttpw_aio *, nghttpw_duration);
NGHTTPW_DECL void   nghttpw_aio_set_expire(nghttpw_aio *, nghttpw_time);
NGHTTPW_DECL int    nghttpw_aio_set_iov(nghttpw_aio *, unsigned, const nghttpw_iov *);
NGHTTPW_DECL int    nghttpw_aio_set_input(nghttpw_aio *, unsigned, void *);
NGHTTPW_DECL void  *nghttpw_aio_get_input(nghttpw_aio *, unsigned);
NGHTTPW_DECL int    nghttpw_aio_set_output(nghttpw_aio *, unsigned, void *);
NGHTTPW_DECL void  *nghttpw_aio_get_output(nghttpw_aio *, unsigned);

/* The provider side: for code that implements an operation of its own. */
NGHTTPW_DECL bool nghttpw_aio_begin(nghttpw_aio *);
NGHTTPW_DECL void nghttpw_aio_defer(nghttpw_aio *, nghttpw_aio_cancelfn, void *);
NGHTTPW_DECL void nghttpw_aio_finish(nghttpw_aio *, int);
NGHTTPW_DECL void nghttpw_aio_set_count(nghttpw_aio *, size_t);
NGHTTPW_DECL unsigned nghttpw_aio_get_iov(nghttpw_aio *, nghttpw_iov **);

NGHTTPW_DECL void nghttpw_sleep_aio(nghttpw_duration, nghttpw_aio *);

/* URLs. */
typedef struct nghttpw_url {
	char *u_rawurl;   /* the string as given */
	char *u_scheme;   /* lower case */
	char *u_userinfo; /* NULL when absent */
	char *u_host;     /* hostname[:port], brackets kept for IPv6 */
	char *u_hostname; /* without brackets; may be empty */
	char *u_port;     /* the scheme's default ("" if none) when not given */
	char *u_path;     /* "" or starts with "/" */
	char *u_query;    /* NULL when absent */
	char *u_fragment; /* NULL when absent */
	char *u_requri;   /* path[?query][#fragment], "" when all are empty */
} nghttpw_url;

NGHTTPW_DECL int  nghttpw_url_parse(nghttpw_url **, const char *);
NGHTTPW_DECL void nghttpw_url_free(nghttpw_url *);
NGHTTPW_DECL int  nghttpw_url_clone(nghttpw_url **, const nghttpw_url *);

/* Socket addresses, nng's union member for member, so that its size and
 * layout are nng's.  Ports and addresses are in network byte order.  Only
 * inet and inet6 addresses come out of nghttpw's own streams; the other
 * families are there for programs (and stream providers) that carry them. */
#define NGHTTPW_MAXADDRLEN (128)

enum nghttpw_sockaddr_family {
	NGHTTPW_AF_UNSPEC   = 0,
	NGHTTPW_AF_INPROC   = 1,
	NGHTTPW_AF_IPC      = 2,
	NGHTTPW_AF_INET     = 3,
	NGHTTPW_AF_INET6    = 4,
	NGHTTPW_AF_ZT       = 5, /* ZeroTier */
	NGHTTPW_AF_ABSTRACT = 6
};

struct nghttpw_sockaddr_inproc {
	uint16_t sa_family;
	char     sa_name[NGHTTPW_MAXADDRLEN];
};

struct nghttpw_sockaddr_path {
	uint16_t sa_family;
	char     sa_path[NGHTTPW_MAXADDRLEN];
};

struct nghttpw_sockaddr_in6 {
	uint16_t sa_family;
	uint16_t sa_port;
	uint8_t  sa_addr[16];
	uint32_t sa_scope;
};

struct nghttpw_sockaddr_in {
	uint16_t sa_family;
	uint16_t sa_port;
	uint32_t sa_addr;
};

struct nghttpw_sockaddr_zt {
	uint16_t sa_family;
	uint64_t sa_nwid;
	uint64_t sa_nodeid;
	uint32_t sa_port;
};

/* A Linux abstract socket: sa_len bytes of sa_name, no leading NUL. */
struct nghttpw_sockaddr_abstract {
	uint16_t sa_family;
	uint16_t sa_len;
	uint8_t  sa_name[107];
};

/* Room for any of the above: this fixes the union's size. */
struct nghttpw_sockaddr_storage {
	uint16_t sa_family;
	uint64_t sa_pad[16];
};

typedef struct nghttpw_sockaddr_inproc   nghttpw_sockaddr_inproc;
typedef struct nghttpw_sockaddr_path     nghttpw_sockaddr_path;
typedef struct nghttpw_sockaddr_path     nghttpw_sockaddr_ipc;
typedef struct nghttpw_sockaddr_in       nghttpw_sockaddr_in;
typedef struct nghttpw_sockaddr_in6      nghttpw_sockaddr_in6;
typedef struct nghttpw_sockaddr_zt       nghttpw_sockaddr_zt;
typedef struct nghttpw_sockaddr_abstract nghttpw_sockaddr_abstract;
typedef struct nghttpw_sockaddr_storage  nghttpw_sockaddr_storage;

typedef union nghttpw_sockaddr {
	uint16_t                  s_family;
	nghttpw_sockaddr_ipc      s_ipc;
	nghttpw_sockaddr_inproc   s_inproc;
	nghttpw_sockaddr_in6      s_in6;
	nghttpw_sockaddr_in       s_in;
	nghttpw_sockaddr_zt       s_zt;
	nghttpw_sockaddr_abstract s_abstract;
	nghttpw_sockaddr_storage  s_storage;
} nghttpw_sockaddr;

/* An address as text, as nng writes it ("127.0.0.1:80", "[::1]:80",
 * "inproc[name]", an IPC path, "abstract[name]", "ZT[node:net:port]"), in
 * buf of bufsz bytes (truncated if it must be); buf is returned, or
 * "unknown" for an address of no known family.  NGHTTPW_MAXADDRSTRLEN
 * bytes always do. */
#define NGHTTPW_MAXADDRSTRLEN (NGHTTPW_MAXADDRLEN + 16)
NGHTTPW_DECL const char *nghttpw_str_sockaddr(
    const nghttpw_sockaddr *sa, char *buf, size_t bufsz);

/* Option names, as nng spells them. */
#define NGHTTPW_OPT_URL "url"
#define NGHTTPW_OPT_LOCADDR "local-address"
#define NGHTTPW_OPT_REMADDR "remote-address"
#define NGHTTPW_OPT_TCP_NODELAY "tcp-nodelay"
#define NGHTTPW_OPT_TCP_KEEPALIVE "tcp-keepalive"
#define NGHTTPW_OPT_TCP_BOUND_PORT "tcp-bound-port"
/* Listener settings beyond nng, before listening: SO_REUSEPORT (bool),
 * so that several processes or listeners share a port; and a socket to
 * adopt in place of making one (int), for systemd socket activation. */
#define NGHTTPW_OPT_TCP_REUSEPORT "tcp-reuseport"
#define NGHTTPW_OPT_TCP_LISTEN_FD "tcp-listen-fd"
#define NGHTTPW_OPT_RECVMAXSZ "recv-size-max"

/* TLS options (tls+tcp://, https:// and wss:// dialers and listeners, and
 * their streams; see nghttpw_tls(7)).  On dialers and listeners: the
 * configuration (pointer), and four write-only settings that act on it:
 * the peer authentication mode (int, an nghttpw_tls_auth_mode), a file of
 * CA certificates, a file with our certificate and its key, and the name
 * the server's certificate must carry (strings).  On streams, read-only:
 * whether the peer was verified (bool), its certificate's common name and
 * its alternative names (strings). */
#define NGHTTPW_OPT_TLS_CONFIG "tls-config"
#define NGHTTPW_OPT_TLS_AUTH_MODE "tls-authmode"
#define NGHTTPW_OPT_TLS_CA_FILE "tls-ca-file"
#define NGHTTPW_OPT_TLS_CERT_KEY_FILE "tls-cert-key-file"
#define NGHTTPW_OPT_TLS_SERVER_NAME "tls-server-name"
#define NGHTTPW_OPT_TLS_VERIFIED "tls-verified"
#define NGHTTPW_OPT_TLS_PEER_CN "tls-peer-cn"
#define NGHTTPW_OPT_TLS_PEER_ALT_NAMES "tls-peer-alt-names"

/* WebSocket options (ws://, wss:// dialers, listeners and their streams;
 * see nghttpw_ws(7)).  The two ending in ':' are prefixes: append a
 * header name. */
#define NGHTTPW_OPT_WS_REQUEST_HEADERS "ws:request-headers"
#define NGHTTPW_OPT_WS_RESPONSE_HEADERS "ws:response-headers"
#define NGHTTPW_OPT_WS_RESPONSE_HEADER "ws:response-header:"
#define NGHTTPW_OPT_WS_REQUEST_HEADER "ws:request-header:"
#define NGHTTPW_OPT_WS_REQUEST_URI "ws:request-uri"
#define NGHTTPW_OPT_WS_SENDMAXFRAME "ws:txframe-max"
#define NGHTTPW_OPT_WS_RECVMAXFRAME "ws:rxframe-max"
#define NGHTTPW_OPT_WS_PROTOCOL "ws:protocol"
#define NGHTTPW_OPT_WS_SEND_TEXT "ws:send-text"
#define NGHTTPW_OPT_WS_RECV_TEXT "ws:recv-text"

/* The type of an option's value, passed to a stream's get and set;
 * NGHTTPW_TYPE_OPAQUE comes from the untyped nghttpw_stream_get and
 * nghttpw_stream_set (and the dialer and listener ones): raw bytes. */
typedef enum {
	NGHTTPW_TYPE_OPAQUE   = 0,
	NGHTTPW_TYPE_BOOL     = 1,
	NGHTTPW_TYPE_INT      = 2,
	NGHTTPW_TYPE_DURATION = 3,
	NGHTTPW_TYPE_SIZE     = 4,
	NGHTTPW_TYPE_STRING   = 5,
	NGHTTPW_TYPE_POINTER  = 6,
	NGHTTPW_TYPE_SOCKADDR = 7,
	NGHTTPW_TYPE_UINT64   = 8,
} nghttpw_type;

/* Byte streams. */
typedef struct nghttpw_stream          nghttpw_stream;
typedef struct nghttpw_stream_dialer   nghttpw_stream_dialer;
typedef struct nghttpw_stream_listener nghttpw_stream_listener;

/* The table that a stream implements.  Every entry is required except get
 * and set, which may be NULL (every option then gives NGHTTPW_ENOTSUP).
 * send and recv move some of the aio's iov and complete it through the
 * provider functions above; close aborts pending operations with
 * NGHTTPW_ECLOSED; stop is close plus waiting until no callback of the
 * stream's own runs; free releases everything.  For get, *szp holds the
 * size of buf on entry and the size of the value on return; a string is
 * returned as a char * that the caller frees with nghttpw_strfree(). */
typedef struct nghttpw_stream_ops {
	void (*s_free)(void *arg);
	void (*s_close)(void *arg);
	void (*s_stop)(void *arg);
	void (*s_send)(void *arg, nghttpw_aio *aio);
	void (*s_recv)(void *arg, nghttpw_aio *aio);
	int (*s_get)(void *arg, const char *name, void *buf, size_t *szp,
	    nghttpw_type type);
	int (*s_set)(void *arg, const char *name, const void *buf, size_t sz,
	    nghttpw_type type);
} nghttpw_stream_ops;

NGHTTPW_DECL int nghttpw_stream_alloc(
    nghttpw_stream **, const nghttpw_stream_ops *, void *);

NGHTTPW_DECL void nghttpw_stream_free(nghttpw_stream *);
NGHTTPW_DECL void nghttpw_stream_close(nghttpw_stream *);
NGHTTPW_DECL void nghttpw_stream_stop(nghttpw_stream *);
NGHTTPW_DECL void nghttpw_stream_send(nghttpw_stream *, nghttpw_aio *);
NGHTTPW_DECL void nghttpw_stream_recv(nghttpw_stream *, nghttpw_aio *);

NGHTTPW_DECL int nghttpw_stream_get(
    nghttpw_stream *, const char *, void *, size_t *);
NGHTTPW_DECL int nghttpw_stream_get_bool(nghttpw_stream *, const char *, bool *);
NGHTTPW_DECL int nghttpw_stream_get_int(nghttpw_stream *, const char *, int *);
NGHTTPW_DECL int nghttpw_stream_get_ms(
    nghttpw_stream *, const char *, nghttpw_duration *);
NGHTTPW_DECL int nghttpw_stream_get_size(nghttpw_stream *, const char *, size_t *);
NGHTTPW_DECL int nghttpw_stream_get_uint64(
    nghttpw_stream *, const char *, uint64_t *);
NGHTTPW_DECL int nghttpw_stream_get_string(nghttpw_stream *, const char *, char **);
NGHTTPW_DECL int nghttpw_stream_get_ptr(nghttpw_stream *, const char *, void **);
NGHTTPW_DECL int nghttpw_stream_get_addr(
    nghttpw_stream *, const char *, nghttpw_sockaddr *);
NGHTTPW_DECL int nghttpw_stream_set(
    nghttpw_stream *, const char *, const void *, size_t);
NGHTTPW_DECL int nghttpw_stream_set_bool(nghttpw_stream *, const char *, bool);
NGHTTPW_DECL int nghttpw_stream_set_int(nghttpw_stream *, const char *, int);
NGHTTPW_DECL int nghttpw_stream_set_ms(
    nghttpw_stream *, const char *, nghttpw_duration);
NGHTTPW_DECL int nghttpw_stream_set_size(nghttpw_stream *, const char *, size_t);
NGHTTPW_DECL int nghttpw_stream_set_uint64(
    nghttpw_stream *, const char *, uint64_t);
NGHTTPW_DECL int nghttpw_stream_set_string(
    nghttpw_stream *, const char *, const char *);
NGHTTPW_DECL int nghttpw_stream_set_ptr(nghttpw_stream *, const char *, void *);
NGHTTPW_DECL int nghttpw_stream_set_addr(
    nghttpw_stream *, const char *, const nghttpw_sockaddr *);

NGHTTPW_DECL int nghttpw_stream_dialer_alloc(nghttpw_stream_dialer **, const char *);
NGHTTPW_DECL int nghttpw_stream_dialer_alloc_url(
    nghttpw_stream_dialer **, const nghttpw_url *);
NGHTTPW_DECL void nghttpw_stream_dialer_free(nghttpw_stream_dialer *);
NGHTTPW_DECL void nghttpw_stream_dialer_close(nghttpw_stream_dialer *);
NGHTTPW_DECL void nghttpw_stream_dialer_stop(nghttpw_stream_dialer *);
NGHTTPW_DECL void nghttpw_stream_dialer_dial(nghttpw_stream_dialer *, nghttpw_aio *);
NGHTTPW_DECL int  nghttpw_stream_dialer_get(
     nghttpw_stream_dialer *, const char *, void *, size_t *);
NGHTTPW_DECL int nghttpw_stream_dialer_get_bool(
    nghttpw_stream_dialer *, const char *, bool *);
NGHTTPW_DECL int nghttpw_stream_dialer_get_int(
    nghttpw_stream_dialer *, const char *, int *);
NGHTTPW_DECL int nghttpw_stream_dialer_get_ms(
    nghttpw_stream_dialer *, const char *, nghttpw_duration *);
NGHTTPW_DECL int nghttpw_stream_dialer_get_size(
    nghttpw_stream_dialer *, const char *, size_t *);
NGHTTPW_DECL int nghttpw_stream_dialer_get_uint64(
    nghttpw_stream_dialer *, const char *, uint64_t *);
NGHTTPW_DECL int nghttpw_stream_dialer_get_string(
    nghttpw_stream_dialer *, const char *, char **);
NGHTTPW_DECL int nghttpw_stream_dialer_get_ptr(
    nghttpw_stream_dialer *, const char *, void **);
NGHTTPW_DECL int nghttpw_stream_dialer_get_addr(
    nghttpw_stream_dialer *, const char *, nghttpw_sockaddr *);
NGHTTPW_DECL int nghttpw_stream_dialer_set(
    nghttpw_stream_dialer *, const char *, const void *, size_t);
NGHTTPW_DECL int nghttpw_stream_dialer_set_bool(
    nghttpw_stream_dialer *, const char *, bool);
NGHTTPW_DECL int nghttpw_stream_dialer_set_int(
    nghttpw_stream_dialer *, const char *, int);
NGHTTPW_DECL int nghttpw_stream_dialer_set_ms(
    nghttpw_stream_dialer *, const char *, nghttpw_duration);
NGHTTPW_DECL int nghttpw_stream_dialer_set_size(
    nghttpw_stream_dialer *, const char *, size_t);
NGHTTPW_DECL int nghttpw_stream_dialer_set_uint64(
    nghttpw_stream_dialer *, const char *, uint64_t);
NGHTTPW_DECL int nghttpw_stream_dialer_set_string(
    nghttpw_stream_dialer *, const char *, const char *);
NGHTTPW_DECL int nghttpw_stream_dialer_set_ptr(
    nghttpw_stream_dialer *, const char *, void *);
NGHTTPW_DECL int nghttpw_stream_dialer_set_addr(
    nghttpw_stream_dialer *, const char *, const nghttpw_sockaddr *);

NGHTTPW_DECL int nghttpw_stream_listener_alloc(
    nghttpw_stream_listener **, const char *);
NGHTTPW_DECL int nghttpw_stream_listener_alloc_url(
    nghttpw_stream_listener **, const nghttpw_url *);
NGHTTPW_DECL void nghttpw_stream_listener_free(nghttpw_stream_listener *);
NGHTTPW_DECL void nghttpw_stream_listener_close(nghttpw_stream_listener *);
NGHTTPW_DECL void nghttpw_stream_listener_stop(nghttpw_stream_listener *);
NGHTTPW_DECL int  nghttpw_stream_listener_listen(nghttpw_stream_listener *);
NGHTTPW_DECL void nghttpw_stream_listener_accept(
    nghttpw_stream_listener *, nghttpw_aio *);
NGHTTPW_DECL int nghttpw_stream_listener_get(
    nghttpw_stream_listener *, const char *, void *, size_t *);
NGHTTPW_DECL int nghttpw_stream_listener_get_bool(
    nghttpw_stream_listener *, const char *, bool *);
NGHTTPW_DECL int nghttpw_stream_listener_get_int(
    nghttpw_stream_listener *, const char *, int *);
NGHTTPW_DECL int nghttpw_stream_listener_get_ms(
    nghttpw_stream_listener *, const char *, nghttpw_duration *);
NGHTTPW_DECL int nghttpw_stream_listener_get_size(
    nghttpw_stream_listener *, const char *, size_t *);
NGHTTPW_DECL int nghttpw_stream_listener_get_uint64(
    nghttpw_stream_listener *, const char *, uint64_t *);
NGHTTPW_DECL int nghttpw_stream_listener_get_string(
    nghttpw_stream_listener *, const char *, char **);
NGHTTPW_DECL int nghttpw_stream_listener_get_ptr(
    nghttpw_stream_listener *, const char *, void **);
NGHTTPW_DECL int nghttpw_stream_listener_get_addr(
    nghttpw_stream_listener *, const char *, nghttpw_sockaddr *);
NGHTTPW_DECL int nghttpw_stream_listener_set(
    nghttpw_stream_listener *, const char *, const void *, size_t);
NGHTTPW_DECL int nghttpw_stream_listener_set_bool(
    nghttpw_stream_listener *, const char *, bool);
NGHTTPW_DECL int nghttpw_stream_listener_set_int(
    nghttpw_stream_listener *, const char *, int);
NGHTTPW_DECL int nghttpw_stream_listener_set_ms(
    nghttpw_stream_listener *, const char *, nghttpw_duration);
NGHTTPW_DECL int nghttpw_stream_listener_set_size(
    nghttpw_stream_listener *, const char *, size_t);
NGHTTPW_DECL int nghttpw_stream_listener_set_uint64(
    nghttpw_stream_listener *, const char *, uint64_t);
NGHTTPW_DECL int nghttpw_stream_listener_set_string(
    nghttpw_stream_listener *, const char *, const char *);
NGHTTPW_DECL int nghttpw_stream_listener_set_ptr(
    nghttpw_stream_listener *, const char *, void *);
NGHTTPW_DECL int nghttpw_stream_listener_set_addr(
    nghttpw_stream_listener *, const char *, const nghttpw_sockaddr *);

/* TLS configurations (see tls.h), declared here once so that http.h and
 * tls.h may both be included by C99 programs, which allow one typedef of
 * a name only. */
typedef struct nghttpw_tls_config nghttpw_tls_config;

/* Logging, as nng 1.9 and later have it: levels and facilities are
 * syslog's (RFC 5424).  Messages more severe than or as severe as the
 * level set (numerically lower or equal) go to the one logger set; the
 * default level is NGHTTPW_LOG_NOTICE and the default logger
 * nghttpw_null_logger, which drops everything.  The message is formatted
 * as by printf; msgid may be NULL. */
typedef enum nghttpw_log_level {
	NGHTTPW_LOG_NONE   = 0, /* for nghttpw_log_set_level: log nothing */
	NGHTTPW_LOG_ERR    = 3,
	NGHTTPW_LOG_WARN   = 4,
	NGHTTPW_LOG_NOTICE = 5,
	NGHTTPW_LOG_INFO   = 6,
	NGHTTPW_LOG_DEBUG  = 7
} nghttpw_log_level;

typedef enum nghttpw_log_facility {
	NGHTTPW_LOG_USER   = 1,
	NGHTTPW_LOG_DAEMON = 3,
	NGHTTPW_LOG_AUTH   = 10, /* syslog's AUTHPRIV: for sensitive messages */
	NGHTTPW_LOG_LOCAL0 = 16,
	NGHTTPW_LOG_LOCAL1 = 17,
	NGHTTPW_LOG_LOCAL2 = 18,
	NGHTTPW_LOG_LOCAL3 = 19,
	NGHTTPW_LOG_LOCAL4 = 20,
	NGHTTPW_LOG_LOCAL5 = 21,
	NGHTTPW_LOG_LOCAL6 = 22,
	NGHTTPW_LOG_LOCAL7 = 23,
} nghttpw_log_facility;

/* msgid and msg are valid only during the call. */
typedef void (*nghttpw_logger)(nghttpw_log_level level,
    nghttpw_log_facility facility, const char *msgid, const char *msg);

NGHTTPW_DECL void nghttpw_null_logger(
    nghttpw_log_level, nghttpw_log_facility, const char *, const char *);
NGHTTPW_DECL void nghttpw_stderr_logger(
    nghttpw_log_level, nghttpw_log_facility, const char *, const char *);
NGHTTPW_DECL void nghttpw_system_logger(
    nghttpw_log_level, nghttpw_log_facility, const char *, const char *);

NGHTTPW_DECL void nghttpw_log_set_facility(nghttpw_log_facility facility);
NGHTTPW_DECL void nghttpw_log_set_level(nghttpw_log_level level);
NGHTTPW_DECL nghttpw_log_level nghttpw_log_get_level(void);
NGHTTPW_DECL void nghttpw_log_set_logger(nghttpw_logger logger);

NGHTTPW_DECL void nghttpw_log_err(const char *msgid, const char *msg, ...);
NGHTTPW_DECL void nghttpw_log_warn(const char *msgid, const char *msg, ...);
NGHTTPW_DECL void nghttpw_log_notice(const char *msgid, const char *msg, ...);
NGHTTPW_DECL void nghttpw_log_info(const char *msgid, const char *msg, ...);
NGHTTPW_DECL void nghttpw_log_debug(const char *msgid, const char *msg, ...);
/* With the facility NGHTTPW_LOG_AUTH, whatever the one set. */
NGHTTPW_DECL void nghttpw_log_auth(
    nghttpw_log_level level, const char *msgid, const char *msg, ...);

/* nng's portable helpers (<nng/supplemental/util/platform.h>): threads,
 * mutexes, condition variables bound to a mutex, strong random numbers
 * and a connected pair of stream sockets.  Times are nghttpw_clock()'s. */
typedef struct nghttpw_thread nghttpw_thread;
typedef struct nghttpw_mtx    nghttpw_mtx;
typedef struct nghttpw_cv     nghttpw_cv;

NGHTTPW_DECL int  nghttpw_thread_create(nghttpw_thread **, void (*)(void *), void *);
NGHTTPW_DECL void nghttpw_thread_set_name(nghttpw_thread *, const char *);
NGHTTPW_DECL void nghttpw_thread_destroy(nghttpw_thread *);

NGHTTPW_DECL int  nghttpw_mtx_alloc(nghttpw_mtx **);
NGHTTPW_DECL void nghttpw_mtx_free(nghttpw_mtx *);
NGHTTPW_DECL void nghttpw_mtx_lock(nghttpw_mtx *);
NGHTTPW_DECL void nghttpw_mtx_unlock(nghttpw_mtx *);

NGHTTPW_DECL int  nghttpw_cv_alloc(nghttpw_cv **, nghttpw_mtx *);
NGHTTPW_DECL void nghttpw_cv_free(nghttpw_cv *);
NGHTTPW_DECL void nghttpw_cv_wait(nghttpw_cv *);
NGHTTPW_DECL int  nghttpw_cv_until(nghttpw_cv *, nghttpw_time);
NGHTTPW_DECL void nghttpw_cv_wake(nghttpw_cv *);
NGHTTPW_DECL void nghttpw_cv_wake1(nghttpw_cv *);

NGHTTPW_DECL uint32_t nghttpw_random(void);
NGHTTPW_DECL int      nghttpw_socket_pair(int[2]);

/* Memory and strings handed between the library and its callers (nng's
 * nng_alloc and friends), and the library's version, "0.1.0" say. */
NGHTTPW_DECL void       *nghttpw_alloc(size_t);
NGHTTPW_DECL void        nghttpw_free(void *, size_t);
NGHTTPW_DECL char       *nghttpw_strdup(const char *);
NGHTTPW_DECL void        nghttpw_strfree(char *);
NGHTTPW_DECL const char *nghttpw_version(void);

#ifdef __cplusplus
}
#endif

#endif /* NGHTTPW_NGHTTPW_H */
