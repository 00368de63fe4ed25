/*
 * Internal interface to HTTP messages, for the connection, client and
 * server code.  Nothing here is public.
 *
 * A request and a response share one message part (nhw_http_msg): the
 * header fields, the body and a buffer for the serialized head.  The
 * start line is kept by the request or response itself.
 */
#ifndef NGHTTPW_HTTP_MSG_H
#define NGHTTPW_HTTP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nghttpw/http.h>

/* Fields the library itself consults on (nearly) every message.  A
 * message notes which of them it holds, so that looking one up needs no
 * name comparisons and finds an absent one at once. */
typedef enum {
	NHW_HDR_OTHER,
	NHW_HDR_CONNECTION,
	NHW_HDR_CONTENT_LENGTH,
	NHW_HDR_DATE,
	NHW_HDR_EXPECT,
	NHW_HDR_HOST,
	NHW_HDR_TRANSFER_ENCODING,
} nhw_http_hdr;

/* One header field line.  name and value are NUL-terminated and also
 * carry their lengths; both live in one buffer of cap bytes that starts
 * at name, in the message's pool or on the heap.  cap and known are
 * private to the message code. */
typedef struct nhw_http_field {
	char   *name;
	char   *value;
	size_t  name_len;
	size_t  value_len;
	size_t  cap;
	uint8_t known; /* nhw_http_hdr of the name */
} nhw_http_field;

/* Fields formatted once by their owner and lent with a body: the lines
 * ("Name: value\r\n" each) as they go in a head, and each name with its
 * value (NUL-terminated) for the getters. */
#define NHW_HTTP_PREFAB_MAX 4
typedef struct nhw_http_prefab {
	const char *lines;
	size_t      len;
	const char *names[NHW_HTTP_PREFAB_MAX];
	const char *values[NHW_HTTP_PREFAB_MAX];
	size_t      n;
} nhw_http_prefab;

/* Field slots inside the message before the slot array goes to the heap,
 * and bytes of field buffers taken from the message itself: enough for
 * the fields of a typical small request or response, so that building
 * one allocates nothing beyond the request or response. */
#define NHW_HTTP_INLINE_FIELDS 6
#define NHW_HTTP_POOL 256

/* The message part.  Its members are private to http_msg.c and
 * http_headers.c: use the functions below.  It points into itself, so
 * it must not be copied. */
typedef struct nhw_http_msg {
	nhw_http_field *fields;   /* fcap slots, nfields in use */
	size_t          nfields;  /* slots past nfields keep spare buffers */
	size_t          nslots;   /* slots ever filled (the rest unset): a
	                           * small message clears only those */
	size_t          fcap;
	unsigned        known;    /* bit h set: a field of nhw_http_hdr h */
	void           *data;     /* body */
	size_t          size;
	bool            data_own; /* data was allocated here */
	int             file_fd;  /* body from a file instead, when >= 0 */
	uint64_t        file_off;
	uint64_t        file_len;
	void          (*body_done)(void *); /* a lent body: called when it goes */
	void           *body_done_arg;
	const nhw_http_prefab *prefab; /* fields lent with the body, or NULL */
	char           *head;     /* head too large for the pool, head_cap bytes */
	size_t          head_cap;
	char            version[9];
	size_t          pool_len; /* bytes of pool handed out since a reset */
	struct nhw_http_msg *trailers; /* received after a chunked body */
	/* Last: init leaves them as they are. */
	nhw_http_field  slots[NHW_HTTP_INLINE_FIELDS]; /* fields, when small */
	char            pool[NHW_HTTP_POOL];
} nhw_http_msg;

/* Keeps head[0, len) as the raw head of res when the user asked for it
 * with nghttpw_http_res_keep_raw_head.  Errors: NGHTTPW_ENOMEM. */
int nhw_http_res_save_raw_head(nghttpw_http_res *res, const char *head, size_t len);

/* Field-list primitives (http_headers.c) behind the functions below. */
void nhw_http_msg_init(nhw_http_msg *msg);
void nhw_http_msg_clear(nhw_http_msg *msg); /* reset: keeps small buffers */
void nhw_http_msg_fini(nhw_http_msg *msg);  /* frees everything; init to reuse */

/* The message part of a request or response (never NULL for a valid
 * argument). */
nhw_http_msg *nhw_http_req_msg(nghttpw_http_req *req);
nhw_http_msg *nhw_http_res_msg(nghttpw_http_res *res);

/* Header fields, in order, as they will be written.  *countp receives the
 * number of fields.  The array is valid until the headers next change. */
const nhw_http_field *nhw_http_msg_fields(const nhw_http_msg *msg, size_t *countp);

/* Looks a field up by name (case-insensitive); NULL when absent. */
const char *nhw_http_msg_get_header(const nhw_http_msg *msg, const char *name);
const char *nhw_http_msg_get_header_n(const nhw_http_msg *msg, const char *name, size_t name_len);

