/* Which address a request comes from when proxies forward it.  Only a
 * proxy the server trusts is believed: each appends the address it got
 * the request from to Forwarded (RFC 7239) or X-Forwarded-For, so the
 * list is read from the right, past the trusted proxies, and the first
 * address that is not one of them is the client.  Anything to its left
 * was written by the client itself and proves nothing. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_forwarded.h"

#define MAX_HOPS 64 /* the nearest hops read; a longer chain is cut there */

typedef struct {
	int     family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int     bits;
} prefix;

struct http_trust {
	atomic_uint refs;
	size_t      n;
	prefix      p[];
};

/* ------------------------------------------------------- addresses */

/* A span of text (not NUL-terminated). */
typedef struct {
	const char *s;
	size_t      n;
} span;

static span
trim(span v)
{
	while (v.n > 0 && (*v.s == ' ' || *v.s == '\t')) {
		v.s++;
		v.n--;
	}
	while (v.n > 0 && (v.s[v.n - 1] == ' ' || v.s[v.n - 1] == '\t')) {
		v.n--;
	}
	return (v);
}

/* "192.0.2.1", "192.0.2.1:80", "[2001:db8::1]", "[2001:db8::1]:80" or
 * "2001:db8::1" into sa (port 0 when none).  False for anything else
 * ("unknown", an obfuscated "_name", a host name). */
static bool
parse_host(span v, nghttpw_sockaddr *sa)
{
	char        text[64];
	const char *end, *host, *colon;
	size_t      hn;
	long        port = 0;

	if (v.n == 0 || v.n >= sizeof(text)) {
		return (false); /* no for= at all, say */
	}
	end  = v.s + v.n;
	host = v.s;
	if (*host == '[') {
		const char *close = memchr(host, ']', v.n);
		if (close == NULL) {
			return (false);
		}
		hn    = (size_t) (close - host - 1);
		host += 1;
		colon = close + 1 < end ? close + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			return (false);
		}
	} else {
		colon = memchr(host, ':', v.n);
		/* Two colons: a bare IPv6 address, no port. */
		if (colon != NULL && memchr(colon + 1, ':', (size_t) (end - colon - 1)) != NULL) {
			colon = NULL;
		}
		hn = colon != NULL ? (size_t) (colon - host) : v.n;
	}
	if (colon != NULL) {
		char *pend;
		if (colon + 1 == end || !isdigit((unsigned char) colon[1])) {
			return (false);
		}
		port = strtol(colon + 1, &pend, 10);
		if (pend != end || port > 65535) {
			return (false);
		}
	}
	memcpy(text, host, hn);
	text[hn] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, text, &sa->s_in.sa_addr) == 1) {
		sa->s_in.sa_family = NGHTTPW_AF_INET;
		sa->s_in.sa_port   = htons((uint16_t) port);
		return (true);
	}
	if (inet_pton(AF_INET6, text, sa->s_in6.sa_addr) == 1) {
		sa->s_in6.sa_family = NGHTTPW_AF_INET6;
		sa->s_in6.sa_port   = htons((uint16_t) port);
		return (true);
	}
	return (false);
}

/* The address of sa as family and bytes; IPv4-mapped IPv6 as IPv4. */
static bool
addr_bytes(const nghttpw_sockaddr *sa, int *family, const uint8_t **bytes)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->s_family == NGHTTPW_AF_INET) {
		*family = AF_INET;
		*bytes  = (const uint8_t *) &sa->s_in.sa_addr;
		return (true);
	}
	if (sa->s_family == NGHTTPW_AF_INET6) {
		if (memcmp(sa->s_in6.sa_addr, mapped, 12) == 0) {
			*family = AF_INET;
			*bytes  = sa->s_in6.sa_addr + 12;
		} else {
			*family = AF_INET6;
			*bytes  = sa->s_in6.sa_addr;
		}
		return (true);
	}
	return (false);
}

