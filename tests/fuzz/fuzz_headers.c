/* Fuzz target: the request and response building API.
 *
 * The input is a program of operations on one request or response:
 * set/add/del/get header, the start-line setters, set_data/copy_data
 * (also from the message's own body), reset, and header calls whose
 * arguments point into the message's own field buffers.  After each
 * operation the message is compared with a model kept here (the field
 * list, in order, the start line and the body), written independently of
 * the library from its documented rules.
 *
 * At the end the head is serialized (nhw_http_req_get_head /
 * nhw_http_res_get_head) and must be well-formed: no CR or LF inside a
 * name or value, CRLF after every line, CRLF CRLF at the end, the fields
 * in order.  It is then read back over a connection (read_req / read_res)
 * and must give the same start line and fields (values without their
 * surrounding blanks, as the parser trims them), unless llhttp on its own
 * refuses that head too (the setters accept more than llhttp parses:
 * those cases are only traced).  Last, the message is
 * written with write_req / write_res (which adds Content-Length or
 * chunked framing) and read back whole, body included, when its framing
 * fields leave that well-defined.
 *
 * Input layout:
 *   byte 0   bit 0 response (else request); bits 1-7 piece sizes for
 *            the read back (0 all at once, else pieces of 1..n bytes)
 *   rest     operations: an opcode byte, then its arguments
 *
 * A name argument is one byte: below 0x80 an entry of a table of names,
 * else a slice of the input of (byte & 0x1f) bytes.  A value argument is
 * one byte: below 0x40 an entry of a table, else a slice of
 * (byte - 0x40) % 96 bytes.  Slices are cut at a NUL (the API takes C
 * strings).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "http/http_conn.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"
#include "support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_runtime_init();
	return (0);
}

static const char *const names[] = { "Host", "Content-Length",
	"content-length", "Transfer-Encoding", "Connection", "Set-Cookie",
	"set-cookie", "X-A", "x-a", "Cookie", "Upgrade", "Expect", "Trailer",
	"Bad Name", "", "X:Y", "Accept", "Vary", "X-\x80", "X-B" };
static const char *const values[] = { "", " ", "chunked", "close",
	"keep-alive", "gzip, chunked", " padded ", "\tx\t", "a,b", "5", "0",
	"-1", "99999999999999999999", "text/html; charset=utf-8", "\x80\xff",
	"x\r\ny", "\x7f", "100-continue", "Upgrade", "websocket", "a=1; Path=/",
	"\t", "v", "identity", "chunked, gzip", "\x01" };
static const char *const methods[] = { "GET", "HEAD", "POST", "PUT",
	"DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "FOO", "get",
	"M-SEARCH", "PRI", "", "GE T", "PROPFIND" };
static const char *const uris[] = { "/", "*", "/a?b#c", "http://h/x",
	"h:443", "/%zz", "/\x80", "/a b", "", "/{}|\\^`", "/x\x7f", "//", "?",
	"/p?q=1&r=2" };
static const char *const versions[] = { "HTTP/1.1", "HTTP/1.0", "HTTP/2.0",
	"HTTP/0.9", "HTTP/9.9", "HTTP/1.10", "HTTP/1", "http/1.1", "HTTP/3.0",
	"HTTP/1.x" };
static const char *const reasons[] = { NULL, "", "OK", " spaced ", "\t",
	"caf\xe9", "x\ry", "Not Found", "a\tb" };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_FIELDS 128
#define MAX_OPS 256
#define MAX_VALUE 8192

/* ---- the model ---- */

typedef struct {
	char *name;
	char *value;
} mfield;

typedef struct {
	bool           is_res;
	mfield         f[MAX_FIELDS];
	size_t         n;
	char          *method; /* request */
	char          *uri;
	uint16_t       status; /* response */
	char          *reason; /* NULL: the status's own */
	char           version[9];
	unsigned char *body;
	size_t         size;
} model;

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);
	FZ_CHECK(d != NULL, "out of memory");
	return (d);
}

static bool
m_tchar(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c)));
}

static bool
m_token(const char *s)
{
	if (*s == '\0') {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (!m_tchar((unsigned char) *s)) {
			return (false);
		}
	}
	return (true);
}

static bool
m_ctl(unsigned char c)
{
	return (c < 0x20 || c == 0x7f);
}

static bool
m_value(const char *s)
{
	for (; *s != '\0'; s++) {
		if (m_ctl((unsigned char) *s) && *s != '\t') {
			return (false);
		}
	}
	return (true);
}

static bool
m_uri(const char *s)
{
	if (*s == '\0') {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (m_ctl((unsigned char) *s) || *s == ' ') {
			return (false);
		}
	}
	return (true);
}

static bool
m_version(const char *s)
{
	return (strlen(s) == 8 && strncmp(s, "HTTP/", 5) == 0 && s[5] >= '0' &&
	    s[5] <= '9' && s[6] == '.' && s[7] >= '0' && s[7] <= '9');
}

