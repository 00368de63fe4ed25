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
 * descriptor of it (O_PATH) opened on first use and held until fini. */
typedef struct http_file_root {
	const char *fspath;
	atomic_int  dirfd; /* -1 until opened */
} http_file_root;

/* Opens rel ("" or "/...", already decoded and free of ".." segments)
 * under the root without leaving it: with openat2(2) RESOLVE_BENEATH, or
 * where that is missing with realpath(3) and a check of the result.
 * Returns 0 with an open regular file or directory in *fdp (close-on-exec)
 * and its status in *st, or the HTTP status to answer with (404 for what
 * is missing or outside, 403 for what cannot be read or is neither a
 * regular file nor a directory). */
uint16_t http_file_root_open(http_file_root *r, const char *rel, int *fdp, struct stat *st);

/* Whether rel under the root is a directory, reached as root_open would
 * reach it (a link leading outside is not followed). */
bool http_file_root_is_dir(http_file_root *r, const char *rel);

/* The held descriptor of the root, opened now if it was not; -1 and the
 * HTTP status in *statusp when it cannot be opened. */
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

#endif /* NGHTTPW_HTTP_FILE_H */
