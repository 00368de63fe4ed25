/*
 * URL parsing for nghttpw.
 *
 * A URL is parsed in two passes.  The first pass checks the text and
 * records where each component starts and how long it is, without
 * allocating anything.  The second pass makes a single allocation,
 * large enough for the nghttpw_url structure followed by all of its
 * strings, copies the components into it and canonicalises them there.  Freeing a URL is therefore a single free(), and a failed
 * allocation can never leave anything behind.
 *
 * The result is canonical as nng's is: scheme and host in lower case;
 * in path, query and fragment, escapes of unreserved characters and of
 * UTF-8 bytes decoded and the other escapes in upper case; in the path,
 * no empty, "." or ".." segments.  u_requri keeps all three, fragment
 * included, and is empty when they are: it is what follows the
 * authority, not a request target (the HTTP layer makes that).
 */

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

/* Default ports of well-known schemes, as nng keeps them.  A scheme
 * not listed has no default: its port is empty unless the URL gives one.
 * Each name also stands for its "4" and "6" forms (ws4, wss6...). */
static const struct {
	const char *name;
	const char *port;
} url_default_ports[] = {
	{ "git", "9418" },
	{ "gopher", "70" },
	{ "http", "80" },
	{ "https", "443" },
	{ "ssh", "22" },
	{ "telnet", "23" },
	{ "ws", "80" },
	{ "wss", "443" },
};

/* Everything the first pass learns about a URL. */
typedef struct {
	url_span scheme;
	url_span userinfo;
	url_span host;     /* host[:port] as written, without a '*' */
	url_span hostname; /* without brackets */
	url_span port;     /* NULL when not given */
	url_span rest;     /* path, query and fragment, before canonicalising */
} url_parts;

static int
url_lower(int c)
{
	if (c >= 'A' && c <= 'Z') {
		return (c - 'A' + 'a');
	}
	return (c);
}

