/* The chunked writer: chunks and trailers on a connection, as curl and
 * our own reader see them; server handlers that stream their answer on
 * the connection without hijacking it, keeping it for the next request;
 * misuse, and the cancel, timeout and close of a chunk in flight.  The
 * curl tests are skipped without curl on PATH. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nghttpw/http.h"
#include "support/pairs.h"
#include "support/programs.h"
#include "support/run_shell.h"
#include "support/tmp_dir.h"

#define BIG_SIZE (10u << 20)
#define BIG_CHUNKS 1000u

static nghttpw_aio *
new_aio(void)
{
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	return (aio);
}

static void
find_curl(char *curl, size_t cap)
{
	if (!program_in_path("curl", curl, cap)) {
		cr_skip_test("curl is not on PATH");
	}
}

/* The size of chunk i of the big stream: varied (1 byte to 21 KiB), the
 * last one taking what is left (13841 bytes). */
static size_t
big_chunk_size(unsigned i, uint64_t sent)
{
	if (i == BIG_CHUNKS - 1) {
		return (BIG_SIZE - (size_t) sent);
	}
	return (1 + (i * 7919u + i * i * 31u) % 20986u);
}

/* ------------------------------------------------- a streaming handler */

typedef enum {
	MODE_BIG,     /* 10 MiB in 1000 chunks, with a trailer */
	MODE_SMALL,   /* three short chunks */
	MODE_FAIL,    /* a few chunks, then the handler fails */
	MODE_UNENDED, /* a few chunks, then done with no last chunk */
	MODE_ENDLESS, /* chunks until the write fails */
} stream_mode;

typedef struct {
	nghttpw_aio       *srv_aio;
	nghttpw_http_conn *conn;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio;
	stream_mode        mode;
	unsigned           step; /* 0: the head; then chunk step-1 */
	uint64_t           sent;
	unsigned char     *data;
	nghttpw_iov        iov[2];
	char               text[32];
} streamer;

static atomic_uint_fast64_t endless_sent;

static void
streamer_end(streamer *st, int rv)
{
	/* No response: the answer is on the connection already. */
	nghttpw_aio_set_output(st->srv_aio, 0, NULL);
	nghttpw_aio_finish(st->srv_aio, rv);
	nghttpw_http_res_free(st->res);
	free(st->data);
	nghttpw_aio_reap(st->aio);
	free(st);
}

/* The next chunk of the big stream, in two iov entries when it is large
 * enough: one gather write all the same. */
static void
big_chunk(streamer *st, unsigned i)
{
	size_t size = big_chunk_size(i, st->sent);
	size_t half = size / 3;

	for (size_t k = 0; k < size; k++) {
		st->data[k] = pattern_byte(st->sent + k);
	}
	if (half > 0) {
		st->iov[0] = (nghttpw_iov) { st->data, half };
		st->iov[1] = (nghttpw_iov) { st->data + half, size - half };
		nghttpw_aio_set_iov(st->aio, 2, st->iov);
	} else {
		st->iov[0] = (nghttpw_iov) { st->data, size };
		nghttpw_aio_set_iov(st->aio, 1, st->iov);
	}
	st->sent += size;
}

