/*
 * HTTP requests and responses: start lines, the public API and the
 * serialization of the head.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_msg.h"

/* A start-line string: s points at a constant default or into buf, a
 * buffer kept across resets. */
typedef struct hstr {
	const char *s;
	size_t      len;
	char       *buf;
	size_t      cap;
} hstr;

struct nghttpw_http_req {
	nhw_http_msg msg;
	hstr         method;
	hstr         uri;
};

struct nghttpw_http_res {
	nhw_http_msg msg;
	hstr         reason; /* s is NULL for the status's standard phrase */
	uint16_t     status;
	bool         is_error; /* body is alloc_error's page (see http_msg.h) */
	bool         keep_raw; /* keep the next head read as it came */
	char        *raw_head; /* that head, raw_len bytes of raw_cap */
	size_t       raw_len;
	size_t       raw_cap;
};

#define DEFAULT_METHOD "GET"
#define DEFAULT_URI "/"
#define UNKNOWN_REASON "Unknown HTTP Status"

static void
hstr_default(hstr *h, const char *def)
{
	h->s   = def;
	h->len = def != NULL ? strlen(def) : 0;
}

/* v may point into h's own buffer. */
static int
hstr_set(hstr *h, const char *v, size_t len)
{
	if (len < h->cap) {
		memmove(h->buf, v, len);
	} else {
		size_t cap = len < 32 ? 32 : len + 1;
		char  *buf;
		if (len == SIZE_MAX || (buf = malloc(cap)) == NULL) {
			return NGHTTPW_ENOMEM;
		}
		memcpy(buf, v, len);
		free(h->buf);
		h->buf = buf;
		h->cap = cap;
	}
	h->buf[len] = '\0';
	h->s        = h->buf;
	h->len      = len;
	return 0;
}

