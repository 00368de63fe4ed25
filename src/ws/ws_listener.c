/* ws:// and wss:// listeners: a handler on the HTTP server of the URL's
 * host and port (shared, by nghttpw_http_server_hold, with every other
 * handler and listener there, TLS configuration included), at the URL's
 * path.  The handler checks the upgrade request, answers errors itself,
 * and otherwise hijacks the connection and writes the 101; the stream
 * made then waits for an accept (or an accept waits for it). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/aio.h"
#include "core/list.h"
#include "core/options.h"
#include "nghttpw/tls.h"
#include "tls/tls_settings.h"
#include "ws/ws_impl.h"

typedef struct ws_listener {
	pthread_mutex_t       mtx;
	pthread_cond_t        cv;
	nghttpw_url          *url;
	nghttpw_http_server  *server;
	nghttpw_http_handler *handler;
	ws_endpoint           ep;
	nghttpw_aio         **acceptq; /* accepts waiting for a stream */
	size_t                nacc;
	nghttpw_stream      **ready; /* streams waiting for an accept */
	size_t                nready;
	size_t                cap_acc;
	size_t                cap_ready;
	unsigned              shaking; /* handshakes in progress */
	bool                  started;
	bool                  closed;
} ws_listener;

/* One upgrade: the 101 being written. */
typedef struct ws_up {
	ws_listener      *l;
	nghttpw_aio      *aio;
	nghttpw_http_req *req;
	nghttpw_http_res *res;
	task              free_task;
} ws_up;

