/* The HTTP server over loopback TCP: routing, built-in handlers, bodies,
 * keep-alive and pipelining, the error answers a hostile or broken client
 * gets, time limits, hijacking, graceful stop and reference counting.
 * Clients are raw streams that send exact bytes and read exact replies,
 * and nghttpw_http_conn for transact. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_server.h"
#include "nghttpw/http.h"
#include "support/http_util.h"
#include "support/pairs.h"

#define T_TIMEOUT 30

/* ------------------------------------------------------------ servers */

static nghttpw_http_server *
server_hold(const char *addr)
{
	nghttpw_url         *url;
	nghttpw_http_server *s;

	cr_assert_eq(nghttpw_url_parse(&url, addr), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	return (s);
}

static int
server_start(nghttpw_http_server *s)
{
	nghttpw_sockaddr sa;

	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	cr_assert_eq(sa.s_family, NGHTTPW_AF_INET);
	return (ntohs(sa.s_in.sa_port));
}

/* A handler answering 200 with its data (a string) as a text body. */
static void
text_cb(nghttpw_aio *aio)
{
	nghttpw_http_handler *h    = nghttpw_aio_get_input(aio, 1);
	const char           *text = nghttpw_http_handler_get_data(h);
	nghttpw_http_res     *res;

	cr_assert_not_null(nghttpw_aio_get_input(aio, 0));
	cr_assert_not_null(nghttpw_aio_get_input(aio, 2));
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nghttpw_http_res_set_header(res, "Content-Type", "text/plain");
	nghttpw_http_res_copy_data(res, text, strlen(text));
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static nghttpw_http_handler *
text_handler(const char *path, const char *text)
{
	nghttpw_http_handler *h;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, path, text_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h, (void *) text, NULL), 0);
	return (h);
}

static void
add(nghttpw_http_server *s, nghttpw_http_handler *h)
{
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
}

/* Answers "<method> <uri> <n>:<body>" with the collected body. */
static void
echo_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	void             *body;
	size_t            size;
	char             *text;
	size_t            cap;

	nghttpw_http_req_get_data(req, &body, &size);
	cap  = size + strlen(nghttpw_http_req_get_uri(req)) + 64;
	text = malloc(cap);
	int n = snprintf(text, cap, "%s %s %zu:", nghttpw_http_req_get_method(req),
	    nghttpw_http_req_get_uri(req), size);
	if (size > 0) {
		memcpy(text + n, body, size);
	}
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nghttpw_http_res_copy_data(res, text, (size_t) n + size);
	free(text);
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static nghttpw_http_handler *
echo_handler(const char *path, const char *method)
{
	nghttpw_http_handler *h;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, path, echo_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(h, method), 0);
	return (h);
}

/* ------------------------------------------------------------ clients */

typedef struct {
	nghttpw_stream *s;
	char           *buf;
	size_t          len;
	size_t          cap;
} client;

typedef struct {
	int    status;
	char  *head;
	char  *body;
	size_t body_len;
} reply;

static nghttpw_stream *
dial(int port)
{
	nghttpw_stream *s;

	cr_assert_eq(tcp_dial(port, &s), 0);
	return (s);
}

static void
cl_open(client *c, int port)
{
	c->s   = dial(port);
	c->cap = 1 << 16;
	c->len = 0;
	c->buf = malloc(c->cap);
}

static void
cl_close(client *c)
{
	nghttpw_stream_free(c->s);
	free(c->buf);
}

static void
cl_send(client *c, const char *text)
{
	cr_assert_eq(send_all(c->s, text, strlen(text), NULL), 0);
}

/* Receives some more bytes; returns the stream's result. */
static int
cl_fill(client *c, nghttpw_duration ms)
{
	nghttpw_iov iov;
	size_t      n = 0;
	int         rv;

	if (c->len == c->cap) {
		c->cap *= 2;
		c->buf = realloc(c->buf, c->cap);
	}
	iov.iov_buf = c->buf + c->len;
	iov.iov_len = c->cap - c->len;
	rv          = sync_op(nghttpw_stream_recv, c->s, &iov, 1, ms, &n);
	c->len += n;
	return (rv);
}

static void
cl_consume(client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

static char *
memstr(char *hay, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t i = 0; i + nl <= len; i++) {
		if (memcmp(hay + i, needle, nl) == 0) {
			return (hay + i);
		}
	}
	return (NULL);
}

/* The value of a field in a head (first line skipped), or NULL; the
 * copy is the caller's. */
static char *
head_field(const char *head, const char *name)
{
	size_t      nl = strlen(name);
	const char *p  = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ') {
				v++;
			}
			return (strndup(v, strcspn(v, "\r")));
		}
		p = strstr(p, "\r\n");
	}
	return (NULL);
}

static bool
head_has(reply *r, const char *name, const char *value)
{
	char *v  = head_field(r->head, name);
	bool  ok = v != NULL && strcasecmp(v, value) == 0;

	free(v);
	return (ok);
}

/* Reads one response; no_body for the answer to HEAD.  Returns 0, or the
 * error that cut it short. */
static int
cl_reply(client *c, reply *r, bool no_body)
{
	char  *end;
	size_t head_len;
	char  *cl, *te;
	int    rv;

	memset(r, 0, sizeof(*r));
	while ((end = memstr(c->buf, c->len, "\r\n\r\n")) == NULL) {
		if ((rv = cl_fill(c, 5000)) != 0) {
			return (rv);
		}
	}
	head_len = (size_t) (end - c->buf) + 4;
	r->head  = strndup(c->buf, head_len);
	cl_consume(c, head_len);
	cr_assert_eq(sscanf(r->head, "HTTP/1.%*d %d", &r->status), 1,
	    "bad status line: %s", r->head);
	cl = head_field(r->head, "Content-Length");
	te = head_field(r->head, "Transfer-Encoding");
	if (no_body || r->status < 200 || r->status == 204 || r->status == 304) {
		r->body = strdup("");
	} else if (te != NULL) {
		cr_assert_str_eq(te, "chunked");
		r->body = malloc(1);
		for (;;) {
			char  *eol;
			size_t sz;
			while ((eol = memstr(c->buf, c->len, "\r\n")) == NULL) {
				if ((rv = cl_fill(c, 5000)) != 0) {
					goto out;
				}
			}
			sz = strtoul(c->buf, NULL, 16);
			cl_consume(c, (size_t) (eol - c->buf) + 2);
			while (c->len < sz + 2) {
				if ((rv = cl_fill(c, 5000)) != 0) {
					goto out;
				}
			}
			r->body = realloc(r->body, r->body_len + sz + 1);
			memcpy(r->body + r->body_len, c->buf, sz);
			r->body_len += sz;
			cl_consume(c, sz + 2);
			if (sz == 0) {
				break;
			}
		}
		r->body[r->body_len] = '\0';
	} else {
		size_t want = cl != NULL ? strtoul(cl, NULL, 10) : SIZE_MAX;
		while (c->len < want) {
			if ((rv = cl_fill(c, 5000)) != 0) {
				if (cl == NULL && rv == NGHTTPW_ECLOSED) {
					break; /* delimited by the close */
				}
				goto out;
			}
		}
		if (want > c->len) {
			want = c->len;
		}
		r->body = strndup(c->buf, want);
		r->body_len = want;
		cl_consume(c, want);
	}
	rv = 0;
out:
	free(cl);
	free(te);
	return (rv);
}

static void
reply_free(reply *r)
{
	free(r->head);
	free(r->body);
}

/* Sends a request and reads the reply, which must have status. */
static void
exchange(client *c, const char *request, int status, const char *body)
{
	reply r;

	cl_send(c, request);
	cr_assert_eq(cl_reply(c, &r, strncmp(request, "HEAD ", 5) == 0), 0);
	cr_assert_eq(r.status, status, "%s-> %s", request, r.head);
	if (body != NULL) {
		cr_assert_str_eq(r.body, body, "%s", request);
	}
	reply_free(&r);
}

/* Whether the server closes the connection (nothing more arrives). */
static bool
cl_closed(client *c, nghttpw_duration ms)
{
	int rv = cl_fill(c, ms);

	return ((rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET ||
	            rv == NGHTTPW_ECONNSHUT) &&
	    c->len == 0);
}

/* One request on a fresh connection. */
static void
one_shot(int port, const char *request, int status, const char *body)
{
	client c;

	cl_open(&c, port);
	exchange(&c, request, status, body);
	cl_close(&c);
}

/* ------------------------------------------------------------ routing */

