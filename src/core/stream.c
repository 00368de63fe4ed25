/* Streams, dialers and listeners: dispatch through their tables, and the
 * typed option accessors. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "core/aio.h"
#include "core/stream.h"

void
stream_init(nghttpw_stream *s, const nghttpw_stream_ops *ops, void *arg)
{
	s->ops           = ops;
	s->arg           = arg;
	s->loop          = NULL;
	s->wrapper_owned = false;
}

int
stream_aio_alloc(
    nghttpw_stream *s, nghttpw_aio **aiop, void (*cb)(void *), void *arg)
{
	return (aio_alloc_on(aiop, cb, arg, s->loop));
}

int
nghttpw_stream_alloc(
    nghttpw_stream **sp, const nghttpw_stream_ops *ops, void *arg)
{
	nghttpw_stream *s;

	if (sp == NULL || ops == NULL || ops->s_free == NULL ||
	    ops->s_close == NULL || ops->s_stop == NULL ||
	    ops->s_send == NULL || ops->s_recv == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((s = malloc(sizeof(*s))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	stream_init(s, ops, arg);
	s->wrapper_owned = true;
	*sp              = s;
	return (0);
}

void
nghttpw_stream_free(nghttpw_stream *s)
{
	bool owned;

	if (s == NULL) {
		return;
	}
	owned = s->wrapper_owned;
	s->ops->s_free(s->arg);
	if (owned) {
		free(s);
	}
}

void
nghttpw_stream_close(nghttpw_stream *s)
{
	if (s != NULL) {
		s->ops->s_close(s->arg);
	}
}

void
nghttpw_stream_stop(nghttpw_stream *s)
{
	if (s != NULL) {
		s->ops->s_stop(s->arg);
	}
}

/* An operation started on a NULL object fails the aio, as any other
 * invalid argument does, rather than crashing. */
static bool
null_object(const void *obj, nghttpw_aio *aio)
{
	if (obj != NULL) {
		return (false);
	}
	if (nghttpw_aio_begin(aio)) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
	}
	return (true);
}

void
nghttpw_stream_send(nghttpw_stream *s, nghttpw_aio *aio)
{
	if (!null_object(s, aio)) {
		s->ops->s_send(s->arg, aio);
	}
}

void
nghttpw_stream_recv(nghttpw_stream *s, nghttpw_aio *aio)
{
	if (!null_object(s, aio)) {
		s->ops->s_recv(s->arg, aio);
	}
}

/* Dialers and listeners pick their transport from the URL's scheme, in
 * the tables the transports registered. */

#define SCHEME_TABLES_MAX 8

static const stream_scheme *scheme_tables[SCHEME_TABLES_MAX];
static unsigned             scheme_ntables;
static pthread_once_t       scheme_once = PTHREAD_ONCE_INIT;

void
stream_schemes_register(const stream_scheme *table)
{
	if (scheme_ntables < SCHEME_TABLES_MAX) {
		scheme_tables[scheme_ntables++] = table;
	}
}

static const stream_scheme *
scheme_find(const char *name)
{
	pthread_once(&scheme_once, stream_schemes_builtin);
	for (unsigned t = 0; t < scheme_ntables; t++) {
		for (const stream_scheme *e = scheme_tables[t]; e->name != NULL;
		     e++) {
			if (strcmp(e->name, name) == 0) {
				return (e);
			}
		}
	}
	return (NULL);
}

int
stream_dialer_init(nghttpw_stream_dialer *d, const nghttpw_url *url)
{
	const stream_scheme *sch = scheme_find(url->u_scheme);

	return (sch != NULL ? sch->dialer_alloc(d, url) : NGHTTPW_ENOTSUP);
}

int
stream_listener_init(nghttpw_stream_listener *l, const nghttpw_url *url)
{
	const stream_scheme *sch = scheme_find(url->u_scheme);

	return (sch != NULL ? sch->listener_alloc(l, url) : NGHTTPW_ENOTSUP);
}

int
nghttpw_stream_dialer_alloc_url(
    nghttpw_stream_dialer **dp, const nghttpw_url *url)
{
	nghttpw_stream_dialer *d;
	int                    rv;

	if (dp == NULL || url == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = stream_dialer_init(d, url)) != 0) {
		free(d);
		return (rv);
	}
	*dp = d;
	return (0);
}

int
nghttpw_stream_dialer_alloc(nghttpw_stream_dialer **dp, const char *addr)
{
	nghttpw_url *url;
	int          rv;

	if (dp == NULL || addr == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_url_parse(&url, addr)) != 0) {
		return (rv);
	}
	rv = nghttpw_stream_dialer_alloc_url(dp, url);
	nghttpw_url_free(url);
	return (rv);
}

