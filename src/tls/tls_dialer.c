/* TLS dialers: a TCP dialer (made through the public API from the tcp://
 * form of the URL), then a handshake; the dial aio completes only when the
 * handshake is over, so verification failures come back from the dial.
 *
 * Each dial is a record on the dialer's list, and the cancel argument of
 * the user's aio for the whole dial.  While the TCP dial runs, whoever
 * takes r->user (the TCP dial's end, a cancel, a close) finishes the aio;
 * during the handshake the one report of its end (from the connection, or
 * taken by a cancel or close through tls_conn_abort) does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/aio.h" /* aio_cancel_barrier */
#include "core/list.h"
#include "core/options.h"
#include "core/stream.h"
#include "tls/tls_impl.h"
#include "tls/tls_settings.h"

typedef struct tls_dialer {
	pthread_mutex_t        mtx;
	pthread_cond_t         idle; /* refs came down to the user's */
	nghttpw_stream_dialer *tcp;
	nghttpw_tls_config    *cfg;  /* NULL until set or first needed */
	char                  *url;  /* as given, for NGHTTPW_OPT_URL */
	char                  *host; /* from the URL: SNI and verification */
	mbedtls_ssl_session    session;
	bool                   have_session;
	list_node              dials;
	unsigned               refs; /* the user's, plus one per dial */
	bool                   closed;
} tls_dialer;

typedef struct tls_dial {
	list_node           node;
	tls_dialer         *d;
	nghttpw_aio        *user;  /* NULL once taken */
	nghttpw_aio        *lower; /* the TCP dial */
	tls_conn           *conn;  /* during the handshake */
	nghttpw_tls_config *cfg;
	task                free_task;
} tls_dial;

static void
dialer_release(tls_dialer *d)
{
	bool last;

	pthread_mutex_lock(&d->mtx);
	last = --d->refs == 0;
	if (d->refs == 1) {
		pthread_cond_broadcast(&d->idle);
	}
	pthread_mutex_unlock(&d->mtx);
	if (last) {
		nghttpw_stream_dialer_free(d->tcp);
		nghttpw_tls_config_free(d->cfg);
		mbedtls_ssl_session_free(&d->session);
		pthread_cond_destroy(&d->idle);
		pthread_mutex_destroy(&d->mtx);
		free(d->url);
		free(d->host);
		free(d);
	}
}

static void
dial_destroy(tls_dial *r)
{
	tls_dialer *d = r->d;

	nghttpw_aio_free(r->lower);
	nghttpw_tls_config_free(r->cfg);
	free(r);
	dialer_release(d);
}

static void
dial_free_task(void *arg)
{
	/* A cancel function of r's that runs elsewhere must be over. */
	aio_cancel_barrier(arg);
	dial_destroy(arg);
}

/* Frees r once the user's aio is finished.  in_cancel: called from r's
 * own cancel function, whose end a barrier here would wait for. */
static void
dial_free(tls_dial *r, bool in_cancel)
{
	if (loop_current() != NULL) {
		/* Maybe inside r->lower's callback: free after it. */
		tls_run_later(&r->free_task, dial_free_task, r);
		return;
	}
	if (!in_cancel) {
		aio_cancel_barrier(r);
	}
	dial_destroy(r);
}

/* The handshake is over (rv 0) or failed. */
static void
dial_hs_end(tls_dial *r, int rv, bool in_cancel)
{
	tls_dialer  *d = r->d;
	nghttpw_aio *user;
	tls_conn    *c;

	pthread_mutex_lock(&d->mtx);
	user    = r->user;
	r->user = NULL;
	c       = r->conn;
	r->conn = NULL;
	if (list_linked(&r->node)) {
		list_remove(&r->node);
	}
	if (rv == 0 && user != NULL && r->cfg == d->cfg) {
		/* Keep the session for the next dial to resume. */
		mbedtls_ssl_session s;
		mbedtls_ssl_session_init(&s);
		if (tls_conn_get_session(c, &s) == 0) {
			mbedtls_ssl_session_free(&d->session);
			d->session      = s;
			d->have_session = true;
		} else {
			mbedtls_ssl_session_free(&s);
		}
	}
	pthread_mutex_unlock(&d->mtx);
	if (user != NULL && rv == 0) {
		nghttpw_aio_set_output(user, 0, tls_conn_stream(c));
		nghttpw_aio_finish(user, 0);
	} else {
		tls_conn_free(c);
		if (user != NULL) {
			nghttpw_aio_finish(user, rv);
		}
	}
	dial_free(r, in_cancel);
}

static void
dial_hs_cb(void *arg, int rv)
{
	dial_hs_end(arg, rv, false);
}

