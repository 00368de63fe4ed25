/* Helpers shared by the fuzz targets: see support.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/loop.h"
#include "http/http_conn.h"
#include "support.h"

bool fz_debug;
bool fz_strict;

void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n*** fuzz check failed at %s:%d: %s\n*** ", file, line,
	    cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/* ---- input bytes ---- */

uint8_t
fz_u8(fz_bytes *b)
{
	if (b->n == 0) {
		return (0);
	}
	b->n--;
	return (*b->p++);
}

uint16_t
fz_u16(fz_bytes *b)
{
	uint16_t hi = fz_u8(b);
	return ((uint16_t) ((hi << 8) | fz_u8(b)));
}

const uint8_t *
fz_slice(fz_bytes *b, size_t max, size_t *lenp)
{
	size_t         len = fz_u8(b);
	const uint8_t *p   = b->p;

	if (len > max) {
		len %= max + 1;
	}
	if (len > b->n) {
		len = b->n;
	}
	b->p += len;
	b->n -= len;
	*lenp = len;
	return (p);
}

/* ---- the scripted stream ---- */

size_t
fz_piece_size(uint8_t split, uint32_t *rng, size_t left)
{
	size_t n;

	switch (split) {
	case 0:
		n = left;
		break;
	case 1:
		n = 1;
		break;
	default:
		*rng ^= *rng << 13;
		*rng ^= *rng >> 17;
		*rng ^= *rng << 5;
		n = 1 + *rng % split;
		break;
	}
	return (n < left ? n : left);
}

static void
script_recv(void *arg, nghttpw_aio *aio)
{
	fz_script   *s = arg;
	nghttpw_iov *iov;
	unsigned     niov;
	size_t       piece, moved = 0;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&fz_mtx);
	s->recvs++;
	if (s->closed || s->pos == s->len) {
		/* Closed here, or the peer has said all it had to say. */
		pthread_mutex_unlock(&fz_mtx);
		FZ_LOG("  recv: closed\n");
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		return;
	}
	niov  = nghttpw_aio_get_iov(aio, &iov);
	piece = fz_piece_size(s->split, &s->rng, s->len - s->pos);
	for (unsigned i = 0; i < niov && moved < piece; i++) {
		size_t n = iov[i].iov_len < piece - moved ? iov[i].iov_len
		                                          : piece - moved;
		memcpy(iov[i].iov_buf, s->data + s->pos + moved, n);
		moved += n;
	}
	FZ_CHECK(moved > 0, "recv with an empty iov (%u entries)", niov);
	FZ_LOG("  recv %zu bytes at %zu\n", moved, s->pos);
	s->pos += moved;
	pthread_mutex_unlock(&fz_mtx);
	nghttpw_aio_set_count(aio, moved);
	nghttpw_aio_finish(aio, 0);
}

static void
script_send(void *arg, nghttpw_aio *aio)
{
	fz_script   *s = arg;
	nghttpw_iov *iov;
	unsigned     niov;
	size_t       total = 0, take, moved = 0;

	if (!nghttpw_aio_begin(aio)) {
		return;
	}
	pthread_mutex_lock(&fz_mtx);
	s->sends++;
	if (s->closed) {
		pthread_mutex_unlock(&fz_mtx);
		nghttpw_aio_finish(aio, NGHTTPW_ECLOSED);
		return;
	}
	niov = nghttpw_aio_get_iov(aio, &iov);
	for (unsigned i = 0; i < niov; i++) {
		total += iov[i].iov_len;
	}
	FZ_CHECK(total > 0, "send of nothing (%u entries)", niov);
	if (s->sent_total >= s->send_fail) {
		pthread_mutex_unlock(&fz_mtx);
		nghttpw_aio_finish(aio, NGHTTPW_ECONNRESET);
		return;
	}
	take = total;
	if (s->send_max > 0 && take > s->send_max) {
		take = s->send_max;
	}
	if (take > s->send_fail - s->sent_total) {
		take = s->send_fail - s->sent_total;
	}
	if (s->capture && s->sent_len + take > s->sent_cap) {
		size_t cap = (s->sent_len + take) * 2;
		unsigned char *grown = realloc(s->sent, cap);
		FZ_CHECK(grown != NULL, "out of memory");
		s->sent     = grown;
		s->sent_cap = cap;
	}
	for (unsigned i = 0; i < niov && moved < take; i++) {
		size_t n = iov[i].iov_len < take - moved ? iov[i].iov_len
		                                         : take - moved;
		if (s->capture) {
			memcpy(s->sent + s->sent_len, iov[i].iov_buf, n);
			s->sent_len += n;
		}
		moved += n;
	}
	s->sent_total += moved;
	pthread_mutex_unlock(&fz_mtx);
	FZ_LOG("  send %zu of %zu bytes\n", moved, total);
	nghttpw_aio_set_count(aio, moved);
	nghttpw_aio_finish(aio, 0);
}

