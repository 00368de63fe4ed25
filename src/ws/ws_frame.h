/* The WebSocket frame format (RFC 6455 section 5): frame heads, masking,
 * UTF-8 checking and close codes.  Pure functions, no I/O. */
#ifndef NGHTTPW_WS_FRAME_H
#define NGHTTPW_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WS_OP_CONT   = 0x0,
	WS_OP_TEXT   = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE  = 0x8,
	WS_OP_PING   = 0x9,
	WS_OP_PONG   = 0xA,
};

#define WS_HEAD_MAX 14     /* 2 + 8 (length) + 4 (mask) */
#define WS_CONTROL_MAX 125 /* payload of a control frame */

typedef struct ws_head {
	bool     fin;
	bool     rsv1; /* permessage-deflate: a compressed message */
	uint8_t  opcode;
	bool     masked;
	uint8_t  mask[4];
	uint64_t len;
} ws_head;

static inline bool
ws_op_is_control(uint8_t op)
{
	return ((op & 0x8) != 0);
}

/* Parses a frame head from the n bytes at buf.  Returns the head's length
 * (2 to 14) with *h filled, 0 when more bytes are needed, or minus the
 * close code that the head earns (-1002: reserved bits other than RSV1
 * where rsv1_ok, RSV1 on a control frame, an unknown opcode, a length not
 * in its shortest form or with the top bit set, a control frame that is
 * fragmented or longer than 125 bytes). */
int ws_head_parse(const uint8_t *buf, size_t n, bool rsv1_ok, ws_head *h);

/* Writes a frame head into out (WS_HEAD_MAX bytes) and returns its
 * length; mask is NULL for an unmasked frame. */
size_t ws_head_write(uint8_t *out, bool fin, bool rsv1, uint8_t opcode,
    uint64_t len, const uint8_t *mask);

/* XORs n bytes from src into dst (which may be src) with mask, starting
 * at phase (the offset within the frame's payload, modulo 4), a word at a
 * time.  Returns the phase after the last byte. */
unsigned ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n,
    const uint8_t mask[4], unsigned phase);

/* An incremental UTF-8 check (RFC 3629: no overlongs, surrogates or
 * values past U+10FFFF), fed piece by piece across frames. */
typedef struct ws_utf8 {
	uint32_t state; /* 0: at a character boundary */
} ws_utf8;

/* false as soon as the bytes so far cannot begin valid UTF-8. */
bool ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t n);

/* Whether the text ended on a character boundary. */
static inline bool
ws_utf8_done(const ws_utf8 *u)
{
	return (u->state == 0);
}

/* Whether a close code received from a peer is one it may send: 1000 to
 * 1003, 1007 to 1014, 3000 to 4999. */
bool ws_close_code_valid(uint16_t code);

#endif
