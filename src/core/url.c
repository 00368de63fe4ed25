/*
 * URL parsing for nghttpw.
 *
 * A URL is parsed in two passes.  The first pass checks the text and
 * records where each component starts and how long it is, without
 * allocating anything.  The second pass works out the exact amount of
 * memory needed, makes a single allocation holding the nghttpw_url
 * structure followed by all of its strings, and copies the components
 * into it.  Freeing a URL is therefore a single free(), and a failed
 * allocation can never leave anything behind.
 *
 * Percent-encoding is validated (every '%' must start a %XX escape with
 * two hexadecimal digits) but never decoded or re-encoded, and the path
 * is kept exactly as written: no dot-segment removal, no slash folding.
 */

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

/* A piece of the input string: where it starts and how long it is.
 * A NULL start means the component is absent (as opposed to empty). */
typedef struct {
	const char *s;
	size_t      n;
} url_span;

/* Schemes we know about, with the port used when the URL gives none.
 * An empty default means the scheme has no default port. */
typedef struct {
	const char *name;
	const char *port;
	bool        need_host;
} url_scheme;

static const url_scheme url_schemes[] = {
	{ "http", "80", true },
	{ "https", "443", true },
	{ "ws", "80", true },
	{ "wss", "443", true },
	{ "ws4", "80", true },
	{ "ws6", "80", true },
	{ "wss4", "443", true },
	{ "wss6", "443", true },
	{ "tcp", "", false },
	{ "tcp4", "", false },
	{ "tcp6", "", false },
	{ "tls+tcp", "", false },
	{ "tls+tcp4", "", false },
	{ "tls+tcp6", "", false },
};

/* Everything the first pass learns about a URL. */
typedef struct {
	const url_scheme *scheme;
	url_span          scheme_text;
	url_span          userinfo;
	url_span          hostname; /* without brackets */
	bool              ipv6;     /* hostname was written in brackets */
	size_t            zone_at;  /* offset of '%' in an IPv6 hostname */
	url_span          port;     /* NULL when not given or empty */
	url_span          path;
	url_span          query;
	url_span          fragment;
} url_parts;

static int
url_lower(int c)
{
	if (c >= 'A' && c <= 'Z') {
		return (c - 'A' + 'a');
	}
	return (c);
}

static bool
url_is_digit(int c)
{
	return (c >= '0' && c <= '9');
}

static bool
url_is_hex(int c)
{
	return (url_is_digit(c) || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F'));
}

static bool
url_is_alpha(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* RFC 3986 "unreserved" characters. */
static bool
url_is_unreserved(int c)
{
	return (url_is_alpha(c) || url_is_digit(c) || c == '-' || c == '.' ||
	    c == '_' || c == '~');
}

/* RFC 3986 "sub-delims" characters. */
static bool
url_is_subdelim(int c)
{
	return (strchr("!$&'()*+,;=", c) != NULL && c != '\0');
}

/* Check that a span holds only unreserved characters, sub-delimiters,
 * percent escapes (already validated globally), bytes outside ASCII,
 * and, when colon_ok is set, colons.  This is the grammar of a
 * registered host name and of user information. */
static bool
url_span_chars_ok(url_span sp, bool colon_ok)
{
	for (size_t i = 0; i < sp.n; i++) {
		unsigned char c = (unsigned char) sp.s[i];
		if (c >= 0x80 || url_is_unreserved(c) || url_is_subdelim(c) ||
		    c == '%' || (colon_ok && c == ':')) {
			continue;
		}
		return (false);
	}
	return (true);
}

/* Check the characters of the whole string: no control characters or
 * spaces, and every '%' followed by two hexadecimal digits. */
static bool
url_text_ok(const char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char) s[i];
		if (c < 0x21 || c == 0x7f) {
			return (false);
		}
		if (c == '%') {
			if (!url_is_hex(s[i + 1]) || !url_is_hex(s[i + 2])) {
				return (false);
			}
			i += 2;
		}
	}
	return (true);
}

/* Check a dotted-quad IPv4 address of exactly n characters. */
static bool
url_ipv4_ok(const char *s, size_t n)
{
	size_t i     = 0;
	int    parts = 0;

	while (parts < 4) {
		unsigned val    = 0;
		size_t   digits = 0;
		while (i < n && url_is_digit(s[i])) {
			val = val * 10 + (unsigned) (s[i] - '0');
			if (++digits > 3) {
				return (false);
			}
			i++;
		}
		if (digits == 0 || val > 255) {
			return (false);
		}
		parts++;
		if (parts < 4) {
			if (i >= n || s[i] != '.') {
				return (false);
			}
			i++;
		}
	}
	return (i == n);
}

