/* Fuzz target: trusted-proxy lists and the forwarding fields
 * (src/http/http_forwarded.c).
 *
 * The input is lines: a trusted list, then Forwarded, X-Forwarded-For and
 * X-Forwarded-Proto values (a missing line: no field).  The list must
 * parse or be refused; the client found must be the peer or an IPv4 or
 * IPv6 address, the peer whenever the peer is not trusted, and the
 * scheme NULL, "http" or "https".
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_forwarded.h"
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "Forwarded", "X-Forwarded-For",
		"X-Forwarded-Proto" };
	char             *text = malloc(size + 1);
	char             *line[4] = { NULL, NULL, NULL, NULL };
	http_trust       *t;
	nghttpw_http_req *req;
	nghttpw_sockaddr  peer, client;
	const char       *scheme;
	int               n = 0;

	FZ_CHECK(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	for (char *p = text; p != NULL && n < 4; n++) {
		line[n] = p;
		if ((p = strchr(p, '\n')) != NULL) {
			*p++ = '\0';
		}
	}
	if (http_trust_parse(line[0], &t) != 0 ||
	    nghttpw_http_req_alloc(&req, NULL) != 0) {
		free(text);
		return (0);
	}
	for (int i = 1; i < n; i++) {
		/* Values a parser would refuse are not set: no such field. */
		(void) nghttpw_http_req_set_header(req, names[i - 1], line[i]);
	}
	memset(&peer, 0, sizeof(peer));
	peer.s_in.sa_family = NGHTTPW_AF_INET;
	peer.s_in.sa_addr   = htonl(0x7f000001);
	http_trust_client(t, req, &peer, &client);
	FZ_CHECK(client.s_family == NGHTTPW_AF_INET ||
	        client.s_family == NGHTTPW_AF_INET6,
	    "family %u", (unsigned) client.s_family);
	if (t == NULL) {
		FZ_CHECK(memcmp(&client, &peer, sizeof(peer)) == 0,
		    "a client other than the peer without trust");
	}
	scheme = http_trust_scheme(t, req, &peer);
	FZ_CHECK(scheme == NULL || strcmp(scheme, "http") == 0 ||
	        strcmp(scheme, "https") == 0,
	    "scheme %s", scheme);
	nghttpw_http_req_free(req);
	http_trust_release(t);
	free(text);
	return (0);
}
