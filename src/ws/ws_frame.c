/* WebSocket frame heads, masking, UTF-8 and close codes. */
#include <string.h>

#include "ws/ws_frame.h"

int
ws_head_parse(const uint8_t *buf, size_t n, bool rsv1_ok, ws_head *h)
{
	size_t need = 2;
	size_t lenlen;

	if (n < 2) {
		return (0);
	}
	h->fin    = (buf[0] & 0x80) != 0;
	h->opcode = buf[0] & 0x0f;
	h->masked = (buf[1] & 0x80) != 0;
	h->len    = buf[1] & 0x7f;
	h->rsv1   = (buf[0] & 0x40) != 0;
	if ((buf[0] & 0x30) != 0 || (h->rsv1 && !rsv1_ok)) {
		return (-1002); /* no extension uses them */
	}
	switch (h->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!h->fin || h->rsv1 || h->len > WS_CONTROL_MAX) {
			return (-1002);
		}
		break;
	default:
		return (-1002);
	}
	lenlen = h->len == 126 ? 2 : h->len == 127 ? 8 : 0;
	need += lenlen + (h->masked ? 4 : 0);
	if (n < need) {
		return (0);
	}
	if (lenlen == 2) {
		h->len = ((uint64_t) buf[2] << 8) | buf[3];
		if (h->len < 126) {
			return (-1002);
		}
	} else if (lenlen == 8) {
		h->len = 0;
		for (int i = 0; i < 8; i++) {
			h->len = (h->len << 8) | buf[2 + i];
		}
		if (h->len < 65536 || (h->len >> 63) != 0) {
			return (-1002);
		}
	}
	if (h->masked) {
		memcpy(h->mask, buf + 2 + lenlen, 4);
	}
	return ((int) need);
}

size_t
ws_head_write(uint8_t *out, bool fin, bool rsv1, uint8_t opcode,
    uint64_t len, const uint8_t *mask)
{
	size_t n = 2;

	out[0] = (uint8_t) ((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode);
	if (len < 126) {
		out[1] = (uint8_t) len;
	} else if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t) (len >> 8);
		out[3] = (uint8_t) len;
		n      = 4;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++) {
			out[2 + i] = (uint8_t) (len >> (56 - 8 * i));
		}
		n = 10;
	}
	if (mask != NULL) {
		out[1] |= 0x80;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return (n);
}

unsigned
ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
    const uint8_t mask[4], unsigned phase)
{
	uint8_t  rot[8];
	uint64_t key;
	size_t   i = 0;

	phase &= 3;
	/* The key as it lines up from this phase, twice: a 64-bit word. */
	for (int k = 0; k < 8; k++) {
		rot[k] = mask[(phase + (unsigned) k) & 3];
	}
	memcpy(&key, rot, sizeof(key));
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, src + i, sizeof(w));
		w ^= key;
		memcpy(dst + i, &w, sizeof(w));
	}
	for (; i < n; i++) {
		dst[i] = src[i] ^ rot[i & 7];
	}
	return ((unsigned) ((phase + n) & 3));
}

/* The state: continuation bytes still expected (bits 0-7), and the range
 * the next one must fall in (low bound bits 8-15, high bound 16-23); the
 * range is narrower than 80..BF right after some lead bytes, which is
 * how overlongs, surrogates and values past U+10FFFF are refused. */
static uint32_t
utf8_expect(unsigned left, unsigned lo, unsigned hi)
{
	return ((uint32_t) left | ((uint32_t) lo << 8) | ((uint32_t) hi << 16));
}

bool
ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t n)
{
	uint32_t st = u->state;
	size_t   i  = 0;

	while (i < n) {
		uint8_t c = p[i];
		if (st == 0) {
			/* Runs of ASCII, 8 bytes at a time. */
			uint64_t w;
			if (i + 8 <= n && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ull) == 0)) {
				i += 8;
				continue;
			}
			i++;
			if (c < 0x80) {
				continue;
			} else if (c >= 0xc2 && c <= 0xdf) {
				st = utf8_expect(1, 0x80, 0xbf);
			} else if (c == 0xe0) {
				st = utf8_expect(2, 0xa0, 0xbf);
			} else if (c == 0xed) {
				st = utf8_expect(2, 0x80, 0x9f);
			} else if (c >= 0xe1 && c <= 0xef) {
				st = utf8_expect(2, 0x80, 0xbf);
			} else if (c == 0xf0) {
				st = utf8_expect(3, 0x90, 0xbf);
			} else if (c >= 0xf1 && c <= 0xf3) {
				st = utf8_expect(3, 0x80, 0xbf);
			} else if (c == 0xf4) {
				st = utf8_expect(3, 0x80, 0x8f);
			} else {
				u->state = st;
				return (false);
			}
			continue;
		}
		if (c < ((st >> 8) & 0xff) || c > ((st >> 16) & 0xff)) {
			u->state = st;
			return (false);
		}
		i++;
		st = (st & 0xff) - 1;
		st = st == 0 ? 0 : utf8_expect(st, 0x80, 0xbf);
	}
	u->state = st;
	return (true);
}

bool
ws_close_code_valid(uint16_t code)
{
	return ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	    (code >= 3000 && code <= 4999));
}