static size_t
m_find(const model *m, const char *name, size_t from)
{
	for (size_t i = from; i < m->n; i++) {
		if (fz_name_eq(m->f[i].name, name)) {
			return (i);
		}
	}
	return (m->n);
}

static void
m_remove(model *m, size_t i)
{
	free(m->f[i].name);
	free(m->f[i].value);
	memmove(&m->f[i], &m->f[i + 1], (m->n - i - 1) * sizeof(m->f[0]));
	m->n--;
}

static void
m_set(model *m, const char *name, const char *value)
{
	size_t i = m_find(m, name, 0);
	char  *v = xstrdup(value);

	if (i == m->n) {
		m->f[m->n].name  = xstrdup(name);
		m->f[m->n].value = v;
		m->n++;
		return;
	}
	free(m->f[i].value);
	m->f[i].value = v;
	for (size_t j; (j = m_find(m, name, i + 1)) < m->n;) {
		m_remove(m, j);
	}
}

static void
m_add(model *m, const char *name, const char *value)
{
	size_t i = fz_name_eq(name, "Set-Cookie") ? m->n : m_find(m, name, 0);

	if (i == m->n) {
		m->f[m->n].name  = xstrdup(name);
		m->f[m->n].value = xstrdup(value);
		m->n++;
	} else if (*value == '\0') {
		/* An empty element adds nothing. */
	} else if (m->f[i].value[0] == '\0') {
		free(m->f[i].value);
		m->f[i].value = xstrdup(value);
	} else {
		size_t ol = strlen(m->f[i].value), vl = strlen(value);
		char  *v  = malloc(ol + vl + 3);
		FZ_CHECK(v != NULL, "out of memory");
		memcpy(v, m->f[i].value, ol);
		memcpy(v + ol, ", ", 2);
		memcpy(v + ol + 2, value, vl + 1);
		free(m->f[i].value);
		m->f[i].value = v;
	}
}

/* Whether set or add of name leaves the model within MAX_FIELDS. */
static bool
m_room(const model *m, const char *name, bool add)
{
	return (m->n < MAX_FIELDS ||
	    (m_find(m, name, 0) < m->n && !(add && fz_name_eq(name, "Set-Cookie"))));
}

static const char *
m_get(const model *m, const char *name)
{
	size_t i = m_find(m, name, 0);
	return (i < m->n ? m->f[i].value : NULL);
}

static void
m_set_body(model *m, const void *body, size_t size)
{
	char cl[24];

	free(m->body);
	m->body = NULL;
	if (size > 0) {
		m->body = malloc(size);
		FZ_CHECK(m->body != NULL, "out of memory");
		memcpy(m->body, body, size);
	}
	m->size = size;
	snprintf(cl, sizeof(cl), "%zu", size);
	m_set(m, "Content-Length", cl);
}

static void
m_reset(model *m)
{
	while (m->n > 0) {
		m_remove(m, m->n - 1);
	}
	free(m->method);
	free(m->uri);
	free(m->reason);
	free(m->body);
	m->method = xstrdup("GET");
	m->uri    = xstrdup("/");
	m->status = 200;
	m->reason = NULL;
	m->body   = NULL;
	m->size   = 0;
	memcpy(m->version, "HTTP/1.1", 9);
}

static void
m_fini(model *m)
{
	m_reset(m);
	free(m->method);
	free(m->uri);
}

/* ---- the message under test ---- */

typedef struct {
	bool              is_res;
	nghttpw_http_req *req;
	nghttpw_http_res *res;
} message;

static nhw_http_msg *
msg_of(message *x)
{
	return (x->is_res ? nhw_http_res_msg(x->res) : nhw_http_req_msg(x->req));
}

static int
x_set(message *x, const char *n, const char *v)
{
	return (x->is_res ? nghttpw_http_res_set_header(x->res, n, v)
	                  : nghttpw_http_req_set_header(x->req, n, v));
}

static int
x_add(message *x, const char *n, const char *v)
{
	return (x->is_res ? nghttpw_http_res_add_header(x->res, n, v)
	                  : nghttpw_http_req_add_header(x->req, n, v));
}

static int
x_del(message *x, const char *n)
{
	return (x->is_res ? nghttpw_http_res_del_header(x->res, n)
	                  : nghttpw_http_req_del_header(x->req, n));
}

static const char *
x_get(message *x, const char *n)
{
	return (x->is_res ? nghttpw_http_res_get_header(x->res, n)
	                  : nghttpw_http_req_get_header(x->req, n));
}

static int
x_set_data(message *x, const void *b, size_t n, bool copy)
{
	if (x->is_res) {
		return (copy ? nghttpw_http_res_copy_data(x->res, b, n)
		             : nghttpw_http_res_set_data(x->res, b, n));
	}
	return (copy ? nghttpw_http_req_copy_data(x->req, b, n)
	             : nghttpw_http_req_set_data(x->req, b, n));
}

