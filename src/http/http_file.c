/*
 * Handlers that serve a file, or a directory tree, from the file system.
 *
 * Both are ordinary handlers built with the public handler API: the
 * callback below gets its settings from the handler's data.  A path is
 * opened under the directory by http_file_path.c; what it resolved to is
 * kept by the open-file cache (http_file_cache.c), whose entries a
 * response borrows: a small file's bytes, or a larger one's descriptor.
 * Uncached, the response takes the open descriptor (see
 * nhw_http_res_set_file) and the connection sends it.
 *
 * Status codes chosen here:
 *   404  missing; a request path that is malformed in a way that can only
 *        be an attack (a ".." segment, NUL, backslash, after decoding);
 *        a hidden name (a segment that starts with a dot, but
 *        "/.well-known/") unless nghttpw_http_handler_set_dotfiles;
 *        anything that resolves outside the directory; a directory
 *        without index.html or index.htm (unless listings are on: then
 *        200 with an HTML list of its entries, see
 *        nghttpw_http_handler_set_listing)
 *   403  exists but cannot be read, or is not a regular file
 *   400  a bad percent escape
 *   301  a directory asked for without its trailing slash
 *   304, 206, 416  conditional and range requests (RFC 9110)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http_date.h"
#include "http/http_file.h"
#include "http/http_msg.h"
#include "http/http_server.h"

typedef struct {
	char          *prefix; /* the handler's path without trailing '/' */
	char          *fspath; /* the file, or the directory, as given */
	http_file_root root;   /* the directory, held open */
	http_file_cache cache;
	bool           dir;
	bool           listing; /* directories without an index are listed */
	bool           dotfiles; /* names that start with a dot are served */
	bool           root_ready;
	bool           cache_ready;
} file_ctx;

/* What the handler decided; status 0 means "serve fd". */
typedef struct {
	uint16_t    status;
	int         fd;
	struct stat st;
	const char *name; /* for the media type */
	char       *location;
	nghttpw_http_res *res; /* the whole answer instead (a listing) */
	char       *file;   /* the file opened, relative to the root */
	char       *absent; /* index.html, when index.htm was opened */
} target;

/* ------------------------------------------------------- validators */

void
http_file_etag(const struct stat *st, char buf[64])
{
	snprintf(buf, 64, "\"%" PRIx64 "-%" PRIx64 "-%lx\"",
	    (uint64_t) st->st_size, (uint64_t) st->st_mtim.tv_sec,
	    (unsigned long) st->st_mtim.tv_nsec);
}

time_t
http_file_last_modified(const struct stat *st)
{
	time_t now = time(NULL);
	return st->st_mtim.tv_sec < now ? st->st_mtim.tv_sec : now;
}

/* If-None-Match: "*" or a list of entity tags, compared weakly (a W/
 * prefix is ignored on either side). */
static bool
etag_list_matches(const char *list, const char *etag)
{
	const char *s = list;
	size_t      elen = strlen(etag);

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == ',') {
			s++;
		}
		if (*s == '\0') {
			return false;
		}
		if (*s == '*') {
			return true;
		}
		if (strncmp(s, "W/", 2) == 0) {
			s += 2;
		}
		if (*s != '"') {
			return false; /* malformed: no match */
		}
		const char *end = strchr(s + 1, '"');
		if (end == NULL) {
			return false;
		}
		size_t n = (size_t) (end - s) + 1;
		if (n == elen && memcmp(s, etag, n) == 0) {
			return true;
		}
		s = end + 1;
	}
}

/* If-Range: an entity tag (compared strongly) or a date (equal to
 * Last-Modified).  True when the range may be applied. */
static bool
if_range_holds(const char *v, const char *etag, time_t lm)
{
	int64_t t;

	while (*v == ' ' || *v == '\t') {
		v++;
	}
	if (*v == '"') {
		size_t n = strlen(etag);
		const char *end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
			end--;
		}
		return (size_t) (end - v) == n && memcmp(v, etag, n) == 0;
	}
	if (strncmp(v, "W/", 2) == 0) {
		return false; /* weak tags never validate a range */
	}
	return http_date_parse(v, &t) && t == (int64_t) lm;
}

/* ------------------------------------------------------------ ranges */

