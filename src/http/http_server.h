/* What the server needs of handlers beyond the public API: their insides,
 * references and the rules that match a request to a handler. */
#ifndef NGHTTPW_HTTP_SERVER_H
#define NGHTTPW_HTTP_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/list.h"
#include "nghttpw/http.h"

/* The body limit of a handler made by nghttpw_http_handler_alloc, as in
 * nng: one mebibyte. */
#define HTTP_HANDLER_MAX_BODY_DEFAULT (1024u * 1024u)

struct nghttpw_http_handler {
	char  *path; /* starts with "/", as given */
	size_t path_len;
	char  *method; /* NULL: any method */
	char  *host;   /* NULL: any host; else without port or brackets */
	bool   tree;
	bool   exclusive;
	bool   collect;
	size_t max_body;
	void (*cb)(nghttpw_aio *);
	void *data;
	void (*dtor)(void *);

	/* One reference for the owner (the caller, or the server it was
	 * added to) and one for every request being served by it. */
	atomic_uint refs;

	/* The server it is registered with and its link in that server's
	 * list: both guarded by http_registry_mtx and the server's mutex
	 * together (either suffices to read). */
	nghttpw_http_server *server;
	list_node            node;

	/* Built-in handlers. */
	void    *static_data;
	size_t   static_size;
	char    *content_type;
	char    *location;
	uint16_t status;
};

/* Guards the registry of servers and the registration of handlers.  It
 * is taken before any server's mutex, never after. */
extern pthread_mutex_t http_registry_mtx;

void http_handler_hold(nghttpw_http_handler *h);
void http_handler_release(nghttpw_http_handler *h);

/* Whether h may still be changed: not registered, not serving.  Caller
 * holds http_registry_mtx. */
bool http_handler_busy_locked(const nghttpw_http_handler *h);

/* The host part of a Host value or handler host: brackets and port
 * removed.  Sets *off and *len within s. */
void http_host_part(const char *s, size_t slen, size_t *off, size_t *len);

/* Whether h's host allows a request for host (NULL: the request named
 * none). */
bool http_handler_host_match(
    const nghttpw_http_handler *h, const char *host, size_t host_len);

/* Whether h's path covers the request path (exactly, or as a tree at a
 * "/" boundary). */
bool http_handler_path_match(
    const nghttpw_http_handler *h, const char *path, size_t path_len);

/* Whether path (of length len) lies in the tree rooted at root. */
bool http_path_in_tree(
    const char *root, size_t root_len, const char *path, size_t len);

/* Serves stream as an accepted connection (tests and fuzz targets):
 * see http_server.c. */
int http_server_serve_stream(nghttpw_http_server *s, nghttpw_stream *stream);

#endif