static void
x_get_data(message *x, void **b, size_t *n)
{
	if (x->is_res) {
		nghttpw_http_res_get_data(x->res, b, n);
	} else {
		nghttpw_http_req_get_data(x->req, b, n);
	}
}

static const char *
x_version(message *x)
{
	return (x->is_res ? nghttpw_http_res_get_version(x->res)
	                  : nghttpw_http_req_get_version(x->req));
}

static bool
str_or_null_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return (a == b);
	}
	return (strcmp(a, b) == 0);
}

/* The reason the response will be written with. */
static const char *
m_reason(const model *m)
{
	if (m->reason != NULL) {
		return (m->reason);
	}
	const char *r = nhw_http_status_reason(m->status);
	return (r != NULL ? r : "Unknown HTTP Status");
}

static void
compare(model *m, message *x, const char *after)
{
	size_t                n;
	const nhw_http_field *f = nhw_http_msg_fields(msg_of(x), &n);
	void                 *body;
	size_t                size;

	fz_check_fields(msg_of(x), false);
	FZ_CHECK(n == m->n, "after %s: %zu fields, model %zu", after, n, m->n);
	for (size_t i = 0; i < n; i++) {
		FZ_CHECK(strcmp(f[i].name, m->f[i].name) == 0 &&
		        strcmp(f[i].value, m->f[i].value) == 0,
		    "after %s: field %zu is [%s: %s], model [%s: %s]", after, i,
		    f[i].name, f[i].value, m->f[i].name, m->f[i].value);
		FZ_CHECK(str_or_null_eq(x_get(x, f[i].name), m_get(m, f[i].name)),
		    "after %s: get_header(%s)", after, f[i].name);
	}
	FZ_CHECK(strcmp(x_version(x), m->version) == 0,
	    "after %s: version [%s], model [%s]", after, x_version(x), m->version);
	if (x->is_res) {
		FZ_CHECK(nghttpw_http_res_get_status(x->res) == m->status,
		    "after %s: status %u, model %u", after,
		    nghttpw_http_res_get_status(x->res), m->status);
		FZ_CHECK(strcmp(nghttpw_http_res_get_reason(x->res),
		             m_reason(m)) == 0,
		    "after %s: reason [%s], model [%s]", after,
		    nghttpw_http_res_get_reason(x->res), m_reason(m));
	} else {
		FZ_CHECK(strcmp(nghttpw_http_req_get_method(x->req), m->method) == 0,
		    "after %s: method [%s], model [%s]", after,
		    nghttpw_http_req_get_method(x->req), m->method);
		FZ_CHECK(strcmp(nghttpw_http_req_get_uri(x->req), m->uri) == 0,
		    "after %s: uri [%s], model [%s]", after,
		    nghttpw_http_req_get_uri(x->req), m->uri);
	}
	x_get_data(x, &body, &size);
	FZ_CHECK(size == m->size &&
	        (size == 0 || memcmp(body, m->body, size) == 0),
	    "after %s: body of %zu bytes, model %zu", after, size, m->size);
}

/* ---- arguments ---- */

typedef struct {
	fz_bytes in;
	char     scratch[4][256];
	unsigned next;
} args;

static const char *
arg_slice(args *a, size_t want)
{
	char  *buf = a->scratch[a->next++ % 4];
	size_t n   = want < a->in.n ? want : a->in.n;

	memcpy(buf, a->in.p, n);
	buf[n] = '\0';
	a->in.p += n;
	a->in.n -= n;
	return (buf);
}

static const char *
arg_name(args *a)
{
	uint8_t k = fz_u8(&a->in);
	return (k < 0x80 ? names[k % NELEM(names)] : arg_slice(a, k & 0x1f));
}

static const char *
arg_value(args *a)
{
	uint8_t k = fz_u8(&a->in);
	return (k < 0x40 ? values[k % NELEM(values)]
	                 : arg_slice(a, (size_t) (k - 0x40) % 96));
}

static const char *
arg_table(args *a, const char *const *table, size_t n, size_t maxlen)
{
	uint8_t k = fz_u8(&a->in);
	return (k < 0x80 ? table[k % n] : arg_slice(a, (k & 0x7f) % (maxlen + 1)));
}

/* ---- operations ---- */

static void
expect_rv(int rv, int want, const char *op, const char *arg)
{
	FZ_CHECK(rv == want, "%s(%s): %d (%s), expected %d", op,
	    arg != NULL ? arg : "NULL", rv, nghttpw_strerror(rv), want);
}

