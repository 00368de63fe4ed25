/* ws:// and wss:// dialers: an HTTP client connection (TCP or TLS, by
 * the http:// or https:// form of the URL), then the opening handshake.
 * The dial aio finishes once the handshake is over, with the stream as
 * output 0.
 *
 * Each dial is a record on the dialer's list holding a reference to the
 * dialer; its user aio is taken (and finished) by whoever ends the dial
 * first: the connect or handshake callback, a cancel or a close. */
#include <stdlib.h>
#include <string.h>

#include "core/aio.h"
#include "core/list.h"
#include "core/options.h"
#include "nghttpw/tls.h"
#include "tls/tls_settings.h"
#include "ws/ws_impl.h"

typedef struct ws_dialer {
	pthread_mutex_t      mtx;
	pthread_cond_t       idle; /* refs came down to the user's */
	nghttpw_url         *url; /* ws://..., for the request */
	nghttpw_http_client *client;
	ws_endpoint          ep;
	char                *proxy;    /* NGHTTPW_OPT_WS_PROXY, or NULL */
	char                *no_proxy; /* NGHTTPW_OPT_WS_NO_PROXY, or NULL */
	list_node            dials;
	unsigned             refs; /* the user's, plus one per dial */
	bool                 closed;
} ws_dialer;

typedef struct ws_dial {
	list_node         node;
	ws_dialer        *d;
	nghttpw_aio      *user; /* NULL once taken */
	nghttpw_aio      *caio; /* connect, then handshake */
	nghttpw_http_req *req;
	nghttpw_http_res *res;
	bool              shaking;
	task              free_task;
} ws_dial;

static void
dialer_release(ws_dialer *d)
{
	bool last;

	pthread_mutex_lock(&d->mtx);
	last = --d->refs == 0;
	if (d->refs == 1) {
		pthread_cond_broadcast(&d->idle);
	}
	pthread_mutex_unlock(&d->mtx);
	if (last) {
		nghttpw_http_client_free(d->client);
		nghttpw_url_free(d->url);
		free(d->proxy);
		free(d->no_proxy);
		ws_endpoint_fini(&d->ep);
		pthread_cond_destroy(&d->idle);
		pthread_mutex_destroy(&d->mtx);
		free(d);
	}
}

static void
dial_free(void *arg)
{
	ws_dial *r = arg;

	aio_cancel_barrier(r);
	nghttpw_aio_free(r->caio);
	nghttpw_http_req_free(r->req);
	nghttpw_http_res_free(r->res);
	dialer_release(r->d);
	free(r);
}

/* Ends the dial (d's mutex held); the record goes after this callback. */
static void
dial_end_locked(ws_dial *r, int rv, nghttpw_stream *s)
{
	loop *l = loop_current();

	list_remove(&r->node);
	if (r->user != NULL) {
		nghttpw_aio_set_output(r->user, 0, s);
		nghttpw_aio_finish(r->user, rv);
		r->user = NULL;
	} else if (s != NULL) {
		ws_conn_discard(s); /* nobody wants it any more */
	}
	task_init(&r->free_task, dial_free, r);
	if (l != NULL) {
		loop_post(l, &r->free_task);
	} else {
		dial_free(r);
	}
}

static void
dial_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	ws_dial   *r = arg;
	ws_dialer *d = r->d;

	pthread_mutex_lock(&d->mtx);
	if (r->user == aio) {
		r->user = NULL;
		nghttpw_aio_finish(aio, rv);
		nghttpw_aio_abort(r->caio, rv);
	}
	pthread_mutex_unlock(&d->mtx);
}

/* The upgrade request of a dial: the URL's target, the upgrade fields,
 * the dialer's extra fields and subprotocols. */
static int
dial_request(ws_dialer *d, ws_dial *r)
{
	int rv;

	if ((rv = nghttpw_http_req_alloc(&r->req, d->url)) != 0 ||
	    (rv = nghttpw_http_res_alloc(&r->res)) != 0 ||
	    (rv = ws_prepare_request(r->req, &d->ep.set.pmd)) != 0 ||
	    (rv = ws_headers_apply_req(d->ep.headers, r->req)) != 0) {
		return (rv);
	}
	if (d->ep.proto != NULL) {
		rv = nghttpw_http_req_set_header(
		    r->req, "Sec-WebSocket-Protocol", d->ep.proto);
	}
	return (rv);
}

