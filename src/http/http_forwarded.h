/* Trusted proxies: the addresses whose Forwarded, X-Forwarded-For and
 * X-Forwarded-Proto fields a server believes (http_forwarded.c).  A list
 * is immutable once made and shared by reference: a server holds one,
 * and so does each connection it accepts, which may outlive it. */
#ifndef NGHTTPW_HTTP_FORWARDED_H
#define NGHTTPW_HTTP_FORWARDED_H

#include <stdbool.h>

#include "nghttpw/http.h"

typedef struct http_trust http_trust;

/* Parses "10.0.0.0/8, 127.0.0.1 ::1" (addresses or prefixes, separated by
 * commas or blanks) into *tp, with one reference; an empty list gives
 * NULL.  Errors: NGHTTPW_EINVAL, NGHTTPW_ENOMEM. */
int  http_trust_parse(const char *list, http_trust **tp);
void http_trust_hold(http_trust *t);    /* t may be NULL */
void http_trust_release(http_trust *t); /* t may be NULL */

/* The client of req, which came from peer: peer itself unless t trusts
 * it, else the nearest address the forwarding fields name that t does
 * not trust (see nghttpw_http_conn_get_client_addr). */
void http_trust_client(const http_trust *t, nghttpw_http_req *req,
    const nghttpw_sockaddr *peer, nghttpw_sockaddr *client);

/* The scheme the client used, when t trusts peer and the fields say:
 * "http" or "https"; NULL otherwise. */
const char *http_trust_scheme(const http_trust *t, nghttpw_http_req *req,
    const nghttpw_sockaddr *peer);

#endif
