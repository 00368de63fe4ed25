/* Incremental parsing of HTTP/1.x messages with llhttp in strict mode:
 * the head into a request or response, then the body, collected (for
 * transact and the server) or streamed to a reader (read_body). */
#ifndef NGHTTPW_HTTP_PARSE_H
#define NGHTTPW_HTTP_PARSE_H

#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http_msg.h"

/* A piece of the read buffer, by offset, so it survives the buffer
 * growing between reads. */
typedef struct span {
	size_t off;
	size_t len;
} span;

typedef enum {
	PARSE_MORE,         /* everything consumed; feed more */
	PARSE_HEAD_DONE,    /* the head is complete */
	PARSE_MESSAGE_DONE, /* the whole message, body included */
} parse_state;

typedef struct http_parser {
	llhttp_t          ll;
	const char       *base; /* the buffer being fed, for offsets */
	nghttpw_http_req *req;  /* one of these two is being filled */
	nghttpw_http_res *res;
	nhw_http_msg     *msg;
	span              method, uri, status, field, value;
	size_t            nfields;
	size_t            max_fields;
	size_t            head_bytes;
	size_t            max_head;
	int               err; /* NGHTTPW_E* raised by a callback */
	bool              in_body;
	bool              head_done;
	bool              message_done;
	bool              no_body;  /* HEAD request, 1xx, 204, 304 */
	bool              upgrade;  /* CONNECT or Upgrade: the rest is not HTTP */
	bool              two_framings; /* Content-Length and Transfer-Encoding */
	/* The body, streamed into the reader's buffers ... */
	bool               streaming;
	const nghttpw_iov *sink;
	unsigned           nsink;
	size_t             sink_done; /* bytes put there */
	/* ... or collected while in_body. */
	char             *body;
	size_t            body_len;
	size_t            body_cap;
	size_t            max_body;
} http_parser;

/* Prepares to read a request or a response head.  head_request says the
 * response answers a HEAD request (so it has no body). */
void http_parser_init_req(http_parser *, nghttpw_http_req *, size_t max_head,
    size_t max_fields);
void http_parser_init_res(http_parser *, nghttpw_http_res *, size_t max_head,
    size_t max_fields, bool head_request);
void http_parser_fini(http_parser *);

/* Feeds base[off, off + len).  Returns 0 with *state and *used (bytes
 * consumed; on HEAD_DONE and MESSAGE_DONE the rest belongs to what comes
 * next), or an error: NGHTTPW_EMSGSIZE for a limit, NGHTTPW_EPROTO for
 * malformed input, NGHTTPW_ENOMEM. */
int http_parser_feed(http_parser *, const char *base, size_t off, size_t len,
    parse_state *state, size_t *used);

/* After HEAD_DONE: continue into the body, collecting at most max_body
 * bytes.  *state is MESSAGE_DONE at once when there is no body. */
int http_parser_body(http_parser *, size_t max_body, parse_state *state);

/* After HEAD_DONE: continue into the body, handing it piece by piece to
 * the buffers set with set_sink before each feed (a feed of at most their
 * room).  *state is MESSAGE_DONE at once when there is no body. */
void http_parser_body_stream(http_parser *, parse_state *state);
void http_parser_set_sink(http_parser *, const nghttpw_iov *iov, unsigned n);

/* The peer closed: ends a body delimited by the close.  Returns 0 when
 * the message is thereby complete, NGHTTPW_ECLOSED otherwise. */
int http_parser_eof(http_parser *);

/* In a body: the offset of the first byte of a trailer field still being
 * parsed (its bytes must stay in the buffer), or end when there is none;
 * shift is told when the buffer's bytes moved down by that many. */
size_t http_parser_pending(const http_parser *, size_t end);
void   http_parser_shift(http_parser *, size_t by);

/* Hands the collected body to the message (which then owns a copy). */
int http_parser_take_body(http_parser *);

/* Framing facts once the head is done. */
bool     http_parser_chunked(const http_parser *);
bool     http_parser_has_length(const http_parser *);
uint64_t http_parser_content_length(const http_parser *);
bool     http_parser_keep_alive(const http_parser *);
/* Whether the message has no body at all (its head says so). */
bool     http_parser_no_body(const http_parser *);

#endif
