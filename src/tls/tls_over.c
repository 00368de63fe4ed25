/* A TLS client handshake over a given stream (tls_over.h).  The record is
 * the cancel argument of the caller's aio; the one report of the
 * handshake's end (from the connection, or taken by a cancel through
 * tls_conn_abort) finishes the aio. */
#include <stdlib.h>

#include "core/aio.h" /* aio_cancel_barrier, aio_defer */
#include "tls/tls_impl.h"
#include "tls/tls_over.h"

typedef struct tls_over {
	pthread_mutex_t     mtx;
	nghttpw_aio        *user; /* NULL once taken */
	tls_conn           *conn;
	nghttpw_tls_config *cfg;
} tls_over;

static void
over_end(tls_over *o, int rv, bool in_cancel)
{
	nghttpw_aio *user;
	tls_conn    *c;

	pthread_mutex_lock(&o->mtx);
	user    = o->user;
	o->user = NULL;
	c       = o->conn;
	o->conn = NULL;
	pthread_mutex_unlock(&o->mtx);
	if (rv == 0) {
		nghttpw_aio_set_output(user, 0, tls_conn_stream(c));
	} else {
		tls_conn_free(c);
	}
	nghttpw_aio_finish(user, rv);
	if (!in_cancel) {
		/* A cancel function that started before the finish. */
		aio_cancel_barrier(o);
	}
	nghttpw_tls_config_free(o->cfg);
	pthread_mutex_destroy(&o->mtx);
	free(o);
}

static void
over_hs_cb(void *arg, int rv)
{
	over_end(arg, rv, false);
}

static void
over_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	tls_over *o = arg;
	bool      due;

	pthread_mutex_lock(&o->mtx);
	if (o->user != aio) {
		pthread_mutex_unlock(&o->mtx);
		return;
	}
	due = tls_conn_abort(o->conn, rv);
	pthread_mutex_unlock(&o->mtx);
	if (due) {
		over_end(o, rv, true);
	}
	/* Otherwise the handshake ended just now: its report finishes. */
}

void
tls_client_over(nghttpw_stream *lower, nghttpw_tls_config *cfg,
    const char *host, nghttpw_aio *aio)
{
	tls_over *o;
	bool      due;
	int       rv;
	int       hrv;

	if (!nghttpw_aio_begin(aio)) {
		nghttpw_stream_free(lower);
		return;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		nghttpw_stream_free(lower);
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	if (cfg != NULL) {
		nghttpw_tls_config_hold(cfg);
		o->cfg = cfg;
	} else if ((rv = tls_config_default_client(&o->cfg)) != 0) {
		free(o);
		nghttpw_stream_free(lower);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	if ((rv = tls_conn_alloc(&o->conn, lower, o->cfg, host, NULL,
	         over_hs_cb, o)) != 0) {
		nghttpw_tls_config_free(o->cfg);
		free(o);
		nghttpw_stream_free(lower);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	pthread_mutex_init(&o->mtx, NULL);
	o->user = aio;
	pthread_mutex_lock(&o->mtx);
	if (!aio_defer(aio, over_cancel, o)) {
		/* Already stopped: aio_defer finished it. */
		o->user = NULL;
		pthread_mutex_unlock(&o->mtx);
		tls_conn_free(o->conn);
		nghttpw_tls_config_free(o->cfg);
		pthread_mutex_destroy(&o->mtx);
		free(o);
		return;
	}
	/* Started under the lock, so a cancel cannot free the connection
	 * before. */
	due = tls_conn_start(o->conn, &hrv);
	pthread_mutex_unlock(&o->mtx);
	if (due) {
		over_end(o, hrv, false);
	}
}