/* Header operations, with the rules the model follows. */
static void
op_header(model *m, message *x, int which, const char *name, const char *value)
{
	bool valid = m_token(name) && (which == 2 || m_value(value));
	int  rv;

	if (which == 2) {
		/* del */
		bool found = valid && m_find(m, name, 0) < m->n;
		rv         = x_del(x, name);
		expect_rv(rv,
		    !valid ? NGHTTPW_EINVAL : found ? 0 : NGHTTPW_ENOENT, "del",
		    name);
		if (found) {
			for (size_t j; (j = m_find(m, name, 0)) < m->n;) {
				m_remove(m, j);
			}
		}
		return;
	}
	if (valid && which == 1) {
		const char *old = m_get(m, name);
		if (old != NULL && strlen(old) + strlen(value) > MAX_VALUE) {
			return; /* keep the value from growing without end */
		}
	}
	if (valid && !m_room(m, name, which == 1)) {
		return;
	}
	rv = which == 0 ? x_set(x, name, value) : x_add(x, name, value);
	expect_rv(rv, valid ? 0 : NGHTTPW_EINVAL, which == 0 ? "set" : "add", name);
	if (valid) {
		if (which == 0) {
			m_set(m, name, value);
		} else {
			m_add(m, name, value);
		}
	}
}

static void
op_data(model *m, message *x, const void *body, size_t size, bool copy)
{
	if (!m_room(m, "Content-Length", false)) {
		return;
	}
	expect_rv(x_set_data(x, body, size, copy), 0, copy ? "copy_data" : "set_data",
	    "body");
	m_set_body(m, body, size);
}

static void
op_start_line(model *m, message *x, args *a, int which)
{
	const char *s;
	int         rv;

	if (x->is_res) {
		if (which == 0) {
			uint16_t st    = fz_u16(&a->in);
			bool     valid = st >= 100 && st <= 999;
			rv = nghttpw_http_res_set_status(x->res, st);
			expect_rv(rv, valid ? 0 : NGHTTPW_EINVAL, "set_status", "status");
			if (valid) {
				m->status = st;
			}
		} else if (which == 1) {
			s  = arg_table(a, reasons, NELEM(reasons), 64);
			rv = nghttpw_http_res_set_reason(x->res, s);
			if (s == NULL) {
				expect_rv(rv, 0, "set_reason", s);
				free(m->reason);
				m->reason = NULL;
			} else {
				expect_rv(rv, m_value(s) ? 0 : NGHTTPW_EINVAL,
				    "set_reason", s);
				if (m_value(s)) {
					free(m->reason);
					m->reason = xstrdup(s);
				}
			}
		} else {
			s  = arg_table(a, versions, NELEM(versions), 10);
			rv = nghttpw_http_res_set_version(x->res, s);
			expect_rv(rv, m_version(s) ? 0 : NGHTTPW_EINVAL, "set_version", s);
			if (m_version(s)) {
				memcpy(m->version, s, 9);
			}
		}
		return;
	}
	if (which == 0) {
		s  = arg_table(a, methods, NELEM(methods), 16);
		rv = nghttpw_http_req_set_method(x->req, s);
		expect_rv(rv, m_token(s) ? 0 : NGHTTPW_EINVAL, "set_method", s);
		if (m_token(s)) {
			free(m->method);
			m->method = xstrdup(s);
		}
	} else if (which == 1) {
		s  = arg_table(a, uris, NELEM(uris), 100);
		rv = nghttpw_http_req_set_uri(x->req, s);
		expect_rv(rv, m_uri(s) ? 0 : NGHTTPW_EINVAL, "set_uri", s);
		if (m_uri(s)) {
			free(m->uri);
			m->uri = xstrdup(s);
		}
	} else {
		s  = arg_table(a, versions, NELEM(versions), 10);
		rv = nghttpw_http_req_set_version(x->req, s);
		expect_rv(rv, m_version(s) ? 0 : NGHTTPW_EINVAL, "set_version", s);
		if (m_version(s)) {
			memcpy(m->version, s, 9);
		}
	}
}

static void
check_serialized(message *x)
{
	const char *head;
	size_t      len;
	int         rv = x->is_res ? nhw_http_res_get_head(x->res, &head, &len)
	                           : nhw_http_req_get_head(x->req, &head, &len);

	FZ_CHECK(rv == 0, "get_head: %d", rv);
	FZ_CHECK(len == (x->is_res ? nhw_http_res_head_size(x->res)
	                           : nhw_http_req_head_size(x->req)),
	    "get_head gave %zu bytes, head_size says otherwise", len);
	fz_check_head(head, len, msg_of(x));
}

