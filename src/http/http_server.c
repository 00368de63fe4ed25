/* HTTP servers: one per address, shared by reference count.  Each
 * accepted connection runs a small state machine driven by aio callbacks:
 * read a request head, route it, maybe collect its body, call the
 * handler, write the response, then read the next request (keep-alive and
 * pipelining) or close.  Answers to pipelined requests are batched: the
 * connection queues a small one while the next request is already
 * buffered, and sends the queue with one write before it has to wait for
 * the network (http_conn_write_res_batched).
 *
 * Locks: http_registry_mtx (servers and handler registration), then a
 * server's mutex or its handler lock, then whatever the connection and
 * stream code takes.  Handlers, the access log and handler destructors
 * run with no lock of ours held.  A connection's state is touched only by
 * its own aio callbacks, one at a time (its single aio is busy with one
 * thing at a time); what stop, close and hijack share with them (the
 * connection list, sc->conn, pins) is under the server's mutex, which a
 * request never takes: requests take only the handler lock, for reading,
 * to route. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/aio.h"
#include "core/loop.h"
#include "core/stream.h"
#include "http/http_conn.h"
#include "http/http_date.h"
#include "http/http_msg.h"
#include "http/http_server.h"
#ifdef NGHTTPW_HAVE_TLS
#include "nghttpw/tls.h"
#endif

#define MAX_TARGET_LEN 8192
#define DRAIN_MAX (64u * 1024u)
#define IDLE_TIMEOUT_DEFAULT 60000
#define REQUEST_TIMEOUT_DEFAULT 10000
#define STOP_TIMEOUT_DEFAULT 5000
#define ACCEPT_RETRY_MS 100
#define ALLOW_MAX 256
#define OPT_TLS_CONFIG "tls-config"
#define OPT_TLS_HANDSHAKE_TIMEOUT "tls-handshake-timeout"

/* The server keeps a reference to its TLS configuration, to give it to
 * the listener that a restart makes. */
#ifdef NGHTTPW_HAVE_TLS
#define tls_cfg_hold(cfg) nghttpw_tls_config_hold(cfg)
#define tls_cfg_free(cfg) nghttpw_tls_config_free(cfg)
#else
#define tls_cfg_hold(cfg) ((void) (cfg))
#define tls_cfg_free(cfg) ((void) (cfg))
#endif

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

pthread_mutex_t   http_registry_mtx = PTHREAD_MUTEX_INITIALIZER;
static list_node  servers           = { &servers, &servers };

typedef struct error_page {
	struct error_page *next;
	uint16_t           status;
	size_t             len;
	char               body[];
} error_page;

typedef void (*server_log_fn)(void *, nghttpw_http_req *, nghttpw_http_res *,
    const nghttpw_sockaddr *, uint64_t);

struct nghttpw_http_server {
	list_node    node; /* in servers */
	unsigned     refs; /* guarded by http_registry_mtx */
	nghttpw_url *url; /* tcp:// or tls+tcp://: what it listens on */

	pthread_mutex_t          mtx;
	pthread_cond_t           cv;
	nghttpw_stream_listener *listener;
	nghttpw_tls_config      *tls;
	nghttpw_aio             *accept_aio;
	bool                     accept_sleeping;
	unsigned                 starts;
	bool                     running;  /* accepting connections */
	atomic_bool              stopping; /* no new requests are read */
	list_node                conns;
	error_page              *pages;
	nghttpw_duration         idle_ms;
	nghttpw_duration         head_ms;
	nghttpw_duration         stop_ms;
	nghttpw_duration         tls_hs_ms; /* 0: the TLS listener's own */

	/* Read by every request, changed rarely: under hlock. */
	pthread_rwlock_t hlock;
	list_node        handlers;
	server_log_fn    log_fn;
	void            *log_arg;
	atomic_bool      log_on; /* log_fn is set: worth taking hlock */
};

typedef enum {
	SC_READ_HEAD, /* read_req */
	SC_CONTINUE,  /* writing "100 Continue" */
	SC_READ_BODY, /* the body for the handler */
	SC_DRAIN,     /* a small body nobody wants, then res */
	SC_HANDLER,   /* the handler */
	SC_WRITE,     /* the response */
	SC_FLUSH,     /* queued answers before a close (stop) */
	SC_DONE,      /* closed or hijacked; the reaper frees it */
} sc_state;

/* Whether the handler may hijack: open while it runs. */
enum { SC_H_SHUT, SC_H_OPEN, SC_H_HIJACKED };

typedef struct srv_conn {
	list_node             node; /* in the server's conns */
	nghttpw_http_server  *srv;
	nghttpw_http_conn    *conn; /* NULL once closed or hijacked */
	nghttpw_http_req     *req;  /* NULL once hijacked */
	nghttpw_http_res     *res;  /* being (or waiting to be) written */
	nghttpw_http_handler *h;    /* serving this request (held) */
	nghttpw_aio          *aio;  /* every step in turn: see sc_cb */
	sc_state              state;
	atomic_int            hstate; /* SC_H_* */
	unsigned              pins;   /* stop is using the aio unlocked */
	bool                  reaping; /* sc_reap is freeing it: stop keeps off */
	nghttpw_duration      idle_ms;
	bool                  have_req;     /* req holds this request's head */
	bool                  head_req;     /* HEAD: the head only */
	bool                  close_after;  /* the stream ends after res */
	bool                  body_pending; /* a body was left unread */
	nghttpw_sockaddr      peer;
	nghttpw_iov           cont_iov;
	task                  reap;
} srv_conn;

static void sc_cb(void *);
static void sc_reap(void *);

/* Small helpers. */

static bool
str_eq_nocase_trim(const char *s, const char *want)
{
	size_t len;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
		len--;
	}
	return (nhw_http_name_eq(s, len, want, strlen(want)));
}

