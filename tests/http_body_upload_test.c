/* Uploads from curl read piece by piece with nghttpw_http_conn_read_body:
 * on a server-side connection, and in the handler of a server that does
 * not collect bodies, which then keeps the connection for the next
 * request.  Skipped without curl on PATH. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nghttpw/http.h"
#include "support/pairs.h"
#include "support/programs.h"
#include "support/run_shell.h"
#include "support/tmp_dir.h"

static nghttpw_aio *
new_aio(void)
{
	nghttpw_aio *aio;

	cr_assert_eq(nghttpw_aio_alloc(&aio, NULL, NULL), 0);
	nghttpw_aio_set_timeout(aio, 10000);
	return (aio);
}

/* Finds curl (else skips the test) and writes size bytes of the pattern
 * to a file in a new directory dir; the file's path in path. */
static void
upload_file(char *curl, size_t curl_cap, char *dir, size_t dir_cap,
    char *path, size_t path_cap, size_t size)
{
	unsigned char *file = malloc(size);
	FILE          *f;

	if (!program_in_path("curl", curl, curl_cap)) {
		cr_skip_test("curl is not on PATH");
	}
	cr_assert_eq(tmp_dir_make(dir, dir_cap, "body"), 0);
	snprintf(path, path_cap, "%s/up.bin", dir);
	for (size_t i = 0; i < size; i++) {
		file[i] = pattern_byte(i);
	}
	cr_assert_not_null(f = fopen(path, "wb"));
	cr_assert_eq(fwrite(file, 1, size, f), size);
	fclose(f);
	free(file);
}

/* ---------------------------------------------------------- curl uploads */

