/* llhttp glue.  The parser pauses when the head is complete so that the
 * bytes after it stay in the connection's buffer, and again at the end of
 * a message so that a pipelined next message is left alone. */
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

static http_parser *
parser_of(llhttp_t *ll)
{
	return (ll->data);
}

static int
span_add(http_parser *p, span *s, const char *at, size_t len)
{
	if (s->len == 0) {
		s->off = (size_t) (at - p->base);
	}
	s->len += len;
	return (0);
}

static int
on_method(llhttp_t *ll, const char *at, size_t len)
{
	http_parser *p = parser_of(ll);
	return (span_add(p, &p->method, at, len));
}

static int
on_url(llhttp_t *ll, const char *at, size_t len)
{
	http_parser *p = parser_of(ll);
	return (span_add(p, &p->uri, at, len));
}

static int
on_status(llhttp_t *ll, const char *at, size_t len)
{
	http_parser *p = parser_of(ll);
	return (span_add(p, &p->status, at, len));
}

static int
on_header_field(llhttp_t *ll, const char *at, size_t len)
{
	http_parser *p = parser_of(ll);
	return (span_add(p, &p->field, at, len));
}

static int
on_header_value(llhttp_t *ll, const char *at, size_t len)
{
	http_parser *p = parser_of(ll);
	return (span_add(p, &p->value, at, len));
}

static int
parser_fail(http_parser *p, int err)
{
	p->err = err;
	return (-1);
}

static int
on_header_value_complete(llhttp_t *ll)
{
	http_parser *p     = parser_of(ll);
	const char  *value = p->base + p->value.off;
	size_t       vlen  = p->value.len;
	int          rv;

	if (p->in_body) {
		/* Trailer fields count against the same limits as the
		 * head's. */
		p->head_bytes += p->field.len + p->value.len;
		if (p->head_bytes > p->max_head) {
			return (parser_fail(p, NGHTTPW_EMSGSIZE));
		}
	}
	if (++p->nfields > p->max_fields) {
		return (parser_fail(p, NGHTTPW_EMSGSIZE));
	}
	while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) {
		vlen--;
	}
	/* Trailer fields are kept apart: they must not reframe or
	 * otherwise amend the head (RFC 9110 6.5.1). */
	rv = (p->in_body ? nhw_http_msg_add_trailer_n : nhw_http_msg_add_header_n)(
	    p->msg, p->base + p->field.off, p->field.len, value, vlen);
	if (rv != 0) {
		return (parser_fail(p, rv == NGHTTPW_ENOMEM ? rv : NGHTTPW_EPROTO));
	}
	p->field.len = 0;
	p->value.len = 0;
	return (0);
}

static int
set_start_line(http_parser *p)
{
	/* llhttp takes one digit each for major and minor. */
	char version[8] = { 'H', 'T', 'T', 'P', '/',
		(char) ('0' + llhttp_get_http_major(&p->ll)), '.',
		(char) ('0' + llhttp_get_http_minor(&p->ll)) };
	size_t vlen = sizeof(version);
	int    rv;

	if (p->req != NULL) {
		const char *uri = p->base + p->uri.off;
		for (size_t i = 0; i < p->uri.len; i++) {
			if ((unsigned char) uri[i] > 0x7e) {
				/* Not a URI (RFC 3986: percent-encoded).  llhttp's
				 * strict mode says so too, but not every build. */
				return (NGHTTPW_EPROTO);
			}
		}
		if ((rv = nhw_http_req_set_method_n(p->req, p->base + p->method.off,
		        p->method.len)) != 0 ||
		    (rv = nhw_http_req_set_uri_n(p->req, p->base + p->uri.off,
		        p->uri.len)) != 0 ||
		    (rv = nhw_http_req_set_version_n(p->req, version, vlen)) != 0) {
			return (rv == NGHTTPW_ENOMEM ? rv : NGHTTPW_EPROTO);
		}
		return (0);
	}
	if ((rv = nghttpw_http_res_set_status(p->res, llhttp_get_status_code(&p->ll))) !=
	        0 ||
	    (rv = nhw_http_res_set_version_n(p->res, version, vlen)) != 0 ||
	    (rv = nhw_http_res_set_reason_n(p->res, p->base + p->status.off,
	        p->status.len)) != 0) {
		return (rv == NGHTTPW_ENOMEM ? rv : NGHTTPW_EPROTO);
	}
	return (0);
}