static void
deadline_after(struct timespec *ts, nghttpw_duration ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Error pages. */

static const error_page *
page_find_locked(nghttpw_http_server *s, uint16_t status)
{
	for (const error_page *p = s->pages; p != NULL; p = p->next) {
		if (p->status == status) {
			return (p);
		}
	}
	return (NULL);
}

static int
res_error_locked(nghttpw_http_server *s, nghttpw_http_res *res)
{
	uint16_t          status = nghttpw_http_res_get_status(res);
	const error_page *p      = page_find_locked(s, status);
	nghttpw_http_res *def;
	void             *body;
	size_t            size;
	int               rv;

	if ((rv = nghttpw_http_res_set_header(
	         res, "Content-Type", "text/html; charset=UTF-8")) != 0) {
		return (rv);
	}
	if (p != NULL) {
		return (nghttpw_http_res_copy_data(res, p->body, p->len));
	}
	if ((rv = nghttpw_http_res_alloc_error(&def, status)) != 0) {
		return (rv);
	}
	nghttpw_http_res_get_data(def, &body, &size);
	rv = nghttpw_http_res_copy_data(res, body, size);
	nghttpw_http_res_free(def);
	return (rv);
}

int
nghttpw_http_server_res_error(nghttpw_http_server *s, nghttpw_http_res *res)
{
	int rv;

	if (s == NULL || res == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	rv = res_error_locked(s, res);
	pthread_mutex_unlock(&s->mtx);
	return (rv);
}

static int
set_page(nghttpw_http_server *s, uint16_t status, const char *html, size_t len)
{
	error_page  *p = NULL;
	error_page **pp;

	if (s == NULL || status < 100 || status > 999) {
		return (NGHTTPW_EINVAL);
	}
	if (html != NULL) {
		if ((p = malloc(sizeof(*p) + len + 1)) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		p->status = status;
		p->len    = len;
		memcpy(p->body, html, len);
		p->body[len] = '\0';
	}
	pthread_mutex_lock(&s->mtx);
	for (pp = &s->pages; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->status == status) {
			error_page *old = *pp;
			*pp             = old->next;
			free(old);
			break;
		}
	}
	if (p != NULL) {
		p->next  = s->pages;
		s->pages = p;
	}
	pthread_mutex_unlock(&s->mtx);
	return (0);
}

int
nghttpw_http_server_set_error_page(
    nghttpw_http_server *s, uint16_t status, const char *html)
{
	return (set_page(s, status, html, html != NULL ? strlen(html) : 0));
}

static int
errno_result(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return (NGHTTPW_ENOENT);
	case EACCES:
	case EPERM:
		return (NGHTTPW_EPERM);
	case ENOMEM:
		return (NGHTTPW_ENOMEM);
	case EMFILE:
	case ENFILE:
		return (NGHTTPW_ENOFILES);
	default:
		return (NGHTTPW_ESYSERR | e);
	}
}

int
nghttpw_http_server_set_error_file(
    nghttpw_http_server *s, uint16_t status, const char *path)
{
	struct stat st;
	char       *buf;
	size_t      len = 0;
	int         fd, rv;

	if (s == NULL || path == NULL || status < 100 || status > 999) {
		return (NGHTTPW_EINVAL);
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return (errno_result(errno));
	}
	if (fstat(fd, &st) != 0) {
		rv = errno_result(errno);
		close(fd);
		return (rv);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return (NGHTTPW_EINVAL);
	}
	if ((buf = malloc((size_t) st.st_size + 1)) == NULL) {
		close(fd);
		return (NGHTTPW_ENOMEM);
	}
	while (len < (size_t) st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			rv = errno_result(errno);
			free(buf);
			close(fd);
			return (rv);
		}
		if (n == 0) {
			break; /* the file shrank: take what there is */
		}
		len += (size_t) n;
	}
	close(fd);
	rv = set_page(s, status, buf, len);
	free(buf);
	return (rv);
}

/* Routing. */

/* Adds method (and HEAD for GET) to the Allow list unless present. */
static void
allow_add(char *allow, const char *method)
{
	size_t have = strlen(allow);
	size_t len  = strlen(method);

	if (nhw_http_list_has_token(allow, method) ||
	    have + len + 3 > ALLOW_MAX) {
		return;
	}
	if (have > 0) {
		memcpy(allow + have, ", ", 2);
		have += 2;
	}
	memcpy(allow + have, method, len + 1);
	if (strcmp(method, "GET") == 0) {
		allow_add(allow, "HEAD");
	}
}

/* The handler for a request: the longest matching path wins, then a
 * handler for the named host, then one for the very method (a GET
 * handler answers HEAD when no HEAD handler does).  When only the method
 * fails, allow lists those the path takes.  Caller holds s->hlock. */
static nghttpw_http_handler *
route_locked(nghttpw_http_server *s, const char *host, size_t host_len,
    const char *path, size_t path_len, const char *method, char *allow)
{
	nghttpw_http_handler *best       = NULL;
	unsigned long         best_score = 0;
	bool                  is_head    = strcmp(method, "HEAD") == 0;

	allow[0] = '\0';
	for (list_node *n = s->handlers.next; n != &s->handlers; n = n->next) {
		nghttpw_http_handler *h = LIST_ENTRY(n, nghttpw_http_handler, node);
		unsigned              mscore;
		unsigned long         score;

		if (!http_handler_host_match(h, host, host_len) ||
		    !http_handler_path_match(h, path, path_len)) {
			continue;
		}
		if (h->method == NULL) {
			mscore = 1;
		} else if (strcmp(h->method, method) == 0) {
			mscore = 3;
		} else if (is_head && strcmp(h->method, "GET") == 0) {
			mscore = 2;
		} else {
			allow_add(allow, h->method);
			continue;
		}
		score = ((unsigned long) h->path_len << 3) |
		    (h->host != NULL ? 4u : 0u) | mscore;
		if (best == NULL || score > best_score) {
			best       = h;
			best_score = score;
		}
	}
	return (best);
}

/* Whether a and b name the same host for handlers (NULL: any). */
static bool
host_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return (a == b);
	}
	return (strcasecmp(a, b) == 0);
}

static bool
method_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return (a == b);
	}
	return (strcmp(a, b) == 0);
}

/* A handler's path without its trailing slashes: "/a/" and "/a" are one
 * place to an exclusive tree, and "/" is the empty root. */
static size_t
trimmed_len(const nghttpw_http_handler *h)
{
	size_t len = h->path_len;

	while (len > 0 && h->path[len - 1] == '/') {
		len--;
	}
	return (len);
}

/* nng's rule: handlers meet only when they name the same host and the
 * same method (a wildcard and a named one never meet).  Two that meet
 * conflict on the same path; and when either is an exclusive tree, also
 * when the shorter is a tree that holds the other. */
static bool
handlers_conflict(const nghttpw_http_handler *a, const nghttpw_http_handler *b)
{
	const nghttpw_http_handler *shorter, *longer;
	size_t                      la, lb, common;

	if (!host_same(a->host, b->host) || !method_same(a->method, b->method)) {
		return (false);
	}
	if (!a->exclusive && !b->exclusive) {
		return (a->path_len == b->path_len && strcmp(a->path, b->path) == 0);
	}
	la      = trimmed_len(a);
	lb      = trimmed_len(b);
	common  = la < lb ? la : lb;
	shorter = la < lb ? a : b;
	longer  = la < lb ? b : a;
	if (memcmp(a->path, b->path, common) != 0) {
		return (false);
	}
	return (la == lb || (shorter->tree && longer->path[common] == '/'));
}

int
nghttpw_http_server_add_handler(nghttpw_http_server *s, nghttpw_http_handler *h)
{
	int rv = 0;

	if (s == NULL || h == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&http_registry_mtx);
	pthread_rwlock_wrlock(&s->hlock);
	if (h->server != NULL) {
		rv = NGHTTPW_EBUSY;
	}
	for (list_node *n = s->handlers.next; rv == 0 && n != &s->handlers;
	     n = n->next) {
		if (handlers_conflict(
		        LIST_ENTRY(n, nghttpw_http_handler, node), h)) {
			rv = NGHTTPW_EADDRINUSE;
		}
	}
	if (rv == 0) {
		/* The server takes over the caller's reference. */
		h->server = s;
		list_append(&s->handlers, &h->node);
	}
	pthread_rwlock_unlock(&s->hlock);
	pthread_mutex_unlock(&http_registry_mtx);
	return (rv);
}