static int
url_upper(int c)
{
	return ((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
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

/* Check the text between the brackets of an IPv6 literal: an address,
 * then optionally a zone introduced by an encoded '%' (RFC 6874: "%25")
 * that is not empty. */
static bool
url_ipv6_literal_ok(url_span sp)
{
	const char *pct = memchr(sp.s, '%', sp.n);
	size_t      addr_len;

	if (pct == NULL) {
		return (url_ipv6_ok(sp.s, sp.n));
	}
	addr_len = (size_t) (pct - sp.s);
	if (sp.n - addr_len < 4 || pct[1] != '2' || pct[2] != '5') {
		return (false);
	}
	for (size_t i = addr_len + 3; i < sp.n; i++) {
		if (!url_is_unreserved(sp.s[i]) && sp.s[i] != '%') {
			return (false);
		}
	}
	return (url_ipv6_ok(sp.s, addr_len));
}

/* Check a port: one or more digits, value at most 65535. */
static bool
url_port_ok(url_span sp)
{
	unsigned long val = 0;

	if (sp.n == 0) {
		return (false);
	}
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

/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool
url_scheme_ok(url_span sp)
{
	if (sp.n == 0 || !url_is_alpha(sp.s[0])) {
		return (false);
	}
	for (size_t i = 1; i < sp.n; i++) {
		int c = sp.s[i];
		if (!url_is_alpha(c) && !url_is_digit(c) && c != '+' &&
		    c != '-' && c != '.') {
			return (false);
		}
	}
	return (true);
}

/* The default port of a (lower case) scheme, or "" if it has none. */
static const char *
url_default_port(const char *scheme)
{
	for (size_t i = 0;
	     i < sizeof(url_default_ports) / sizeof(url_default_ports[0]); i++) {
		size_t n = strlen(url_default_ports[i].name);
		if (strncmp(scheme, url_default_ports[i].name, n) != 0) {
			continue;
		}
		if (scheme[n] == '\0' ||
		    ((scheme[n] == '4' || scheme[n] == '6') &&
		        scheme[n + 1] == '\0')) {
			return (url_default_ports[i].port);
		}
	}
	return ("");
}

/* Split the host[:port] part of the authority. */
static int
url_split_hostport(url_parts *p, const char *s, size_t n)
{
	const char *colon;

	/* A host of '*' means any address, written as the empty host (an
	 * nng form kept from nanomsg). */
	if (n > 0 && s[0] == '*' && (n == 1 || s[1] == ':')) {
		s++;
		n--;
	}
	p->host.s = s;
	p->host.n = n;

	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL) {
			return (NGHTTPW_EINVAL);
		}
		p->hostname.s = s + 1;
		p->hostname.n = (size_t) (close - s) - 1;
		if (!url_ipv6_literal_ok(p->hostname)) {
			return (NGHTTPW_EINVAL);
		}
		colon = close + 1;
		if (colon < s + n && *colon != ':') {
			return (NGHTTPW_EINVAL);
		}
	} else {
		p->hostname.s = s;
		colon         = memchr(s, ':', n);
		p->hostname.n = colon != NULL ? (size_t) (colon - s) : n;
		/* Brackets, spaces and the like have no place in a name. */
		if (!url_span_chars_ok(p->hostname, false)) {
			return (NGHTTPW_EINVAL);
		}
	}
	if (colon != NULL && colon < s + n) {
		/* A colon must be followed by a port ("host:" is refused,
		 * as nng does). */
		p->port.s = colon + 1;
		p->port.n = (size_t) (s + n - p->port.s);
		if (!url_port_ok(p->port)) {
			return (NGHTTPW_EINVAL);
		}
	}
	return (0);
}

/* The first pass: check the string and find its components. */
static int
url_split(url_parts *p, const char *raw)
{
	const char *sep;
	const char *auth;
	const char *at;
	size_t      auth_len;

	memset(p, 0, sizeof(*p));

	if (!url_text_ok(raw)) {
		return (NGHTTPW_EINVAL);
	}
	if ((sep = strstr(raw, "://")) == NULL) {
		return (NGHTTPW_EINVAL);
	}
	p->scheme.s = raw;
	p->scheme.n = (size_t) (sep - raw);
	if (!url_scheme_ok(p->scheme)) {
		return (NGHTTPW_EINVAL);
	}

	/* The authority runs to the first '/', '?' or '#'. */
	auth     = sep + 3;
	auth_len = strcspn(auth, "/?#");
	p->rest.s = auth + auth_len;
	p->rest.n = strlen(p->rest.s);

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
	return (url_split_hostport(p, auth, auth_len));
}

static int
url_hex_val(int c)
{
	if (url_is_digit(c)) {
		return (c - '0');
	}
	return (url_lower(c) - 'a' + 10);
}

/* Whether a path segment starting at s (just after a '/') is n dots. */
static bool
url_dot_segment(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '.') {
			return (false);
		}
	}
	return (s[n] == '\0' || s[n] == '/' || s[n] == '?' || s[n] == '#');
}

/* Whether s holds only well-formed UTF-8: shortest forms, no surrogates,
 * nothing past U+10FFFF. */
static bool
url_utf8_ok(const unsigned char *s)
{
	while (*s != '\0') {
		uint32_t cp;
		uint32_t min;
		int      more;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			cp = *s & 0x1f, min = 0x80, more = 1;
		} else if ((*s & 0xf0) == 0xe0) {
			cp = *s & 0x0f, min = 0x800, more = 2;
		} else if ((*s & 0xf8) == 0xf0) {
			cp = *s & 0x07, min = 0x10000, more = 3;
		} else {
			return (false);
		}
		s++;
		while (more-- > 0) {
			if ((*s & 0xc0) != 0x80) {
				return (false);
			}
			cp = (cp << 6) | (*s++ & 0x3f);
		}
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
			return (false);
		}
	}
	return (true);
}

/* Canonicalise path, query and fragment in place, as nng does:
 * escapes of unreserved characters and of bytes past ASCII are decoded
 * (the others get upper-case hex digits); then, in the path only,
 * runs of '/' become one and "." and ".." segments are resolved.
 * Decoded bytes must form UTF-8, so that overlong forms cannot smuggle
 * a '/' or a '.' past the checks. */
