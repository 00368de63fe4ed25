/*
 * The part that requests and responses share: the syntax checks, the
 * header field list and the body.
 *
 * Fields live in an array of slots, at first inside the message.  Each
 * slot owns one buffer holding "name\0value\0", cut from the message's
 * small pool while that lasts and from the heap after.  Slots past
 * nfields are spares whose buffers are kept for reuse, so a message that
 * is reset and refilled with headers of similar sizes (a keep-alive
 * connection) allocates nothing, and a small one never does.  Only the
 * first nslots slots have ever been set: a slot is cleared when first
 * used, so making, resetting and freeing a message with few fields
 * touches only those.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_msg.h"

/* Spare buffers above this size, and slot arrays above this count, are
 * released by a reset rather than kept. */
#define FIELD_KEEP_CAP 256
#define FIELD_KEEP_SLOTS 64

/* ---- syntax ---- */

/* tchar (RFC 9110 5.6.2) by byte, ASCII only (the rest is 0): one load
 * per byte for the names checked on every field. */
static const unsigned char tchar_tab[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 */
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 */
};

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
	/* No early exit: a name that fails is rare, and the loop without a
	 * branch per byte is the shorter one. */
	unsigned char all = 1;
	for (size_t i = 0; i < len; i++) {
		all &= tchar_tab[(unsigned char) s[i]];
	}
	return all != 0;
}

/* Whether any of the 8 bytes in w is a CTL (below 0x20, or 0x7f).  Each
 * test is exact for "any byte" (borrows only arise past a match). */