int
nghttpw_http_server_del_handler(nghttpw_http_server *s, nghttpw_http_handler *h)
{
	int rv = 0;

	if (s == NULL || h == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&http_registry_mtx);
	pthread_rwlock_wrlock(&s->hlock);
	if (h->server != s) {
		rv = NGHTTPW_ENOENT;
	} else {
		/* The reference goes back to the caller. */
		list_remove(&h->node);
		h->server = NULL;
	}
	pthread_rwlock_unlock(&s->hlock);
	pthread_mutex_unlock(&http_registry_mtx);
	return (rv);
}

/* Connections. */

/* Closes the connection (unless hijacked) and has the reaper free the
 * rest once no callback of ours runs.  Caller holds s->mtx. */
static void
sc_close_locked(srv_conn *sc)
{
	if (sc->state == SC_DONE) {
		return;
	}
	sc->state = SC_DONE;
	if (sc->conn != NULL) {
		nghttpw_http_conn *c = sc->conn;
		sc->conn             = NULL;
		nghttpw_http_conn_close(c);
	}
	runtime_reap(&sc->reap);
}

static void
sc_close(srv_conn *sc)
{
	nghttpw_http_server *s = sc->srv;

	pthread_mutex_lock(&s->mtx);
	sc_close_locked(sc);
	pthread_mutex_unlock(&s->mtx);
}

static void
sc_reap(void *arg)
{
	srv_conn            *sc = arg;
	nghttpw_http_server *s  = sc->srv;

	pthread_mutex_lock(&s->mtx);
	while (sc->pins > 0) {
		pthread_cond_wait(&s->cv, &s->mtx);
	}
	sc->reaping = true;
	pthread_mutex_unlock(&s->mtx);
	nghttpw_aio_free(sc->aio);
	nghttpw_http_res_free(sc->res);
	nghttpw_http_req_free(sc->req);
	if (sc->h != NULL) {
		http_handler_release(sc->h);
	}
	pthread_mutex_lock(&s->mtx);
	list_remove(&sc->node);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mtx);
	free(sc);
}

/* Closes once the answers still queued in the connection are out. */
static void
sc_close_flushed(srv_conn *sc)
{
	sc->state = SC_FLUSH;
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	http_conn_flush(sc->conn, sc->aio);
}

static void
sc_read_next(srv_conn *sc)
{
	if (atomic_load(&sc->srv->stopping)) {
		sc_close_flushed(sc);
		return;
	}
	sc->have_req     = false;
	sc->head_req     = false;
	sc->close_after  = false;
	sc->body_pending = false;
	sc->state        = SC_READ_HEAD;
	/* The connection bounds the head itself (idle, then slow head). */
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	nghttpw_http_conn_read_req(sc->conn, sc->req, sc->aio);
}

/* Starts writing res (which the server now owns). */
static void
sc_write(srv_conn *sc, nghttpw_http_res *res)
{
	nghttpw_http_server *s = sc->srv;

	sc->res   = res;
	sc->state = SC_WRITE;
	if (nhw_http_msg_get_known(nhw_http_res_msg(res), NHW_HDR_DATE) == NULL) {
		/* An origin server with a clock must send one (RFC 9110). */
		size_t      dlen;
		const char *date = http_date_now(&dlen);
		(void) nhw_http_msg_set_known(
		    nhw_http_res_msg(res), NHW_HDR_DATE, date, dlen);
	}
	if (sc->body_pending || atomic_load(&s->stopping) ||
	    nghttpw_http_conn_must_close(sc->conn)) {
		sc->close_after = true;
	}
	if (sc->close_after) {
		(void) nghttpw_http_res_set_header(res, "Connection", "close");
	} else if (sc->have_req &&
	    strcmp(nghttpw_http_req_get_version(sc->req), "HTTP/1.0") == 0 &&
	    nhw_http_msg_get_known(nhw_http_res_msg(res), NHW_HDR_CONNECTION) ==
	        NULL) {
		/* It asked for keep-alive (else must_close said so). */
		(void) nghttpw_http_res_set_header(res, "Connection", "keep-alive");
	}
	/* No bound on the whole write: a large body to a slow client may
	 * take long.  A stop closes what is left. */
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	http_conn_write_res_batched(sc->conn, res, sc->head_req, sc->aio);
}

/* A response made by the server itself: status with the error page, and
 * the Allow field for a 405.  NULL when out of memory. */
static nghttpw_http_res *
error_res(nghttpw_http_server *s, uint16_t status, const char *allow)
{
	nghttpw_http_res *res;

	if (nghttpw_http_res_alloc(&res) != 0) {
		return (NULL);
	}
	if (nghttpw_http_res_set_status(res, status) != 0 ||
	    nghttpw_http_server_res_error(s, res) != 0 ||
	    (allow != NULL &&
	        nghttpw_http_res_set_header(res, "Allow", allow) != 0)) {
		nghttpw_http_res_free(res);
		return (NULL);
	}
	return (res);
}

/* Answers with an error; close says the stream is unusable after it. */
static void
sc_error(srv_conn *sc, uint16_t status, bool close, const char *allow)
{
	nghttpw_http_res *res = error_res(sc->srv, status, allow);

	if (res == NULL) {
		sc_close(sc);
		return;
	}
	if (close) {
		sc->close_after = true;
	}
	sc_write(sc, res);
}

static bool
sc_has_body(nghttpw_http_req *req, bool *chunked, uint64_t *length)
{
	const char *cl =
	    nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_CONTENT_LENGTH);

	*chunked = nhw_http_msg_get_known(nhw_http_req_msg(req),
	               NHW_HDR_TRANSFER_ENCODING) != NULL;
	*length  = 0;
	if (cl != NULL) {
		*length = strtoull(cl, NULL, 10);
	}
	return (*chunked || *length > 0);
}

/* An error answer to a request whose body may follow: a small one is read
 * and dropped first, so that the connection can stay; a large one, or one
 * the client waits to send (Expect), closes it instead. */
static void
sc_error_drain(srv_conn *sc, uint16_t status, const char *allow,
    bool expect, bool chunked, uint64_t length)
{
	nghttpw_http_res *res;

	if (!sc->body_pending || expect || (!chunked && length > DRAIN_MAX)) {
		sc_error(sc, status, sc->body_pending, allow);
		return;
	}
	if ((res = error_res(sc->srv, status, allow)) == NULL) {
		sc_close(sc);
		return;
	}
	sc->res   = res;
	sc->state = SC_DRAIN;
	nghttpw_aio_set_timeout(sc->aio, sc->idle_ms);
	http_conn_read_body(sc->conn, sc->req, DRAIN_MAX, sc->aio);
}

