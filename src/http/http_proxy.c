/* Forward proxies: parsing their URLs, curl's no_proxy rules, and the
 * CONNECT request and the head of its answer (RFC 9110 9.3.6). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>

#include "http/http_proxy.h"
#include "nghttpw/nghttpw.h"

#define PROXY_DEFAULT_PORT "1080"

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9') {
		return (c - '0');
	}
	c = tolower(c);
	return (c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
}

/* Percent-decodes s[0..len) into out (at least len bytes), returns the
 * decoded length, or -1 for a bad escape. */
static long
percent_decode(const char *s, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		int hi = i + 2 < len ? hex_value((unsigned char) s[i + 1]) : -1;
		int lo = i + 2 < len ? hex_value((unsigned char) s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			return (-1);
		}
		out[n++] = (char) (hi * 16 + lo);
		i += 2;
	}
	return ((long) n);
}

/* "Proxy-Authorization: Basic base64(user:pass)\r\n" from the userinfo
 * of the URL, its escapes decoded. */
static int
auth_line_make(const char *info, size_t len, char **linep)
{
	static const char head[] = "Proxy-Authorization: Basic ";
	char             *plain;
	char             *line;
	long              plen;
	size_t            b64len;
	size_t            cap;

	if ((plain = malloc(len + 1)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((plen = percent_decode(info, len, plain)) < 0) {
		free(plain);
		return (NGHTTPW_EINVAL);
	}
	cap = sizeof(head) + ((size_t) plen + 2) / 3 * 4 + 3;
	if ((line = malloc(cap)) == NULL) {
		free(plain);
		return (NGHTTPW_ENOMEM);
	}
	memcpy(line, head, sizeof(head) - 1);
	if (mbedtls_base64_encode((unsigned char *) line + sizeof(head) - 1,
	        cap - (sizeof(head) - 1), &b64len, (unsigned char *) plain,
	        (size_t) plen) != 0) {
		free(plain);
		free(line);
		return (NGHTTPW_EINVAL);
	}
	memcpy(line + sizeof(head) - 1 + b64len, "\r\n", 3);
	free(plain);
	*linep = line;
	return (0);
}

int
http_proxy_parse(const char *url, http_proxy *p)
{
	const char *s = url;
	const char *end;
	const char *at;
	const char *host;
	const char *host_end;
	const char *port = NULL;
	size_t      port_len;
	int         rv;

	memset(p, 0, sizeof(*p));
	if (url == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((end = strstr(s, "://")) != NULL) {
		if ((size_t) (end - s) != 4 || strncasecmp(s, "http", 4) != 0) {
			/* https:// proxies (TLS to the proxy), socks... */
			return (NGHTTPW_ENOTSUP);
		}
		s = end + 3;
	}
	/* The authority ends at a path, which may only be "/". */
	end = s + strcspn(s, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0) {
		return (NGHTTPW_EINVAL);
	}
	host = s;
	for (at = end; at > s && at[-1] != '@'; at--) {
	}
	if (at > s) {
		host = at;
		if ((rv = auth_line_make(s, (size_t) (at - 1 - s),
		         &p->auth_line)) != 0) {
			return (rv);
		}
	}
	if (*host == '[') {
		host_end = memchr(host, ']', (size_t) (end - host));
		if (host_end == NULL) {
			rv = NGHTTPW_EINVAL;
			goto fail;
		}
		host_end++;
	} else {
		host_end = host + strcspn(host, ":/?#");
		if (host_end > end) {
			host_end = end;
		}
	}
	if (host_end == host) {
		rv = NGHTTPW_EINVAL;
		goto fail;
	}
	if (host_end < end) {
		if (*host_end != ':') {
			rv = NGHTTPW_EINVAL;
			goto fail;
		}
		port = host_end + 1;
	}
	port_len = port != NULL ? (size_t) (end - port) : 0;
	if (port != NULL &&
	    (port_len == 0 || port_len > 5 || strspn(port, "0123456789") < port_len ||
	        atoi(port) == 0 || atoi(port) > 65535)) {
		rv = NGHTTPW_EINVAL;
		goto fail;
	}
	if ((p->host = strndup(host, (size_t) (host_end - host))) == NULL ||
	    (p->port = port != NULL ? strndup(port, port_len)
	                            : strdup(PROXY_DEFAULT_PORT)) == NULL) {
		rv = NGHTTPW_ENOMEM;
		goto fail;
	}
	return (0);
fail:
	http_proxy_fini(p);
	return (rv);
}

void
http_proxy_fini(http_proxy *p)
{
	free(p->host);
	free(p->port);
	free(p->auth_line);
	memset(p, 0, sizeof(*p));
}

/* An IPv4 or IPv6 address in text (s[0..len), brackets allowed) into
 * addr (16 bytes); its length in bytes (4 or 16), or 0 for a name. */
static size_t
addr_parse(const char *s, size_t len, unsigned char *addr)
{
	char buf[INET6_ADDRSTRLEN + 2];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf)) {
		return (0);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		return (4);
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		return (16);
	}
	return (0);
}

/* Whether the first bits of a and b agree. */
static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8;
	unsigned rest  = bits % 8;

	if (memcmp(a, b, bytes) != 0) {
		return (false);
	}
	if (rest == 0) {
		return (true);
	}
	unsigned char mask = (unsigned char) (0xffu << (8 - rest));
	return ((a[bytes] & mask) == (b[bytes] & mask));
}

