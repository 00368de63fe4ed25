/* HTTP handlers: what a server calls for the requests that match them,
 * including the built-in static and redirect handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_msg.h"
#include "http/http_server.h"

static char *
copy_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char  *d = malloc(n);

	if (d != NULL) {
		memcpy(d, s, n);
	}
	return (d);
}

static void
handler_destroy(nghttpw_http_handler *h)
{
	if (h->dtor != NULL) {
		h->dtor(h->data);
	}
	free(h->path);
	free(h->method);
	free(h->host);
	free(h->static_data);
	free(h->content_type);
	free(h->location);
	free(h);
}

void
http_handler_hold(nghttpw_http_handler *h)
{
	atomic_fetch_add(&h->refs, 1);
}

void
http_handler_release(nghttpw_http_handler *h)
{
	if (atomic_fetch_sub(&h->refs, 1) == 1) {
		handler_destroy(h);
	}
}

bool
http_handler_busy_locked(const nghttpw_http_handler *h)
{
	return (h->server != NULL || atomic_load(&h->refs) > 1);
}

/* A path a handler may have: origin-form, no query or fragment. */
static bool
valid_path(const char *path)
{
	size_t len;

	if (path == NULL || path[0] != '/') {
		return (false);
	}
	len = strlen(path);
	return (nhw_http_is_uri(path, len) && strcspn(path, "?#") == len);
}

