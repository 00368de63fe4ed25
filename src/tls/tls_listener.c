/* TLS listeners: a TCP listener (made through the public API from the
 * tcp:// form of the URL) whose connections are handshaken before accept
 * hands them out.  While accepts wait, TCP connections are taken in and
 * handshaken side by side (up to TLS_MAX_HANDSHAKES), so one slow or
 * silent client holds up nobody; each handshake has TLS_HS_TIMEOUT_MS.
 * A handshake that ends well goes to the oldest waiting accept, or waits
 * for the next one.  One that fails drops the connection and goes to the
 * configuration's log hook; only with NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS set
 * is it also reported to the oldest waiting accept (NGHTTPW_EPEERAUTH,
 * NGHTTPW_ECRYPTO, ...): a bad client must not look like a failing
 * listener to a server that backs off on accept errors. */
#include <stdlib.h>
#include <string.h>

#include "core/aio.h" /* aio_cancel_barrier */
#include "core/list.h"
#include "core/options.h"
#include "core/stream.h"
#include "tls/tls_impl.h"

#define TLS_MAX_HANDSHAKES 64
#define TLS_HS_TIMEOUT_MS 10000

typedef struct tls_listener {
	pthread_mutex_t          mtx;
	nghttpw_stream_listener *tcp;
	nghttpw_tls_config      *cfg;
	char                    *url; /* as given, for NGHTTPW_OPT_URL */
	nghttpw_aio             *acc; /* the TCP accept */
	bool                     acc_busy;
	nghttpw_aio            **waiting; /* the user's accepts, oldest first */
	size_t                   nwaiting;
	size_t                   cap_waiting;
	list_node                handshakes;
	unsigned                 nhandshakes;
	tls_conn               **ready; /* handshaken, not yet accepted */
	size_t                   nready;
	bool                     listening;
	bool                     closed;
	bool                     report_errors;
	unsigned                 refs; /* the user's, the TCP accept's, and
	                                  one per handshake record */
	task                     free_task;
} tls_listener;

/* One handshake in progress. */
typedef struct tls_lhs {
	list_node     node;
	tls_listener *l;
	tls_conn     *conn;
	nghttpw_aio  *timer;
	unsigned      refs; /* the handshake's, the timer's */
	bool          done;
	struct tls_lhs *next_end; /* while a close ends it */
	task            free_task;
} tls_lhs;