/* Whether the Transfer-Encoding list (its fields combined) names chunked
 * more than once: a sender must never apply it twice (RFC 9112 7). */
static bool
chunked_twice(const nhw_http_msg *msg)
{
	const char *p = nhw_http_msg_get_known(msg, NHW_HDR_TRANSFER_ENCODING);
	unsigned    n = 0;

	while (p != NULL && *p != '\0') {
		size_t len;
		p += strspn(p, " \t,");
		len = strcspn(p, " \t,;");
		if (nhw_http_name_eq(p, len, "chunked", 7)) {
			n++;
		}
		p += strcspn(p, ",");
	}
	return (n > 1);
}

static int
on_headers_complete(llhttp_t *ll)
{
	http_parser *p = parser_of(ll);
	int          rv;

	if (p->in_body) {
		return (0); /* trailers after a chunked body */
	}
	if ((rv = set_start_line(p)) != 0) {
		return (parser_fail(p, rv));
	}
	if ((ll->flags & F_TRANSFER_ENCODING) == 0 &&
	    nhw_http_msg_get_known(p->msg, NHW_HDR_TRANSFER_ENCODING) != NULL) {
		/* An empty Transfer-Encoding llhttp lets pass: a peer that
		 * reads it differently would frame the body differently. */
		return (parser_fail(p, NGHTTPW_EPROTO));
	}
	if (p->req != NULL &&
	    (llhttp_get_method(ll) == HTTP_CONNECT ||
	        (ll->flags & F_UPGRADE) != 0)) {
		/* What follows is a tunnel or another protocol, never a next
		 * request: the connection ends after the answer. */
		p->upgrade = true;
	}
	if (p->req != NULL && (ll->flags & F_TRANSFER_ENCODING) != 0 &&
	    (ll->flags & F_CHUNKED) == 0) {
		/* A request body in a coding we cannot undo: its length is
		 * unknowable, so the request cannot be read (501). */
		return (parser_fail(p, NGHTTPW_ENOTSUP));
	}
	/* Both framings (a response's: a request's is refused): a peer
	 * between us may have read it the other way, so what follows on
	 * this connection cannot be trusted.  Noted now, as a trailer
	 * field may set llhttp's flags later. */
	p->two_framings = (ll->flags & (F_CONTENT_LENGTH | F_TRANSFER_ENCODING)) ==
	    (F_CONTENT_LENGTH | F_TRANSFER_ENCODING);
	if (p->res != NULL) {
		int status = llhttp_get_status_code(ll);
		if (status < 100 || status > 599) {
			/* Three digits, but no status class (RFC 9110 15). */
			return (parser_fail(p, NGHTTPW_EPROTO));
		}
		if ((ll->flags & F_CHUNKED) != 0 && chunked_twice(p->msg)) {
			/* Chunked twice: llhttp refuses it in requests only. */
			return (parser_fail(p, NGHTTPW_EPROTO));
		}
		if (status < 200 || status == 204 || status == 304) {
			p->no_body = true;
		}
	}
	p->head_done = true;
	return (HPE_PAUSED);
}

/* Streaming: the bytes go to the reader's buffers, which the caller
 * made room for by feeding no more than they hold. */