static void
run_op(model *m, message *x, args *a)
{
	uint8_t               op = fz_u8(&a->in) % 16;
	size_t                n, len;
	const nhw_http_field *f;
	const uint8_t        *p;
	void                 *body;
	char                  tmp[32];

	switch (op) {
	case 0:
	case 1:
	case 2: {
		const char *name  = arg_name(a);
		const char *value = op == 2 ? NULL : arg_value(a);
		FZ_LOG("op %s [%s] [%s]\n", op == 0 ? "set" : op == 1 ? "add" : "del",
		    name, value != NULL ? value : "");
		op_header(m, x, op, name, value);
		break;
	}
	case 3: {
		const char *name = arg_name(a);
		FZ_CHECK(str_or_null_eq(x_get(x, name), m_get(m, name)),
		    "get_header(%s) [%s], model [%s]", name,
		    x_get(x, name) ? x_get(x, name) : "(null)",
		    m_get(m, name) ? m_get(m, name) : "(null)");
		break;
	}
	case 4:
	case 5:
	case 6:
		FZ_LOG("op start line %d\n", op - 4);
		op_start_line(m, x, a, op - 4);
		break;
	case 7:
	case 8:
		p = fz_slice(&a->in, 255, &len);
		FZ_LOG("op %s %zu bytes\n", op == 7 ? "set_data" : "copy_data", len);
		op_data(m, x, p, len, op == 8);
		break;
	case 9:
	case 15:
		/* A body taken from the message's own body. */
		x_get_data(x, &body, &n);
		if (n > 0) {
			size_t off = fz_u8(&a->in) % n;
			len        = fz_u8(&a->in) % (n - off + 1);
			/* The model's copy, as the library's buffer goes. */
			unsigned char *copy = malloc(len + 1);
			FZ_CHECK(copy != NULL, "out of memory");
			memcpy(copy, (unsigned char *) body + off, len);
			FZ_LOG("op %s own body [%zu, +%zu)\n",
			    op == 9 ? "set_data" : "copy_data", off, len);
			if (m_room(m, "Content-Length", false)) {
				expect_rv(x_set_data(x, (unsigned char *) body + off,
				              len, op == 15),
				    0, "set_data", "own body");
				m_set_body(m, copy, len);
			}
			free(copy);
		}
		break;
	case 10:
	case 11: {
		/* A value that points into a field of the message. */
		f = nhw_http_msg_fields(msg_of(x), &n);
		if (n == 0) {
			break;
		}
		size_t      i     = fz_u8(&a->in) % n;
		const char *name  = arg_name(a);
		char       *value = xstrdup(f[i].value);
		if (strlen(value) * 2 + 2 > MAX_VALUE) {
			free(value);
			break;
		}
		FZ_LOG("op %s [%s] = value of field %zu\n", op == 10 ? "set" : "add",
		    name, i);
		{
			bool valid = m_token(name);
			int  rv;
			if (valid && !m_room(m, name, op == 11)) {
				free(value);
				break;
			}
			if (valid && op == 11 && m_get(m, name) != NULL &&
			    strlen(m_get(m, name)) + strlen(value) > MAX_VALUE) {
				free(value);
				break;
			}
			rv = op == 10 ? x_set(x, name, f[i].value)
			              : x_add(x, name, f[i].value);
			expect_rv(rv, valid ? 0 : NGHTTPW_EINVAL,
			    op == 10 ? "set (own value)" : "add (own value)", name);
			if (valid) {
				if (op == 10) {
					m_set(m, name, value);
				} else {
					m_add(m, name, value);
				}
			}
		}
		free(value);
		break;
	}
	case 12: {
		/* A name that points into a field of the message. */
		f = nhw_http_msg_fields(msg_of(x), &n);
		if (n == 0) {
			break;
		}
		size_t      i     = fz_u8(&a->in) % n;
		int         which = fz_u8(&a->in) % 3;
		const char *value = which == 2 ? NULL : arg_value(a);
		char       *name  = xstrdup(f[i].name);
		FZ_LOG("op %s (own name %zu: %s)\n",
		    which == 0 ? "set" : which == 1 ? "add" : "del", i, name);
		if (which == 2 || !m_value(value)) {
			/* del, or a refused value: straight through */
			int rv = which == 2 ? x_del(x, f[i].name)
			                    : which == 0 ? x_set(x, f[i].name, value)
			                                 : x_add(x, f[i].name, value);
			expect_rv(rv, which == 2 ? 0 : NGHTTPW_EINVAL, "own name", name);
			if (which == 2) {
				for (size_t j; (j = m_find(m, name, 0)) < m->n;) {
					m_remove(m, j);
				}
			}
		} else {
			const char *old = m_get(m, name);
			if (!m_room(m, name, which == 1)) {
				free(name);
				break;
			}
			if (which == 1 && old != NULL &&
			    strlen(old) + strlen(value) > MAX_VALUE) {
				free(name);
				break;
			}
			int rv = which == 0 ? x_set(x, f[i].name, value)
			                    : x_add(x, f[i].name, value);
			expect_rv(rv, 0, "own name", name);
			if (which == 0) {
				m_set(m, name, value);
			} else {
				m_add(m, name, value);
			}
		}
		free(name);
		break;
	}
	case 13:
		FZ_LOG("op reset\n");
		if (x->is_res) {
			nghttpw_http_res_reset(x->res);
		} else {
			nghttpw_http_req_reset(x->req);
		}
		m_reset(m);
		break;
	case 14:
		FZ_LOG("op get_head\n");
		check_serialized(x);
		break;
	}
	snprintf(tmp, sizeof(tmp), "op %u", op);
	compare(m, x, tmp);
}

