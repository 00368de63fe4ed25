/* The PROXY protocol header on a server connection: a load balancer's
 * first bytes, naming the client, read before the first request head.
 * Its addresses stand for the stream's from then on, for the server, its
 * handlers and its log alike. */
#include <stdlib.h>
#include <string.h>

#include "core/proxy_header.h"
#include "http/http_conn.h"
#include "http/http_conn_impl.h"
#include "http/http_forwarded.h"

void
http_conn_expect_proxy_header(nghttpw_http_conn *c)
{
	plat_mutex_lock(&c->mtx);
	c->proxy_pending = true;
	plat_mutex_unlock(&c->mtx);
}

bool
http_conn_proxy_failed(nghttpw_http_conn *c)
{
	bool failed;

	plat_mutex_lock(&c->mtx);
	failed = c->proxy_pending;
	plat_mutex_unlock(&c->mtx);
	return (failed);
}

nghttpw_sockaddr *
http_conn_take_proxied(nghttpw_http_conn *c)
{
	nghttpw_sockaddr *addrs;

	plat_mutex_lock(&c->mtx);
	addrs      = c->proxied;
	c->proxied = NULL;
	plat_mutex_unlock(&c->mtx);
	return (addrs);
}

void
http_conn_give_proxied(nghttpw_http_conn *c, nghttpw_sockaddr *addrs)
{
	plat_mutex_lock(&c->mtx);
	free(c->proxied);
	c->proxied = addrs;
	plat_mutex_unlock(&c->mtx);
}

int
conn_take_proxy_header(nghttpw_http_conn *c)
{
	proxy_header h;
	size_t       used;
	int          rv;

	if (c->rpos == c->rlen) {
		/* Nothing read yet, and perhaps no buffer: rbuf may be NULL,
		 * and NULL + 0 is undefined in C (clang's UBSan says so). */
		return (PROXY_HEADER_MORE);
	}
	rv = proxy_header_parse(c->rbuf + c->rpos, c->rlen - c->rpos, &used, &h);
	if (rv != 0) {
		return (rv); /* more wanted, or not a header: proxy_pending stays */
	}
	if (h.has_addr) {
		nghttpw_sockaddr *addrs = malloc(2 * sizeof(*addrs));
		if (addrs == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		addrs[0]   = h.src;
		addrs[1]   = h.dst;
		c->proxied = addrs;
	}
	/* A head is parsed in place from offset 0. */
	c->rpos += used;
	memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->rlen -= c->rpos;
	c->rpos          = 0;
	c->proxy_pending = false;
	return (0);
}

bool
conn_proxied_addr(nghttpw_http_conn *c, const char *name, nghttpw_sockaddr *addr)
{
	bool found = false;

	plat_mutex_lock(&c->mtx);
	if (c->proxied != NULL) {
		if (strcmp(name, NGHTTPW_OPT_REMADDR) == 0) {
			*addr = c->proxied[0];
			found = true;
		} else if (strcmp(name, NGHTTPW_OPT_LOCADDR) == 0) {
			*addr = c->proxied[1];
			found = true;
		}
	}
	plat_mutex_unlock(&c->mtx);
	return (found);
}

/* ------------------------------------------- forwarded by proxies */

void
http_conn_set_trust(nghttpw_http_conn *c, http_trust *t)
{
	http_trust_hold(t);
	plat_mutex_lock(&c->mtx);
	http_trust_release(c->trust);
	c->trust = t;
	plat_mutex_unlock(&c->mtx);
}

int
nghttpw_http_conn_get_client_addr(
    nghttpw_http_conn *c, nghttpw_http_req *req, nghttpw_sockaddr *addr)
{
	nghttpw_sockaddr peer;
	int              rv;

	if (c == NULL || req == NULL || addr == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_http_conn_get_addr(c, NGHTTPW_OPT_REMADDR, &peer)) != 0) {
		return (rv);
	}
	/* The list is set once, before the connection serves. */
	http_trust_client(c->trust, req, &peer, addr);
	return (0);
}

int
nghttpw_http_conn_get_client_scheme(
    nghttpw_http_conn *c, nghttpw_http_req *req, const char **schemep)
{
	nghttpw_sockaddr peer;
	const char      *scheme;
	bool             verified;
	int              rv;

	if (c == NULL || req == NULL || schemep == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = nghttpw_http_conn_get_addr(c, NGHTTPW_OPT_REMADDR, &peer)) != 0) {
		return (rv);
	}
	if ((scheme = http_trust_scheme(c->trust, req, &peer)) == NULL) {
		/* Our own: a TLS stream answers for its verification. */
		scheme = nghttpw_stream_get_bool(http_conn_stream(c),
		             NGHTTPW_OPT_TLS_VERIFIED, &verified) == 0
		    ? "https"
		    : "http";
	}
	*schemep = scheme;
	return (0);
}
