/*
 * Internal interface of the file and directory handlers (http_file.c)
 * and of the table of media types (http_mime.c).  Nothing here is public;
 * the tests call these directly.
 */
#ifndef NGHTTPW_HTTP_FILE_H
#define NGHTTPW_HTTP_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <pthread.h>
#include <sys/types.h>

#include "http/http_date.h"
#include "http/http_msg.h" /* nhw_http_prefab */
#include "nghttpw/http.h"

/* The callback that nghttpw_http_handler_alloc_file() and
 * nghttpw_http_handler_alloc_directory() give the handler.  aio input 0 is
 * the request, input 1 the handler (its data is the context that those
 * functions set); input 2, the connection, is not used.  On success the
 * aio finishes with 0 and a newly allocated response as output 0 (errors
 * such as 404 are responses too); it fails only with NGHTTPW_EINVAL (an
 * input missing) or NGHTTPW_ENOMEM. */
void http_file_serve(nghttpw_aio *aio);

/* The media type (Content-Type value) for a file name, chosen by its
 * extension without regard to case: text types carry "; charset=utf-8",
 * an unknown or missing extension gives "application/octet-stream".
 * Only the part after the last '/' is looked at.  Never NULL. */
const char *http_mime_type(const char *name);

/* ------------------------------------------- paths (http_file_path.c) */

/* The directory a directory handler serves: fspath as given, and a
 * descriptor of it (O_PATH) opened on first use and held.  At most every
 * recheck ms (every time for 0) fspath is looked at again: a directory
 * replaced there (a symbolic link switched to a new release, say) is
 * opened in place of the old, whose descriptor is kept until fini (a
 * request may still be using it, and no new one may get its number). */
typedef struct http_file_root {
	const char      *fspath;
	atomic_int       dirfd; /* -1 until opened */
	_Atomic uint64_t checked; /* nghttpw_clock() when found current */
	nghttpw_duration recheck;
	bool             outside_links; /* links may lead out of the tree */
	pthread_mutex_t  mtx; /* opening and replacing */
	dev_t            dev; /* of dirfd */
	ino_t            ino;
	int             *retired;
	size_t           nretired;
} http_file_root;

int  http_file_root_init(http_file_root *r, const char *fspath);

/* The root as one request sees it: its descriptor, taken once with
 * http_file_root_fd, for every lookup of the request. */
typedef struct http_file_at {
	http_file_root *r;
	int             fd;
} http_file_at;

/* Opens rel ("" or "/...", already decoded and free of ".." segments)
 * under the root without leaving it: with openat2(2) RESOLVE_BENEATH, or
 * where that is missing with realpath(3) and a check of the result.
 * With outside_links, symbolic links are followed wherever they lead.
 * Returns 0 with an open regular file or directory in *fdp (close-on-exec)
 * and its status in *st, or the HTTP status to answer with (404 for what
 * is missing or outside, 403 for what cannot be read or is neither a
 * regular file nor a directory). */
uint16_t http_file_root_open(const http_file_at *at, const char *rel, int *fdp, struct stat *st);

/* Whether rel under the root is a directory, reached as root_open would
 * reach it (a link leading outside is not followed). */
bool http_file_root_is_dir(const http_file_at *at, const char *rel);

/* The held descriptor of the root, opened now if it was not (or checked
 * to be current, when due); -1 and the HTTP status in *statusp when it
 * cannot be opened. */
int  http_file_root_fd(http_file_root *r, uint16_t *statusp);
void http_file_root_fini(http_file_root *r);

/* Opens path (following links unless nofollow) as root_open opens. */
uint16_t http_file_open_path(const char *path, bool nofollow, int *fdp, struct stat *st);

/* The HTTP status for an errno of open or realpath. */
uint16_t http_file_errno_status(int err);

/* For the tests: force the realpath walk even where openat2 works, and
 * ask which of the two is in use (false once openat2 failed with ENOSYS
 * or was refused by a seccomp filter). */
void http_file_force_walk(bool on);
bool http_file_uses_openat2(void);

/* ---------------------------------------- listings (http_file_listing.c) */

/* The listing of the directory open as dfd (taken), dir ("/.../") under
 * the root, as a whole response in *resp (an error response when it
 * cannot be read).  shown is the decoded request path, for the title;
 * top means the handler's own directory, which gets no link to "../".
 * Unless dotfiles, names that start with a dot are left out (but
 * ".well-known" at the top of the site, shown "/").
 * Returns 0 or NGHTTPW_ENOMEM. */
int http_file_listing_res(int dfd, const http_file_at *root, const char *dir, const char *shown, bool top, bool dotfiles, nghttpw_http_res **resp);