/* The value of a well-known field (h is not NHW_HDR_OTHER), as
 * get_header gives it for the field's name; NULL when absent. */
const char *nhw_http_msg_get_known(const nhw_http_msg *msg, nhw_http_hdr h);

/* Sets a well-known field, as set_header does with the field's usual
 * spelling ("Content-Length"), but for a value the library made itself:
 * it is not checked, so it must be a valid field value.  Errors:
 * NGHTTPW_ENOMEM (message unchanged). */
int nhw_http_msg_set_known(nhw_http_msg *msg, nhw_http_hdr h, const char *value, size_t value_len);

/* Writes v in decimal (no NUL) and returns the number of digits (at most
 * NHW_HTTP_U64_LEN). */
#define NHW_HTTP_U64_LEN 20
size_t nhw_http_u64_str(uint64_t v, char buf[NHW_HTTP_U64_LEN]);

/* The same rules as the public functions, with counted strings (need not
 * be NUL-terminated).  The input is checked here (name a token, value
 * without CTLs other than HTAB, so no CR, LF or NUL), so a parser need not
 * check again.  add combines with an existing field as "old, new", except
 * Set-Cookie, which gets a line of its own.  Errors: NGHTTPW_EINVAL,
 * NGHTTPW_ENOMEM (message unchanged). */
int nhw_http_msg_add_header_n(nhw_http_msg *msg, const char *name, size_t name_len, const char *value, size_t value_len);
int nhw_http_msg_set_header_n(nhw_http_msg *msg, const char *name, size_t name_len, const char *value, size_t value_len);
int nhw_http_msg_del_header_n(nhw_http_msg *msg, const char *name, size_t name_len);

/* The trailer fields received after a chunked body, kept apart from the
 * header fields (RFC 9110 6.5.1: not merged into them).  add combines as
 * add_header does; the trailers go with a reset.  Errors: those of
 * add_header. */
int         nhw_http_msg_add_trailer_n(nhw_http_msg *msg, const char *name, size_t name_len, const char *value, size_t value_len);
const char *nhw_http_msg_get_trailer(const nhw_http_msg *msg, const char *name);
/* What the public add_trailer (replace false) and set_trailer (replace
 * true) do: as add_header and set_header on the trailer fields, refusing
 * (NGHTTPW_EINVAL) the fields RFC 9110 6.5.1 keeps out of trailers. */
int nhw_http_msg_put_trailer_n(nhw_http_msg *msg, bool replace, const char *name, size_t name_len, const char *value, size_t value_len);
/* The last chunk and the trailer section: "0\r\n", the trailer fields,
 * "\r\n", in a buffer the message owns (valid until its trailers next
 * change).  Fails only with NGHTTPW_ENOMEM. */
int nhw_http_msg_get_last_chunk(nhw_http_msg *msg, const char **bufp, size_t *lenp);

/* Body.  alloc_data replaces the body with an owned, uninitialized buffer
 * of size bytes (NULL when size is 0), stored in *bufp when bufp is not
 * NULL, into which a received body can be read; unlike set_data/copy_data
 * it does not touch Content-Length.  get_data gives NULL and 0 for an
 * empty body; either output pointer may be NULL. */
int  nhw_http_msg_alloc_data(nhw_http_msg *msg, size_t size, void **bufp);
/* What the public set_data (copy false) and copy_data (copy true) do:
 * replace the body and set Content-Length to size. */
int  nhw_http_msg_set_data(nhw_http_msg *msg, const void *body, size_t size, bool copy);
void nhw_http_msg_get_data(const nhw_http_msg *msg, const void **bodyp, size_t *sizep);

/* A body read from part of an open file, which the message then owns (it
 * closes fd when the body is replaced, reset or freed).  Replaces any
 * other body and sets Content-Length to len.  The connection sends it with
 * sendfile(2) on plain TCP, so the file is never read into memory.
 * get_file returns false when the body is not a file. */
int  nhw_http_msg_set_file(nhw_http_msg *msg, int fd, uint64_t off, uint64_t len);
bool nhw_http_msg_get_file(const nhw_http_msg *msg, int *fdp, uint64_t *offp, uint64_t *lenp);
int  nhw_http_res_set_file(nghttpw_http_res *res, int fd, uint64_t off, uint64_t len);

/* Fields (checked by their owner, none of them a well-known one) lent
 * with a lent body and given back with it: the head carries their lines
 * after the other fields, formatted once instead of per message.  The
 * getters see them; setting, adding or deleting one of their names makes
 * them ordinary fields first.  NGHTTPW_EINVAL without a lent body. */
int nhw_http_msg_lend_fields(nhw_http_msg *msg, const nhw_http_prefab *p);
/* The i-th lent field (after the ordinary ones, for iteration); false
 * past the last. */
