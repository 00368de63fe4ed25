/* TCP dialers.  Each dial in progress is a record on the dialer's list;
 * whoever takes the record off the list (the connect finishing, a cancel,
 * or the dialer closing) owns the aio and finishes it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/aio.h"
#include "core/options.h"
#include "core/tcp.h"
#include "platform/socket.h"

typedef struct tcp_dialer {
	pthread_mutex_t mtx;
	pthread_cond_t  idle; /* refs came down to the user's */
	char           *url; /* as given, for NGHTTPW_OPT_URL */
	char           *host;
	char           *port;
	int             family;
	tcp_settings    settings;
	list_node       dials;
	unsigned        refs; /* the user's, plus one per dial record */
	bool            closed;
} tcp_dialer;

typedef struct dial_rec {
	list_node               node;
	tcp_dialer             *d;
	nghttpw_aio            *aio;
	void                   *conn;      /* handle from tcp_conn_connect */
	bool                    resolving; /* the resolver owns the record */
	task                    resolve_task;
	struct sockaddr_storage addr;
	socklen_t               addrlen;
} dial_rec;

static void
dialer_release(tcp_dialer *d)
{
	bool last;

	pthread_mutex_lock(&d->mtx);
	last = --d->refs == 0;
	if (d->refs == 1) {
		pthread_cond_broadcast(&d->idle);
	}
	pthread_mutex_unlock(&d->mtx);
	if (last) {
		pthread_cond_destroy(&d->idle);
		pthread_mutex_destroy(&d->mtx);
		free(d->url);
		free(d->host);
		free(d->port);
		free(d);
	}
}

static void
dial_rec_free(dial_rec *r)
{
	tcp_dialer *d = r->d;

	aio_cancel_barrier(r);
	free(r);
	dialer_release(d);
}

/* The connect ended; runs on the stream's loop. */
static void
dial_done(void *arg, int rv, nghttpw_stream *s)
{
	dial_rec    *r = arg;
	tcp_dialer  *d = r->d;
	nghttpw_aio *aio = NULL;

	pthread_mutex_lock(&d->mtx);
	if (list_linked(&r->node)) {
		list_remove(&r->node);
		aio = r->aio;
	}
	pthread_mutex_unlock(&d->mtx);
	if (aio == NULL) {
		/* Cancelled while connecting: the aio is already finished. */
		if (s != NULL) {
			nghttpw_stream_free(s);
		}
	} else {
		nghttpw_aio_set_output(aio, 0, s);
		nghttpw_aio_finish(aio, rv);
	}
	dial_rec_free(r);
}

/* Takes r off the list; d's mutex held.  Returns true if r is now the
 * caller's to free; false if the resolver or the connect still holds it
 * and will free it when it reports. */
static bool
dial_take_locked(dial_rec *r)
{
	list_remove(&r->node);
	if (r->resolving) {
		return (false); /* the resolver frees it when it is done */
	}
	return (tcp_conn_abort_connect(r->conn));
}

static void
dial_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	dial_rec   *r = arg;
	tcp_dialer *d = r->d;
	bool        owned = false;
	bool        aborted = false;

	pthread_mutex_lock(&d->mtx);
	if (list_linked(&r->node) && r->aio == aio) {
		owned   = true;
		aborted = dial_take_locked(r);
	}
	pthread_mutex_unlock(&d->mtx);
	if (owned) {
		nghttpw_aio_finish(aio, rv);
		if (aborted) {
			/* Not dial_rec_free: its barrier would wait for us. */
			free(r);
			dialer_release(d);
		}
	}
}

/* The address is known (or not): start the connect.  Runs on the dialing
 * thread for numeric hosts, else on the resolver thread. */
static void
dial_resolved(dial_rec *r, int rv)
{
	tcp_dialer *d  = r->d;
	int         fd = -1;

	if (rv == 0) {
		fd = socket(r->addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			rv = plat_errno_result(errno);
		} else if (connect(fd, (void *) &r->addr, r->addrlen) != 0 &&
		    errno != EINPROGRESS) {
			rv = plat_errno_result(errno);
		}
	}
	pthread_mutex_lock(&d->mtx);
	if (!list_linked(&r->node)) {
		/* Cancelled or closed meanwhile; the aio is finished. */
		pthread_mutex_unlock(&d->mtx);
	} else if (rv == 0 && (rv = tcp_conn_connect(fd, &d->settings, dial_done,
	                           r, &r->conn)) == 0) {
		r->resolving = false;
		pthread_mutex_unlock(&d->mtx);
		return;
	} else {
		list_remove(&r->node);
		pthread_mutex_unlock(&d->mtx);
		nghttpw_aio_finish(r->aio, rv);
	}
	if (fd >= 0) {
		close(fd);
	}
	dial_rec_free(r);
}

static void
dial_resolve_task(void *arg)
{
	dial_rec   *r = arg;
	tcp_dialer *d = r->d;

	dial_resolved(r, plat_resolve(d->host, d->port, d->family, false,
	                     &r->addr, &r->addrlen));
}

