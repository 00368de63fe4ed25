/* Fuzz target: what a server sends back to a client connection.
 *
 * The connection sends a request (transact), the peer takes it and
 * answers with the input's bytes (split into pieces the input chooses),
 * then closes.  Transactions repeat on the same connection while they
 * succeed and the connection may stay open, so the bytes after one
 * response are the next one.  Bodies by Content-Length, chunked (with
 * extensions and trailers) and delimited by the close, interim 1xx
 * responses, HEAD, 204 and 304 are all reachable.  Another mode reads
 * heads only, with read_res.
 *
 * Input layout:
 *   byte 0   limits: bits 0-2 max header size, bits 3-4 max headers,
 *            bits 5-7 max body
 *   byte 1   piece sizes: 0 all at once, 1 one byte at a time, n pieces
 *            of 1..n bytes
 *   byte 2   seed for the piece sizes
 *   byte 3   bits 0-1 the request: GET, HEAD, POST with a body, POST
 *            with a chunked body; bit 2 read_res, then read_body in
 *            pieces of 1 + (byte 2 % 64) bytes, instead of transact;
 *            bits 3-5 bytes the peer takes per send (all, 1, 2, 3, 7,
 *            16, 100, all); bit 6 the peer resets the connection after
 *            taking (byte 2 % 64) bytes
 *   rest     the response bytes
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_conn.h"
#include "http/http_msg.h"
#include "nghttpw/http.h"
#include "support.h"

static const size_t max_head_sizes[8] = { 64, 100, 200, 512, 1024, 4096,
	16384, NGHTTPW_HTTP_MAX_HEADER_SIZE_DEFAULT };
static const size_t max_fields_counts[4] = { 1, 3, 10,
	NGHTTPW_HTTP_MAX_HEADERS_DEFAULT };
static const size_t max_bodies[8] = { 0, 1, 16, 100, 1024, 4096, 65536,
	NGHTTPW_HTTP_MAX_BODY_DEFAULT };
static const size_t send_sizes[8] = { 0, 1, 2, 3, 7, 16, 100, 0 };

#define MAX_RESPONSES 32

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

/* What read_res and transact promise about a response head. */
static void
check_head(nghttpw_http_res *res, size_t max_fields)
{
	nhw_http_msg *msg     = nhw_http_res_msg(res);
	uint16_t      status  = nghttpw_http_res_get_status(res);
	const char   *reason  = nghttpw_http_res_get_reason(res);
	const char   *version = nghttpw_http_res_get_version(res);
	const char   *head;
	size_t        head_len, n;

	FZ_CHECK(status >= 100 && status <= 599, "status %u", status);
	FZ_CHECK(reason != NULL && nhw_http_is_value(reason, strlen(reason)),
	    "reason");
	FZ_CHECK(nhw_http_is_version(version, strlen(version)), "version [%s]",
	    version);
	fz_check_fields(msg, true);
	(void) nhw_http_msg_fields(msg, &n);
	FZ_CHECK(n <= max_fields, "%zu fields with a limit of %zu", n, max_fields);
	FZ_CHECK(nhw_http_res_get_head(res, &head, &head_len) == 0, "get_head");
	fz_check_head(head, head_len, msg);
}

