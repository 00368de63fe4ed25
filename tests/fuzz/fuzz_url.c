/* Fuzz target: URL parsing.
 *
 * The input (made a C string: cut at its first NUL) goes to
 * nghttpw_url_parse.  A URL that parses must be consistent with itself
 * and with the input, survive nghttpw_url_clone unchanged, parse again to
 * the same fields when written back out from its parts, and make a
 * request (nghttpw_http_req_alloc) whose head is well-formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_msg.h"
#include "nghttpw/http.h"
#include "support.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	fz_runtime_init();
	return (0);
}

static const char *const schemes[] = { "http", "https", "ws", "wss", "ws4",
	"ws6", "wss4", "wss6", "tcp", "tcp4", "tcp6", "tls+tcp", "tls+tcp4",
	"tls+tcp6" };

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return (a == b);
	}
	return (strcmp(a, b) == 0);
}

static void
check_text(const char *what, const char *s)
{
	if (s == NULL) {
		return;
	}
	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++) {
		FZ_CHECK(*p > 0x20 && *p != 0x7f, "%s holds byte 0x%02x", what, *p);
	}
}

static void
check_same(const nghttpw_url *a, const nghttpw_url *b, bool raw)
{
	if (raw) {
		FZ_CHECK(str_eq(a->u_rawurl, b->u_rawurl), "rawurl [%s] [%s]",
		    a->u_rawurl, b->u_rawurl);
	}
	FZ_CHECK(str_eq(a->u_scheme, b->u_scheme), "scheme [%s] [%s]",
	    a->u_scheme, b->u_scheme);
	FZ_CHECK(str_eq(a->u_userinfo, b->u_userinfo), "userinfo [%s] [%s]",
	    a->u_userinfo ? a->u_userinfo : "(null)",
	    b->u_userinfo ? b->u_userinfo : "(null)");
	FZ_CHECK(str_eq(a->u_host, b->u_host), "host [%s] [%s]", a->u_host,
	    b->u_host);
	FZ_CHECK(str_eq(a->u_hostname, b->u_hostname), "hostname [%s] [%s]",
	    a->u_hostname, b->u_hostname);
	FZ_CHECK(str_eq(a->u_port, b->u_port), "port [%s] [%s]", a->u_port,
	    b->u_port);
	FZ_CHECK(str_eq(a->u_path, b->u_path), "path [%s] [%s]", a->u_path,
	    b->u_path);
	FZ_CHECK(str_eq(a->u_query, b->u_query), "query [%s] [%s]",
	    a->u_query ? a->u_query : "(null)", b->u_query ? b->u_query : "(null)");
	FZ_CHECK(str_eq(a->u_fragment, b->u_fragment), "fragment [%s] [%s]",
	    a->u_fragment ? a->u_fragment : "(null)",
	    b->u_fragment ? b->u_fragment : "(null)");
	FZ_CHECK(str_eq(a->u_requri, b->u_requri), "requri [%s] [%s]",
	    a->u_requri, b->u_requri);
}

static void
check_url(const nghttpw_url *u, const char *raw)
{
	size_t      hl;
	const char *h;
	bool        known = false;
	char       *requri;
	size_t      plen, qlen;

	FZ_CHECK(u->u_rawurl != NULL && strcmp(u->u_rawurl, raw) == 0,
	    "rawurl differs from the input");
	FZ_CHECK(u->u_scheme != NULL && u->u_host != NULL &&
	        u->u_hostname != NULL && u->u_port != NULL &&
	        u->u_path != NULL && u->u_requri != NULL,
	    "a mandatory field is NULL");
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		known = known || strcmp(u->u_scheme, schemes[i]) == 0;
	}
	FZ_CHECK(known, "scheme [%s]", u->u_scheme);

	check_text("host", u->u_host);
	check_text("hostname", u->u_hostname);
	check_text("userinfo", u->u_userinfo);
	check_text("port", u->u_port);
	check_text("path", u->u_path);
	check_text("query", u->u_query);
	check_text("fragment", u->u_fragment);
	check_text("requri", u->u_requri);

	/* Host: [hostname] or hostname, then :port only if one was given. */
	h  = u->u_host;
	hl = strlen(u->u_hostname);
	if (h[0] == '[') {
		FZ_CHECK(strncmp(h + 1, u->u_hostname, hl) == 0 && h[hl + 1] == ']',
		    "host [%s] is not [hostname] (%s)", h, u->u_hostname);
		h += hl + 2;
	} else {
		FZ_CHECK(strncmp(h, u->u_hostname, hl) == 0,
		    "host [%s] does not start with hostname [%s]", h,
		    u->u_hostname);
		FZ_CHECK(strchr(u->u_hostname, ':') == NULL,
		    "unbracketed hostname with a colon [%s]", u->u_hostname);
		h += hl;
	}
	if (*h != '\0') {
		FZ_CHECK(*h == ':' && strcmp(h + 1, u->u_port) == 0,
		    "host [%s] ends with [%s], port is [%s]", u->u_host, h,
		    u->u_port);
	}
	for (const char *p = u->u_port; *p != '\0'; p++) {
		FZ_CHECK(*p >= '0' && *p <= '9', "port [%s]", u->u_port);
	}
	/* Leading zeros are allowed (RFC 3986: port = *DIGIT). */
	FZ_CHECK(strtoul(u->u_port, NULL, 10) <= 65535, "port [%s]", u->u_port);
	/* http, https and every ws scheme (ws, wss, ws4, ...). */
	if (strcmp(u->u_scheme, "http") == 0 || strcmp(u->u_scheme, "https") == 0 ||
	    strncmp(u->u_scheme, "ws", 2) == 0) {
		FZ_CHECK(u->u_hostname[0] != '\0', "%s URL without a host",
		    u->u_scheme);
		FZ_CHECK(u->u_port[0] != '\0', "%s URL without a port", u->u_scheme);
	}
	for (const char *p = u->u_hostname; *p != '\0'; p++) {
		if (*p == '%') {
			break; /* escapes and an IPv6 zone keep their case */
		}
		FZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "hostname [%s] not lower case",
		    u->u_hostname);
	}

	/* Path, query and request URI. */
	FZ_CHECK(u->u_path[0] == '\0' || u->u_path[0] == '/', "path [%s]",
	    u->u_path);
	FZ_CHECK(strpbrk(u->u_path, "?#") == NULL, "path [%s]", u->u_path);
	FZ_CHECK(u->u_query == NULL || strchr(u->u_query, '#') == NULL,
	    "query [%s]", u->u_query);
	FZ_CHECK(u->u_requri[0] == '/', "requri [%s]", u->u_requri);
	plen   = strlen(u->u_path);
	qlen   = u->u_query != NULL ? strlen(u->u_query) : 0;
	requri = malloc(plen + qlen + 3);
	FZ_CHECK(requri != NULL, "out of memory");
	strcpy(requri, plen > 0 ? u->u_path : "/");
	if (u->u_query != NULL) {
		strcat(requri, "?");
		strcat(requri, u->u_query);
	}
	FZ_CHECK(strcmp(requri, u->u_requri) == 0, "requri [%s], expected [%s]",
	    u->u_requri, requri);
	free(requri);
}

