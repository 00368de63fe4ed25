/* The opening handshake (RFC 6455 section 4): keys, the checks of both
 * sides, the settings streams inherit, and the two public handshakes over
 * a connection of the caller's. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

#include "core/aio.h"
#include "core/options.h"
#include "http/http_conn.h"
#include "http/http_msg.h"
#include "platform/random.h"
#include "ws/ws_impl.h"

/* mbedTLS 3 dropped the _ret suffix. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define WS_SHA1 mbedtls_sha1
#else
#define WS_SHA1 mbedtls_sha1_ret
#endif

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_LEN 24    /* base64 of 16 bytes */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

/* ------------------------------------------------------------ tokens */

/* Whether token is in the comma-separated list (case-insensitive). */
static bool
ws_list_has(const char *list, const char *token, size_t token_len)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *end;
		size_t      n;
		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		end = p;
		while (*end != '\0' && *end != ',') {
			end++;
		}
		n = (size_t) (end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
			n--;
		}
		if (n == token_len && n > 0 && strncasecmp(p, token, n) == 0) {
			return (true);
		}
		p = end;
	}
	return (false);
}

static bool
header_has(const char *value, const char *token)
{
	return (value != NULL && ws_list_has(value, token, strlen(token)));
}

/* ------------------------------------------------------------ keys */

/* The Sec-WebSocket-Accept for key; false when key is not the base64 of
 * 16 bytes. */
static bool
ws_accept_for(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char raw[18];
	unsigned char digest[20];
	unsigned char in[WS_KEY_LEN + sizeof(WS_GUID) - 1];
	size_t        n;

	if (key == NULL || strlen(key) != WS_KEY_LEN ||
	    mbedtls_base64_decode(raw, sizeof(raw), &n,
	        (const unsigned char *) key, WS_KEY_LEN) != 0 ||
	    n != 16) {
		return (false);
	}
	memcpy(in, key, WS_KEY_LEN);
	memcpy(in + WS_KEY_LEN, WS_GUID, sizeof(WS_GUID) - 1);
	if (WS_SHA1(in, sizeof(in), digest) != 0) {
		return (false);
	}
	if (mbedtls_base64_encode((unsigned char *) out, WS_ACCEPT_LEN + 1, &n,
	        digest, sizeof(digest)) != 0) {
		return (false);
	}
	out[n] = '\0';
	return (true);
}

/* ------------------------------------------------------------ server side */

uint16_t
ws_check_request(nghttpw_http_req *req)
{
	const char *v;
	char        accept[WS_ACCEPT_LEN + 1];

	if (strcmp(nghttpw_http_req_get_method(req), "GET") != 0) {
		return (NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED);
	}
	if (strcmp(nghttpw_http_req_get_version(req), "HTTP/1.1") != 0 ||
	    nghttpw_http_req_get_header(req, "Host") == NULL ||
	    !header_has(nghttpw_http_req_get_header(req, "Upgrade"), "websocket") ||
	    !header_has(nghttpw_http_req_get_header(req, "Connection"), "upgrade")) {
		return (NGHTTPW_HTTP_STATUS_BAD_REQUEST);
	}
	if ((v = nghttpw_http_req_get_header(req, "Sec-WebSocket-Version")) == NULL ||
	    strcmp(v, "13") != 0) {
		return (NGHTTPW_HTTP_STATUS_UPGRADE_REQUIRED);
	}
	if (!ws_accept_for(nghttpw_http_req_get_header(req, "Sec-WebSocket-Key"),
	        accept)) {
		return (NGHTTPW_HTTP_STATUS_BAD_REQUEST);
	}
	/* A body would be read as frames. */
	if (((v = nghttpw_http_req_get_header(req, "Content-Length")) != NULL &&
	        strcmp(v, "0") != 0) ||
	    nghttpw_http_req_get_header(req, "Transfer-Encoding") != NULL) {
		return (NGHTTPW_HTTP_STATUS_BAD_REQUEST);
	}
	return (0);
}

/* The subprotocol to answer with: the first of ours (a comma-separated
 * list) that the client offered.  *len 0 and true: none needed. */