enum { RANGE_NONE, RANGE_ONE, RANGE_UNSAT };

/* Digits into *v; *over set when they do not fit.  False when there are
 * none. */
static bool
take_u64(const char **sp, uint64_t *v, bool *over)
{
	const char *s = *sp;
	uint64_t    x = 0;

	*over = false;
	if (*s < '0' || *s > '9') {
		return false;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned dgt = (unsigned) (*s - '0');
		if (x > (UINT64_MAX - dgt) / 10) {
			*over = true;
		} else {
			x = x * 10 + dgt;
		}
	}
	*v  = x;
	*sp = s;
	return true;
}

/* Interprets a Range field for a representation of size bytes.
 * RANGE_ONE gives the part in *offp and *lenp.  RANGE_NONE means the
 * field is ignored and the whole file is sent: another unit, bad syntax,
 * more than one range, or a suffix range of an empty file. */
static int
parse_range(const char *v, uint64_t size, uint64_t *offp, uint64_t *lenp)
{
	const char *s = v, *spec = NULL;
	int         count = 0;
	uint64_t    first, last;
	bool        over1 = false, over2 = false;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	if (strncasecmp(s, "bytes=", 6) != 0) {
		return RANGE_NONE;
	}
	s += 6;
	/* 1#range-spec: count the non-empty elements. */
	for (const char *p = s; *p != '\0';) {
		while (*p == ' ' || *p == '\t' || *p == ',') {
			p++;
		}
		if (*p == '\0') {
			break;
		}
		if (count++ == 0) {
			spec = p;
		}
		while (*p != '\0' && *p != ',') {
			p++;
		}
	}
	if (count != 1) {
		return RANGE_NONE;
	}
	s = spec;
	if (*s == '-') { /* suffix-range: the last n bytes */
		s++;
		if (!take_u64(&s, &last, &over2)) {
			return RANGE_NONE;
		}
		first = 0;
	} else {
		if (!take_u64(&s, &first, &over1) || *s++ != '-') {
			return RANGE_NONE;
		}
		if (*s >= '0' && *s <= '9') {
			(void) take_u64(&s, &last, &over2);
			if (!over2 && !over1 && last < first) {
				return RANGE_NONE; /* invalid: ignored */
			}
		} else {
			last  = UINT64_MAX;
			over2 = false;
		}
	}
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	if (*s != '\0' && *s != ',') {
		return RANGE_NONE;
	}
	if (spec[0] == '-') {
		if (last == 0 && !over2) {
			return RANGE_UNSAT;
		}
		if (size == 0) {
			return RANGE_NONE;
		}
		if (over2 || last > size) {
			last = size;
		}
		*offp = size - last;
		*lenp = last;
		return RANGE_ONE;
	}
	if (over1 || first >= size) {
		return RANGE_UNSAT;
	}
	if (over2 || last >= size) {
		last = size - 1;
	}
	*offp = first;
	*lenp = last - first + 1;
	return RANGE_ONE;
}

/* ------------------------------------------------------- responses */

static int
error_res(uint16_t status, nghttpw_http_res **resp)
{
	return nghttpw_http_res_alloc_error(resp, status);
}

static bool
method_is(nghttpw_http_req *req, const char *m)
{
	const char *rm = nghttpw_http_req_get_method(req);
	return rm != NULL && strcmp(rm, m) == 0;
}

/* Gives back what a response did not take: the cache entry's reference,
 * or the open file. */
static void
drop_source(const http_file_rep *rep, http_file_entry *e)
{
	if (e != NULL) {
		http_file_entry_release(e);
	} else if (rep->fd >= 0) {
		close(rep->fd);
	}
}

/* The body: part of the file, or of a cached entry's bytes or open file,
 * which the response borrows (keeping the entry) until it is sent. */
static int
set_body(nghttpw_http_res *res, const http_file_rep *rep, http_file_entry *e,
    uint64_t off, uint64_t len)
{
	nhw_http_msg *msg = nhw_http_res_msg(res);

	if (e == NULL) {
		return nhw_http_res_set_file(res, rep->fd, off, len);
	}
	if (rep->bytes != NULL) {
		return nhw_http_msg_lend_data(msg, (char *) rep->bytes + off,
		    (size_t) len, http_file_entry_release, e);
	}
	return nhw_http_msg_lend_file(msg, rep->fd, off, len,
	    http_file_entry_release, e);
}