static bool
host_is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return (inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1);
}

static void
tcp_dialer_dial(void *arg, nghttpw_aio *aio)
{
	tcp_dialer *d = arg;
	dial_rec   *r;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	r->d         = d;
	r->aio       = aio;
	r->resolving = true;
	pthread_mutex_lock(&d->mtx);
	if (d->closed) {
		pthread_mutex_unlock(&d->mtx);
		free(r);
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		return;
	}
	if (!aio_defer(aio, dial_cancel, r)) {
		pthread_mutex_unlock(&d->mtx);
		free(r);
		return;
	}
	list_append(&d->dials, &r->node);
	d->refs++;
	pthread_mutex_unlock(&d->mtx);

	if (host_is_numeric(d->host)) {
		dial_resolved(r, plat_resolve(d->host, d->port, d->family, false,
		                     &r->addr, &r->addrlen));
	} else {
		/* Name lookups may block: never on the caller's (possibly I/O)
		 * thread. */
		task_init(&r->resolve_task, dial_resolve_task, r);
		runtime_reap(&r->resolve_task);
	}
}

static void
tcp_dialer_close(void *arg)
{
	tcp_dialer *d = arg;
	list_node   taken;
	list_node  *node;

	list_init(&taken);
	pthread_mutex_lock(&d->mtx);
	d->closed = true;
	while ((node = list_first(&d->dials)) != NULL) {
		dial_rec *r = LIST_ENTRY(node, dial_rec, node);
		nghttpw_aio *aio = r->aio;
		if (dial_take_locked(r)) {
			list_append(&taken, &r->node);
		}
		/* Finished under the lock: a record not handed back is freed by its
		 * resolver or connect report as soon as we let go. */
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
	}
	pthread_mutex_unlock(&d->mtx);
	while ((node = list_first(&taken)) != NULL) {
		list_remove(node);
		dial_rec_free(LIST_ENTRY(node, dial_rec, node));
	}
}

/* Every record holds a reference until its last touch of the aio and of
 * d: once only the user's is left, no dial of d is in progress. */
static void
tcp_dialer_stop(void *arg)
{
	tcp_dialer *d = arg;

	tcp_dialer_close(d);
	pthread_mutex_lock(&d->mtx);
	while (d->refs > 1) {
		pthread_cond_wait(&d->idle, &d->mtx);
	}
	pthread_mutex_unlock(&d->mtx);
}

static void
tcp_dialer_free(void *arg)
{
	tcp_dialer_close(arg);
	dialer_release(arg);
}

static int
tcp_dialer_get(void *arg, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	tcp_dialer *d = arg;
	int         rv;

	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (opt_out_string(d->url, buf, szp, t));
	}
	pthread_mutex_lock(&d->mtx);
	rv = tcp_settings_get(&d->settings, name, buf, szp, t);
	pthread_mutex_unlock(&d->mtx);
	return (rv);
}

static int
tcp_dialer_set(void *arg, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	tcp_dialer *d = arg;
	int         rv;

	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	pthread_mutex_lock(&d->mtx);
	rv = tcp_settings_set(&d->settings, name, buf, sz, t);
	pthread_mutex_unlock(&d->mtx);
	return (rv);
}

static const dialer_ops tcp_dialer_ops = {
	.d_free  = tcp_dialer_free,
	.d_close = tcp_dialer_close,
	.d_stop  = tcp_dialer_stop,
	.d_dial  = tcp_dialer_dial,
	.d_get   = tcp_dialer_get,
	.d_set   = tcp_dialer_set,
};

int
tcp_scheme_family(const char *scheme)
{
	size_t n = strlen(scheme);

	if (n > 0 && scheme[n - 1] == '4') {
		return (AF_INET);
	}
	if (n > 0 && scheme[n - 1] == '6') {
		return (AF_INET6);
	}
	return (AF_UNSPEC);
}

int
tcp_dialer_alloc(nghttpw_stream_dialer *sd, const nghttpw_url *url)
{
	tcp_dialer *d;

	if (url->u_hostname == NULL || url->u_hostname[0] == '\0' ||
	    url->u_port == NULL || url->u_port[0] == '\0') {
		return (NGHTTPW_EADDRINVAL);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((d->url = strdup(url->u_rawurl)) == NULL ||
	    (d->host = strdup(url->u_hostname)) == NULL ||
	    (d->port = strdup(url->u_port)) == NULL) {
		free(d->url);
		free(d->host);
		free(d);
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&d->mtx, NULL);
	pthread_cond_init(&d->idle, NULL);
	list_init(&d->dials);
	d->family            = tcp_scheme_family(url->u_scheme);
	d->refs              = 1;
	d->settings.nodelay  = true;
	sd->ops              = &tcp_dialer_ops;
	sd->arg              = d;
	return (0);
}