static void
dial_cb(void *arg)
{
	ws_dial           *r  = arg;
	ws_dialer         *d  = r->d;
	int                rv = nghttpw_aio_result(r->caio);
	nghttpw_http_conn *conn;

	pthread_mutex_lock(&d->mtx);
	if (r->shaking) {
		dial_end_locked(r, rv, rv == 0 ? nghttpw_aio_get_output(r->caio, 0) : NULL);
		pthread_mutex_unlock(&d->mtx);
		return;
	}
	conn = rv == 0 ? nghttpw_aio_get_output(r->caio, 0) : NULL;
	if (rv == 0 && (r->user == NULL || d->closed)) {
		rv = r->user == NULL ? NGHTTPW_ECANCELED : NGHTTPW_ECLOSED;
	}
	if (rv == 0) {
		rv = dial_request(d, r);
	}
	if (rv != 0) {
		if (conn != NULL) {
			nghttpw_http_conn_close(conn);
		}
		dial_end_locked(r, rv, NULL);
		pthread_mutex_unlock(&d->mtx);
		return;
	}
	r->shaking = true;
	if (nghttpw_aio_begin(r->caio)) {
		ws_handshake_start(conn, r->req, r->res, r->caio, false, &d->ep.set);
	}
	pthread_mutex_unlock(&d->mtx);
}

static void
ws_dialer_dial(void *arg, nghttpw_aio *aio)
{
	ws_dialer *d = arg;
	ws_dial   *r;
	int        rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	if ((rv = nghttpw_aio_alloc(&r->caio, dial_cb, r)) != 0) {
		free(r);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	r->d    = d;
	r->user = aio;
	pthread_mutex_lock(&d->mtx);
	if (d->closed) {
		pthread_mutex_unlock(&d->mtx);
		nghttpw_aio_free(r->caio);
		free(r);
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		return;
	}
	if (!aio_defer(aio, dial_cancel, r)) {
		pthread_mutex_unlock(&d->mtx);
		nghttpw_aio_free(r->caio);
		free(r);
		return;
	}
	d->refs++;
	list_append(&d->dials, &r->node);
	nghttpw_http_client_connect(d->client, r->caio);
	pthread_mutex_unlock(&d->mtx);
}

static void
ws_dialer_close(void *arg)
{
	ws_dialer *d = arg;

	pthread_mutex_lock(&d->mtx);
	d->closed = true;
	for (list_node *n = d->dials.next; n != &d->dials; n = n->next) {
		ws_dial *r = LIST_ENTRY(n, ws_dial, node);
		if (r->user != NULL) {
			nghttpw_aio_finish(r->user, NGHTTPW_ECLOSED);
			r->user = NULL;
		}
		nghttpw_aio_abort(r->caio, NGHTTPW_ECLOSED);
	}
	pthread_mutex_unlock(&d->mtx);
}

/* A record holds its reference until it is freed, after its last touch
 * of the user's aio and of its connect or handshake. */
static void
ws_dialer_stop(void *arg)
{
	ws_dialer *d = arg;

	ws_dialer_close(d);
	pthread_mutex_lock(&d->mtx);
	while (d->refs > 1) {
		pthread_cond_wait(&d->idle, &d->mtx);
	}
	pthread_mutex_unlock(&d->mtx);
}

static void
ws_dialer_free(void *arg)
{
	ws_dialer_close(arg);
	dialer_release(arg);
}

static int
ws_dialer_get(void *arg, const char *name, void *buf, size_t *szp, nghttpw_type t)
{
	ws_dialer          *d = arg;
	nghttpw_tls_config *cfg;
	int                 rv;

	pthread_mutex_lock(&d->mtx);
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		rv = opt_out_string(d->url->u_rawurl, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		if ((rv = nghttpw_http_client_get_tls(d->client, &cfg)) == 0) {
			rv = opt_out_ptr(cfg, buf, szp, t);
		}
	} else if (tls_setting_is(name)) {
		if ((rv = nghttpw_http_client_get_tls(d->client, &cfg)) == 0) {
			rv = NGHTTPW_EWRITEONLY;
		}
	} else if (strcmp(name, NGHTTPW_OPT_WS_PROXY) == 0) {
		rv = opt_out_string(d->proxy != NULL ? d->proxy : "", buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_WS_NO_PROXY) == 0) {
		rv = opt_out_string(d->no_proxy != NULL ? d->no_proxy : "", buf, szp, t);
	} else {
		rv = ws_endpoint_get(&d->ep, name, buf, szp, t);
	}
	pthread_mutex_unlock(&d->mtx);
	return (rv);
}

/* One of the proxy options: the client takes both anew.  Lock held. */
static int
dialer_set_proxy(ws_dialer *d, bool proxy, const void *buf, size_t sz,
    nghttpw_type t)
{
	char      **slot = proxy ? &d->proxy : &d->no_proxy;
	const char *str;
	char       *old;
	int         rv;

	if ((rv = opt_in_string(buf, sz, t, &str)) != 0) {
		return (rv);
	}
	old = *slot;
	if ((*slot = strdup(str)) == NULL) {
		*slot = old;
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = nghttpw_http_client_set_proxy(
	         d->client, d->proxy, d->no_proxy)) != 0) {
		free(*slot);
		*slot = old;
		return (rv);
	}
	free(old);
	return (0);
}