static void
script_close(void *arg)
{
	fz_script *s = arg;

	pthread_mutex_lock(&fz_mtx);
	s->closed = true;
	pthread_mutex_unlock(&fz_mtx);
}

static void
script_free(void *arg)
{
	fz_script *s = arg;

	pthread_mutex_lock(&fz_mtx);
	FZ_CHECK(!s->freed, "stream freed twice");
	s->closed = true;
	s->freed  = true;
	pthread_cond_broadcast(&fz_cv);
	pthread_mutex_unlock(&fz_mtx);
}

static const nghttpw_stream_ops script_ops = {
	.s_free  = script_free,
	.s_close = script_close,
	.s_stop  = script_close,
	.s_send  = script_send,
	.s_recv  = script_recv,
};

void
fz_script_init(fz_script *s, const uint8_t *data, size_t len, uint8_t split,
    uint32_t seed)
{
	memset(s, 0, sizeof(*s));
	s->data      = data;
	s->len       = len;
	s->split     = split;
	s->rng       = seed * 2654435761u + 0x9e3779b9u;
	s->send_fail = SIZE_MAX;
	if (s->rng == 0) {
		s->rng = 1;
	}
}

void
fz_script_fini(fz_script *s)
{
	free(s->sent);
	s->sent = NULL;
}

/* ---- runtime and connections ---- */

void
fz_runtime_init(void)
{
	nghttpw_aio *aio;

	const char *dbg = getenv("FZ_DEBUG");

	const char *strict = getenv("FZ_STRICT");

	fz_debug  = dbg != NULL && *dbg != '\0' && *dbg != '0';
	fz_strict = strict != NULL && *strict != '\0' && *strict != '0';
	nghttpw_init_set_parameter(NGHTTPW_INIT_NUM_POLLER_THREADS, 1);
	/* The first aio starts the runtime: do it before the first input so
	 * that its threads' allocations do not count against an input. */
	FZ_CHECK(nghttpw_aio_alloc(&aio, NULL, NULL) == 0, "runtime start");
	nghttpw_aio_free(aio);
}

#define FZ_WAIT_SECONDS 60

pthread_mutex_t fz_mtx = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t  fz_cv  = PTHREAD_COND_INITIALIZER;

void
fz_wait_locked(bool (*done)(void *), void *arg, const char *what)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += FZ_WAIT_SECONDS;
	while (!done(arg)) {
		if (pthread_cond_timedwait(&fz_cv, &fz_mtx, &deadline) ==
		        ETIMEDOUT &&
		    !done(arg)) {
			fz_fail(__FILE__, __LINE__, what,
			    "the library did not get there within %d s (%s)",
			    FZ_WAIT_SECONDS, what);
		}
	}
}

static unsigned barrier_done;

static void
barrier_task(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&fz_mtx);
	barrier_done++;
	pthread_cond_broadcast(&fz_cv);
	pthread_mutex_unlock(&fz_mtx);
}

static bool
barrier_reached(void *arg)
{
	return (barrier_done >= *(unsigned *) arg);
}

/* The reaper runs its tasks one at a time, in order: once a task queued
 * now has run, so has everything queued before it. */
void
fz_reap_barrier(void)
{
	task     t;
	unsigned want;

	pthread_mutex_lock(&fz_mtx);
	want = barrier_done + 1;
	pthread_mutex_unlock(&fz_mtx);
	task_init(&t, barrier_task, NULL);
	runtime_reap(&t);
	pthread_mutex_lock(&fz_mtx);
	fz_wait_locked(barrier_reached, &want, "reap barrier");
	pthread_mutex_unlock(&fz_mtx);
}

nghttpw_stream *
fz_stream_open(fz_script *s)
{
	nghttpw_stream *st;

	FZ_CHECK(nghttpw_stream_alloc(&st, &script_ops, s) == 0, "stream alloc");
	return (st);
}