static bool
pick_protocol(const char *ours, const char *offered, const char **pp, size_t *lenp)
{
	*lenp = 0;
	if (ours == NULL) {
		return (true);
	}
	for (const char *p = ours; *p != '\0';) {
		const char *end;
		size_t      n;
		while (*p == ' ' || *p == ',') {
			p++;
		}
		for (end = p; *end != '\0' && *end != ','; end++) {
		}
		n = (size_t) (end - p);
		while (n > 0 && p[n - 1] == ' ') {
			n--;
		}
		if (n > 0 && offered != NULL && ws_list_has(offered, p, n)) {
			*pp   = p;
			*lenp = n;
			return (true);
		}
		p = end;
	}
	return (false);
}

uint16_t
ws_prepare_response(nghttpw_http_req *req, nghttpw_http_res *res,
    const char *protocols, const ws_pmd_config *pmd)
{
	char          ext[WS_PMD_HEADER_MAX];
	char          accept[WS_ACCEPT_LEN + 1];
	const char   *offered = nghttpw_http_req_get_header(req, "Sec-WebSocket-Protocol");
	const char   *chosen  = nghttpw_http_res_get_header(res, "Sec-WebSocket-Protocol");
	const char   *proto   = NULL;
	size_t        plen    = 0;
	nhw_http_msg *msg     = nhw_http_res_msg(res);

	if (chosen != NULL) {
		/* The caller's own pick must be one the client offered. */
		if (!header_has(offered, chosen)) {
			return (NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR);
		}
	} else if (!pick_protocol(protocols, offered, &proto, &plen)) {
		return (NGHTTPW_HTTP_STATUS_BAD_REQUEST);
	}
	(void) ws_accept_for(nghttpw_http_req_get_header(req, "Sec-WebSocket-Key"),
	    accept);
	if (nghttpw_http_res_set_status(res, NGHTTPW_HTTP_STATUS_SWITCHING) != 0 ||
	    nghttpw_http_res_set_header(res, "Upgrade", "websocket") != 0 ||
	    nghttpw_http_res_set_header(res, "Connection", "Upgrade") != 0 ||
	    nghttpw_http_res_set_header(res, "Sec-WebSocket-Accept", accept) != 0 ||
	    (plen > 0 &&
	        nhw_http_msg_set_header_n(msg, "Sec-WebSocket-Protocol", 22, proto,
	            plen) != 0)) {
		return (NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR);
	}
	/* An extension not accepted is left out (RFC 6455 9.1). */
	if (ws_pmd_accept(pmd,
	        nghttpw_http_req_get_header(req, "Sec-WebSocket-Extensions"), ext,
	        sizeof(ext))) {
		if (nghttpw_http_res_set_header(res, "Sec-WebSocket-Extensions", ext) != 0) {
			return (NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR);
		}
	} else {
		(void) nghttpw_http_res_del_header(res, "Sec-WebSocket-Extensions");
	}
	return (0);
}

int
ws_error_response(nghttpw_http_res *res, uint16_t status)
{
	int rv;

	if ((rv = nghttpw_http_res_set_status(res, status)) != 0) {
		return (rv);
	}
	(void) nghttpw_http_res_del_header(res, "Sec-WebSocket-Protocol");
	(void) nghttpw_http_res_del_header(res, "Sec-WebSocket-Accept");
	if (status == NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED &&
	    (rv = nghttpw_http_res_set_header(res, "Allow", "GET")) != 0) {
		return (rv);
	}
	if (status == NGHTTPW_HTTP_STATUS_UPGRADE_REQUIRED) {
		if ((rv = nghttpw_http_res_set_header(res, "Sec-WebSocket-Version", "13")) != 0 ||
		    (rv = nghttpw_http_res_set_header(res, "Upgrade", "websocket")) != 0) {
			return (rv);
		}
	}
	return (nghttpw_http_res_set_data(res, NULL, 0));
}

/* ------------------------------------------------------------ client side */