/* ---- reading back ---- */

static char *
trimmed(const char *v)
{
	size_t n;

	while (*v == ' ' || *v == '\t') {
		v++;
	}
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
		n--;
	}
	char *t = malloc(n + 1);
	FZ_CHECK(t != NULL, "out of memory");
	memcpy(t, v, n);
	t[n] = '\0';
	return (t);
}

/* The fields of a message read back must be the model's, values trimmed. */
static void
compare_read(const model *m, nhw_http_msg *msg)
{
	size_t                n;
	const nhw_http_field *f = nhw_http_msg_fields(msg, &n);

	fz_check_fields(msg, true);
	FZ_CHECK(n == m->n, "read back %zu fields, sent %zu", n, m->n);
	for (size_t i = 0; i < n; i++) {
		char *want = trimmed(m->f[i].value);
		FZ_CHECK(strcmp(f[i].name, m->f[i].name) == 0 &&
		        strcmp(f[i].value, want) == 0,
		    "read back field %zu as [%s: %s], sent [%s: %s]", i, f[i].name,
		    f[i].value, m->f[i].name, m->f[i].value);
		free(want);
	}
}

/* Whether llhttp itself, with nothing of nghttpw around it, refuses the
 * head: then the setters accepted something the parser cannot take (the
 * setters check the RFC 9110 grammar, llhttp is narrower: methods it
 * knows, URI bytes, versions, Content-Length syntax), which is noted but
 * not a failure here.  Returns llhttp's reason, or NULL when it parses. */
static int
pause_head(llhttp_t *ll)
{
	(void) ll;
	return (HPE_PAUSED);
}

static const char *
llhttp_refusal(bool is_res, const char *head, size_t len)
{
	static char       why[160];
	llhttp_settings_t settings;
	llhttp_t          ll;
	llhttp_errno_t    e;

	llhttp_settings_init(&settings);
	settings.on_headers_complete = pause_head;
	llhttp_init(&ll, is_res ? HTTP_RESPONSE : HTTP_REQUEST, &settings);
	e = llhttp_execute(&ll, head, len);
	if (e == HPE_PAUSED) {
		return (NULL);
	}
	if (e == HPE_OK) {
		/* "PRI * HTTP/2.0" wants the rest of the HTTP/2 preface. */
		return ("llhttp does not see the end of the head");
	}
	snprintf(why, sizeof(why), "%s (%s)", llhttp_errno_name(e),
	    llhttp_get_error_reason(&ll) != NULL ? llhttp_get_error_reason(&ll)
	                                         : "");
	return (why);
}

/* What the reader refuses although llhttp's lenient build parses it: a
 * status code outside 100-599, a request target with a byte above 0x7E
 * (it must be percent-encoded), and `chunked` named twice. */
static bool
strict_refusal(const model *m, bool is_res, const char *te)
{
	const char *first;

	if (is_res && (m->status < 100 || m->status > 599)) {
		return (true);
	}
	if (!is_res && m->uri != NULL) {
		for (const unsigned char *p = (const unsigned char *) m->uri; *p != '\0'; p++) {
			if (*p > 0x7e) {
				return (true);
			}
		}
	}
	return (te != NULL && (first = strcasestr(te, "chunked")) != NULL &&
	    strcasestr(first + 7, "chunked") != NULL);
}

