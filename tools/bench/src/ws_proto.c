/* The client side of RFC 6455 for ws_loadgen; see ws_proto.h. */
#define _GNU_SOURCE
#include "ws_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* The value of header field name in head (NUL-terminated), copied to out;
 * false when absent. */
static bool
field(const char *head, const char *name, char *out, size_t cap)
{
	size_t      nl = strlen(name);
	const char *p  = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");
			size_t      n;
			while (*v == ' ' || *v == '\t') {
				v++;
			}
			n = (size_t) (e - v);
			if (n >= cap) {
				n = cap - 1;
			}
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

static int
check_accept(const char *key, const char *got)
{
	char          cat[96];
	unsigned char sha[20], want[32];
	size_t        n;

	snprintf(cat, sizeof(cat), "%s%s", key, ws_guid);
#if MBEDTLS_VERSION_MAJOR >= 3
	mbedtls_sha1((const unsigned char *) cat, strlen(cat), sha);
#else
	mbedtls_sha1_ret((const unsigned char *) cat, strlen(cat), sha);
#endif
	mbedtls_base64_encode(want, sizeof(want), &n, sha, sizeof(sha));
	return strcmp((char *) want, got) == 0 ? 0 : -1;
}

/* "permessage-deflate; server_no_context_takeover; client_max_window_bits=10" */
static void
parse_deflate(const char *v, struct ws_deflate_params *dp)
{
	memset(dp, 0, sizeof(*dp));
	snprintf(dp->agreed, sizeof(dp->agreed), "%s", v);
	dp->server_max_window_bits = dp->client_max_window_bits = 15;
	if (strncasecmp(v, "permessage-deflate", 18) != 0) {
		return;
	}
	dp->on = true;
	for (const char *p = strchr(v, ';'); p != NULL; p = strchr(p + 1, ';')) {
		const char *q = p + 1;
		while (*q == ' ') {
			q++;
		}
		if (strncasecmp(q, "server_no_context_takeover", 26) == 0) {
			dp->server_no_context_takeover = true;
		} else if (strncasecmp(q, "client_no_context_takeover", 26) == 0) {
			dp->client_no_context_takeover = true;
		} else if (strncasecmp(q, "server_max_window_bits=", 23) == 0) {
			dp->server_max_window_bits = atoi(q + 23 + (q[23] == '"'));
		} else if (strncasecmp(q, "client_max_window_bits=", 23) == 0) {
			dp->client_max_window_bits = atoi(q + 23 + (q[23] == '"'));
		}
	}
}

int
ws_handshake(int fd, int port, const char *offer, struct ws_deflate_params *dp,
    uint8_t *extra, size_t extra_cap, size_t *extra_len)
{
	unsigned char nonce[16], key[32];
	char          req[512], head[4096], val[256];
	size_t        klen, len = 0;
	int           n;
	char         *end;

	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce)) {
		return -1;
	}
	mbedtls_base64_encode(key, sizeof(key), &klen, nonce, sizeof(nonce));
	n = snprintf(req, sizeof(req),
	    "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
	    port, key, offer ? "Sec-WebSocket-Extensions: " : "", offer ? offer : "",
	    offer ? "\r\n" : "");
	if (write(fd, req, (size_t) n) != n) {
		perror("ws_loadgen: handshake write");
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, head + len, sizeof(head) - 1 - len);
		if (r <= 0) {
			fprintf(stderr, "ws_loadgen: handshake read: %s\n",
			    r == 0 ? "connection closed" : strerror(errno));
			return -1;
		}
		len += (size_t) r;
		head[len] = '\0';
		if ((end = strstr(head, "\r\n\r\n")) != NULL) {
			break;
		}
		if (len == sizeof(head) - 1) {
			fprintf(stderr, "ws_loadgen: handshake answer too long\n");
			return -1;
		}
	}
	end += 4;
	*extra_len = len - (size_t) (end - head);
	if (*extra_len > extra_cap) {
		return -1;
	}
	memcpy(extra, end, *extra_len);
	end[-2] = '\0'; /* keep the last field's CRLF for field() */
	if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
		fprintf(stderr, "ws_loadgen: not upgraded: %.*s\n",
		    (int) strcspn(head, "\r\n"), head);
		return -1;
	}
	if (!field(head, "Sec-WebSocket-Accept", val, sizeof(val)) ||
	    check_accept((char *) key, val) != 0) {
		fprintf(stderr, "ws_loadgen: bad Sec-WebSocket-Accept\n");
		return -1;
	}
	if (dp != NULL) {
		parse_deflate(field(head, "Sec-WebSocket-Extensions", val, sizeof(val))
		        ? val : "", dp);
	}
	return 0;
}

