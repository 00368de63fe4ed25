/*
 * The part that requests and responses share: the syntax checks, the
 * header field list and the body.
 *
 * Fields live in an array of slots.  Each slot owns one buffer holding
 * "name\0value\0".  Slots past nfields are spares whose buffers are kept
 * for reuse, so a message that is reset and refilled with headers of
 * similar sizes (a keep-alive connection) allocates nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "http/http_msg.h"

/* Spare buffers above this size, and slot arrays above this count, are
 * released by a reset rather than kept. */
#define FIELD_KEEP_CAP 256
#define FIELD_KEEP_SLOTS 64

/* ---- syntax ---- */

static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9')) {
		return true;
	}
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	default:
		return false;
	}
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

bool
nhw_http_is_token(const char *s, size_t len)
{
	if (s == NULL || len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_tchar((unsigned char) s[i])) {
			return false;
		}
	}
	return true;
}

bool
nhw_http_is_value(const char *s, size_t len)
{
	if (s == NULL) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];
		if (is_ctl(c) && c != '\t') {
			return false;
		}
	}
	return true;
}

bool
nhw_http_is_uri(const char *s, size_t len)
{
	if (s == NULL || len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char) s[i];
		if (is_ctl(c) || c == ' ') {
			return false;
		}
	}
	return true;
}

bool
nhw_http_is_version(const char *s, size_t len)
{
	return s != NULL && len == 8 && memcmp(s, "HTTP/", 5) == 0 &&
	    s[5] >= '0' && s[5] <= '9' && s[6] == '.' && s[7] >= '0' &&
	    s[7] <= '9';
}

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char) (c + ('a' - 'A')) : c;
}

bool
nhw_http_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen) {
		return false;
	}
	for (size_t i = 0; i < alen; i++) {
		if (lower((unsigned char) a[i]) != lower((unsigned char) b[i])) {
			return false;
		}
	}
	return true;
}

bool
nhw_http_list_has_token(const char *list, const char *token)
{
	if (list == NULL || token == NULL) {
		return false;
	}
	size_t tlen = strlen(token);
	const char *p = list;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		if (*p == '\0') {
			return false;
		}
		const char *start = p;
		while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' &&
		    *p != '\t') {
			p++;
		}
		size_t len = (size_t) (p - start);
		while (*p == ' ' || *p == '\t') {
			p++;
		}
		/* Only a whole element counts: "gzip chunked" is one element
		 * (a malformed one), not a list holding "chunked". */
		if ((*p == '\0' || *p == ',' || *p == ';') &&
		    nhw_http_name_eq(start, len, token, tlen)) {
			return true;
		}
		while (*p != '\0' && *p != ',') {
			p++; /* parameters or junk up to the next element */
		}
	}
}

/* ---- field buffers ---- */

static bool
inside(const char *p, const char *buf, size_t cap)
{
	uintptr_t u = (uintptr_t) p;
	uintptr_t b = (uintptr_t) buf;
	return buf != NULL && u >= b && u - b < cap;
}

/* Capacity to allocate for need bytes: rounded up to 32; 0 on overflow. */
static size_t
round_cap(size_t need)
{
	if (need > SIZE_MAX - 31) {
		return 0;
	}
	return (need + 31) & ~(size_t) 31;
}

/* Sum of lengths plus extra, or SIZE_MAX on overflow. */
static size_t
add3(size_t a, size_t b, size_t extra)
{
	if (a > SIZE_MAX - b || a + b > SIZE_MAX - extra) {
		return SIZE_MAX;
	}
	return a + b + extra;
}

/* Fills a spare slot with a new field. */
static int
field_init(nhw_http_field *f, const char *name, size_t nlen, const char *val,
    size_t vlen)
{
	size_t need = add3(nlen, vlen, 2);
	if (need == SIZE_MAX) {
		return NGHTTPW_ENOMEM;
	}
	char *buf = f->name;
	char *old = NULL;
	if (f->cap < need || inside(name, buf, f->cap) ||
	    inside(val, buf, f->cap)) {
		size_t cap = round_cap(need);
		if (cap == 0 || (buf = malloc(cap)) == NULL) {
			return NGHTTPW_ENOMEM;
		}
		old    = f->name; /* freed only once the sources are copied */
		f->cap = cap;
	}
	memcpy(buf, name, nlen);
	buf[nlen] = '\0';
	memcpy(buf + nlen + 1, val, vlen);
	buf[nlen + 1 + vlen] = '\0';
	free(old);
	f->name      = buf;
	f->name_len  = nlen;
	f->value     = buf + nlen + 1;
	f->value_len = vlen;
	return 0;
}