/* What transact promises about a whole response. */
static void
check_response(nghttpw_http_conn *c, nghttpw_http_res *res, bool head_req,
    size_t max_body)
{
	uint16_t    status = nghttpw_http_res_get_status(res);
	const char *te     = nghttpw_http_res_get_header(res, "Transfer-Encoding");
	const char *cl     = nghttpw_http_res_get_header(res, "Content-Length");
	bool        no_body = head_req || status < 200 || status == 204 ||
	    status == 304;
	void       *body;
	size_t      size;

	/* Known issue empty-te: see fuzz_request.c. */
	FZ_KNOWN("empty-te", te == NULL || !fz_blank(te, true),
	    "response accepted with an empty Transfer-Encoding [%s]", te);
	if (te != NULL && fz_blank(te, true) && !fz_strict) {
		te = NULL;
	}
	FZ_CHECK(status >= 200 || status == 101,
	    "transact returned the interim status %u", status);
	nghttpw_http_res_get_data(res, &body, &size);
	FZ_CHECK((size == 0) == (body == NULL), "body %p of %zu bytes", body,
	    size);
	FZ_CHECK(size <= max_body, "body of %zu bytes with a limit of %zu", size,
	    max_body);
	if (no_body) {
		FZ_CHECK(size == 0, "status %u%s with a body of %zu bytes", status,
		    head_req ? " (HEAD)" : "", size);
		return;
	}
	if (te != NULL) {
		/* Both: Transfer-Encoding frames it (RFC 9112 6.3), and the
		 * connection is not reused. */
		FZ_CHECK(cl == NULL || nghttpw_http_conn_must_close(c),
		    "both Transfer-Encoding [%s] and Content-Length [%s], yet "
		    "the connection may stay open",
		    te, cl);
		if (!fz_list_has(te, "chunked")) {
			/* Some other coding: delimited by the close. */
			FZ_CHECK(nghttpw_http_conn_must_close(c),
			    "Transfer-Encoding [%s] without chunked, yet the "
			    "connection may stay open",
			    te);
		}
	} else if (cl != NULL) {
		FZ_CHECK(fz_all_digits(cl) && strtoull(cl, NULL, 10) == size,
		    "body of %zu bytes, Content-Length [%s]", size, cl);
	} else {
		FZ_CHECK(nghttpw_http_conn_must_close(c),
		    "a body delimited by the close, yet the connection may "
		    "stay open");
	}
	if (size > 0) {
		volatile unsigned char sum = 0;
		for (size_t i = 0; i < size; i++) {
			sum ^= ((unsigned char *) body)[i];
		}
		(void) sum;
	}
}

/* Reads the body after read_res in pieces of piece bytes, to its end (0)
 * or an error (returned), holding it to the head's framing. */
static int
read_body(nghttpw_http_conn *c, nghttpw_http_res *res, size_t piece)
{
	uint16_t      status = nghttpw_http_res_get_status(res);
	const char   *te     = nghttpw_http_res_get_header(res, "Transfer-Encoding");
	const char   *cl     = nghttpw_http_res_get_header(res, "Content-Length");
	nghttpw_aio  *aio    = fz_aio();
	unsigned char buf[64];
	nghttpw_iov   iov   = { buf, piece };
	size_t        total = 0;
	int           rv;

	nghttpw_aio_set_iov(aio, 1, &iov);
	for (;;) {
		nghttpw_http_conn_read_body(c, aio);
		if ((rv = fz_wait(aio)) != 0) {
			break;
		}
		FZ_CHECK(nghttpw_aio_count(aio) <= piece, "%zu bytes in %zu",
		    nghttpw_aio_count(aio), piece);
		if (nghttpw_aio_count(aio) == 0) {
			break;
		}
		total += nghttpw_aio_count(aio);
	}
	FZ_LOG("read_body: %d, %zu bytes\n", rv, total);
	if (rv == 0) {
		if (status < 200 || status == 204 || status == 304) {
			FZ_CHECK(total == 0, "status %u with %zu body bytes", status,
			    total);
		} else if (te == NULL && cl != NULL) {
			FZ_CHECK(strtoull(cl, NULL, 10) == total,
			    "%zu body bytes, Content-Length [%s]", total, cl);
		}
	}
	nghttpw_aio_free(aio);
	return (rv);
}