Test(http_server, routes_exact_tree_method_and_host, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	client                c;
	reply                 r;
	int                   port;

	add(s, text_handler("/a", "exact"));
	h = text_handler("/t", "tree");
	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	add(s, h);
	h = text_handler("/t/deeper", "deeper");
	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	add(s, h);
	add(s, echo_handler("/m", "POST"));
	add(s, echo_handler("/m", "PUT"));
	h = text_handler("/h", "named host");
	cr_assert_eq(nghttpw_http_handler_set_host(h, "Example.TEST"), 0);
	add(s, h);
	add(s, text_handler("/h", "any host"));
	h = text_handler("/any", "any method");
	cr_assert_eq(nghttpw_http_handler_set_method(h, NULL), 0);
	add(s, h);
	port = server_start(s);

	cl_open(&c, port);
	exchange(&c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, "exact");
	exchange(&c, "GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", 200, "exact");
	exchange(&c, "GET /a/ HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL);
	exchange(&c, "GET /ab HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL);
	exchange(&c, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n", 200, "tree");
	exchange(&c, "GET /t/ HTTP/1.1\r\nHost: x\r\n\r\n", 200, "tree");
	exchange(&c, "GET /t/x/y HTTP/1.1\r\nHost: x\r\n\r\n", 200, "tree");
	exchange(&c, "GET /tx HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL);
	exchange(&c, "GET /t/deeper/z HTTP/1.1\r\nHost: x\r\n\r\n", 200, "deeper");
	exchange(&c, "GET /t/deeperz HTTP/1.1\r\nHost: x\r\n\r\n", 200, "tree");
	exchange(&c, "POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	    200, "POST /m 3:abc");
	exchange(&c, "PUT /m HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 200,
	    "PUT /m 0:");
	exchange(&c, "GET /h HTTP/1.1\r\nHost: example.test:8080\r\n\r\n", 200,
	    "named host");
	exchange(&c, "GET /h HTTP/1.1\r\nHost: EXAMPLE.test\r\n\r\n", 200,
	    "named host");
	exchange(&c, "GET /h HTTP/1.1\r\nHost: other.test\r\n\r\n", 200, "any host");
	/* The absolute form with its root dot is the same name (nng too). */
	exchange(&c, "GET /h HTTP/1.1\r\nHost: example.test.:80\r\n\r\n", 200,
	    "named host");
	exchange(&c, "GET /h HTTP/1.1\r\nHost: example.tes.\r\n\r\n", 200,
	    "any host");
	exchange(&c, "GET http://example.test/h HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "named host");
	exchange(&c, "DELETE /any HTTP/1.1\r\nHost: x\r\n\r\n", 200, "any method");

	/* The wrong method: 405 and what the path takes. */
	cl_send(&c, "GET /m HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 405);
	cr_assert(head_has(&r, "Allow", "POST, PUT"), "%s", r.head);
	cr_assert(strstr(r.body, "405") != NULL);
	reply_free(&r);
	cl_send(&c, "DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 405);
	cr_assert(head_has(&r, "Allow", "GET, HEAD"), "%s", r.head);
	reply_free(&r);

	/* HEAD goes to the GET handler and gets the head only; the
	 * connection is still in step after it. */
	cl_send(&c, "HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, true), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(head_has(&r, "Content-Length", "5"), "%s", r.head);
	cr_assert(head_has(&r, "Content-Type", "text/plain"), "%s", r.head);
	reply_free(&r);
	exchange(&c, "HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, "");
	exchange(&c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 200, "exact");
	cl_close(&c);
	nghttpw_http_server_release(s);
}

Test(http_server, handler_conflicts_busy_and_del, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *ex, *h, *h2, *other;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc(&ex, "/x", text_cb), 0);
	nghttpw_http_handler_set_data(ex, "exclusive", NULL);
	cr_assert_eq(nghttpw_http_handler_set_tree_exclusive(ex), 0);
	add(s, ex);
	/* As in nng, nothing for its method and host may go at or under an
	 * exclusive tree (a trailing slash names the same place)... */
	h = text_handler("/x/y", "under");
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	h = text_handler("/x/", "same place");
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	/* ...but another method, or a handler for a named host, never
	 * meets it. */
	add(s, echo_handler("/x/y", "POST"));
	h = text_handler("/x/z", "named host");
	cr_assert_eq(nghttpw_http_handler_set_host(h, "example.com"), 0);
	add(s, h);
	/* Beside it is fine. */
	add(s, text_handler("/xy", "beside"));
	/* Nor may an exclusive tree go over what is there... */
	add(s, text_handler("/p/q", "pq"));
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/p", text_cb), 0);
	nghttpw_http_handler_set_tree_exclusive(h);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	/* ...nor under a tree, nor a tree over an exclusive one; a plain
	 * handler over one is fine. */
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/t", text_cb), 0);
	nghttpw_http_handler_set_tree(h);
	add(s, h);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/t/u", text_cb), 0);
	nghttpw_http_handler_set_tree_exclusive(h);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/v/w", text_cb), 0);
	nghttpw_http_handler_set_tree_exclusive(h);
	add(s, h);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/v", text_cb), 0);
	nghttpw_http_handler_set_tree(h);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	add(s, text_handler("/v", "plain over exclusive"));
	/* An exclusive tree at the root holds every path. */
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", text_cb), 0);
	nghttpw_http_handler_set_tree_exclusive(h);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EADDRINUSE);
	nghttpw_http_handler_free(h);
	/* Same path, method and host conflict; another method does not. */
	h = text_handler("/d", "first");
	add(s, h);
	h2 = text_handler("/d", "second");
	cr_assert_eq(nghttpw_http_server_add_handler(s, h2), NGHTTPW_EADDRINUSE);
	cr_assert_eq(nghttpw_http_handler_set_method(h2, "POST"), 0);
	add(s, h2);
	/* A registered handler cannot change, nor be added twice. */
	cr_assert_eq(nghttpw_http_handler_set_method(h, "PUT"), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_handler_set_host(h, "a"), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_handler_set_tree(h), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_handler_set_tree_exclusive(h), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_handler_collect_body(h, true, 1), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_handler_set_data(h, NULL, NULL), NGHTTPW_EBUSY);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), NGHTTPW_EBUSY);
	cr_assert_str_eq(nghttpw_http_handler_get_data(h), "first");

	port = server_start(s);
	one_shot(port, "GET /x/any/thing HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "exclusive");
	one_shot(port, "GET /x/y HTTP/1.1\r\nHost: x\r\n\r\n", 200, "exclusive");
	one_shot(port, "POST /x/y HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "POST /x/y 0:");
	one_shot(port, "GET /x/z HTTP/1.1\r\nHost: example.com\r\n\r\n", 200,
	    "named host");
	one_shot(port, "GET /x/z HTTP/1.1\r\nHost: x\r\n\r\n", 200, "exclusive");
	one_shot(port, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "plain over exclusive");
	one_shot(port, "GET /xy HTTP/1.1\r\nHost: x\r\n\r\n", 200, "beside");
	one_shot(port, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n", 200, "first");

	/* Deleted: gone from the server, the caller's again. */
	cr_assert_eq(nghttpw_http_server_del_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_del_handler(s, h), NGHTTPW_ENOENT);
	one_shot(port, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n", 405, NULL);
	cr_assert_eq(nghttpw_http_handler_set_method(h, "PATCH"), 0);
	add(s, h);
	one_shot(port, "PATCH /d HTTP/1.1\r\nHost: x\r\n\r\n", 200, "first");
	cr_assert_eq(nghttpw_http_server_del_handler(s, h), 0);
	nghttpw_http_handler_free(h);

	/* Freeing one still registered takes it off first. */
	other = text_handler("/gone", "gone");
	add(s, other);
	one_shot(port, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n", 200, "gone");
	nghttpw_http_handler_free(other);
	one_shot(port, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL);
	nghttpw_http_server_release(s);
}

Test(http_server, handler_argument_checks)
{
	nghttpw_http_handler *h;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "x", text_cb), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/a?b", text_cb), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/a b", text_cb), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/a", NULL), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc(NULL, "/a", text_cb), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&h, "/a", NULL, 3, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&h, "/a", "x", 1, "a\nb"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc_redirect(&h, "/a", 200, "/b"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc_redirect(&h, "/a", 301, NULL),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc_redirect(&h, "/a", 301, "/b\r\nX: y"),
	    NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/", text_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(h, "BAD METHOD"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_set_host(h, "a b"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_set_host(h, NULL), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(NULL, "GET"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_handler_set_tree(NULL), NGHTTPW_EINVAL);
	cr_assert_null(nghttpw_http_handler_get_data(NULL));
	nghttpw_http_handler_free(h);
	nghttpw_http_handler_free(NULL);
}

static atomic_int dtor_calls;

static void
count_dtor(void *arg)
{
	cr_assert_str_eq(arg, "payload");
	atomic_fetch_add(&dtor_calls, 1);
}

Test(http_server, data_destructor_runs_once_at_the_end, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h1, *h2;

	cr_assert_eq(nghttpw_http_handler_alloc(&h1, "/1", text_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h1, "payload", count_dtor), 0);
	nghttpw_http_handler_free(h1);
	cr_assert_eq(atomic_load(&dtor_calls), 1);
	/* Registered handlers go with their server. */
	cr_assert_eq(nghttpw_http_handler_alloc(&h2, "/2", text_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h2, "payload", count_dtor), 0);
	add(s, h2);
	one_shot(server_start(s), "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "payload");
	cr_assert_eq(atomic_load(&dtor_calls), 1);
	nghttpw_http_server_release(s);
	cr_assert_eq(atomic_load(&dtor_calls), 2);
}

/* ------------------------------------------------- built-in handlers */

Test(http_server, static_and_redirect_handlers, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	char                  data[] = "static body";
	client                c;
	reply                 r;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc_static(
	                 &h, "/s", data, strlen(data), "text/plain; charset=UTF-8"),
	    0);
	memset(data, 'x', strlen(data)); /* it was copied */
	add(s, h);
	cr_assert_eq(nghttpw_http_handler_alloc_static(&h, "/empty", NULL, 0, NULL),
	    0);
	add(s, h);
	cr_assert_eq(
	    nghttpw_http_handler_alloc_redirect(&h, "/old", 0, "http://new.test/"),
	    0);
	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	add(s, h);
	cr_assert_eq(nghttpw_http_handler_alloc_redirect(
	                 &h, "/see", 303, "/there?a=<b>&c=\"d\""),
	    0);
	add(s, h);
	port = server_start(s);

	cl_open(&c, port);
	cl_send(&c, "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "static body");
	cr_assert(head_has(&r, "Content-Type", "text/plain; charset=UTF-8"));
	cr_assert(head_has(&r, "Content-Length", "11"));
	/* Every response is dated, in IMF-fixdate form. */
	{
		const char *d = strstr(r.head, "\r\nDate: ");
		cr_assert_not_null(d, "no Date: %s", r.head);
		cr_assert_not_null(strstr(d, " GMT\r\n"), "%s", r.head);
	}
	reply_free(&r);

	cl_send(&c, "GET /empty HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "");
	/* No type given: octet-stream, as nng's static handler says. */
	cr_assert(head_has(&r, "Content-Type", "application/octet-stream"), "%s",
	    r.head);
	reply_free(&r);
	/* A static handler takes no body. */
	exchange(&c, "GET /s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz", 413,
	    NULL);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);

	cl_open(&c, port);
	cl_send(&c, "GET /old/a/b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 301);
	cr_assert(head_has(&r, "Location", "http://new.test/a/b?q=1"), "%s", r.head);
	cr_assert(strstr(r.body, "http://new.test/a/b?q=1") != NULL);
	reply_free(&r);
	cl_send(&c, "POST /old HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 301);
	cr_assert(head_has(&r, "Location", "http://new.test/"), "%s", r.head);
	reply_free(&r);
	cl_send(&c, "GET /see HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 303);
	cr_assert(head_has(&r, "Location", "/there?a=<b>&c=\"d\""), "%s", r.head);
	cr_assert(strstr(r.body, "/there?a=&lt;b&gt;&amp;c=&quot;d&quot;") != NULL,
	    "%s", r.body);
	reply_free(&r);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* ----------------------------------------------------------- errors */

Test(http_server, error_pages, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_res    *res;
	char                 path[] = "/tmp/nghttpw-page-XXXXXX";
	int                  fd     = mkstemp(path);
	void                *body;
	size_t               size;
	client               c;
	reply                r;
	int                  port;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "<p>gone away</p>", 16), 16);
	close(fd);
	cr_assert_eq(nghttpw_http_server_set_error_page(s, 404, "<p>not here</p>"), 0);
	cr_assert_eq(nghttpw_http_server_set_error_file(s, 410, path), 0);
	unlink(path);
	cr_assert_eq(nghttpw_http_server_set_error_file(s, 410, path), NGHTTPW_ENOENT);
	cr_assert_eq(nghttpw_http_server_set_error_page(s, 7, "x"), NGHTTPW_EINVAL);

	/* res_error: the custom page for its status, else the default. */
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nghttpw_http_res_set_status(res, 410);
	cr_assert_eq(nghttpw_http_server_res_error(s, res), 0);
	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert_eq(size, 16);
	cr_assert_eq(memcmp(body, "<p>gone away</p>", 16), 0);
	nghttpw_http_res_set_status(res, 418);
	cr_assert_eq(nghttpw_http_server_res_error(s, res), 0);
	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert(memstr(body, size, "418") != NULL);
	cr_assert_str_eq(nghttpw_http_res_get_header(res, "Content-Type"),
	    "text/html; charset=UTF-8");
	nghttpw_http_res_free(res);

	port = server_start(s);
	cl_open(&c, port);
	cl_send(&c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<p>not here</p>");
	cr_assert(head_has(&r, "Content-Type", "text/html; charset=UTF-8"));
	reply_free(&r);
	/* A NULL page restores the default. */
	cr_assert_eq(nghttpw_http_server_set_error_page(s, 404, NULL), 0);
	cl_send(&c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 404);
	cr_assert(strstr(r.body, "404 Not Found") != NULL);
	reply_free(&r);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* Fields the server adds to every answer: handlers', its error pages and
 * its answers to broken requests; a handler's own field wins. */
Test(http_server, server_header_on_every_answer, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	client               c;
	reply                r;
	int                  port;

	cr_assert_eq(nghttpw_http_server_set_header(NULL, "A", "b"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_header(s, NULL, "b"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_header(s, "", "b"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_header(s, "A B", "b"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_header(s, "A", "b\r\nC: d"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_server_set_header(s, "X-Gone", "soon"), 0);
	cr_assert_eq(nghttpw_http_server_set_header(s, "x-gone", NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_header(s, "Strict-Transport-Security", "max-age=1"), 0);
	cr_assert_eq(nghttpw_http_server_set_header(s, "strict-transport-security", "max-age=60"), 0);
	cr_assert_eq(nghttpw_http_server_set_header(s, "Content-Type", "x/y"), 0);
	add(s, text_handler("/t", "text"));
	port = server_start(s);

	cl_open(&c, port);
	cl_send(&c, "GET /t HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(head_has(&r, "Strict-Transport-Security", "max-age=60"), "%s", r.head);
	cr_assert(head_has(&r, "Content-Type", "text/plain"), "%s", r.head);
	cr_assert_null(strcasestr(r.head, "X-Gone"), "%s", r.head);
	cr_assert_null(strstr(strstr(r.head, "max-age") + 1, "max-age"),
	    "one field only: %s", r.head);
	reply_free(&r);
	cl_send(&c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 404);
	cr_assert(head_has(&r, "Strict-Transport-Security", "max-age=60"), "%s", r.head);
	cr_assert(head_has(&r, "Content-Type", "text/html; charset=UTF-8"), "%s", r.head);
	reply_free(&r);
	cl_send(&c, "GET /t HTTP/1.1\r\nHost: x\r\nBad Field: 1\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 400);
	cr_assert(head_has(&r, "Strict-Transport-Security", "max-age=60"), "%s", r.head);
	reply_free(&r);
	cl_close(&c);

	/* Removed: gone from the next answer. */
	cr_assert_eq(nghttpw_http_server_set_header(s, "Strict-Transport-Security", NULL), 0);
	cr_assert_eq(nghttpw_http_server_set_header(s, "Content-Type", NULL), 0);
	cl_open(&c, port);
	cl_send(&c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_null(strcasestr(r.head, "Strict-Transport-Security"), "%s", r.head);
	reply_free(&r);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* Answers as its data says: "alloc_error" (a 403 from
 * nghttpw_http_res_alloc_error), "own_body" (the same, then a body of its
 * own) or "bare" (nghttpw_http_res_alloc with status 404, no body). */
static void
error_kind_cb(nghttpw_aio *aio)
{
	nghttpw_http_handler *h    = nghttpw_aio_get_input(aio, 1);
	const char           *kind = nghttpw_http_handler_get_data(h);
	nghttpw_http_res     *res;

	if (strcmp(kind, "bare") == 0) {
		cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
		cr_assert_eq(nghttpw_http_res_set_status(res, 404), 0);
	} else {
		cr_assert_eq(nghttpw_http_res_alloc_error(&res, 403), 0);
		if (strcmp(kind, "own_body") == 0) {
			cr_assert_eq(nghttpw_http_res_copy_data(res, "mine", 4), 0);
		}
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static void
error_kind(nghttpw_http_server *s, const char *path, const char *kind)
{
	nghttpw_http_handler *h;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, path, error_kind_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h, (void *) kind, NULL), 0);
	add(s, h);
}

/* Every error answer of the server, and a handler's alloc_error answer,
 * carries the custom page, as in nng; a handler's own body stays. */
Test(http_server, error_pages_replace_every_error_body, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	client               c;
	reply                r;
	char                 cl[16];
	int                  port;

	cr_assert_eq(nghttpw_http_server_set_error_page(s, 403, "<p>no403</p>"), 0);
	cr_assert_eq(nghttpw_http_server_set_error_page(s, 404, "<p>no404</p>"), 0);
	cr_assert_eq(nghttpw_http_server_set_error_page(s, 405, "<p>no405</p>"), 0);
	error_kind(s, "/alloc-error", "alloc_error");
	error_kind(s, "/own-body", "own_body");
	error_kind(s, "/bare", "bare");
	port = server_start(s);
	cl_open(&c, port);

	/* No handler for the path. */
	cl_send(&c, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "<p>no404</p>");
	reply_free(&r);
	/* A path without the method: the page, and Allow as RFC 9110 asks. */
	cl_send(&c, "DELETE /alloc-error HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 405);
	cr_assert_str_eq(r.body, "<p>no405</p>");
	cr_assert(head_has(&r, "Allow", "GET, HEAD"), "%s", r.head);
	reply_free(&r);
	/* The handler's alloc_error: the server's page for its status. */
	cl_send(&c, "GET /alloc-error HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 403);
	cr_assert_str_eq(r.body, "<p>no403</p>");
	cr_assert(head_has(&r, "Content-Type", "text/html; charset=UTF-8"));
	reply_free(&r);
	/* HEAD: the same head, the page's length, no body. */
	cl_send(&c, "HEAD /alloc-error HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, true), 0);
	cr_assert_eq(r.status, 403);
	snprintf(cl, sizeof(cl), "%zu", strlen("<p>no403</p>"));
	cr_assert(head_has(&r, "Content-Length", cl), "%s", r.head);
	reply_free(&r);
	/* A body the handler set itself is its answer. */
	cl_send(&c, "GET /own-body HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 403);
	cr_assert_str_eq(r.body, "mine");
	reply_free(&r);
	/* An error status on a plain response is sent as made (nng too). */
	cl_send(&c, "GET /bare HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 404);
	cr_assert_str_eq(r.body, "");
	reply_free(&r);
	/* And the connection still serves. */
	cl_send(&c, "GET /own-body HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_str_eq(r.body, "mine");
	reply_free(&r);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* The request gets status and the connection closes after it. */
static void
refused(int port, const char *request, int status)
{
	client c;
	reply  r;

	cl_open(&c, port);
	cl_send(&c, request);
	cr_assert_eq(cl_reply(&c, &r, false), 0, "%s", request);
	cr_assert_eq(r.status, status, "%.60s -> %s", request, r.head);
	cr_assert(head_has(&r, "Connection", "close"), "%s", r.head);
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000), "still open after %d", status);
	cl_close(&c);
}

Test(http_server, broken_requests_get_an_answer_and_a_close,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	char                *big;
	int                  port;

	add(s, text_handler("/", "root"));
	port = server_start(s);

	refused(port, "GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);
	refused(port, "NOT A REQUEST\r\n\r\n", 400);
	refused(port, "GET / HTTP/1.1\r\n\r\n", 400); /* no Host */
	refused(port, "GET nowhere HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused(port, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	refused(port,
	    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
	/* An unknown expectation with a body that may follow closes; without
	 * one the connection stays. */
	refused(port,
	    "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: tea\r\n\r\n",
	    417);
	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417, NULL);

	/* A target over 8 KiB. */
	big = malloc(20000);
	strcpy(big, "GET /");
	memset(big + 5, 'a', 9000);
	strcpy(big + 9005, " HTTP/1.1\r\nHost: x\r\n\r\n");
	refused(port, big, 414);

	/* A header block over the limit, and too many fields. */
	strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	size_t n = strlen(big);
	memset(big + n, 'b', 8000);
	big[n + 8000] = '\0';
	strcat(big, "\r\n\r\n");
	char *huge = malloc(80000);
	strcpy(huge, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 9; i++) {
		strcat(huge, "X-Big: ");
		strncat(huge, big + n, 7990);
		strcat(huge, "\r\n");
	}
	strcat(huge, "\r\n");
	refused(port, huge, 431);
	strcpy(huge, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 150; i++) {
		char line[32];
		snprintf(line, sizeof(line), "X-F%d: v\r\n", i);
		strcat(huge, line);
	}
	strcat(huge, "\r\n");
	refused(port, huge, 431);
	free(huge);
	free(big);

	/* The server still serves. */
	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	nghttpw_http_server_release(s);
}

static void
fail_cb(nghttpw_aio *aio)
{
	nghttpw_aio_finish(aio, NGHTTPW_EINTERNAL);
}

/* Writes its own answer on the connection, then finishes with none. */
typedef struct {
	nghttpw_aio      *handler_aio;
	nghttpw_aio      *write_aio;
	nghttpw_http_res *res;
} self_answer;

static void
self_written(void *arg)
{
	self_answer *a = arg;

	nghttpw_http_res_free(a->res);
	a->res = NULL;
	nghttpw_aio_finish(a->handler_aio, nghttpw_aio_result(a->write_aio));
}

static void
self_answer_cb(nghttpw_aio *aio)
{
	nghttpw_http_handler *h    = nghttpw_aio_get_input(aio, 1);
	nghttpw_http_conn    *conn = nghttpw_aio_get_input(aio, 2);
	self_answer          *a    = nghttpw_http_handler_get_data(h);

	a->handler_aio = aio;
	cr_assert_eq(nghttpw_http_res_alloc(&a->res), 0);
	cr_assert_eq(nghttpw_http_res_copy_data(a->res, "by myself", 9), 0);
	nghttpw_http_conn_write_res(conn, a->res, a->write_aio);
}

Test(http_server, failing_handler_gives_500, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/fail", fail_cb), 0);
	add(s, h);
	add(s, text_handler("/ok", "ok"));
	cr_assert_eq(nghttpw_http_server_set_error_page(s, 500, "oops"), 0);
	port = server_start(s);
	refused(port, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", 500);
	one_shot(port, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", 500, "oops");
	one_shot(port, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 200, "ok");
	nghttpw_http_server_release(s);
}

/* A handler that finishes with no response has answered on the
 * connection itself (as nng takes it): the connection goes on. */
Test(http_server, handler_answering_itself_keeps_the_connection,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	self_answer           a = { 0 };
	client                c;
	int                   port;

	cr_assert_eq(nghttpw_aio_alloc(&a.write_aio, self_written, &a), 0);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/self", self_answer_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h, &a, NULL), 0);
	add(s, h);
	add(s, text_handler("/ok", "ok"));
	port = server_start(s);
	cl_open(&c, port);
	for (int i = 0; i < 3; i++) {
		exchange(&c, "GET /self HTTP/1.1\r\nHost: x\r\n\r\n", 200,
		    "by myself");
		exchange(&c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", 200, "ok");
	}
	/* Pipelined behind another answer, it still comes second. */
	cl_send(&c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /self HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		reply r;
		cr_assert_eq(cl_reply(&c, &r, false), 0);
		cr_assert_str_eq(r.body, i == 1 ? "by myself" : "ok");
		reply_free(&r);
	}
	/* Asked to close, it closes after the handler's answer. */
	exchange(&c, "GET /self HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	    200, "by myself");
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);
	nghttpw_http_server_release(s);
	nghttpw_aio_free(a.write_aio);
}

/* ------------------------------------------------------------ bodies */

Test(http_server, collects_bodies_within_the_limit, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h = echo_handler("/up", "POST");
	client                c;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_collect_body(h, true, 10), 0);
	add(s, h);
	port = server_start(s);

	cl_open(&c, port);
	exchange(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
	             "0123456789",
	    200, "POST /up 10:0123456789");
	exchange(&c, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	             "\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n",
	    200, "POST /up 7:abcdefg");
	exchange(&c, "POST /up HTTP/1.1\r\nHost: x\r\n\r\n", 200, "POST /up 0:");
	/* Over the limit by length: refused before reading. */
	refused(port, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
	              "0123456789a",
	    413);
	/* Over the limit in chunks: found while reading. */
	refused(port, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	              "\r\n8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n",
	    413);
	/* A malformed chunked body. */
	refused(port, "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	              "\r\nzz\r\nab\r\n0\r\n\r\n",
	    400);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

Test(http_server, expect_100_continue, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h = echo_handler("/up", "PUT");
	client                c;
	reply                 r;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_collect_body(h, true, 100), 0);
	add(s, h);
	port = server_start(s);

	cl_open(&c, port);
	cl_send(&c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	            "Expect: 100-Continue\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 100);
	cr_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	reply_free(&r);
	cl_send(&c, "hello");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "PUT /up 5:hello");
	reply_free(&r);
	/* Over the limit: 413 at once, no 100, and a close. */
	cl_send(&c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n"
	            "Expect: 100-continue\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 413);
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);
	nghttpw_http_server_release(s);
}

Test(http_server, unwanted_small_body_is_drained_large_one_closes,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	client               c;
	char                *req = malloc(200000);
	int                  port;

	add(s, text_handler("/", "root"));
	port = server_start(s);
	cl_open(&c, port);
	/* 404 to a request with a small body: the body is skipped and the
	 * connection stays. */
	exchange(&c, "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n"
	             "body",
	    404, NULL);
	exchange(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	cl_close(&c);
	/* A large one is not read: the answer says close. */
	snprintf(req, 200000, "POST /nowhere HTTP/1.1\r\nHost: x\r\n"
	                      "Content-Length: 100000\r\n\r\n");
	refused(port, req, 404);
	free(req);
	nghttpw_http_server_release(s);
}

/* ------------------------------------------ keep-alive and pipelining */

Test(http_server, keep_alive_and_http_1_0, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	client               c;
	reply                r;
	int                  port;

	add(s, text_handler("/", "root"));
	port = server_start(s);

	cl_open(&c, port);
	for (int i = 0; i < 10; i++) {
		exchange(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	}
	/* The client says close: answered, then closed. */
	cl_send(&c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(head_has(&r, "Connection", "close"));
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);

	/* HTTP/1.0: closed after one, unless it asks for keep-alive. */
	cl_open(&c, port);
	cl_send(&c, "GET / HTTP/1.0\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "root");
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);
	cl_open(&c, port);
	cl_send(&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert(head_has(&r, "Connection", "keep-alive"), "%s", r.head);
	reply_free(&r);
	exchange(&c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, "root");
	cl_close(&c);
	nghttpw_http_server_release(s);
}

Test(http_server, pipelined_requests_answered_in_order, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h = echo_handler("/p", NULL);
	client                c;
	char                 *all = malloc(64 * 200);
	int                   port;

	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	add(s, h);
	port = server_start(s);
	all[0] = '\0';
	for (int i = 0; i < 50; i++) {
		char one[200];
		if (i % 5 == 4) {
			snprintf(one, sizeof(one),
			    "POST /p/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n%02d",
			    i, i);
		} else {
			snprintf(one, sizeof(one), "GET /p/%d HTTP/1.1\r\nHost: x\r\n\r\n",
			    i);
		}
		strcat(all, one);
	}
	cl_open(&c, port);
	cl_send(&c, all);
	for (int i = 0; i < 50; i++) {
		reply r;
		char  want[64];
		if (i % 5 == 4) {
			snprintf(want, sizeof(want), "POST /p/%d 2:%02d", i, i);
		} else {
			snprintf(want, sizeof(want), "GET /p/%d 0:", i);
		}
		cr_assert_eq(cl_reply(&c, &r, false), 0);
		cr_assert_eq(r.status, 200);
		cr_assert_str_eq(r.body, want);
		reply_free(&r);
	}
	cl_close(&c);
	free(all);
	nghttpw_http_server_release(s);
}

/* An idle keep-alive connection gives its read buffer back: the next
 * requests on it, one alone and then pipelined ones in pieces, are served
 * as before. */
Test(http_server, keep_alive_after_the_idle_buffer_is_released,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h = echo_handler("/p", NULL);
	client                c;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	add(s, h);
	port = server_start(s);
	cl_open(&c, port);
	for (int round = 0; round < 3; round++) {
		exchange(&c, "GET /p/one HTTP/1.1\r\nHost: x\r\n\r\n", 200,
		    "GET /p/one 0:");
		nghttpw_msleep(150); /* past the linger */
		/* A head longer than the idle wait's few bytes, in pieces. */
		cl_send(&c, "GET /p/a-rather-long-path-to-span-rea");
		nghttpw_msleep(20);
		cl_send(&c, "ds HTTP/1.1\r\nHost: x\r\n\r\n"
		            "POST /p/two HTTP/1.1\r\nHost: x\r\nContent-Le");
		nghttpw_msleep(20);
		cl_send(&c, "ngth: 3\r\n\r\nabc");
		for (int i = 0; i < 2; i++) {
			reply r;
			cr_assert_eq(cl_reply(&c, &r, false), 0);
			cr_assert_eq(r.status, 200);
			cr_assert_str_eq(r.body,
			    i == 0 ? "GET /p/a-rather-long-path-to-span-reads 0:"
			           : "POST /p/two 3:abc");
			reply_free(&r);
		}
		nghttpw_msleep(150);
		/* A request that fits the idle wait's bytes exactly or not. */
		exchange(&c, "GET /p HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /p 0:");
	}
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* Handlers come and go while requests are routed (the routing table is
 * read without the server's mutex). */
typedef struct {
	int         port;
	atomic_bool stop;
} churn_arg;

static void *
churn_client(void *arg)
{
	churn_arg *a = arg;
	client     c;

	cl_open(&c, a->port);
	while (!atomic_load(&a->stop)) {
		reply r;
		cl_send(&c, "GET /churn HTTP/1.1\r\nHost: x\r\n\r\n");
		cr_assert_eq(cl_reply(&c, &r, false), 0);
		cr_assert(r.status == 200 || r.status == 404, "%d", r.status);
		if (r.status == 200) {
			cr_assert_str_eq(r.body, "churn");
		}
		reply_free(&r);
		exchange(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	}
	cl_close(&c);
	return (NULL);
}

Test(http_server, handlers_added_and_removed_while_serving, .timeout = 60)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	churn_arg            a;
	pthread_t            t[4];

	add(s, text_handler("/", "root"));
	a.port = server_start(s);
	atomic_init(&a.stop, false);
	for (int i = 0; i < 4; i++) {
		pthread_create(&t[i], NULL, churn_client, &a);
	}
	for (int i = 0; i < 300; i++) {
		nghttpw_http_handler *h = text_handler("/churn", "churn");
		add(s, h);
		if (i % 3 == 0) {
			nghttpw_msleep(1);
		}
		cr_assert_eq(nghttpw_http_server_del_handler(s, h), 0);
		/* Requests still being served by it hold it. */
		nghttpw_http_handler_free(h);
	}
	atomic_store(&a.stop, true);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
	}
	nghttpw_http_server_release(s);
}

/* --------------------------------------------------------- time limits */

Test(http_server, slow_header_gets_408, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	client               c;
	reply                r;
	nghttpw_time         start;
	int                  port;

	add(s, text_handler("/", "root"));
	cr_assert_eq(nghttpw_http_server_set_request_timeout(s, 300), 0);
	cr_assert_eq(nghttpw_http_server_set_request_timeout(s, -5), NGHTTPW_EINVAL);
	port = server_start(s);
	cl_open(&c, port);
	start = nghttpw_clock();
	cl_send(&c, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 5; i++) {
		nghttpw_msleep(50);
		cl_send(&c, "X-Drip: 1\r\n");
	}
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 408);
	cr_assert(head_has(&r, "Connection", "close"));
	cr_assert_geq(nghttpw_clock() - start, 280);
	cr_assert_lt(nghttpw_clock() - start, 3000);
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);
	nghttpw_http_server_release(s);
}

Test(http_server, idle_keep_alive_connection_just_closes, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	client               c;
	nghttpw_time         start;
	int                  port;

	add(s, text_handler("/", "root"));
	cr_assert_eq(nghttpw_http_server_set_idle_timeout(s, 300), 0);
	port = server_start(s);
	cl_open(&c, port);
	exchange(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	start = nghttpw_clock();
	cr_assert(cl_closed(&c, 5000), "no quiet close");
	cr_assert_geq(nghttpw_clock() - start, 250);
	cr_assert_lt(nghttpw_clock() - start, 3000);
	cl_close(&c);
	/* A connection that never sends anything goes the same way. */
	cl_open(&c, port);
	cr_assert(cl_closed(&c, 5000));
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* ------------------------------------------------------------ hijack */

typedef struct {
	nghttpw_http_conn *conn;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio;
	int                step;
	char               chunk[64];
	nghttpw_iov        iov;
} streamer;

/* Writes the head, three chunks and the last chunk, one write_all
 * after the other, then closes the connection it now owns. */
static void
streamer_step(void *arg)
{
	streamer *st = arg;
	int       n;

	if (st->step > 0 && nghttpw_aio_result(st->aio) != 0) {
		st->step = 5;
	}
	switch (st->step++) {
	case 0:
		/* The head alone: its chunks follow. */
		nghttpw_http_res_alloc(&st->res);
		nghttpw_http_res_set_header(st->res, "Content-Type", "text/plain");
		nghttpw_http_res_set_header(st->res, "Transfer-Encoding", "chunked");
		nghttpw_http_res_set_header(st->res, "Connection", "close");
		nghttpw_http_conn_write_res_head(st->conn, st->res, st->aio);
		return;
	case 1:
	case 2:
	case 3:
		n = snprintf(st->chunk, sizeof(st->chunk), "7\r\npart %d\n\r\n",
		    st->step - 1);
		st->iov.iov_buf = st->chunk;
		st->iov.iov_len = (size_t) n;
		break;
	case 4:
		st->iov.iov_buf = "0\r\n\r\n";
		st->iov.iov_len = 5;
		break;
	default:
		nghttpw_http_conn_close(st->conn);
		nghttpw_http_req_free(st->req);
		nghttpw_http_res_free(st->res);
		nghttpw_aio_reap(st->aio);
		free(st);
		return;
	}
	nghttpw_aio_set_iov(st->aio, 1, &st->iov);
	nghttpw_http_conn_write_all(st->conn, st->aio);
}

static void
stream_cb(nghttpw_aio *aio)
{
	streamer *st = calloc(1, sizeof(*st));

	st->req  = nghttpw_aio_get_input(aio, 0);
	st->conn = nghttpw_aio_get_input(aio, 2);
	cr_assert_eq(nghttpw_http_hijack(st->conn), 0);
	cr_assert_eq(nghttpw_http_hijack(st->conn), 0, "twice is harmless");
	cr_assert_eq(nghttpw_aio_alloc(&st->aio, streamer_step, st), 0);
	nghttpw_aio_finish(aio, 0); /* no response: the conn is ours */
	streamer_step(st);
}

Test(http_server, hijack_and_stream_a_chunked_response, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	nghttpw_http_conn    *unrelated;
	nghttpw_stream       *a, *b;
	client                c;
	reply                 r;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/stream", stream_cb), 0);
	add(s, h);
	add(s, text_handler("/", "root"));
	port = server_start(s);

	cl_open(&c, port);
	cl_send(&c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "part 1\npart 2\npart 3\n");
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);

	/* Only a connection inside a handler call can be hijacked. */
	cr_assert_eq(nghttpw_http_hijack(NULL), NGHTTPW_EINVAL);
	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&unrelated, a), 0);
	cr_assert_eq(nghttpw_http_hijack(unrelated), NGHTTPW_ESTATE);
	nghttpw_http_conn_close(unrelated);
	nghttpw_stream_free(b);

	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	nghttpw_http_server_release(s);
}

/* A handler that hijacks its connection while the server stops: the
 * connection is then the handler's, and reads requests as it likes. */
static nghttpw_aio       *held_aio;
static nghttpw_http_conn *held_conn;
static atomic_int         held_entered;

static void
hold_cb(nghttpw_aio *aio)
{
	held_aio  = aio;
	held_conn = nghttpw_aio_get_input(aio, 2);
	atomic_store(&held_entered, 1);
}

static void *
stop_thread(void *arg)
{
	nghttpw_http_server_stop(arg);
	return (NULL);
}

Test(http_server, hijack_during_stop_leaves_the_connection_usable,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	nghttpw_http_req     *req, *first;
	nghttpw_aio          *aio;
	pthread_t             t;
	client                c;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/hold", hold_cb), 0);
	add(s, h);
	port = server_start(s);
	cl_open(&c, port);
	cl_send(&c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	while (!atomic_load(&held_entered)) {
		nghttpw_msleep(5);
	}
	pthread_create(&t, NULL, stop_thread, s);
	nghttpw_msleep(100); /* the stop has told every connection to end */
	cr_assert_eq(nghttpw_http_hijack(held_conn), 0);
	first = nghttpw_aio_get_input(held_aio, 0); /* ours now, too */
	nghttpw_aio_finish(held_aio, 0);
	pthread_join(t, NULL);

	cl_send(&c, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_http_conn_read_req(held_conn, req, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "%s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	cr_assert_str_eq(nghttpw_http_req_get_uri(req), "/second");
	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_req_free(first);
	nghttpw_http_conn_close(held_conn);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* ---------------------------------------------------------- stopping */

static atomic_int slow_entered;

typedef struct {
	nghttpw_aio *handler_aio;
	nghttpw_aio *sleep;
} slow_op;

static void
slow_done(void *arg)
{
	slow_op          *op = arg;
	nghttpw_http_res *res;

	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	nghttpw_http_res_copy_data(res, "slow", 4);
	nghttpw_aio_set_output(op->handler_aio, 0, res);
	nghttpw_aio_finish(op->handler_aio, 0);
	nghttpw_aio_reap(op->sleep);
	free(op);
}

/* Answers after 300 ms. */
static void
slow_cb(nghttpw_aio *aio)
{
	slow_op *op = calloc(1, sizeof(*op));

	op->handler_aio = aio;
	cr_assert_eq(nghttpw_aio_alloc(&op->sleep, slow_done, op), 0);
	atomic_store(&slow_entered, 1);
	nghttpw_sleep_aio(300, op->sleep);
}

static void
hang_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	(void) arg;
	nghttpw_aio_finish(aio, rv);
}

/* Never answers; gives up when cancelled. */
static void
hang_cb(nghttpw_aio *aio)
{
	atomic_store(&slow_entered, 1);
	nghttpw_aio_defer(aio, hang_cancel, NULL);
}

static void
wait_entered(void)
{
	for (int i = 0; i < 500 && !atomic_load(&slow_entered); i++) {
		nghttpw_msleep(10);
	}
	cr_assert(atomic_load(&slow_entered), "the handler was not called");
}

Test(http_server, graceful_stop_lets_a_request_in_flight_finish,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	client                c, idle;
	reply                 r;
	nghttpw_time          start;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/slow", slow_cb), 0);
	add(s, h);
	add(s, text_handler("/", "root"));
	port = server_start(s);
	cl_open(&idle, port);
	exchange(&idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	cl_open(&c, port);
	cl_send(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	wait_entered();
	start = nghttpw_clock();
	nghttpw_http_server_stop(s);
	cr_assert_lt(nghttpw_clock() - start, 3000, "stop waited too long");
	/* The answer was written before stop returned. */
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "slow");
	cr_assert(head_has(&r, "Connection", "close"));
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cr_assert(cl_closed(&idle, 2000), "idle connection left open");
	cl_close(&c);
	cl_close(&idle);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &(nghttpw_sockaddr) { 0 }),
	    NGHTTPW_ESTATE);

	/* It starts again (on a new port, as it asked for port 0). */
	port = server_start(s);
	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	nghttpw_http_server_release(s);
}

Test(http_server, stop_timeout_cuts_a_hanging_handler_short,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	client                c;
	nghttpw_time          start;
	int                   port;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/hang", hang_cb), 0);
	add(s, h);
	cr_assert_eq(nghttpw_http_server_set_stop_timeout(s, 200), 0);
	port = server_start(s);
	cl_open(&c, port);
	cl_send(&c, "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
	wait_entered();
	start = nghttpw_clock();
	nghttpw_http_server_stop(s);
	cr_assert_geq(nghttpw_clock() - start, 180);
	cr_assert_lt(nghttpw_clock() - start, 3000);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* --------------------------------------------------- servers and misc */

Test(http_server, hold_release_reference_counting, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *a = server_hold("http://127.0.0.1:0");
	nghttpw_http_server *b = server_hold("http://127.0.0.1:0");
	nghttpw_http_server *c = server_hold("http://127.0.0.1:1");
	nghttpw_http_server *d;
	nghttpw_url         *url;
	int                  port;

	cr_assert_eq(a, b);
	cr_assert_neq(a, c);
	add(a, text_handler("/", "shared"));
	/* Two starts need two stops. */
	port = server_start(a);
	cr_assert_eq(nghttpw_http_server_start(b), 0);
	nghttpw_http_server_stop(a);
	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "shared");
	nghttpw_http_server_release(a);
	/* Still held by b, still serving. */
	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "shared");
	nghttpw_http_server_release(b);
	/* Gone: a new hold is a new server. */
	d = server_hold("http://127.0.0.1:0");
	cr_assert_eq(nghttpw_http_server_get_addr(d, &(nghttpw_sockaddr) { 0 }),
	    NGHTTPW_ESTATE);
	nghttpw_http_server_release(d);
	nghttpw_http_server_release(c);

	cr_assert_eq(nghttpw_url_parse(&url, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&d, url), NGHTTPW_EADDRINVAL);
	cr_assert_eq(nghttpw_http_server_hold(NULL, url), NGHTTPW_EINVAL);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_server_start(NULL), NGHTTPW_EINVAL);
	nghttpw_http_server_stop(NULL);
	nghttpw_http_server_release(NULL);
}

static nghttpw_http_server *
hold_fmt(const char *fmt, int port)
{
	char url[96];

	snprintf(url, sizeof(url), fmt, port);
	return (server_hold(url));
}

/* Servers are shared by host and port, as in nng: the path does not
 * count, and ws:// (wss://) is the http:// (https://) server of its
 * address, so that WebSocket listeners and handlers share a port. */
Test(http_server, hold_shares_by_host_and_port, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *a = server_hold("http://127.0.0.1:0/a");
	nghttpw_http_server *b, *c, *d, *e, *f, *g, *t1, *t2, *v6a, *v6b;
	int                  port;

	/* Port 0: the same server until it has a port... */
	b = server_hold("ws://127.0.0.1:0/b");
	cr_assert_eq(a, b);
	port = server_start(a);
	/* ...then a new one; its own port names the first. */
	c = server_hold("http://127.0.0.1:0/");
	cr_assert_neq(c, a);
	d = hold_fmt("http://127.0.0.1:%d/b", port);
	e = hold_fmt("ws://127.0.0.1:%d/ws", port);
	cr_assert_eq(d, a);
	cr_assert_eq(e, a);
	/* Another host on the same port is another server (nng compares
	 * the host names). */
	f = hold_fmt("http://localhost:%d/", port);
	cr_assert_neq(f, a);
	/* IP literals are the same host however they are spelled. */
	v6a = server_hold("http://[::1]:1/");
	v6b = server_hold("http://[0:0::1]:1/x");
	cr_assert_eq(v6a, v6b);
	nghttpw_http_server_release(v6b);
	nghttpw_http_server_release(v6a);
#ifdef NGHTTPW_HAVE_TLS
	/* TLS URLs share among themselves (never started here). */
	g  = server_hold("https://127.0.0.1:1/x");
	t1 = server_hold("wss://127.0.0.1:1/y");
	t2 = server_hold("https://127.0.0.1:1");
	cr_assert_eq(g, t1);
	cr_assert_eq(t2, g);
#else
	g = t1 = t2 = NULL;
#endif

	/* The shared server serves what any holder added. */
	add(d, text_handler("/via-d", "added through d"));
	one_shot(port, "GET /via-d HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "added through d");
	nghttpw_http_server_release(t2);
	nghttpw_http_server_release(t1);
	nghttpw_http_server_release(g);
	nghttpw_http_server_release(f);
	nghttpw_http_server_release(e);
	nghttpw_http_server_release(d);
	nghttpw_http_server_release(c);
	nghttpw_http_server_release(b);
	one_shot(port, "GET /via-d HTTP/1.1\r\nHost: x\r\n\r\n", 200,
	    "added through d");
	nghttpw_http_server_release(a);
}

Test(http_server, address_in_use_and_tls_without_tls, .timeout = T_TIMEOUT)
{
	nghttpw_stream_listener *l;
	nghttpw_http_server     *s;
	nghttpw_tls_config      *cfg = NULL;
	char                     url[64];
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(
	    nghttpw_stream_listener_get_int(l, NGHTTPW_OPT_TCP_BOUND_PORT, &port), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	s = server_hold(url);
	cr_assert_eq(nghttpw_http_server_start(s), NGHTTPW_EADDRINUSE);
	/* A plain listener has no TLS. */
	cr_assert_eq(nghttpw_http_server_set_tls(s, cfg), NGHTTPW_ENOTSUP);
	cr_assert_eq(nghttpw_http_server_get_tls(s, &cfg), NGHTTPW_ENOTSUP);
	nghttpw_http_server_release(s);
	nghttpw_stream_listener_free(l);
}

typedef struct {
	pthread_mutex_t mtx;
	int             calls;
	int             statuses[8];
	uint64_t        bytes[8];
	bool            had_req[8];
	uint16_t        port;
} log_rec;

static void
log_fn(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes)
{
	log_rec *lr = arg;

	pthread_mutex_lock(&lr->mtx);
	if (lr->calls < 8) {
		lr->statuses[lr->calls] = nghttpw_http_res_get_status(res);
		lr->bytes[lr->calls]    = body_bytes;
		lr->had_req[lr->calls]  = req != NULL;
	}
	lr->calls++;
	lr->port = ntohs(peer->s_in.sa_port);
	pthread_mutex_unlock(&lr->mtx);
}

Test(http_server, access_log_sees_every_response, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s  = server_hold("http://127.0.0.1:0");
	log_rec              lr = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	client               c;
	nghttpw_sockaddr     local;
	int                  port;

	add(s, text_handler("/", "root"));
	cr_assert_eq(nghttpw_http_server_set_log(s, log_fn, &lr), 0);
	port = server_start(s);
	cl_open(&c, port);
	exchange(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	exchange(&c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 200, NULL);
	exchange(&c, "GET /no HTTP/1.1\r\nHost: x\r\n\r\n", 404, NULL);
	exchange(&c, "garbage\r\n\r\n", 400, NULL);
	cr_assert_eq(nghttpw_stream_get_addr(c.s, NGHTTPW_OPT_LOCADDR, &local), 0);
	cl_close(&c);
	nghttpw_http_server_stop(s); /* the log is called before the close */
	cr_assert_eq(lr.calls, 4);
	cr_assert_eq(lr.statuses[0], 200);
	cr_assert_eq(lr.bytes[0], 4);
	cr_assert_eq(lr.statuses[1], 200);
	cr_assert_eq(lr.bytes[1], 0);
	cr_assert_eq(lr.statuses[2], 404);
	cr_assert_gt(lr.bytes[2], 0);
	cr_assert_eq(lr.statuses[3], 400);
	cr_assert(lr.had_req[0] && !lr.had_req[3]);
	cr_assert_eq(lr.port, ntohs(local.s_in.sa_port));
	nghttpw_http_server_release(s);
}

Test(http_server, vanishing_peers_leave_the_server_serving,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h = echo_handler("/up", "POST");
	client                c;
	int                   port;

	add(s, h);
	add(s, text_handler("/", "root"));
	port = server_start(s);
	/* Mid-head, mid-body, and before reading the answer. */
	cl_open(&c, port);
	cl_send(&c, "GET / HTTP/1.1\r\nHo");
	cl_close(&c);
	cl_open(&c, port);
	cl_send(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab");
	cl_close(&c);
	for (int i = 0; i < 20; i++) {
		cl_open(&c, port);
		cl_send(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x"
		            "\r\n\r\n");
		cl_close(&c);
	}
	one_shot(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200, "root");
	nghttpw_http_server_release(s);
}

Test(http_server, transact_with_an_http_conn, .timeout = T_TIMEOUT)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_conn   *conn;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio;
	nghttpw_url         *url;
	char                 addr[64];
	int                  port;

	add(s, echo_handler("/echo", "POST"));
	add(s, text_handler("/", "root"));
	port = server_start(s);
	cr_assert_eq(nghttpw_http_conn_alloc(&conn, dial(port)), 0);
	snprintf(addr, sizeof(addr), "http://127.0.0.1:%d/echo?x=1", port);
	cr_assert_eq(nghttpw_url_parse(&url, addr), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, url), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);

	nghttpw_http_req_set_method(req, "POST");
	nghttpw_http_req_copy_data(req, "payload", 7);
	nghttpw_http_conn_transact(conn, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	http_res_assert(res, 200, "POST /echo?x=1 7:payload");

	nghttpw_http_req_set_method(req, "GET");
	nghttpw_http_req_set_uri(req, "/");
	nghttpw_http_req_set_data(req, NULL, 0);
	nghttpw_http_req_del_header(req, "Content-Length");
	nghttpw_http_conn_transact(conn, req, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	http_res_assert(res, 200, "root");

	nghttpw_aio_free(aio);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_url_free(url);
	nghttpw_http_conn_close(conn);
	nghttpw_http_server_release(s);
}

/* Many clients at once, each with several requests, some pipelined. */
static void *
hammer(void *arg)
{
	int    port = *(int *) arg;
	client c;

	for (int round = 0; round < 5; round++) {
		cl_open(&c, port);
		cl_send(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		            "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		for (int i = 0; i < 2; i++) {
			reply r;
			cr_assert_eq(cl_reply(&c, &r, false), 0);
			cr_assert_eq(r.status, 200);
			reply_free(&r);
		}
		exchange(&c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz",
		    200, "POST /up 3:xyz");
		cl_close(&c);
	}
	return (NULL);
}

Test(http_server, concurrent_clients, .timeout = 60)
{
	nghttpw_http_server *s = server_hold("http://127.0.0.1:0");
	pthread_t            t[8];
	int                  port;

	add(s, text_handler("/", "root"));
	add(s, echo_handler("/up", "POST"));
	port = server_start(s);
	for (int i = 0; i < 8; i++) {
		pthread_create(&t[i], NULL, hammer, &port);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
	}
	nghttpw_http_server_release(s);
}

#ifdef NGHTTPW_HAVE_TLS
#include "nghttpw/tls.h"
#include "support/tls_certs.h"

/* A raw TLS client stream to the port, trusting the test CA. */
static nghttpw_stream *
tls_dial(int port)
{
	const tls_test_certs  *certs = tls_test_certs_get();
	nghttpw_stream_dialer *d;
	nghttpw_tls_config    *cfg;
	nghttpw_aio           *aio;
	nghttpw_stream        *s;
	char                   url[64];

	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nghttpw_tls_config_ca_chain(cfg, certs->ca_cert, NULL), 0);
	cr_assert_eq(nghttpw_tls_config_server_name(cfg, "localhost"), 0);
	cr_assert_eq(
	    nghttpw_tls_config_auth_mode(cfg, NGHTTPW_TLS_AUTH_MODE_REQUIRED), 0);
	cr_assert_eq(
	    nghttpw_stream_dialer_set_ptr(d, NGHTTPW_OPT_TLS_CONFIG, cfg), 0);
	nghttpw_tls_config_free(cfg);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s = nghttpw_aio_get_output(aio, 0);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	return (s);
}

Test(http_server, https_serves_and_keeps_its_tls_across_a_restart,
    .timeout = T_TIMEOUT)
{
	const tls_test_certs *certs = tls_test_certs_get();
	nghttpw_http_server  *s     = server_hold("https://127.0.0.1:0");
	nghttpw_tls_config   *cfg, *got = NULL;
	client                c;
	int                   port;

	cr_assert_not_null(certs);
	add(s, text_handler("/", "secure"));
	cr_assert_eq(nghttpw_http_server_get_tls(s, &got), NGHTTPW_ENOENT);
	/* No certificate yet: nothing to listen with. */
	cr_assert_eq(nghttpw_http_server_start(s), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_SERVER), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(
	                 cfg, certs->server_cert, certs->server_key, NULL),
	    0);
	cr_assert_eq(nghttpw_http_server_set_tls(s, cfg), 0);
	nghttpw_tls_config_free(cfg); /* the server holds its own */
	cr_assert_eq(nghttpw_http_server_get_tls(s, &got), 0);
	cr_assert_eq(got, cfg);

	for (int round = 0; round < 2; round++) {
		port = server_start(s);
		cr_assert_eq(nghttpw_http_server_set_tls(s, cfg), NGHTTPW_EBUSY);
		c.s   = tls_dial(port);
		c.cap = 4096;
		c.len = 0;
		c.buf = malloc(c.cap);
		exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 200, "secure");
		exchange(&c, "GET /none HTTP/1.1\r\nHost: localhost\r\n\r\n", 404, NULL);
		cl_close(&c);
		nghttpw_http_server_stop(s);
	}
	nghttpw_http_server_release(s);
}
#endif

Test(http_server, ipv6_with_a_bracketed_host, .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;
	nghttpw_stream_dialer *d;
	nghttpw_aio          *aio;
	client                c;
	char                  buf[128];
	int                   port;

	if (!have_ipv6()) {
		cr_skip_test("no IPv6 loopback");
	}
	s = server_hold("http://[::1]:0");
	h = text_handler("/", "six");
	cr_assert_eq(nghttpw_http_handler_set_host(h, "[::1]:1234"), 0);
	add(s, h);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	cr_assert_eq(sa.s_family, NGHTTPW_AF_INET6);
	port = ntohs(sa.s_in6.sa_port);

	snprintf(buf, sizeof(buf), "tcp://[::1]:%d", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, buf), 0);
	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 5000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	c.s   = nghttpw_aio_get_output(aio, 0);
	c.cap = 4096;
	c.len = 0;
	c.buf = malloc(c.cap);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: [::1]:%d\r\n\r\n", port);
	exchange(&c, buf, 200, "six");
	exchange(&c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 404, NULL);
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* A client that tolerates the server going away under it; the server's
 * port changes as it restarts. */
static atomic_int load_port;

static void *
careless_client(void *arg)
{
	(void) arg;
	for (int round = 0; round < 50; round++) {
		int port = atomic_load(&load_port);
		nghttpw_stream_dialer *d;
		nghttpw_aio           *aio;
		nghttpw_stream        *st;
		char                   url[64], buf[512];
		nghttpw_iov            iov = { buf, sizeof(buf) };
		static const char req[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
		                          "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
		if (nghttpw_stream_dialer_alloc(&d, url) != 0) {
			break;
		}
		nghttpw_aio_alloc(&aio, NULL, NULL);
		nghttpw_aio_set_timeout(aio, 2000);
		nghttpw_stream_dialer_dial(d, aio);
		nghttpw_aio_wait(aio);
		st = nghttpw_aio_result(aio) == 0 ? nghttpw_aio_get_output(aio, 0)
		                                  : NULL;
		nghttpw_aio_free(aio);
		nghttpw_stream_dialer_free(d);
		if (st == NULL) {
			continue;
		}
		if (send_all(st, req, round % 3 == 0 ? 20 : sizeof(req) - 1, NULL) ==
		    0) {
			(void) sync_op(nghttpw_stream_recv, st, &iov, 1, 500, NULL);
		}
		nghttpw_stream_free(st);
	}
	return (NULL);
}

Test(http_server, stop_and_release_under_load, .timeout = 60)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	pthread_t             t[6];

	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/slow", slow_cb), 0);
	add(s, h);
	add(s, text_handler("/", "root"));
	cr_assert_eq(nghttpw_http_server_set_stop_timeout(s, 100), 0);
	atomic_store(&load_port, server_start(s));
	for (int i = 0; i < 6; i++) {
		pthread_create(&t[i], NULL, careless_client, NULL);
	}
	for (int i = 0; i < 3; i++) {
		nghttpw_msleep(150);
		nghttpw_http_server_stop(s);
		nghttpw_msleep(20);
		atomic_store(&load_port, server_start(s));
	}
	nghttpw_msleep(100);
	nghttpw_http_server_release(s);
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
	}
}

/* ------------------------------------------------ pipelined batches */

#define BIG_LEN 20000 /* above the connection's output buffer */

static char big_text[BIG_LEN + 1];

/* A server with /p (echo, any method), /big and /slow (300 ms). */
static nghttpw_http_server *
batch_server(int *port)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h = echo_handler("/p", NULL);

	memset(big_text, 'b', BIG_LEN);
	cr_assert_eq(nghttpw_http_handler_set_tree(h), 0);
	add(s, h);
	add(s, text_handler("/big", big_text));
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/slow", slow_cb), 0);
	add(s, h);
	*port = server_start(s);
	return (s);
}

/* Request i of a mixed pipeline: GET, HEAD, a POST with a body, a 404,
 * now and then a response too large to batch. */
static void
batch_request(char *buf, size_t cap, int i, bool *head)
{
	*head = false;
	switch (i % 6) {
	case 1:
		snprintf(buf, cap, "HEAD /p/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		*head = true;
		break;
	case 2:
		snprintf(buf, cap,
		    "POST /p/%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n%03d",
		    i, i);
		break;
	case 3:
		snprintf(buf, cap, "GET /nothing/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		break;
	case 4:
		snprintf(buf, cap, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n",
		    i % 12 == 4 ? "big" : "p");
		break;
	default:
		snprintf(buf, cap, "GET /p/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		break;
	}
}

/* Appends a reply as it was on the wire, less its Date field (which may
 * change between the runs compared). */
static void
wire_append(char **all, size_t *len, reply *r)
{
	char  *date = strstr(r->head, "\r\nDate: ");
	size_t head = strlen(r->head);
	size_t cut  = date != NULL ? strcspn(date + 2, "\n") + 1 : 0;

	*all = realloc(*all, *len + head + r->body_len + 1);
	if (date != NULL) {
		size_t at = (size_t) (date - r->head) + 2;
		memcpy(*all + *len, r->head, at);
		memcpy(*all + *len + at, r->head + at + cut, head - at - cut);
		*len += head - cut;
	} else {
		memcpy(*all + *len, r->head, head);
		*len += head;
	}
	memcpy(*all + *len, r->body, r->body_len);
	*len += r->body_len;
}

/* n requests in one write give byte for byte the answers they get one at
 * a time, and the access log sees each. */
static void
check_batch(int n)
{
	log_rec              lr = { .mtx = PTHREAD_MUTEX_INITIALIZER };
	int                  port;
	nghttpw_http_server *s = batch_server(&port);
	char                *all = malloc((size_t) n * 128 + 1);
	char                *serial = NULL, *piped = NULL;
	size_t               serial_len = 0, piped_len = 0;
	client               c;
	reply                r;
	bool                 head;

	cr_assert_eq(nghttpw_http_server_set_log(s, log_fn, &lr), 0);
	all[0] = '\0';
	cl_open(&c, port);
	for (int i = 0; i < n; i++) {
		char one[128];
		batch_request(one, sizeof(one), i, &head);
		strcat(all, one);
		cl_send(&c, one);
		cr_assert_eq(cl_reply(&c, &r, head), 0);
		wire_append(&serial, &serial_len, &r);
		reply_free(&r);
	}
	cl_close(&c);

	cl_open(&c, port);
	cl_send(&c, all);
	for (int i = 0; i < n; i++) {
		char one[128];
		batch_request(one, sizeof(one), i, &head);
		cr_assert_eq(cl_reply(&c, &r, head), 0, "reply %d", i);
		wire_append(&piped, &piped_len, &r);
		reply_free(&r);
	}
	cr_assert_eq(piped_len, serial_len);
	cr_assert(memcmp(piped, serial, serial_len) == 0);
	/* Still open and serving. */
	exchange(&c, "GET /p/again HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /p/again 0:");
	cl_close(&c);
	nghttpw_http_server_stop(s); /* the log is called before the close */
	cr_assert_eq(lr.calls, 2 * n + 1);
	free(all);
	free(serial);
	free(piped);
	nghttpw_http_server_release(s);
}

Test(http_server, pipelined_16_answered_as_one_at_a_time, .timeout = T_TIMEOUT)
{
	check_batch(16);
}

Test(http_server, pipelined_100_answered_as_one_at_a_time, .timeout = T_TIMEOUT)
{
	check_batch(100);
}

/* A request that ends the connection, in the middle of a batch or last:
 * the answers up to it and no more, the last saying close. */
static void
check_close_at(int n, int at)
{
	int                  port;
	nghttpw_http_server *s   = batch_server(&port);
	char                *all = malloc((size_t) n * 128 + 1);
	client               c;

	all[0] = '\0';
	for (int i = 0; i < n; i++) {
		char one[128];
		snprintf(one, sizeof(one), "GET /p/%d HTTP/1.1\r\nHost: x\r\n%s\r\n",
		    i, i == at ? "Connection: close\r\n" : "");
		strcat(all, one);
	}
	cl_open(&c, port);
	cl_send(&c, all);
	for (int i = 0; i <= at; i++) {
		reply r;
		char  want[64];
		snprintf(want, sizeof(want), "GET /p/%d 0:", i);
		cr_assert_eq(cl_reply(&c, &r, false), 0, "reply %d", i);
		cr_assert_str_eq(r.body, want);
		cr_assert_eq(head_has(&r, "Connection", "close"), i == at);
		reply_free(&r);
	}
	cr_assert(cl_closed(&c, 2000), "more after the close");
	cl_close(&c);
	free(all);
	nghttpw_http_server_release(s);
}

Test(http_server, pipelined_close_in_the_middle_and_last, .timeout = T_TIMEOUT)
{
	check_close_at(20, 7);
	check_close_at(20, 19);
	check_close_at(20, 0);
}

/* The peer sends a batch and shuts its side down at once: every answer
 * still comes, then the end of the stream. */
Test(http_server, pipeline_then_half_close_gets_every_answer,
    .timeout = T_TIMEOUT)
{
	int                  port;
	nghttpw_http_server *s = batch_server(&port);
	struct sockaddr_in   sa = { .sin_family = AF_INET };
	char                 all[64 * 40] = "";
	char                *got = malloc(1 << 20);
	size_t               len = 0;
	ssize_t              k;
	int                  fd, count = 0;

	for (int i = 0; i < 40; i++) {
		char one[64];
		snprintf(one, sizeof(one), "GET /p/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		strcat(all, one);
	}
	sa.sin_port        = htons((uint16_t) port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
	cr_assert_eq(send(fd, all, strlen(all), MSG_NOSIGNAL), (ssize_t) strlen(all));
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	while ((k = recv(fd, got + len, (1 << 20) - len, 0)) > 0) {
		len += (size_t) k;
	}
	cr_assert_eq(k, 0, "the server reset instead of closing");
	close(fd);
	for (char *p = got; (p = memstr(p, len - (size_t) (p - got), "GET /p/")) != NULL;
	     p++) {
		char want[16];
		int  w = snprintf(want, sizeof(want), "GET /p/%d 0:", count);
		cr_assert(memcmp(p, want, (size_t) w) == 0, "answer %d out of order",
		    count);
		count++;
	}
	cr_assert_eq(count, 40);
	free(got);
	nghttpw_http_server_release(s);
}

/* A stop while a handler in the middle of a batch runs: the answers
 * queued before it go out first, then its own, closing. */
Test(http_server, stop_sends_the_answers_queued_before_a_slow_one,
    .timeout = T_TIMEOUT)
{
	int                  port;
	nghttpw_http_server *s = batch_server(&port);
	client               c;
	reply                r;

	atomic_store(&slow_entered, 0);
	cl_open(&c, port);
	cl_send(&c, "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /p/2 HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /p/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	wait_entered();
	nghttpw_http_server_stop(s);
	for (int i = 1; i <= 2; i++) {
		char want[32];
		snprintf(want, sizeof(want), "GET /p/%d 0:", i);
		cr_assert_eq(cl_reply(&c, &r, false), 0);
		cr_assert_str_eq(r.body, want);
		reply_free(&r);
	}
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_str_eq(r.body, "slow");
	cr_assert(head_has(&r, "Connection", "close"));
	reply_free(&r);
	cr_assert(cl_closed(&c, 2000));
	cl_close(&c);
	nghttpw_http_server_release(s);
}

/* A stream that counts the server's sends on the way to a TCP one. */
static atomic_int counted_sends;

static void
cs_free(void *arg)
{
	nghttpw_stream_free(arg);
}

static void
cs_close(void *arg)
{
	nghttpw_stream_close(arg);
}

static void
cs_stop(void *arg)
{
	nghttpw_stream_stop(arg);
}

static void
cs_send(void *arg, nghttpw_aio *aio)
{
	atomic_fetch_add(&counted_sends, 1);
	nghttpw_stream_send(arg, aio);
}

static void
cs_recv(void *arg, nghttpw_aio *aio)
{
	nghttpw_stream_recv(arg, aio);
}

static const nghttpw_stream_ops counting_ops = {
	.s_free  = cs_free,
	.s_close = cs_close,
	.s_stop  = cs_stop,
	.s_send  = cs_send,
	.s_recv  = cs_recv,
};

/* 16 requests in one write are answered with (nearly) one send; requests
 * one at a time still get one send each. */
/* A handler that answers after a while, from a sleep's callback. */
static void
late_answer_cb(void *arg)
{
	nghttpw_aio *haio = arg;

	text_cb(haio);
}

static nghttpw_aio *late_sleeper;

static void
late_cb(nghttpw_aio *aio)
{
	cr_assert_eq(nghttpw_aio_alloc(&late_sleeper, late_answer_cb, aio), 0);
	nghttpw_sleep_aio(800, late_sleeper);
}

/* Answers queued before a handler that takes its time leave without
 * waiting for it. */
Test(http_server, pipelined_answers_do_not_wait_for_a_slow_handler,
    .timeout = T_TIMEOUT)
{
	nghttpw_http_server  *s = server_hold("http://127.0.0.1:0");
	nghttpw_http_handler *h;
	client                c;
	reply                 r;
	nghttpw_time          start;
	int                   port;

	add(s, text_handler("/fast", "fast"));
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/slow", late_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h, "slow", NULL), 0);
	add(s, h);
	port = server_start(s);
	cl_open(&c, port);
	start = nghttpw_clock();
	cl_send(&c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
	            "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_str_eq(r.body, "fast");
	cr_assert_lt(nghttpw_clock() - start, 500, "the first answer waited %d ms",
	    (int) (nghttpw_clock() - start));
	reply_free(&r);
	cr_assert_eq(cl_reply(&c, &r, false), 0);
	cr_assert_str_eq(r.body, "slow");
	cr_assert_geq(nghttpw_clock() - start, 790);
	reply_free(&r);
	cl_close(&c);
	nghttpw_aio_free(late_sleeper);
	nghttpw_http_server_release(s);
}

Test(http_server, pipelined_answers_leave_in_one_send, .timeout = T_TIMEOUT)
{
	int                  port;
	nghttpw_http_server *s = batch_server(&port);
	nghttpw_stream      *a, *b, *counted;
	client               c = { .cap = 1 << 16, .len = 0 };
	char                 all[64 * 16] = "";
	int                  sends;

	for (int i = 0; i < 16; i++) {
		char one[64];
		snprintf(one, sizeof(one), "GET /p/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
		strcat(all, one);
	}
	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	cr_assert_eq(nghttpw_stream_alloc(&counted, &counting_ops, a), 0);
	atomic_store(&counted_sends, 0);
	cr_assert_eq(http_server_serve_stream(s, counted), 0);
	c.s   = b;
	c.buf = malloc(c.cap);
	cl_send(&c, all);
	for (int i = 0; i < 16; i++) {
		reply r;
		char  want[32];
		snprintf(want, sizeof(want), "GET /p/%d 0:", i);
		cr_assert_eq(cl_reply(&c, &r, false), 0);
		cr_assert_str_eq(r.body, want);
		reply_free(&r);
	}
	sends = atomic_load(&counted_sends);
	/* One, unless the batch came in more than one piece. */
	cr_assert_leq(sends, 3, "%d sends for 16 pipelined answers", sends);
	for (int i = 0; i < 3; i++) {
		exchange(&c, "GET /p/x HTTP/1.1\r\nHost: x\r\n\r\n", 200, "GET /p/x 0:");
	}
	cr_assert_eq(atomic_load(&counted_sends), sends + 3);
	cl_close(&c);
	nghttpw_http_server_release(s);
}