/* The response for a regular file: 200, 206, 304 or 416.  Takes the
 * source of the body: the reference to e when e is not NULL, else
 * rep->fd (closed, or given to the response). */
static int
file_res(nghttpw_http_req *req, const http_file_rep *rep, http_file_entry *e,
    nghttpw_http_res **resp)
{
	nghttpw_http_res *res = NULL;
	const char       *etag = rep->etag;
	char              crange[80];
	uint64_t          size = (uint64_t) rep->st.st_size;
	uint64_t          off = 0, len = size;
	uint16_t          status = NGHTTPW_HTTP_STATUS_OK;
	time_t            lm     = rep->lm;
	const char       *lm_text = rep->lm_text;
	char              lm_now[HTTP_DATE_SIZE];
	bool              cond   = method_is(req, "GET") || method_is(req, "HEAD");
	bool              prefab;
	const char       *v;
	int64_t           t;
	int               rv;

	/* A Last-Modified held back to "now" (a file modified this second,
	 * or in the future) moves on with the clock. */
	if (lm < rep->st.st_mtim.tv_sec) {
		lm = http_file_last_modified(&rep->st);
		http_date_format(lm, lm_now);
		lm_text = lm_now;
	}

	/* RFC 9110, 13.2.2: If-None-Match first; If-Modified-Since only
	 * without it. */
	if (cond && (v = nghttpw_http_req_get_header(req, "If-None-Match")) != NULL) {
		if (etag_list_matches(v, etag)) {
			status = NGHTTPW_HTTP_STATUS_NOT_MODIFIED;
		}
	} else if (cond &&
	    (v = nghttpw_http_req_get_header(req, "If-Modified-Since")) != NULL &&
	    http_date_parse(v, &t) && (int64_t) lm <= t) {
		status = NGHTTPW_HTTP_STATUS_NOT_MODIFIED;
	}

	if (status == NGHTTPW_HTTP_STATUS_OK && cond &&
	    (v = nghttpw_http_req_get_header(req, "Range")) != NULL) {
		const char *ir = nghttpw_http_req_get_header(req, "If-Range");
		if (ir == NULL || if_range_holds(ir, etag, lm)) {
			switch (parse_range(v, size, &off, &len)) {
			case RANGE_ONE:
				status = NGHTTPW_HTTP_STATUS_PARTIAL_CONTENT;
				snprintf(crange, sizeof(crange),
				    "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
				    off + len - 1, size);
				break;
			case RANGE_UNSAT:
				status = NGHTTPW_HTTP_STATUS_RANGE_NOT_SATISFIABLE;
				snprintf(crange, sizeof(crange),
				    "bytes */%" PRIu64, size);
				break;
			default:
				break;
			}
		}
	}

	if (status == NGHTTPW_HTTP_STATUS_RANGE_NOT_SATISFIABLE) {
		drop_source(rep, e);
		if ((rv = error_res(status, &res)) != 0) {
			return rv;
		}
		if ((rv = nghttpw_http_res_set_header(res, "Content-Range", crange)) != 0 ||
		    (rv = nghttpw_http_res_set_header(res, "Accept-Ranges", "bytes")) != 0) {
			nghttpw_http_res_free(res);
			return rv;
		}
		*resp = res;
		return 0;
	}

	/* A cached file's fields go as its entry formatted them, lent with
	 * its body (unless Last-Modified moves on with the clock). */
	prefab = e != NULL && rep->prefab.n > 0 && lm_text == rep->lm_text &&
	    status != NGHTTPW_HTTP_STATUS_NOT_MODIFIED && len > 0;
	if ((rv = nghttpw_http_res_alloc(&res)) != 0 ||
	    (rv = nghttpw_http_res_set_status(res, status)) != 0 ||
	    (!prefab &&
	        ((rv = nghttpw_http_res_set_header(res, "Last-Modified", lm_text)) != 0 ||
	            (rv = nghttpw_http_res_set_header(res, "ETag", etag)) != 0))) {
		goto fail;
	}
	if (status == NGHTTPW_HTTP_STATUS_NOT_MODIFIED) {
		drop_source(rep, e);
		*resp = res;
		return 0;
	}
	if (!prefab &&
	    ((rv = nghttpw_http_res_set_header(res, "Content-Type", rep->type)) != 0 ||
	        (rv = nghttpw_http_res_set_header(res, "Accept-Ranges", "bytes")) != 0)) {
		goto fail;
	}
	if (status == NGHTTPW_HTTP_STATUS_PARTIAL_CONTENT &&
	    (rv = nghttpw_http_res_set_header(res, "Content-Range", crange)) != 0) {
		goto fail;
	}
	if (len == 0) {
		rv = nghttpw_http_res_set_header(res, "Content-Length", "0");
	} else if ((rv = set_body(res, rep, e, off, len)) == 0) {
		if (prefab) {
			(void) nhw_http_msg_lend_fields(
			    nhw_http_res_msg(res), &rep->prefab);
		}
		*resp = res; /* the response has the source now */
		return 0;
	}
	if (rv != 0) {
		goto fail;
	}
	drop_source(rep, e);
	*resp = res;
	return 0;

fail:
	drop_source(rep, e);
	nghttpw_http_res_free(res);
	return rv;
}