static void
sink_copy(http_parser *p, const char *at, size_t len)
{
	size_t skip = p->sink_done;

	for (unsigned i = 0; i < p->nsink && len > 0; i++) {
		size_t room = p->sink[i].iov_len;
		if (skip >= room) {
			skip -= room;
			continue;
		}
		size_t take = room - skip < len ? room - skip : len;
		memcpy((char *) p->sink[i].iov_buf + skip, at, take);
		at += take;
		len -= take;
		p->sink_done += take;
		skip = 0;
	}
}

static int
on_body(llhttp_t *ll, const char *at, size_t len)
{
	http_parser *p = parser_of(ll);

	if (p->streaming) {
		sink_copy(p, at, len);
		return (0);
	}
	if (len > p->max_body - p->body_len) {
		return (parser_fail(p, NGHTTPW_EMSGSIZE));
	}
	if (p->body_len + len > p->body_cap) {
		size_t cap = p->body_cap < 4096 ? 4096 : p->body_cap;
		char  *grown;
		while (cap < p->body_len + len) {
			cap *= 2;
		}
		if (cap > p->max_body) {
			cap = p->max_body;
		}
		if ((grown = realloc(p->body, cap)) == NULL) {
			return (parser_fail(p, NGHTTPW_ENOMEM));
		}
		p->body     = grown;
		p->body_cap = cap;
	}
	memcpy(p->body + p->body_len, at, len);
	p->body_len += len;
	return (0);
}

static int
on_message_complete(llhttp_t *ll)
{
	http_parser *p = parser_of(ll);

	p->message_done = true;
	return (HPE_PAUSED);
}

static const llhttp_settings_t *
parser_settings(void)
{
	static const llhttp_settings_t settings = {
		.on_method                = on_method,
		.on_url                   = on_url,
		.on_status                = on_status,
		.on_header_field          = on_header_field,
		.on_header_value          = on_header_value,
		.on_header_value_complete = on_header_value_complete,
		.on_headers_complete      = on_headers_complete,
		.on_body                  = on_body,
		.on_message_complete      = on_message_complete,
	};
	return (&settings);
}

static void
parser_init(http_parser *p, llhttp_type_t type, nhw_http_msg *msg,
    size_t max_head, size_t max_fields)
{
	memset(p, 0, sizeof(*p));
	llhttp_init(&p->ll, type, parser_settings());
	p->ll.data     = p;
	p->msg         = msg;
	p->max_head    = max_head;
	p->max_fields  = max_fields;
}

void
http_parser_init_req(http_parser *p, nghttpw_http_req *req, size_t max_head,
    size_t max_fields)
{
	parser_init(p, HTTP_REQUEST, nhw_http_req_msg(req), max_head, max_fields);
	p->req = req;
}

void
http_parser_init_res(http_parser *p, nghttpw_http_res *res, size_t max_head,
    size_t max_fields, bool head_request)
{
	parser_init(p, HTTP_RESPONSE, nhw_http_res_msg(res), max_head, max_fields);
	/* A response with both Content-Length and Transfer-Encoding is
	 * framed by the latter (RFC 9112 6.3), and its connection is not
	 * reused (http_parser_keep_alive); a request with both is refused. */
	llhttp_set_lenient_chunked_length(&p->ll, 1);
	p->res     = res;
	p->no_body = head_request;
}

void
http_parser_fini(http_parser *p)
{
	free(p->body);
	p->body     = NULL;
	p->body_len = 0;
	p->body_cap = 0;
}

int
http_parser_feed(http_parser *p, const char *base, size_t off, size_t len,
    parse_state *state, size_t *used)
{
	const char   *data = base + off;
	llhttp_errno_t e;

	p->base = base;
	e       = llhttp_execute(&p->ll, data, len);
	if (e == HPE_OK) {
		*used = len;
	} else if (e == HPE_PAUSED) {
		*used = (size_t) (llhttp_get_error_pos(&p->ll) - data);
	} else if (p->err != 0) {
		return (p->err); /* raised by one of our callbacks */
	} else {
		return (NGHTTPW_EPROTO);
	}
	if (!p->in_body) {
		p->head_bytes += *used;
		if (p->head_bytes > p->max_head) {
			return (NGHTTPW_EMSGSIZE);
		}
	}
	if (p->message_done) {
		*state = PARSE_MESSAGE_DONE;
	} else if (p->head_done && !p->in_body) {
		*state = PARSE_HEAD_DONE;
	} else {
		*state = PARSE_MORE;
	}
	return (0);
}