static int
grow(void *vp, size_t *cap, size_t n, size_t elem)
{
	void **v = vp;
	if (n < *cap) {
		return (0);
	}
	size_t c = *cap != 0 ? *cap * 2 : 4;
	void  *p = realloc(*v, c * elem);
	if (p == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	*v   = p;
	*cap = c;
	return (0);
}

static void
up_free(void *arg)
{
	ws_up *u = arg;

	nghttpw_aio_free(u->aio);
	nghttpw_http_req_free(u->req);
	nghttpw_http_res_free(u->res);
	free(u);
}

static void
up_cb(void *arg)
{
	ws_up          *u  = arg;
	ws_listener    *l  = u->l;
	int             rv = nghttpw_aio_result(u->aio);
	nghttpw_stream *s  = rv == 0 ? nghttpw_aio_get_output(u->aio, 0) : NULL;
	loop           *lp = loop_current();

	pthread_mutex_lock(&l->mtx);
	if (s != NULL) {
		if (l->closed) {
			ws_conn_discard(s);
		} else if (l->nacc > 0) {
			nghttpw_aio *a = l->acceptq[0];
			memmove(l->acceptq, l->acceptq + 1, --l->nacc * sizeof(*l->acceptq));
			nghttpw_aio_set_output(a, 0, s);
			nghttpw_aio_finish(a, 0);
		} else if (grow(&l->ready, &l->cap_ready, l->nready, sizeof(*l->ready)) == 0) {
			l->ready[l->nready++] = s;
		} else {
			ws_conn_discard(s);
		}
	}
	if (--l->shaking == 0) {
		pthread_cond_broadcast(&l->cv);
	}
	pthread_mutex_unlock(&l->mtx);
	/* The aio is ours to free only after its callback. */
	task_init(&u->free_task, up_free, u);
	if (lp != NULL) {
		loop_post(lp, &u->free_task);
	} else {
		up_free(u);
	}
}

static void
answer(nghttpw_aio *aio, uint16_t status)
{
	nghttpw_http_res *res;
	int               rv;

	if ((rv = nghttpw_http_res_alloc_error(&res, status)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	if (ws_error_response(res, status) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static void
ws_handler(nghttpw_aio *aio)
{
	nghttpw_http_req     *req  = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_handler *h    = nghttpw_aio_get_input(aio, 1);
	nghttpw_http_conn    *conn = nghttpw_aio_get_input(aio, 2);
	ws_listener          *l    = nghttpw_http_handler_get_data(h);
	ws_up                *u;
	uint16_t              status;

	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		pthread_mutex_unlock(&l->mtx);
		answer(aio, NGHTTPW_HTTP_STATUS_SERVICE_UNAVAILABLE);
		return;
	}
	if ((status = ws_check_request(req)) != 0) {
		pthread_mutex_unlock(&l->mtx);
		answer(aio, status);
		return;
	}
	if ((u = calloc(1, sizeof(*u))) == NULL ||
	    nghttpw_http_res_alloc(&u->res) != 0 ||
	    ws_headers_apply_res(l->ep.headers, u->res) != 0 ||
	    nghttpw_aio_alloc(&u->aio, up_cb, u) != 0) {
		pthread_mutex_unlock(&l->mtx);
		if (u != NULL) {
			up_free(u);
		}
		answer(aio, NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR);
		return;
	}
	if ((status = ws_prepare_response(req, u->res, l->ep.proto, &l->ep.set.pmd)) != 0) {
		pthread_mutex_unlock(&l->mtx);
		up_free(u);
		answer(aio, status);
		return;
	}
	u->l   = l;
	u->req = req; /* ours once hijacked */
	l->shaking++;
	(void) nghttpw_http_hijack(conn);
	nghttpw_aio_begin(u->aio);
	ws_handshake_start(conn, req, u->res, u->aio, true, &l->ep.set);
	pthread_mutex_unlock(&l->mtx);
	nghttpw_aio_set_output(aio, 0, NULL);
	nghttpw_aio_finish(aio, 0);
}

static void
accept_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	ws_listener *l = arg;

	pthread_mutex_lock(&l->mtx);
	for (size_t i = 0; i < l->nacc; i++) {
		if (l->acceptq[i] == aio) {
			memmove(l->acceptq + i, l->acceptq + i + 1,
			    (l->nacc - i - 1) * sizeof(*l->acceptq));
			l->nacc--;
			nghttpw_aio_finish(aio, rv);
			break;
		}
	}
	pthread_mutex_unlock(&l->mtx);
}

static void
ws_listener_accept(void *arg, nghttpw_aio *aio)
{
	ws_listener *l = arg;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	} else if (!l->started) {
		nghttpw_aio_finish(aio, NGHTTPW_ESTATE);
	} else if (l->nready > 0) {
		nghttpw_stream *s = l->ready[0];
		memmove(l->ready, l->ready + 1, --l->nready * sizeof(*l->ready));
		nghttpw_aio_set_output(aio, 0, s);
		nghttpw_aio_finish(aio, 0);
	} else if (grow(&l->acceptq, &l->cap_acc, l->nacc, sizeof(*l->acceptq)) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
	} else if (aio_defer(aio, accept_cancel, l)) {
		l->acceptq[l->nacc++] = aio;
	}
	pthread_mutex_unlock(&l->mtx);
}

static int
ws_listener_listen(void *arg)
{
	ws_listener *l = arg;
	int          rv;

	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if (l->started) {
		rv = NGHTTPW_ESTATE;
	} else if ((rv = nghttpw_http_server_add_handler(l->server, l->handler)) == 0) {
		if ((rv = nghttpw_http_server_start(l->server)) != 0) {
			(void) nghttpw_http_server_del_handler(l->server, l->handler);
		} else {
			l->started = true;
		}
	}
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

static void
ws_listener_close(void *arg)
{
	ws_listener *l = arg;
	bool         started;

	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		pthread_mutex_unlock(&l->mtx);
		return;
	}
	l->closed = true;
	started   = l->started;
	while (l->nacc > 0) {
		nghttpw_aio_finish(l->acceptq[--l->nacc], NGHTTPW_ECLOSED);
	}
	while (l->nready > 0) {
		ws_conn_discard(l->ready[--l->nready]);
	}
	pthread_mutex_unlock(&l->mtx);
	if (started) {
		/* The handler goes before the server stops serving us. */
		(void) nghttpw_http_server_del_handler(l->server, l->handler);
		nghttpw_http_server_stop(l->server);
	}
}

/* The handler's data destructor: the server may still hold the handler
 * for a request it routed before the close (one whose body was slow), and
 * that request's call finds the listener closed (503).  So l goes with
 * the handler's last reference, not before. */
static void
ws_listener_destroy(void *arg)
{
	ws_listener *l = arg;

	/* An accept's cancel may be running just as its aio finished. */
	aio_cancel_barrier(l);
	nghttpw_url_free(l->url);
	ws_endpoint_fini(&l->ep);
	free(l->acceptq);
	free(l->ready);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

/* A handshake in progress ends in up_cb, its last touch of l: after the
 * close it discards the stream rather than queue it. */
static void
ws_listener_stop(void *arg)
{
	ws_listener *l = arg;

	ws_listener_close(l);
	pthread_mutex_lock(&l->mtx);
	while (l->shaking > 0) {
		pthread_cond_wait(&l->cv, &l->mtx);
	}
	pthread_mutex_unlock(&l->mtx);
	aio_cancel_barrier(l);
}

static void
ws_listener_free(void *arg)
{
	ws_listener *l = arg;

	ws_listener_stop(l);
	nghttpw_http_server_release(l->server);
	nghttpw_http_handler_free(l->handler); /* and l, at its last use */
}

static int
ws_listener_get(void *arg, const char *name, void *buf, size_t *szp, nghttpw_type t)
{
	ws_listener        *l = arg;
	nghttpw_sockaddr    sa;
	nghttpw_tls_config *cfg;
	int                 rv;

	pthread_mutex_lock(&l->mtx);
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		rv = opt_out_string(l->url->u_rawurl, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_TCP_BOUND_PORT) == 0) {
		if ((rv = nghttpw_http_server_get_addr(l->server, &sa)) == 0) {
			rv = opt_out_int(ntohs(sa.s_family == NGHTTPW_AF_INET6
			                         ? sa.s_in6.sa_port
			                         : sa.s_in.sa_port),
			    buf, szp, t);
		}
	} else if (strcmp(name, NGHTTPW_OPT_LOCADDR) == 0) {
		if ((rv = nghttpw_http_server_get_addr(l->server, &sa)) == 0) {
			rv = opt_out_addr(&sa, buf, szp, t);
		}
	} else if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		if ((rv = nghttpw_http_server_get_tls(l->server, &cfg)) == 0) {
			rv = opt_out_ptr(cfg, buf, szp, t);
		}
	} else if (tls_setting_is(name)) {
		rv = nghttpw_http_server_get_tls(l->server, &cfg);
		if (rv == 0 || rv == NGHTTPW_ENOENT) {
			rv = NGHTTPW_EWRITEONLY;
		}
	} else {
		rv = ws_endpoint_get(&l->ep, name, buf, szp, t);
	}
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

/* wss: the settings act on the server's TLS configuration, made empty
 * first if it has none (a ws:// server has no TLS: NGHTTPW_ENOTSUP). */
static int
ws_listener_tls_setting(ws_listener *l, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	nghttpw_tls_config *cfg;
	int                 rv;

	rv = nghttpw_http_server_get_tls(l->server, &cfg);
	if (rv == NGHTTPW_ENOENT) {
		if ((rv = nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER)) != 0) {
			return (rv);
		}
		rv = nghttpw_http_server_set_tls(l->server, cfg);
		nghttpw_tls_config_free(cfg); /* the server holds it */
	}
	if (rv == 0) {
		rv = tls_setting_set(cfg, name, buf, sz, t);
	}
	return (rv);
}

static int
ws_listener_set(
    void *arg, const char *name, const void *buf, size_t sz, nghttpw_type t)
{
	ws_listener *l = arg;
	void        *cfg;
	int          rv;

	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	pthread_mutex_lock(&l->mtx);
	if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		if ((rv = opt_in_ptr(buf, sz, t, &cfg)) == 0) {
			rv = nghttpw_http_server_set_tls(l->server, cfg);
		}
	} else if (tls_setting_is(name)) {
		rv = ws_listener_tls_setting(l, name, buf, sz, t);
	} else {
		rv = ws_endpoint_set(&l->ep, name, buf, sz, t);
	}
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

static const listener_ops ws_listener_ops = {
	.l_free   = ws_listener_free,
	.l_close  = ws_listener_close,
	.l_stop   = ws_listener_stop,
	.l_listen = ws_listener_listen,
	.l_accept = ws_listener_accept,
	.l_get    = ws_listener_get,
	.l_set    = ws_listener_set,
};

int
ws_listener_alloc(nghttpw_stream_listener *sl, const nghttpw_url *url)
{
	ws_listener *l;
	const char  *path = url->u_path[0] != '\0' ? url->u_path : "/";
	int          rv;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = nghttpw_url_clone(&l->url, url)) != 0) {
		free(l);
		return (rv);
	}
	/* The server of this host and port, whichever of http:// and ws://
	 * (https:// and wss://) made it first. */
	rv = nghttpw_http_server_hold(&l->server, url);
	if (rv == 0 &&
	    ((rv = nghttpw_http_handler_alloc(&l->handler, path, ws_handler)) != 0 ||
	        (rv = nghttpw_http_handler_set_data(
	             l->handler, l, ws_listener_destroy)) != 0)) {
		nghttpw_http_handler_free(l->handler);
		nghttpw_http_server_release(l->server);
	}
	if (rv != 0) {
		nghttpw_url_free(l->url);
		free(l);
		return (rv);
	}
	pthread_mutex_init(&l->mtx, NULL);
	pthread_cond_init(&l->cv, NULL);
	ws_endpoint_init(&l->ep, true);
	sl->ops = &ws_listener_ops;
	sl->arg = l;
	return (0);
}