int
ws_prepare_request(nghttpw_http_req *req, const ws_pmd_config *pmd)
{
	uint8_t raw[16];
	char    key[WS_KEY_LEN + 1];
	char    ext[WS_PMD_HEADER_MAX];
	size_t  n;
	int     rv;

	plat_random(raw, sizeof(raw));
	if (mbedtls_base64_encode((unsigned char *) key, sizeof(key), &n, raw,
	        sizeof(raw)) != 0) {
		return (NGHTTPW_EINTERNAL);
	}
	key[n] = '\0';
	if ((rv = nghttpw_http_req_set_method(req, "GET")) != 0 ||
	    (rv = nghttpw_http_req_set_version(req, "HTTP/1.1")) != 0 ||
	    (rv = nghttpw_http_req_set_header(req, "Upgrade", "websocket")) != 0 ||
	    (rv = nghttpw_http_req_set_header(req, "Connection", "Upgrade")) != 0 ||
	    (rv = nghttpw_http_req_set_header(req, "Sec-WebSocket-Key", key)) != 0 ||
	    (rv = nghttpw_http_req_set_header(req, "Sec-WebSocket-Version", "13")) != 0) {
		return (rv);
	}
	if (pmd->on) {
		ws_pmd_offer(pmd, ext, sizeof(ext));
		return (nghttpw_http_req_set_header(req, "Sec-WebSocket-Extensions", ext));
	}
	return (0);
}

/* A response checked against the request it answers: 0, or the error
 * the dial reports. */
static int
ws_check_response(nghttpw_http_req *req, nghttpw_http_res *res)
{
	char        accept[WS_ACCEPT_LEN + 1];
	const char *v;

	switch (nghttpw_http_res_get_status(res)) {
	case NGHTTPW_HTTP_STATUS_SWITCHING:
		break;
	case NGHTTPW_HTTP_STATUS_FORBIDDEN:
	case NGHTTPW_HTTP_STATUS_UNAUTHORIZED:
		return (NGHTTPW_EPERM);
	case NGHTTPW_HTTP_STATUS_NOT_FOUND:
	case NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED:
		return (NGHTTPW_ECONNREFUSED); /* as nng: a refusal */
	default:
		return (NGHTTPW_EPROTO);
	}
	if (!ws_accept_for(nghttpw_http_req_get_header(req, "Sec-WebSocket-Key"),
	        accept) ||
	    (v = nghttpw_http_res_get_header(res, "Sec-WebSocket-Accept")) == NULL ||
	    strcmp(v, accept) != 0 ||
	    !header_has(nghttpw_http_res_get_header(res, "Upgrade"), "websocket") ||
	    !header_has(nghttpw_http_res_get_header(res, "Connection"), "upgrade")) {
		return (NGHTTPW_EPROTO);
	}
	/* A subprotocol only if we offered it (RFC 6455 4.1, item 6). */
	if ((v = nghttpw_http_res_get_header(res, "Sec-WebSocket-Protocol")) != NULL &&
	    !header_has(nghttpw_http_req_get_header(req, "Sec-WebSocket-Protocol"), v)) {
		return (NGHTTPW_EPROTO);
	}
	return (0);
}

/* ------------------------------------------------------------ stream info */

static char *
header_block(nhw_http_msg *msg)
{
	size_t                n;
	const nhw_http_field *f   = nhw_http_msg_fields(msg, &n);
	size_t                len = 1;
	char                 *s, *p;

	for (size_t i = 0; i < n; i++) {
		len += f[i].name_len + 2 + f[i].value_len + 2;
	}
	if ((s = malloc(len)) == NULL) {
		return (NULL);
	}
	p = s;
	for (size_t i = 0; i < n; i++) {
		memcpy(p, f[i].name, f[i].name_len);
		p += f[i].name_len;
		memcpy(p, ": ", 2);
		p += 2;
		memcpy(p, f[i].value, f[i].value_len);
		p += f[i].value_len;
		memcpy(p, "\r\n", 2);
		p += 2;
	}
	*p = '\0';
	return (s);
}