/* Replaces the value of a field, keeping its name.  val may point into
 * the field's own buffer. */
static int
field_set_value(nhw_http_field *f, const char *val, size_t vlen)
{
	size_t need = add3(f->name_len, vlen, 2);
	if (need == SIZE_MAX) {
		return NGHTTPW_ENOMEM;
	}
	if (f->cap >= need) {
		memmove(f->value, val, vlen);
		f->value[vlen] = '\0';
		f->value_len   = vlen;
		return 0;
	}
	size_t cap = round_cap(need);
	char  *buf;
	if (cap == 0 || (buf = malloc(cap)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	memcpy(buf, f->name, f->name_len + 1);
	memcpy(buf + f->name_len + 1, val, vlen);
	buf[f->name_len + 1 + vlen] = '\0';
	free(f->name);
	f->name      = buf;
	f->value     = buf + f->name_len + 1;
	f->value_len = vlen;
	f->cap       = cap;
	return 0;
}

/* Appends ", val" to the value of a field. */
static int
field_append(nhw_http_field *f, const char *val, size_t vlen)
{
	if (vlen == 0) {
		return 0; /* an empty list element adds nothing */
	}
	if (f->value_len == 0) {
		return field_set_value(f, val, vlen);
	}
	size_t need = add3(f->name_len, f->value_len, 2);
	need        = need == SIZE_MAX ? SIZE_MAX : add3(need, vlen, 2);
	if (need == SIZE_MAX) {
		return NGHTTPW_ENOMEM;
	}
	if (f->cap >= need) {
		/* The source cannot overlap the bytes written: they lie
		 * past the current value's terminator. */
		char *end = f->value + f->value_len;
		memmove(end + 2, val, vlen);
		end[0]          = ',';
		end[1]          = ' ';
		end[2 + vlen]   = '\0';
		f->value_len   += 2 + vlen;
		return 0;
	}
	size_t cap = round_cap(need);
	char  *buf;
	if (cap == 0 || (buf = malloc(cap)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	size_t off = f->name_len + 1;
	memcpy(buf, f->name, off + f->value_len);
	memcpy(buf + off + f->value_len, ", ", 2);
	memcpy(buf + off + f->value_len + 2, val, vlen);
	buf[off + f->value_len + 2 + vlen] = '\0';
	free(f->name);
	f->name       = buf;
	f->value      = buf + off;
	f->value_len += 2 + vlen;
	f->cap        = cap;
	return 0;
}

/* ---- the field list ---- */

/* Makes sure a spare slot exists at index nfields. */
static int
fields_reserve(nhw_http_msg *m)
{
	if (m->nfields < m->fcap) {
		return 0;
	}
	size_t ncap = m->fcap == 0 ? 8 : m->fcap * 2;
	if (ncap > SIZE_MAX / sizeof(nhw_http_field)) {
		return NGHTTPW_ENOMEM;
	}
	nhw_http_field *nf = realloc(m->fields, ncap * sizeof(*nf));
	if (nf == NULL) {
		return NGHTTPW_ENOMEM;
	}
	memset(nf + m->fcap, 0, (ncap - m->fcap) * sizeof(*nf));
	m->fields = nf;
	m->fcap   = ncap;
	return 0;
}

static size_t
fields_find(const nhw_http_msg *m, const char *name, size_t nlen, size_t from)
{
	for (size_t i = from; i < m->nfields; i++) {
		if (nhw_http_name_eq(m->fields[i].name, m->fields[i].name_len,
		        name, nlen)) {
			return i;
		}
	}
	return m->nfields;
}

/* Takes field i out of the list; its buffer becomes the first spare. */
static void
fields_remove(nhw_http_msg *m, size_t i)
{
	nhw_http_field tmp = m->fields[i];
	memmove(&m->fields[i], &m->fields[i + 1],
	    (m->nfields - i - 1) * sizeof(m->fields[0]));
	m->nfields--;
	m->fields[m->nfields] = tmp;
}

static int
fields_append_new(nhw_http_msg *m, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	int rv;
	if ((rv = fields_reserve(m)) != 0 ||
	    (rv = field_init(&m->fields[m->nfields], name, nlen, val, vlen)) !=
	        0) {
		return rv;
	}
	m->nfields++;
	return 0;
}

/* Fields whose lines must not be folded into one: Set-Cookie values hold
 * commas of their own (RFC 9110 section 5.3). */
static bool
keep_separate(const char *name, size_t nlen)
{
	return nhw_http_name_eq(name, nlen, "Set-Cookie", 10);
}

const nhw_http_field *
nhw_http_msg_fields(const nhw_http_msg *msg, size_t *countp)
{
	*countp = msg->nfields;
	return msg->fields;
}

const char *
nhw_http_msg_get_header_n(const nhw_http_msg *msg, const char *name, size_t nlen)
{
	if (msg == NULL || name == NULL) {
		return NULL;
	}
	size_t i = fields_find(msg, name, nlen, 0);
	return i < msg->nfields ? msg->fields[i].value : NULL;
}

const char *
nhw_http_msg_get_header(const nhw_http_msg *msg, const char *name)
{
	if (name == NULL) {
		return NULL;
	}
	return nhw_http_msg_get_header_n(msg, name, strlen(name));
}

int
nhw_http_msg_add_header_n(nhw_http_msg *msg, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	if (msg == NULL || !nhw_http_is_token(name, nlen) ||
	    !nhw_http_is_value(val, vlen)) {
		return NGHTTPW_EINVAL;
	}
	if (!keep_separate(name, nlen)) {
		size_t i = fields_find(msg, name, nlen, 0);
		if (i < msg->nfields) {
			return field_append(&msg->fields[i], val, vlen);
		}
	}
	return fields_append_new(msg, name, nlen, val, vlen);
}

int
nhw_http_msg_set_header_n(nhw_http_msg *msg, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	if (msg == NULL || !nhw_http_is_token(name, nlen) ||
	    !nhw_http_is_value(val, vlen)) {
		return NGHTTPW_EINVAL;
	}
	size_t i = fields_find(msg, name, nlen, 0);
	if (i == msg->nfields) {
		return fields_append_new(msg, name, nlen, val, vlen);
	}
	int rv = field_set_value(&msg->fields[i], val, vlen);
	if (rv != 0) {
		return rv;
	}
	/* The argument name may have pointed into a buffer just replaced;
	 * the kept field's own name is equal and safe.  Removing later
	 * duplicates only moves slots, freeing nothing. */
	const char *kept = msg->fields[i].name;
	size_t      j    = i + 1;
	while ((j = fields_find(msg, kept, nlen, j)) < msg->nfields) {
		fields_remove(msg, j);
		kept = msg->fields[i].name;
	}
	return 0;
}

int
nhw_http_msg_del_header_n(nhw_http_msg *msg, const char *name, size_t nlen)
{
	if (msg == NULL || !nhw_http_is_token(name, nlen)) {
		return NGHTTPW_EINVAL;
	}
	bool   found = false;
	size_t i     = 0;
	while ((i = fields_find(msg, name, nlen, i)) < msg->nfields) {
		fields_remove(msg, i);
		found = true;
	}
	return found ? 0 : NGHTTPW_ENOENT;
}

/* ---- body ---- */

static void
msg_drop_data(nhw_http_msg *m)
{
	if (m->data_own) {
		free(m->data);
	}
	m->data     = NULL;
	m->size     = 0;
	m->data_own = false;
	if (m->file_fd >= 0) {
		close(m->file_fd);
	}
	m->file_fd  = -1;
	m->file_off = 0;
	m->file_len = 0;
}

int
nhw_http_msg_set_file(nhw_http_msg *msg, int fd, uint64_t off, uint64_t len)
{
	char cl[24];
	int  n, rv;

	if (msg == NULL || fd < 0) {
		return NGHTTPW_EINVAL;
	}
	n  = snprintf(cl, sizeof(cl), "%" PRIu64, len);
	rv = nhw_http_msg_set_header_n(msg, "Content-Length", 14, cl, (size_t) n);
	if (rv != 0) {
		return rv;
	}
	msg_drop_data(msg);
	msg->file_fd  = fd;
	msg->file_off = off;
	msg->file_len = len;
	return 0;
}

bool
nhw_http_msg_get_file(
    const nhw_http_msg *msg, int *fdp, uint64_t *offp, uint64_t *lenp)
{
	if (msg->file_fd < 0) {
		return false;
	}
	*fdp  = msg->file_fd;
	*offp = msg->file_off;
	*lenp = msg->file_len;
	return true;
}

int
nhw_http_msg_alloc_data(nhw_http_msg *msg, size_t size, void **bufp)
{
	void *buf = NULL;
	if (msg == NULL) {
		return NGHTTPW_EINVAL;
	}
	if (size > 0 && (buf = malloc(size)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	msg_drop_data(msg);
	msg->data     = buf;
	msg->size     = size;
	msg->data_own = buf != NULL;
	if (bufp != NULL) {
		*bufp = buf;
	}
	return 0;
}

int
nhw_http_msg_set_data(nhw_http_msg *msg, const void *body, size_t size, bool copy)
{
	char  cl[24];
	void *buf = NULL;
	int   rv;

	if (msg == NULL || (body == NULL && size > 0)) {
		return NGHTTPW_EINVAL;
	}
	/* Borrowing from the buffer we own and are about to free would leave
	 * the body dangling: take a copy instead. */
	if (!copy && msg->data_own && inside(body, msg->data, msg->size)) {
		copy = true;
	}
	if (copy && size > 0) {
		if ((buf = malloc(size)) == NULL) {
			return NGHTTPW_ENOMEM;
		}
		memcpy(buf, body, size);
	}
	int n = snprintf(cl, sizeof(cl), "%zu", size);
	rv    = nhw_http_msg_set_header_n(
            msg, "Content-Length", 14, cl, (size_t) n);
	if (rv != 0) {
		free(buf);
		return rv;
	}
	msg_drop_data(msg);
	if (copy) {
		msg->data     = buf;
		msg->data_own = buf != NULL;
	} else {
		msg->data     = size > 0 ? (void *) body : NULL;
		msg->data_own = false;
	}
	msg->size = size;
	return 0;
}

void
nhw_http_msg_get_data(const nhw_http_msg *msg, const void **bodyp, size_t *sizep)
{
	if (bodyp != NULL) {
		*bodyp = msg != NULL ? msg->data : NULL;
	}
	if (sizep != NULL) {
		*sizep = msg != NULL ? msg->size : 0;
	}
}

/* ---- life cycle ---- */

void
nhw_http_msg_init(nhw_http_msg *msg)
{
	memset(msg, 0, sizeof(*msg));
	msg->file_fd = -1;
	memcpy(msg->version, "HTTP/1.1", 9);
}

void
nhw_http_msg_clear(nhw_http_msg *msg)
{
	msg->nfields = 0;
	if (msg->fcap > FIELD_KEEP_SLOTS) {
		for (size_t i = 0; i < msg->fcap; i++) {
			free(msg->fields[i].name);
		}
		free(msg->fields);
		msg->fields = NULL;
		msg->fcap   = 0;
	} else {
		for (size_t i = 0; i < msg->fcap; i++) {
			nhw_http_field *f = &msg->fields[i];
			if (f->cap > FIELD_KEEP_CAP) {
				free(f->name);
				memset(f, 0, sizeof(*f));
			}
		}
	}
	msg_drop_data(msg);
	memcpy(msg->version, "HTTP/1.1", 9);
}

void
nhw_http_msg_fini(nhw_http_msg *msg)
{
	for (size_t i = 0; i < msg->fcap; i++) {
		free(msg->fields[i].name);
	}
	free(msg->fields);
	msg_drop_data(msg);
	free(msg->head);
	memset(msg, 0, sizeof(*msg));
	msg->file_fd = -1;
}