void
nghttpw_stream_dialer_free(nghttpw_stream_dialer *d)
{
	if (d != NULL) {
		d->ops->d_free(d->arg);
		free(d);
	}
}

void
nghttpw_stream_dialer_close(nghttpw_stream_dialer *d)
{
	if (d != NULL) {
		d->ops->d_close(d->arg);
	}
}

void
nghttpw_stream_dialer_stop(nghttpw_stream_dialer *d)
{
	if (d != NULL) {
		d->ops->d_stop(d->arg);
	}
}

void
nghttpw_stream_dialer_dial(nghttpw_stream_dialer *d, nghttpw_aio *aio)
{
	if (!null_object(d, aio)) {
		d->ops->d_dial(d->arg, aio);
	}
}

int
nghttpw_stream_listener_alloc_url(
    nghttpw_stream_listener **lp, const nghttpw_url *url)
{
	nghttpw_stream_listener *l;
	int                      rv;

	if (lp == NULL || url == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = stream_listener_init(l, url)) != 0) {
		free(l);
		return (rv);
	}
	*lp = l;
	return (0);
}

int
nghttpw_stream_listener_alloc(nghttpw_stream_listener **lp, const char *addr)
{
	nghttpw_url *url;
	int          rv;

	if (lp == NULL || addr == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_url_parse(&url, addr)) != 0) {
		return (rv);
	}
	rv = nghttpw_stream_listener_alloc_url(lp, url);
	nghttpw_url_free(url);
	return (rv);
}

void
nghttpw_stream_listener_free(nghttpw_stream_listener *l)
{
	if (l != NULL) {
		l->ops->l_free(l->arg);
		free(l);
	}
}

void
nghttpw_stream_listener_close(nghttpw_stream_listener *l)
{
	if (l != NULL) {
		l->ops->l_close(l->arg);
	}
}

void
nghttpw_stream_listener_stop(nghttpw_stream_listener *l)
{
	if (l != NULL) {
		l->ops->l_stop(l->arg);
	}
}