/* The response for a file just opened, not cached (takes fd). */
static int
fd_res(nghttpw_http_req *req, int fd, const struct stat *st, const char *type,
    nghttpw_http_res **resp)
{
	http_file_rep rep = { .st = *st, .type = type, .fd = fd };

	rep.lm = http_file_last_modified(st);
	http_date_format(rep.lm, rep.lm_text);
	http_file_etag(st, rep.etag);
	return file_res(req, &rep, NULL, resp);
}

/* ------------------------------------------------------ single file */

static int
file_respond(file_ctx *ctx, nghttpw_http_req *req, nghttpw_http_res **resp)
{
	struct stat      st;
	int              fd;
	uint16_t         status;
	const char      *type;
	http_file_entry *e;
	nghttpw_time     opened;

	if ((e = http_file_cache_get(&ctx->cache, "", 0, AT_FDCWD)) != NULL) {
		return file_res(req, http_file_entry_rep(e), e, resp);
	}
	opened = nghttpw_clock();
	if ((status = http_file_open_path(ctx->fspath, false, &fd, &st)) != 0) {
		return error_res(status, resp);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return error_res(NGHTTPW_HTTP_STATUS_FORBIDDEN, resp);
	}
	type = http_mime_type(ctx->fspath);
	if ((e = http_file_cache_put(&ctx->cache, "", 0, AT_FDCWD, ctx->fspath,
	         NULL, fd, &st, type, opened)) != NULL) {
		return file_res(req, http_file_entry_rep(e), e, resp);
	}
	return fd_res(req, fd, &st, type, resp);
}

/* -------------------------------------------------------- directory */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* The path part of a request target: *pathp and *lenp (not terminated).
 * The absolute form ("http://host/p") gives its path.  False for the
 * asterisk form and anything else without a path. */
static bool
target_path(const char *uri, const char **pathp, size_t *lenp)
{
	const char *p = uri;

	if (p == NULL) {
		return false;
	}
	if (*p != '/') {
		const char *sep = strstr(p, "://");
		if (sep == NULL || sep != p + strcspn(p, ":/?#")) {
			return false;
		}
		p = sep + 3;
		p += strcspn(p, "/?#");
		if (*p != '/') {
			*pathp = "/";
			*lenp  = 1;
			return true;
		}
	}
	*pathp = p;
	*lenp  = strcspn(p, "?#");
	return true;
}

/* Decodes %XX escapes once.  Returns 0 with a new string in *outp and its
 * length (which counts any decoded NUL) in *lenp, or an HTTP status. */
