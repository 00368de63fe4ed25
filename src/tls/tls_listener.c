/* TLS listeners: a TCP listener (made through the public API from the
 * tcp:// form of the URL) whose connections are handshaken before accept
 * hands them out.
 *
 * Admission is built so that clients who send nothing cannot starve the
 * ones who do.  While accepts wait, TCP connections are taken in at once.
 * A new connection first reads its ClientHello record, which costs only a
 * small record and a receive; up to TLS_MAX_HELLOS may wait so, and a new
 * arrival past that sheds the oldest.  Only a whole ClientHello gets one
 * of the TLS_MAX_HANDSHAKES handshake slots (mbedTLS's state and
 * buffers); when they are all taken, the oldest handshake is shed, since
 * handshakes with live clients take milliseconds.  Both phases together
 * have the listener's handshake timeout (NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT).
 *
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
#include "tls/tls_settings.h"

#define TLS_MAX_HELLOS 1024
#define TLS_MAX_HANDSHAKES 64
#define TLS_HS_TIMEOUT_DEFAULT_MS 5000
#define TLS_RECORD_HEAD 5
#define TLS_RECORD_MAX 16384 /* a record's plaintext, RFC 5246 6.2.1 */
#define TLS_CONTENT_HANDSHAKE 22

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
	list_node                hellos; /* oldest first, as handshakes */
	unsigned                 nhellos;
	list_node                handshakes;
	unsigned                 nhandshakes;
	tls_conn               **ready; /* handshaken, not yet accepted */
	size_t                   nready;
	size_t                   cap_ready;
	nghttpw_duration         hs_ms;
	bool                     listening;
	bool                     closed;
	bool                     report_errors;
	unsigned                 refs; /* the user's, the TCP accept's, and
	                                  one per admission record */
	pthread_cond_t           idle; /* refs came down to the user's */
	task                     free_task;
} tls_listener;

typedef enum {
	LHS_HELLO,     /* reading the ClientHello: on l->hellos */
	LHS_HANDSHAKE, /* on l->handshakes */
	LHS_OVER,
} lhs_phase;

/* One connection being admitted. */
typedef struct tls_lhs {
	list_node       node;
	tls_listener   *l;
	lhs_phase       phase;
	nghttpw_stream *tcp; /* until the handshake owns it */
	nghttpw_aio    *rx;  /* reads the ClientHello */
	unsigned char   head[TLS_RECORD_HEAD];
	unsigned char  *hello; /* the whole first record, head included */
	size_t          got;
	size_t          want;
	tls_conn       *conn;
	nghttpw_aio    *timer;
	unsigned        refs; /* the phase's, the timer's */
	struct tls_lhs *next_end; /* while a close or a shed ends it */
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
	pthread_cond_destroy(&l->idle);
	pthread_mutex_destroy(&l->mtx);
	free(l);
}

static void
listener_release(tls_listener *l)
{
	bool last;

	pthread_mutex_lock(&l->mtx);
	last = --l->refs == 0;
	if (l->refs == 1) {
		pthread_cond_broadcast(&l->idle);
	}
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

	nghttpw_aio_free(h->rx);
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
	/* Maybe inside one of h's aio callbacks: free after it. */
	tls_run_later(&h->free_task, lhs_destroy, h);
}

/* Takes h off the list of its phase, which is then over. */
static void
lhs_detach_locked(tls_lhs *h)
{
	tls_listener *l = h->l;

	if (h->phase == LHS_HELLO) {
		l->nhellos--;
	} else if (h->phase == LHS_HANDSHAKE) {
		l->nhandshakes--;
	} else {
		return;
	}
	list_remove(&h->node);
	h->phase = LHS_OVER;
}

/* Ends the wait for h's ClientHello early; its receive's callback then
 * drops the connection. */
