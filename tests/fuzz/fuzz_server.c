/* Fuzz target: what a client sends to the server, through routing and
 * handlers to the responses.
 *
 * The input's bytes are the client side of one connection, handed to a
 * server (held once, never started: no listener is used) as if accepted,
 * over a scripted stream that serves them in pieces whose sizes the input
 * chooses, then reports the client's close.  The server reads requests
 * (pipelined ones too), routes them to its handlers, collects bodies,
 * answers Expect: 100-continue, and writes responses, until it closes the
 * connection.  The target waits until the server has freed the
 * connection, then checks what was written: a sequence of responses, each
 * a well-formed head ("HTTP/1.1 " and a three-digit status, CRLF line
 * ends, CRLF CRLF at the end) followed by exactly the body the server's
 * access log reports for it, which matches the head's Content-Length
 * (nothing for HEAD), possibly preceded by "100 Continue" interim
 * responses; nothing else.
 *
 * Handlers: /static (GET, a fixed body), /tree/ (a tree, GET),
 * /redir (a redirect), /echo (any method, collects a body of up to
 * ECHO_MAX bytes and answers with it), /post (POST only, echo),
 * /host (GET, only for Host: example.com).
 *
 * Input layout:
 *   byte 0   piece sizes: 0 all at once, 1 one byte at a time, n pieces
 *            of 1..n bytes
 *   byte 1   seed for the piece sizes
 *   byte 2   bytes the stream takes per send: 0 all, else 1..255
 *   rest     the bytes the client sends, then it closes
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_server.h"
#include "nghttpw/http.h"
#include "support.h"

#define ECHO_MAX 64
#define MAX_LOGGED 256

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static nghttpw_http_server *server;

/* The access log record: the server writes it from its threads, under
 * fz_mtx (see support.h). */
typedef struct logged {
	bool     head_req; /* the request was HEAD */
	bool     have_req;
	uint16_t status;
	uint64_t body;
} logged;

static logged   log_rec[MAX_LOGGED];
static unsigned log_count;
static bool     log_overflow;

static bool
script_freed(void *arg)
{
	return (((fz_script *) arg)->freed);
}

/* ---- the server ---- */

static void
access_log(void *arg, nghttpw_http_req *req, nghttpw_http_res *res,
    const nghttpw_sockaddr *peer, uint64_t body_bytes)
{
	(void) arg;
	(void) peer;
	pthread_mutex_lock(&fz_mtx);
	if (log_count == MAX_LOGGED) {
		log_overflow = true;
	} else {
		logged *l   = &log_rec[log_count++];
		l->have_req = req != NULL;
		l->head_req = req != NULL &&
		    strcmp(nghttpw_http_req_get_method(req), "HEAD") == 0;
		l->status   = nghttpw_http_res_get_status(res);
		l->body     = body_bytes;
	}
	pthread_mutex_unlock(&fz_mtx);
}