static void
sc_read_body(srv_conn *sc)
{
	sc->state = SC_READ_BODY;
	nghttpw_aio_set_timeout(sc->aio, sc->idle_ms);
	http_conn_read_body(sc->conn, sc->req, sc->h->max_body, sc->aio);
}

/* The Host field: required in HTTP/1.1, never repeated (repeats are
 * combined with ", ", so a comma means two), and a uri-host[:port] in its
 * characters: no space, slash or '@' a router or proxy might read
 * otherwise. */
static bool
host_field_ok(const char *h, const char *version)
{
	if (h == NULL) {
		return (strcmp(version, "HTTP/1.1") != 0);
	}
	for (const char *p = h; *p != '\0'; p++) {
		unsigned char ch = (unsigned char) *p;
		if (!(isalnum(ch) || strchr("-._~!$&'()*+;=:%[]", ch) != NULL)) {
			return (false);
		}
	}
	return (true);
}

/* The request target's path and the host it names. */
static bool
sc_target(nghttpw_http_req *req, const char **path, size_t *path_len,
    const char **host, size_t *host_len)
{
	const char *uri = nghttpw_http_req_get_uri(req);
	const char *h   = nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_HOST);

	*host     = h;
	*host_len = h != NULL ? strlen(h) : 0;
	if (uri[0] == '/') {
		*path     = uri;
		*path_len = strcspn(uri, "?#");
		return (true);
	}
	if (strncasecmp(uri, "http://", 7) == 0 ||
	    strncasecmp(uri, "https://", 8) == 0) {
		/* Absolute form: its authority is the host. */
		const char *auth = strstr(uri, "//") + 2;
		size_t      alen = strcspn(auth, "/?#");
		*host            = auth;
		*host_len        = alen;
		*path            = auth + alen;
		*path_len        = strcspn(*path, "?#");
		if (*path_len == 0) {
			*path     = "/";
			*path_len = 1;
		}
		return (alen > 0);
	}
	if (strcmp(uri, "*") == 0) {
		*path     = uri;
		*path_len = 1;
		return (true);
	}
	return (false);
}

/* A request head has arrived: check it and route it.  Returns true when
 * the handler is to be called (by the caller). */
static bool
sc_request(srv_conn *sc)
{
	nghttpw_http_server  *s   = sc->srv;
	nghttpw_http_req     *req = sc->req;
	const char           *version = nghttpw_http_req_get_version(req);
	const char           *method  = nghttpw_http_req_get_method(req);
	const char           *te, *expect, *path, *host;
	size_t                path_len, host_len;
	bool                  chunked, want_continue = false;
	uint64_t              length;
	nghttpw_http_handler *h;
	char                  allow[ALLOW_MAX];

	sc->have_req     = true;
	sc->head_req     = strcmp(method, "HEAD") == 0;
	sc->body_pending = sc_has_body(req, &chunked, &length);

	if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
		sc_error(sc, NGHTTPW_HTTP_STATUS_HTTP_VERSION_NOT_SUPP, true,
		    NULL);
		return (false);
	}
	if (strlen(nghttpw_http_req_get_uri(req)) > MAX_TARGET_LEN) {
		sc_error(sc, NGHTTPW_HTTP_STATUS_ENTITY_TOO_LONG, true, NULL);
		return (false);
	}
	te = nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_TRANSFER_ENCODING);
	if (te != NULL && !str_eq_nocase_trim(te, "chunked")) {
		/* No other coding is understood, so the body cannot be
		 * found: the stream is lost. */
		sc_error(sc, NGHTTPW_HTTP_STATUS_NOT_IMPLEMENTED, true, NULL);
		return (false);
	}
	if (!sc_target(req, &path, &path_len, &host, &host_len) ||
	    !host_field_ok(nhw_http_msg_get_known(nhw_http_req_msg(req),
	                       NHW_HDR_HOST), version) ||
	    (path_len == 1 && path[0] == '*' && strcmp(method, "OPTIONS") != 0)) {
		/* RFC 9112 3.2: an HTTP/1.1 request has exactly one valid
		 * Host field; and '*' only ever targets OPTIONS. */
		sc_error(sc, NGHTTPW_HTTP_STATUS_BAD_REQUEST, true, NULL);
		return (false);
	}
	if (te != NULL && strcmp(version, "HTTP/1.0") == 0) {
		/* RFC 9112 6.1: a 1.0 peer may not frame what follows the
		 * way we do, so the connection ends after this answer. */
		sc->close_after = true;
	}
	expect = nhw_http_msg_get_known(nhw_http_req_msg(req), NHW_HDR_EXPECT);
	if (expect != NULL) {
		if (!str_eq_nocase_trim(expect, "100-continue")) {
			sc_error(sc, NGHTTPW_HTTP_STATUS_EXPECTATION_FAILED,
			    sc->body_pending, NULL);
			return (false);
		}
		want_continue = sc->body_pending;
	}
	pthread_rwlock_rdlock(&s->hlock);
	h = route_locked(s, host, host_len, path, path_len, method, allow);
	if (h != NULL) {
		/* Held: a del_handler meanwhile leaves it to this request. */
		http_handler_hold(h);
	}
	pthread_rwlock_unlock(&s->hlock);
	if (h == NULL) {
		bool wrong_method = allow[0] != '\0';
		sc_error_drain(sc,
		    wrong_method ? NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED
		                 : NGHTTPW_HTTP_STATUS_NOT_FOUND,
		    wrong_method ? allow : NULL, want_continue, chunked, length);
		return (false);
	}
	sc->h = h;
	if (!h->collect || !sc->body_pending) {
		return (true);
	}
	if (!chunked && length > h->max_body) {
		sc_error(sc, NGHTTPW_HTTP_STATUS_PAYLOAD_TOO_LARGE, true, NULL);
		return (false);
	}
	if (want_continue && strcmp(version, "HTTP/1.1") == 0 &&
	    http_conn_buffered(sc->conn) == 0) {
		sc->state             = SC_CONTINUE;
		sc->cont_iov.iov_buf  = (void *) continue_line;
		sc->cont_iov.iov_len  = sizeof(continue_line) - 1;
		nghttpw_aio_set_iov(sc->aio, 1, &sc->cont_iov);
		nghttpw_aio_set_timeout(sc->aio, sc->idle_ms);
		nghttpw_http_conn_write_all(sc->conn, sc->aio);
		return (false);
	}
	sc_read_body(sc);
	return (false);
}