static void
lhs_hello_stop_locked(tls_lhs *h, int rv)
{
	lhs_detach_locked(h);
	nghttpw_aio_abort(h->rx, rv);
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

/* Keeps a TCP accept going while someone waits.  Not bounded by the
 * handshakes in progress: a new connection sheds an old one instead. */
static void
listener_kick_locked(tls_listener *l)
{
	if (!l->closed && l->listening && !l->acc_busy && l->nwaiting > 0) {
		l->acc_busy = true;
		l->refs++;
		nghttpw_stream_listener_accept(l->tcp, l->acc);
	}
}

/* Room for one more entry in the array *vp of n entries of elem bytes. */
static int
grow_for_one(void *vp, size_t *cap, size_t n, size_t elem)
{
	void **v = vp;
	void  *p;

	if (n < *cap) {
		return (0);
	}
	if ((p = realloc(*v, (*cap * 2 + 4) * elem)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	*v   = p;
	*cap = *cap * 2 + 4;
	return (0);
}

static int
listener_push_ready_locked(tls_listener *l, tls_conn *c)
{
	int rv;

	if ((rv = grow_for_one(&l->ready, &l->cap_ready, l->nready,
	         sizeof(*l->ready))) == 0) {
		l->ready[l->nready++] = c;
	}
	return (rv);
}

/* A handshake ended; called once, by whoever owns its report. */
static void
lhs_end(tls_lhs *h, int rv)
{
	tls_listener *l    = h->l;
	tls_conn     *drop = NULL;
	nghttpw_aio  *aio;
	bool          gone;

	pthread_mutex_lock(&l->mtx);
	lhs_detach_locked(h);
	nghttpw_aio_abort(h->timer, NGHTTPW_ECANCELED);
	if (l->closed) {
		drop = h->conn;
	} else if (rv == 0) {
		if ((aio = listener_pop_waiting_locked(l)) != NULL) {
			nghttpw_aio_set_output(aio, 0, tls_conn_stream(h->conn));
			nghttpw_aio_finish(aio, 0);
		} else if (listener_push_ready_locked(l, h->conn) != 0) {
			drop = h->conn;
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

/* Makes room for one more handshake, shedding the oldest when the slots
 * are full: it has had the longest to finish.  Returns the one shed (the
 * caller ends it, unlocked), or NULL.  *full: no slot can be had, all
 * being taken by connections waiting for accept. */
static tls_lhs *
listener_make_room_locked(tls_listener *l, bool *full)
{
	tls_lhs *oldest;

	*full = false;
	if (l->nhandshakes + l->nready < TLS_MAX_HANDSHAKES) {
		return (NULL);
	}
	if (l->nhandshakes == 0) {
		*full = true;
		return (NULL);
	}
	oldest = LIST_ENTRY(l->handshakes.next, tls_lhs, node);
	/* If it is ending already, its slot frees itself in a moment. */
	return (tls_conn_abort(oldest->conn, NGHTTPW_ETIMEDOUT) ? oldest : NULL);
}

/* The ClientHello is in (or what came is no TLS, which mbedTLS is left
 * to refuse): h gets a handshake slot.  False when it could not start;
 * the caller then drops the connection.  *shed: a handshake to end with
 * NGHTTPW_ETIMEDOUT, unlocked; *due and *hrv: as tls_conn_start's. */
static bool
lhs_start_handshake_locked(tls_lhs *h, tls_lhs **shed, bool *due, int *hrv)
{
	tls_listener        *l = h->l;
	const unsigned char *bytes = h->hello != NULL ? h->hello : h->head;
	size_t               len   = h->hello != NULL ? h->want : h->got;
	bool                 full;

	lhs_detach_locked(h);
	*shed = listener_make_room_locked(l, &full);
	if (full || tls_conn_alloc(&h->conn, h->tcp, l->cfg, NULL, NULL,
	                lhs_hs_cb, h) != 0) {
		return (false);
	}
	h->tcp = NULL; /* the connection's now */
	tls_conn_preload(h->conn, bytes, len);
	free(h->hello);
	h->hello = NULL;
	h->phase = LHS_HANDSHAKE;
	list_append(&l->handshakes, &h->node);
	l->nhandshakes++;
	*due = tls_conn_start(h->conn, hrv);
	return (true);
}

/* Reads the rest of the record head, or of the record. */
static void
lhs_hello_read(tls_lhs *h)
{
	nghttpw_iov iov;

	if (h->got < TLS_RECORD_HEAD) {
		iov.iov_buf = h->head + h->got;
		iov.iov_len = TLS_RECORD_HEAD - h->got;
	} else {
		iov.iov_buf = h->hello + h->got;
		iov.iov_len = h->want - h->got;
	}
	nghttpw_aio_set_iov(h->rx, 1, &iov);
	nghttpw_stream_recv(h->tcp, h->rx);
}

/* Takes in what the last receive brought.  True when the ClientHello
 * record is whole, or the head shows it is not one. */
static bool
lhs_hello_take(tls_lhs *h, size_t n, int *rv)
{
	size_t len;

	*rv = 0;
	h->got += n;
	if (h->got < TLS_RECORD_HEAD) {
		return (false);
	}
	if (h->hello == NULL) {
		len = ((size_t) h->head[3] << 8) | h->head[4];
		if (h->head[0] != TLS_CONTENT_HANDSHAKE || h->head[1] != 3 ||
		    len == 0 || len > TLS_RECORD_MAX) {
			return (true);
		}
		h->want = TLS_RECORD_HEAD + len;
		if ((h->hello = malloc(h->want)) == NULL) {
			*rv = NGHTTPW_ENOMEM;
			return (false);
		}
		memcpy(h->hello, h->head, TLS_RECORD_HEAD);
	}
	return (h->got == h->want);
}

/* The ClientHello's receive ended. */
static void
lhs_rx_cb(void *arg)
{
	tls_lhs        *h    = arg;
	tls_listener   *l    = h->l;
	int             rv   = nghttpw_aio_result(h->rx);
	nghttpw_stream *drop = NULL;
	tls_lhs        *shed = NULL;
	bool            due  = false;
	bool            gone;
	int             hrv = 0;

	pthread_mutex_lock(&l->mtx);
	if (h->phase != LHS_HELLO) {
		/* Shed, timed out, or the listener closed. */
		drop = h->tcp;
	} else if (rv == 0 && !lhs_hello_take(h, nghttpw_aio_count(h->rx), &rv)) {
		if (rv == 0) {
			lhs_hello_read(h);
			pthread_mutex_unlock(&l->mtx);
			return;
		}
	} else if (rv == 0 && lhs_start_handshake_locked(h, &shed, &due, &hrv)) {
		/* The phase's reference passes to the handshake. */
		pthread_mutex_unlock(&l->mtx);
		if (shed != NULL) {
			lhs_end(shed, NGHTTPW_ETIMEDOUT);
		}
		if (due) {
			lhs_end(h, hrv);
		}
		return;
	}
	if (drop == NULL) {
		drop = h->tcp;
		lhs_detach_locked(h);
	}
	h->tcp = NULL;
	free(h->hello);
	h->hello = NULL;
	nghttpw_aio_abort(h->timer, NGHTTPW_ECANCELED);
	gone = lhs_release_locked(h);
	pthread_mutex_unlock(&l->mtx);
	nghttpw_stream_free(drop);
	if (shed != NULL) {
		lhs_end(shed, NGHTTPW_ETIMEDOUT);
	}
	if (gone) {
		lhs_gone(h);
	}
}

/* The admission's deadline: the ClientHello and the handshake together. */
static void
lhs_timer_cb(void *arg)
{
	tls_lhs      *h = arg;
	tls_listener *l = h->l;
	bool          due = false;
	bool          gone;

	pthread_mutex_lock(&l->mtx);
	if (nghttpw_aio_result(h->timer) == 0) {
		if (h->phase == LHS_HELLO) {
			lhs_hello_stop_locked(h, NGHTTPW_ETIMEDOUT);
		} else if (h->phase == LHS_HANDSHAKE) {
			due = tls_conn_abort(h->conn, NGHTTPW_ETIMEDOUT);
		}
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

/* Starts the admission of a new TCP connection s, which it then owns.  A
 * full table of connections waiting for their ClientHello sheds the
 * oldest: the new arrival is as likely to be a live client as not, the
 * oldest has had its chance. */
static int
lhs_start_locked(tls_listener *l, nghttpw_stream *s)
{
	tls_lhs *h;
	int      rv;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	/* Both on the connection's loop.  A timer homed round-robin would
	 * also take a turn in the rotation that places connections: with
	 * two loops, every accepted connection then went to the same one. */
	if ((rv = stream_aio_alloc(s, &h->timer, lhs_timer_cb, h)) != 0 ||
	    (rv = stream_aio_alloc(s, &h->rx, lhs_rx_cb, h)) != 0) {
		nghttpw_aio_free(h->timer);
		free(h);
		return (rv);
	}
	if (l->nhellos >= TLS_MAX_HELLOS) {
		lhs_hello_stop_locked(
		    LIST_ENTRY(l->hellos.next, tls_lhs, node), NGHTTPW_ECONNSHUT);
	}
	h->l     = l;
	h->tcp   = s;
	h->phase = LHS_HELLO;
	h->refs  = 2;
	l->refs++; /* until h is gone */
	list_append(&l->hellos, &h->node);
	l->nhellos++;
	nghttpw_aio_set_timeout(h->rx, NGHTTPW_DURATION_INFINITE);
	nghttpw_sleep_aio(l->hs_ms, h->timer);
	lhs_hello_read(h);
	return (0);
}

/* The TCP accept ended. */
static void
listener_acc_cb(void *arg)
{
	tls_listener   *l  = arg;
	int             rv = nghttpw_aio_result(l->acc);
	nghttpw_stream *s  = nghttpw_aio_get_output(l->acc, 0);
	nghttpw_aio    *aio;

	pthread_mutex_lock(&l->mtx);
	l->acc_busy = false;
	if (l->closed) {
		rv = NGHTTPW_ECLOSED;
	} else if (rv == 0 && (rv = lhs_start_locked(l, s)) == 0) {
		s = NULL;
	}
	if (rv != 0 && !l->closed && (aio = listener_pop_waiting_locked(l)) != NULL) {
		nghttpw_aio_finish(aio, rv);
	}
	listener_kick_locked(l);
	pthread_mutex_unlock(&l->mtx);
	nghttpw_stream_free(s);
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
	} else if ((rv = grow_for_one(&l->waiting, &l->cap_waiting, l->nwaiting,
	                sizeof(*l->waiting))) == 0) {
		if (aio_defer(aio, listener_cancel, l)) {
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
	} else if (l->cfg == NULL || !tls_config_can_serve(l->cfg)) {
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
	while (!list_empty(&l->hellos)) {
		lhs_hello_stop_locked(
		    LIST_ENTRY(l->hellos.next, tls_lhs, node), NGHTTPW_ECLOSED);
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
	ready        = l->ready;
	nready       = l->nready;
	l->ready     = NULL;
	l->nready    = 0;
	l->cap_ready = 0;
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

/* The TCP accept and each admission record hold a reference until their
 * last touch of l and of the user's aios. */
static void
tls_listener_stop(void *arg)
{
	tls_listener *l = arg;

	tls_listener_close(l);
	nghttpw_stream_listener_stop(l->tcp);
	pthread_mutex_lock(&l->mtx);
	while (l->refs > 1) {
		pthread_cond_wait(&l->idle, &l->mtx);
	}
	pthread_mutex_unlock(&l->mtx);
	/* An accept's cancel may be on its way out just as close took it. */
	aio_cancel_barrier(l);
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
	if (strcmp(name, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT) == 0) {
		pthread_mutex_lock(&l->mtx);
		rv = opt_out_ms(l->hs_ms, buf, szp, t);
		pthread_mutex_unlock(&l->mtx);
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (opt_out_string(l->url, buf, szp, t));
	}
	if (tls_setting_is(name)) {
		return (NGHTTPW_EWRITEONLY);
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
	if (strcmp(name, NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT) == 0) {
		nghttpw_duration ms;
		if ((rv = opt_in_ms(buf, sz, t, &ms)) == 0) {
			if (ms <= 0) {
				/* Without a deadline, silent clients would
				 * only ever leave by being shed. */
				return (NGHTTPW_EINVAL);
			}
			pthread_mutex_lock(&l->mtx);
			l->hs_ms = ms;
			pthread_mutex_unlock(&l->mtx);
		}
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_URL) == 0) {
		return (NGHTTPW_EREADONLY);
	}
	if (tls_setting_is(name)) {
		nghttpw_tls_config *cfg;

		/* A listener given none yet gets an empty server
		 * configuration for these to fill, as nng's has. */
		pthread_mutex_lock(&l->mtx);
		if (l->cfg == NULL) {
			rv = nghttpw_tls_config_alloc(&l->cfg, NGHTTPW_TLS_MODE_SERVER);
		} else {
			rv = 0;
		}
		if ((cfg = l->cfg) != NULL) {
			nghttpw_tls_config_hold(cfg);
		}
		pthread_mutex_unlock(&l->mtx);
		if (rv == 0) {
			rv = tls_setting_set(cfg, name, buf, sz, t);
			nghttpw_tls_config_free(cfg);
		}
		return (rv);
	}
	return (listener_set_opt(l->tcp, name, buf, sz, t));
}

static const listener_ops tls_listener_ops = {
	.l_free   = tls_listener_free,
	.l_close  = tls_listener_close,
	.l_stop   = tls_listener_stop,
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
	if ((l->url = strdup(url->u_rawurl)) == NULL) {
		free(l);
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = tls_lower_url(url, &tcp_url)) != 0) {
		free(l->url);
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
		free(l);
		return (rv);
	}
	nghttpw_aio_set_timeout(l->acc, NGHTTPW_DURATION_INFINITE);
	pthread_mutex_init(&l->mtx, NULL);
	pthread_cond_init(&l->idle, NULL);
	list_init(&l->hellos);
	list_init(&l->handshakes);
	l->hs_ms = TLS_HS_TIMEOUT_DEFAULT_MS;
	l->refs = 1;
	sl->ops = &tls_listener_ops;
	sl->arg = l;
	return (0);
}