static void
streamer_step(void *arg)
{
	streamer *st = arg;
	unsigned  i  = st->step++;
	int       rv = nghttpw_aio_result(st->aio);

	if (i > 0 && rv != 0) {
		streamer_end(st, rv);
		return;
	}
	if (i == 0) {
		nghttpw_http_res_set_header(st->res, "Content-Type", "text/plain");
		nghttpw_http_res_set_header(st->res, "Transfer-Encoding", "chunked");
		nghttpw_http_conn_write_res_head(st->conn, st->res, st->aio);
		return;
	}
	i--; /* the chunk to write now */
	switch (st->mode) {
	case MODE_BIG:
		if (i == BIG_CHUNKS) {
			nghttpw_http_res_set_trailer(st->res, "X-Checksum", "pattern");
			nghttpw_http_res_add_trailer(st->res, "X-Chunks", "1000");
			nghttpw_http_conn_write_res_trailer(st->conn, st->res, st->aio);
			return;
		}
		if (i > BIG_CHUNKS) {
			streamer_end(st, 0);
			return;
		}
		big_chunk(st, i);
		break;
	case MODE_SMALL:
	case MODE_FAIL:
	case MODE_UNENDED:
		if (i == 3 && st->mode != MODE_SMALL) {
			/* Midway: failed, or just done too soon. */
			streamer_end(
			    st, st->mode == MODE_FAIL ? NGHTTPW_EINTERNAL : 0);
			return;
		}
		if (i == 3) {
			nghttpw_http_conn_write_res_trailer(st->conn, st->res, st->aio);
			return;
		}
		if (i > 3) {
			streamer_end(st, 0);
			return;
		}
		st->iov[0].iov_len = (size_t) snprintf(
		    st->text, sizeof(st->text), "part %u\n", i);
		st->iov[0].iov_buf = st->text;
		nghttpw_aio_set_iov(st->aio, 1, st->iov);
		break;
	case MODE_ENDLESS:
		atomic_fetch_add(&endless_sent, 4096);
		st->iov[0] = (nghttpw_iov) { st->data, 4096 };
		nghttpw_aio_set_iov(st->aio, 1, st->iov);
		break;
	}
	nghttpw_http_conn_write_chunk(st->conn, st->aio);
}

static void
stream_cb(nghttpw_aio *aio)
{
	nghttpw_http_handler *h  = nghttpw_aio_get_input(aio, 1);
	streamer             *st = calloc(1, sizeof(*st));

	cr_assert_not_null(st);
	st->srv_aio = aio;
	st->conn    = nghttpw_aio_get_input(aio, 2);
	st->mode    = (stream_mode) (intptr_t) nghttpw_http_handler_get_data(h);
	cr_assert_not_null(st->data = calloc(1, 32768));
	cr_assert_eq(nghttpw_http_res_alloc(&st->res), 0);
	cr_assert_eq(nghttpw_aio_alloc(&st->aio, streamer_step, st), 0);
	streamer_step(st);
}

static void
add_streamer(nghttpw_http_server *s, const char *path, stream_mode mode)
{
	nghttpw_http_handler *h;

	cr_assert_eq(nghttpw_http_handler_alloc(&h, path, stream_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_data(h, (void *) (intptr_t) mode, NULL), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
}

/* A server with the streaming handlers: /big, /small, /fail, /endless,
 * and /up, which collects an upload and tells what came. */
static void up_cb(nghttpw_aio *aio);

static nghttpw_http_server *
stream_server(int *port)
{
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	add_streamer(s, "/big", MODE_BIG);
	add_streamer(s, "/small", MODE_SMALL);
	add_streamer(s, "/fail", MODE_FAIL);
	add_streamer(s, "/unended", MODE_UNENDED);
	add_streamer(s, "/endless", MODE_ENDLESS);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/up", up_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(h, "PUT"), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);
	*port = ntohs(sa.s_in.sa_port);
	return (s);
}

Test(http_chunked, curl_receives_10_mib_in_1000_chunks_byte_exact,
    .timeout = 90)
{
	char                 curl[4096], dir[256], out[512], body[300], head[340];
	nghttpw_http_server *s;
	int                  port;
	FILE                *f;
	unsigned char        buf[65536];
	uint64_t             off = 0;
	size_t               n;

	find_curl(curl, sizeof(curl));
	cr_assert_eq(tmp_dir_make(dir, sizeof(dir), "chunked"), 0);
	snprintf(body, sizeof(body), "%s/body", dir);
	snprintf(head, sizeof(head), "%s/head", dir);
	s = stream_server(&port);
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS --max-time 60 -D '%s' -o '%s' "
	                 "-w '%%{http_code} %%{size_download}' "
	                 "http://127.0.0.1:%d/big",
	                 curl, head, body, port),
	    0);
	snprintf(head + strlen(head) + 1, 32, "200 %u", BIG_SIZE);
	cr_assert_str_eq(out, head + strlen(head) + 1);
	cr_assert_not_null(f = fopen(body, "rb"));
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != pattern_byte(off + i)) {
				cr_assert_fail("byte %llu differs",
				    (unsigned long long) (off + i));
			}
		}
		off += n;
	}
	fclose(f);
	cr_assert_eq(off, BIG_SIZE);
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "grep -ci '^transfer-encoding: chunked' '%s'; "
	                 "grep -ci '^content-length' '%s'",
	                 head, head),
	    1); /* the second grep finds none */
	cr_assert_str_eq(out, "1\n0\n");
	nghttpw_http_server_release(s);
	tmp_dir_remove(dir);
}