/* Check an IPv6 address (no brackets, no zone) of exactly n characters:
 * up to eight groups of one to four hex digits separated by colons, at
 * most one "::" standing for one or more zero groups, and optionally a
 * dotted-quad IPv4 address in place of the last two groups. */
static bool
url_ipv6_ok(const char *s, size_t n)
{
	size_t i      = 0;
	int    groups = 0;
	bool   elided = false;

	if (n < 2) {
		return (false);
	}
	if (s[0] == ':') {
		/* Only "::" may start the address. */
		if (s[1] != ':') {
			return (false);
		}
		elided = true;
		i      = 2;
	}
	while (i < n) {
		size_t start = i;
		while (i < n && url_is_hex(s[i]) && i - start < 5) {
			i++;
		}
		if (i < n && s[i] == '.') {
			/* Embedded IPv4: must be the last thing. */
			if (groups > 6 || !url_ipv4_ok(s + start, n - start)) {
				return (false);
			}
			groups += 2;
			i = n;
			break;
		}
		if (i == start || i - start > 4) {
			return (false);
		}
		groups++;
		if (i == n) {
			break;
		}
		if (s[i] != ':') {
			return (false);
		}
		i++;
		if (i < n && s[i] == ':') {
			if (elided) {
				return (false);
			}
			elided = true;
			i++;
			if (i == n) {
				break;
			}
		} else if (i == n) {
			/* A single trailing colon. */
			return (false);
		}
	}
	if (elided) {
		return (groups <= 7);
	}
	return (groups == 8);
}

/* Check the text between the brackets of an IPv6 literal, and find
 * where its zone identifier (if any) starts. */
static bool
url_ipv6_literal_ok(url_span sp, size_t *zone_at)
{
	const char *pct = memchr(sp.s, '%', sp.n);
	size_t      addr_len;

	if (pct == NULL) {
		*zone_at = sp.n;
		return (url_ipv6_ok(sp.s, sp.n));
	}
	addr_len = (size_t) (pct - sp.s);
	/* RFC 6874: the zone is introduced by an encoded '%', i.e. "%25",
	 * and must not be empty. */
	if (sp.n - addr_len < 4 || pct[1] != '2' || pct[2] != '5') {
		return (false);
	}
	for (size_t i = addr_len + 3; i < sp.n; i++) {
		if (!url_is_unreserved(sp.s[i]) && sp.s[i] != '%') {
			return (false);
		}
	}
	*zone_at = addr_len;
	return (url_ipv6_ok(sp.s, addr_len));
}

/* Check a port: digits only, value at most 65535. */
static bool
url_port_ok(url_span sp)
{
	unsigned long val = 0;

	for (size_t i = 0; i < sp.n; i++) {
		if (!url_is_digit(sp.s[i])) {
			return (false);
		}
		val = val * 10 + (unsigned long) (sp.s[i] - '0');
		if (val > 65535) {
			return (false);
		}
	}
	return (true);
}

static const url_scheme *
url_find_scheme(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(url_schemes) / sizeof(url_schemes[0]);
	     i++) {
		const char *name = url_schemes[i].name;
		size_t      j;
		if (strlen(name) != n) {
			continue;
		}
		for (j = 0; j < n; j++) {
			if (url_lower((unsigned char) s[j]) != name[j]) {
				break;
			}
		}
		if (j == n) {
			return (&url_schemes[i]);
		}
	}
	return (NULL);
}

/* Split the host[:port] part of the authority. */
static int
url_split_hostport(url_parts *p, const char *s, size_t n)
{
	url_span port = { NULL, 0 };

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		size_t      used;
		if (close == NULL) {
			return (NGHTTPW_EINVAL);
		}
		p->hostname.s = s + 1;
		p->hostname.n = (size_t) (close - s) - 1;
		p->ipv6       = true;
		if (!url_ipv6_literal_ok(p->hostname, &p->zone_at)) {
			return (NGHTTPW_EINVAL);
		}
		used = (size_t) (close - s) + 1;
		if (used < n) {
			if (s[used] != ':') {
				return (NGHTTPW_EINVAL);
			}
			port.s = s + used + 1;
			port.n = n - used - 1;
		}
	} else {
		const char *colon = memchr(s, ':', n);
		p->hostname.s     = s;
		p->hostname.n     = n;
		if (colon != NULL) {
			p->hostname.n = (size_t) (colon - s);
			port.s        = colon + 1;
			port.n        = n - p->hostname.n - 1;
		}
		/* Brackets (or anything else odd) in a plain host name are
		 * rejected here; so is a second colon, by the port check. */
		if (!url_span_chars_ok(p->hostname, false)) {
			return (NGHTTPW_EINVAL);
		}
	}

	if (port.s != NULL) {
		if (!url_port_ok(port)) {
			return (NGHTTPW_EINVAL);
		}
		if (port.n == 0) {
			/* "host:" means the same as "host". */
			port.s = NULL;
		}
	}
	p->port = port;
	return (0);
}