/* What a stream keeps of its handshake, for its options. */
static int
ws_handshake_info_init(
    ws_handshake_info *hi, nghttpw_http_req *req, nghttpw_http_res *res)
{
	hi->uri         = strdup(nghttpw_http_req_get_uri(req));
	hi->req_headers = header_block(nhw_http_req_msg(req));
	hi->res_headers = header_block(nhw_http_res_msg(res));
	if (hi->uri == NULL || hi->req_headers == NULL || hi->res_headers == NULL) {
		ws_handshake_info_fini(hi);
		return (NGHTTPW_ENOMEM);
	}
	return (0);
}

void
ws_handshake_info_fini(ws_handshake_info *hi)
{
	free(hi->uri);
	free(hi->req_headers);
	free(hi->res_headers);
	memset(hi, 0, sizeof(*hi));
}

/* ------------------------------------------------------------ settings */

void
ws_settings_init(ws_settings *ws, bool server)
{
	ws->sendmaxframe = WS_DEF_SENDMAXFRAME;
	ws->recvmaxframe = WS_DEF_RECVMAXFRAME;
	ws->recvmaxsz    = WS_DEF_RECVMAXSZ;
	ws->sendq_max    = WS_DEF_SENDQ_MAX;
	ws->send_text    = false;
	ws->recv_text    = false;
	ws->ping_ms      = server ? WS_DEF_SERVER_PING_MS : 0;
	ws->idle_ms      = server ? WS_DEF_SERVER_IDLE_MS : 0;
	ws_pmd_config_init(&ws->pmd);
}

static size_t *
settings_size(ws_settings *ws, const char *name)
{
	if (strcmp(name, NGHTTPW_OPT_WS_SENDMAXFRAME) == 0) {
		return (&ws->sendmaxframe);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_RECVMAXFRAME) == 0) {
		return (&ws->recvmaxframe);
	}
	if (strcmp(name, NGHTTPW_OPT_RECVMAXSZ) == 0) {
		return (&ws->recvmaxsz);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_SEND_QUEUE_MAX) == 0) {
		return (&ws->sendq_max);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD) == 0) {
		return (&ws->pmd.threshold);
	}
	return (NULL);
}

static bool *
settings_bool(ws_settings *ws, const char *name)
{
	if (strcmp(name, NGHTTPW_OPT_WS_SEND_TEXT) == 0) {
		return (&ws->send_text);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_RECV_TEXT) == 0) {
		return (&ws->recv_text);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE) == 0) {
		return (&ws->pmd.on);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT) == 0) {
		return (&ws->pmd.server_nct);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT) == 0) {
		return (&ws->pmd.client_nct);
	}
	return (NULL);
}

/* The int options, with their ranges. */
static int *
settings_int(ws_settings *ws, const char *name, int *lo, int *hi)
{
	*lo = 8;
	*hi = 15;
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW) == 0) {
		return (&ws->pmd.server_bits);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW) == 0) {
		return (&ws->pmd.client_bits);
	}
	*lo = 0;
	*hi = 9;
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_LEVEL) == 0) {
		return (&ws->pmd.level);
	}
	*lo = 1;
	if (strcmp(name, NGHTTPW_OPT_WS_DEFLATE_MEM_LEVEL) == 0) {
		return (&ws->pmd.mem_level);
	}
	return (NULL);
}

static nghttpw_duration *
settings_ms(ws_settings *ws, const char *name)
{
	if (strcmp(name, NGHTTPW_OPT_WS_PING_INTERVAL) == 0) {
		return (&ws->ping_ms);
	}
	if (strcmp(name, NGHTTPW_OPT_WS_IDLE_TIMEOUT) == 0) {
		return (&ws->idle_ms);
	}
	return (NULL);
}