bool nhw_http_msg_prefab_field(const nhw_http_msg *msg, size_t i, const char **namep, const char **valuep);

/* A body lent by its owner: bytes (as set_data, not copied) or part of
 * an open file (as set_file, but fd is not closed).  Instead of freeing or
 * closing anything, the message calls done(arg) once when the body is
 * replaced, reset or freed, after the connection has sent it.  On failure
 * (NGHTTPW_EINVAL, NGHTTPW_ENOMEM) done is not called and the message is
 * unchanged. */
int nhw_http_msg_lend_data(nhw_http_msg *msg, const void *body, size_t size, void (*done)(void *), void *arg);
int nhw_http_msg_lend_file(nhw_http_msg *msg, int fd, uint64_t off, uint64_t len, void (*done)(void *), void *arg);

/* Whether res still carries the page nghttpw_http_res_alloc_error made
 * (no body set since): a server puts its own error page there, as nng's
 * does. */
bool nhw_http_res_is_error(const nghttpw_http_res *res);

/* Whether version, as the version getters give it (always "HTTP/x.y"
 * and its NUL), is v: a comparison of fixed size, which needs no call,
 * as every message asks. */
static inline bool
nhw_http_version_is(const char *version, const char v[9])
{
	return memcmp(version, v, 9) == 0;
}

/* Whether the request's method is HEAD (answered with a head alone). */
bool nhw_http_req_is_head(const nghttpw_http_req *req);

/* Start-line setters with counted strings, checked as the public setters
 * check.  Errors: NGHTTPW_EINVAL, NGHTTPW_ENOMEM (message unchanged). */
int nhw_http_req_set_method_n(nghttpw_http_req *req, const char *method, size_t len);
int nhw_http_req_set_uri_n(nghttpw_http_req *req, const char *uri, size_t len);
int nhw_http_req_set_version_n(nghttpw_http_req *req, const char *version, size_t len);
int nhw_http_res_set_version_n(nghttpw_http_res *res, const char *version, size_t len);
int nhw_http_res_set_reason_n(nghttpw_http_res *res, const char *reason, size_t len);

/* Serialization of the head: the start line, every field as
 * "Name: value\r\n" in order, then "\r\n".  Nothing is added (in
 * particular no Content-Length).
 *
 * head_size gives the exact number of bytes; head_write writes exactly
 * that many into buf (no NUL).  get_head builds the head in a buffer that
 * the message owns and reuses across calls and resets; *bufp (also
 * NUL-terminated) and *lenp stay valid until the message next changes.
 * get_head fails only with NGHTTPW_ENOMEM. */
size_t nhw_http_req_head_size(const nghttpw_http_req *req);
void   nhw_http_req_head_write(const nghttpw_http_req *req, char *buf);
int    nhw_http_req_get_head(nghttpw_http_req *req, const char **bufp, size_t *lenp);

/* What a request sent to a forward proxy carries beyond its own head,
 * without the request being changed: prefix ("http://host:port") before
 * an origin-form target, making it absolute-form (RFC 9112 3.2.2), and
 * lines ("Name: value\r\n"..., or NULL) after the request line. */
typedef struct nhw_http_via {
	const char *prefix;
	const char *lines;
} nhw_http_via;

/* get_head with via (NULL: the same as get_head). */
int nhw_http_req_get_head_via(nghttpw_http_req *req, const nhw_http_via *via,
    const char **bufp, size_t *lenp);
size_t nhw_http_res_head_size(const nghttpw_http_res *res);
void   nhw_http_res_head_write(const nghttpw_http_res *res, char *buf);
int    nhw_http_res_get_head(nghttpw_http_res *res, const char **bufp, size_t *lenp);

/* The standard reason phrase for a status, or NULL when it has none. */
const char *nhw_http_status_reason(uint16_t status);

/* Syntax checks (RFC 9110 / 9112), usable by a parser.
 * token:   non-empty, tchar only (method, field name).
 * value:   no CTL except HTAB (field value, reason phrase); may be empty.
 * uri:     non-empty, no CTL, no space.
 * version: exactly "HTTP/" DIGIT "." DIGIT. */
bool nhw_http_is_token(const char *s, size_t len);
bool nhw_http_is_value(const char *s, size_t len);
bool nhw_http_is_uri(const char *s, size_t len);
bool nhw_http_is_version(const char *s, size_t len);

/* True when the comma-separated list (a field value such as that of
 * Connection or Transfer-Encoding) holds token, compared without regard to
 * case.  Whitespace around elements and parameters after a ';' in an
 * element are ignored ("gzip, chunked;x=1" holds "chunked").  A NULL list
 * gives false. */
bool nhw_http_list_has_token(const char *list, const char *token);

/* ASCII case-insensitive comparison of counted strings. */
bool nhw_http_name_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif /* NGHTTPW_HTTP_MSG_H */
