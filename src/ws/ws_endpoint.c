/* What ws:// dialers and listeners share: the settings of their
 * streams, subprotocols, extra header fields, and their options. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/options.h"
#include "ws/ws_impl.h"

static int
headers_append(ws_header **list, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	ws_header *h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->name = strndup(name, nlen)) == NULL ||
	    (h->value = strndup(value, vlen)) == NULL) {
		if (h != NULL) {
			free(h->name);
			free(h);
		}
		return (NGHTTPW_ENOMEM);
	}
	while (*list != NULL) {
		list = &(*list)->next;
	}
	*list = h;
	return (0);
}

static int
headers_set(ws_header **list, const char *name, const char *value)
{
	for (ws_header *h = *list; h != NULL; h = h->next) {
		if (strcasecmp(h->name, name) == 0) {
			char *v = strdup(value);
			if (v == NULL) {
				return (NGHTTPW_ENOMEM);
			}
			free(h->value);
			h->value = v;
			return (0);
		}
	}
	return (headers_append(list, name, strlen(name), value, strlen(value)));
}

static int
headers_add_block(ws_header **list, const char *block)
{
	const char *p = block;

	/* Lines end in CRLF or LF (or the end); a line without a colon is
	 * skipped, as nng does. */
	while (*p != '\0') {
		const char *eol = p + strcspn(p, "\r\n");
		const char *colon = memchr(p, ':', (size_t) (eol - p));
		if (colon != NULL && colon > p) {
			const char *v = colon + 1;
			int         rv;
			while (v < eol && (*v == ' ' || *v == '\t')) {
				v++;
			}
			rv = headers_append(list, p, (size_t) (colon - p), v,
			    (size_t) (eol - v));
			if (rv != 0) {
				return (rv);
			}
		}
		p = eol + strspn(eol, "\r\n");
	}
	return (0);
}

static void
headers_free(ws_header **list)
{
	ws_header *h;

	while ((h = *list) != NULL) {
		*list = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
}

int
ws_headers_apply_req(const ws_header *list, nghttpw_http_req *req)
{
	int rv;

	for (const ws_header *h = list; h != NULL; h = h->next) {
		if ((rv = nghttpw_http_req_set_header(req, h->name, h->value)) != 0) {
			return (rv);
		}
	}
	return (0);
}

int
ws_headers_apply_res(const ws_header *list, nghttpw_http_res *res)
{
	int rv;

	for (const ws_header *h = list; h != NULL; h = h->next) {
		if ((rv = nghttpw_http_res_set_header(res, h->name, h->value)) != 0) {
			return (rv);
		}
	}
	return (0);
}

void
ws_endpoint_init(ws_endpoint *ep, bool server)
{
	ws_settings_init(&ep->set, server);
	ep->proto   = NULL;
	ep->headers = NULL;
	ep->server  = server;
}

void
ws_endpoint_fini(ws_endpoint *ep)
{
	headers_free(&ep->headers);
	free(ep->proto);
	ep->proto = NULL;
}

int
ws_endpoint_get(ws_endpoint *ep, const char *name, void *buf, size_t *szp,
    nghttpw_type t)
{
	if (strcmp(name, NGHTTPW_OPT_WS_PROTOCOL) == 0) {
		return (opt_out_string(ep->proto != NULL ? ep->proto : "", buf, szp, t));
	}
	return (ws_settings_get(&ep->set, name, buf, szp, t));
}

int
ws_endpoint_set(ws_endpoint *ep, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	/* A dialer's fields go into requests, a listener's into answers. */
	const char *block  = ep->server ? NGHTTPW_OPT_WS_RESPONSE_HEADERS
	                                : NGHTTPW_OPT_WS_REQUEST_HEADERS;
	const char *prefix = ep->server ? NGHTTPW_OPT_WS_RESPONSE_HEADER
	                                : NGHTTPW_OPT_WS_REQUEST_HEADER;
	const char *str;
	int         rv;

	if (strcmp(name, NGHTTPW_OPT_WS_PROTOCOL) == 0) {
		char *p;
		if ((rv = opt_in_string(buf, sz, t, &str)) != 0) {
			return (rv);
		}
		/* "" is what get gives for none, and means none here too. */
		if (*str == '\0') {
			p = NULL;
		} else if ((p = strdup(str)) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		free(ep->proto);
		ep->proto = p;
		return (0);
	}
	if (strcmp(name, block) == 0) {
		if ((rv = opt_in_string(buf, sz, t, &str)) == 0) {
			rv = headers_add_block(&ep->headers, str);
		}
		return (rv);
	}
	if (strncmp(name, prefix, strlen(prefix)) == 0) {
		if ((rv = opt_in_string(buf, sz, t, &str)) == 0) {
			rv = headers_set(&ep->headers, name + strlen(prefix), str);
		}
		return (rv);
	}
	return (ws_settings_set(&ep->set, name, buf, sz, t));
}