static int
url_canonify(char *s)
{
	size_t src = 0;
	size_t dst = 0;
	bool   in_path;

	while (s[src] != '\0') {
		if (s[src] == '%') {
			int c = url_hex_val(s[src + 1]) * 16 +
			    url_hex_val(s[src + 2]);
			if (url_is_unreserved(c) || c >= 0x80) {
				s[dst++] = (char) c;
			} else {
				s[dst++] = '%';
				s[dst++] = (char) url_upper(s[src + 1]);
				s[dst++] = (char) url_upper(s[src + 2]);
			}
			src += 3;
		} else {
			s[dst++] = s[src++];
		}
	}
	s[dst] = '\0';

	src = dst = 0;
	in_path   = true;
	while (s[src] != '\0') {
		char c = s[src];
		if (c == '?' || c == '#') {
			in_path = false;
		}
		if (!in_path || c != '/') {
			s[dst++] = s[src++];
			continue;
		}
		while (s[src + 1] == '/') {
			src++;
		}
		if (url_dot_segment(s + src + 1, 2)) {
			/* Drop the last segment written, and this one. */
			while (dst > 0 && s[--dst] != '/') {
			}
			src += 3;
		} else if (url_dot_segment(s + src + 1, 1)) {
			src += 2;
		} else {
			s[dst++] = s[src++];
		}
	}
	s[dst] = '\0';

	return (url_utf8_ok((const unsigned char *) s) ? 0 : NGHTTPW_EINVAL);
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

/* url_put, folding ASCII letters to lower case. */
static char *
url_put_lower(char **cur, const char *s, size_t n)
{
	char *dst = url_put(cur, s, n);
	for (size_t i = 0; i < n; i++) {
		dst[i] = (char) url_lower((unsigned char) dst[i]);
	}
	return (dst);
}

int
nghttpw_url_parse(nghttpw_url **urlp, const char *raw)
{
	url_parts    p;
	nghttpw_url *url;
	size_t       raw_len;
	size_t       total;
	const char  *port;
	char        *cur;
	char        *mark;
	int          rv;

	if (urlp == NULL || raw == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = url_split(&p, raw)) != 0) {
		return (rv);
	}

	/* Every component is a piece of the raw string (canonicalising
	 * only shortens), or for the port a short default, so the block
	 * is bounded by a few times raw_len. */
	raw_len = strlen(raw);
	if (raw_len > (SIZE_MAX - sizeof(nghttpw_url)) / 8) {
		return (NGHTTPW_ENOMEM);
	}
	total = sizeof(nghttpw_url) + (raw_len + 1) + (p.scheme.n + 1) +
	    (p.userinfo.n + 1) + 2 * (p.host.n + 1) + 8 + 4 * (p.rest.n + 1);
	if ((url = malloc(total)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	cur = (char *) (url + 1);

	url->u_rawurl = url_put(&cur, raw, raw_len);
	url->u_scheme = url_put_lower(&cur, p.scheme.s, p.scheme.n);
	url->u_userinfo =
	    p.userinfo.s != NULL ? url_put(&cur, p.userinfo.s, p.userinfo.n)
	                         : NULL;
	url->u_host     = url_put_lower(&cur, p.host.s, p.host.n);
	url->u_hostname = url_put_lower(&cur, p.hostname.s, p.hostname.n);
	port            = url_default_port(url->u_scheme);
	url->u_port     = p.port.s != NULL ? url_put(&cur, p.port.s, p.port.n)
	                                   : url_put(&cur, port, strlen(port));

	url->u_requri = url_put(&cur, p.rest.s, p.rest.n);
	if ((rv = url_canonify(url->u_requri)) != 0) {
		free(url);
		return (rv);
	}
	cur = url->u_requri + strlen(url->u_requri) + 1;

	/* Path, query and fragment are cut from the canonical request URI. */
	mark        = url->u_requri;
	url->u_path = url_put(&cur, mark, strcspn(mark, "?#"));
	mark += strlen(url->u_path);
	url->u_query = NULL;
	if (*mark == '?') {
		mark++;
		url->u_query = url_put(&cur, mark, strcspn(mark, "#"));
		mark += strlen(url->u_query);
	}
	url->u_fragment = NULL;
	if (*mark == '#') {
		url->u_fragment = url_put(&cur, mark + 1, strlen(mark + 1));
	}

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
