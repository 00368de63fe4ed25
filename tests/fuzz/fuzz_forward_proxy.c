/* Fuzz target: the client's forward proxies (src/http/http_proxy.c).
 *
 * The input is lines: a proxy URL, a no_proxy list, a host; the rest is
 * a proxy's answer to CONNECT.  The URL must parse into a host, a port of
 * 1 to 65535 and a Basic line, or be refused with EINVAL or ENOTSUP; the
 * list matches or not ("*" matches every host); the answer's head is
 * found within the bytes given, with a status of three digits or none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_proxy.h"
#include "nghttpw/nghttpw.h"
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

static void
check_url(const char *url)
{
	http_proxy p;
	int        rv = http_proxy_parse(url, &p);

	FZ_CHECK(rv == 0 || rv == NGHTTPW_EINVAL || rv == NGHTTPW_ENOTSUP,
	    "parse: %d", rv);
	if (rv != 0) {
		return;
	}
	FZ_CHECK(p.host != NULL && p.host[0] != '\0', "no host");
	FZ_CHECK(strpbrk(p.host, "/@?#") == NULL, "host '%s'", p.host);
	int port = atoi(p.port);
	FZ_CHECK(port >= 1 && port <= 65535 &&
	        strspn(p.port, "0123456789") == strlen(p.port),
	    "port '%s'", p.port);
	if (p.auth_line != NULL) {
		size_t n = strlen(p.auth_line);
		FZ_CHECK(n >= 2 && strcmp(p.auth_line + n - 2, "\r\n") == 0 &&
		        strchr(p.auth_line, '\n') == p.auth_line + n - 1,
		    "auth line");
	}
	http_proxy_fini(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char    *text = malloc(size + 1);
	char    *line[3] = { "", "", "" };
	char    *rest = NULL;
	size_t   rest_len = 0;
	unsigned status;
	long     head;
	int      n = 0;

	FZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *p = text; p != NULL && n < 3; n++) {
		line[n] = p;
		if ((p = memchr(p, '\n', size - (size_t) (p - text))) != NULL) {
			*p++ = '\0';
			rest = p;
		} else {
			rest = NULL;
		}
	}
	check_url(line[0]);
	(void) http_no_proxy_match(line[1], line[2]);
	FZ_CHECK(http_no_proxy_match("*", line[2]), "* must match");
	if (rest != NULL) {
		rest_len = size - (size_t) (rest - text);
		status   = 1;
		head     = http_proxy_connect_res(rest, rest_len, 4096, &status);
		FZ_CHECK(head >= -1 && head <= (long) rest_len, "head %ld", head);
		FZ_CHECK(head <= 0 || status == 0 || (status >= 100 && status <= 999),
		    "status %u", status);
		FZ_CHECK(head != -1 || rest_len >= 4096, "gave up early");
	}
	free(text);
	return (0);
}