size_t
ws_header(uint8_t *h, int opcode, bool fin, bool rsv1, size_t len, uint32_t mask)
{
	size_t n = 2;

	h[0] = (uint8_t) ((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
	if (len < 126) {
		h[1] = (uint8_t) (0x80 | len);
	} else if (len <= 0xffff) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t) (len >> 8);
		h[3] = (uint8_t) len;
		n    = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++) {
			h[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
		}
		n = 10;
	}
	/* The key in memory order: ws_mask uses the same bytes. */
	memcpy(h + n, &mask, 4);
	return n + 4;
}

void
ws_mask(uint8_t *dst, const uint8_t *src, size_t n, uint32_t mask)
{
	uint64_t m8 = (uint64_t) mask | ((uint64_t) mask << 32);
	uint8_t  mb[4];
	size_t   i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, src + i, 8);
		w ^= m8;
		memcpy(dst + i, &w, 8);
	}
	memcpy(mb, &mask, 4);
	for (; i < n; i++) {
		dst[i] = src[i] ^ mb[i & 3];
	}
}

uint32_t
ws_next_key(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t) ((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Header size once its first two bytes are known. */
static size_t
header_size(const uint8_t *h)
{
	size_t n = 2;
	if ((h[1] & 0x7f) == 126) {
		n += 2;
	} else if ((h[1] & 0x7f) == 127) {
		n += 8;
	}
	return n + ((h[1] & 0x80) ? 4 : 0);
}

int
ws_rx_feed(struct ws_rx *rx, const uint8_t *buf, size_t n, ws_payload_fn fn, void *arg)
{
	while (n > 0 || (rx->in_frame && rx->left == 0)) {
		if (!rx->in_frame) {
			size_t want = rx->hlen < 2 ? 2 : header_size(rx->hdr);
			while (rx->hlen < want && n > 0) {
				rx->hdr[rx->hlen++] = *buf++;
				n--;
				if (rx->hlen == 2) {
					want = header_size(rx->hdr);
				}
			}
			if (rx->hlen < want) {
				return 0;
			}
			if (rx->hdr[1] & 0x80) {
				fprintf(stderr, "ws_loadgen: the server masked a frame\n");
				return -1;
			}
			rx->opcode = rx->hdr[0] & 0x0f;
			rx->fin    = (rx->hdr[0] & 0x80) != 0;
			rx->rsv1   = (rx->hdr[0] & 0x40) != 0;
			rx->left   = rx->hdr[1] & 0x7f;
			if (rx->left == 126) {
				rx->left = (uint64_t) rx->hdr[2] << 8 | rx->hdr[3];
			} else if (rx->left == 127) {
				rx->left = 0;
				for (int i = 0; i < 8; i++) {
					rx->left = rx->left << 8 | rx->hdr[2 + i];
				}
			}
			rx->in_frame = true;
		}
		size_t take = rx->left < n ? (size_t) rx->left : n;
		rx->left -= take;
		bool end = rx->left == 0;
		if (end) {
			rx->in_frame = false;
			rx->hlen     = 0;
		}
		if (fn(arg, rx, buf, take, end) != 0) {
			return -1;
		}
		buf += take;
		n -= take;
	}
	return 0;
}