static bool
trusts(const http_trust *t, const nghttpw_sockaddr *sa)
{
	const uint8_t *b;
	int            family;

	if (t == NULL || !addr_bytes(sa, &family, &b)) {
		return (false);
	}
	for (size_t i = 0; i < t->n; i++) {
		const prefix *p = &t->p[i];
		int           whole = p->bits / 8, rest = p->bits % 8;
		if (p->family != family || memcmp(p->addr, b, (size_t) whole) != 0) {
			continue;
		}
		if (rest == 0 ||
		    ((p->addr[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0) {
			return (true);
		}
	}
	return (false);
}

/* ------------------------------------------------------------ lists */

static int
parse_prefix(span v, prefix *p)
{
	char        text[64];
	const char *slash = memchr(v.s, '/', v.n);
	size_t      an    = slash != NULL ? (size_t) (slash - v.s) : v.n;
	int         max;

	if (an == 0 || an >= sizeof(text)) {
		return (NGHTTPW_EINVAL);
	}
	memcpy(text, v.s, an);
	text[an] = '\0';
	memset(p->addr, 0, sizeof(p->addr));
	if (inet_pton(AF_INET, text, p->addr) == 1) {
		p->family = AF_INET;
		max       = 32;
	} else if (inet_pton(AF_INET6, text, p->addr) == 1) {
		p->family = AF_INET6;
		max       = 128;
	} else {
		return (NGHTTPW_EINVAL);
	}
	p->bits = max;
	if (slash != NULL) {
		size_t dn = v.n - an - 1;
		int    bits = 0;
		if (dn == 0 || dn > 3) {
			return (NGHTTPW_EINVAL);
		}
		for (size_t i = 0; i < dn; i++) {
			if (!isdigit((unsigned char) slash[1 + i])) {
				return (NGHTTPW_EINVAL);
			}
			bits = bits * 10 + (slash[1 + i] - '0');
		}
		if (bits > max) {
			return (NGHTTPW_EINVAL);
		}
		p->bits = bits;
	}
	return (0);
}

int
http_trust_parse(const char *list, http_trust **tp)
{
	http_trust *t;
	size_t      n = 0;
	const char *sep = ", \t";

	*tp = NULL;
	if (list == NULL) {
		return (0);
	}
	for (const char *p = list + strspn(list, sep); *p != '\0';
	     p += strcspn(p, sep), p += strspn(p, sep)) {
		n++;
	}
	if (n == 0) {
		return (0);
	}
	if ((t = malloc(sizeof(*t) + n * sizeof(t->p[0]))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	atomic_init(&t->refs, 1);
	t->n = 0;
	for (const char *p = list + strspn(list, sep); *p != '\0';
	     p += strcspn(p, sep), p += strspn(p, sep)) {
		span v = { p, strcspn(p, sep) };
		if (parse_prefix(v, &t->p[t->n]) != 0) {
			free(t);
			return (NGHTTPW_EINVAL);
		}
		t->n++;
	}
	*tp = t;
	return (0);
}

void
http_trust_hold(http_trust *t)
{
	if (t != NULL) {
		atomic_fetch_add(&t->refs, 1);
	}
}

void
http_trust_release(http_trust *t)
{
	if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1) {
		free(t);
	}
}

/* --------------------------------------------------- the hop lists */

/* One hop: the address a proxy saw, and the scheme when it said. */
typedef struct {
	span addr;
	span proto;
} hop;

/* Splits v at commas outside quoted strings; the last MAX_HOPS pieces,
 * nearest last.  Their number. */
static size_t
split_list(const char *v, span *out)
{
	size_t n = 0;
	bool   quoted = false;

	for (const char *start = v, *p = v;; p++) {
		if (*p == '"' && (p == v || p[-1] != '\\')) {
			quoted = !quoted;
		}
		if ((*p == ',' && !quoted) || *p == '\0') {
			if (n == MAX_HOPS) {
				memmove(out, out + 1, (MAX_HOPS - 1) * sizeof(*out));
				n--;
			}
			out[n++] = trim((span) { start, (size_t) (p - start) });
			if (*p == '\0') {
				return (n);
			}
			start = p + 1;
		}
	}
}

static span
unquote(span v)
{
	if (v.n >= 2 && v.s[0] == '"' && v.s[v.n - 1] == '"') {
		v.s++;
		v.n -= 2;
	}
	return (v);
}

/* The for= and proto= of a Forwarded element ("for=x;proto=https"). */
static hop
forwarded_hop(span el)
{
	hop h = { { NULL, 0 }, { NULL, 0 } };

	while (el.n > 0) {
		const char *semi = memchr(el.s, ';', el.n);
		span        pair = { el.s, semi != NULL ? (size_t) (semi - el.s) : el.n };
		const char *eq   = memchr(pair.s, '=', pair.n);

		if (eq != NULL) {
			span key = trim((span) { pair.s, (size_t) (eq - pair.s) });
			span val = unquote(trim(
			    (span) { eq + 1, (size_t) (pair.s + pair.n - eq - 1) }));
			if (key.n == 3 && strncasecmp(key.s, "for", 3) == 0) {
				h.addr = val;
			} else if (key.n == 5 && strncasecmp(key.s, "proto", 5) == 0) {
				h.proto = val;
			}
		}
		if (semi == NULL) {
			break;
		}
		el.n -= (size_t) (semi + 1 - el.s);
		el.s = semi + 1;
	}
	return (h);
}

/* The hops the fields name, nearest last: Forwarded when present, else
 * X-Forwarded-For with X-Forwarded-Proto beside it (one entry per hop,
 * or one for all).  Their number. */
static size_t
hops_of(nghttpw_http_req *req, hop *hops)
{
	span        parts[MAX_HOPS], protos[MAX_HOPS];
	const char *fwd = nghttpw_http_req_get_header(req, "Forwarded");
	const char *xff, *xfp;
	size_t      n, np = 0;

	if (fwd != NULL) {
		n = split_list(fwd, parts);
		for (size_t i = 0; i < n; i++) {
			hops[i] = forwarded_hop(parts[i]);
		}
		return (n);
	}
	if ((xff = nghttpw_http_req_get_header(req, "X-Forwarded-For")) == NULL) {
		return (0);
	}
	n = split_list(xff, parts);
	if ((xfp = nghttpw_http_req_get_header(req, "X-Forwarded-Proto")) != NULL) {
		np = split_list(xfp, protos);
	}
	for (size_t i = 0; i < n; i++) {
		hops[i].addr  = parts[i];
		hops[i].proto = np == n ? protos[i]
		    : np == 1           ? protos[0]
		                        : (span) { NULL, 0 };
	}
	return (n);
}

/* Walks the hops from the nearest: the index of the client's, or n when
 * the peer itself is the client (untrusted, or no hops).  *client gets
 * its address. */
static size_t
walk(const http_trust *t, nghttpw_http_req *req, const nghttpw_sockaddr *peer,
    hop *hops, size_t *np, nghttpw_sockaddr *client)
{
	nghttpw_sockaddr sa;
	size_t           n, at;

	*client = *peer;
	*np     = 0;
	if (!trusts(t, peer) || (n = hops_of(req, hops)) == 0) {
		return (0);
	}
	*np = n;
	at  = n;
	for (size_t i = n; i-- > 0;) {
		if (!parse_host(hops[i].addr, &sa)) {
			/* Unknown or obfuscated: the last trusted hop is as
			 * near the client as can be known. */
			break;
		}
		*client = sa;
		at      = i;
		if (!trusts(t, &sa)) {
			break;
		}
	}
	return (at);
}

void
http_trust_client(const http_trust *t, nghttpw_http_req *req,
    const nghttpw_sockaddr *peer, nghttpw_sockaddr *client)
{
	hop    hops[MAX_HOPS];
	size_t n;

	(void) walk(t, req, peer, hops, &n, client);
}

const char *
http_trust_scheme(const http_trust *t, nghttpw_http_req *req,
    const nghttpw_sockaddr *peer)
{
	hop              hops[MAX_HOPS];
	nghttpw_sockaddr client;
	size_t           n, at = walk(t, req, peer, hops, &n, &client);
	span             p;

	if (at >= n) {
		return (NULL);
	}
	p = unquote(trim(hops[at].proto));
	if (p.n == 5 && strncasecmp(p.s, "https", 5) == 0) {
		return ("https");
	}
	if (p.n == 4 && strncasecmp(p.s, "http", 4) == 0) {
		return ("http");
	}
	return (NULL);
}