static uint16_t
decode_path(const char *p, size_t n, char **outp, size_t *lenp)
{
	char  *out = malloc(n + 1);
	size_t o   = 0;
	int    hi, lo;

	if (out == NULL) {
		return NGHTTPW_HTTP_STATUS_INTERNAL_SERVER_ERROR;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '%') {
			out[o++] = p[i];
			continue;
		}
		if (i + 2 >= n || (hi = hexval(p[i + 1])) < 0 ||
		    (lo = hexval(p[i + 2])) < 0) {
			free(out);
			return NGHTTPW_HTTP_STATUS_BAD_REQUEST;
		}
		out[o++] = (char) (hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	*outp  = out;
	*lenp  = o;
	return 0;
}

/* After decoding: no NUL, no backslash, no ".." segment. */
static bool
path_is_safe(const char *p, size_t n)
{
	if (memchr(p, '\0', n) != NULL || memchr(p, '\\', n) != NULL) {
		return false;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && p[j] != '/') {
			j++;
		}
		if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			return false;
		}
		i = j + 1;
	}
	return true;
}

/* Whether rel, the part of the decoded path dec that names a file, has a
 * segment that starts with a dot: a hidden name such as ".git" or ".env".
 * "." alone names nothing, and "/.well-known/" (RFC 8615) at the top of
 * the site is public by design. */
static bool
names_hidden(const char *dec, const char *rel)
{
	for (const char *p = rel; *p != '\0';) {
		p += strspn(p, "/");
		size_t n = strcspn(p, "/");
		if (n > 1 && p[0] == '.' &&
		    !(p == dec + 1 && n == 11 && memcmp(p, ".well-known", 11) == 0)) {
			return true;
		}
		p += n;
	}
	return false;
}

static char *
join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char  *s  = malloc(la + lb + lc + 1);
	if (s != NULL) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb);
		memcpy(s + la + lb, c, lc + 1);
	}
	return s;
}

/* "dir/", with the query of the request if it had one, for the redirect
 * of a directory asked for without its slash.  The path goes back as it
 * came (still encoded).  NULL when out of memory. */
static char *
slash_location(const char *raw, size_t rawlen)
{
	const char *q    = raw + rawlen;
	size_t      qlen = (*q == '?') ? strcspn(q, "#") : 0;
	char       *loc  = malloc(rawlen + 1 + qlen + 1);

	if (loc != NULL) {
		memcpy(loc, raw, rawlen);
		loc[rawlen] = '/';
		memcpy(loc + rawlen + 1, q, qlen);
		loc[rawlen + 1 + qlen] = '\0';
	}
	return loc;
}

static const char *const index_names[] = { "index.html", "index.htm" };

/* Whether the directory open as dfd has an index file of any kind (even
 * one that cannot be served): such a directory is never listed. */