/* The TCP dial ended. */
static void
dial_lower_cb(void *arg)
{
	tls_dial       *r  = arg;
	tls_dialer     *d  = r->d;
	int             rv = nghttpw_aio_result(r->lower);
	nghttpw_stream *s  = nghttpw_aio_get_output(r->lower, 0);
	nghttpw_aio    *user;
	tls_conn       *c;
	bool            due;
	int             hrv;

	pthread_mutex_lock(&d->mtx);
	if ((user = r->user) == NULL) {
		/* Cancelled or closed: the aio is finished already. */
		pthread_mutex_unlock(&d->mtx);
		nghttpw_stream_free(s);
		dial_free(r, false);
		return;
	}
	if (rv == 0 &&
	    (rv = tls_conn_alloc(&c, s, r->cfg, d->host,
	         d->have_session && r->cfg == d->cfg ? &d->session : NULL,
	         dial_hs_cb, r)) != 0) {
		nghttpw_stream_free(s);
	}
	if (rv != 0) {
		r->user = NULL;
		list_remove(&r->node);
		pthread_mutex_unlock(&d->mtx);
		nghttpw_aio_finish(user, rv);
		dial_free(r, false);
		return;
	}
	/* Started under the lock, so a cancel cannot free c before. */
	r->conn = c;
	due     = tls_conn_start(c, &hrv);
	pthread_mutex_unlock(&d->mtx);
	if (due) {
		dial_hs_end(r, hrv, false);
	}
}

static void
dial_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	tls_dial   *r = arg;
	tls_dialer *d = r->d;
	bool        due;

	pthread_mutex_lock(&d->mtx);
	if (r->user != aio) {
		pthread_mutex_unlock(&d->mtx);
		return;
	}
	if (r->conn == NULL) {
		/* Still connecting: finish now; the TCP dial's callback,
		 * which the abort brings soon, frees the record. */
		r->user = NULL;
		list_remove(&r->node);
		pthread_mutex_unlock(&d->mtx);
		nghttpw_aio_finish(aio, rv);
		nghttpw_aio_abort(r->lower, rv);
		return;
	}
	due = tls_conn_abort(r->conn, rv);
	pthread_mutex_unlock(&d->mtx);
	if (due) {
		dial_hs_end(r, rv, true);
	}
	/* Otherwise the handshake ended just now and its report is on the
	 * way; it finishes the aio. */
}

static int
dialer_config_locked(tls_dialer *d, nghttpw_tls_config **cfgp)
{
	int rv;

	if (d->cfg == NULL &&
	    (rv = tls_config_default_client(&d->cfg)) != 0) {
		return (rv);
	}
	*cfgp = d->cfg;
	return (0);
}

static void
tls_dialer_dial(void *arg, nghttpw_aio *aio)
{
	tls_dialer *d = arg;
	tls_dial   *r;
	int         rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	if ((rv = nghttpw_aio_alloc(&r->lower, dial_lower_cb, r)) != 0) {
		free(r);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	r->d    = d;
	r->user = aio;
	pthread_mutex_lock(&d->mtx);
	if (d->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if ((rv = dialer_config_locked(d, &r->cfg)) == 0) {
		nghttpw_tls_config_hold(r->cfg);
		if (!aio_defer(aio, dial_cancel, r)) {
			pthread_mutex_unlock(&d->mtx);
			nghttpw_tls_config_free(r->cfg);
			nghttpw_aio_free(r->lower);
			free(r);
			return;
		}
		/* The user's aio times the whole dial; the TCP part has
		 * none of its own. */
		nghttpw_aio_set_timeout(r->lower, NGHTTPW_DURATION_INFINITE);
		list_append(&d->dials, &r->node);
		d->refs++;
		nghttpw_stream_dialer_dial(d->tcp, r->lower);
		pthread_mutex_unlock(&d->mtx);
		return;
	}
	pthread_mutex_unlock(&d->mtx);
	nghttpw_aio_free(r->lower);
	free(r);
	nghttpw_aio_finish(aio, rv);
}

static void
tls_dialer_close(void *arg)
{
	tls_dialer *d = arg;
	list_node   ended;
	list_node  *node;

	list_init(&ended);
	pthread_mutex_lock(&d->mtx);
	d->closed = true;
	while ((node = list_first(&d->dials)) != NULL) {
		tls_dial    *r = LIST_ENTRY(node, tls_dial, node);
		nghttpw_aio *user;

		list_remove(node);
		if (r->conn != NULL && tls_conn_abort(r->conn, NGHTTPW_ECLOSED)) {
			/* We own the report: give it after the lock. */
			list_append(&ended, &r->node);
			continue;
		}
		user    = r->user;
		r->user = NULL;
		nghttpw_aio_finish(user, NGHTTPW_ECLOSED);
		if (r->conn == NULL) {
			/* Its callback frees the record. */
			nghttpw_aio_abort(r->lower, NGHTTPW_ECLOSED);
		}
		/* Else a handshake report is on its way: it sees no user and
		 * frees the connection and the record. */
	}
	pthread_mutex_unlock(&d->mtx);
	nghttpw_stream_dialer_close(d->tcp);
	while ((node = list_first(&ended)) != NULL) {
		list_remove(node);
		dial_hs_end(LIST_ENTRY(node, tls_dial, node), NGHTTPW_ECLOSED, false);
	}
}

/* A record holds its reference until it is destroyed, after its last
 * touch of the user's aio, of its TCP dial and of its handshake. */
static void
tls_dialer_stop(void *arg)
{
	tls_dialer *d = arg;

	tls_dialer_close(d);
	nghttpw_stream_dialer_stop(d->tcp);
	pthread_mutex_lock(&d->mtx);
	while (d->refs > 1) {
		pthread_cond_wait(&d->idle, &d->mtx);
	}
	pthread_mutex_unlock(&d->mtx);
}

static void
tls_dialer_free(void *arg)
{
	tls_dialer_close(arg);
	dialer_release(arg);
}

static int
tls_dialer_get(void *arg, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	tls_dialer         *d = arg;
	nghttpw_tls_config *cfg;
	int                 rv;

	if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		pthread_mutex_lock(&d->mtx);
		if ((rv = dialer_config_locked(d, &cfg)) == 0) {
			rv = opt_out_ptr(cfg, buf, szp, t);
		}
		pthread_mutex_unlock(&d->mtx);
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (opt_out_string(d->url, buf, szp, t));
	}
	if (tls_setting_is(name)) {
		return (NGHTTPW_EWRITEONLY);
	}
	/* The rest are the TCP dialer's: its URL is the tcp:// one. */
	return (dialer_get_opt(d->tcp, name, buf, szp, t));
}

/* The configuration was replaced: a session belongs to the one it was
 * made with.  Lock held. */
static void
dialer_forget_session(void *arg)
{
	tls_dialer *d = arg;

	mbedtls_ssl_session_free(&d->session);
	mbedtls_ssl_session_init(&d->session);
	d->have_session = false;
}

static int
tls_dialer_set(void *arg, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	tls_dialer *d = arg;

	if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		return (tls_config_opt_set(&d->mtx, &d->cfg,
		    NGHTTPW_TLS_MODE_CLIENT, buf, sz, t, dialer_forget_session, d));
	}
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	if (tls_setting_is(name)) {
		nghttpw_tls_config *cfg;
		int                 rv;

		pthread_mutex_lock(&d->mtx);
		if ((rv = dialer_config_locked(d, &cfg)) == 0) {
			nghttpw_tls_config_hold(cfg);
		}
		pthread_mutex_unlock(&d->mtx);
		if (rv == 0) {
			rv = tls_setting_set(cfg, name, buf, sz, t);
			nghttpw_tls_config_free(cfg);
		}
		return (rv);
	}
	return (dialer_set_opt(d->tcp, name, buf, sz, t));
}