Test(http_chunked, curl_raw_shows_chunks_and_trailers, .timeout = 30)
{
	char                 curl[4096], out[4096];
	nghttpw_http_server *s;
	int                  port;

	find_curl(curl, sizeof(curl));
	s = stream_server(&port);
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS --max-time 20 --raw http://127.0.0.1:%d/small",
	                 curl, port),
	    0);
	cr_assert_str_eq(out,
	    "7\r\npart 0\n\r\n7\r\npart 1\n\r\n7\r\npart 2\n\r\n0\r\n\r\n");
	/* The big stream's trailer section, last in the raw body. */
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS --max-time 60 --raw http://127.0.0.1:%d/big "
	                 "| tail -c 44",
	                 curl, port),
	    0);
	cr_assert_str_eq(out,
	    "\r\n0\r\nX-Checksum: pattern\r\nX-Chunks: 1000\r\n\r\n");
	nghttpw_http_server_release(s);
}

/* Reads a response with our own connection: the body piece by piece,
 * then its trailers. */
Test(http_chunked, our_reader_gets_body_and_trailers, .timeout = 60)
{
	nghttpw_http_server *s;
	nghttpw_stream      *st;
	nghttpw_http_conn   *c;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio = new_aio();
	static unsigned char buf[30000];
	nghttpw_iov          iov = { buf, sizeof(buf) };
	uint64_t             got = 0;
	int                  port;

	s = stream_server(&port);
	cr_assert_eq(tcp_dial(port, &st), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, st), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, "/big"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Host", "x"), 0);
	for (int round = 0; round < 2; round++) {
		/* Twice on one connection: it stays after a streamed answer. */
		got = 0;
		nghttpw_http_conn_write_req(c, req, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		nghttpw_http_conn_read_res(c, res, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		cr_assert_eq(nghttpw_http_res_get_status(res), 200);
		nghttpw_aio_set_iov(aio, 1, &iov);
		for (;;) {
			size_t n;
			nghttpw_http_conn_read_body(c, aio);
			nghttpw_aio_wait(aio);
			cr_assert_eq(nghttpw_aio_result(aio), 0);
			if ((n = nghttpw_aio_count(aio)) == 0) {
				break;
			}
			for (size_t i = 0; i < n; i++) {
				if (buf[i] != pattern_byte(got + i)) {
					cr_assert_fail("byte %llu differs",
					    (unsigned long long) (got + i));
				}
			}
			got += n;
		}
		cr_assert_eq(got, BIG_SIZE);
		cr_assert_str_eq(
		    nghttpw_http_res_get_trailer(res, "X-Checksum"), "pattern");
		cr_assert_str_eq(
		    nghttpw_http_res_get_trailer(res, "X-Chunks"), "1000");
		cr_assert_not(nghttpw_http_conn_must_close(c));
	}
	nghttpw_http_conn_close(c);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_server_release(s);
}

Test(http_chunked, curl_reuses_the_connection_after_a_streamed_answer,
    .timeout = 30)
{
	char                 curl[4096], out[4096];
	nghttpw_http_server *s;
	int                  port;

	find_curl(curl, sizeof(curl));
	s = stream_server(&port);
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS -v --max-time 20 http://127.0.0.1:%d/small "
	                 "http://127.0.0.1:%d/small 2>&1 | "
	                 "grep -ci -e 're-using existing' -e '^part'",
	                 curl, port, port),
	    0);
	/* Six lines of body, and the second request on the first's
	 * connection. */
	cr_assert_str_eq(out, "7\n");
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS --max-time 20 -w '%%{num_connects}\\n' "
	                 "http://127.0.0.1:%d/small http://127.0.0.1:%d/small",
	                 curl, port, port),
	    0);
	cr_assert_str_eq(out, "part 0\npart 1\npart 2\n1\n"
	                      "part 0\npart 1\npart 2\n0\n");
	nghttpw_http_server_release(s);
}

