/* The client's side of RFC 6455 for ws_soak; see ws_wire.h. */
#define _GNU_SOURCE
#include "ws_wire.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <mbedtls/version.h>

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

size_t
ws_request(char *req, size_t cap, const char *host, int port, const char *path,
    char *key)
{
	unsigned char nonce[16];
	size_t        klen;
	int           n;

	if (getrandom(nonce, sizeof(nonce), 0) != sizeof(nonce) ||
	    mbedtls_base64_encode((unsigned char *) key, WS_KEY_LEN + 1, &klen,
	        nonce, sizeof(nonce)) != 0) {
		return 0;
	}
	n = snprintf(req, cap,
	    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n",
	    path, host, port, key);
	return n > 0 && (size_t) n < cap ? (size_t) n : 0;
}

/* Whether the head (NUL-terminated, fields ended by CRLF) has the field
 * name with exactly the value want. */
static bool
has_field(const char *head, const char *name, const char *want)
{
	size_t      nl = strlen(name), wl = strlen(want);
	const char *p  = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r' && p[2] != '\0') {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t') {
				v++;
			}
			return strncmp(v, want, wl) == 0 &&
			    (v[wl] == '\r' || v[wl] == ' ' || v[wl] == '\t');
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

long
ws_answer(const char *head, size_t len, const char *key)
{
	char          cat[WS_KEY_LEN + sizeof(ws_guid)];
	char          buf[WS_HEAD_MAX + 1];
	unsigned char sha[20], accept[32];
	size_t        alen;
	const char   *end;

	if (len > WS_HEAD_MAX) {
		len = WS_HEAD_MAX;
	}
	memcpy(buf, head, len);
	buf[len] = '\0';
	if ((end = strstr(buf, "\r\n\r\n")) == NULL) {
		return len == WS_HEAD_MAX ? -1 : 0;
	}
	if (strncmp(buf, "HTTP/1.1 101 ", 13) != 0) {
		return -1;
	}
	snprintf(cat, sizeof(cat), "%s%s", key, ws_guid);
#if MBEDTLS_VERSION_MAJOR >= 3
	mbedtls_sha1((const unsigned char *) cat, strlen(cat), sha);
#else
	mbedtls_sha1_ret((const unsigned char *) cat, strlen(cat), sha);
#endif
	if (mbedtls_base64_encode(accept, sizeof(accept), &alen, sha, sizeof(sha)) != 0 ||
	    !has_field(buf, "Sec-WebSocket-Accept", (const char *) accept)) {
		return -1;
	}
	return (long) (end + 4 - buf);
}

size_t
ws_frame(uint8_t *out, int opcode, bool fin, const void *payload, size_t len,
    uint32_t mask)
{
	const uint8_t *src = payload;
	uint8_t        key[4];
	size_t         n = 2;

	out[0] = (uint8_t) ((fin ? 0x80 : 0) | opcode);
	if (len < 126) {
		out[1] = (uint8_t) (0x80 | len);
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t) (len >> 8);
		out[3] = (uint8_t) len;
		n      = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++) {
			out[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
		}
		n = 10;
	}
	memcpy(key, &mask, 4);
	memcpy(out + n, key, 4);
	n += 4;
	for (size_t i = 0; i < len; i++) {
		out[n + i] = src[i] ^ key[i & 3];
	}
	return n + len;
}

uint32_t
ws_next_key(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint32_t) ((*s * 0x2545F4914F6CDD1DULL) >> 32);
}

/* The header's size once its first two bytes are known. */
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

/* The header is whole: checks it and sets up the frame. */
static int
begin_frame(ws_rx *rx)
{
	const uint8_t *h = rx->hdr;

	if ((h[1] & 0x80) != 0 || (h[0] & 0x70) != 0) {
		return -1; /* masked, or reserved bits without extensions */
	}
	rx->opcode = h[0] & 0x0f;
	rx->fin    = (h[0] & 0x80) != 0;
	rx->left   = h[1] & 0x7f;
	if (rx->left == 126) {
		rx->left = (uint64_t) h[2] << 8 | h[3];
	} else if (rx->left == 127) {
		rx->left = 0;
		for (int i = 0; i < 8; i++) {
			rx->left = rx->left << 8 | h[2 + i];
		}
	}
	if (rx->opcode >= 8 && (!rx->fin || rx->left > sizeof(rx->ctl))) {
		return -1;
	}
	rx->ctl_len = 0;
	return 0;
}

int
ws_rx_feed(ws_rx *rx, const uint8_t *buf, size_t n, const ws_rx_fns *fns, void *arg)
{
	for (;;) {
		if (rx->hwant == 0 || rx->hlen < rx->hwant) {
			if (n == 0) {
				return 0;
			}
			rx->hdr[rx->hlen++] = *buf++;
			n--;
			if (rx->hlen == 2) {
				rx->hwant = header_size(rx->hdr);
			}
			if (rx->hlen < 2 || rx->hlen < rx->hwant) {
				continue;
			}
			if (begin_frame(rx) != 0) {
				return -1;
			}
		}
		/* In the payload (possibly empty). */
		size_t take = rx->left < n ? (size_t) rx->left : n;
		rx->left -= take;
		bool end = rx->left == 0;
		if (rx->opcode >= 8) {
			memcpy(rx->ctl + rx->ctl_len, buf, take);
			rx->ctl_len += take;
			if (end && fns->on_control(arg, rx->opcode, rx->ctl, rx->ctl_len) != 0) {
				return -2;
			}
		} else if ((take > 0 || end) &&
		    fns->on_data(arg, rx->opcode, rx->fin, buf, take, end) != 0) {
			return -2;
		}
		buf += take;
		n -= take;
		if (end) {
			rx->hlen = rx->hwant = 0;
		} else {
			return 0; /* n is 0: wait for more */
		}
	}
}