/* Calls the handler; no lock held. */
static void
sc_call_handler(srv_conn *sc)
{
	nghttpw_http_handler *h = sc->h;

	sc->state = SC_HANDLER;
	atomic_store(&sc->hstate, SC_H_OPEN);
	nghttpw_aio_set_timeout(sc->aio, NGHTTPW_DURATION_INFINITE);
	if (!nghttpw_aio_begin(sc->aio)) {
		/* Cannot happen (the aio is never stopped); answer 500. */
		nghttpw_aio_finish(sc->aio, NGHTTPW_ECANCELED);
		return;
	}
	nghttpw_aio_set_input(sc->aio, 0, sc->req);
	nghttpw_aio_set_input(sc->aio, 1, h);
	nghttpw_aio_set_input(sc->aio, 2, sc->conn);
	h->cb(sc->aio);
	if (!aio_finished(sc->aio)) {
		/* A handler that takes its time (a slow backend, a long
		 * poll) must not hold back the answers queued before it. */
		pthread_mutex_lock(&sc->srv->mtx);
		if (atomic_load(&sc->hstate) == SC_H_OPEN && sc->conn != NULL) {
			http_conn_kick_flush(sc->conn);
		}
		pthread_mutex_unlock(&sc->srv->mtx);
	}
}

/* What a failed head read means. */
static void
sc_head_failed(srv_conn *sc, int rv)
{
	if (sc->srv->stopping) {
		/* The read may have been refused before it flushed. */
		sc_close_flushed(sc);
		return;
	}
	switch (rv) {
	case NGHTTPW_ETIMEDOUT:
		if (http_conn_head_started(sc->conn)) {
			sc_error(
			    sc, NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT, true, NULL);
		} else {
			sc_close(sc); /* idle keep-alive connection */
		}
		break;
	case NGHTTPW_EPROTO:
		sc_error(sc, NGHTTPW_HTTP_STATUS_BAD_REQUEST, true, NULL);
		break;
	case NGHTTPW_EMSGSIZE:
		sc_error(sc, NGHTTPW_HTTP_STATUS_HEADERS_TOO_LARGE, true, NULL);
		break;
	case NGHTTPW_ENOTSUP:
		/* A request body in a transfer coding we cannot undo. */
		sc_error(sc, NGHTTPW_HTTP_STATUS_NOT_IMPLEMENTED, true, NULL);
		break;
	default:
		sc_close(sc); /* gone, reset, closed */
		break;
	}
}

static void
sc_body_failed(srv_conn *sc, int rv)
{
	switch (rv) {
	case NGHTTPW_EMSGSIZE:
		sc_error(sc, NGHTTPW_HTTP_STATUS_PAYLOAD_TOO_LARGE, true, NULL);
		break;
	case NGHTTPW_EPROTO:
		sc_error(sc, NGHTTPW_HTTP_STATUS_BAD_REQUEST, true, NULL);
		break;
	case NGHTTPW_ETIMEDOUT:
		sc_error(sc, NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT, true, NULL);
		break;
	default:
		sc_close(sc);
		break;
	}
}

static void
sc_read_done(srv_conn *sc, int rv)
{
	bool call_handler = false;

	switch (sc->state) {
	case SC_READ_HEAD:
		if (rv != 0) {
			sc_head_failed(sc, rv);
		} else {
			call_handler = sc_request(sc);
		}
		break;
	case SC_READ_BODY:
		if (rv != 0) {
			sc_body_failed(sc, rv);
		} else {
			sc->body_pending = false;
			call_handler     = true;
		}
		break;
	default: { /* SC_DRAIN */
		nghttpw_http_res *res = sc->res;
		sc->res               = NULL;
		if (rv == 0) {
			sc->body_pending = false;
		} else {
			sc->close_after = true;
		}
		if (rv == 0 || rv == NGHTTPW_EMSGSIZE) {
			sc_write(sc, res);
		} else if (rv == NGHTTPW_EPROTO || rv == NGHTTPW_ETIMEDOUT) {
			/* The body was malformed or too slow: that is the
			 * answer now, and the stream ends with it. */
			nghttpw_http_res_free(res);
			sc_error(sc,
			    rv == NGHTTPW_EPROTO ? NGHTTPW_HTTP_STATUS_BAD_REQUEST
			                         : NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT,
			    true, NULL);
		} else {
			nghttpw_http_res_free(res); /* the peer is gone */
			sc_close(sc);
		}
		break;
	}
	}
	if (call_handler) {
		sc_call_handler(sc);
	}
}

static void
sc_handler_done(srv_conn *sc, int rv)
{
	nghttpw_http_server *s   = sc->srv;
	nghttpw_http_res    *res = nghttpw_aio_get_output(sc->aio, 0);

	if (atomic_exchange(&sc->hstate, SC_H_SHUT) == SC_H_HIJACKED) {
		/* The connection and the request are the handler's now, and
		 * no response is ours to send.  Answers still queued for
		 * earlier pipelined requests leave before the handler's first
		 * read or write on it (a handler that closes it at once drops
		 * them). */
		pthread_mutex_lock(&s->mtx);
		/* The connection is not touched: the handler may have closed
		 * it already (hijack let go of it). */
		sc->conn = NULL;
		sc->req  = NULL;
		sc_close_locked(sc);
		pthread_mutex_unlock(&s->mtx);
	} else if (rv != 0) {
		nghttpw_http_res_free(res);
		sc_error(sc, NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR, true, NULL);
	} else if (res == NULL) {
		/* As in nng: the handler wrote its answer on the connection
		 * itself; the next request follows. */
		http_handler_release(sc->h);
		sc->h = NULL;
		if (sc->body_pending || sc->close_after ||
		    nghttpw_http_conn_must_close(sc->conn)) {
			sc_close(sc);
		} else {
			sc_read_next(sc);
		}
	} else {
		if (nhw_http_res_is_error(res)) {
			/* Made by nghttpw_http_res_alloc_error and left as
			 * it was: the server's own page for the status goes
			 * out instead, as nng does.  On failure the default
			 * page stays. */
			(void) nghttpw_http_server_res_error(s, res);
		}
		sc_write(sc, res);
	}
}

static void
sc_write_done(srv_conn *sc, int rv)
{
	nghttpw_http_server  *s     = sc->srv;
	size_t                count = nghttpw_aio_count(sc->aio);
	nghttpw_http_res     *res   = sc->res;
	nghttpw_http_handler *h     = sc->h;
	server_log_fn         log_fn = NULL;
	void                 *log_arg = NULL;

	if (sc->state == SC_CONTINUE) {
		if (rv != 0) {
			sc_close(sc);
		} else {
			sc_read_body(sc);
		}
		return;
	}
	sc->res = NULL;
	sc->h   = NULL;
	if (atomic_load(&s->log_on)) {
		pthread_rwlock_rdlock(&s->hlock);
		log_fn  = s->log_fn;
		log_arg = s->log_arg;
		pthread_rwlock_unlock(&s->hlock);
	}
	/* A batched answer is logged when queued, before it is sent (a
	 * failed flush closes the connection later). */
	if (log_fn != NULL) {
		size_t head = nhw_http_res_head_size(res);
		log_fn(log_arg, sc->have_req ? sc->req : NULL, res, &sc->peer,
		    rv == 0 && count > head ? (uint64_t) (count - head) : 0);
	}
	nghttpw_http_res_free(res);
	if (h != NULL) {
		http_handler_release(h);
	}
	if (rv != 0 || sc->close_after || nghttpw_http_conn_must_close(sc->conn)) {
		sc_close(sc);
	} else {
		sc_read_next(sc);
	}
}