Test(http_chunked, a_handler_failing_midway_leaves_curl_an_error,
    .timeout = 30)
{
	char                 curl[4096], out[4096];
	nghttpw_http_server *s;
	int                  port, status;

	find_curl(curl, sizeof(curl));
	s = stream_server(&port);
	/* curl 18: the connection closed in the middle of the body; it
	 * does not wait for its time limit (28). */
	status = run_shell(out, sizeof(out),
	    "'%s' -sS --max-time 20 http://127.0.0.1:%d/fail 2>/dev/null",
	    curl, port);
	cr_assert_eq(status, 18, "curl exit %d", status);
	cr_assert_str_eq(out, "part 0\npart 1\npart 2\n");
	/* The same when the handler says it is done before its last
	 * chunk: the connection cannot go on. */
	status = run_shell(out, sizeof(out),
	    "'%s' -sS --max-time 20 http://127.0.0.1:%d/unended 2>/dev/null",
	    curl, port);
	cr_assert_eq(status, 18, "curl exit %d", status);
	/* The server goes on: the next connection is answered. */
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS --max-time 20 http://127.0.0.1:%d/small",
	                 curl, port),
	    0);
	cr_assert_str_eq(out, "part 0\npart 1\npart 2\n");
	nghttpw_http_server_release(s);
}

Test(http_chunked, head_to_a_streaming_handler_gets_the_head_alone,
    .timeout = 30)
{
	char                 curl[4096], out[4096];
	nghttpw_http_server *s;
	int                  port;

	find_curl(curl, sizeof(curl));
	s = stream_server(&port);
	/* HEAD, then GET on the same connection: a chunk sent after the
	 * head would be read as the start of the second answer. */
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS --max-time 20 -I http://127.0.0.1:%d/big "
	                 "-w '%%{num_connects}\\n' | tr -d '\\r' | "
	                 "grep -i -e '^HTTP/' -e '^transfer-encoding' -e '^[01]$'; "
	                 "'%s' -sS --max-time 20 -I http://127.0.0.1:%d/small "
	                 "--next -sS --max-time 20 -w '%%{num_connects}\\n' "
	                 "http://127.0.0.1:%d/small | tail -n 4",
	                 curl, port, curl, port, port),
	    0);
	cr_assert_str_eq(out,
	    "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n1\n"
	    "part 0\npart 1\npart 2\n0\n");
	nghttpw_http_server_release(s);
}

typedef struct {
	char cmd[4200];
	char out[256];
	int  status;
} curl_run;

static void *
curl_thread(void *arg)
{
	curl_run *r = arg;

	r->status = run_shell(r->out, sizeof(r->out), "%s", r->cmd);
	return (NULL);
}

/* A stop while a handler streams to curl without end: the stop timeout
 * cuts it, curl sees an error (not its own time limit), and the stop
 * returns. */