int
nghttpw_http_handler_alloc(
    nghttpw_http_handler **hp, const char *path, void (*cb)(nghttpw_aio *))
{
	nghttpw_http_handler *h;

	if (path == NULL || path[0] == '\0') {
		path = "/"; /* as nng: no path is the root */
	}
	if (hp == NULL || cb == NULL || !valid_path(path)) {
		return (NGHTTPW_EINVAL);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((h->path = copy_str(path)) == NULL ||
	    (h->method = copy_str("GET")) == NULL) {
		free(h->path);
		free(h);
		return (NGHTTPW_ENOMEM);
	}
	h->path_len = strlen(path);
	h->cb       = cb;
	h->collect  = true;
	h->max_body = HTTP_HANDLER_MAX_BODY_DEFAULT;
	atomic_init(&h->refs, 1);
	*hp = h;
	return (0);
}

void
nghttpw_http_handler_free(nghttpw_http_handler *h)
{
	nghttpw_http_server *s;

	if (h == NULL) {
		return;
	}
	/* A handler still registered leaves its server first (nng calls
	 * this an error; it costs nothing to make it safe). */
	pthread_mutex_lock(&http_registry_mtx);
	s = h->server;
	pthread_mutex_unlock(&http_registry_mtx);
	if (s != NULL) {
		(void) nghttpw_http_server_del_handler(s, h);
	}
	http_handler_release(h);
}

/* Takes the registration lock for a change of h; refuses it (and returns
 * without the lock) once the handler is in use. */
static int
change_begin(nghttpw_http_handler *h)
{
	if (h == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&http_registry_mtx);
	if (http_handler_busy_locked(h)) {
		pthread_mutex_unlock(&http_registry_mtx);
		return (NGHTTPW_EBUSY);
	}
	return (0);
}

static void
change_end(void)
{
	pthread_mutex_unlock(&http_registry_mtx);
}

int
nghttpw_http_handler_set_method(nghttpw_http_handler *h, const char *method)
{
	char *copy = NULL;
	int   rv;

	if (method != NULL && method[0] == '\0') {
		method = NULL; /* as nng: every method */
	}
	if (method != NULL) {
		if (!nhw_http_is_token(method, strlen(method))) {
			return (NGHTTPW_EINVAL);
		}
		if ((copy = copy_str(method)) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
	}
	if ((rv = change_begin(h)) != 0) {
		free(copy);
		return (rv);
	}
	free(h->method);
	h->method = copy;
	change_end();
	return (0);
}

void
http_host_part(const char *s, size_t slen, size_t *off, size_t *len)
{
	const char *colon;

	*off = 0;
	*len = slen;
	if (slen > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', slen);
		if (close != NULL) {
			*off = 1;
			*len = (size_t) (close - s) - 1;
		}
		return;
	}
	/* A single colon separates a port; more mean a bare IPv6 address. */
	colon = memchr(s, ':', slen);
	if (colon != NULL &&
	    memchr(colon + 1, ':', slen - (size_t) (colon - s) - 1) == NULL) {
		*len = (size_t) (colon - s);
	}
}

int
nghttpw_http_handler_set_host(nghttpw_http_handler *h, const char *host)
{
	char  *copy = NULL;
	size_t off, len;
	int    rv;

	/* As nng: "", "*" and the wildcard addresses mean any host. */
	if (host != NULL &&
	    (host[0] == '\0' || strcmp(host, "*") == 0 ||
	        strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
	        strcmp(host, "[::]") == 0)) {
		host = NULL;
	}
	if (host != NULL) {
		size_t n = strlen(host);
		if (n == 0 || !nhw_http_is_value(host, n) ||
		    strpbrk(host, " \t/") != NULL) {
			return (NGHTTPW_EINVAL);
		}
		http_host_part(host, n, &off, &len);
		if (len == 0) {
			return (NGHTTPW_EINVAL);
		}
		if ((copy = malloc(len + 1)) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		memcpy(copy, host + off, len);
		copy[len] = '\0';
	}
	if ((rv = change_begin(h)) != 0) {
		free(copy);
		return (rv);
	}
	free(h->host);
	h->host = copy;
	change_end();
	return (0);
}

int
nghttpw_http_handler_set_tree(nghttpw_http_handler *h)
{
	int rv;

	if ((rv = change_begin(h)) != 0) {
		return (rv);
	}
	h->tree      = true;
	h->exclusive = false;
	change_end();
	return (0);
}

int
nghttpw_http_handler_set_tree_exclusive(nghttpw_http_handler *h)
{
	int rv;

	if ((rv = change_begin(h)) != 0) {
		return (rv);
	}
	h->tree      = true;
	h->exclusive = true;
	change_end();
	return (0);
}

int
nghttpw_http_handler_collect_body(
    nghttpw_http_handler *h, bool want, size_t maxsz)
{
	int rv;

	if ((rv = change_begin(h)) != 0) {
		return (rv);
	}
	h->collect  = want;
	h->max_body = maxsz;
	change_end();
	return (0);
}

int
nghttpw_http_handler_set_data(
    nghttpw_http_handler *h, void *data, void (*dtor)(void *))
{
	void *old;
	void (*old_dtor)(void *);
	int rv;

	if ((rv = change_begin(h)) != 0) {
		return (rv);
	}
	old      = h->data;
	old_dtor = h->dtor;
	h->data  = data;
	h->dtor  = dtor;
	change_end();
	/* Data replaced is released, as it would be at free. */
	if (old_dtor != NULL && old != data) {
		old_dtor(old);
	}
	return (0);
}

void *
nghttpw_http_handler_get_data(nghttpw_http_handler *h)
{
	return (h != NULL ? h->data : NULL);
}

/* Matching. */

bool
http_handler_host_match(
    const nghttpw_http_handler *h, const char *host, size_t host_len)
{
	size_t off, len;

	if (h->host == NULL) {
		return (true);
	}
	if (host == NULL) {
		return (false);
	}
	http_host_part(host, host_len, &off, &len);
	if (len > 1 && host[off + len - 1] == '.') {
		len--; /* "example.com." is the same host, as nng takes it */
	}
	return (nhw_http_name_eq(h->host, strlen(h->host), host + off, len));
}

bool
http_path_in_tree(
    const char *root, size_t root_len, const char *path, size_t len)
{
	if (len < root_len || memcmp(root, path, root_len) != 0) {
		return (false);
	}
	/* "/a" covers "/a", "/a/" and "/a/b", never "/ab"; "/a/" covers
	 * everything below it. */
	return (len == root_len || root[root_len - 1] == '/' ||
	    path[root_len] == '/');
}

bool
http_handler_path_match(
    const nghttpw_http_handler *h, const char *path, size_t path_len)
{
	if (h->tree) {
		return (http_path_in_tree(h->path, h->path_len, path, path_len));
	}
	return (path_len == h->path_len && memcmp(h->path, path, path_len) == 0);
}

/* Static content. */

static void
static_cb(nghttpw_aio *aio)
{
	nghttpw_http_handler *h = nghttpw_aio_get_input(aio, 1);
	nghttpw_http_res     *res;
	int                   rv;

	if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	/* No type given: nng's handler says octet-stream, as RFC 9110
	 * 8.3 advises for content of unknown type. */
	if ((rv = nghttpw_http_res_set_header(res, "Content-Type",
	         h->content_type != NULL ? h->content_type
	                                 : "application/octet-stream")) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	/* Borrowed: the server holds the handler until the response is
	 * out. */
	if ((rv = nghttpw_http_res_set_data(
	         res, h->static_data, h->static_size)) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

int
nghttpw_http_handler_alloc_static(nghttpw_http_handler **hp, const char *path,
    const void *data, size_t size, const char *content_type)
{
	nghttpw_http_handler *h;
	int                   rv;

	if ((size > 0 && data == NULL) ||
	    (content_type != NULL &&
	        !nhw_http_is_value(content_type, strlen(content_type)))) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_http_handler_alloc(&h, path, static_cb)) != 0) {
		return (rv);
	}
	if (size > 0) {
		if ((h->static_data = malloc(size)) == NULL) {
			handler_destroy(h);
			return (NGHTTPW_ENOMEM);
		}
		memcpy(h->static_data, data, size);
	}
	h->static_size = size;
	if (content_type != NULL &&
	    (h->content_type = copy_str(content_type)) == NULL) {
		handler_destroy(h);
		return (NGHTTPW_ENOMEM);
	}
	h->max_body = 0;
	*hp         = h;
	return (0);
}

/* Redirects. */

/* Copies s into buf (when not NULL) with <, >, & and " escaped; returns
 * the length of the result. */
static size_t
html_escape(char *buf, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '&':
			rep = "&amp;";
			break;
		case '"':
			rep = "&quot;";
			break;
		default:
			break;
		}
		if (rep != NULL) {
			size_t rl = strlen(rep);
			if (buf != NULL) {
				memcpy(buf + n, rep, rl);
			}
			n += rl;
		} else {
			if (buf != NULL) {
				buf[n] = s[i];
			}
			n++;
		}
	}
	return (n);
}

static const char redirect_fmt_head[] = "<!DOCTYPE html>\n<html>\n<head>"
                                        "<title>%u %s</title></head>\n"
                                        "<body>\n<h1>%u %s</h1>\n"
                                        "<p>See <a href=\"";
static const char redirect_fmt_tail[] = "\">here</a>.</p>\n</body>\n</html>\n";

static int
redirect_res(nghttpw_http_handler *h, nghttpw_http_req *req,
    nghttpw_http_res **resp)
{
	const char       *uri    = nghttpw_http_req_get_uri(req);
	const char       *suffix = "";
	size_t            loc_len, suf_len, esc_len, head_len, total;
	char             *loc, *body;
	nghttpw_http_res *res;
	const char       *reason;
	int               rv;

	/* What the request adds below the handler's path moves along. */
	if (uri != NULL && strncmp(uri, h->path, h->path_len) == 0) {
		suffix = uri + h->path_len;
	}
	loc_len = strlen(h->location);
	suf_len = strlen(suffix);
	if (loc_len > 0 && h->location[loc_len - 1] == '/' && suffix[0] == '/') {
		suffix++;
		suf_len--;
	}
	if ((loc = malloc(loc_len + suf_len + 1)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	memcpy(loc, h->location, loc_len);
	memcpy(loc + loc_len, suffix, suf_len + 1);

	if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
		free(loc);
		return (rv);
	}
	if ((rv = nghttpw_http_res_set_status(res, h->status)) != 0 ||
	    (rv = nghttpw_http_res_set_header(res, "Location", loc)) != 0 ||
	    (rv = nghttpw_http_res_set_header(
	         res, "Content-Type", "text/html; charset=UTF-8")) != 0) {
		free(loc);
		nghttpw_http_res_free(res);
		return (rv == NGHTTPW_ENOMEM ? rv : NGHTTPW_EINVAL);
	}
	reason   = nghttpw_http_res_get_reason(res);
	esc_len  = html_escape(NULL, loc, loc_len + suf_len);
	head_len = (size_t) snprintf(NULL, 0, redirect_fmt_head,
	    (unsigned) h->status, reason, (unsigned) h->status, reason);
	total    = head_len + esc_len + sizeof(redirect_fmt_tail) - 1;
	if ((body = malloc(total + 1)) == NULL) {
		free(loc);
		nghttpw_http_res_free(res);
		return (NGHTTPW_ENOMEM);
	}
	snprintf(body, head_len + 1, redirect_fmt_head, (unsigned) h->status,
	    reason, (unsigned) h->status, reason);
	html_escape(body + head_len, loc, loc_len + suf_len);
	memcpy(body + head_len + esc_len, redirect_fmt_tail,
	    sizeof(redirect_fmt_tail));
	rv = nghttpw_http_res_copy_data(res, body, total);
	free(body);
	free(loc);
	if (rv != 0) {
		nghttpw_http_res_free(res);
		return (rv);
	}
	*resp = res;
	return (0);
}

static void
redirect_cb(nghttpw_aio *aio)
{
	nghttpw_http_req     *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_handler *h   = nghttpw_aio_get_input(aio, 1);
	nghttpw_http_res     *res;
	int                   rv;

	if ((rv = redirect_res(h, req, &res)) != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

int
nghttpw_http_handler_alloc_redirect(nghttpw_http_handler **hp,
    const char *path, uint16_t status, const char *location)
{
	nghttpw_http_handler *h;
	int                   rv;

	if (status == 0) {
		status = NGHTTPW_HTTP_STATUS_MOVED_PERMANENTLY;
	}
	if (status < 300 || status > 399 || location == NULL ||
	    location[0] == '\0' ||
	    !nhw_http_is_value(location, strlen(location))) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_http_handler_alloc(&h, path, redirect_cb)) != 0) {
		return (rv);
	}
	if ((h->location = copy_str(location)) == NULL) {
		handler_destroy(h);
		return (NGHTTPW_ENOMEM);
	}
	/* Every method is redirected; a body sent along is not read (the
	 * connection closes after the answer instead). */
	free(h->method);
	h->method  = NULL;
	h->status  = status;
	h->collect = false;
	*hp        = h;
	return (0);
}
