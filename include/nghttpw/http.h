/*
 * nghttpw: HTTP/1.1 messages, connections, clients and servers.
 *
 * The names, argument orders and semantics follow nng 1.x's HTTP API
 * (nng_http_* becomes nghttpw_http_*).  Include <nghttpw/nghttpw.h> for
 * the core types; this header includes it as well.
 */
#ifndef NGHTTPW_HTTP_H
#define NGHTTPW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <nghttpw/nghttpw.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * HTTP status codes.  The list is not exhaustive: any code from 100 to
 * 999 may be used.  The spellings are nng's, including the doubled
 * STATUS_STATUS_MOVED_PERMANENTLY (an alias without the doubling is
 * provided too).
 */
enum nghttpw_http_status {
	NGHTTPW_HTTP_STATUS_CONTINUE                 = 100,
	NGHTTPW_HTTP_STATUS_SWITCHING                = 101,
	NGHTTPW_HTTP_STATUS_PROCESSING               = 102,
	NGHTTPW_HTTP_STATUS_OK                       = 200,
	NGHTTPW_HTTP_STATUS_CREATED                  = 201,
	NGHTTPW_HTTP_STATUS_ACCEPTED                 = 202,
	NGHTTPW_HTTP_STATUS_NOT_AUTHORITATIVE        = 203,
	NGHTTPW_HTTP_STATUS_NO_CONTENT               = 204,
	NGHTTPW_HTTP_STATUS_RESET_CONTENT            = 205,
	NGHTTPW_HTTP_STATUS_PARTIAL_CONTENT          = 206,
	NGHTTPW_HTTP_STATUS_MULTI_STATUS             = 207,
	NGHTTPW_HTTP_STATUS_ALREADY_REPORTED         = 208,
	NGHTTPW_HTTP_STATUS_IM_USED                  = 226,
	NGHTTPW_HTTP_STATUS_MULTIPLE_CHOICES         = 300,
	NGHTTPW_HTTP_STATUS_STATUS_MOVED_PERMANENTLY = 301,
	NGHTTPW_HTTP_STATUS_MOVED_PERMANENTLY        = 301,
	NGHTTPW_HTTP_STATUS_FOUND                    = 302,
	NGHTTPW_HTTP_STATUS_SEE_OTHER                = 303,
	NGHTTPW_HTTP_STATUS_NOT_MODIFIED             = 304,
	NGHTTPW_HTTP_STATUS_USE_PROXY                = 305,
	NGHTTPW_HTTP_STATUS_TEMPORARY_REDIRECT       = 307,
	NGHTTPW_HTTP_STATUS_PERMANENT_REDIRECT       = 308,
	NGHTTPW_HTTP_STATUS_BAD_REQUEST              = 400,
	NGHTTPW_HTTP_STATUS_UNAUTHORIZED             = 401,
	NGHTTPW_HTTP_STATUS_PAYMENT_REQUIRED         = 402,
	NGHTTPW_HTTP_STATUS_FORBIDDEN                = 403,
	NGHTTPW_HTTP_STATUS_NOT_FOUND                = 404,
	NGHTTPW_HTTP_STATUS_METHOD_NOT_ALLOWED       = 405,
	NGHTTPW_HTTP_STATUS_NOT_ACCEPTABLE           = 406,
	NGHTTPW_HTTP_STATUS_PROXY_AUTH_REQUIRED      = 407,
	NGHTTPW_HTTP_STATUS_REQUEST_TIMEOUT          = 408,
	NGHTTPW_HTTP_STATUS_CONFLICT                 = 409,
	NGHTTPW_HTTP_STATUS_GONE                     = 410,
	NGHTTPW_HTTP_STATUS_LENGTH_REQUIRED          = 411,
	NGHTTPW_HTTP_STATUS_PRECONDITION_FAILED      = 412,
	NGHTTPW_HTTP_STATUS_PAYLOAD_TOO_LARGE        = 413,
	NGHTTPW_HTTP_STATUS_ENTITY_TOO_LONG          = 414,
	NGHTTPW_HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE   = 415,
	NGHTTPW_HTTP_STATUS_RANGE_NOT_SATISFIABLE    = 416,
	NGHTTPW_HTTP_STATUS_EXPECTATION_FAILED       = 417,
	NGHTTPW_HTTP_STATUS_TEAPOT                   = 418,
	NGHTTPW_HTTP_STATUS_UNPROCESSABLE_ENTITY     = 422,
	NGHTTPW_HTTP_STATUS_LOCKED                   = 423,
	NGHTTPW_HTTP_STATUS_FAILED_DEPENDENCY        = 424,
	NGHTTPW_HTTP_STATUS_UPGRADE_REQUIRED         = 426,
	NGHTTPW_HTTP_STATUS_PRECONDITION_REQUIRED    = 428,
	NGHTTPW_HTTP_STATUS_TOO_MANY_REQUESTS        = 429,
	NGHTTPW_HTTP_STATUS_HEADERS_TOO_LARGE        = 431,
	NGHTTPW_HTTP_STATUS_UNAVAIL_LEGAL_REASONS    = 451,
	NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR    = 500,
	NGHTTPW_HTTP_STATUS_NOT_IMPLEMENTED          = 501,
	NGHTTPW_HTTP_STATUS_BAD_GATEWAY              = 502,
	NGHTTPW_HTTP_STATUS_SERVICE_UNAVAILABLE      = 503,
	NGHTTPW_HTTP_STATUS_GATEWAY_TIMEOUT          = 504,
	NGHTTPW_HTTP_STATUS_HTTP_VERSION_NOT_SUPP    = 505,
	NGHTTPW_HTTP_STATUS_VARIANT_ALSO_NEGOTIATES  = 506,
	NGHTTPW_HTTP_STATUS_INSUFFICIENT_STORAGE     = 507,
	NGHTTPW_HTTP_STATUS_LOOP_DETECTED            = 508,
	NGHTTPW_HTTP_STATUS_NOT_EXTENDED             = 510,
	NGHTTPW_HTTP_STATUS_NETWORK_AUTH_REQUIRED    = 511,
};

