/*
 * The HTML listing of a directory that has no index file, for the
 * directory handler (see nghttpw_http_handler_set_listing): its entries,
 * directories first, escaped for HTML and encoded for links.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_file.h"
#include "http/http_msg.h"

/* A listing shows at most this many entries; the others are counted. */
#define LISTING_MAX 10000

typedef struct {
	char *name;
	bool  dir;
} dir_entry;

/* The page is written twice: with buf NULL to measure it, then into a
 * buffer of that size. */
typedef struct {
	char  *buf;
	size_t len;
} sink;

static void
put_n(sink *s, const char *p, size_t n)
{
	if (s->buf != NULL) {
		memcpy(s->buf + s->len, p, n);
	}
	s->len += n;
}

static void
put_s(sink *s, const char *p)
{
	put_n(s, p, strlen(p));
}

/* Text, escaped for an element or a quoted attribute. */
static void
put_html(sink *s, const char *p)
{
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '&':
			put_s(s, "&amp;");
			break;
		case '<':
			put_s(s, "&lt;");
			break;
		case '>':
			put_s(s, "&gt;");
			break;
		case '"':
			put_s(s, "&quot;");
			break;
		case '\'':
			put_s(s, "&#39;");
			break;
		default:
			put_n(s, p, 1);
			break;
		}
	}
}

/* A name as a relative reference: everything but the unreserved
 * characters of RFC 3986 and "/" percent-encoded, so that it needs no
 * HTML escaping and cannot be taken for a scheme ("javascript:"). */
static void
put_href(sink *s, const char *p)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char) *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || c == '/') {
			put_n(s, p, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			put_n(s, e, 3);
		}
	}
}

static void
write_listing(sink *s, const char *shown, bool top, const dir_entry *e,
    size_t n, size_t more)
{
	char note[80];

	put_s(s, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
	         "<title>Index of ");
	put_html(s, shown);
	put_s(s, "</title>\n</head>\n<body>\n<h1>Index of ");
	put_html(s, shown);
	put_s(s, "</h1>\n<hr>\n<ul>\n");
	if (!top) {
		put_s(s, "<li><a href=\"../\">../</a></li>\n");
	}
	for (size_t i = 0; i < n; i++) {
		put_s(s, "<li><a href=\"");
		put_href(s, e[i].name);
		put_s(s, e[i].dir ? "/\">" : "\">");
		put_html(s, e[i].name);
		put_s(s, e[i].dir ? "/</a></li>\n" : "</a></li>\n");
	}
	put_s(s, "</ul>\n");
	if (more > 0) {
		snprintf(note, sizeof(note), "<p>... %zu more entries not shown</p>\n",
		    more);
		put_s(s, note);
	}
	put_s(s, "<hr>\n</body>\n</html>\n");
}

/* Directories first, then by name (bytewise). */
static int
entry_cmp(const void *a, const void *b)
{
	const dir_entry *x = a, *y = b;

	if (x->dir != y->dir) {
		return x->dir ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}

/* Whether entry name of the directory dir ("/.../", relative to the
 * root, open as dfd) is shown as a directory.  A symbolic link is one
 * only when it resolves to a directory inside the root, as a request for
 * it would: where links lead outside is not told. */
static bool
entry_is_dir(int dfd, const http_file_at *root, const char *dir, const char *name,
    unsigned char type)
{
	struct stat st;
	char       *p;
	bool        is_dir;

	if (type == DT_DIR || type == DT_REG) {
		return type == DT_DIR;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		return false;
	}
	if (!S_ISLNK(st.st_mode)) {
		return S_ISDIR(st.st_mode);
	}
	if ((p = malloc(strlen(dir) + strlen(name) + 1)) == NULL) {
		return false;
	}
	strcpy(stpcpy(p, dir), name);
	is_dir = http_file_root_is_dir(root, p);
	free(p);
	return is_dir;
}

static void
free_entries(dir_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
	}
	free(e);
}

/* Reads the entries of the directory open as dfd (which it takes), at
 * most LISTING_MAX, sorted; *morep counts the rest.  hide leaves out the
 * names that start with a dot, but ".well-known" when site_top.  Returns 0 and
 * *statusp 0 with the entries, 0 and an HTTP status in *statusp when the
 * directory cannot be read, or NGHTTPW_ENOMEM. */
static int
read_entries(int dfd, const http_file_at *root, const char *dir, bool hide,
    bool site_top, dir_entry **ep, size_t *np, size_t *morep, uint16_t *statusp)
{
	DIR           *d = fdopendir(dfd);
	dir_entry     *e = NULL, *ne;
	size_t         n = 0, cap = 0, more = 0;
	struct dirent *de;
	int            err;

	if (d == NULL) {
		err = errno;
		close(dfd);
		*statusp = http_file_errno_status(err);
		return 0;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (hide && de->d_name[0] == '.' &&
		        !(site_top && strcmp(de->d_name, ".well-known") == 0))) {
			continue;
		}
		if (n == LISTING_MAX) {
			more++;
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if (cap > LISTING_MAX) {
				cap = LISTING_MAX;
			}
			if ((ne = realloc(e, cap * sizeof(*e))) == NULL) {
				goto nomem;
			}
			e = ne;
		}
		if ((e[n].name = strdup(de->d_name)) == NULL) {
			goto nomem;
		}
		e[n].dir = entry_is_dir(dirfd(d), root, dir, de->d_name, de->d_type);
		n++;
	}
	if ((err = errno) != 0) {
		closedir(d);
		free_entries(e, n);
		*statusp = http_file_errno_status(err);
		return 0;
	}
	closedir(d);
	if (n > 1) {
		qsort(e, n, sizeof(*e), entry_cmp);
	}
	*ep      = e;
	*np      = n;
	*morep   = more;
	*statusp = 0;
	return 0;

nomem:
	closedir(d);
	free_entries(e, n);
	return NGHTTPW_ENOMEM;
}

int
http_file_listing_res(int dfd, const http_file_at *root, const char *dir, const char *shown,
    bool top, bool dotfiles, nghttpw_http_res **resp)
{
	nghttpw_http_res *res = NULL;
	dir_entry        *e   = NULL;
	size_t            n = 0, more = 0;
	uint16_t          status;
	sink              s = { NULL, 0 };
	void             *buf;
	char              cl[24];
	int               rv;

	if ((rv = read_entries(dfd, root, dir, !dotfiles, strcmp(shown, "/") == 0,
	         &e, &n, &more, &status)) != 0) {
		return rv;
	}
	if (status != 0) {
		return nghttpw_http_res_alloc_error(resp, status);
	}
	write_listing(&s, shown, top, e, n, more);
	snprintf(cl, sizeof(cl), "%zu", s.len);
	if ((rv = nghttpw_http_res_alloc(&res)) != 0 ||
	    (rv = nghttpw_http_res_set_header(
	         res, "Content-Type", "text/html; charset=utf-8")) != 0 ||
	    (rv = nhw_http_msg_alloc_data(nhw_http_res_msg(res), s.len, &buf)) != 0 ||
	    (rv = nghttpw_http_res_set_header(res, "Content-Length", cl)) != 0) {
		nghttpw_http_res_free(res);
		free_entries(e, n);
		return rv;
	}
	s.buf = buf;
	s.len = 0;
	write_listing(&s, shown, top, e, n, more);
	free_entries(e, n);
	*resp = res;
	return 0;
}

