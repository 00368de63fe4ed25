/*
 * ws_soak's connections, options and counts, shared by ws_soak.c (the
 * connections and the event loop) and ws_soak_report.c (the checks and
 * what is printed).
 */
#ifndef WS_SOAK_H
#define WS_SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_wire.h"

#define PROG "ws_soak"
#define EARLY_MS 250 /* an idle close this much early is a bug */

typedef enum { K_LIVE, K_ECHO, K_IDLE } kind;

typedef enum {
	S_FREE,       /* not connected; waits for a connect */
	S_CONNECTING, /* TCP connect under way */
	S_HANDSHAKE,  /* request sent, reading the 101 */
	S_OPEN,
	S_CLOSE_WAIT, /* the server closed, we answered: wait for its EOF */
	S_CLOSING,    /* we closed at the end: wait for its close and EOF */
	S_DEAD,       /* done for good */
} state;

typedef struct {
	int      fd;
	kind     kind;
	state    state;
	bool     got_close; /* the server's close frame, while S_CLOSING */
	bool     opened;    /* once, ever: counts towards "up" */
	int64_t  t_open;    /* when the 101 was read */
	int64_t  deadline;  /* of the current wait */
	int64_t  next_echo;
	uint32_t pings;
	ws_rx    rx;
	char     key[WS_KEY_LEN + 1];
	char    *head; /* the 101 as it comes */
	size_t   head_len;
	uint8_t *out; /* bytes the socket did not take yet */
	size_t   out_len;
	uint8_t *echo; /* the message whose echo is awaited */
	size_t   echo_len, echo_got;
	int      echo_op;
	bool     echo_waiting;
} wconn;

typedef struct {
	const char *addr, *path;
	int         port, conns, echo_n, idle_n, sources, verbose;
	int64_t     ping_ms, idle_ms, margin_ms, echo_ms, run_s;
} soak_opts;

typedef struct {
	uint64_t pings_echo, pongs_sent, echo_sent, echo_ok, echo_bad,
	    echo_timeout, idle_closes, idle_late, idle_early, idle_missing,
	    idle_wrong_code, idle_pings_odd, eof_slow, live_closed, live_eof,
	    unexpected, bad_frames, connect_errors, end_clean, end_unclean;
	int32_t *lateness; /* ms past IDLE_MS, of each idle close */
	size_t   nlate, caplate;
	int64_t  eof_max; /* longest close to EOF, ms */
} soak_stats;

extern soak_opts  opt;
extern soak_stats st;
extern wconn     *conns;
extern int        connecting; /* S_CONNECTING or S_HANDSHAKE */

void die(const char *what);
/* An idle close came ms after IDLE_MS (negative: before). */
void record_lateness(int64_t ms);
/* Checks the pings of the live connections, at the end of the hold. */
void count_live_pings(int64_t now);
void progress(const char *phase, int64_t since);
/* Prints the counts; returns whether every check passed. */
bool report(bool up, uint64_t echo_abandoned);

#endif /* WS_SOAK_H */
