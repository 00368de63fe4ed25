/* Fuzz target: WebSocket frames as a peer sends them.
 *
 * Input: byte 0 picks the side (bit 0: we are the server, so the frames
 * should be masked) and how the bytes arrive (bits 1-3: the scripted
 * stream's split); bytes 1-2 the size of the reader's buffer; the rest is
 * what the peer sends.  A WebSocket connection over the script reads
 * whole messages until it fails or the script ends.  Checked:
 *   - a message read fits the buffer and, if text, is valid UTF-8 (by a
 *     decoder of this file's own);
 *   - everything the connection sent is a sequence of well-formed frames,
 *     masked exactly when we are the client, with control frames of at
 *     most 125 bytes, and a close (if any) last, with a code one may send;
 *   - every frame head parsed re-encodes to the same bytes, and masking a
 *     word at a time equals masking byte by byte at every phase.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ws/ws_conn.h"
#include "ws/ws_frame.h"
#include "ws/ws_impl.h"

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

/* UTF-8 as RFC 3629 has it, one code point at a time. */
static bool
utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t   len;
		uint8_t  c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp  = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp  = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp  = c & 0x07;
		} else {
			return (false);
		}
		if (i + len > n) {
			return (false);
		}
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				return (false);
			}
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return (false);
		}
		i += len;
	}
	return (true);
}

/* The pure functions, on the input itself. */
static void
check_codec(const uint8_t *p, size_t n)
{
	ws_head h;
	uint8_t out[WS_HEAD_MAX];
	int     hl = ws_head_parse(p, n, true, &h);
	uint8_t a[64], b[64];
	size_t  m = n < sizeof(a) ? n : sizeof(a);

	if (hl > 0) {
		size_t wl = ws_head_write(out, h.fin, h.rsv1, h.opcode, h.len,
		    h.masked ? h.mask : NULL);
		FZ_CHECK(wl == (size_t) hl && memcmp(out, p, wl) == 0,
		    "head of %d bytes re-encodes to %zu other bytes", hl, wl);
	}
	if (n >= 4) {
		for (unsigned phase = 0; phase < 4; phase++) {
			unsigned end = ws_mask_copy(a, p, m, p, phase);
			for (size_t i = 0; i < m; i++) {
				b[i] = p[i] ^ p[(phase + i) & 3];
			}
			FZ_CHECK(memcmp(a, b, m) == 0, "masking at phase %u", phase);
			FZ_CHECK(end == ((phase + m) & 3), "phase after masking");
		}
	}
	{
		ws_utf8 u  = { 0 };
		bool    ok = ws_utf8_feed(&u, p, n) && ws_utf8_done(&u);
		FZ_CHECK(ok == utf8_ok(p, n), "the UTF-8 check says %d", ok);
	}
}

/* What we sent: well-formed frames, a close last. */
static void
check_sent(const uint8_t *p, size_t n, bool server)
{
	bool closed = false;

	while (n > 0) {
		ws_head h;
		int     hl = ws_head_parse(p, n, false, &h);
		FZ_CHECK(hl > 0, "we sent a bad frame head (%d)", hl);
		FZ_CHECK(h.masked == !server, "masking of our frames");
		FZ_CHECK(!closed, "a frame after our close");
		FZ_CHECK((size_t) hl + h.len <= n, "our frame is cut short");
		if (h.opcode == WS_OP_CLOSE) {
			uint8_t body[WS_CONTROL_MAX];
			closed = true;
			if (h.masked) {
				ws_mask_copy(body, p + hl, (size_t) h.len, h.mask, 0);
			} else {
				memcpy(body, p + hl, (size_t) h.len);
			}
			FZ_CHECK(h.len != 1, "a close of one byte");
			if (h.len >= 2) {
				uint16_t code = (uint16_t) ((body[0] << 8) | body[1]);
				FZ_CHECK(ws_close_code_valid(code), "we sent close code %u", code);
			}
		}
		p += (size_t) hl + h.len;
		n -= (size_t) hl + h.len;
	}
}

static bool
script_freed(void *arg)
{
	return (((fz_script *) arg)->freed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_script          script;
	nghttpw_http_conn *conn;
	nghttpw_stream    *s;
	nghttpw_aio       *aio;
	ws_settings        set;
	ws_handshake_info  hi = { 0 };
	bool               server;
	size_t             cap;
	uint8_t           *buf;

	check_codec(data, size);
	if (size < 3) {
		return (0);
	}
	server = (data[0] & 1) != 0;
	cap    = ((size_t) data[1] << 8 | data[2]) % 4096 + 1;
	fz_script_init(&script, data + 3, size - 3, (data[0] >> 1) & 7, data[1]);
	script.capture = true;
	fz_conn_open(&script, &conn);
	ws_settings_init(&set, server);
	set.recvmaxsz = 3000;
	FZ_CHECK(ws_conn_alloc(&s, conn, server, &set, &hi) == 0, "ws_conn_alloc");
	buf = malloc(cap);
	aio = fz_aio();
	for (;;) {
		nghttpw_iov iov = { buf, cap };
		unsigned    fl  = 0;
		int         rv;
		nghttpw_aio_set_iov(aio, 1, &iov);
		nghttpw_ws_recv_msg(s, &fl, aio);
		if ((rv = fz_wait(aio)) != 0) {
			FZ_LOG("read ends: %s\n", nghttpw_strerror(rv));
			break;
		}
		FZ_CHECK(nghttpw_aio_count(aio) <= cap, "a message larger than the buffer");
		if (fl == NGHTTPW_WS_TEXT) {
			FZ_CHECK(utf8_ok(buf, nghttpw_aio_count(aio)), "text that is not UTF-8");
		}
	}
	nghttpw_stream_free(s);
	pthread_mutex_lock(&fz_mtx);
	fz_wait_locked(script_freed, &script, "the connection to be freed");
	pthread_mutex_unlock(&fz_mtx);
	fz_reap_barrier();
	check_sent(script.sent, script.sent_len, server);
	nghttpw_aio_free(aio);
	free(buf);
	fz_script_fini(&script);
	return (0);
}