static bool
has_index(int dfd)
{
	struct stat st;

	for (size_t i = 0; i < sizeof(index_names) / sizeof(index_names[0]); i++) {
		if (fstatat(dfd, index_names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 ||
		    errno != ENOENT) {
			return true;
		}
	}
	return false;
}

/* Whether rel ("" or "/...") names the handler's own directory: nothing
 * but empty and "." segments. */
static bool
is_top(const char *rel)
{
	for (const char *p = rel; *p != '\0';) {
		size_t n = strcspn(p, "/");
		if (n > 1 || (n == 1 && p[0] != '.')) {
			return false;
		}
		p += n;
		if (*p == '/') {
			p++;
		}
	}
	return true;
}

/* --------------------------------------------------------- lookups */

/* Finds what the request names under the directory: t->status 0 with an
 * open regular file and t->name its media type, or the status to answer
 * with (and t->location for a redirect).  Returns NGHTTPW_ENOMEM or 0. */
static int
dir_lookup(file_ctx *ctx, const http_file_at *at, nghttpw_http_req *req,
    target *t)
{
	const char *raw, *rel, *name = NULL;
	size_t      rawlen, dlen, plen = strlen(ctx->prefix);
	char       *dec = NULL, *ip;
	bool        slash;
	int         dfd = -1;
	int         rv  = 0;

	t->fd = -1;
	if (!target_path(nghttpw_http_req_get_uri(req), &raw, &rawlen)) {
		t->status = NGHTTPW_HTTP_STATUS_NOT_FOUND;
		return 0;
	}
	if ((t->status = decode_path(raw, rawlen, &dec, &dlen)) != 0) {
		return 0;
	}
	if (!path_is_safe(dec, dlen) || strncmp(dec, ctx->prefix, plen) != 0 ||
	    (dec[plen] != '\0' && dec[plen] != '/')) {
		t->status = NGHTTPW_HTTP_STATUS_NOT_FOUND;
		goto done;
	}
	rel   = dec + plen; /* "" or "/..." */
	if (!ctx->dotfiles && names_hidden(dec, rel)) {
		t->status = NGHTTPW_HTTP_STATUS_NOT_FOUND;
		goto done;
	}
	slash = dlen > 0 && dec[dlen - 1] == '/';
	name  = dec;        /* the name the client asked for, for its type */

	if ((t->status = http_file_root_open(at, rel, &t->fd, &t->st)) != 0) {
		goto done;
	}
	if (S_ISREG(t->st.st_mode)) {
		if (slash) { /* "file.txt/" names no directory */
			t->status = NGHTTPW_HTTP_STATUS_NOT_FOUND;
		} else if ((t->file = strdup(rel)) == NULL) {
			rv = NGHTTPW_ENOMEM;
		}
		goto done;
	}

	/* A directory: kept open for a listing. */
	dfd   = t->fd;
	t->fd = -1;
	if (!slash) {
		/* To "dir/", so that the client's relative links work. */
		if ((t->location = slash_location(raw, rawlen)) == NULL) {
			rv = NGHTTPW_ENOMEM;
		}
		t->status = NGHTTPW_HTTP_STATUS_MOVED_PERMANENTLY;
		goto done;
	}
	t->status = NGHTTPW_HTTP_STATUS_NOT_FOUND;
	for (size_t i = 0; i < sizeof(index_names) / sizeof(index_names[0]); i++) {
		/* rel ends with '/' here. */
		if ((ip = join(rel, index_names[i], "")) == NULL) {
			rv = NGHTTPW_ENOMEM;
			goto done;
		}
		t->status = http_file_root_open(at, ip, &t->fd, &t->st);
		if (t->status == 0 && !S_ISREG(t->st.st_mode)) {
			t->status = NGHTTPW_HTTP_STATUS_FORBIDDEN;
		}
		if (t->status != NGHTTPW_HTTP_STATUS_NOT_FOUND) {
			name    = index_names[i];
			t->file = ip;
			break;
		}
		free(t->absent);
		t->absent = ip; /* missing: a cache entry checks it stays so */
	}
	if (t->status == NGHTTPW_HTTP_STATUS_NOT_FOUND && ctx->listing &&
	    !has_index(dfd)) {
		/* The directory that was checked, not one put there since. */
		t->status = 0;
		rv = http_file_listing_res(
		    dfd, at, rel, dec, is_top(rel), ctx->dotfiles, &t->res);
		dfd       = -1;
	}

done:
	if ((t->status != 0 || rv != 0) && t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (dfd >= 0) {
		close(dfd);
	}
	if (t->status == 0 && rv == 0) {
		t->name = http_mime_type(name); /* chosen now: dec goes away */
	}
	free(dec);
	return rv;
}

/* The relative name of rel ("/..." or "") for fstatat on the root. */
static const char *
below(const char *rel)
{
	while (*rel == '/') {
		rel++;
	}
	return *rel == '\0' ? "." : rel;
}

static int
dir_respond(file_ctx *ctx, nghttpw_http_req *req, nghttpw_http_res **resp)
{
	target           t = { 0 };
	const char      *key = NULL;
	size_t           klen = 0;
	http_file_entry *e;
	int              rv = 0;
	nghttpw_time     opened;
	http_file_at     at = { &ctx->root, -1 };

	/* The directory, once for the whole request (checked to be the one
	 * at its path, when due): a missing one is the answer. */
	if ((at.fd = http_file_root_fd(&ctx->root, &t.status)) < 0) {
		return error_res(t.status, resp);
	}
	/* The cache is looked up by the path as the request gives it
	 * (before decoding): only what resolved to a file is put there. */
	if (http_file_cache_on(&ctx->cache) &&
	    target_path(nghttpw_http_req_get_uri(req), &key, &klen) &&
	    (e = http_file_cache_get(&ctx->cache, key, klen, at.fd)) != NULL) {
		return file_res(req, http_file_entry_rep(e), e, resp);
	}
	opened = nghttpw_clock();
	if ((rv = dir_lookup(ctx, &at, req, &t)) != 0) {
		goto done;
	}
	if (t.res != NULL) {
		*resp = t.res;
		goto done;
	}
	if (t.status == 0) {
		if (key != NULL &&
		    (e = http_file_cache_put(&ctx->cache, key, klen, at.fd,
		         below(t.file), t.absent != NULL ? below(t.absent) : NULL,
		         t.fd, &t.st, t.name, opened)) != NULL) {
			rv = file_res(req, http_file_entry_rep(e), e, resp);
		} else {
			rv = fd_res(req, t.fd, &t.st, t.name, resp);
		}
		goto done;
	}
	rv = error_res(t.status, resp);
	if (rv == 0 && t.location != NULL &&
	    (rv = nghttpw_http_res_set_header(*resp, "Location", t.location)) != 0) {
		nghttpw_http_res_free(*resp);
		*resp = NULL;
	}
done:
	free(t.location);
	free(t.file);
	free(t.absent);
	return rv;
}

/* ---------------------------------------------------------- handlers */

void
http_file_serve(nghttpw_aio *aio)
{
	nghttpw_http_req     *req = nghttpw_aio_get_input(aio, 0);
	nghttpw_http_handler *h   = nghttpw_aio_get_input(aio, 1);
	file_ctx             *ctx = h != NULL ? nghttpw_http_handler_get_data(h) : NULL;
	nghttpw_http_res     *res = NULL;
	int                   rv;

	if (req == NULL || ctx == NULL) {
		nghttpw_aio_finish(aio, NGHTTPW_EINVAL);
		return;
	}
	rv = ctx->dir ? dir_respond(ctx, req, &res) : file_respond(ctx, req, &res);
	if (rv != 0) {
		nghttpw_aio_finish(aio, rv);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

static void
ctx_free(void *arg)
{
	file_ctx *ctx = arg;
	if (ctx != NULL) {
		if (ctx->cache_ready) {
			http_file_cache_fini(&ctx->cache);
		}
		if (ctx->root_ready) {
			http_file_root_fini(&ctx->root);
		}
		free(ctx->prefix);
		free(ctx->fspath);
		free(ctx);
	}
}

static int
alloc_fs_handler(nghttpw_http_handler **hp, const char *path,
    const char *fspath, bool dir)
{
	nghttpw_http_handler *h;
	file_ctx             *ctx;
	size_t                n;
	int                   rv;

	if (path == NULL || path[0] == '\0') {
		path = "/"; /* as nng: no path is the root */
	}
	if (hp == NULL || fspath == NULL || fspath[0] == '\0') {
		return NGHTTPW_EINVAL;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		return NGHTTPW_ENOMEM;
	}
	n = strlen(path);
	while (n > 0 && path[n - 1] == '/') {
		n--;
	}
	ctx->dir = dir;
	if ((ctx->prefix = strndup(path, n)) == NULL ||
	    (ctx->fspath = strdup(fspath)) == NULL) {
		ctx_free(ctx);
		return NGHTTPW_ENOMEM;
	}
	if ((rv = http_file_root_init(&ctx->root, ctx->fspath)) != 0) {
		ctx_free(ctx);
		return rv;
	}
	ctx->root_ready = true;
	if ((rv = http_file_cache_init(&ctx->cache)) != 0) {
		ctx_free(ctx);
		return rv;
	}
	ctx->cache_ready = true;
	if ((rv = nghttpw_http_handler_alloc(&h, path, http_file_serve)) != 0) {
		ctx_free(ctx);
		return rv;
	}
	/* A directory owns its tree, as in nng: nothing else may be
	 * registered inside it (for the same host and method). */
	if ((dir && (rv = nghttpw_http_handler_set_tree_exclusive(h)) != 0) ||
	    (rv = nghttpw_http_handler_set_data(h, ctx, ctx_free)) != 0) {
		nghttpw_http_handler_free(h);
		ctx_free(ctx);
		return rv;
	}
	*hp = h;
	return 0;
}

int
nghttpw_http_handler_alloc_file(
    nghttpw_http_handler **hp, const char *path, const char *filename)
{
	return alloc_fs_handler(hp, path, filename, false);
}

int
nghttpw_http_handler_alloc_directory(
    nghttpw_http_handler **hp, const char *path, const char *dirname)
{
	return alloc_fs_handler(hp, path, dirname, true);
}

typedef enum {
	DIR_LISTING,
	DIR_DOTFILES,
	DIR_OUTSIDE_LINKS,
} dir_setting;

/* Sets one of a directory handler's switches, while no server holds it:
 * requests read them without a lock. */
static int
set_dir_switch(nghttpw_http_handler *h, dir_setting which, bool on)
{
	file_ctx *ctx;
	int       rv = 0;

	if (h == NULL) {
		return NGHTTPW_EINVAL;
	}
	/* Under the lock that guards the handler's settings; the context is
	 * ours only while the destructor is. */
	pthread_mutex_lock(&http_registry_mtx);
	ctx = h->data;
	if (h->dtor != ctx_free || ctx == NULL || !ctx->dir) {
		rv = NGHTTPW_EINVAL;
	} else if (http_handler_busy_locked(h)) {
		rv = NGHTTPW_EBUSY;
	} else {
		switch (which) {
		case DIR_LISTING:
			ctx->listing = on;
			break;
		case DIR_DOTFILES:
			ctx->dotfiles = on;
			break;
		case DIR_OUTSIDE_LINKS:
			ctx->root.outside_links = on;
			break;
		}
		/* What the cache holds was found under the old rules. */
		http_file_cache_clear(&ctx->cache);
	}
	pthread_mutex_unlock(&http_registry_mtx);
	return rv;
}

int
nghttpw_http_handler_set_listing(nghttpw_http_handler *h, bool enable)
{
	return set_dir_switch(h, DIR_LISTING, enable);
}

int
nghttpw_http_handler_set_dotfiles(nghttpw_http_handler *h, bool serve)
{
	return set_dir_switch(h, DIR_DOTFILES, serve);
}

int
nghttpw_http_handler_set_outside_links(nghttpw_http_handler *h, bool follow)
{
	return set_dir_switch(h, DIR_OUTSIDE_LINKS, follow);
}

/* The handler's context, when h is a file or directory handler (under
 * http_registry_mtx). */
static file_ctx *
fs_ctx_locked(nghttpw_http_handler *h)
{
	file_ctx *ctx = h->data;
	return h->dtor == ctx_free ? ctx : NULL;
}

int
nghttpw_http_handler_set_file_cache(nghttpw_http_handler *h,
    nghttpw_duration revalidate, size_t max_entries, size_t max_bytes,
    size_t small_max)
{
	file_ctx *ctx;
	int       rv = 0;

	if (h == NULL || revalidate < 0) {
		return NGHTTPW_EINVAL;
	}
	pthread_mutex_lock(&http_registry_mtx);
	if ((ctx = fs_ctx_locked(h)) == NULL) {
		rv = NGHTTPW_EINVAL;
	} else if (http_handler_busy_locked(h)) {
		rv = NGHTTPW_EBUSY;
	} else {
		http_file_cache_configure(
		    &ctx->cache, revalidate, max_entries, max_bytes, small_max);
		/* The directory is looked at as often as the files. */
		ctx->root.recheck = revalidate;
	}
	pthread_mutex_unlock(&http_registry_mtx);
	return rv;
}

bool
http_file_handler_cache_usage(
    nghttpw_http_handler *h, size_t *entries, size_t *bytes)
{
	file_ctx *ctx;

	pthread_mutex_lock(&http_registry_mtx);
	ctx = fs_ctx_locked(h);
	pthread_mutex_unlock(&http_registry_mtx);
	if (ctx == NULL) {
		return false;
	}
	http_file_cache_usage(&ctx->cache, entries, bytes);
	return true;
}

bool
http_file_handler_cache_inactive(nghttpw_http_handler *h, nghttpw_duration inactive)
{
	file_ctx *ctx;

	pthread_mutex_lock(&http_registry_mtx);
	ctx = fs_ctx_locked(h);
	pthread_mutex_unlock(&http_registry_mtx);
	if (ctx == NULL) {
		return false;
	}
	http_file_cache_set_inactive(&ctx->cache, inactive);
	return true;
}