static void
echo_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	void             *body;
	size_t            size;

	nghttpw_http_req_get_data(req, &body, &size);
	FZ_CHECK(size <= ECHO_MAX, "handler got a body of %zu bytes, limit %d",
	    size, ECHO_MAX);
	if (nghttpw_http_res_alloc(&res) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	if (size > 0 && nghttpw_http_res_copy_data(res, body, size) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static void
add(nghttpw_http_handler *h)
{
	FZ_CHECK(nghttpw_http_server_add_handler(server, h) == 0, "add handler");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char     hello[] = "hello, world\n";
	nghttpw_http_handler *h;
	nghttpw_url          *url;

	(void) argc;
	(void) argv;
	fz_runtime_init();

	/* Held, never started: connections are handed to it directly. */
	FZ_CHECK(nghttpw_url_parse(&url, "http://127.0.0.1:0") == 0, "url");
	FZ_CHECK(nghttpw_http_server_hold(&server, url) == 0, "server hold");
	nghttpw_url_free(url);
	FZ_CHECK(nghttpw_http_server_set_log(server, access_log, NULL) == 0,
	    "set log");

	FZ_CHECK(nghttpw_http_handler_alloc_static(&h, "/static", hello,
	             sizeof(hello) - 1, "text/plain") == 0,
	    "static");
	add(h);
	FZ_CHECK(nghttpw_http_handler_alloc_static(
	             &h, "/tree", "tree", 4, "text/plain") == 0,
	    "tree");
	FZ_CHECK(nghttpw_http_handler_set_tree(h) == 0, "tree");
	add(h);
	FZ_CHECK(nghttpw_http_handler_alloc_redirect(&h, "/redir", 302,
	             "/static") == 0,
	    "redirect");
	add(h);
	FZ_CHECK(nghttpw_http_handler_alloc(&h, "/echo", echo_cb) == 0, "echo");
	FZ_CHECK(nghttpw_http_handler_set_method(h, NULL) == 0, "echo");
	FZ_CHECK(nghttpw_http_handler_collect_body(h, true, ECHO_MAX) == 0,
	    "echo");
	add(h);
	FZ_CHECK(nghttpw_http_handler_alloc(&h, "/post", echo_cb) == 0, "post");
	FZ_CHECK(nghttpw_http_handler_set_method(h, "POST") == 0, "post");
	FZ_CHECK(nghttpw_http_handler_collect_body(h, true, ECHO_MAX) == 0,
	    "post");
	add(h);
	FZ_CHECK(nghttpw_http_handler_alloc_static(
	             &h, "/host", "host", 4, "text/plain") == 0,
	    "host");
	FZ_CHECK(nghttpw_http_handler_set_host(h, "example.com") == 0, "host");
	add(h);
	return (0);
}

/* ---- what the server wrote ---- */

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static bool
is_digit(unsigned char c)
{
	return (c >= '0' && c <= '9');
}

/* The value of field name in the head [p, p + len), or NULL (the head is
 * checked to be well-formed first). */
static const char *
head_field(const char *p, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *end = p + len;
	const char *line = memchr(p, '\n', len);

	while (line != NULL && line + 1 < end) {
		const char *start = line + 1;
		const char *eol   = memchr(start, '\r', (size_t) (end - start));
		if (eol == NULL || eol == start) {
			break;
		}
		if ((size_t) (eol - start) > nlen && start[nlen] == ':' &&
		    nhw_http_name_eq(start, nlen, name, nlen)) {
			const char *v = start + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t')) {
				v++;
			}
			*vlen = (size_t) (eol - v);
			return (v);
		}
		line = eol + 1;
	}
	return (NULL);
}

static void
check_output(const unsigned char *out, size_t len)
{
	size_t   pos = 0;
	unsigned i   = 0;

	FZ_CHECK(!log_overflow, "more than %d responses", MAX_LOGGED);
	while (pos < len) {
		const char *p    = (const char *) out + pos;
		size_t      left = len - pos;
		const char *end;
		size_t      head_len, vlen;
		const char *cl;
		unsigned    status;
		logged     *l;

		if (left >= sizeof(continue_line) - 1 &&
		    memcmp(p, continue_line, sizeof(continue_line) - 1) == 0) {
			pos += sizeof(continue_line) - 1;
			continue;
		}
		FZ_CHECK(left >= 13 && memcmp(p, "HTTP/1.1 ", 9) == 0 &&
		        is_digit(p[9]) && is_digit(p[10]) && is_digit(p[11]) &&
		        p[12] == ' ',
		    "response %u at offset %zu does not start with a status line",
		    i, pos);
		status = (unsigned) ((p[9] - '0') * 100 + (p[10] - '0') * 10 +
		    (p[11] - '0'));
		FZ_CHECK(status >= 200 && status <= 599, "status %u", status);
		FZ_CHECK(i < log_count,
		    "response %u at offset %zu was not logged (%u logged)", i, pos,
		    log_count);
		l = &log_rec[i];
		FZ_CHECK(l->status == status,
		    "response %u: status %u written, %u logged", i, status,
		    l->status);
		end = NULL;
		for (size_t k = 0; k + 4 <= left; k++) {
			if (memcmp(p + k, "\r\n\r\n", 4) == 0) {
				end = p + k + 4;
				break;
			}
		}
		FZ_CHECK(end != NULL, "response %u: head without CRLF CRLF", i);
		head_len = (size_t) (end - p);
		for (size_t k = 0; k < head_len; k++) {
			if (p[k] == '\r') {
				FZ_CHECK(p[k + 1] == '\n',
				    "response %u: CR without LF at %zu", i, k);
			} else if (p[k] == '\n') {
				FZ_CHECK(k > 0 && p[k - 1] == '\r',
				    "response %u: bare LF at %zu", i, k);
			} else {
				FZ_CHECK(p[k] != '\0', "response %u: NUL at %zu", i,
				    k);
			}
		}
		cl = head_field(p, head_len, "Content-Length", &vlen);
		if (l->head_req || status == 204 || status == 304) {
			FZ_CHECK(l->body == 0,
			    "response %u (status %u%s) with a body of %llu bytes",
			    i, status, l->head_req ? ", HEAD" : "",
			    (unsigned long long) l->body);
		} else if (cl != NULL) {
			char     num[32];
			uint64_t n;
			FZ_CHECK(vlen > 0 && vlen < sizeof(num),
			    "response %u: Content-Length of %zu characters", i,
			    vlen);
			memcpy(num, cl, vlen);
			num[vlen] = '\0';
			for (size_t k = 0; k < vlen; k++) {
				FZ_CHECK(is_digit((unsigned char) num[k]),
				    "response %u: Content-Length [%s]", i, num);
			}
			n = strtoull(num, NULL, 10);
			FZ_CHECK(n == l->body,
			    "response %u: Content-Length %llu, %llu body bytes "
			    "written",
			    i, (unsigned long long) n,
			    (unsigned long long) l->body);
		}
		FZ_CHECK(l->body <= left - head_len,
		    "response %u: %llu body bytes logged, %zu written", i,
		    (unsigned long long) l->body, left - head_len);
		pos += head_len + (size_t) l->body;
		i++;
	}
	FZ_CHECK(i == log_count, "%u responses written, %u logged", i,
	    log_count);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_script sc;

	if (size < 3) {
		return (0);
	}
	fz_script_init(&sc, data + 3, size - 3, data[0], data[1]);
	sc.send_max = data[2];
	sc.capture  = true;
	pthread_mutex_lock(&fz_mtx);
	log_count    = 0;
	log_overflow = false;
	pthread_mutex_unlock(&fz_mtx);

	FZ_CHECK(http_server_serve_stream(server, fz_stream_open(&sc)) == 0,
	    "serve");

	pthread_mutex_lock(&fz_mtx);
	fz_wait_locked(script_freed, &sc, "connection freed");
	pthread_mutex_unlock(&fz_mtx);
	/* The server queues its connection's reaping together with the
	 * close, under its mutex: once a call that takes that mutex has
	 * returned, the reaping is queued, and the barrier waits for it. */
	(void) nghttpw_http_server_get_addr(server, &(nghttpw_sockaddr) { .s_family = 0 });
	fz_reap_barrier();

	pthread_mutex_lock(&fz_mtx);
	FZ_LOG("%zu bytes received of %zu, %zu written, %u responses\n", sc.pos,
	    sc.len, sc.sent_len, log_count);
	check_output(sc.sent, sc.sent_len);
	pthread_mutex_unlock(&fz_mtx);
	fz_script_fini(&sc);
	return (0);
}