static bool
word_has_ctl(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101u;
	const uint64_t high = 0x8080808080808080u;
	uint64_t       del  = w ^ (ones * 0x7f);
	return (((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & high;
}

bool
nhw_http_is_value(const char *s, size_t len)
{
	size_t i = 0;
	if (s == NULL) {
		return false;
	}
	/* Eight bytes at a time while they hold no CTL at all (HTAB, the
	 * one allowed, is rare): values such as User-Agent are long. */
	for (; len - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		if (word_has_ctl(w)) {
			break;
		}
	}
	for (; i < len; i++) {
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
		/* Names mostly come spelled alike: equal bytes need no
		 * folding. */
		if (a[i] != b[i] &&
		    lower((unsigned char) a[i]) != lower((unsigned char) b[i])) {
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

/* ---- well-known fields ---- */

/* Their usual spellings, by nhw_http_hdr. */
static const struct {
	const char *name;
	size_t      len;
} known_names[] = {
	[NHW_HDR_OTHER]             = { "", 0 },
	[NHW_HDR_CONNECTION]        = { "Connection", 10 },
	[NHW_HDR_CONTENT_LENGTH]    = { "Content-Length", 14 },
	[NHW_HDR_DATE]              = { "Date", 4 },
	[NHW_HDR_EXPECT]            = { "Expect", 6 },
	[NHW_HDR_HOST]              = { "Host", 4 },
	[NHW_HDR_TRANSFER_ENCODING] = { "Transfer-Encoding", 17 },
};

static bool
is_known(const char *name, size_t nlen, uint8_t h)
{
	return nhw_http_name_eq(name, nlen, known_names[h].name, known_names[h].len);
}

/* Asked for every field stored, so the candidate is picked by length:
 * only Date and Host share one. */
static uint8_t
known_of(const char *name, size_t nlen)
{
	uint8_t h;

	switch (nlen) {
	case 4:
		h = is_known(name, nlen, NHW_HDR_DATE) ? NHW_HDR_DATE : NHW_HDR_HOST;
		break;
	case 6:
		h = NHW_HDR_EXPECT;
		break;
	case 10:
		h = NHW_HDR_CONNECTION;
		break;
	case 14:
		h = NHW_HDR_CONTENT_LENGTH;
		break;
	case 17:
		h = NHW_HDR_TRANSFER_ENCODING;
		break;
	default:
		return NHW_HDR_OTHER;
	}
	return is_known(name, nlen, h) ? h : (uint8_t) NHW_HDR_OTHER;
}

size_t
nhw_http_u64_str(uint64_t v, char buf[NHW_HTTP_U64_LEN])
{
	char   tmp[NHW_HTTP_U64_LEN];
	size_t n = 0;
	do {
		tmp[sizeof(tmp) - ++n] = (char) ('0' + v % 10);
		v /= 10;
	} while (v != 0);
	memcpy(buf, tmp + sizeof(tmp) - n, n);
	return n;
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

/* A field buffer of at least need bytes (need < SIZE_MAX), stored with
 * its capacity in *capp: from the message's pool while it has room, else
 * from the heap.  Pool space is only taken back by a reset; the pool is
 * small, so little can be stranded. */
static char *
buf_get(nhw_http_msg *m, size_t need, size_t *capp)
{
	if (need <= sizeof(m->pool) - m->pool_len) {
		char *buf = m->pool + m->pool_len;
		m->pool_len += need;
		*capp = need;
		return buf;
	}
	size_t cap = round_cap(need);
	char  *buf = cap != 0 ? malloc(cap) : NULL;
	*capp      = cap;
	return buf;
}

static void
buf_put(nhw_http_msg *m, char *buf)
{
	if (!inside(buf, m->pool, sizeof(m->pool))) {
		free(buf);
	}
}

/* Fills a spare slot with a new field. */
static int
field_init(nhw_http_msg *m, nhw_http_field *f, const char *name, size_t nlen,
    const char *val, size_t vlen, uint8_t known)
{
	size_t need = add3(nlen, vlen, 2);
	if (need == SIZE_MAX) {
		return NGHTTPW_ENOMEM;
	}
	char *buf = f->name;
	char *old = NULL;
	if (f->cap < need || inside(name, buf, f->cap) ||
	    inside(val, buf, f->cap)) {
		size_t cap;
		if ((buf = buf_get(m, need, &cap)) == NULL) {
			return NGHTTPW_ENOMEM;
		}
		old    = f->name; /* given back only once the sources are copied */
		f->cap = cap;
	}
	memcpy(buf, name, nlen);
	buf[nlen] = '\0';
	memcpy(buf + nlen + 1, val, vlen);
	buf[nlen + 1 + vlen] = '\0';
	if (old != NULL) {
		buf_put(m, old);
	}
	f->name      = buf;
	f->name_len  = nlen;
	f->value     = buf + nlen + 1;
	f->value_len = vlen;
	f->known     = known;
	return 0;
}

/* Replaces the value of a field, keeping its name.  val may point into
 * the field's own buffer. */
static int
field_set_value(nhw_http_msg *m, nhw_http_field *f, const char *val, size_t vlen)
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
	size_t cap;
	char  *buf;
	if ((buf = buf_get(m, need, &cap)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	memcpy(buf, f->name, f->name_len + 1);
	memcpy(buf + f->name_len + 1, val, vlen);
	buf[f->name_len + 1 + vlen] = '\0';
	buf_put(m, f->name);
	f->name      = buf;
	f->value     = buf + f->name_len + 1;
	f->value_len = vlen;
	f->cap       = cap;
	return 0;
}

/* Appends ", val" to the value of a field. */
static int
field_append(nhw_http_msg *m, nhw_http_field *f, const char *val, size_t vlen)
{
	if (vlen == 0) {
		return 0; /* an empty list element adds nothing */
	}
	if (f->value_len == 0) {
		return field_set_value(m, f, val, vlen);
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
	size_t cap;
	char  *buf;
	if ((buf = buf_get(m, need, &cap)) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	size_t off = f->name_len + 1;
	memcpy(buf, f->name, off + f->value_len);
	memcpy(buf + off + f->value_len, ", ", 2);
	memcpy(buf + off + f->value_len + 2, val, vlen);
	buf[off + f->value_len + 2 + vlen] = '\0';
	buf_put(m, f->name);
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
	if (m->nfields == m->fcap) {
		size_t          ncap = m->fcap * 2;
		nhw_http_field *nf;
		if (ncap > SIZE_MAX / sizeof(nhw_http_field)) {
			return NGHTTPW_ENOMEM;
		}
		if (m->fields == m->slots) {
			/* Moving out of the message: the buffers go with the
			 * slots (pool buffers do not move with them). */
			if ((nf = malloc(ncap * sizeof(*nf))) == NULL) {
				return NGHTTPW_ENOMEM;
			}
			memcpy(nf, m->slots, sizeof(m->slots));
		} else if ((nf = realloc(m->fields, ncap * sizeof(*nf))) == NULL) {
			return NGHTTPW_ENOMEM;
		}
		m->fields = nf;
		m->fcap   = ncap;
	}
	if (m->nfields == m->nslots) {
		memset(&m->fields[m->nslots++], 0, sizeof(m->fields[0]));
	}
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

/* Index of the well-known field h, or nfields.  There is at most one:
 * only Set-Cookie, which is not among them, is kept on separate lines. */
static size_t
fields_find_known(const nhw_http_msg *m, uint8_t h)
{
	if ((m->known & (1u << h)) == 0) {
		return m->nfields;
	}
	size_t i = 0;
	while (m->fields[i].known != h) {
		i++;
	}
	return i;
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
	if (tmp.known != NHW_HDR_OTHER) {
		m->known &= ~(1u << tmp.known);
	}
}

static int
fields_append_new(nhw_http_msg *m, const char *name, size_t nlen,
    const char *val, size_t vlen, uint8_t known)
{
	int rv;
	if ((rv = fields_reserve(m)) != 0 ||
	    (rv = field_init(m, &m->fields[m->nfields], name, nlen, val, vlen,
	         known)) != 0) {
		return rv;
	}
	m->nfields++;
	if (known != NHW_HDR_OTHER) {
		m->known |= 1u << known;
	}
	return 0;
}

/* Fields whose lines must not be folded into one: Set-Cookie values hold
 * commas of their own (RFC 9110 section 5.3). */
static bool
keep_separate(const char *name, size_t nlen)
{
	return nhw_http_name_eq(name, nlen, "Set-Cookie", 10);
}

/* The lent field of that name: its index, or NHW_HTTP_PREFAB_MAX. */
static size_t
prefab_find(const nhw_http_msg *msg, const char *name, size_t nlen)
{
	const nhw_http_prefab *p = msg->prefab;

	for (size_t i = 0; p != NULL && i < p->n; i++) {
		if (nhw_http_name_eq(p->names[i], strlen(p->names[i]), name, nlen)) {
			return i;
		}
	}
	return NHW_HTTP_PREFAB_MAX;
}

bool
nhw_http_msg_prefab_field(const nhw_http_msg *msg, size_t i, const char **namep,
    const char **valuep)
{
	if (msg->prefab == NULL || i >= msg->prefab->n) {
		return false;
	}
	*namep  = msg->prefab->names[i];
	*valuep = msg->prefab->values[i];
	return true;
}

/* Before one of the lent fields changes: all of them become ordinary
 * fields, so that the head has each field once. */
static int
prefab_materialize_named(nhw_http_msg *msg, const char *name, size_t nlen)
{
	const nhw_http_prefab *p = msg->prefab;
	int                    rv;

	if (prefab_find(msg, name, nlen) == NHW_HTTP_PREFAB_MAX) {
		return 0;
	}
	msg->prefab = NULL;
	for (size_t i = 0; i < p->n; i++) {
		const char *n = p->names[i];
		if ((rv = fields_append_new(msg, n, strlen(n), p->values[i],
		         strlen(p->values[i]), (uint8_t) NHW_HDR_OTHER)) != 0) {
			return rv;
		}
	}
	return 0;
}

/* Most messages lend no fields: that case costs no call. */
static int
prefab_materialize(nhw_http_msg *msg, const char *name, size_t nlen)
{
	return msg->prefab == NULL ? 0 : prefab_materialize_named(msg, name, nlen);
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
	if (i < msg->nfields) {
		return msg->fields[i].value;
	}
	i = prefab_find(msg, name, nlen);
	return i < NHW_HTTP_PREFAB_MAX ? msg->prefab->values[i] : NULL;
}

const char *
nhw_http_msg_get_header(const nhw_http_msg *msg, const char *name)
{
	if (name == NULL) {
		return NULL;
	}
	return nhw_http_msg_get_header_n(msg, name, strlen(name));
}

const char *
nhw_http_msg_get_known(const nhw_http_msg *msg, nhw_http_hdr h)
{
	size_t i = fields_find_known(msg, (uint8_t) h);
	return i < msg->nfields ? msg->fields[i].value : NULL;
}

int
nhw_http_msg_set_known(
    nhw_http_msg *msg, nhw_http_hdr h, const char *val, size_t vlen)
{
	size_t i = fields_find_known(msg, (uint8_t) h);
	if (i < msg->nfields) {
		return field_set_value(msg, &msg->fields[i], val, vlen);
	}
	return fields_append_new(
	    msg, known_names[h].name, known_names[h].len, val, vlen, (uint8_t) h);
}

int
nhw_http_msg_add_header_n(nhw_http_msg *msg, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	int rv;

	if (msg == NULL || !nhw_http_is_token(name, nlen) ||
	    !nhw_http_is_value(val, vlen)) {
		return NGHTTPW_EINVAL;
	}
	if ((rv = prefab_materialize(msg, name, nlen)) != 0) {
		return rv;
	}
	if (!keep_separate(name, nlen)) {
		size_t i = fields_find(msg, name, nlen, 0);
		if (i < msg->nfields) {
			return field_append(msg, &msg->fields[i], val, vlen);
		}
	}
	return fields_append_new(msg, name, nlen, val, vlen, known_of(name, nlen));
}

int
nhw_http_msg_set_header_n(nhw_http_msg *msg, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
	if (msg == NULL || !nhw_http_is_token(name, nlen) ||
	    !nhw_http_is_value(val, vlen)) {
		return NGHTTPW_EINVAL;
	}
	int rv = prefab_materialize(msg, name, nlen);
	if (rv != 0) {
		return rv;
	}
	size_t i = fields_find(msg, name, nlen, 0);
	if (i == msg->nfields) {
		return fields_append_new(
		    msg, name, nlen, val, vlen, known_of(name, nlen));
	}
	if ((rv = field_set_value(msg, &msg->fields[i], val, vlen)) != 0) {
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
	int rv = prefab_materialize(msg, name, nlen);
	if (rv != 0) {
		return rv;
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
	void (*done)(void *) = m->body_done;

	if (m->data_own) {
		free(m->data);
	}
	m->data     = NULL;
	m->size     = 0;
	m->data_own = false;
	if (m->file_fd >= 0 && done == NULL) {
		close(m->file_fd);
	}
	m->file_fd    = -1;
	m->file_off   = 0;
	m->file_len   = 0;
	m->body_done  = NULL;
	m->prefab     = NULL; /* lent with the body */
	if (done != NULL) {
		done(m->body_done_arg);
	}
}

int
nhw_http_msg_set_file(nhw_http_msg *msg, int fd, uint64_t off, uint64_t len)
{
	char cl[NHW_HTTP_U64_LEN];
	int  rv;

	if (msg == NULL || fd < 0) {
		return NGHTTPW_EINVAL;
	}
	rv = nhw_http_msg_set_known(
	    msg, NHW_HDR_CONTENT_LENGTH, cl, nhw_http_u64_str(len, cl));
	if (rv != 0) {
		return rv;
	}
	msg_drop_data(msg);
	msg->file_fd  = fd;
	msg->file_off = off;
	msg->file_len = len;
	return 0;
}

int
nhw_http_msg_lend_file(nhw_http_msg *msg, int fd, uint64_t off, uint64_t len,
    void (*done)(void *), void *arg)
{
	int rv;

	if (done == NULL) {
		return NGHTTPW_EINVAL;
	}
	if ((rv = nhw_http_msg_set_file(msg, fd, off, len)) == 0) {
		msg->body_done     = done;
		msg->body_done_arg = arg;
	}
	return rv;
}

int
nhw_http_msg_lend_data(nhw_http_msg *msg, const void *body, size_t size,
    void (*done)(void *), void *arg)
{
	int rv;

	if (done == NULL) {
		return NGHTTPW_EINVAL;
	}
	if ((rv = nhw_http_msg_set_data(msg, body, size, false)) == 0) {
		msg->body_done     = done;
		msg->body_done_arg = arg;
	}
	return rv;
}

int
nhw_http_msg_lend_fields(nhw_http_msg *msg, const nhw_http_prefab *p)
{
	if (msg == NULL || p == NULL || msg->body_done == NULL) {
		return NGHTTPW_EINVAL;
	}
	msg->prefab = p;
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
	char  cl[NHW_HTTP_U64_LEN];
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
	rv = nhw_http_msg_set_known(
	    msg, NHW_HDR_CONTENT_LENGTH, cl, nhw_http_u64_str(size, cl));
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
	/* Neither the slots nor the pool need clearing (see nslots). */
	memset(msg, 0, offsetof(nhw_http_msg, slots));
	msg->fields  = msg->slots;
	msg->fcap    = NHW_HTTP_INLINE_FIELDS;
	msg->file_fd = -1;
	memcpy(msg->version, "HTTP/1.1", 9);
}

/* Frees the heap buffers of every slot and the slot array itself. */
static void
fields_free(nhw_http_msg *msg)
{
	for (size_t i = 0; i < msg->nslots; i++) {
		buf_put(msg, msg->fields[i].name);
	}
	if (msg->fields != msg->slots) {
		free(msg->fields);
	}
}

static void
trailers_free(nhw_http_msg *msg)
{
	if (msg->trailers != NULL) {
		nhw_http_msg_fini(msg->trailers);
		free(msg->trailers);
		msg->trailers = NULL;
	}
}

/* Fields a sender must not put in a trailer section (RFC 9110 6.5.1):
 * those that frame or route the message, modify the request, carry
 * authentication, control the response or describe its content, which a
 * recipient needs before the body. */
static const char *const trailer_forbidden[] = {
	"Age", "Authorization", "Cache-Control", "Connection",
	"Content-Encoding", "Content-Length", "Content-Range", "Content-Type",
	"Cookie", "Date", "Expect", "Expires", "Host", "If-Match",
	"If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
	"Keep-Alive", "Location", "Max-Forwards", "Pragma",
	"Proxy-Authenticate", "Proxy-Authorization", "Range", "Retry-After",
	"Set-Cookie", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Vary",
	"WWW-Authenticate",
};

static int
trailers_put(nhw_http_msg *msg, bool replace, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	int rv;

	if (msg->trailers == NULL) {
		/* Most messages have none: made on the first. */
		if ((msg->trailers = malloc(sizeof(*msg->trailers))) == NULL) {
			return NGHTTPW_ENOMEM;
		}
		nhw_http_msg_init(msg->trailers);
	}
	rv = replace ? nhw_http_msg_set_header_n(
	                   msg->trailers, name, name_len, value, value_len)
	             : nhw_http_msg_add_header_n(
	                   msg->trailers, name, name_len, value, value_len);
	if (rv != 0 && msg->trailers->nfields == 0) {
		trailers_free(msg);
	}
	return rv;
}

int
nhw_http_msg_add_trailer_n(nhw_http_msg *msg, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	return trailers_put(msg, false, name, name_len, value, value_len);
}

int
nhw_http_msg_put_trailer_n(nhw_http_msg *msg, bool replace, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	for (size_t i = 0;
	     i < sizeof(trailer_forbidden) / sizeof(trailer_forbidden[0]); i++) {
		if (nhw_http_name_eq(name, name_len, trailer_forbidden[i],
		        strlen(trailer_forbidden[i]))) {
			return NGHTTPW_EINVAL;
		}
	}
	return trailers_put(msg, replace, name, name_len, value, value_len);
}

const char *
nhw_http_msg_get_trailer(const nhw_http_msg *msg, const char *name)
{
	return msg == NULL || msg->trailers == NULL
	    ? NULL
	    : nhw_http_msg_get_header(msg->trailers, name);
}

void
nhw_http_msg_clear(nhw_http_msg *msg)
{
	trailers_free(msg);
	msg->nfields = 0;
	msg->known   = 0;
	if (msg->fcap > FIELD_KEEP_SLOTS) {
		fields_free(msg);
		msg->fields = msg->slots;
		msg->fcap   = NHW_HTTP_INLINE_FIELDS;
		msg->nslots = 0;
	} else {
		for (size_t i = 0; i < msg->nslots; i++) {
			nhw_http_field *f = &msg->fields[i];
			/* Pool buffers are all taken back below. */
			if (inside(f->name, msg->pool, sizeof(msg->pool)) ||
			    f->cap > FIELD_KEEP_CAP) {
				buf_put(msg, f->name);
				memset(f, 0, sizeof(*f));
			}
		}
	}
	msg->pool_len = 0;
	msg_drop_data(msg);
	memcpy(msg->version, "HTTP/1.1", 9);
}

void
nhw_http_msg_fini(nhw_http_msg *msg)
{
	trailers_free(msg);
	fields_free(msg);
	msg_drop_data(msg);
	free(msg->head);
}