static void
read_back(model *m, message *x, uint8_t split)
{
	const char        *head;
	char              *copy;
	size_t             len;
	fz_script          sc;
	nghttpw_http_conn *c;
	nghttpw_http_req  *req = NULL;
	nghttpw_http_res  *res = NULL;
	nghttpw_aio       *aio = fz_aio();
	int                rv;

	rv = x->is_res ? nhw_http_res_get_head(x->res, &head, &len)
	               : nhw_http_req_get_head(x->req, &head, &len);
	FZ_CHECK(rv == 0, "get_head: %d", rv);
	fz_check_head(head, len, msg_of(x));
	copy = malloc(len);
	FZ_CHECK(copy != NULL, "out of memory");
	memcpy(copy, head, len);

	fz_script_init(&sc, (const uint8_t *) copy, len, split, (uint32_t) len);
	fz_conn_open(&sc, &c);
	FZ_CHECK(nghttpw_http_conn_set_max_header_size(c, len + 64) == 0, "limit");
	FZ_CHECK(nghttpw_http_conn_set_max_headers(c, m->n + 1) == 0, "limit");
	if (x->is_res) {
		FZ_CHECK(nghttpw_http_res_alloc(&res) == 0, "res alloc");
		nghttpw_http_conn_read_res(c, res, aio);
	} else {
		FZ_CHECK(nghttpw_http_req_alloc(&req, NULL) == 0, "req alloc");
		nghttpw_http_conn_read_req(c, req, aio);
	}
	rv = fz_wait(aio);
	FZ_LOG("read back: %d, head:\n%.*s\n", rv, (int) len, copy);
	if (rv != 0) {
		const char *why = llhttp_refusal(x->is_res, copy, len);
		const char *te  = m_get(m, "Transfer-Encoding");
		if (why != NULL) {
			FZ_LOG("unreadable, llhttp refuses it too: %s\n", why);
		} else if (rv == NGHTTPW_ENOTSUP && !x->is_res && te != NULL) {
			/* A request body in a coding it cannot undo. */
			FZ_LOG("unreadable: request Transfer-Encoding [%s]\n", te);
		} else if (rv == NGHTTPW_EPROTO && te != NULL &&
		    te[strspn(te, " \t")] == '\0') {
			/* Refused on purpose: llhttp ignores an empty one, which
			 * a peer may read otherwise (smuggling). */
			FZ_LOG("unreadable: empty Transfer-Encoding\n");
		} else if (rv == NGHTTPW_EPROTO && strict_refusal(m, x->is_res, te)) {
			/* Framing stricter than llhttp's lenient build, on
			 * purpose (RFC 9112): see strict_refusal. */
			FZ_LOG("unreadable: refused by the strict framing rules\n");
		} else {
			FZ_CHECK(why != NULL,
			    "a head that llhttp parses cannot be read back: %d "
			    "(%s):\n%.*s",
			    rv, nghttpw_strerror(rv), (int) len, copy);
		}
	} else if (x->is_res) {
		FZ_CHECK(nghttpw_http_res_get_status(res) == m->status,
		    "read back status %u, sent %u", nghttpw_http_res_get_status(res),
		    m->status);
		FZ_CHECK(strcmp(nghttpw_http_res_get_reason(res), m_reason(m)) == 0,
		    "read back reason [%s], sent [%s]",
		    nghttpw_http_res_get_reason(res), m_reason(m));
		FZ_CHECK(strcmp(nghttpw_http_res_get_version(res), m->version) == 0,
		    "read back version [%s], sent [%s]",
		    nghttpw_http_res_get_version(res), m->version);
		compare_read(m, nhw_http_res_msg(res));
	} else {
		FZ_CHECK(strcmp(nghttpw_http_req_get_method(req), m->method) == 0,
		    "read back method [%s], sent [%s]",
		    nghttpw_http_req_get_method(req), m->method);
		FZ_CHECK(strcmp(nghttpw_http_req_get_uri(req), m->uri) == 0,
		    "read back uri [%s], sent [%s]", nghttpw_http_req_get_uri(req),
		    m->uri);
		FZ_CHECK(strcmp(nghttpw_http_req_get_version(req), m->version) == 0,
		    "read back version [%s], sent [%s]",
		    nghttpw_http_req_get_version(req), m->version);
		compare_read(m, nhw_http_req_msg(req));
	}
	nghttpw_aio_free(aio);
	fz_conn_close(c, &sc);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	fz_script_fini(&sc);
	free(copy);
}

/* Whether the message's own framing fields agree with its body, so that
 * what write_req / write_res send can be read back whole. */
static bool
framing_sound(const model *m)
{
	const char *te = m_get(m, "Transfer-Encoding");
	const char *cl = m_get(m, "Content-Length");
	char        len[24];

	if (m->is_res && (m->status < 200 || m->status == 204 || m->status == 304)) {
		return (false); /* sent without body */
	}
	if (!m->is_res && strcmp(m->method, "CONNECT") == 0) {
		return (false); /* what follows the head is tunnel data */
	}
	if (te != NULL) {
		char *t  = trimmed(te);
		bool  ok = fz_name_eq(t, "chunked");
		free(t);
		return (ok);
	}
	if (cl != NULL) {
		snprintf(len, sizeof(len), "%zu", m->size);
		return (strcmp(cl, len) == 0);
	}
	return (true);
}

