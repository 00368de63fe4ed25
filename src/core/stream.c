/* Streams, dialers and listeners: dispatch through their tables, and the
 * typed option accessors. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

int
stream_get_opt(nghttpw_stream *s, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	if (s == NULL || name == NULL || buf == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (s->ops->s_get == NULL) {
		return (NGHTTPW_ENOTSUP);
	}
	return (s->ops->s_get(s->arg, name, buf, szp, t));
}

static int
stream_get(nghttpw_stream *s, const char *name, void *buf, size_t sz,
    nghttpw_type t)
{
	return (stream_get_opt(s, name, buf, &sz, t));
}

int
stream_set(nghttpw_stream *s, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	if (s == NULL || name == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (s->ops->s_set == NULL) {
		return (NGHTTPW_ENOTSUP);
	}
	return (s->ops->s_set(s->arg, name, buf, sz, t));
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
nghttpw_stream_set_string(nghttpw_stream *s, const char *n, const char *v)
{
	if (v == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (stream_set(s, n, v, strlen(v) + 1, NGHTTPW_TYPE_STRING));
}

int
nghttpw_stream_set_ptr(nghttpw_stream *s, const char *n, void *v)
{
	return (stream_set(s, n, &v, sizeof(v), NGHTTPW_TYPE_POINTER));
}

void
nghttpw_strfree(char *s)
{
	free(s);
}

/* Dialers and listeners pick their transport from the URL's scheme. */

static int
scheme_tcp_family(const char *scheme, int *family)
{
	static const struct {
		const char *scheme;
		int         family;
	} tcp_schemes[] = {
		{ "tcp", AF_UNSPEC },
		{ "tcp4", AF_INET },
		{ "tcp6", AF_INET6 },
		{ "http", AF_UNSPEC },
		{ "ws", AF_UNSPEC },
	};

	for (size_t i = 0; i < sizeof(tcp_schemes) / sizeof(tcp_schemes[0]);
	     i++) {
		if (strcmp(scheme, tcp_schemes[i].scheme) == 0) {
			*family = tcp_schemes[i].family;
			return (0);
		}
	}
	return (NGHTTPW_ENOTSUP);
}

/* The schemes served by TLS over TCP (src/tls), when built in. */
#ifdef NGHTTPW_HAVE_TLS
static bool
scheme_is_tls(const char *scheme)
{
	return (strcmp(scheme, "tls+tcp") == 0 || strcmp(scheme, "tls+tcp4") == 0 ||
	    strcmp(scheme, "tls+tcp6") == 0 || strcmp(scheme, "https") == 0 ||
	    strcmp(scheme, "wss") == 0);
}
#else
#define scheme_is_tls(scheme) false
#define tls_dialer_alloc(d, url) NGHTTPW_ENOTSUP
#define tls_listener_alloc(l, url) NGHTTPW_ENOTSUP
#endif

int
nghttpw_stream_dialer_alloc_url(
    nghttpw_stream_dialer **dp, const nghttpw_url *url)
{
	nghttpw_stream_dialer *d;
	int                    family = AF_UNSPEC;
	int                    rv;
	bool                   tls;

	if (dp == NULL || url == NULL) {
		return (NGHTTPW_EINVAL);
	}
	tls = scheme_is_tls(url->u_scheme);
	if (!tls && (rv = scheme_tcp_family(url->u_scheme, &family)) != 0) {
		return (rv);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	rv = tls ? tls_dialer_alloc(d, url) : tcp_dialer_alloc(d, url, family);
	if (rv != 0) {
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
nghttpw_stream_dialer_dial(nghttpw_stream_dialer *d, nghttpw_aio *aio)
{
	if (!null_object(d, aio)) {
		d->ops->d_dial(d->arg, aio);
	}
}

int
nghttpw_stream_dialer_get_bool(
    nghttpw_stream_dialer *d, const char *n, bool *v)
{
	size_t sz = sizeof(*v);

	if (d == NULL || n == NULL || v == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (d->ops->d_get(d->arg, n, v, &sz, NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_dialer_get_ptr(
    nghttpw_stream_dialer *d, const char *n, void **v)
{
	size_t sz = sizeof(*v);

	if (d == NULL || n == NULL || v == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (d->ops->d_get(d->arg, n, v, &sz, NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_dialer_set_bool(nghttpw_stream_dialer *d, const char *n, bool v)
{
	if (d == NULL || n == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (d->ops->d_set(d->arg, n, &v, sizeof(v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_dialer_set_ptr(nghttpw_stream_dialer *d, const char *n, void *v)
{
	if (d == NULL || n == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (d->ops->d_set(d->arg, n, &v, sizeof(v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_listener_alloc_url(
    nghttpw_stream_listener **lp, const nghttpw_url *url)
{
	nghttpw_stream_listener *l;
	int                      family = AF_UNSPEC;
	int                      rv;
	bool                     tls;

	if (lp == NULL || url == NULL) {
		return (NGHTTPW_EINVAL);
	}
	tls = scheme_is_tls(url->u_scheme);
	if (!tls && (rv = scheme_tcp_family(url->u_scheme, &family)) != 0) {
		return (rv);
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	rv = tls ? tls_listener_alloc(l, url) : tcp_listener_alloc(l, url, family);
	if (rv != 0) {
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

static int
listener_get(nghttpw_stream_listener *l, const char *n, void *v, size_t sz,
    nghttpw_type t)
{
	if (l == NULL || n == NULL || v == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (l->ops->l_get(l->arg, n, v, &sz, t));
}

int
nghttpw_stream_listener_get_int(
    nghttpw_stream_listener *l, const char *n, int *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_INT));
}

int
nghttpw_stream_listener_get_addr(
    nghttpw_stream_listener *l, const char *n, nghttpw_sockaddr *v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_SOCKADDR));
}

int
nghttpw_stream_listener_get_ptr(
    nghttpw_stream_listener *l, const char *n, void **v)
{
	return (listener_get(l, n, v, sizeof(*v), NGHTTPW_TYPE_POINTER));
}

int
nghttpw_stream_listener_set_bool(
    nghttpw_stream_listener *l, const char *n, bool v)
{
	if (l == NULL || n == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (l->ops->l_set(l->arg, n, &v, sizeof(v), NGHTTPW_TYPE_BOOL));
}

int
nghttpw_stream_listener_set_ptr(
    nghttpw_stream_listener *l, const char *n, void *v)
{
	if (l == NULL || n == NULL) {
		return (NGHTTPW_EINVAL);
	}
	return (l->ops->l_set(l->arg, n, &v, sizeof(v), NGHTTPW_TYPE_POINTER));
}