/* ------------------------------------------- the response (http_file.c) */

/* A strong entity tag from the size and the modification time, and the
 * Last-Modified time: the file's, but never later than now. */
void   http_file_etag(const struct stat *st, char buf[64]);
time_t http_file_last_modified(const struct stat *st);

/* What a response for a regular file is made of.  Uncached, fd is the
 * open file (bytes NULL); a cache entry holds either the file open (fd)
 * or, for a small one, its bytes (fd -1). */
/* Room for the formatted fields of a cached file: the names, a date, an
 * entity tag of at most 63 bytes and a media type of at most 100. */
#define HTTP_FILE_FIELDS_SIZE 256

typedef struct http_file_rep {
	struct stat st;
	const char *type;  /* media type: a static string */
	char        etag[64];
	char        lm_text[HTTP_DATE_SIZE];
	time_t      lm;
	int         fd;
	void       *bytes;
	/* A cached file's fields that do not change, formatted once:
	 * Last-Modified, ETag, Content-Type, Accept-Ranges (prefab.n is 0
	 * when they did not fit). */
	char            fields[HTTP_FILE_FIELDS_SIZE];
	nhw_http_prefab prefab;
} http_file_rep;

/* ------------------------------------ open-file cache (http_file_cache.c) */

#define HTTP_FILE_CACHE_REVALIDATE 1000 /* ms */
#define HTTP_FILE_CACHE_ENTRIES 1000
#define HTTP_FILE_CACHE_BYTES (64u * 1024u * 1024u)
#define HTTP_FILE_CACHE_SMALL (16u * 1024u)
#define HTTP_FILE_CACHE_INACTIVE 60000 /* ms unused before an entry goes */

typedef struct http_file_entry http_file_entry;

/* A link of the least-recently-used list (first in an entry). */
typedef struct http_file_link {
	struct http_file_link *prev, *next;
} http_file_link;

/* One handler's cache.  Members are private to http_file_cache.c. */
typedef struct http_file_cache {
	pthread_mutex_t   mtx;
	nghttpw_duration  revalidate; /* ms; 0: off */
	nghttpw_duration  inactive;   /* ms unused before an entry goes */
	size_t            max_entries, max_bytes, small_max;
	size_t            nentries, nbytes;
	http_file_entry **buckets;
	size_t            nbuckets; /* a power of two */
	http_file_link    lru;      /* most recently used first */
} http_file_cache;

int  http_file_cache_init(http_file_cache *c); /* with the defaults above */
void http_file_cache_fini(http_file_cache *c);

/* New settings; every entry is dropped.  revalidate 0 or max_entries 0
 * turns the cache off. */
void http_file_cache_configure(http_file_cache *c, nghttpw_duration revalidate, size_t max_entries, size_t max_bytes, size_t small_max);
bool http_file_cache_on(http_file_cache *c);
void http_file_cache_clear(http_file_cache *c); /* drops every entry */
void http_file_cache_usage(http_file_cache *c, size_t *entries, size_t *bytes);
void http_file_cache_set_inactive(http_file_cache *c, nghttpw_duration inactive);

/* The entry for key (the request path), checked against the file system
 * when it is due; NULL when there is none (or no longer: also when it was
 * made under another dirfd than the root's present one).  The
 * caller gets a reference: http_file_entry_release gives it back. */
http_file_entry *http_file_cache_get(http_file_cache *c, const char *key, size_t klen, int dirfd);

/* Makes an entry of a file just opened and checked (fd, *st, type) for
 * key: path is the file relative to dirfd, by which it is checked later;
 * absent (or NULL) a name relative to dirfd that must stay missing (the
 * index.html before an index.htm); opened, nghttpw_clock() before the
 * file was opened, is when the entry was last known current.  On success the entry owns fd and the
 * caller gets a reference to it; NULL (fd still the caller's) when the
 * cache is off, the file cannot be kept or memory is short. */
http_file_entry *http_file_cache_put(http_file_cache *c, const char *key, size_t klen, int dirfd, const char *path, const char *absent, int fd, const struct stat *st, const char *type, nghttpw_time opened);

/* For the tests: the entries and bytes (of small files) that the cache
 * of a file or directory handler holds; false for another handler. */
bool http_file_handler_cache_usage(nghttpw_http_handler *h, size_t *entries, size_t *bytes);
/* For the tests: how long an entry may go unused (60 s otherwise). */
bool http_file_handler_cache_inactive(nghttpw_http_handler *h, nghttpw_duration inactive);

const http_file_rep *http_file_entry_rep(const http_file_entry *e);
void                 http_file_entry_release(void *e); /* one reference */

#endif /* NGHTTPW_HTTP_FILE_H */
