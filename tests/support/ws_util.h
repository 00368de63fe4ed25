/* Helpers for the WebSocket tests: synchronous message calls, connected
 * pairs, and a raw client that speaks frames byte by byte (to send what
 * no correct peer would). */
#ifndef NGHTTPW_TESTS_WS_UTIL_H
#define NGHTTPW_TESTS_WS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"

/* A listener on ws://127.0.0.1:0<path>, listening; *portp its port. */
int ws_listen(const char *path, nghttpw_stream_listener **lp, int *portp);

/* Dials with d and accepts on l at once (5 s): a connected pair. */
int ws_dial_accept(nghttpw_stream_listener *l, nghttpw_stream_dialer *d,
    nghttpw_stream **client, nghttpw_stream **server);

/* The same with a dialer of url made for the purpose. */
int ws_pair_on(nghttpw_stream_listener *l, const char *url,
    nghttpw_stream **client, nghttpw_stream **server);

/* A listener at /p and a pair on it; the listener is freed. */
int ws_pair(nghttpw_stream **client, nghttpw_stream **server);

/* One whole message, with a private aio (5 s, or timeout if not 0). */
int ws_send(nghttpw_stream *s, unsigned flags, const void *buf, size_t len);
int ws_recv(nghttpw_stream *s, void *buf, size_t cap, size_t *lenp,
    unsigned *flagsp, nghttpw_duration timeout);

/* An echo server in this process: every message goes back to its sender
 * with its type, messages up to max bytes. */
typedef struct ws_echo ws_echo;
int  ws_echo_start(const char *url, size_t max, ws_echo **ep, int *portp);
/* The same on a listener the caller made and set up (not yet listening),
 * which the echo then owns. */
int  ws_echo_serve(nghttpw_stream_listener *l, size_t max, ws_echo **ep, int *portp);
/* The connections accepted so far, and those with permessage-deflate. */
void ws_echo_counts(ws_echo *e, int *accepted, int *agreed);
void ws_echo_stop(ws_echo *e);

/* The raw client: a TCP stream on which the opening handshake for path
 * was made by hand (extra: more request lines, "" for none); the 101 has
 * been read.  Returns NULL when the server did not answer 101, with the
 * status it gave in *statusp (if not NULL). */
nghttpw_stream *raw_open(int port, const char *path, const char *extra,
    int *statusp);
/* The same, with the response head kept in head. */
nghttpw_stream *raw_open_head(int port, const char *path, const char *extra,
    int *statusp, char *head, size_t cap);

/* Sends request (a whole HTTP request head) on a new TCP connection to
 * port and reads what comes back within 3 s into out (NUL-terminated):
 * 0, or -1 when nothing came. */
int raw_request(int port, const char *request, char *out, size_t cap);

/* Sends one frame as given (first byte b0: FIN, RSV and opcode), with
 * the payload masked by a fixed key when masked. */
int raw_frame(nghttpw_stream *s, uint8_t b0, bool masked, const void *p,
    size_t len);

/* Sends bytes as they are. */
int raw_bytes(nghttpw_stream *s, const void *p, size_t len);

/* Reads one frame from the server (unmasked): its first byte and
 * payload; -1 on a closed stream or timeout (3 s). */
int raw_read_frame(nghttpw_stream *s, uint8_t *b0, uint8_t *buf, size_t cap,
    size_t *lenp);

/* Reads frames until a close: its code (1005 for none), or -1 if the
 * stream ended without one.  Data frames on the way are skipped. */
int raw_close_code(nghttpw_stream *s);

/* Whether the server ended the TCP connection (within 3 s). */
bool raw_ended(nghttpw_stream *s);

#endif