Test(http_chunked, stop_cuts_an_endless_stream, .timeout = 30)
{
	char                 curl[4096];
	nghttpw_http_server *s;
	int                  port;
	nghttpw_time         t0;
	curl_run             run;
	pthread_t            th;

	find_curl(curl, sizeof(curl));
	s = stream_server(&port);
	cr_assert_eq(nghttpw_http_server_set_stop_timeout(s, 200), 0);
	atomic_store(&endless_sent, 0);
	snprintf(run.cmd, sizeof(run.cmd),
	    "'%s' -sS --max-time 20 -o /dev/null http://127.0.0.1:%d/endless "
	    "2>/dev/null", curl, port);
	cr_assert_eq(pthread_create(&th, NULL, curl_thread, &run), 0);
	while (atomic_load(&endless_sent) < (1u << 20)) {
		nghttpw_msleep(5);
	}
	t0 = nghttpw_clock();
	nghttpw_http_server_stop(s);
	cr_assert_lt(nghttpw_clock() - t0, 3000);
	pthread_join(th, NULL);
	cr_assert_eq(run.status, 18, "curl exit %d", run.status);
	nghttpw_http_server_release(s);
}

/* --------------------------------------------- a client uploads chunked */

/* Collects an upload (the server decodes its chunks) and tells its size,
 * whether every byte is the pattern, and its trailer. */
static void
up_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_res *res;
	unsigned char    *body;
	size_t            size;
	bool              good = true;
	const char       *t    = nghttpw_http_req_get_trailer(req, "X-Sum");
	char              text[128];

	nghttpw_http_req_get_data(req, (void **) &body, &size);
	for (size_t i = 0; i < size; i++) {
		good &= body[i] == pattern_byte(i);
	}
	snprintf(text, sizeof(text), "%zu %s %s", size, good ? "good" : "bad",
	    t != NULL ? t : "-");
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_copy_data(res, text, strlen(text)), 0);
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