/* The first pass: check the string and find its components. */
static int
url_split(url_parts *p, const char *raw)
{
	const char *sep;
	const char *auth;
	const char *at;
	const char *rest;
	size_t      auth_len;
	int         rv;

	memset(p, 0, sizeof(*p));

	if (!url_text_ok(raw)) {
		return (NGHTTPW_EINVAL);
	}
	if ((sep = strstr(raw, "://")) == NULL) {
		return (NGHTTPW_EINVAL);
	}
	p->scheme_text.s = raw;
	p->scheme_text.n = (size_t) (sep - raw);
	p->scheme        = url_find_scheme(raw, p->scheme_text.n);
	if (p->scheme == NULL) {
		return (NGHTTPW_EINVAL);
	}

	/* The authority runs to the first '/', '?' or '#'. */
	auth     = sep + 3;
	auth_len = strcspn(auth, "/?#");
	rest     = auth + auth_len;

	at = memchr(auth, '@', auth_len);
	if (at != NULL) {
		size_t ui_len = (size_t) (at - auth);
		if (memchr(at + 1, '@', auth_len - ui_len - 1) != NULL) {
			return (NGHTTPW_EINVAL);
		}
		p->userinfo.s = auth;
		p->userinfo.n = ui_len;
		if (!url_span_chars_ok(p->userinfo, true)) {
			return (NGHTTPW_EINVAL);
		}
		auth_len -= ui_len + 1;
		auth = at + 1;
	}

	if ((rv = url_split_hostport(p, auth, auth_len)) != 0) {
		return (rv);
	}
	if (p->hostname.n == 0 && (p->ipv6 || p->scheme->need_host)) {
		return (NGHTTPW_EINVAL);
	}

	/* Path, then query, then fragment. */
	p->path.s = rest;
	p->path.n = 0;
	if (*rest == '/') {
		p->path.n = strcspn(rest, "?#");
		rest += p->path.n;
	}
	if (*rest == '?') {
		rest++;
		p->query.s = rest;
		p->query.n = strcspn(rest, "#");
		rest += p->query.n;
	}
	if (*rest == '#') {
		rest++;
		p->fragment.s = rest;
		p->fragment.n = strlen(rest);
	}
	return (0);
}

/* Copy n bytes to *cur, add a terminator, advance *cur. */
static char *
url_put(char **cur, const char *s, size_t n)
{
	char *dst = *cur;
	if (n > 0) {
		memcpy(dst, s, n);
	}
	dst[n] = '\0';
	*cur += n + 1;
	return (dst);
}

/* Lower-case a host name in place, leaving percent escapes and the
 * zone identifier of an IPv6 literal (interface names are case
 * sensitive) exactly as written. */
static void
url_lower_host(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			i += 2;
			continue;
		}
		s[i] = (char) url_lower((unsigned char) s[i]);
	}
}