/* The URL written back from its parts: parses to the same fields. */
static void
check_reparse(const nghttpw_url *u)
{
	size_t       len = strlen(u->u_rawurl) + 16;
	char        *s   = malloc(len);
	nghttpw_url *again;
	int          rv;

	FZ_CHECK(s != NULL, "out of memory");
	snprintf(s, len, "%s://%s%s%s%s%s%s%s", u->u_scheme,
	    u->u_userinfo != NULL ? u->u_userinfo : "",
	    u->u_userinfo != NULL ? "@" : "", u->u_host, u->u_path,
	    u->u_query != NULL ? "?" : "", u->u_query != NULL ? u->u_query : "",
	    u->u_fragment != NULL ? "#" : "");
	if (u->u_fragment != NULL) {
		FZ_CHECK(strlen(s) + strlen(u->u_fragment) < len,
		    "rebuilt URL longer than the input");
		strcat(s, u->u_fragment);
	}
	rv = nghttpw_url_parse(&again, s);
	FZ_CHECK(rv == 0, "[%s] rebuilt as [%s] does not parse: %d", u->u_rawurl,
	    s, rv);
	check_same(u, again, false);
	nghttpw_url_free(again);
	free(s);
}

/* A request for the URL: its URI and Host must be acceptable. */
static void
check_request(const nghttpw_url *u)
{
	nghttpw_http_req *req;
	const char       *head;
	size_t            len;
	int               rv;

	rv = nghttpw_http_req_alloc(&req, u);
	FZ_CHECK(rv == 0, "req_alloc for [%s]: %d", u->u_rawurl, rv);
	FZ_CHECK(strcmp(nghttpw_http_req_get_uri(req), u->u_requri) == 0,
	    "request URI [%s], requri [%s]", nghttpw_http_req_get_uri(req),
	    u->u_requri);
	FZ_CHECK(str_eq(nghttpw_http_req_get_header(req, "Host"), u->u_host),
	    "Host [%s], host [%s]", nghttpw_http_req_get_header(req, "Host"),
	    u->u_host);
	FZ_CHECK(nhw_http_req_get_head(req, &head, &len) == 0, "get_head");
	fz_check_head(head, len, nhw_http_req_msg(req));
	nghttpw_http_req_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char        *raw = malloc(size + 1);
	nghttpw_url *u, *clone;
	int          rv;

	FZ_CHECK(raw != NULL, "out of memory");
	memcpy(raw, data, size);
	raw[size] = '\0';

	rv = nghttpw_url_parse(&u, raw);
	if (rv != 0) {
		FZ_CHECK(rv == NGHTTPW_EINVAL, "url_parse: %d", rv);
		free(raw);
		return (0);
	}
	FZ_LOG("parsed: scheme [%s] host [%s] hostname [%s] port [%s] path [%s] "
	       "requri [%s]\n",
	    u->u_scheme, u->u_host, u->u_hostname, u->u_port, u->u_path,
	    u->u_requri);
	check_url(u, raw);

	rv = nghttpw_url_clone(&clone, u);
	FZ_CHECK(rv == 0, "url_clone: %d", rv);
	check_same(u, clone, true);
	check_url(clone, raw);
	/* The clone stands alone. */
	nghttpw_url_free(u);
	check_reparse(clone);
	check_request(clone);
	nghttpw_url_free(clone);
	free(raw);
	return (0);
}