int
nghttpw_stream_listener_listen(nghttpw_stream_listener *l)
{
	if (l == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (l->ops->l_listen(l->arg));
}

void
nghttpw_stream_listener_accept(nghttpw_stream_listener *l, nghttpw_aio *aio)
{
	if (!null_object(l, aio)) {
		l->ops->l_accept(l->arg, aio);
	}
}

/* Options.  The get and set entries of streams, dialers and listeners
 * have one signature, so one pair of functions checks the arguments and
 * dispatches for all three; each object adds its NULL check, and each
 * public function its type and size.  The untyped nghttpw_*_get and
 * nghttpw_*_set pass NGHTTPW_TYPE_OPAQUE: raw bytes checked by size. */

typedef int (*opt_get_fn)(
    void *, const char *, void *, size_t *, nghttpw_type);
typedef int (*opt_set_fn)(
    void *, const char *, const void *, size_t, nghttpw_type);

static int
opt_get(opt_get_fn get, void *arg, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	if (name == NULL || buf == NULL || szp == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (get == NULL) {
		return (NGHTTPW_ENOTSUP);
	}
	return (get(arg, name, buf, szp, t));
}

static int
opt_set(opt_set_fn set, void *arg, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	if (name == NULL || buf == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (set == NULL) {
		return (NGHTTPW_ENOTSUP);
	}
	return (set(arg, name, buf, sz, t));
}

/* A string is set with its NUL; NULL has no size, and opt_set refuses it. */
static size_t
opt_strsize(const char *v)
{
	return (v != NULL ? strlen(v) + 1 : 0);
}

int
stream_get_opt(nghttpw_stream *s, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (opt_get(s->ops->s_get, s->arg, name, buf, szp, t));
}

int
stream_set(nghttpw_stream *s, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	if (s == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (opt_set(s->ops->s_set, s->arg, name, buf, sz, t));
}

int
dialer_get_opt(nghttpw_stream_dialer *d, const char *name, void *buf,
    size_t *szp, nghttpw_type t)
{
	if (d == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (opt_get(d->ops->d_get, d->arg, name, buf, szp, t));
}

int
dialer_set_opt(nghttpw_stream_dialer *d, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	if (d == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (opt_set(d->ops->d_set, d->arg, name, buf, sz, t));
}

int
listener_get_opt(nghttpw_stream_listener *l, const char *name, void *buf,
    size_t *szp, nghttpw_type t)
{
	if (l == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (opt_get(l->ops->l_get, l->arg, name, buf, szp, t));
}

int
listener_set_opt(nghttpw_stream_listener *l, const char *name,
    const void *buf, size_t sz, nghttpw_type t)
{
	if (l == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (opt_set(l->ops->l_set, l->arg, name, buf, sz, t));
}

/* The typed gets pass the size of their variable by value. */
static int
stream_get(nghttpw_stream *s, const char *n, void *v, size_t sz,
    nghttpw_type t)
{
	return (stream_get_opt(s, n, v, &sz, t));
}

static int
dialer_get(nghttpw_stream_dialer *d, const char *n, void *v, size_t sz,
    nghttpw_type t)
{
	return (dialer_get_opt(d, n, v, &sz, t));
}

static int
listener_get(nghttpw_stream_listener *l, const char *n, void *v, size_t sz,
    nghttpw_type t)
{
	return (listener_get_opt(l, n, v, &sz, t));
}

int
nghttpw_stream_get(nghttpw_stream *s, const char *n, void *v, size_t *szp)
{
	return (stream_get_opt(s, n, v, szp, NGHTTPW_TYPE_OPAQUE));
}

int
nghttpw_stream_get_bool(nghttpw_stream *s, const char *n, bool *v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_get_int(nghttpw_stream *s, const char *n, int *v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_get_ms(nghttpw_stream *s, const char *n, nghttpw_duration *v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_DURATION));
}

int
nghttpw_stream_get_size(nghttpw_stream *s, const char *n, size_t *v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_SIZE));
}

int
nghttpw_stream_get_uint64(nghttpw_stream *s, const char *n, uint64_t *v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_UINT64));
}

int
nghttpw_stream_get_string(nghttpw_stream *s, const char *n, char **v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_get_ptr(nghttpw_stream *s, const char *n, void **v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_get_addr(nghttpw_stream *s, const char *n, nghttpw_sockaddr *v)
{
	return (stream_get(s, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}

int
nghttpw_stream_set(nghttpw_stream *s, const char *n, const void *v, size_t sz)
{
	return (stream_set(s, n, v, sz, NGHTTPW_TYPE_OPAQUE));
}

int
nghttpw_stream_set_bool(nghttpw_stream *s, const char *n, bool v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_set_int(nghttpw_stream *s, const char *n, int v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_set_ms(nghttpw_stream *s, const char *n, nghttpw_duration v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_DURATION));
}

int
nghttpw_stream_set_size(nghttpw_stream *s, const char *n, size_t v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_SIZE));
}

int
nghttpw_stream_set_uint64(nghttpw_stream *s, const char *n, uint64_t v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_UINT64));
}

int
nghttpw_stream_set_string(nghttpw_stream *s, const char *n, const char *v)
{
	return (stream_set(s, n, v, opt_strsize(v), NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_set_ptr(nghttpw_stream *s, const char *n, void *v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_set_addr(
    nghttpw_stream *s, const char *n, const nghttpw_sockaddr *v)
{
	return (stream_set(s, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}

int
nghttpw_stream_dialer_get(
    nghttpw_stream_dialer *d, const char *n, void *v, size_t *szp)
{
	return (dialer_get_opt(d, n, v, szp, NGHTTPW_TYPE_OPAQUE));
}

int
nghttpw_stream_dialer_get_bool(
    nghttpw_stream_dialer *d, const char *n, bool *v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_dialer_get_int(nghttpw_stream_dialer *d, const char *n, int *v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_dialer_get_ms(
    nghttpw_stream_dialer *d, const char *n, nghttpw_duration *v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_DURATION));
}

int
nghttpw_stream_dialer_get_size(
    nghttpw_stream_dialer *d, const char *n, size_t *v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_SIZE));
}

int
nghttpw_stream_dialer_get_uint64(
    nghttpw_stream_dialer *d, const char *n, uint64_t *v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_UINT64));
}

int
nghttpw_stream_dialer_get_string(
    nghttpw_stream_dialer *d, const char *n, char **v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_dialer_get_ptr(
    nghttpw_stream_dialer *d, const char *n, void **v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_dialer_get_addr(
    nghttpw_stream_dialer *d, const char *n, nghttpw_sockaddr *v)
{
	return (dialer_get(d, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}

int
nghttpw_stream_dialer_set(
    nghttpw_stream_dialer *d, const char *n, const void *v, size_t sz)
{
	return (dialer_set_opt(d, n, v, sz, NGHTTPW_TYPE_OPAQUE));
}

int
nghttpw_stream_dialer_set_bool(nghttpw_stream_dialer *d, const char *n, bool v)
{
	return (dialer_set_opt(d, n, &v, sizeof(v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_dialer_set_int(nghttpw_stream_dialer *d, const char *n, int v)
{
	return (dialer_set_opt(d, n, &v, sizeof(v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_dialer_set_ms(
    nghttpw_stream_dialer *d, const char *n, nghttpw_duration v)
{
	return (dialer_set_opt(d, n, &v, sizeof(v), NGHTTPW_TYPE_DURATION));
}

int
nghttpw_stream_dialer_set_size(
    nghttpw_stream_dialer *d, const char *n, size_t v)
{
	return (dialer_set_opt(d, n, &v, sizeof(v), NGHTTPW_TYPE_SIZE));
}

int
nghttpw_stream_dialer_set_uint64(
    nghttpw_stream_dialer *d, const char *n, uint64_t v)
{
	return (dialer_set_opt(d, n, &v, sizeof(v), NGHTTPW_TYPE_UINT64));
}

int
nghttpw_stream_dialer_set_string(
    nghttpw_stream_dialer *d, const char *n, const char *v)
{
	return (dialer_set_opt(d, n, v, opt_strsize(v), NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_dialer_set_ptr(nghttpw_stream_dialer *d, const char *n, void *v)
{
	return (dialer_set_opt(d, n, &v, sizeof(v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_dialer_set_addr(
    nghttpw_stream_dialer *d, const char *n, const nghttpw_sockaddr *v)
{
	return (dialer_set_opt(d, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}

int
nghttpw_stream_listener_get(
    nghttpw_stream_listener *l, const char *n, void *v, size_t *szp)
{
	return (listener_get_opt(l, n, v, szp, NGHTTPW_TYPE_OPAQUE));
}

int
nghttpw_stream_listener_get_bool(
    nghttpw_stream_listener *l, const char *n, bool *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_listener_get_int(
    nghttpw_stream_listener *l, const char *n, int *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_listener_get_ms(
    nghttpw_stream_listener *l, const char *n, nghttpw_duration *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_DURATION));
}

int
nghttpw_stream_listener_get_size(
    nghttpw_stream_listener *l, const char *n, size_t *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_SIZE));
}

int
nghttpw_stream_listener_get_uint64(
    nghttpw_stream_listener *l, const char *n, uint64_t *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_UINT64));
}

int
nghttpw_stream_listener_get_string(
    nghttpw_stream_listener *l, const char *n, char **v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_listener_get_ptr(
    nghttpw_stream_listener *l, const char *n, void **v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_listener_get_addr(
    nghttpw_stream_listener *l, const char *n, nghttpw_sockaddr *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}

int
nghttpw_stream_listener_set(
    nghttpw_stream_listener *l, const char *n, const void *v, size_t sz)
{
	return (listener_set_opt(l, n, v, sz, NGHTTPW_TYPE_OPAQUE));
}

int
nghttpw_stream_listener_set_bool(
    nghttpw_stream_listener *l, const char *n, bool v)
{
	return (listener_set_opt(l, n, &v, sizeof(v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_listener_set_int(
    nghttpw_stream_listener *l, const char *n, int v)
{
	return (listener_set_opt(l, n, &v, sizeof(v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_listener_set_ms(
    nghttpw_stream_listener *l, const char *n, nghttpw_duration v)
{
	return (listener_set_opt(l, n, &v, sizeof(v), NGHTTPW_TYPE_DURATION));
}

int
nghttpw_stream_listener_set_size(
    nghttpw_stream_listener *l, const char *n, size_t v)
{
	return (listener_set_opt(l, n, &v, sizeof(v), NGHTTPW_TYPE_SIZE));
}

int
nghttpw_stream_listener_set_uint64(
    nghttpw_stream_listener *l, const char *n, uint64_t v)
{
	return (listener_set_opt(l, n, &v, sizeof(v), NGHTTPW_TYPE_UINT64));
}

int
nghttpw_stream_listener_set_string(
    nghttpw_stream_listener *l, const char *n, const char *v)
{
	return (listener_set_opt(l, n, v, opt_strsize(v), NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_listener_set_ptr(
    nghttpw_stream_listener *l, const char *n, void *v)
{
	return (listener_set_opt(l, n, &v, sizeof(v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_listener_set_addr(
    nghttpw_stream_listener *l, const char *n, const nghttpw_sockaddr *v)
{
	return (listener_set_opt(l, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}
