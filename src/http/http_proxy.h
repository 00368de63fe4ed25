/* Forward proxies for the HTTP client (http_proxy.c): the proxy URL, the
 * no_proxy list, and the CONNECT exchange that opens a tunnel.  Pure
 * functions: the client does the I/O. */
#ifndef NGHTTPW_HTTP_PROXY_H
#define NGHTTPW_HTTP_PROXY_H

#include <stdbool.h>
#include <stddef.h>

/* A proxy as "http://[user:pass@]host[:port]" names it. */
typedef struct http_proxy {
	char *host; /* as in a URL: an IPv6 address in brackets */
	char *port; /* 1080 when not given, as curl */
	/* "Proxy-Authorization: Basic ...\r\n" from the percent-decoded
	 * credentials, or NULL */
	char *auth_line;
} http_proxy;

/* Parses url (no scheme means http://) into *p.  NGHTTPW_ENOTSUP for
 * other schemes (https://, socks...), NGHTTPW_EINVAL for a malformed one,
 * NGHTTPW_ENOMEM. */
int  http_proxy_parse(const char *url, http_proxy *p);
void http_proxy_fini(http_proxy *p);

/* Whether curl's no_proxy list exempts host (a name or an IP address,
 * IPv6 with or without brackets): "*" exempts all; a name matches itself
 * and its subdomains, with or without a leading dot; an address matches
 * itself, a prefix ("10.0.0.0/8") its range.  Case does not matter;
 * entries are separated by commas and blanks. */
bool http_no_proxy_match(const char *list, const char *host);

/* "CONNECT authority HTTP/1.1" with Host and auth_line (may be NULL),
 * malloc'd, in *reqp and *lenp. */
int http_proxy_connect_req(
    const char *authority, const char *auth_line, char **reqp, size_t *lenp);

/* Looks at the bytes of the proxy's answer read so far: 0 while its head
 * is not complete (more to read), else the head's length, with its
 * status in *status (0 when it is not an HTTP/1.x status line).  -1 once
 * more than max bytes came without the head's end. */
long http_proxy_connect_res(
    const char *buf, size_t len, size_t max, unsigned *status);

#endif