static const dialer_ops tls_dialer_ops = {
	.d_free  = tls_dialer_free,
	.d_close = tls_dialer_close,
	.d_stop  = tls_dialer_stop,
	.d_dial  = tls_dialer_dial,
	.d_get   = tls_dialer_get,
	.d_set   = tls_dialer_set,
};

/* tls+tcp://h:p -> tcp://h:p (tcp4, tcp6 likewise); https and wss -> tcp. */
int
tls_lower_url(const nghttpw_url *url, char **outp)
{
	const char *scheme;
	const char *host = url->u_hostname != NULL ? url->u_hostname : "";
	const char *port;
	bool        v6   = strchr(host, ':') != NULL;
	size_t      len;
	char       *out;

	if (strcmp(url->u_scheme, "tls+tcp4") == 0) {
		scheme = "tcp4";
	} else if (strcmp(url->u_scheme, "tls+tcp6") == 0) {
		scheme = "tcp6";
	} else {
		scheme = "tcp";
	}
	len = strlen(scheme) + strlen(host) +
	    (url->u_port != NULL ? strlen(url->u_port) : 0) + 8;
	if ((out = malloc(len)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	/* No port stays no port ("host:" is not a URL): TCP then says
	 * what a missing port means for a dialer or a listener. */
	port = url->u_port != NULL ? url->u_port : "";
	snprintf(out, len, "%s://%s%s%s%s%s", scheme, v6 ? "[" : "", host,
	    v6 ? "]" : "", port[0] != '\0' ? ":" : "", port);
	*outp = out;
	return (0);
}

int
tls_dialer_alloc(nghttpw_stream_dialer *sd, const nghttpw_url *url)
{
	tls_dialer *d;
	char       *tcp_url;
	int         rv;

	if ((d = calloc(1, sizeof(*d))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = tls_lower_url(url, &tcp_url)) != 0) {
		free(d);
		return (rv);
	}
	rv = nghttpw_stream_dialer_alloc(&d->tcp, tcp_url);
	free(tcp_url);
	if (rv != 0) {
		free(d);
		return (rv);
	}
	if ((d->url = strdup(url->u_rawurl)) == NULL ||
	    (d->host = strdup(url->u_hostname)) == NULL) {
		nghttpw_stream_dialer_free(d->tcp);
		free(d->url);
		free(d);
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&d->mtx, NULL);
	pthread_cond_init(&d->idle, NULL);
	mbedtls_ssl_session_init(&d->session);
	list_init(&d->dials);
	d->refs = 1;
	sd->ops = &tls_dialer_ops;
	sd->arg = d;
	return (0);
}