/*
 * Messages.
 *
 * A request or response holds a start line, an ordered list of header
 * fields and an optional body.  Every setter checks its input and, on any
 * error, leaves the message exactly as it was.  Strings returned by the
 * getters belong to the message and stay valid until the message is
 * next changed, reset or freed.
 */

/* Requests. */
typedef struct nghttpw_http_req nghttpw_http_req;

NGHTTPW_DECL int nghttpw_http_req_alloc(nghttpw_http_req **reqp, const nghttpw_url *url);
NGHTTPW_DECL void nghttpw_http_req_free(nghttpw_http_req *req);
NGHTTPW_DECL void nghttpw_http_req_reset(nghttpw_http_req *req);
NGHTTPW_DECL const char *nghttpw_http_req_get_method(nghttpw_http_req *req);
NGHTTPW_DECL int nghttpw_http_req_set_method(nghttpw_http_req *req, const char *method);
NGHTTPW_DECL const char *nghttpw_http_req_get_uri(nghttpw_http_req *req);
NGHTTPW_DECL int nghttpw_http_req_set_uri(nghttpw_http_req *req, const char *uri);
NGHTTPW_DECL const char *nghttpw_http_req_get_version(nghttpw_http_req *req);
NGHTTPW_DECL int nghttpw_http_req_set_version(nghttpw_http_req *req, const char *version);
NGHTTPW_DECL const char *nghttpw_http_req_get_header(nghttpw_http_req *req, const char *name);
NGHTTPW_DECL const char *nghttpw_http_req_get_trailer(nghttpw_http_req *req, const char *name);
NGHTTPW_DECL int nghttpw_http_req_add_trailer(nghttpw_http_req *req, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_req_set_trailer(nghttpw_http_req *req, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_req_add_header(nghttpw_http_req *req, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_req_set_header(nghttpw_http_req *req, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_req_del_header(nghttpw_http_req *req, const char *name);
NGHTTPW_DECL int nghttpw_http_req_set_data(nghttpw_http_req *req, const void *body, size_t size);
NGHTTPW_DECL int nghttpw_http_req_copy_data(nghttpw_http_req *req, const void *body, size_t size);
NGHTTPW_DECL void nghttpw_http_req_get_data(nghttpw_http_req *req, void **bodyp, size_t *sizep);

/* Responses. */
typedef struct nghttpw_http_res nghttpw_http_res;

NGHTTPW_DECL int nghttpw_http_res_alloc(nghttpw_http_res **resp);
NGHTTPW_DECL int nghttpw_http_res_alloc_error(nghttpw_http_res **resp, uint16_t status);
NGHTTPW_DECL void nghttpw_http_res_free(nghttpw_http_res *res);
NGHTTPW_DECL void nghttpw_http_res_reset(nghttpw_http_res *res);
NGHTTPW_DECL uint16_t nghttpw_http_res_get_status(nghttpw_http_res *res);
NGHTTPW_DECL int nghttpw_http_res_set_status(nghttpw_http_res *res, uint16_t status);
NGHTTPW_DECL const char *nghttpw_http_res_get_reason(nghttpw_http_res *res);
NGHTTPW_DECL int nghttpw_http_res_set_reason(nghttpw_http_res *res, const char *reason);
NGHTTPW_DECL const char *nghttpw_http_res_get_version(nghttpw_http_res *res);
NGHTTPW_DECL int nghttpw_http_res_set_version(nghttpw_http_res *res, const char *version);
NGHTTPW_DECL const char *nghttpw_http_res_get_header(nghttpw_http_res *res, const char *name);
/* Beyond nng 1.x (nng 2's nng_http_next_header): each header field in
 * the order received; *iterp starts NULL. */
NGHTTPW_DECL bool nghttpw_http_res_next_header(nghttpw_http_res *res, const char **namep, const char **valuep, void **iterp);
NGHTTPW_DECL const char *nghttpw_http_res_get_trailer(nghttpw_http_res *res, const char *name);
NGHTTPW_DECL int nghttpw_http_res_add_trailer(nghttpw_http_res *res, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_res_set_trailer(nghttpw_http_res *res, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_res_add_header(nghttpw_http_res *res, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_res_set_header(nghttpw_http_res *res, const char *name, const char *value);
NGHTTPW_DECL int nghttpw_http_res_del_header(nghttpw_http_res *res, const char *name);
NGHTTPW_DECL int nghttpw_http_res_set_data(nghttpw_http_res *res, const void *body, size_t size);
NGHTTPW_DECL int nghttpw_http_res_copy_data(nghttpw_http_res *res, const void *body, size_t size);
NGHTTPW_DECL void nghttpw_http_res_get_data(nghttpw_http_res *res, void **bodyp, size_t *sizep);
/* Keeps the bytes of the next head read into res as they came (start
 * line, fields and the empty line), for a tool that shows them. */
NGHTTPW_DECL void nghttpw_http_res_keep_raw_head(nghttpw_http_res *res, bool keep);
NGHTTPW_DECL void nghttpw_http_res_get_raw_head(nghttpw_http_res *res, void **datap, size_t *sizep);

/*
 * Connections.
 *
 * A connection wraps a byte stream (TCP, TLS or one of the caller's own)
 * and owns it.  At most one read and one write may be pending at a time;
 * a second one completes with NGHTTPW_EBUSY and disturbs nothing.  Reads
 * go through one buffer per connection: bytes that arrive after a message
 * head (its body, or the next pipelined message) are kept there and served
 * first by the next read.
 */
typedef struct nghttpw_http_conn nghttpw_http_conn;

/* Limits, with their defaults. */
#define NGHTTPW_HTTP_MAX_HEADER_SIZE_DEFAULT (64u * 1024u)
#define NGHTTPW_HTTP_MAX_HEADERS_DEFAULT 100u
#define NGHTTPW_HTTP_MAX_BODY_DEFAULT (16u * 1024u * 1024u)

NGHTTPW_DECL int nghttpw_http_conn_alloc(nghttpw_http_conn **connp, nghttpw_stream *stream);
NGHTTPW_DECL void nghttpw_http_conn_close(nghttpw_http_conn *conn);
NGHTTPW_DECL void nghttpw_http_conn_read(nghttpw_http_conn *conn, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_read_all(nghttpw_http_conn *conn, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_read_req(nghttpw_http_conn *conn, nghttpw_http_req *req, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_read_res(nghttpw_http_conn *conn, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_read_body(nghttpw_http_conn *conn, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write(nghttpw_http_conn *conn, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_all(nghttpw_http_conn *conn, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_req(nghttpw_http_conn *conn, nghttpw_http_req *req, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_res(nghttpw_http_conn *conn, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_req_head(nghttpw_http_conn *conn, nghttpw_http_req *req, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_res_head(nghttpw_http_conn *conn, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_chunk(nghttpw_http_conn *conn, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_req_trailer(nghttpw_http_conn *conn, nghttpw_http_req *req, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_write_res_trailer(nghttpw_http_conn *conn, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_conn_transact(nghttpw_http_conn *conn, nghttpw_http_req *req, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL int nghttpw_http_conn_get_addr(nghttpw_http_conn *conn, const char *name, nghttpw_sockaddr *addr);
NGHTTPW_DECL int nghttpw_http_conn_get_client_addr(nghttpw_http_conn *conn, nghttpw_http_req *req, nghttpw_sockaddr *addr);
NGHTTPW_DECL int nghttpw_http_conn_get_client_scheme(nghttpw_http_conn *conn, nghttpw_http_req *req, const char **schemep);
NGHTTPW_DECL int nghttpw_http_conn_get_bool(nghttpw_http_conn *conn, const char *name, bool *value);
NGHTTPW_DECL int nghttpw_http_conn_get_string(nghttpw_http_conn *conn, const char *name, char **value);
NGHTTPW_DECL int nghttpw_http_conn_set_max_header_size(nghttpw_http_conn *conn, size_t size);
NGHTTPW_DECL int nghttpw_http_conn_set_max_headers(nghttpw_http_conn *conn, size_t count);
NGHTTPW_DECL int nghttpw_http_conn_set_max_body(nghttpw_http_conn *conn, size_t size);
NGHTTPW_DECL bool nghttpw_http_conn_must_close(nghttpw_http_conn *conn);

/*
 * Handlers.
 *
 * A handler serves requests whose path matches its own (exactly, or as a
 * prefix at a "/" boundary for a tree).  Its callback gets the request,
 * the handler and the connection as aio inputs 0, 1 and 2, and finishes
 * the aio with the response as output 0, as in nng.
 */
typedef struct nghttpw_http_handler nghttpw_http_handler;

NGHTTPW_DECL int nghttpw_http_handler_alloc(nghttpw_http_handler **hp, const char *path, void (*cb)(nghttpw_aio *));
NGHTTPW_DECL int nghttpw_http_handler_alloc_file(nghttpw_http_handler **hp, const char *path, const char *filename);
NGHTTPW_DECL int nghttpw_http_handler_alloc_directory(nghttpw_http_handler **hp, const char *path, const char *dirname);
NGHTTPW_DECL int nghttpw_http_handler_set_listing(nghttpw_http_handler *h, bool enable);
NGHTTPW_DECL int nghttpw_http_handler_set_dotfiles(nghttpw_http_handler *h, bool serve);
NGHTTPW_DECL int nghttpw_http_handler_set_outside_links(nghttpw_http_handler *h, bool follow);
NGHTTPW_DECL int nghttpw_http_handler_set_file_cache(nghttpw_http_handler *h, nghttpw_duration revalidate, size_t max_entries, size_t max_bytes, size_t small_max);
NGHTTPW_DECL int nghttpw_http_handler_alloc_static(nghttpw_http_handler **hp, const char *path, const void *data, size_t size, const char *content_type);
NGHTTPW_DECL int nghttpw_http_handler_alloc_redirect(nghttpw_http_handler **hp, const char *path, uint16_t status, const char *location);
NGHTTPW_DECL void nghttpw_http_handler_free(nghttpw_http_handler *h);
NGHTTPW_DECL int nghttpw_http_handler_set_method(nghttpw_http_handler *h, const char *method);
NGHTTPW_DECL int nghttpw_http_handler_set_host(nghttpw_http_handler *h, const char *host);
NGHTTPW_DECL int nghttpw_http_handler_set_tree(nghttpw_http_handler *h);
NGHTTPW_DECL int nghttpw_http_handler_set_tree_exclusive(nghttpw_http_handler *h);
NGHTTPW_DECL int nghttpw_http_handler_collect_body(nghttpw_http_handler *h, bool want, size_t maxsz);
NGHTTPW_DECL int nghttpw_http_handler_set_data(nghttpw_http_handler *h, void *data, void (*dtor)(void *));
NGHTTPW_DECL void *nghttpw_http_handler_get_data(nghttpw_http_handler *h);

/*
 * Servers.  One server per address, reference counted: holding the same
 * URL twice gives the same server.
 */
typedef struct nghttpw_http_server nghttpw_http_server;

NGHTTPW_DECL int nghttpw_http_server_hold(nghttpw_http_server **sp, const nghttpw_url *url);
NGHTTPW_DECL void nghttpw_http_server_release(nghttpw_http_server *s);
NGHTTPW_DECL int nghttpw_http_server_start(nghttpw_http_server *s);
NGHTTPW_DECL void nghttpw_http_server_stop(nghttpw_http_server *s);
NGHTTPW_DECL int nghttpw_http_server_add_handler(nghttpw_http_server *s, nghttpw_http_handler *h);
NGHTTPW_DECL int nghttpw_http_server_del_handler(nghttpw_http_server *s, nghttpw_http_handler *h);
NGHTTPW_DECL int nghttpw_http_server_set_error_page(nghttpw_http_server *s, uint16_t status, const char *html);
NGHTTPW_DECL int nghttpw_http_server_set_error_file(nghttpw_http_server *s, uint16_t status, const char *path);
NGHTTPW_DECL int nghttpw_http_server_res_error(nghttpw_http_server *s, nghttpw_http_res *res);
NGHTTPW_DECL int nghttpw_http_server_get_addr(nghttpw_http_server *s, nghttpw_sockaddr *addr);
NGHTTPW_DECL int nghttpw_http_server_set_tls(nghttpw_http_server *s, nghttpw_tls_config *cfg);
NGHTTPW_DECL int nghttpw_http_server_get_tls(nghttpw_http_server *s, nghttpw_tls_config **cfgp);
NGHTTPW_DECL int nghttpw_http_server_set_reuseport(nghttpw_http_server *s, bool on);
NGHTTPW_DECL int nghttpw_http_server_set_listen_fd(nghttpw_http_server *s, int fd);
NGHTTPW_DECL int nghttpw_http_server_set_proxy_protocol(nghttpw_http_server *s, bool on);
NGHTTPW_DECL int nghttpw_http_server_set_trusted_proxies(nghttpw_http_server *s, const char *list);
NGHTTPW_DECL int nghttpw_http_hijack(nghttpw_http_conn *conn);

/* Beyond nng: time limits (milliseconds, or NGHTTPW_DURATION_INFINITE)
 * and an access log called once per response written. */
NGHTTPW_DECL int nghttpw_http_server_set_idle_timeout(nghttpw_http_server *s, nghttpw_duration ms);
NGHTTPW_DECL int nghttpw_http_server_set_request_timeout(nghttpw_http_server *s, nghttpw_duration ms);
NGHTTPW_DECL int nghttpw_http_server_set_stop_timeout(nghttpw_http_server *s, nghttpw_duration ms);
NGHTTPW_DECL int nghttpw_http_server_set_tls_handshake_timeout(nghttpw_http_server *s, nghttpw_duration ms);
NGHTTPW_DECL int nghttpw_http_server_set_log(nghttpw_http_server *s, void (*fn)(void *arg, nghttpw_http_req *req, nghttpw_http_res *res, const nghttpw_sockaddr *peer, uint64_t body_bytes), void *arg);
/* Beyond nng: a header field added to every response the server writes
 * (error pages too) that has no field of that name; NULL value removes. */
NGHTTPW_DECL int nghttpw_http_server_set_header(nghttpw_http_server *s, const char *name, const char *value);

/*
 * Clients.
 */
typedef struct nghttpw_http_client nghttpw_http_client;

NGHTTPW_DECL int nghttpw_http_client_alloc(nghttpw_http_client **cp, const nghttpw_url *url);
NGHTTPW_DECL void nghttpw_http_client_free(nghttpw_http_client *c);
NGHTTPW_DECL int nghttpw_http_client_set_tls(nghttpw_http_client *c, nghttpw_tls_config *cfg);
/* Beyond nng: the largest response body a transaction reads (default
 * NGHTTPW_HTTP_MAX_BODY_DEFAULT). */
NGHTTPW_DECL int nghttpw_http_client_set_max_body(nghttpw_http_client *cl, size_t size);
NGHTTPW_DECL int nghttpw_http_client_set_connect_timeout(nghttpw_http_client *cl, nghttpw_duration timeout);
/* Beyond nng: a forward proxy ("http://[user:pass@]host[:port]", NULL or
 * "" for none) unless no_proxy (curl's list) exempts the origin; or the
 * one curl's environment variables name. */
NGHTTPW_DECL int nghttpw_http_client_set_proxy(nghttpw_http_client *cl, const char *proxy, const char *no_proxy);
NGHTTPW_DECL int nghttpw_http_client_set_proxy_env(nghttpw_http_client *cl);
NGHTTPW_DECL int nghttpw_http_client_get_tls(nghttpw_http_client *c, nghttpw_tls_config **cfgp);
NGHTTPW_DECL void nghttpw_http_client_connect(nghttpw_http_client *c, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_client_transact(nghttpw_http_client *c, nghttpw_http_req *req, nghttpw_http_res *res, nghttpw_aio *aio);
/* Beyond nng: a transaction that ends with the response head, lending its
 * connection (the aio's output 0) for the body to be read with
 * nghttpw_http_conn_read_body; the connection is then given back. */
NGHTTPW_DECL void nghttpw_http_client_transact_stream(nghttpw_http_client *c, nghttpw_http_req *req, nghttpw_http_res *res, nghttpw_aio *aio);
NGHTTPW_DECL void nghttpw_http_client_release_conn(nghttpw_http_client *c, nghttpw_http_conn *conn);

#ifdef __cplusplus
}
#endif

#endif /* NGHTTPW_HTTP_H */