Test(http_chunked, a_client_connection_uploads_chunked, .timeout = 60)
{
	nghttpw_http_server *s;
	nghttpw_stream      *st;
	nghttpw_http_conn   *c;
	nghttpw_http_req    *req;
	nghttpw_http_res    *res;
	nghttpw_aio         *aio = new_aio();
	static unsigned char data[1u << 20];
	nghttpw_iov          iov;
	size_t               off = 0;
	void                *body;
	size_t               size;
	int                  port;

	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = pattern_byte(i);
	}
	s = stream_server(&port);
	cr_assert_eq(tcp_dial(port, &st), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, st), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_req_set_method(req, "PUT"), 0);
	cr_assert_eq(nghttpw_http_req_set_uri(req, "/up"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Host", "x"), 0);
	cr_assert_eq(nghttpw_http_req_set_header(req, "Transfer-Encoding", "chunked"), 0);
	nghttpw_http_conn_write_req_head(c, req, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	for (unsigned i = 0; off < sizeof(data); i++) {
		size_t len = 1 + (i * 4099u) % 30000u;
		if (len > sizeof(data) - off) {
			len = sizeof(data) - off;
		}
		iov = (nghttpw_iov) { data + off, len };
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_http_conn_write_chunk(c, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		cr_assert_eq(nghttpw_aio_count(aio), len);
		off += len;
	}
	cr_assert_eq(nghttpw_http_req_set_trailer(req, "X-Sum", "all"), 0);
	nghttpw_http_conn_write_req_trailer(c, req, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_http_conn_read_res(c, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_eq(nghttpw_http_res_get_status(res), 200);
	size = 0;
	do {
		iov = (nghttpw_iov) { data + size, sizeof(data) - size };
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_http_conn_read_body(c, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
		size += nghttpw_aio_count(aio);
	} while (nghttpw_aio_count(aio) > 0);
	data[size] = '\0';
	cr_assert_str_eq((char *) data, "1048576 good all");
	(void) body;
	nghttpw_http_conn_close(c);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_aio_free(aio);
	nghttpw_http_server_release(s);
}

/* ------------------------------------------------ the connection level */

static _Thread_local bool in_call;
static atomic_int         cb_inside;

static void
note_cb(void *arg)
{
	(void) arg;
	if (in_call) {
		atomic_fetch_add(&cb_inside, 1);
	}
}

static nghttpw_aio *
noted_aio(void)
{
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, note_cb, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	return (aio);
}

static int
wait_result(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

/* Receives exactly want (its length) from the peer and compares. */
static void
peer_expect(nghttpw_stream *peer, const char *want)
{
	size_t len = strlen(want);
	char  *got = malloc(len + 1);

	cr_assert_eq(recv_all(peer, got, len, NULL), 0);
	got[len] = '\0';
	cr_assert_str_eq(got, want);
	free(got);
}

Test(http_chunked, chunks_queue_in_order_and_are_framed_exactly,
    .timeout = 30)
{
	nghttpw_stream    *a, *b;
	nghttpw_http_conn *c;
	nghttpw_http_res  *res;
	nghttpw_aio       *w[5];
	nghttpw_iov        one[1] = { { "hello", 5 } };
	nghttpw_iov        two[2] = { { "abc", 3 }, { "0123456789012345", 16 } };

	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, a), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_res_set_header(res, "Transfer-Encoding", "chunked"), 0);
	cr_assert_eq(nghttpw_http_res_set_trailer(res, "X-A", "1"), 0);
	cr_assert_eq(nghttpw_http_res_add_trailer(res, "X-A", "2"), 0);
	for (int i = 0; i < 5; i++) {
		w[i] = noted_aio();
	}
	nghttpw_aio_set_iov(w[1], 1, one);
	nghttpw_aio_set_iov(w[2], 2, two);
	nghttpw_aio_set_iov(w[4], 1, one);
	/* All queued at once, none waited for: they go in order, and none
	 * completes inside its call. */
	in_call = true;
	nghttpw_http_conn_write_res_head(c, res, w[0]);
	nghttpw_http_conn_write_chunk(c, w[1]);
	nghttpw_http_conn_write_chunk(c, w[2]);
	nghttpw_http_conn_write_res_trailer(c, res, w[3]);
	nghttpw_http_conn_write_chunk(c, w[4]); /* after the end */
	in_call = false;
	peer_expect(b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "5\r\nhello\r\n13\r\nabc0123456789012345\r\n"
	               "0\r\nX-A: 1, 2\r\n\r\n");
	cr_assert_eq(wait_result(w[0]), 0);
	cr_assert_eq(wait_result(w[1]), 0);
	cr_assert_eq(nghttpw_aio_count(w[1]), 5);
	cr_assert_eq(wait_result(w[2]), 0);
	cr_assert_eq(nghttpw_aio_count(w[2]), 19); /* data, not framing */
	cr_assert_eq(wait_result(w[3]), 0);
	cr_assert_eq(wait_result(w[4]), NGHTTPW_ESTATE, "%s",
	    nghttpw_strerror(nghttpw_aio_result(w[4])));
	cr_assert_eq(atomic_load(&cb_inside), 0);
	cr_assert_not(nghttpw_http_conn_must_close(c));

	/* A second message on the connection, with no trailers. */
	nghttpw_http_res_reset(res);
	cr_assert_eq(nghttpw_http_res_set_header(res, "Transfer-Encoding", "chunked"), 0);
	nghttpw_http_conn_write_res_head(c, res, w[0]);
	nghttpw_http_conn_write_res_trailer(c, res, w[1]);
	peer_expect(b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	               "0\r\n\r\n");
	cr_assert_eq(wait_result(w[0]), 0);
	cr_assert_eq(wait_result(w[1]), 0);

	nghttpw_http_conn_close(c);
	nghttpw_stream_free(b);
	nghttpw_http_res_free(res);
	for (int i = 0; i < 5; i++) {
		nghttpw_aio_free(w[i]);
	}
}

Test(http_chunked, misuse_has_defined_errors, .timeout = 30)
{
	nghttpw_stream    *a, *b;
	nghttpw_http_conn *c;
	nghttpw_http_res  *res;
	nghttpw_http_req  *req;
	nghttpw_aio       *aio = noted_aio();
	nghttpw_iov        iov = { "x", 1 };

	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, a), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);

	/* Trailer fields RFC 9110 6.5.1 forbids, and bad names and values,
	 * leave the message as it was. */
	const char *forbidden[] = { "Content-Length", "transfer-encoding",
		"Host", "Trailer", "Content-Type", "Authorization" };
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		cr_assert_eq(nghttpw_http_res_set_trailer(res, forbidden[i], "1"),
		    NGHTTPW_EINVAL, "%s", forbidden[i]);
		cr_assert_eq(nghttpw_http_req_add_trailer(req, forbidden[i], "1"),
		    NGHTTPW_EINVAL, "%s", forbidden[i]);
	}
	cr_assert_eq(nghttpw_http_res_set_trailer(res, "Bad Name", "1"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_trailer(res, "X-Ok", "a\r\nb"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_trailer(res, NULL, "1"), NGHTTPW_EINVAL);
	cr_assert_eq(nghttpw_http_res_set_trailer(NULL, "X", "1"), NGHTTPW_EINVAL);
	cr_assert_null(nghttpw_http_res_get_trailer(res, "Bad Name"));
	cr_assert_eq(nghttpw_http_res_set_trailer(res, "X-Ok", "1"), 0);
	cr_assert_eq(nghttpw_http_res_set_trailer(res, "X-Ok", "2"), 0);
	cr_assert_str_eq(nghttpw_http_res_get_trailer(res, "x-ok"), "2");

	/* A chunk or an end with no chunked head. */
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_chunk(c, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ESTATE);
	nghttpw_http_conn_write_res_trailer(c, res, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ESTATE);
	/* A head with a length is no chunked head either. */
	cr_assert_eq(nghttpw_http_res_copy_data(res, "x", 1), 0);
	nghttpw_http_conn_write_res_head(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_http_conn_write_chunk(c, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ESTATE);

	/* An empty chunk would be the last one; NULL arguments. */
	cr_assert_eq(nghttpw_http_res_set_header(res, "Transfer-Encoding", "chunked"), 0);
	nghttpw_http_conn_write_res_head(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_aio_set_iov(aio, 0, NULL);
	nghttpw_http_conn_write_chunk(c, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EINVAL);
	nghttpw_http_conn_write_res_trailer(c, NULL, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EINVAL);
	nghttpw_http_conn_write_chunk(NULL, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_EINVAL);
	/* Another head while the chunked message is open. */
	nghttpw_http_conn_write_res(c, res, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ESTATE);
	nghttpw_http_conn_write_req_head(c, req, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ESTATE);
	nghttpw_http_conn_transact(c, req, res, aio);
	cr_assert_eq(wait_result(aio), NGHTTPW_ESTATE);
	/* None of it touched the message being written. */
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_http_conn_write_chunk(c, aio);
	cr_assert_eq(wait_result(aio), 0);
	nghttpw_http_conn_write_res_trailer(c, res, aio);
	cr_assert_eq(wait_result(aio), 0);
	cr_assert_eq(atomic_load(&cb_inside), 0);
	cr_assert_not(nghttpw_http_conn_must_close(c));

	nghttpw_http_conn_close(c);
	nghttpw_stream_free(b);
	nghttpw_http_res_free(res);
	nghttpw_http_req_free(req);
	nghttpw_aio_free(aio);
}

/* A large chunk the peer does not read, ended by a cancel, its own
 * timeout or a close of the connection, each at a varied moment, many
 * times: the result is one of those, the count never more than the data,
 * and a chunk cut midway leaves the connection to be closed and refuses
 * more chunks. */
typedef struct {
	nghttpw_http_conn *c;
	nghttpw_aio       *aio;
	int                how;
	unsigned           delay_us;
} racer;

static void *
race_thread(void *arg)
{
	racer          *r  = arg;
	struct timespec ts = { 0, (long) r->delay_us * 1000 };

	nanosleep(&ts, NULL);
	if (r->how == 0) {
		nghttpw_aio_cancel(r->aio);
	} else {
		nghttpw_http_conn_close(r->c);
	}
	return (NULL);
}

Test(http_chunked, cancel_timeout_and_close_race_a_chunk, .timeout = 120)
{
	static unsigned char big[8u << 20];
	nghttpw_iov          iov = { big, sizeof(big) };
	nghttpw_iov          small = { "x", 1 };
	unsigned             cut = 0, whole = 0;

	for (unsigned round = 0; round < 300; round++) {
		nghttpw_stream    *a, *b;
		nghttpw_http_conn *c;
		nghttpw_http_res  *res;
		nghttpw_aio       *aio = new_aio();
		nghttpw_aio       *next = new_aio();
		racer              r;
		pthread_t          th;
		int                rv, rv2;
		size_t             n;

		cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
		cr_assert_eq(nghttpw_http_conn_alloc(&c, a), 0);
		cr_assert_eq(nghttpw_http_res_alloc(&res), 0);
		cr_assert_eq(nghttpw_http_res_set_header(res, "Transfer-Encoding", "chunked"), 0);
		nghttpw_http_conn_write_res_head(c, res, aio);
		cr_assert_eq(wait_result(aio), 0);

		r = (racer) { c, aio, (int) (round % 3), (round * 37u) % 400u };
		nghttpw_aio_set_iov(aio, 1, &iov);
		if (r.how == 2) {
			nghttpw_aio_set_timeout(aio, (nghttpw_duration) (round % 4));
		}
		nghttpw_aio_set_iov(next, 1, &small);
		nghttpw_http_conn_write_chunk(c, aio);
		nghttpw_http_conn_write_chunk(c, next); /* queued behind */
		if (r.how != 2) {
			cr_assert_eq(pthread_create(&th, NULL, race_thread, &r), 0);
		}
		rv  = wait_result(aio);
		n   = nghttpw_aio_count(aio);
		rv2 = wait_result(next);
		if (r.how != 2) {
			pthread_join(th, NULL);
		}
		cr_assert(rv == NGHTTPW_ECANCELED || rv == NGHTTPW_ETIMEDOUT ||
		        rv == NGHTTPW_ECLOSED,
		    "round %u: %s", round, nghttpw_strerror(rv));
		cr_assert_leq(n, sizeof(big));
		if (n > 0 || r.how == 1) {
			/* Cut (or closed): nothing more of the message. */
			cr_assert(rv2 == NGHTTPW_ESTATE || rv2 == NGHTTPW_ECLOSED,
			    "round %u: %s", round, nghttpw_strerror(rv2));
		} else {
			/* Nothing of it left: the message goes on. */
			cr_assert_eq(rv2, 0, "round %u: %s", round,
			    nghttpw_strerror(rv2));
		}
		cut += n > 0;
		whole += n == 0 && r.how != 1;
		if (r.how == 1) {
			nghttpw_stream_free(b); /* the close freed c */
			nghttpw_http_res_free(res);
			nghttpw_aio_free(aio);
			nghttpw_aio_free(next);
			continue;
		}
		if (n > 0) {
			cr_assert(nghttpw_http_conn_must_close(c));
		}
		nghttpw_http_conn_close(c);
		nghttpw_stream_free(b);
		nghttpw_http_res_free(res);
		nghttpw_aio_free(aio);
		nghttpw_aio_free(next);
	}
	cr_assert_gt(cut, 0);
	cr_log_info("chunks cut %u, not started %u", cut, whole);
}

/* HTTP/1.0 knows no chunks (RFC 9112 6.1): the same handler's answer goes
 * out unchunked, delimited by the close. */
Test(http_chunked, an_http_1_0_client_gets_the_stream_unchunked,
    .timeout = 30)
{
	char                 curl[4096], out[4096];
	nghttpw_http_server *s;
	int                  port;

	find_curl(curl, sizeof(curl));
	s = stream_server(&port);
	cr_assert_eq(run_shell(out, sizeof(out),
	                 "'%s' -sS -0 --max-time 20 -i http://127.0.0.1:%d/small "
	                 "| tr -d '\\r' | grep -v -i -e '^date:' -e '^content-type:'",
	                 curl, port),
	    0);
	cr_assert_str_eq(out, "HTTP/1.1 200 OK\nConnection: close\n\n"
	                      "part 0\npart 1\npart 2\n");
	nghttpw_http_server_release(s);
}