static void
listener_destroy(void *arg)
{
	tls_listener *l = arg;

	aio_cancel_barrier(l);
	nghttpw_aio_free(l->acc);
	nghttpw_stream_listener_free(l->tcp);
	nghttpw_tls_config_free(l->cfg);
	free(l->waiting);
	free(l->ready);
	free(l->url);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

static void
listener_release(tls_listener *l)
{
	bool last;

	pthread_mutex_lock(&l->mtx);
	last = --l->refs == 0;
	pthread_mutex_unlock(&l->mtx);
	if (last) {
		/* Maybe inside l->acc's callback: free after it. */
		tls_run_later(&l->free_task, listener_destroy, l);
	}
}

static void
lhs_destroy(void *arg)
{
	tls_lhs      *h = arg;
	tls_listener *l = h->l;

	nghttpw_aio_free(h->timer);
	free(h);
	listener_release(l);
}

/* Drops a reference to h; l's mutex held.  True when h is gone: the
 * caller then calls lhs_gone, after unlocking. */
static bool
lhs_release_locked(tls_lhs *h)
{
	return (--h->refs == 0);
}

static void
lhs_gone(tls_lhs *h)
{
	/* Maybe inside h->timer's callback: free after it. */
	tls_run_later(&h->free_task, lhs_destroy, h);
}

static nghttpw_aio *
listener_pop_waiting_locked(tls_listener *l)
{
	nghttpw_aio *aio;

	if (l->nwaiting == 0) {
		return (NULL);
	}
	aio = l->waiting[0];
	memmove(l->waiting, l->waiting + 1, (l->nwaiting - 1) * sizeof(*l->waiting));
	l->nwaiting--;
	return (aio);
}

/* Keeps a TCP accept going while someone waits and there is room. */
static void
listener_kick_locked(tls_listener *l)
{
	if (!l->closed && l->listening && !l->acc_busy && l->nwaiting > 0 &&
	    l->nhandshakes + l->nready < TLS_MAX_HANDSHAKES) {
		l->acc_busy = true;
		l->refs++;
		nghttpw_stream_listener_accept(l->tcp, l->acc);
	}
}

/* A handshake ended. */
static void
lhs_end(tls_lhs *h, int rv)
{
	tls_listener *l    = h->l;
	tls_conn     *drop = NULL;
	nghttpw_aio  *aio;
	bool          gone;

	pthread_mutex_lock(&l->mtx);
	h->done = true;
	list_remove(&h->node);
	l->nhandshakes--;
	nghttpw_aio_abort(h->timer, NGHTTPW_ECANCELED);
	if (l->closed) {
		drop = h->conn;
	} else if (rv == 0) {
		if ((aio = listener_pop_waiting_locked(l)) != NULL) {
			nghttpw_aio_set_output(aio, 0, tls_conn_stream(h->conn));
			nghttpw_aio_finish(aio, 0);
		} else {
			/* Room was made for it: nready + nhandshakes is
			 * bounded, and cap_ready is TLS_MAX_HANDSHAKES. */
			l->ready[l->nready++] = h->conn;
		}
	} else {
		drop = h->conn;
		if (l->report_errors &&
		    (aio = listener_pop_waiting_locked(l)) != NULL) {
			nghttpw_aio_finish(aio, rv);
		}
	}
	listener_kick_locked(l);
	gone = lhs_release_locked(h);
	pthread_mutex_unlock(&l->mtx);
	if (drop != NULL) {
		tls_conn_free(drop);
	}
	if (gone) {
		lhs_gone(h);
	}
}

static void
lhs_hs_cb(void *arg, int rv)
{
	lhs_end(arg, rv);
}

static void
lhs_timer_cb(void *arg)
{
	tls_lhs      *h = arg;
	tls_listener *l = h->l;
	bool          due = false;
	bool          gone;

	pthread_mutex_lock(&l->mtx);
	if (nghttpw_aio_result(h->timer) == 0 && !h->done) {
		due = tls_conn_abort(h->conn, NGHTTPW_ETIMEDOUT);
	}
	pthread_mutex_unlock(&l->mtx);
	if (due) {
		lhs_end(h, NGHTTPW_ETIMEDOUT);
	}
	pthread_mutex_lock(&l->mtx);
	gone = lhs_release_locked(h);
	pthread_mutex_unlock(&l->mtx);
	if (gone) {
		lhs_gone(h);
	}
}

/* The TCP accept ended. */
static void
listener_acc_cb(void *arg)
{
	tls_listener   *l  = arg;
	int             rv = nghttpw_aio_result(l->acc);
	nghttpw_stream *s  = nghttpw_aio_get_output(l->acc, 0);
	nghttpw_aio    *aio;
	tls_lhs        *h = NULL;
	bool            due = false;
	int             hrv = 0;

	pthread_mutex_lock(&l->mtx);
	l->acc_busy = false;
	if (l->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if (rv == 0) {
		if ((h = calloc(1, sizeof(*h))) == NULL) {
			rv = NGHTTPW_ENOMEM;
		} else if ((rv = nghttpw_aio_alloc(&h->timer, lhs_timer_cb, h)) ==
		        0 &&
		    (rv = tls_conn_alloc(
		         &h->conn, s, l->cfg, NULL, NULL, lhs_hs_cb, h)) == 0) {
			s       = NULL; /* the connection's now */
			h->l    = l;
			h->refs = 2;
			l->refs++; /* until h is gone */
			list_append(&l->handshakes, &h->node);
			l->nhandshakes++;
			nghttpw_sleep_aio(TLS_HS_TIMEOUT_MS, h->timer);
			due = tls_conn_start(h->conn, &hrv);
		} else {
			nghttpw_aio_free(h->timer);
			free(h);
			h = NULL;
		}
	}
	if (rv != 0 && !l->closed && (aio = listener_pop_waiting_locked(l)) != NULL) {
		nghttpw_aio_finish(aio, rv);
	}
	listener_kick_locked(l);
	pthread_mutex_unlock(&l->mtx);
	nghttpw_stream_free(s);
	if (due) {
		lhs_end(h, hrv);
	}
	listener_release(l);
}

static void
listener_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	tls_listener *l = arg;

	pthread_mutex_lock(&l->mtx);
	for (size_t i = 0; i < l->nwaiting; i++) {
		if (l->waiting[i] == aio) {
			memmove(&l->waiting[i], &l->waiting[i + 1],
			    (l->nwaiting - i - 1) * sizeof(*l->waiting));
			l->nwaiting--;
			nghttpw_aio_finish(aio, rv);
			break;
		}
	}
	pthread_mutex_unlock(&l->mtx);
}

static int
listener_reserve_locked(tls_listener *l)
{
	if (l->nwaiting == l->cap_waiting) {
		size_t        cap = l->cap_waiting * 2 + 4;
		nghttpw_aio **v   = realloc(l->waiting, cap * sizeof(*v));
		if (v == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		l->waiting     = v;
		l->cap_waiting = cap;
	}
	return (0);
}

static void
tls_listener_accept(void *arg, nghttpw_aio *aio)
{
	tls_listener *l = arg;
	int           rv;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if (!l->listening) {
		rv = NGHTTPW_ESTATE;
	} else if (l->nready > 0) {
		tls_conn *c = l->ready[0];
		memmove(l->ready, l->ready + 1, (l->nready - 1) * sizeof(*l->ready));
		l->nready--;
		nghttpw_aio_set_output(aio, 0, tls_conn_stream(c));
		listener_kick_locked(l);
		rv = 0;
	} else if ((rv = listener_reserve_locked(l)) == 0) {
		if (nghttpw_aio_defer(aio, listener_cancel, l)) {
			l->waiting[l->nwaiting++] = aio;
			listener_kick_locked(l);
		}
		pthread_mutex_unlock(&l->mtx);
		return;
	}
	pthread_mutex_unlock(&l->mtx);
	nghttpw_aio_finish(aio, rv);
}

static int
tls_listener_listen(void *arg)
{
	tls_listener *l = arg;
	int           rv;

	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if (l->listening) {
		rv = NGHTTPW_ESTATE;
	} else if (l->cfg == NULL || !tls_config_has_cert(l->cfg)) {
		/* Nothing to present to clients. */
		rv = NGHTTPW_EINVAL;
	} else if ((rv = nghttpw_stream_listener_listen(l->tcp)) == 0) {
		l->listening = true;
	}
	pthread_mutex_unlock(&l->mtx);
	return (rv);
}

static void
tls_listener_close(void *arg)
{
	tls_listener *l     = arg;
	tls_lhs      *ended = NULL;
	list_node    *node;
	nghttpw_aio  *aio;
	tls_conn    **ready;
	size_t        nready;

	pthread_mutex_lock(&l->mtx);
	if (l->closed) {
		pthread_mutex_unlock(&l->mtx);
		return;
	}
	l->closed = true;
	while ((aio = listener_pop_waiting_locked(l)) != NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	}
	/* Handshakes whose report we take end here; the others are about
	 * to report, and will see the listener closed. */
	for (node = l->handshakes.next; node != &l->handshakes; node = node->next) {
		tls_lhs *h = LIST_ENTRY(node, tls_lhs, node);
		if (tls_conn_abort(h->conn, NGHTTPW_ECLOSED)) {
			h->next_end = ended;
			ended       = h;
		}
	}
	ready     = l->ready;
	nready    = l->nready;
	l->ready  = NULL;
	l->nready = 0;
	pthread_mutex_unlock(&l->mtx);
	nghttpw_stream_listener_close(l->tcp);
	while (ended != NULL) {
		tls_lhs *h = ended;
		ended      = h->next_end;
		lhs_end(h, NGHTTPW_ECLOSED);
	}
	for (size_t i = 0; i < nready; i++) {
		tls_conn_free(ready[i]);
	}
	free(ready);
}

static void
tls_listener_free(void *arg)
{
	tls_listener_close(arg);
	listener_release(arg);
}

static int
tls_listener_get(void *arg, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	tls_listener *l = arg;
	int           rv;

	if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		pthread_mutex_lock(&l->mtx);
		rv = l->cfg != NULL ? opt_out_ptr(l->cfg, buf, szp, t)
		                    : NGHTTPW_ENOENT;
		pthread_mutex_unlock(&l->mtx);
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS) == 0) {
		pthread_mutex_lock(&l->mtx);
		rv = opt_out_bool(l->report_errors, buf, szp, t);
		pthread_mutex_unlock(&l->mtx);
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (opt_out_string(l->url, buf, szp, t));
	}
	/* The rest are the TCP listener's: its URL is the tcp:// one. */
	return (listener_get_opt(l->tcp, name, buf, szp, t));
}

