/*
 * The client's side of RFC 6455 for ws_soak: the opening handshake's
 * request and the check of its answer, masked frames, and a frame parser
 * fed with whatever a non-blocking read returned.  Raw, without the
 * library, so that 10,000 connections cost the client little and the
 * server is what is measured.
 */
#ifndef WS_WIRE_H
#define WS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WS_OP_CONT   = 0,
	WS_OP_TEXT   = 1,
	WS_OP_BINARY = 2,
	WS_OP_CLOSE  = 8,
	WS_OP_PING   = 9,
	WS_OP_PONG   = 10,
};

#define WS_KEY_LEN 24     /* base64 of 16 bytes */
#define WS_HEAD_MAX 1024  /* room for the 101 answer's head */
#define WS_FRAME_HDR_MAX 14

/* Writes the upgrade request for path on host:port to req (room for cap)
 * with a fresh key, which goes to key (WS_KEY_LEN + 1 bytes).  Returns
 * its length, or 0 when it does not fit. */
size_t ws_request(char *req, size_t cap, const char *host, int port,
    const char *path, char *key);

/* Looks at the answer's bytes so far (head, len).  Returns 0 while the
 * head is incomplete, its length (the frames behind it are the server's)
 * when it is a good 101 for key, -1 when it is not. */
long ws_answer(const char *head, size_t len, const char *key);

/* A whole masked frame (FIN set) of opcode with payload (len bytes) into
 * out, which has room for WS_FRAME_HDR_MAX + len; returns its size. */
size_t ws_frame(uint8_t *out, int opcode, bool fin, const void *payload,
    size_t len, uint32_t mask);

/* A fast generator of masking keys (xorshift64*): the key only has to be
 * there for the server to unmask, nobody here is hostile. */
uint32_t ws_next_key(uint64_t *state);

/* The parser: ws_rx_feed calls on_frame once for each complete control
 * frame (its payload whole, at most 125 bytes) and on_data with each
 * piece of a data frame's payload as it arrives. */
typedef struct {
	uint8_t  hdr[WS_FRAME_HDR_MAX];
	size_t   hlen;    /* header bytes gathered */
	size_t   hwant;   /* the header's full size, once known */
	uint64_t left;    /* payload bytes of the frame still due */
	int      opcode;
	bool     fin;
	uint8_t  ctl[125]; /* a control frame's payload */
	size_t   ctl_len;
} ws_rx;

typedef struct {
	/* A control frame; non-zero stops the parse. */
	int (*on_control)(void *arg, int opcode, const uint8_t *p, size_t n);
	/* A piece of a data frame (opcode CONT for continuations); end: the
	 * frame's last piece, fin: its FIN bit. */
	int (*on_data)(void *arg, int opcode, bool fin, const uint8_t *p,
	    size_t n, bool end);
} ws_rx_fns;

/* 0; -1 on a frame a server may not send (masked, reserved bits, a long
 * or fragmented control frame); -2 when a callback stopped it. */
int ws_rx_feed(ws_rx *rx, const uint8_t *buf, size_t n, const ws_rx_fns *fns,
    void *arg);

#endif /* WS_WIRE_H */
