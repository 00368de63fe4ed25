/* HTTP servers: one per address, shared by reference count, with their
 * handlers, error pages and listener; their connections are in
 * http_server_conn.c.
 *
 * Locks: http_registry_mtx (servers and handler registration), then a
 * server's mutex or its handler lock, then whatever the connection and
 * stream code takes.  Handler destructors run with no lock of ours
 * held. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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
#include "http/http_forwarded.h"
#include "http/http_msg.h"
#include "http/http_server_conn.h"
#ifdef NGHTTPW_HAVE_TLS
#include "nghttpw/tls.h"
#endif

#define IDLE_TIMEOUT_DEFAULT 60000
#define REQUEST_TIMEOUT_DEFAULT 10000
#define STOP_TIMEOUT_DEFAULT 5000
#define ACCEPT_RETRY_MS 100
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

pthread_mutex_t   http_registry_mtx = PTHREAD_MUTEX_INITIALIZER;
static list_node  servers           = { &servers, &servers };

/* Small helpers. */

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

/* The longest matching path wins, then a handler for the named host,
 * then one for the very method (a GET handler answers HEAD when no HEAD
 * handler does). */
nghttpw_http_handler *
http_server_route_locked(nghttpw_http_server *s, const char *host,
    size_t host_len, const char *path, size_t path_len, const char *method,
    bool is_head, char *allow)
{
	nghttpw_http_handler *best       = NULL;
	unsigned long         best_score = 0;

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
		http_server_conn_start_locked(s, stream);
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
		if ((s->reuseport &&
		        (rv = nghttpw_stream_listener_set_bool(
		             s->listener, NGHTTPW_OPT_TCP_REUSEPORT, true)) != 0) ||
		    (s->tls != NULL &&
		        ((rv = nghttpw_stream_listener_set_ptr(
		          s->listener, OPT_TLS_CONFIG, s->tls)) != 0 ||
		        (s->tls_hs_ms != 0 &&
		            (rv = nghttpw_stream_listener_set_ms(s->listener,
		                 OPT_TLS_HANDSHAKE_TIMEOUT, s->tls_hs_ms)) != 0)))) {
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

/* Host names match case-insensitively, and IP literals as the addresses
 * they spell ("0:0::1" is "::1"), as nng compares them. */
static bool
same_host(const char *a, const char *b)
{
	unsigned char addr_a[sizeof(struct in6_addr)];
	unsigned char addr_b[sizeof(struct in6_addr)];
	int           family = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;

	if (strcasecmp(a, b) == 0) {
		return (true);
	}
	return (inet_pton(family, a, addr_a) == 1 &&
	    inet_pton(family, b, addr_b) == 1 &&
	    memcmp(addr_a, addr_b,
	        family == AF_INET6 ? sizeof(struct in6_addr)
	                           : sizeof(struct in_addr)) == 0);
}

static bool
url_same_address(const nghttpw_url *a, const nghttpw_url *b)
{
	return (strcmp(a->u_scheme, b->u_scheme) == 0 &&
	    same_host(str_or_empty(a->u_hostname), str_or_empty(b->u_hostname)) &&
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
	    !same_host(str_or_empty(s->url->u_hostname),
	        str_or_empty(url->u_hostname)) ||
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
	http_server_headers_free(s);
	http_trust_release(s->trust);
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
	list_init(&s->parked);
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
	http_server_unpark_all_locked(s);
	if (timed) {
		deadline_after(&deadline, s->stop_ms);
	}
	while (!list_empty(&s->conns) || !list_empty(&s->parked)) {
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
	/* Parked sockets close at once (their records point to s). */
	while (!list_empty(&s->parked)) {
		pthread_cond_wait(&s->cv, &s->mtx);
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

/* A setting of the listener's socket: only while the server is not
 * started (the socket is made by the next start). */
static int
set_listener_socket(nghttpw_http_server *s, const char *name, int v)
{
	nghttpw_stream_listener *l;
	int                      rv;

	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0 || s->stopping) {
		rv = NGHTTPW_EBUSY;
	} else if ((rv = listener_locked(s, &l)) == 0) {
		rv = strcmp(name, NGHTTPW_OPT_TCP_REUSEPORT) == 0
		    ? nghttpw_stream_listener_set_bool(l, name, v != 0)
		    : nghttpw_stream_listener_set_int(l, name, v);
		if (rv == 0 && strcmp(name, NGHTTPW_OPT_TCP_REUSEPORT) == 0) {
			s->reuseport = v != 0; /* and for listeners made later */
		}
	}
	pthread_mutex_unlock(&s->mtx);
	return (rv);
}

int
nghttpw_http_server_set_reuseport(nghttpw_http_server *s, bool on)
{
	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (set_listener_socket(s, NGHTTPW_OPT_TCP_REUSEPORT, on));
}

int
nghttpw_http_server_set_listen_fd(nghttpw_http_server *s, int fd)
{
	if (s == NULL || fd < 0) {
		return (NGHTTPW_EINVAL);
	}
	return (set_listener_socket(s, NGHTTPW_OPT_TCP_LISTEN_FD, fd));
}

int
nghttpw_http_server_set_trusted_proxies(nghttpw_http_server *s, const char *list)
{
	http_trust *t;
	int         rv;

	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = http_trust_parse(list, &t)) != 0) {
		return (rv);
	}
	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0 || s->stopping) {
		rv = NGHTTPW_EBUSY;
	} else {
		http_trust_release(s->trust);
		s->trust = t;
		t        = NULL;
	}
	pthread_mutex_unlock(&s->mtx);
	http_trust_release(t);
	return (rv);
}

int
nghttpw_http_server_set_proxy_protocol(nghttpw_http_server *s, bool on)
{
	int rv = 0;

	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&s->mtx);
	if (s->starts > 0 || s->stopping) {
		rv = NGHTTPW_EBUSY;
	} else {
		s->proxy_protocol = on;
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