/* The callback of the connection's one aio: what finished is what the
 * state says was started. */
static void
sc_cb(void *arg)
{
	srv_conn *sc = arg;
	int       rv = nghttpw_aio_result(sc->aio);

	switch (sc->state) {
	case SC_READ_HEAD:
	case SC_READ_BODY:
	case SC_DRAIN:
		sc_read_done(sc, rv);
		break;
	case SC_HANDLER:
		sc_handler_done(sc, rv);
		break;
	case SC_CONTINUE:
	case SC_WRITE:
		sc_write_done(sc, rv);
		break;
	case SC_FLUSH:
		sc_close(sc);
		break;
	case SC_DONE:
		break; /* the close or stop got here first */
	}
}

/* Takes on an accepted stream.  Caller holds s->mtx. */
static void
sc_start_locked(nghttpw_http_server *s, nghttpw_stream *stream)
{
	srv_conn          *sc;
	nghttpw_http_conn *conn;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		nghttpw_stream_free(stream);
		return;
	}
	if (nghttpw_http_conn_alloc(&conn, stream) != 0) {
		nghttpw_stream_free(stream);
		free(sc);
		return;
	}
	if (stream_aio_alloc(stream, &sc->aio, sc_cb, sc) != 0 ||
	    nghttpw_http_req_alloc(&sc->req, NULL) != 0) {
		nghttpw_aio_free(sc->aio);
		nghttpw_http_conn_close(conn);
		free(sc);
		return;
	}
	sc->srv     = s;
	sc->conn    = conn;
	sc->idle_ms = s->idle_ms;
	atomic_init(&sc->hstate, SC_H_SHUT);
	http_conn_set_owner(conn, sc);
	task_init(&sc->reap, sc_reap, sc);
	(void) nghttpw_http_conn_get_addr(conn, NGHTTPW_OPT_REMADDR, &sc->peer);
	http_conn_set_read_timeouts(conn, s->idle_ms, s->head_ms);
	/* A client that stops reading its response is dropped after the
	 * idle time without progress (slow-read defence). */
	http_conn_set_write_stall(conn, s->idle_ms);
	list_append(&s->conns, &sc->node);
	if (s->stopping) {
		sc_close_locked(sc);
		return;
	}
	/* Not stopping: sc_read_next does not take the lock we hold. */
	sc_read_next(sc);
}

/* Serves one given stream as if the listener had accepted it (for
 * tests and fuzz targets, which hand the server a scripted stream).  The
 * server need not be started.  The stream is the server's from now on,
 * freed (with its connection) once the server is done with it, also on
 * failure. */
int
http_server_serve_stream(nghttpw_http_server *s, nghttpw_stream *stream)
{
	if (s == NULL || stream == NULL) {
		nghttpw_stream_free(stream);
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	sc_start_locked(s, stream);
	pthread_mutex_unlock(&s->mtx);
	return (0);
}

static bool
accept_error_is_peer(int rv)
{
	switch (rv) {
	case NGHTTPW_ECLOSED:
	case NGHTTPW_ECONNRESET:
	case NGHTTPW_ECONNABORTED:
	case NGHTTPW_ECONNSHUT:
	case NGHTTPW_ETIMEDOUT:
	case NGHTTPW_EPEERAUTH:
	case NGHTTPW_ECRYPTO:
	case NGHTTPW_EPROTO:
		return (true);
	default:
		return (false);
	}
}

static void
accept_cb(void *arg)
{
	nghttpw_http_server *s  = arg;
	int                  rv = nghttpw_aio_result(s->accept_aio);
	nghttpw_stream      *stream =
	    rv == 0 ? nghttpw_aio_get_output(s->accept_aio, 0) : NULL;

	pthread_mutex_lock(&s->mtx);
	if (!s->running) {
		pthread_mutex_unlock(&s->mtx);
		nghttpw_stream_free(stream);
		return;
	}
	if (s->accept_sleeping) {
		s->accept_sleeping = false;
	} else if (rv == 0) {
		sc_start_locked(s, stream);
	} else if (!accept_error_is_peer(rv)) {
		/* Out of descriptors or memory, say: wait a little rather
		 * than spin. */
		s->accept_sleeping = true;
		nghttpw_sleep_aio(ACCEPT_RETRY_MS, s->accept_aio);
		pthread_mutex_unlock(&s->mtx);
		return;
	}
	/* Errors of one client (a TLS handshake that failed, a peer that
	 * left) do not stop the others: only stop() ends accepting. */
	nghttpw_stream_listener_accept(s->listener, s->accept_aio);
	pthread_mutex_unlock(&s->mtx);
}

/* Servers. */

static int
listener_locked(nghttpw_http_server *s, nghttpw_stream_listener **lp)
{
	int rv;

	if (s->listener == NULL) {
		if ((rv = nghttpw_stream_listener_alloc_url(&s->listener, s->url)) !=
		    0) {
			s->listener = NULL;
			return (rv);
		}
		if (s->tls != NULL &&
		    ((rv = nghttpw_stream_listener_set_ptr(
		          s->listener, OPT_TLS_CONFIG, s->tls)) != 0 ||
		        (s->tls_hs_ms != 0 &&
		            (rv = nghttpw_stream_listener_set_ms(s->listener,
		                 OPT_TLS_HANDSHAKE_TIMEOUT, s->tls_hs_ms)) != 0))) {
			nghttpw_stream_listener_free(s->listener);
			s->listener = NULL;
			return (rv);
		}
	}
	*lp = s->listener;
	return (0);
}

static const char *
str_or_empty(const char *s)
{
	return (s != NULL ? s : "");
}

static bool
url_same_address(const nghttpw_url *a, const nghttpw_url *b)
{
	return (strcmp(a->u_scheme, b->u_scheme) == 0 &&
	    strcasecmp(str_or_empty(a->u_hostname), str_or_empty(b->u_hostname)) ==
	        0 &&
	    strcmp(str_or_empty(a->u_port), str_or_empty(b->u_port)) == 0);
}

/* Whether s serves url's address: the same as its own URL, or, for a
 * server held with port 0, the port it was given, so that what joins it
 * later (a ws:// listener, say) can name that port.  Registry lock held. */
static bool
server_serves(nghttpw_http_server *s, const nghttpw_url *url)
{
	nghttpw_sockaddr sa;
	uint16_t         port;

	if (url_same_address(s->url, url)) {
		/* Port 0 asks for a new port, unless the server held for
		 * it has none yet (as in nng). */
		return (strcmp(url->u_port, "0") != 0 ||
		    nghttpw_http_server_get_addr(s, &sa) != 0);
	}
	if (strcmp(s->url->u_port, "0") != 0 ||
	    strcmp(s->url->u_scheme, url->u_scheme) != 0 ||
	    strcasecmp(str_or_empty(s->url->u_hostname),
	        str_or_empty(url->u_hostname)) != 0 ||
	    nghttpw_http_server_get_addr(s, &sa) != 0) {
		return (false);
	}
	port = ntohs(sa.s_family == NGHTTPW_AF_INET6 ? sa.s_in6.sa_port
	                                              : sa.s_in.sa_port);
	return (strtoul(url->u_port, NULL, 10) == port);
}

static void
server_free(nghttpw_http_server *s)
{
	error_page *p;

	nghttpw_aio_free(s->accept_aio);
	nghttpw_stream_listener_free(s->listener);
	if (s->tls != NULL) {
		tls_cfg_free(s->tls);
	}
	while ((p = s->pages) != NULL) {
		s->pages = p->next;
		free(p);
	}
	nghttpw_url_free(s->url);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mtx);
	pthread_rwlock_destroy(&s->hlock);
	free(s);
}

