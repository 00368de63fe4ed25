/*
 * Internal interface of the file and directory handlers (http_file.c)
 * and of the table of media types (http_mime.c).  Nothing here is public;
 * the tests call these directly.
 */
#ifndef NGHTTPW_HTTP_FILE_H
#define NGHTTPW_HTTP_FILE_H

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

#endif /* NGHTTPW_HTTP_FILE_H */