void
fz_conn_open(fz_script *s, nghttpw_http_conn **cp)
{
	FZ_CHECK(nghttpw_http_conn_alloc(cp, fz_stream_open(s)) == 0,
	    "conn alloc");
}

void
fz_conn_close(nghttpw_http_conn *c, fz_script *s)
{
	nghttpw_http_conn_close(c);
	fz_reap_barrier();
	pthread_mutex_lock(&fz_mtx);
	FZ_CHECK(s->freed, "the connection did not free its stream");
	pthread_mutex_unlock(&fz_mtx);
}

nghttpw_aio *
fz_aio(void)
{
	nghttpw_aio *aio;

	FZ_CHECK(nghttpw_aio_alloc(&aio, NULL, NULL) == 0, "aio alloc");
	nghttpw_aio_set_timeout(aio, NGHTTPW_DURATION_INFINITE);
	return (aio);
}

int
fz_wait(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

void
fz_drain_raw(nghttpw_http_conn *c, fz_script *s)
{
	size_t         want = http_conn_buffered(c) + (s->len - s->pos);
	const uint8_t *expect;
	unsigned char *out;
	size_t         got = 0;
	nghttpw_aio   *aio = fz_aio();
	bool           all = false;
	int            rv;

	FZ_CHECK(want <= s->len, "%zu bytes buffered, more than was sent", want);
	expect = s->data + (s->len - want);
	out    = malloc(want + 1);
	FZ_CHECK(out != NULL, "out of memory");
	for (;;) {
		nghttpw_iov iov[2];
		size_t      left = want - got;
		size_t      a, b;

		s->rng ^= s->rng << 13;
		s->rng ^= s->rng >> 17;
		s->rng ^= s->rng << 5;
		a = 1 + s->rng % 16;
		b = (s->rng >> 8) % 16;
		if (left == 0) {
			/* Only the close is left: a one-byte read sees it. */
			a = 1;
			b = 0;
		} else {
			a = a < left ? a : left;
			b = b < left - a ? b : left - a;
		}
		iov[0] = (nghttpw_iov) { out + got, a };
		iov[1] = (nghttpw_iov) { out + got + a, b };
		FZ_CHECK(nghttpw_aio_set_iov(aio, b > 0 ? 2 : 1, iov) == 0, "iov");
		if (all) {
			nghttpw_http_conn_read_all(c, aio);
		} else {
			nghttpw_http_conn_read(c, aio);
		}
		rv = fz_wait(aio);
		FZ_CHECK(nghttpw_aio_count(aio) <= a + b,
		    "raw read of %zu bytes into %zu", nghttpw_aio_count(aio), a + b);
		FZ_CHECK(left > 0 || nghttpw_aio_count(aio) == 0,
		    "raw read past the end of what was sent");
		got += nghttpw_aio_count(aio);
		FZ_LOG("raw %s: %d, %zu bytes (%zu of %zu)\n", all ? "read_all" : "read",
		    rv, nghttpw_aio_count(aio), got, want);
		if (rv == NGHTTPW_ECLOSED) {
			break;
		}
		FZ_CHECK(rv == 0, "raw read: %d (%s)", rv, nghttpw_strerror(rv));
		FZ_CHECK(!all || nghttpw_aio_count(aio) == a + b,
		    "read_all returned %zu of %zu bytes", nghttpw_aio_count(aio),
		    a + b);
		FZ_CHECK(nghttpw_aio_count(aio) > 0, "raw read returned nothing");
		all = !all;
	}
	FZ_CHECK(got == want, "raw reads got %zu bytes, %zu were left", got, want);
	FZ_CHECK(want == 0 || memcmp(out, expect, want) == 0,
	    "raw reads got other bytes than were sent");
	free(out);
	nghttpw_aio_free(aio);
}

/* ---- message invariants ---- */

static bool
is_blank(char c)
{
	return (c == ' ' || c == '\t');
}

bool
fz_blank(const char *s, bool list)
{
	for (; *s != '\0'; s++) {
		if (!is_blank(*s) && !(list && *s == ',')) {
			return (false);
		}
	}
	return (true);
}

bool
fz_name_eq(const char *a, const char *b)
{
	return (nhw_http_name_eq(a, strlen(a), b, strlen(b)));
}

bool
fz_list_has(const char *list, const char *token)
{
	const char *p = list;

	if (list == NULL) {
		return (false);
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t      n   = end != NULL ? (size_t) (end - p) : strlen(p);
		while (n > 0 && is_blank(*p)) {
			p++;
			n--;
		}
		while (n > 0 && is_blank(p[n - 1])) {
			n--;
		}
		if (nhw_http_name_eq(p, n, token, strlen(token))) {
			return (true);
		}
		if (end == NULL) {
			return (false);
		}
		p = end + 1;
	}
}

void
fz_check_fields(const nhw_http_msg *msg, bool parsed)
{
	size_t                n;
	const nhw_http_field *f = nhw_http_msg_fields(msg, &n);

	for (size_t i = 0; i < n; i++) {
		FZ_CHECK(f[i].name != NULL && f[i].value != NULL,
		    "field %zu has a NULL name or value", i);
		FZ_CHECK(strlen(f[i].name) == f[i].name_len,
		    "field %zu: name length %zu, string length %zu", i,
		    f[i].name_len, strlen(f[i].name));
		FZ_CHECK(strlen(f[i].value) == f[i].value_len,
		    "field %zu (%s): value length %zu, string length %zu", i,
		    f[i].name, f[i].value_len, strlen(f[i].value));
		FZ_CHECK(nhw_http_is_token(f[i].name, f[i].name_len),
		    "field %zu: name is not a token", i);
		FZ_CHECK(nhw_http_is_value(f[i].value, f[i].value_len),
		    "field %zu (%s): value holds a control character", i,
		    f[i].name);
		FZ_CHECK(nhw_http_msg_get_header(msg, f[i].name) != NULL,
		    "field %zu (%s) not found by name", i, f[i].name);
		if (!parsed) {
			continue;
		}
		FZ_CHECK(f[i].value_len == 0 ||
		        (!is_blank(f[i].value[0]) &&
		            !is_blank(f[i].value[f[i].value_len - 1])),
		    "field %zu (%s): parsed value has blanks around it: [%s]", i,
		    f[i].name, f[i].value);
		if (!fz_name_eq(f[i].name, "Set-Cookie")) {
			for (size_t j = 0; j < i; j++) {
				FZ_CHECK(!fz_name_eq(f[i].name, f[j].name),
				    "parsed fields %zu and %zu share the name %s", j,
				    i, f[i].name);
			}
		}
	}
}

void
fz_check_head(const char *head, size_t len, const nhw_http_msg *msg)
{
	size_t                n;
	const nhw_http_field *f = nhw_http_msg_fields(msg, &n);
	size_t                pos = 0, line = 0;

	FZ_CHECK(len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0,
	    "head of %zu bytes does not end with CRLF CRLF", len);
	FZ_CHECK(head[len] == '\0', "head is not NUL-terminated");
	for (size_t i = 0; i < len; i++) {
		if (head[i] == '\r') {
			FZ_CHECK(i + 1 < len && head[i + 1] == '\n',
			    "CR not followed by LF at offset %zu", i);
		} else if (head[i] == '\n') {
			FZ_CHECK(i > 0 && head[i - 1] == '\r',
			    "bare LF at offset %zu", i);
		} else {
			FZ_CHECK(head[i] != '\0', "NUL at offset %zu", i);
		}
	}
	/* Lines: start line, one per field, the empty line. */
	while (pos < len) {
		const char *eol = memchr(head + pos, '\r', len - pos);
		size_t      ll;

		FZ_CHECK(eol != NULL, "unterminated line %zu", line);
		ll = (size_t) (eol - (head + pos));
		if (line == 0) {
			FZ_CHECK(ll > 0, "empty start line");
		} else if (line <= n) {
			const nhw_http_field *fl = &f[line - 1];
			FZ_CHECK(ll == fl->name_len + 2 + fl->value_len &&
			        memcmp(head + pos, fl->name, fl->name_len) == 0 &&
			        memcmp(head + pos + fl->name_len, ": ", 2) == 0 &&
			        memcmp(head + pos + fl->name_len + 2, fl->value,
			            fl->value_len) == 0,
			    "head line %zu is not field %zu (%s)", line, line - 1,
			    fl->name);
		} else {
			FZ_CHECK(ll == 0 && pos + 2 == len,
			    "line %zu: expected the final empty line", line);
		}
		pos += ll + 2;
		line++;
	}
	FZ_CHECK(line == n + 2, "head has %zu lines for %zu fields", line, n);
}

bool
fz_all_digits(const char *s)
{
	if (*s == '\0') {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return (false);
		}
	}
	return (true);
}