int
nghttpw_http_server_hold(nghttpw_http_server **sp, const nghttpw_url *url)
{
	nghttpw_http_server *s;
	nghttpw_url         *stream_url;
	pthread_condattr_t   attr;
	int                  rv;

	if (sp == NULL || url == NULL || url->u_scheme == NULL) {
		return (NGHTTPW_EINVAL);
	}
	/* Servers are known by the stream address they listen on: http://
	 * and ws:// of one host and port are one server. */
	if ((rv = http_transport_url(url, &stream_url)) != 0) {
		/* nng's answer to a scheme that is not HTTP's. */
		return (rv == NGHTTPW_ENOTSUP ? NGHTTPW_EADDRINVAL : rv);
	}
	url = stream_url;
	pthread_mutex_lock(&http_registry_mtx);
	for (list_node *n = servers.next; n != &servers; n = n->next) {
		s = LIST_ENTRY(n, nghttpw_http_server, node);
		if (server_serves(s, url)) {
			s->refs++;
			pthread_mutex_unlock(&http_registry_mtx);
			nghttpw_url_free(stream_url);
			*sp = s;
			return (0);
		}
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		pthread_mutex_unlock(&http_registry_mtx);
		nghttpw_url_free(stream_url);
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&s->mtx, NULL);
	pthread_rwlock_init(&s->hlock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &attr);
	pthread_condattr_destroy(&attr);
	list_init(&s->handlers);
	list_init(&s->conns);
	s->idle_ms = IDLE_TIMEOUT_DEFAULT;
	s->head_ms = REQUEST_TIMEOUT_DEFAULT;
	s->stop_ms = STOP_TIMEOUT_DEFAULT;
	s->url     = stream_url;
	if ((rv = nghttpw_aio_alloc(&s->accept_aio, accept_cb, s)) != 0 ||
	    (rv = listener_locked(s, &(nghttpw_stream_listener *) { NULL })) !=
	        0) {
		pthread_mutex_unlock(&http_registry_mtx);
		server_free(s);
		return (rv);
	}
	s->refs = 1;
	list_append(&servers, &s->node);
	pthread_mutex_unlock(&http_registry_mtx);
	*sp = s;
	return (0);
}

int
nghttpw_http_server_start(nghttpw_http_server *s)
{
	nghttpw_stream_listener *l;
	int                      rv;

	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0) {
		s->starts++;
		pthread_mutex_unlock(&s->mtx);
		return (0);
	}
	if (s->stopping) {
		/* A stop on another thread has not finished. */
		pthread_mutex_unlock(&s->mtx);
		return (NGHTTPW_EBUSY);
	}
	if ((rv = listener_locked(s, &l)) != 0 ||
	    (rv = nghttpw_stream_listener_listen(l)) != 0) {
		pthread_mutex_unlock(&s->mtx);
		return (rv);
	}
	s->starts          = 1;
	s->running         = true;
	s->accept_sleeping = false;
	nghttpw_stream_listener_accept(l, s->accept_aio);
	pthread_mutex_unlock(&s->mtx);
	return (0);
}

/* Stops accepting, lets the requests in flight finish for up to the stop
 * timeout, then closes whatever is left and waits for it.  Entered and
 * left with s->mtx held. */
static void
server_shutdown_locked(nghttpw_http_server *s)
{
	nghttpw_stream_listener *l = s->listener;
	struct timespec          deadline;
	bool                     timed = s->stop_ms >= 0;

	s->running  = false;
	s->stopping = true;
	pthread_mutex_unlock(&s->mtx);
	nghttpw_stream_listener_close(l);
	nghttpw_aio_abort(s->accept_aio, NGHTTPW_ECLOSED);
	nghttpw_aio_wait(s->accept_aio);
	pthread_mutex_lock(&s->mtx);

	/* Connections waiting for a request get none (nor do those that
	 * would wait for one next: they see stopping, or the conn says no). */
	for (list_node *n = s->conns.next; n != &s->conns; n = n->next) {
		srv_conn *sc = LIST_ENTRY(n, srv_conn, node);
		if (sc->conn != NULL) {
			http_conn_stop_idle(sc->conn);
		}
	}
	if (timed) {
		deadline_after(&deadline, s->stop_ms);
	}
	while (!list_empty(&s->conns)) {
		if (!timed) {
			pthread_cond_wait(&s->cv, &s->mtx);
		} else if (pthread_cond_timedwait(&s->cv, &s->mtx, &deadline) ==
		    ETIMEDOUT) {
			break;
		}
	}
	if (!list_empty(&s->conns)) {
		/* Out of patience: every stream closes, so every read and
		 * write fails; handlers are asked to give up. */
		for (list_node *n = s->conns.next; n != &s->conns; n = n->next) {
			srv_conn *sc = LIST_ENTRY(n, srv_conn, node);
			if (sc->reaping) {
				continue; /* its aio is being freed */
			}
			if (sc->conn != NULL) {
				nghttpw_stream_close(http_conn_stream(sc->conn));
			}
			sc->pins++;
		}
		for (list_node *n = s->conns.next; n != &s->conns; n = n->next) {
			srv_conn *sc = LIST_ENTRY(n, srv_conn, node);
			if (sc->reaping) {
				continue;
			}
			/* Unlocked: a handler's cancel function is called.  The
			 * pin keeps sc in place meanwhile. */
			pthread_mutex_unlock(&s->mtx);
			nghttpw_aio_abort(sc->aio, NGHTTPW_ECLOSED);
			pthread_mutex_lock(&s->mtx);
		}
		for (list_node *n = s->conns.next; n != &s->conns; n = n->next) {
			srv_conn *sc = LIST_ENTRY(n, srv_conn, node);
			if (!sc->reaping) {
				sc->pins--;
			}
		}
		pthread_cond_broadcast(&s->cv);
		while (!list_empty(&s->conns)) {
			pthread_cond_wait(&s->cv, &s->mtx);
		}
	}
	/* A listener cannot listen again once closed: the next start
	 * makes a new one. */
	s->listener = NULL;
	s->stopping = false;
	pthread_mutex_unlock(&s->mtx);
	nghttpw_stream_listener_free(l);
	pthread_mutex_lock(&s->mtx);
}