int
nghttpw_url_parse(nghttpw_url **urlp, const char *raw)
{
	url_parts   p;
	nghttpw_url *url;
	size_t      raw_len;
	size_t      host_len;
	size_t      port_len;
	size_t      requri_len;
	size_t      total;
	const char *port;
	char       *cur;
	int         rv;

	if (urlp == NULL || raw == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = url_split(&p, raw)) != 0) {
		return (rv);
	}

	raw_len = strlen(raw);
	if (raw_len > (SIZE_MAX - sizeof(nghttpw_url)) / 8) {
		return (NGHTTPW_ENOMEM);
	}
	if (p.port.s != NULL) {
		port     = p.port.s;
		port_len = p.port.n;
	} else {
		port     = p.scheme->port;
		port_len = strlen(port);
	}
	host_len = p.hostname.n + (p.ipv6 ? 2 : 0) +
	    (p.port.s != NULL ? p.port.n + 1 : 0);
	requri_len = (p.path.n > 0 ? p.path.n : 1) +
	    (p.query.s != NULL ? p.query.n + 1 : 0);

	/* Every component is a piece of the raw string (or, for the port,
	 * a short default), so this is bounded by a few times raw_len. */
	total = sizeof(nghttpw_url) + (raw_len + 1) + (p.scheme_text.n + 1) +
	    (p.userinfo.s != NULL ? p.userinfo.n + 1 : 0) + (host_len + 1) +
	    (p.hostname.n + 1) + (port_len + 1) + (p.path.n + 1) +
	    (p.query.s != NULL ? p.query.n + 1 : 0) +
	    (p.fragment.s != NULL ? p.fragment.n + 1 : 0) + (requri_len + 1);

	if ((url = malloc(total)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	cur = (char *) (url + 1);

	url->u_rawurl = url_put(&cur, raw, raw_len);

	url->u_scheme = url_put(&cur, p.scheme->name, p.scheme_text.n);

	url->u_userinfo = NULL;
	if (p.userinfo.s != NULL) {
		url->u_userinfo = url_put(&cur, p.userinfo.s, p.userinfo.n);
	}

	url->u_hostname = url_put(&cur, p.hostname.s, p.hostname.n);
	url_lower_host(url->u_hostname, p.ipv6 ? p.zone_at : p.hostname.n);

	/* u_host: the (bracketed) host name, then ":port" if one was
	 * given explicitly. */
	url->u_host = cur;
	if (p.ipv6) {
		*cur++ = '[';
	}
	memcpy(cur, url->u_hostname, p.hostname.n);
	cur += p.hostname.n;
	if (p.ipv6) {
		*cur++ = ']';
	}
	if (p.port.s != NULL) {
		*cur++ = ':';
		memcpy(cur, p.port.s, p.port.n);
		cur += p.port.n;
	}
	*cur++ = '\0';

	url->u_port = url_put(&cur, port, port_len);
	url->u_path = url_put(&cur, p.path.s, p.path.n);

	url->u_query = NULL;
	if (p.query.s != NULL) {
		url->u_query = url_put(&cur, p.query.s, p.query.n);
	}
	url->u_fragment = NULL;
	if (p.fragment.s != NULL) {
		url->u_fragment = url_put(&cur, p.fragment.s, p.fragment.n);
	}

	url->u_requri = cur;
	if (p.path.n > 0) {
		memcpy(cur, p.path.s, p.path.n);
		cur += p.path.n;
	} else {
		*cur++ = '/';
	}
	if (p.query.s != NULL) {
		*cur++ = '?';
		memcpy(cur, p.query.s, p.query.n);
		cur += p.query.n;
	}
	*cur++ = '\0';

	*urlp = url;
	return (0);
}

void
nghttpw_url_free(nghttpw_url *url)
{
	/* The strings live in the same block as the structure. */
	free(url);
}

/* Length of an optional string including its terminator, or 0. */
static size_t
url_field_size(const char *s)
{
	return (s != NULL ? strlen(s) + 1 : 0);
}

static char *
url_field_copy(char **cur, const char *s)
{
	if (s == NULL) {
		return (NULL);
	}
	return (url_put(cur, s, strlen(s)));
}

int
nghttpw_url_clone(nghttpw_url **dstp, const nghttpw_url *src)
{
	const char *const fields[] = {
		src != NULL ? src->u_rawurl : NULL,
		src != NULL ? src->u_scheme : NULL,
		src != NULL ? src->u_userinfo : NULL,
		src != NULL ? src->u_host : NULL,
		src != NULL ? src->u_hostname : NULL,
		src != NULL ? src->u_port : NULL,
		src != NULL ? src->u_path : NULL,
		src != NULL ? src->u_query : NULL,
		src != NULL ? src->u_fragment : NULL,
		src != NULL ? src->u_requri : NULL,
	};
	nghttpw_url *url;
	size_t       total = sizeof(nghttpw_url);
	char        *cur;

	if (dstp == NULL || src == NULL) {
		return (NGHTTPW_EINVAL);
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t sz = url_field_size(fields[i]);
		if (sz > SIZE_MAX - total) {
			return (NGHTTPW_ENOMEM);
		}
		total += sz;
	}
	if ((url = malloc(total)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	cur = (char *) (url + 1);

	url->u_rawurl   = url_field_copy(&cur, src->u_rawurl);
	url->u_scheme   = url_field_copy(&cur, src->u_scheme);
	url->u_userinfo = url_field_copy(&cur, src->u_userinfo);
	url->u_host     = url_field_copy(&cur, src->u_host);
	url->u_hostname = url_field_copy(&cur, src->u_hostname);
	url->u_port     = url_field_copy(&cur, src->u_port);
	url->u_path     = url_field_copy(&cur, src->u_path);
	url->u_query    = url_field_copy(&cur, src->u_query);
	url->u_fragment = url_field_copy(&cur, src->u_fragment);
	url->u_requri   = url_field_copy(&cur, src->u_requri);

	*dstp = url;
	return (0);
}