int
ws_settings_get(const ws_settings *ws, const char *name, void *buf,
    size_t *szp, nghttpw_type t)
{
	ws_settings      *w = (ws_settings *) ws;
	size_t           *sz;
	bool             *b;
	int              *i, lo, hi;
	nghttpw_duration *ms;

	if ((sz = settings_size(w, name)) != NULL) {
		return (opt_out_size(*sz, buf, szp, t));
	}
	if ((b = settings_bool(w, name)) != NULL) {
		return (opt_out_bool(*b, buf, szp, t));
	}
	if ((i = settings_int(w, name, &lo, &hi)) != NULL) {
		/* zlib's default level is -1, which means 6. */
		return (opt_out_int(*i < 0 ? 6 : *i, buf, szp, t));
	}
	if ((ms = settings_ms(w, name)) != NULL) {
		/* 0 inside means off, which callers see as infinite. */
		return (opt_out_ms(*ms != 0 ? *ms : NGHTTPW_DURATION_INFINITE, buf, szp, t));
	}
	return (NGHTTPW_ENOTSUP);
}

int
ws_settings_set(ws_settings *ws, const char *name, const void *buf, size_t sz,
    nghttpw_type t)
{
	size_t           *szv;
	bool             *b;
	int              *i, v, lo, hi;
	nghttpw_duration *ms;
	nghttpw_duration  d;

	if ((szv = settings_size(ws, name)) != NULL) {
		return (opt_in_size(buf, sz, t, szv));
	}
	if ((b = settings_bool(ws, name)) != NULL) {
		return (opt_in_bool(buf, sz, t, b));
	}
	if ((i = settings_int(ws, name, &lo, &hi)) != NULL) {
		int rv = opt_in_int(buf, sz, t, &v);
		if (rv == 0 && (v < lo || v > hi)) {
			rv = NGHTTPW_EINVAL;
		}
		if (rv == 0) {
			*i = v;
		}
		return (rv);
	}
	if ((ms = settings_ms(ws, name)) != NULL) {
		int rv = opt_in_ms(buf, sz, t, &d);
		if (rv == 0) {
			*ms = d == NGHTTPW_DURATION_INFINITE ? 0 : d;
		}
		return (rv);
	}
	return (NGHTTPW_ENOTSUP);
}

/* ------------------------------------------------------------ public */

/* A handshake in progress over a caller's connection: the write of the
 * answer (upgrade) or of the request and read of the answer (connect). */
typedef struct ws_hs {
	pthread_mutex_t    mtx;
	nghttpw_http_conn *conn;
	nghttpw_http_req  *req;
	nghttpw_http_res  *res;
	nghttpw_aio       *user;
	nghttpw_aio       *haio;
	bool               server;
	ws_settings        set;
	bool               wrote; /* connect: the request is out */
	int                cancelled; /* why, or 0 */
	task               free_task;
} ws_hs;

static void
hs_free(void *arg)
{
	ws_hs *hs = arg;

	aio_cancel_barrier(hs);
	nghttpw_aio_free(hs->haio);
	pthread_mutex_destroy(&hs->mtx);
	free(hs);
}

static void
hs_cancel(nghttpw_aio *aio, void *arg, int rv)
{
	ws_hs *hs = arg;

	(void) aio;
	pthread_mutex_lock(&hs->mtx);
	if (hs->cancelled == 0) {
		/* haio may be between its write and its read: the flag stops
		 * the read from starting. */
		hs->cancelled = rv;
		nghttpw_aio_abort(hs->haio, rv);
	}
	pthread_mutex_unlock(&hs->mtx);
}