/* One entry of the list, e[0..len), against host (h[0..hlen), no
 * brackets, no trailing dot). */
static bool
entry_match(const char *e, size_t len, const char *h, size_t hlen,
    const unsigned char *haddr, size_t haddr_len)
{
	const char   *slash = memchr(e, '/', len);
	unsigned char eaddr[16];
	size_t        elen;

	if (haddr_len > 0) {
		/* An address matches addresses and prefixes only. */
		elen = addr_parse(e, slash != NULL ? (size_t) (slash - e) : len, eaddr);
		if (elen != haddr_len) {
			return (false);
		}
		unsigned bits = (unsigned) elen * 8;
		if (slash != NULL) {
			size_t blen = len - (size_t) (slash - e) - 1;
			char   num[4];
			if (blen == 0 || blen > 3 ||
			    strspn(slash + 1, "0123456789") < blen) {
				return (false);
			}
			memcpy(num, slash + 1, blen);
			num[blen] = '\0';
			if ((unsigned) atoi(num) > bits) {
				return (false);
			}
			bits = (unsigned) atoi(num);
		}
		return (prefix_equal(eaddr, haddr, bits));
	}
	if (len > 0 && e[0] == '.') {
		e++;
		len--;
	}
	if (len > 0 && e[len - 1] == '.') {
		len--;
	}
	if (len == 0 || len > hlen) {
		return (false);
	}
	/* The name itself, or a subdomain: a dot before the match. */
	return (strncasecmp(h + hlen - len, e, len) == 0 &&
	    (hlen == len || h[hlen - len - 1] == '.'));
}

bool
http_no_proxy_match(const char *list, const char *host)
{
	static const char sep[] = ", \t";
	unsigned char     haddr[16];
	size_t            haddr_len;
	size_t            hlen;

	if (list == NULL || host == NULL) {
		return (false);
	}
	hlen = strlen(host);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	haddr_len = addr_parse(host, hlen, haddr);
	if (haddr_len == 0 && hlen > 0 && host[hlen - 1] == '.') {
		hlen--; /* "example.com." is example.com */
	}
	for (const char *e = list + strspn(list, sep); *e != '\0';
	     e += strspn(e, sep)) {
		size_t len = strcspn(e, sep);
		if ((len == 1 && e[0] == '*') ||
		    entry_match(e, len, host, hlen, haddr, haddr_len)) {
			return (true);
		}
		e += len;
	}
	return (false);
}

int
http_proxy_connect_req(
    const char *authority, const char *auth_line, char **reqp, size_t *lenp)
{
	const char *auth = auth_line != NULL ? auth_line : "";
	size_t      cap  = 2 * strlen(authority) + strlen(auth) + 64;
	char       *req;
	int         n;

	if ((req = malloc(cap)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	n = snprintf(req, cap, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
	    authority, authority, auth);
	*reqp = req;
	*lenp = (size_t) n;
	return (0);
}

long
http_proxy_connect_res(
    const char *buf, size_t len, size_t max, unsigned *status)
{
	const char *end = NULL;

	for (size_t i = 0; i + 3 < len; i++) {
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i + 4;
			break;
		}
	}
	if (end == NULL) {
		return (len >= max ? -1 : 0);
	}
	/* "HTTP/1.x NNN", NNN from 100 */
	*status = 0;
	if ((size_t) (end - buf) >= 13 && memcmp(buf, "HTTP/1.", 7) == 0 &&
	    isdigit((unsigned char) buf[7]) && buf[8] == ' ' &&
	    buf[9] >= '1' && buf[9] <= '9' && isdigit((unsigned char) buf[10]) &&
	    isdigit((unsigned char) buf[11]) &&
	    (buf[12] == ' ' || buf[12] == '\r')) {
		*status = (unsigned) ((buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
		    (buf[11] - '0'));
	}
	return ((long) (end - buf));
}