static void
make_request(nghttpw_http_req *req, unsigned kind)
{
	switch (kind) {
	case 0:
		break;
	case 1:
		FZ_CHECK(nghttpw_http_req_set_method(req, "HEAD") == 0, "method");
		break;
	case 2:
		FZ_CHECK(nghttpw_http_req_set_method(req, "POST") == 0, "method");
		FZ_CHECK(nghttpw_http_req_set_data(req, "hello", 5) == 0, "data");
		break;
	default:
		FZ_CHECK(nghttpw_http_req_set_method(req, "POST") == 0, "method");
		FZ_CHECK(nghttpw_http_req_copy_data(req, "chunky", 6) == 0, "data");
		FZ_CHECK(nghttpw_http_req_set_header(
		             req, "Transfer-Encoding", "chunked") == 0,
		    "te");
		break;
	}
	FZ_CHECK(nghttpw_http_req_set_header(req, "Host", "fuzz.test") == 0, "host");
}

static bool
error_ok(int rv)
{
	return (rv == NGHTTPW_EPROTO || rv == NGHTTPW_EMSGSIZE ||
	    rv == NGHTTPW_ECLOSED || rv == NGHTTPW_ECONNRESET);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nghttpw_http_conn *c;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *aio;
	fz_script          sc;
	uint8_t            cfg, mode;
	size_t             max_head, max_fields, max_body;
	unsigned           kind;
	bool               head_only;
	int                rv;

	if (size < 4) {
		return (0);
	}
	cfg        = data[0];
	mode       = data[3];
	max_head   = max_head_sizes[cfg & 7];
	max_fields = max_fields_counts[(cfg >> 3) & 3];
	max_body   = max_bodies[cfg >> 5];
	kind       = mode & 3;
	head_only  = (mode & 4) != 0;

	fz_script_init(&sc, data + 4, size - 4, data[1], data[2]);
	sc.send_max = send_sizes[(mode >> 3) & 7];
	if (mode & 0x40) {
		sc.send_fail = data[2] % 64;
	}
	fz_conn_open(&sc, &c);
	FZ_CHECK(nghttpw_http_conn_set_max_header_size(c, max_head) == 0, "limit");
	FZ_CHECK(nghttpw_http_conn_set_max_headers(c, max_fields) == 0, "limit");
	FZ_CHECK(nghttpw_http_conn_set_max_body(c, max_body) == 0, "limit");
	FZ_CHECK(nghttpw_http_req_alloc(&req, NULL) == 0, "req alloc");
	FZ_CHECK(nghttpw_http_res_alloc(&res) == 0, "res alloc");
	make_request(req, kind);
	aio = fz_aio();

	for (int i = 0; i < MAX_RESPONSES; i++) {
		if (head_only) {
			nghttpw_http_conn_read_res(c, res, aio);
		} else {
			nghttpw_http_conn_transact(c, req, res, aio);
		}
		rv = fz_wait(aio);
		FZ_LOG("%s: %d\n", head_only ? "read_res" : "transact", rv);
		if (rv != 0) {
			FZ_CHECK(error_ok(rv), "%s: %d (%s)",
			    head_only ? "read_res" : "transact", rv,
			    nghttpw_strerror(rv));
			break;
		}
		FZ_LOG("response: %u, %zu fields\n", nghttpw_http_res_get_status(res),
		    nhw_http_res_msg(res)->nfields);
		check_head(res, max_fields);
		if (head_only && (rv = read_body(c, res, 1 + data[2] % 64)) != 0) {
			FZ_CHECK(error_ok(rv), "read_body: %d (%s)", rv,
			    nghttpw_strerror(rv));
			break;
		}
		if (!head_only) {
			check_response(c, res, kind == 1, max_body);
			if (nghttpw_http_res_get_status(res) == 101) {
				/* Switched protocols: the rest is raw. */
				fz_drain_raw(c, &sc);
				break;
			}
		}
		if (fz_list_has(nghttpw_http_res_get_header(res, "Connection"),
		        "close")) {
			FZ_CHECK(nghttpw_http_conn_must_close(c),
			    "Connection: close, but must_close is false");
		}
		if (nghttpw_http_conn_must_close(c)) {
			break;
		}
	}

	nghttpw_aio_free(aio);
	fz_conn_close(c, &sc);
	nghttpw_http_req_free(req);
	nghttpw_http_res_free(res);
	fz_script_fini(&sc);
	return (0);
}