static void
hstr_fini(hstr *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

static int
msg_set_version(nhw_http_msg *m, const char *v, size_t len)
{
	if (!nhw_http_is_version(v, len)) {
		return NGHTTPW_EINVAL;
	}
	memcpy(m->version, v, 8);
	m->version[8] = '\0';
	return 0;
}

/* Writes the field lines and the empty line; returns the end. */
static char *
write_fields(const nhw_http_msg *m, char *p)
{
	for (size_t i = 0; i < m->nfields; i++) {
		const nhw_http_field *f = &m->fields[i];
		memcpy(p, f->name, f->name_len);
		p += f->name_len;
		*p++ = ':';
		*p++ = ' ';
		memcpy(p, f->value, f->value_len);
		p += f->value_len;
		*p++ = '\r';
		*p++ = '\n';
	}
	if (m->prefab != NULL) {
		memcpy(p, m->prefab->lines, m->prefab->len);
		p += m->prefab->len;
	}
	*p++ = '\r';
	*p++ = '\n';
	return p;
}

static size_t
fields_size(const nhw_http_msg *m)
{
	size_t n = 2 + (m->prefab != NULL ? m->prefab->len : 0);
	for (size_t i = 0; i < m->nfields; i++) {
		n += m->fields[i].name_len + m->fields[i].value_len + 4;
	}
	return n;
}

/* A buffer for len bytes plus a NUL: the unused end of the message's
 * pool when the head fits there (as a small one does), else the head
 * buffer, kept across calls and resets.  Either stays intact until the
 * message next changes.  NULL when out of memory. */
static char *
head_buf(nhw_http_msg *m, size_t len)
{
	if (len < sizeof(m->pool) - m->pool_len) {
		return m->pool + m->pool_len;
	}
	if (len >= m->head_cap) {
		size_t cap = m->head_cap * 2;
		if (cap <= len) {
			cap = len + 1;
		}
		if (cap < 256) {
			cap = 256;
		}
		char *buf = malloc(cap);
		if (buf == NULL) {
			return NULL;
		}
		free(m->head);
		m->head     = buf;
		m->head_cap = cap;
	}
	return m->head;
}

int
nhw_http_msg_get_last_chunk(nhw_http_msg *msg, const char **bufp, size_t *lenp)
{
	static const char empty[] = "0\r\n\r\n";
	nhw_http_msg     *t       = msg->trailers;
	size_t            len;
	char             *buf;

	if (t == NULL || t->nfields == 0) {
		*bufp = empty;
		*lenp = sizeof(empty) - 1;
		return 0;
	}
	len = 3 + fields_size(t);
	if ((buf = head_buf(t, len)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	memcpy(buf, "0\r\n", 3);
	(void) write_fields(t, buf + 3);
	buf[len] = '\0';
	*bufp    = buf;
	*lenp    = len;
	return 0;
}

/* ---- status phrases ---- */

const char *
nhw_http_status_reason(uint16_t status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return NULL;
	}
}

/* ---- requests ---- */

nhw_http_msg *
nhw_http_req_msg(nghttpw_http_req *req)
{
	return req != NULL ? &req->msg : NULL;
}

/* Sets req's target from a URL.  u_requri is what followed the
 * authority, as nng keeps it; on the wire the fragment must go (RFC 9112
 * 3.2), an empty path is "/", and bytes past ASCII, which the URL parser
 * decoded, are percent-encoded again (RFC 3986 URIs are ASCII).  The
 * common target needs none of that and is set as it is. */
static int
req_set_target(nghttpw_http_req *req, const nghttpw_url *url)
{
	static const char hex[] = "0123456789ABCDEF";
	const char       *ru    = url->u_requri != NULL ? url->u_requri : "";
	size_t            n     = strcspn(ru, "#");
	size_t            extra = ru[0] != '/' ? 1 : 0;
	char             *out;
	char             *p;
	int               rv;

	for (size_t i = 0; i < n; i++) {
		extra += (unsigned char) ru[i] >= 0x80 ? 2 : 0;
	}
	if (extra == 0 && ru[n] == '\0') {
		return (nghttpw_http_req_set_uri(req, ru));
	}
	if ((p = out = malloc(n + extra + 1)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if (ru[0] != '/') {
		*p++ = '/';
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) ru[i];
		if (c >= 0x80) {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 0xf];
		} else {
			*p++ = (char) c;
		}
	}
	*p = '\0';
	rv = nghttpw_http_req_set_uri(req, out);
	free(out);
	return (rv);
}

int
nghttpw_http_req_alloc(nghttpw_http_req **reqp, const nghttpw_url *url)
{
	nghttpw_http_req *req;
	int               rv;

	if (reqp == NULL) {
		return NGHTTPW_EINVAL;
	}
	if ((req = calloc(1, sizeof(*req))) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	nhw_http_msg_init(&req->msg);
	hstr_default(&req->method, DEFAULT_METHOD);
	hstr_default(&req->uri, DEFAULT_URI);
	if (url != NULL) {
		if ((rv = req_set_target(req, url)) != 0 ||
		    (url->u_host != NULL &&
		        (rv = nghttpw_http_req_set_header(
		             req, "Host", url->u_host)) != 0)) {
			nghttpw_http_req_free(req);
			return rv;
		}
	}
	*reqp = req;
	return 0;
}

void
nghttpw_http_req_free(nghttpw_http_req *req)
{
	if (req == NULL) {
		return;
	}
	nhw_http_msg_fini(&req->msg);
	hstr_fini(&req->method);
	hstr_fini(&req->uri);
	free(req);
}

void
nghttpw_http_req_reset(nghttpw_http_req *req)
{
	if (req == NULL) {
		return;
	}
	nhw_http_msg_clear(&req->msg);
	hstr_default(&req->method, DEFAULT_METHOD);
	hstr_default(&req->uri, DEFAULT_URI);
}

const char *
nghttpw_http_req_get_method(nghttpw_http_req *req)
{
	return req != NULL ? req->method.s : NULL;
}

bool
nhw_http_req_is_head(const nghttpw_http_req *req)
{
	return req->method.len == 4 && memcmp(req->method.s, "HEAD", 4) == 0;
}

int
nhw_http_req_set_method_n(nghttpw_http_req *req, const char *method, size_t len)
{
	if (req == NULL || !nhw_http_is_token(method, len)) {
		return NGHTTPW_EINVAL;
	}
	return hstr_set(&req->method, method, len);
}

int
nghttpw_http_req_set_method(nghttpw_http_req *req, const char *method)
{
	if (method == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_req_set_method_n(req, method, strlen(method));
}

const char *
nghttpw_http_req_get_uri(nghttpw_http_req *req)
{
	return req != NULL ? req->uri.s : NULL;
}

int
nhw_http_req_set_uri_n(nghttpw_http_req *req, const char *uri, size_t len)
{
	if (req == NULL || !nhw_http_is_uri(uri, len)) {
		return NGHTTPW_EINVAL;
	}
	return hstr_set(&req->uri, uri, len);
}

int
nghttpw_http_req_set_uri(nghttpw_http_req *req, const char *uri)
{
	if (uri == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_req_set_uri_n(req, uri, strlen(uri));
}

const char *
nghttpw_http_req_get_version(nghttpw_http_req *req)
{
	return req != NULL ? req->msg.version : NULL;
}

int
nhw_http_req_set_version_n(nghttpw_http_req *req, const char *v, size_t len)
{
	if (req == NULL) {
		return NGHTTPW_EINVAL;
	}
	return msg_set_version(&req->msg, v, len);
}

int
nghttpw_http_req_set_version(nghttpw_http_req *req, const char *version)
{
	if (version == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_req_set_version_n(req, version, strlen(version));
}

const char *
nghttpw_http_req_get_header(nghttpw_http_req *req, const char *name)
{
	return nhw_http_msg_get_header(nhw_http_req_msg(req), name);
}

const char *
nghttpw_http_req_get_trailer(nghttpw_http_req *req, const char *name)
{
	return nhw_http_msg_get_trailer(nhw_http_req_msg(req), name);
}

int
nghttpw_http_req_add_trailer(
    nghttpw_http_req *req, const char *name, const char *value)
{
	if (req == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_put_trailer_n(
	    &req->msg, false, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_req_set_trailer(
    nghttpw_http_req *req, const char *name, const char *value)
{
	if (req == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_put_trailer_n(
	    &req->msg, true, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_req_add_header(
    nghttpw_http_req *req, const char *name, const char *value)
{
	if (req == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_add_header_n(
	    &req->msg, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_req_set_header(
    nghttpw_http_req *req, const char *name, const char *value)
{
	if (req == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_set_header_n(
	    &req->msg, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_req_del_header(nghttpw_http_req *req, const char *name)
{
	if (req == NULL || name == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_del_header_n(&req->msg, name, strlen(name));
}

int
nghttpw_http_req_set_data(nghttpw_http_req *req, const void *body, size_t size)
{
	return nhw_http_msg_set_data(nhw_http_req_msg(req), body, size, false);
}

int
nghttpw_http_req_copy_data(nghttpw_http_req *req, const void *body, size_t size)
{
	return nhw_http_msg_set_data(nhw_http_req_msg(req), body, size, true);
}

void
nghttpw_http_req_get_data(nghttpw_http_req *req, void **bodyp, size_t *sizep)
{
	const void *body;
	nhw_http_msg_get_data(nhw_http_req_msg(req), &body, sizep);
	if (bodyp != NULL) {
		*bodyp = (void *) body;
	}
}

/* The absolute form goes to a proxy in place of an origin-form target
 * ("/..."); "*" and targets already absolute stay as they are. */
static bool
via_applies(const nghttpw_http_req *req, const nhw_http_via *via)
{
	return (via != NULL && req->uri.len > 0 && req->uri.s[0] == '/');
}

static size_t
req_head_size(const nghttpw_http_req *req, const nhw_http_via *via)
{
	size_t n = req->method.len + 1 + req->uri.len + 1 + 8 + 2 +
	    fields_size(&req->msg);

	if (via_applies(req, via)) {
		n += strlen(via->prefix);
	}
	if (via != NULL && via->lines != NULL) {
		n += strlen(via->lines);
	}
	return (n);
}

static void
req_head_write(const nghttpw_http_req *req, const nhw_http_via *via, char *p)
{
	memcpy(p, req->method.s, req->method.len);
	p += req->method.len;
	*p++ = ' ';
	if (via_applies(req, via)) {
		size_t n = strlen(via->prefix);
		memcpy(p, via->prefix, n);
		p += n;
	}
	memcpy(p, req->uri.s, req->uri.len);
	p += req->uri.len;
	*p++ = ' ';
	memcpy(p, req->msg.version, 8);
	p += 8;
	*p++ = '\r';
	*p++ = '\n';
	if (via != NULL && via->lines != NULL) {
		size_t n = strlen(via->lines);
		memcpy(p, via->lines, n);
		p += n;
	}
	(void) write_fields(&req->msg, p);
}

size_t
nhw_http_req_head_size(const nghttpw_http_req *req)
{
	return (req_head_size(req, NULL));
}

void
nhw_http_req_head_write(const nghttpw_http_req *req, char *p)
{
	req_head_write(req, NULL, p);
}

int
nhw_http_req_get_head_via(nghttpw_http_req *req, const nhw_http_via *via,
    const char **bufp, size_t *lenp)
{
	size_t len = req_head_size(req, via);
	char  *buf = head_buf(&req->msg, len);
	if (buf == NULL) {
		return NGHTTPW_ENOMEM;
	}
	req_head_write(req, via, buf);
	buf[len] = '\0';
	*bufp    = buf;
	*lenp    = len;
	return 0;
}

int
nhw_http_req_get_head(nghttpw_http_req *req, const char **bufp, size_t *lenp)
{
	return (nhw_http_req_get_head_via(req, NULL, bufp, lenp));
}

/* ---- responses ---- */

nhw_http_msg *
nhw_http_res_msg(nghttpw_http_res *res)
{
	return res != NULL ? &res->msg : NULL;
}

int
nghttpw_http_res_alloc(nghttpw_http_res **resp)
{
	nghttpw_http_res *res;

	if (resp == NULL) {
		return NGHTTPW_EINVAL;
	}
	/* Not calloc: init clears the message, the largest part. */
	if ((res = malloc(sizeof(*res))) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	nhw_http_msg_init(&res->msg);
	memset(&res->reason, 0, sizeof(res->reason));
	hstr_default(&res->reason, NULL);
	res->status   = NGHTTPW_HTTP_STATUS_OK;
	res->is_error = false;
	res->keep_raw = false;
	res->raw_head = NULL;
	res->raw_len  = 0;
	res->raw_cap  = 0;
	*resp         = res;
	return 0;
}

int
nghttpw_http_res_alloc_error(nghttpw_http_res **resp, uint16_t status)
{
	nghttpw_http_res *res;
	char              body[512];
	int               rv;

	if (resp == NULL || status < 100 || status > 999) {
		return NGHTTPW_EINVAL;
	}
	if ((rv = nghttpw_http_res_alloc(&res)) != 0) {
		return rv;
	}
	res->status        = status;
	const char *reason = nghttpw_http_res_get_reason(res);
	int         n      = snprintf(body, sizeof(body),
                     "<!DOCTYPE html>\n"
                     "<html>\n"
                     "<head><title>%u %s</title></head>\n"
                     "<body>\n"
                     "<h1>%u %s</h1>\n"
                     "</body>\n"
                     "</html>\n",
                     (unsigned) status, reason, (unsigned) status, reason);
	if ((rv = nghttpw_http_res_set_header(
	         res, "Content-Type", "text/html; charset=UTF-8")) != 0 ||
	    (rv = nghttpw_http_res_copy_data(res, body, (size_t) n)) != 0) {
		nghttpw_http_res_free(res);
		return rv;
	}
	res->is_error = true;
	*resp         = res;
	return 0;
}

void
nghttpw_http_res_free(nghttpw_http_res *res)
{
	if (res == NULL) {
		return;
	}
	nhw_http_msg_fini(&res->msg);
	hstr_fini(&res->reason);
	free(res->raw_head);
	free(res);
}

void
nghttpw_http_res_reset(nghttpw_http_res *res)
{
	if (res == NULL) {
		return;
	}
	nhw_http_msg_clear(&res->msg);
	hstr_default(&res->reason, NULL);
	res->status   = NGHTTPW_HTTP_STATUS_OK;
	res->is_error = false;
	res->raw_len  = 0; /* the bytes go, keep_raw stays: it is a setting */
}

void
nghttpw_http_res_keep_raw_head(nghttpw_http_res *res, bool keep)
{
	if (res == NULL) {
		return;
	}
	res->keep_raw = keep;
	if (!keep) {
		free(res->raw_head);
		res->raw_head = NULL;
		res->raw_len = res->raw_cap = 0;
	}
}

void
nghttpw_http_res_get_raw_head(nghttpw_http_res *res, void **datap, size_t *sizep)
{
	bool have = res != NULL && res->raw_len > 0;

	if (datap != NULL) {
		*datap = have ? res->raw_head : NULL;
	}
	if (sizep != NULL) {
		*sizep = have ? res->raw_len : 0;
	}
}

int
nhw_http_res_save_raw_head(nghttpw_http_res *res, const char *head, size_t len)
{
	if (!res->keep_raw) {
		return 0;
	}
	if (len > res->raw_cap) {
		char *buf = realloc(res->raw_head, len);
		if (buf == NULL) {
			return NGHTTPW_ENOMEM;
		}
		res->raw_head = buf;
		res->raw_cap  = len;
	}
	memcpy(res->raw_head, head, len);
	res->raw_len = len;
	return 0;
}

uint16_t
nghttpw_http_res_get_status(nghttpw_http_res *res)
{
	return res != NULL ? res->status : 0;
}

int
nghttpw_http_res_set_status(nghttpw_http_res *res, uint16_t status)
{
	if (res == NULL || status < 100 || status > 999) {
		return NGHTTPW_EINVAL;
	}
	res->status = status;
	return 0;
}

/* The reason phrase to send; never NULL. */
static const char *
res_reason(const nghttpw_http_res *res, size_t *lenp)
{
	if (res->reason.s != NULL) {
		*lenp = res->reason.len;
		return res->reason.s;
	}
	const char *r = nhw_http_status_reason(res->status);
	if (r == NULL) {
		r = UNKNOWN_REASON;
	}
	*lenp = strlen(r);
	return r;
}

const char *
nghttpw_http_res_get_reason(nghttpw_http_res *res)
{
	size_t len;
	return res != NULL ? res_reason(res, &len) : NULL;
}

int
nhw_http_res_set_reason_n(nghttpw_http_res *res, const char *reason, size_t len)
{
	if (res == NULL || !nhw_http_is_value(reason, len)) {
		return NGHTTPW_EINVAL;
	}
	return hstr_set(&res->reason, reason, len);
}

int
nghttpw_http_res_set_reason(nghttpw_http_res *res, const char *reason)
{
	if (res == NULL) {
		return NGHTTPW_EINVAL;
	}
	if (reason == NULL) {
		hstr_default(&res->reason, NULL);
		return 0;
	}
	return nhw_http_res_set_reason_n(res, reason, strlen(reason));
}

const char *
nghttpw_http_res_get_version(nghttpw_http_res *res)
{
	return res != NULL ? res->msg.version : NULL;
}

int
nhw_http_res_set_version_n(nghttpw_http_res *res, const char *v, size_t len)
{
	if (res == NULL) {
		return NGHTTPW_EINVAL;
	}
	return msg_set_version(&res->msg, v, len);
}

int
nghttpw_http_res_set_version(nghttpw_http_res *res, const char *version)
{
	if (version == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_res_set_version_n(res, version, strlen(version));
}

const char *
nghttpw_http_res_get_header(nghttpw_http_res *res, const char *name)
{
	return nhw_http_msg_get_header(nhw_http_res_msg(res), name);
}

/* The fields in the order they came (repeats combined, as they are
 * kept); *iterp starts NULL and is the index past the last one given. */
bool
nghttpw_http_res_next_header(nghttpw_http_res *res, const char **namep,
    const char **valuep, void **iterp)
{
	size_t                n;
	const nhw_http_field *f;
	uintptr_t             i;

	if (res == NULL || namep == NULL || valuep == NULL || iterp == NULL) {
		return false;
	}
	f = nhw_http_msg_fields(nhw_http_res_msg(res), &n);
	i = (uintptr_t) *iterp;
	if (i < n) {
		*namep  = f[i].name;
		*valuep = f[i].value;
	} else if (!nhw_http_msg_prefab_field(nhw_http_res_msg(res), i - n, namep, valuep)) {
		return false;
	}
	*iterp = (void *) (i + 1);
	return true;
}

const char *
nghttpw_http_res_get_trailer(nghttpw_http_res *res, const char *name)
{
	return nhw_http_msg_get_trailer(nhw_http_res_msg(res), name);
}

int
nghttpw_http_res_add_trailer(
    nghttpw_http_res *res, const char *name, const char *value)
{
	if (res == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_put_trailer_n(
	    &res->msg, false, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_res_set_trailer(
    nghttpw_http_res *res, const char *name, const char *value)
{
	if (res == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_put_trailer_n(
	    &res->msg, true, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_res_add_header(
    nghttpw_http_res *res, const char *name, const char *value)
{
	if (res == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_add_header_n(
	    &res->msg, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_res_set_header(
    nghttpw_http_res *res, const char *name, const char *value)
{
	if (res == NULL || name == NULL || value == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_set_header_n(
	    &res->msg, name, strlen(name), value, strlen(value));
}

int
nghttpw_http_res_del_header(nghttpw_http_res *res, const char *name)
{
	if (res == NULL || name == NULL) {
		return NGHTTPW_EINVAL;
	}
	return nhw_http_msg_del_header_n(&res->msg, name, strlen(name));
}

int
nghttpw_http_res_set_data(nghttpw_http_res *res, const void *body, size_t size)
{
	int rv = nhw_http_msg_set_data(nhw_http_res_msg(res), body, size, false);

	if (rv == 0) {
		res->is_error = false; /* the application's own body now */
	}
	return rv;
}

int
nghttpw_http_res_copy_data(nghttpw_http_res *res, const void *body, size_t size)
{
	int rv = nhw_http_msg_set_data(nhw_http_res_msg(res), body, size, true);

	if (rv == 0) {
		res->is_error = false;
	}
	return rv;
}

bool
nhw_http_res_is_error(const nghttpw_http_res *res)
{
	return res->is_error;
}

void
nghttpw_http_res_get_data(nghttpw_http_res *res, void **bodyp, size_t *sizep)
{
	const void *body;
	nhw_http_msg_get_data(nhw_http_res_msg(res), &body, sizep);
	if (bodyp != NULL) {
		*bodyp = (void *) body;
	}
}

static size_t
res_head_size(const nghttpw_http_res *res, size_t rlen)
{
	return 8 + 1 + 3 + 1 + rlen + 2 + fields_size(&res->msg);
}

size_t
nhw_http_res_head_size(const nghttpw_http_res *res)
{
	size_t rlen;
	(void) res_reason(res, &rlen);
	return res_head_size(res, rlen);
}

static void
res_head_write(const nghttpw_http_res *res, const char *reason, size_t rlen,
    char *p)
{
	memcpy(p, res->msg.version, 8);
	p += 8;
	*p++ = ' ';
	*p++ = (char) ('0' + res->status / 100);
	*p++ = (char) ('0' + res->status / 10 % 10);
	*p++ = (char) ('0' + res->status % 10);
	*p++ = ' ';
	memcpy(p, reason, rlen);
	p += rlen;
	*p++ = '\r';
	*p++ = '\n';
	(void) write_fields(&res->msg, p);
}

void
nhw_http_res_head_write(const nghttpw_http_res *res, char *p)
{
	size_t      rlen;
	const char *reason = res_reason(res, &rlen);
	res_head_write(res, reason, rlen, p);
}

int
nhw_http_res_get_head(nghttpw_http_res *res, const char **bufp, size_t *lenp)
{
	size_t      rlen;
	const char *reason = res_reason(res, &rlen); /* once for both passes */
	size_t      len    = res_head_size(res, rlen);
	char       *buf    = head_buf(&res->msg, len);

	if (buf == NULL) {
		return NGHTTPW_ENOMEM;
	}
	res_head_write(res, reason, rlen, buf);
	buf[len] = '\0';
	*bufp    = buf;
	*lenp    = len;
	return 0;
}

int
nhw_http_res_set_file(nghttpw_http_res *res, int fd, uint64_t off, uint64_t len)
{
	if (res == NULL) {
		return NGHTTPW_EINVAL;
	}
	int rv = nhw_http_msg_set_file(nhw_http_res_msg(res), fd, off, len);

	if (rv == 0) {
		res->is_error = false;
	}
	return rv;
}