void
nghttpw_http_server_stop(nghttpw_http_server *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0 && --s->starts == 0) {
		server_shutdown_locked(s);
	}
	pthread_mutex_unlock(&s->mtx);
}

void
nghttpw_http_server_release(nghttpw_http_server *s)
{
	list_node *n;

	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&http_registry_mtx);
	if (--s->refs > 0) {
		pthread_mutex_unlock(&http_registry_mtx);
		return;
	}
	list_remove(&s->node);
	pthread_mutex_unlock(&http_registry_mtx);

	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0) {
		s->starts = 0;
		server_shutdown_locked(s);
	}
	pthread_mutex_unlock(&s->mtx);

	/* The handlers go with the server (their references were its). */
	for (;;) {
		nghttpw_http_handler *h = NULL;
		pthread_mutex_lock(&http_registry_mtx);
		pthread_rwlock_wrlock(&s->hlock);
		if ((n = list_first(&s->handlers)) != NULL) {
			h = LIST_ENTRY(n, nghttpw_http_handler, node);
			list_remove(n);
			h->server = NULL;
		}
		pthread_rwlock_unlock(&s->hlock);
		pthread_mutex_unlock(&http_registry_mtx);
		if (h == NULL) {
			break;
		}
		http_handler_release(h);
	}
	server_free(s);
}

int
nghttpw_http_server_get_addr(nghttpw_http_server *s, nghttpw_sockaddr *addr)
{
	int rv;

	if (s == NULL || addr == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	if (s->starts == 0 || s->listener == NULL) {
		rv = NGHTTPW_ESTATE;
	} else {
		rv = nghttpw_stream_listener_get_addr(
		    s->listener, NGHTTPW_OPT_LOCADDR, addr);
	}
	pthread_mutex_unlock(&s->mtx);
	return (rv);
}

int
nghttpw_http_server_set_tls(nghttpw_http_server *s, nghttpw_tls_config *cfg)
{
	nghttpw_stream_listener *l;
	int                      rv;

	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0 || s->stopping) {
		rv = NGHTTPW_EBUSY;
	} else if ((rv = listener_locked(s, &l)) == 0 &&
	    (rv = nghttpw_stream_listener_set_ptr(l, OPT_TLS_CONFIG, cfg)) == 0 &&
	    (s->tls_hs_ms == 0 ||
	        (rv = nghttpw_stream_listener_set_ms(
	             l, OPT_TLS_HANDSHAKE_TIMEOUT, s->tls_hs_ms)) == 0)) {
		tls_cfg_hold(cfg);
		if (s->tls != NULL) {
			tls_cfg_free(s->tls);
		}
		s->tls = cfg;
	}
	pthread_mutex_unlock(&s->mtx);
	return (rv);
}

int
nghttpw_http_server_get_tls(nghttpw_http_server *s, nghttpw_tls_config **cfgp)
{
	nghttpw_stream_listener *l;
	void                    *p;
	int                      rv;

	if (s == NULL || cfgp == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	if (s->stopping) {
		rv = NGHTTPW_EBUSY;
	} else if ((rv = listener_locked(s, &l)) == 0 &&
	    (rv = nghttpw_stream_listener_get_ptr(l, OPT_TLS_CONFIG, &p)) == 0) {
		*cfgp = p;
	}
	pthread_mutex_unlock(&s->mtx);
	return (rv);
}

static int
set_duration(nghttpw_http_server *s, nghttpw_duration *field, nghttpw_duration ms)
{
	if (s == NULL || (ms <= 0 && ms != NGHTTPW_DURATION_INFINITE)) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	*field = ms;
	pthread_mutex_unlock(&s->mtx);
	return (0);
}

int
nghttpw_http_server_set_idle_timeout(nghttpw_http_server *s, nghttpw_duration ms)
{
	return (set_duration(s, s != NULL ? &s->idle_ms : NULL, ms));
}

int
nghttpw_http_server_set_request_timeout(
    nghttpw_http_server *s, nghttpw_duration ms)
{
	return (set_duration(s, s != NULL ? &s->head_ms : NULL, ms));
}

int
nghttpw_http_server_set_tls_handshake_timeout(
    nghttpw_http_server *s, nghttpw_duration ms)
{
	int rv = 0;

	if (s == NULL || ms <= 0) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	/* A listener made without TLS takes it when TLS is set. */
	if (s->tls != NULL && s->listener != NULL) {
		rv = nghttpw_stream_listener_set_ms(
		    s->listener, OPT_TLS_HANDSHAKE_TIMEOUT, ms);
	}
	if (rv == 0) {
		s->tls_hs_ms = ms;
	}
	pthread_mutex_unlock(&s->mtx);
	return (rv);
}

int
nghttpw_http_server_set_stop_timeout(nghttpw_http_server *s, nghttpw_duration ms)
{
	if (s != NULL && ms == 0) {
		/* Zero is allowed here: close at once. */
		pthread_mutex_lock(&s->mtx);
		s->stop_ms = 0;
		pthread_mutex_unlock(&s->mtx);
		return (0);
	}
	return (set_duration(s, s != NULL ? &s->stop_ms : NULL, ms));
}

int
nghttpw_http_server_set_log(nghttpw_http_server *s,
    void (*fn)(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
        const nghttpw_sockaddr *peer, uint64_t body_bytes),
    void *arg)
{
	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_rwlock_wrlock(&s->hlock);
	s->log_fn  = fn;
	s->log_arg = arg;
	atomic_store(&s->log_on, fn != NULL);
	pthread_rwlock_unlock(&s->hlock);
	return (0);
}

/* The owner of a hijacked connection: no server's any more. */
static char hijacked;

int
nghttpw_http_hijack(nghttpw_http_conn *conn)
{
	srv_conn *sc;
	void     *owner;
	int       open = SC_H_OPEN;
	int       rv   = NGHTTPW_ESTATE;

	if (conn == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((owner = http_conn_owner(conn)) == &hijacked) {
		return (0); /* twice is harmless */
	}
	if ((sc = owner) == NULL) {
		return (NGHTTPW_ESTATE); /* not a server's */
	}
	pthread_mutex_lock(&sc->srv->mtx);
	if (atomic_compare_exchange_strong(&sc->hstate, &open, SC_H_HIJACKED)) {
		sc->conn = NULL; /* stop must not close it from now on */
		/* nor keep it from reading requests, if it began already */
		http_conn_resume_idle(conn);
		/* From here the handler may close the connection at any time,
		 * even before its call returns: it must not point to sc. */
		http_conn_set_owner(conn, &hijacked);
		rv = 0;
	} else if (open == SC_H_HIJACKED) {
		rv = 0; /* twice is harmless */
	}
	pthread_mutex_unlock(&sc->srv->mtx);
	return (rv);
}