typedef struct {
	char cmd[1024];
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

/* curl -T uploads a file to a server-side connection that reads the body
 * in 1500-byte pieces and checks every byte; curl sees the answer. */
static void
curl_upload(const char *extra)
{
	const size_t             size = 8u << 20;
	char                     curl[4096], dir[256], path[300];
	nghttpw_stream_listener *l;
	nghttpw_stream          *s;
	nghttpw_http_conn       *c;
	nghttpw_http_req        *req;
	nghttpw_http_res        *res;
	nghttpw_aio             *aio = new_aio();
	unsigned char            buf[1500];
	nghttpw_iov              iov = { buf, sizeof(buf) };
	size_t                   got = 0;
	char                     answer[64];
	pthread_t                th;
	curl_run                 run;
	int                      port;
	const char              *expect;

	upload_file(
	    curl, sizeof(curl), dir, sizeof(dir), path, sizeof(path), size);

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "tcp://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_stream_listener_listen(l), 0);
	cr_assert_eq(nghttpw_stream_listener_get_int(
	                 l, NGHTTPW_OPT_TCP_BOUND_PORT, &port),
	    0);
	cr_assert_lt(snprintf(run.cmd, sizeof(run.cmd),
	                 "'%s' -q -sS --max-time 60 -T '%s' %s -w ' %%{http_code}' "
	                 "http://127.0.0.1:%d/up",
	                 curl, path, extra, port),
	    (int) sizeof(run.cmd));
	nghttpw_stream_listener_accept(l, aio);
	cr_assert_eq(pthread_create(&th, NULL, curl_thread, &run), 0);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s = nghttpw_aio_get_output(aio, 0);
	cr_assert_eq(nghttpw_http_conn_alloc(&c, s), 0);
	cr_assert_eq(nghttpw_http_req_alloc(&req, NULL), 0);
	cr_assert_eq(nghttpw_http_res_alloc(&res), 0);

	nghttpw_http_conn_read_req(c, req, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	cr_assert_str_eq(nghttpw_http_req_get_method(req), "PUT");
	expect = nghttpw_http_req_get_header(req, "Expect");
	if (expect != NULL && strcmp(expect, "100-continue") == 0) {
		nghttpw_iov cont = { "HTTP/1.1 100 Continue\r\n\r\n", 25 };
		nghttpw_aio_set_iov(aio, 1, &cont);
		nghttpw_http_conn_write_all(c, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0);
	}
	nghttpw_aio_set_iov(aio, 1, &iov);
	for (;;) {
		size_t n;
		nghttpw_http_conn_read_body(c, aio);
		nghttpw_aio_wait(aio);
		cr_assert_eq(nghttpw_aio_result(aio), 0, "%s",
		    nghttpw_strerror(nghttpw_aio_result(aio)));
		if ((n = nghttpw_aio_count(aio)) == 0) {
			break;
		}
		cr_assert_leq(got + n, size);
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != pattern_byte(got + i)) {
				cr_assert_fail("byte %zu differs", got + i);
			}
		}
		got += n;
	}
	cr_assert_eq(got, size);

	snprintf(answer, sizeof(answer), "got %zu", got);
	cr_assert_eq(nghttpw_http_res_copy_data(res, answer, strlen(answer)), 0);
	nghttpw_http_conn_write_res(c, res, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	pthread_join(th, NULL);
	cr_assert_eq(run.status, 0);
	snprintf(answer, sizeof(answer), "got %zu 200", size);
	cr_assert_str_eq(run.out, answer);

	nghttpw_http_conn_close(c);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	nghttpw_stream_listener_free(l);
	nghttpw_aio_free(aio);
	tmp_dir_remove(dir);
}

Test(http_body, curl_uploads_with_content_length, .timeout = 90)
{
	curl_upload("");
}

Test(http_body, curl_uploads_chunked, .timeout = 90)
{
	curl_upload("-H 'Transfer-Encoding: chunked'");
}


/* ------------------------------------- a handler that streams the upload */

/* A handler of a server that does not collect bodies reads the upload
 * itself, piece by piece, answering curl's 100-continue first, and counts
 * and checks the bytes. */
typedef struct {
	nghttpw_aio       *srv_aio;
	nghttpw_http_conn *conn;
	nghttpw_aio       *aio;
	bool               reading;
	uint64_t           got;
	bool               bad;
	unsigned char      buf[4096];
	nghttpw_iov        iov;
} upload;

static void
upload_end(upload *u, int rv)
{
	nghttpw_http_res *res;
	char              text[64];

	if (rv == 0 && nghttpw_http_res_alloc(&res) == 0) {
		snprintf(text, sizeof(text), "%s %llu", u->bad ? "bad" : "got",
		    (unsigned long long) u->got);
		nghttpw_http_res_copy_data(res, text, strlen(text));
		nghttpw_aio_set_output(u->srv_aio, 0, res);
	}
	nghttpw_aio_finish(u->srv_aio, rv);
	nghttpw_aio_reap(u->aio);
	free(u);
}

static void
upload_step(void *arg)
{
	upload *u  = arg;
	int     rv = nghttpw_aio_result(u->aio);
	size_t  n  = nghttpw_aio_count(u->aio);

	if (rv != 0 || (u->reading && n == 0)) {
		upload_end(u, rv);
		return;
	}
	if (u->reading) {
		for (size_t i = 0; i < n; i++) {
			u->bad |= u->buf[i] != pattern_byte(u->got + i);
		}
		u->got += n;
	}
	u->reading   = true;
	u->iov.iov_buf = u->buf;
	u->iov.iov_len = sizeof(u->buf);
	nghttpw_aio_set_iov(u->aio, 1, &u->iov);
	nghttpw_http_conn_read_body(u->conn, u->aio);
}

static void
upload_cb(nghttpw_aio *aio)
{
	nghttpw_http_req *req = nghttpw_aio_get_input(aio, 0);
	upload           *u   = calloc(1, sizeof(*u));
	const char       *expect;

	u->srv_aio = aio;
	u->conn    = nghttpw_aio_get_input(aio, 2);
	if (nghttpw_aio_alloc(&u->aio, upload_step, u) != 0) {
		free(u);
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	expect = nghttpw_http_req_get_header(req, "Expect");
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0) {
		u->iov.iov_buf = "HTTP/1.1 100 Continue\r\n\r\n";
		u->iov.iov_len = 25;
		nghttpw_aio_set_iov(u->aio, 1, &u->iov);
		nghttpw_http_conn_write_all(u->conn, u->aio);
		return;
	}
	upload_step(u);
}

Test(http_body, a_handler_streams_uploads_and_the_connection_goes_on,
    .timeout = 90)
{
	const size_t          size = 3u << 20;
	char                  curl[4096], dir[256], path[300], cmd[6000];
	char                  out[256], expect[256];
	nghttpw_url          *url;
	nghttpw_http_server  *s;
	nghttpw_http_handler *h;
	nghttpw_sockaddr      sa;

	upload_file(
	    curl, sizeof(curl), dir, sizeof(dir), path, sizeof(path), size);

	cr_assert_eq(nghttpw_url_parse(&url, "http://127.0.0.1:0"), 0);
	cr_assert_eq(nghttpw_http_server_hold(&s, url), 0);
	nghttpw_url_free(url);
	cr_assert_eq(nghttpw_http_handler_alloc(&h, "/up", upload_cb), 0);
	cr_assert_eq(nghttpw_http_handler_set_method(h, "PUT"), 0);
	cr_assert_eq(nghttpw_http_handler_collect_body(h, false, 0), 0);
	cr_assert_eq(nghttpw_http_server_add_handler(s, h), 0);
	cr_assert_eq(nghttpw_http_server_start(s), 0);
	cr_assert_eq(nghttpw_http_server_get_addr(s, &sa), 0);

	/* Two uploads, by length and chunked: the second on the first's
	 * connection (num_connects 0), as the whole body was read. */
	cr_assert_lt(snprintf(cmd, sizeof(cmd),
	                 "'%s' -q -sS --max-time 60 -w ' %%{num_connects} "
	                 "%%{http_code}\\n' -T '%s' http://127.0.0.1:%d/up "
	                 "--next -sS --max-time 60 -w ' %%{num_connects} "
	                 "%%{http_code}\\n' -H 'Transfer-Encoding: chunked' "
	                 "-T '%s' http://127.0.0.1:%d/up",
	                 curl, path, ntohs(sa.s_in.sa_port), path,
	                 ntohs(sa.s_in.sa_port)),
	    (int) sizeof(cmd));
	cr_assert_eq(run_shell(out, sizeof(out), "%s", cmd), 0);
	snprintf(expect, sizeof(expect), "got %zu 1 200\ngot %zu 0 200\n", size,
	    size);
	cr_assert_str_eq(out, expect);

	nghttpw_http_server_release(s);
	tmp_dir_remove(dir);
}
