/* Fuzz target: URL parsing.
 *
 * The input (made a C string: cut at its first NUL) goes to
 * nghttpw_url_parse.  A URL that parses must be consistent with itself
 * and with the input, canonical (as nng's are), survive nghttpw_url_clone
 * unchanged, parse again to the same fields when written back out from
 * its parts, and make a request (nghttpw_http_req_alloc) whose head is
 * well-formed and whose target has no fragment.
 */
#include <stdint.h>
#include <stdio.h>
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

static const char *const defaulted[] = { "http", "https", "ws", "wss",
	"ws4", "ws6", "wss4", "wss6", "http6", "ssh", "git" };

/* RFC 3986 scheme, in lower case. */
static bool
scheme_ok(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z')) {
		return (false);
	}
	for (; *s != '\0'; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		        *s == '+' || *s == '-' || *s == '.')) {
			return (false);
		}
	}
	return (true);
}

/* A canonical path: no empty, "." or ".." segment. */
static void
check_path(const char *path)
{
	FZ_CHECK(path[0] == '\0' || path[0] == '/', "path [%s]", path);
	FZ_CHECK(strpbrk(path, "?#") == NULL, "path [%s]", path);
	FZ_CHECK(strstr(path, "//") == NULL, "path [%s]", path);
	for (const char *p = path; (p = strchr(p, '/')) != NULL; p++) {
		size_t n = strcspn(p + 1, "/");
		FZ_CHECK(!(n == 1 && p[1] == '.') &&
		        !(n == 2 && p[1] == '.' && p[2] == '.'),
		    "path [%s] has a dot segment", path);
	}
}

/* No escape that canonicalising decodes, and upper-case hex in others. */
static void
check_escapes(const char *what, const char *s)
{
	for (; s != NULL && (s = strchr(s, '%')) != NULL; s++) {
		unsigned v;
		FZ_CHECK(sscanf(s + 1, "%2X", &v) == 1, "%s: bad escape", what);
		FZ_CHECK(!(s[1] >= 'a' && s[1] <= 'f') &&
		        !(s[2] >= 'a' && s[2] <= 'f'),
		    "%s: lower-case escape [%.3s]", what, s);
		FZ_CHECK(v < 0x80 &&
		        !((v >= 'a' && v <= 'z') || (v >= 'A' && v <= 'Z') ||
		            (v >= '0' && v <= '9') || v == '-' || v == '.' ||
		            v == '_' || v == '~'),
		    "%s: escape [%.3s] should be decoded", what, s);
	}
}

static void
check_url(const nghttpw_url *u, const char *raw)
{
	size_t      hl;
	const char *h;
	char       *requri;
	size_t      plen, qlen, flen;

	FZ_CHECK(u->u_rawurl != NULL && strcmp(u->u_rawurl, raw) == 0,
	    "rawurl differs from the input");
	FZ_CHECK(u->u_scheme != NULL && u->u_host != NULL &&
	        u->u_hostname != NULL && u->u_port != NULL &&
	        u->u_path != NULL && u->u_requri != NULL,
	    "a mandatory field is NULL");
	FZ_CHECK(scheme_ok(u->u_scheme), "scheme [%s]", u->u_scheme);

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
		FZ_CHECK(strcmp(u->u_hostname, "*") != 0, "hostname is *");
		h += hl;
	}
	if (*h != '\0') {
		FZ_CHECK(*h == ':' && strcmp(h + 1, u->u_port) == 0,
		    "host [%s] ends with [%s], port is [%s]", u->u_host, h,
		    u->u_port);
		FZ_CHECK(h[1] != '\0', "host [%s] with an empty port", u->u_host);
	}
	for (const char *p = u->u_port; *p != '\0'; p++) {
		FZ_CHECK(*p >= '0' && *p <= '9', "port [%s]", u->u_port);
	}
	/* Leading zeros are allowed (RFC 3986: port = *DIGIT). */
	FZ_CHECK(strtoul(u->u_port, NULL, 10) <= 65535, "port [%s]", u->u_port);
	/* These schemes (among others) have a default port. */
	for (size_t i = 0; i < sizeof(defaulted) / sizeof(defaulted[0]); i++) {
		FZ_CHECK(strcmp(u->u_scheme, defaulted[i]) != 0 ||
		        u->u_port[0] != '\0',
		    "%s URL without a port", u->u_scheme);
	}
	for (const char *p = u->u_host; *p != '\0'; p++) {
		FZ_CHECK(!(*p >= 'A' && *p <= 'Z'), "host [%s] not lower case",
		    u->u_host);
	}

	/* Path, query, fragment and request URI, canonical. */
	check_path(u->u_path);
	check_escapes("path", u->u_path);
	check_escapes("query", u->u_query);
	check_escapes("fragment", u->u_fragment);
	FZ_CHECK(u->u_query == NULL || strchr(u->u_query, '#') == NULL,
	    "query [%s]", u->u_query);
	plen   = strlen(u->u_path);
	qlen   = u->u_query != NULL ? strlen(u->u_query) : 0;
	flen   = u->u_fragment != NULL ? strlen(u->u_fragment) : 0;
	requri = malloc(plen + qlen + flen + 3);
	FZ_CHECK(requri != NULL, "out of memory");
	strcpy(requri, u->u_path);
	if (u->u_query != NULL) {
		strcat(requri, "?");
		strcat(requri, u->u_query);
	}
	if (u->u_fragment != NULL) {
		strcat(requri, "#");
		strcat(requri, u->u_fragment);
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
	snprintf(s, len, "%s://%s%s%s%s", u->u_scheme,
	    u->u_userinfo != NULL ? u->u_userinfo : "",
	    u->u_userinfo != NULL ? "@" : "", u->u_host, u->u_requri);
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
	const char       *target;
	size_t            len;
	int               rv;

	rv = nghttpw_http_req_alloc(&req, u);
	FZ_CHECK(rv == 0, "req_alloc for [%s]: %d", u->u_rawurl, rv);
	target = nghttpw_http_req_get_uri(req);
	FZ_CHECK(target[0] == '/' && strchr(target, '#') == NULL,
	    "request URI [%s], requri [%s]", target, u->u_requri);
	for (const char *p = target; *p != '\0'; p++) {
		FZ_CHECK((unsigned char) *p < 0x80, "request URI [%s] not ASCII",
		    target);
	}
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