static int
tls_listener_set(void *arg, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	tls_listener *l = arg;
	int           rv;

	if (strcmp(name, NGHTTPW_OPT_TLS_CONFIG) == 0) {
		return (tls_config_opt_set(&l->mtx, &l->cfg,
		    NGHTTPW_TLS_MODE_SERVER, buf, sz, t, NULL, NULL));
	}
	if (strcmp(name, NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS) == 0) {
		bool b;
		if ((rv = opt_in_bool(buf, sz, t, &b)) == 0) {
			pthread_mutex_lock(&l->mtx);
			l->report_errors = b;
			pthread_mutex_unlock(&l->mtx);
		}
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	return (listener_set_opt(l->tcp, name, buf, sz, t));
}

static const listener_ops tls_listener_ops = {
	.l_free   = tls_listener_free,
	.l_close  = tls_listener_close,
	.l_listen = tls_listener_listen,
	.l_accept = tls_listener_accept,
	.l_get    = tls_listener_get,
	.l_set    = tls_listener_set,
};

int
tls_listener_alloc(nghttpw_stream_listener *sl, const nghttpw_url *url)
{
	tls_listener *l;
	char         *tcp_url;
	int           rv;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((l->ready = calloc(TLS_MAX_HANDSHAKES, sizeof(*l->ready))) == NULL ||
	    (l->url = strdup(url->u_rawurl)) == NULL) {
		free(l->ready);
		free(l);
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = tls_lower_url(url, &tcp_url)) != 0) {
		free(l->url);
		free(l->ready);
		free(l);
		return (rv);
	}
	rv = nghttpw_stream_listener_alloc(&l->tcp, tcp_url);
	free(tcp_url);
	if (rv == 0 && (rv = nghttpw_aio_alloc(&l->acc, listener_acc_cb, l)) != 0) {
		nghttpw_stream_listener_free(l->tcp);
	}
	if (rv != 0) {
		free(l->url);
		free(l->ready);
		free(l);
		return (rv);
	}
	nghttpw_aio_set_timeout(l->acc, NGHTTPW_DURATION_INFINITE);
	pthread_mutex_init(&l->mtx, NULL);
	list_init(&l->handshakes);
	l->refs = 1;
	sl->ops = &tls_listener_ops;
	sl->arg = l;
	return (0);
}
