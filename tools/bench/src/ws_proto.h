/*
 * The client side of RFC 6455 for the WebSocket load generator: the
 * opening handshake over a blocking socket, frame headers, masking and a
 * frame parser that works on whatever the socket returned.  Written for
 * speed on the generator's side, so that the server is what is measured.
 */
#ifndef WS_PROTO_H
#define WS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { WS_OP_CONT = 0, WS_OP_TEXT = 1, WS_OP_BINARY = 2, WS_OP_CLOSE = 8,
	WS_OP_PING = 9, WS_OP_PONG = 10 };

#define WS_MAX_HEADER 14 /* 2 + 8 (length) + 4 (mask) */

/* What the server agreed to in its Sec-WebSocket-Extensions, if any. */
struct ws_deflate_params {
	bool on;
	bool server_no_context_takeover;
	bool client_no_context_takeover;
	int  server_max_window_bits; /* 15 unless the server said less */
	int  client_max_window_bits;
	char agreed[256]; /* the server's Sec-WebSocket-Extensions, as sent */
};

/* Sends the upgrade request for "/" on fd (blocking, with a receive
 * timeout set by the caller), reads the 101 answer and checks its
 * Sec-WebSocket-Accept.  offer: the Sec-WebSocket-Extensions value, or
 * NULL.  Bytes read beyond the answer's head (frames the server sent at
 * once) are copied to extra (room for extra_cap), their number to
 * *extra_len.  0 on success, -1 (with a message on stderr) otherwise. */
int ws_handshake(int fd, int port, const char *offer,
    struct ws_deflate_params *dp, uint8_t *extra, size_t extra_cap,
    size_t *extra_len);

/* A masked frame's header for a payload of len bytes; returns its size. */
size_t ws_header(uint8_t *h, int opcode, bool fin, bool rsv1, size_t len,
    uint32_t mask);

/* dst = src ^ mask (the key repeated), 8 bytes at a time. */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, uint32_t mask);

/* A fast generator of masking keys: RFC 6455 wants them unpredictable to
 * the page's script, which a load generator does not have. */
uint32_t ws_next_key(uint64_t *state);

/* A frame parser.  Feed it the bytes as they come; it calls back with the
 * payload of each data or control frame, in pieces. */
struct ws_rx {
	uint8_t  hdr[WS_MAX_HEADER];
	size_t   hlen;     /* header bytes gathered */
	uint64_t left;     /* payload bytes of the current frame still due */
	int      opcode;   /* of the current frame */
	bool     fin;
	bool     rsv1;
	bool     in_frame; /* the header is complete */
};

/* on_payload(arg, rx, data, n, frame_end): a piece of the current frame's
 * payload (n may be 0 for an empty frame).  Returns non-zero to stop.
 * ws_rx_feed returns -1 on a malformed frame or when on_payload stopped. */
typedef int (*ws_payload_fn)(void *arg, const struct ws_rx *rx,
    const uint8_t *data, size_t n, bool frame_end);
int ws_rx_feed(struct ws_rx *rx, const uint8_t *buf, size_t n,
    ws_payload_fn on_payload, void *arg);

#endif /* WS_PROTO_H */