/* write_req / write_res, then read the message back, body included. */
static void
write_back(model *m, message *x, uint8_t split)
{
	fz_script          out, in;
	nghttpw_http_conn *c;
	nghttpw_http_req  *req = NULL;
	nghttpw_http_res  *res = NULL;
	nghttpw_aio       *aio = fz_aio();
	const char        *head;
	size_t             head_len, size;
	void              *body;
	int                rv;

	/* Write. */
	fz_script_init(&out, NULL, 0, 0, 0);
	out.capture  = true;
	out.send_max = split % 8 == 0 ? 0 : split % 8; /* partial sends too */
	fz_conn_open(&out, &c);
	if (x->is_res) {
		nghttpw_http_conn_write_res(c, x->res, aio);
	} else {
		nghttpw_http_conn_write_req(c, x->req, aio);
	}
	rv = fz_wait(aio);
	FZ_CHECK(rv == 0, "write: %d (%s)", rv, nghttpw_strerror(rv));
	FZ_CHECK(nghttpw_aio_count(aio) == out.sent_len,
	    "write counted %zu bytes, sent %zu", nghttpw_aio_count(aio),
	    out.sent_len);
	fz_conn_close(c, &out);
	/* What was sent starts with the head, as it now stands (the write
	 * may have added Content-Length or removed it for chunks). */
	rv = x->is_res ? nhw_http_res_get_head(x->res, &head, &head_len)
	               : nhw_http_req_get_head(x->req, &head, &head_len);
	FZ_CHECK(rv == 0, "get_head: %d", rv);
	FZ_CHECK(out.sent_len >= head_len && memcmp(out.sent, head, head_len) == 0,
	    "the bytes sent do not start with the head");
	FZ_LOG("wrote %zu bytes, head %zu:\n%.*s\n", out.sent_len, head_len,
	    (int) out.sent_len, out.sent);
	if (llhttp_refusal(x->is_res, head, head_len) != NULL ||
	    strict_refusal(m, x->is_res, m_get(m, "Transfer-Encoding"))) {
		/* As written (Content-Length added or dropped), the head is
		 * one llhttp refuses, or one the strict rules do: see
		 * read_back. */
		FZ_LOG("written head refused by llhttp or the strict rules\n");
		nghttpw_aio_free(aio);
		fz_script_fini(&out);
		return;
	}

	/* Read back. */
	fz_script_init(&in, out.sent, out.sent_len, split, (uint32_t) head_len);
	fz_conn_open(&in, &c);
	FZ_CHECK(nghttpw_http_conn_set_max_header_size(c, head_len + 64) == 0,
	    "limit");
	FZ_CHECK(nghttpw_http_conn_set_max_headers(c, m->n + 2) == 0, "limit");
	if (x->is_res) {
		nghttpw_http_req *get;
		FZ_CHECK(nghttpw_http_req_alloc(&get, NULL) == 0, "req alloc");
		FZ_CHECK(nghttpw_http_res_alloc(&res) == 0, "res alloc");
		nghttpw_http_conn_transact(c, get, res, aio);
		rv = fz_wait(aio);
		nghttpw_http_req_free(get);
		FZ_CHECK(rv == 0, "transact on what write_res sent: %d (%s)", rv,
		    nghttpw_strerror(rv));
		nghttpw_http_res_get_data(res, &body, &size);
	} else {
		FZ_CHECK(nghttpw_http_req_alloc(&req, NULL) == 0, "req alloc");
		nghttpw_http_conn_read_req(c, req, aio);
		rv = fz_wait(aio);
		FZ_CHECK(rv == 0, "read_req on what write_req sent: %d (%s)", rv,
		    nghttpw_strerror(rv));
		http_conn_read_body(c, req, m->size + 1, aio);
		rv = fz_wait(aio);
		FZ_CHECK(rv == 0, "read_body on what write_req sent: %d (%s)", rv,
		    nghttpw_strerror(rv));
		nghttpw_http_req_get_data(req, &body, &size);
	}
	FZ_CHECK(size == m->size && (size == 0 || memcmp(body, m->body, size) == 0),
	    "read back a body of %zu bytes, sent %zu", size, m->size);
	FZ_CHECK(in.pos == in.len, "%zu bytes sent after the message",
	    in.len - in.pos);
	nghttpw_aio_free(aio);
	fz_conn_close(c, &in);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	fz_script_fini(&in);
	fz_script_fini(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	model   m;
	message x;
	args    a;
	uint8_t split;

	if (size < 1) {
		return (0);
	}
	memset(&m, 0, sizeof(m));
	memset(&x, 0, sizeof(x));
	memset(&a, 0, sizeof(a));
	m.is_res = x.is_res = (data[0] & 1) != 0;
	split               = data[0] >> 1;
	a.in                = (fz_bytes) { data + 1, size - 1 };
	m_reset(&m);
	if (x.is_res) {
		FZ_CHECK(nghttpw_http_res_alloc(&x.res) == 0, "res alloc");
	} else {
		FZ_CHECK(nghttpw_http_req_alloc(&x.req, NULL) == 0, "req alloc");
	}
	compare(&m, &x, "alloc");

	for (int i = 0; i < MAX_OPS && a.in.n > 0; i++) {
		run_op(&m, &x, &a);
	}

	check_serialized(&x);
	read_back(&m, &x, split);
	if (framing_sound(&m)) {
		write_back(&m, &x, split);
	}

	nghttpw_http_req_free(x.req);
	nghttpw_http_res_free(x.res);
	m_fini(&m);
	return (0);
}