static int
ws_dialer_set(
    void *arg, const char *name, const void *buf, size_t sz, nghttpw_type t)
{
	ws_dialer *d = arg;
	void      *cfg;
	int        rv;

	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	pthread_mutex_lock(&d->mtx);
	if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		if ((rv = opt_in_ptr(buf, sz, t, &cfg)) == 0) {
			rv = nghttpw_http_client_set_tls(d->client, cfg);
		}
	} else if (strcmp(name, NGHTTPW_OPT_WS_PROXY) == 0 ||
	    strcmp(name, NGHTTPW_OPT_WS_NO_PROXY) == 0) {
		rv = dialer_set_proxy(d, strcmp(name, NGHTTPW_OPT_WS_PROXY) == 0,
		    buf, sz, t);
	} else if (tls_setting_is(name)) {
		/* wss: they act on the configuration of the TLS dialer. */
		nghttpw_tls_config *tls;
		if ((rv = nghttpw_http_client_get_tls(d->client, &tls)) == 0) {
			rv = tls_setting_set(tls, name, buf, sz, t);
		}
	} else {
		rv = ws_endpoint_set(&d->ep, name, buf, sz, t);
	}
	pthread_mutex_unlock(&d->mtx);
	return (rv);
}

static const dialer_ops ws_dialer_ops = {
	.d_free  = ws_dialer_free,
	.d_close = ws_dialer_close,
	.d_stop  = ws_dialer_stop,
	.d_dial  = ws_dialer_dial,
	.d_get   = ws_dialer_get,
	.d_set   = ws_dialer_set,
};

int
ws_dialer_alloc(nghttpw_stream_dialer *sd, const nghttpw_url *url)
{
	ws_dialer *d;
	int        rv;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	/* The HTTP client carries ws over TCP and wss over TLS, with the
	 * address family of ws4, ws6, wss4 and wss6. */
	if ((rv = nghttpw_url_clone(&d->url, url)) != 0 ||
	    (rv = nghttpw_http_client_alloc(&d->client, url)) != 0) {
		nghttpw_url_free(d->url);
		free(d);
		return (rv);
	}
	pthread_mutex_init(&d->mtx, NULL);
	pthread_cond_init(&d->idle, NULL);
	list_init(&d->dials);
	ws_endpoint_init(&d->ep, false);
	d->refs = 1;
	sd->ops = &ws_dialer_ops;
	sd->arg = d;
	return (0);
}