bool
http_parser_chunked(const http_parser *p)
{
	return ((p->ll.flags & F_CHUNKED) != 0);
}

bool
http_parser_has_length(const http_parser *p)
{
	/* Transfer-Encoding overrides it (RFC 9112 6.3). */
	return ((p->ll.flags & (F_CONTENT_LENGTH | F_TRANSFER_ENCODING)) ==
	    F_CONTENT_LENGTH);
}

uint64_t
http_parser_content_length(const http_parser *p)
{
	return (p->ll.content_length);
}

bool
http_parser_keep_alive(const http_parser *p)
{
	return (!p->upgrade && !p->two_framings &&
	    llhttp_should_keep_alive(&p->ll) != 0);
}

static void
body_start(http_parser *p, parse_state *state)
{
	p->in_body = true;
	llhttp_resume(&p->ll);
	*state = PARSE_MORE;
}

bool
http_parser_no_body(const http_parser *p)
{
	return (p->no_body ||
	    (http_parser_has_length(p) && p->ll.content_length == 0) ||
	    (p->req != NULL && !http_parser_chunked(p) &&
	        !http_parser_has_length(p)));
}

static bool
body_none(http_parser *p, parse_state *state)
{
	if (http_parser_no_body(p)) {
		p->message_done = true;
		*state          = PARSE_MESSAGE_DONE;
		return (true);
	}
	return (false);
}

int
http_parser_body(http_parser *p, size_t max_body, parse_state *state)
{
	if (body_none(p, state)) {
		return (0);
	}
	if (http_parser_has_length(p) && p->ll.content_length > max_body) {
		return (NGHTTPW_EMSGSIZE);
	}
	p->max_body = max_body;
	body_start(p, state);
	return (0);
}

void
http_parser_body_stream(http_parser *p, parse_state *state)
{
	if (!body_none(p, state)) {
		p->streaming = true;
		body_start(p, state);
	}
}

void
http_parser_set_sink(http_parser *p, const nghttpw_iov *iov, unsigned n)
{
	p->sink      = iov;
	p->nsink     = n;
	p->sink_done = 0;
}

int
http_parser_eof(http_parser *p)
{
	if (p->in_body && !p->message_done && !http_parser_chunked(p) &&
	    !http_parser_has_length(p)) {
		/* A body delimited by the close ends with it (RFC 9112 6.3).
		 * Decided here, not by llhttp_finish: paused at the end of
		 * the head, llhttp may not have reached its body state. */
		p->message_done = true;
	}
	return (p->message_done ? 0 : NGHTTPW_ECLOSED);
}

size_t
http_parser_pending(const http_parser *p, size_t end)
{
	size_t from = end;

	if (p->field.len > 0 && p->field.off < from) {
		from = p->field.off;
	}
	if (p->value.len > 0 && p->value.off < from) {
		from = p->value.off;
	}
	return (from);
}

void
http_parser_shift(http_parser *p, size_t by)
{
	if (p->field.len > 0) {
		p->field.off -= by;
	}
	if (p->value.len > 0) {
		p->value.off -= by;
	}
}

int
http_parser_take_body(http_parser *p)
{
	void *buf;
	int   rv;

	if ((rv = nhw_http_msg_alloc_data(p->msg, p->body_len, &buf)) != 0) {
		return (rv);
	}
	if (p->body_len > 0) {
		memcpy(buf, p->body, p->body_len);
	}
	http_parser_fini(p);
	return (0);
}