static void
hs_cb(void *arg)
{
	ws_hs            *hs = arg;
	int               rv = nghttpw_aio_result(hs->haio);
	nghttpw_stream   *s  = NULL;
	ws_handshake_info hi = { 0 };
	loop             *l;

	pthread_mutex_lock(&hs->mtx);
	if (rv == 0 && hs->cancelled != 0) {
		rv = hs->cancelled;
	}
	if (rv == 0 && !hs->server && !hs->wrote) {
		hs->wrote = true;
		nghttpw_http_conn_read_res(hs->conn, hs->res, hs->haio);
		pthread_mutex_unlock(&hs->mtx);
		return;
	}
	pthread_mutex_unlock(&hs->mtx);
	if (rv == 0 && !hs->server) {
		rv = ws_check_response(hs->req, hs->res);
	}
	if (rv == 0) {
		/* The client checks the extension answered against its offer. */
		if ((rv = ws_pmd_agreed(&hs->set.pmd,
		         nghttpw_http_res_get_header(hs->res, "Sec-WebSocket-Extensions"),
		         hs->server, &hi.pmd)) == 0 &&
		    (rv = ws_handshake_info_init(&hi, hs->req, hs->res)) == 0) {
			rv = ws_conn_alloc(&s, hs->conn, hs->server, &hs->set, &hi);
			hs->conn = NULL; /* the stream's, even on failure */
		}
	}
	if (hs->conn != NULL) {
		nghttpw_http_conn_close(hs->conn);
	}
	nghttpw_aio_set_output(hs->user, 0, s);
	nghttpw_aio_finish(hs->user, rv);
	/* Not inside our own aio's callback. */
	l = loop_current();
	task_init(&hs->free_task, hs_free, hs);
	if (l != NULL) {
		loop_post(l, &hs->free_task);
	} else {
		hs_free(hs);
	}
}

void
ws_handshake_start(nghttpw_http_conn *conn, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio, bool server, const ws_settings *set)
{
	ws_hs *hs;
	int    rv;

	if ((hs = calloc(1, sizeof(*hs))) == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		nghttpw_http_conn_close(conn);
		return;
	}
	pthread_mutex_init(&hs->mtx, NULL);
	hs->conn   = conn;
	hs->req    = req;
	hs->res    = res;
	hs->user   = aio;
	hs->server = server;
	hs->set    = *set;
	if ((rv = stream_aio_alloc(http_conn_stream(conn), &hs->haio, hs_cb, hs)) != 0) {
		nghttpw_aio_finish(aio, rv);
		nghttpw_http_conn_close(conn);
		hs_free(hs);
		return;
	}
	pthread_mutex_lock(&hs->mtx);
	if (!aio_defer(aio, hs_cancel, hs)) {
		pthread_mutex_unlock(&hs->mtx);
		nghttpw_http_conn_close(conn);
		hs_free(hs);
		return;
	}
	if (server) {
		nghttpw_http_conn_write_res(conn, res, hs->haio);
	} else {
		nghttpw_http_conn_write_req(conn, req, hs->haio);
	}
	pthread_mutex_unlock(&hs->mtx);
}

int
nghttpw_ws_upgrade(nghttpw_http_conn *conn, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio)
{
	uint16_t    status;
	ws_settings set;

	if (conn == NULL || req == NULL || res == NULL || aio == NULL) {
		return (NGHTTPW_EINVAL);
	}
	/* Default settings: deflate is for listeners that ask for it. */
	ws_settings_init(&set, true);
	if ((status = ws_check_request(req)) != 0 ||
	    (status = ws_prepare_response(req, res, NULL, &set.pmd)) != 0) {
		int rv = ws_error_response(res, status);
		return (rv != 0 ? rv : NGHTTPW_EPROTO);
	}
	/* From now on the connection is ours, not the server's. */
	(void) nghttpw_http_hijack(conn);
	if (nghttpw_aio_begin(aio)) {
		ws_handshake_start(conn, req, res, aio, true, &set);
	} else {
		nghttpw_http_conn_close(conn);
	}
	return (0);
}

void
nghttpw_ws_connect(nghttpw_http_conn *conn, nghttpw_http_req *req,
    nghttpw_http_res *res, nghttpw_aio *aio)
{
	ws_settings set;
	int         rv;

	if (!nghttpw_aio_begin(aio)) {
		nghttpw_http_conn_close(conn); /* ours, as on every path */
		return;
	}
	if (conn == NULL || req == NULL || res == NULL) {
		nghttpw_http_conn_close(conn); /* ours, as on every path */
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	ws_settings_init(&set, false);
	if ((rv = ws_prepare_request(req, &set.pmd)) != 0) {
		nghttpw_aio_finish(aio, rv);
		nghttpw_http_conn_close(conn);
		return;
	}
	ws_handshake_start(conn, req, res, aio, false, &set);
}
