/* permessage-deflate (RFC 7692): what a dialer or listener asks for, the
 * negotiation of both sides, and the compressor and decompressor of a
 * connection, over zlib. */
#ifndef NGHTTPW_WS_DEFLATE_H
#define NGHTTPW_WS_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

/* The trailer that every message's compressed form ends with, left off
 * on the wire (RFC 7692 7.2.1). */
#define WS_PMD_TAIL_LEN 4
extern const uint8_t ws_pmd_tail[WS_PMD_TAIL_LEN];

/* What a dialer or listener is set to (the options of nghttpw_ws(7)). */
typedef struct ws_pmd_config {
	bool   on;
	int    level;       /* zlib's, 0-9 */
	int    mem_level;   /* zlib's, 1-9 */
	size_t threshold;   /* shorter messages go uncompressed */
	bool   server_nct;  /* server_no_context_takeover */
	bool   client_nct;  /* client_no_context_takeover */
	int    server_bits; /* server_max_window_bits, 8-15 */
	int    client_bits; /* client_max_window_bits, 8-15 */
} ws_pmd_config;

void ws_pmd_config_init(ws_pmd_config *cfg);

/* What the two sides agreed, from one side's point of view. */
typedef struct ws_pmd {
	bool on;
	bool tx_reset; /* our compressor starts afresh for each message */
	bool rx_reset; /* the peer's does, so our decompressor may too */
	int  tx_bits;  /* the window we may compress with; 8: none (zlib
	                  cannot), so we send uncompressed */
	int  rx_bits;  /* the window the peer compresses with */
} ws_pmd;

/* Client: the Sec-WebSocket-Extensions offer for cfg, in buf. */
void ws_pmd_offer(const ws_pmd_config *cfg, char *buf, size_t cap);

/* Server: answers the first offer in offers (a Sec-WebSocket-Extensions
 * value, or NULL) that it can accept, in buf; false when there is none
 * (the answer then leaves the extension out). */
bool ws_pmd_accept(const ws_pmd_config *cfg, const char *offers, char *buf,
    size_t cap);

/* What the answer of a finished handshake (its Sec-WebSocket-Extensions,
 * or NULL) agrees to, seen from the server or the client.  A client's
 * answer is checked against what cfg offered: NGHTTPW_EPROTO for one the
 * offer does not allow. */
int ws_pmd_agreed(const ws_pmd_config *cfg, const char *answer, bool server,
    ws_pmd *agreed);

/* The longest offer or answer that ws_pmd_offer and ws_pmd_accept write. */
#define WS_PMD_HEADER_MAX 160

/* A compressor or decompressor made when first needed, and dropped
 * between messages when its side forgets its context anyway, so that an
 * idle connection holds none. */
z_stream *ws_pmd_deflater(z_stream **zp, const ws_pmd_config *cfg, int bits);
z_stream *ws_pmd_inflater(z_stream **zp, int bits);
void      ws_pmd_deflater_free(z_stream **zp);
void      ws_pmd_inflater_free(z_stream **zp);

#endif
