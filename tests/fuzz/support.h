/* Helpers shared by the fuzz targets (linked into each of them).
 *
 * The targets drive HTTP connections over a scripted in-memory stream:
 * it serves a fixed byte string to recv in pieces whose sizes come from
 * the fuzz input (so a message head arrives split at arbitrary points),
 * reports the peer's close once the string is used up, and accepts (and
 * optionally keeps) what is sent, at most so many bytes per send.  Every
 * operation completes inside the call: there is no peer thread, nothing
 * waits on a timer, and the same input always takes the same path.
 *
 * The runtime is started once (LLVMFuzzerInitialize) and never stopped:
 * nghttpw_fini is not called while fuzzing.  A connection is freed by the
 * library's reaper thread after nghttpw_http_conn_close; fz_conn_close
 * waits for that, so each input frees everything it allocated before it
 * returns (which keeps libFuzzer's per-input leak check meaningful). */
#ifndef NGHTTPW_FUZZ_SUPPORT_H
#define NGHTTPW_FUZZ_SUPPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http/http_msg.h"
#include "nghttpw/http.h"

/* A failed check: prints the message and aborts, so that libFuzzer
 * records the input as a crash. */
#define FZ_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond)) {                                               \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
		}                                                            \
	} while (0)

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* FZ_DEBUG=1 in the environment: a trace of what the target does, for
 * looking into a saved input (tools/fuzz never sets it). */
extern bool fz_debug;
#define FZ_LOG(...)                                                          \
	do {                                                                 \
		if (fz_debug) {                                              \
			fprintf(stderr, __VA_ARGS__);                        \
		}                                                            \
	} while (0)

/* A check for a problem already reported and not yet fixed: it fails
 * only with FZ_STRICT=1 in the environment (then the saved inputs under
 * tests/fuzz/regressions/ reproduce it); otherwise it is noted in the
 * FZ_DEBUG trace and the target goes on, so that fuzzing can find other
 * things.  id names the issue. */
extern bool fz_strict;
#define FZ_KNOWN(id, cond, ...)                                              \
	do {                                                                 \
		if (!(cond)) {                                               \
			if (fz_strict) {                                     \
				fz_fail(__FILE__, __LINE__, #cond,           \
				    "[known issue " id "] " __VA_ARGS__);    \
			}                                                    \
			FZ_LOG("known issue " id "\n");                     \
		}                                                            \
	} while (0)

/* Whether s is empty or only blanks (SP, HTAB, and commas when
 * list is true). */
bool fz_blank(const char *s, bool list);

/* A byte source for picking choices out of the fuzz input. */
typedef struct fz_bytes {
	const uint8_t *p;
	size_t         n;
} fz_bytes;

uint8_t  fz_u8(fz_bytes *b);  /* 0 once exhausted */
uint16_t fz_u16(fz_bytes *b);
/* Up to max bytes (count from the input); *lenp gets the count. */
const uint8_t *fz_slice(fz_bytes *b, size_t max, size_t *lenp);

/* The scripted stream's state.  Owned by the caller; the connection owns
 * only the nghttpw_stream wrapper around it. */
typedef struct fz_script {
	const uint8_t *data;      /* what recv serves */
	size_t         len;
	size_t         pos;
	uint8_t        split;     /* 0: all at once; 1: a byte at a time;
	                             else pieces of 1..split bytes */
	uint32_t       rng;       /* piece sizes, from the input */
	size_t         send_max;  /* bytes accepted per send; 0: all */
	size_t         send_fail; /* sends fail (ECONNRESET) past this many
	                             bytes; SIZE_MAX: never */
	bool           capture;   /* keep what is sent */
	unsigned char *sent;
	size_t         sent_len;
	size_t         sent_cap;
	size_t         sent_total;
	bool           closed;
	bool           freed; /* s_free was called */
	unsigned       recvs;
	unsigned       sends;
} fz_script;

/* How many bytes the next recv serves: all that is left (split 0), one
 * (split 1), or 1..split chosen by the generator rng. */
size_t fz_piece_size(uint8_t split, uint32_t *rng, size_t left);

void fz_script_init(fz_script *s, const uint8_t *data, size_t len,
    uint8_t split, uint32_t seed);
void fz_script_fini(fz_script *s);

/* Called from LLVMFuzzerInitialize: one poller thread, started now. */
void fz_runtime_init(void);

/* Guards every script's state (the library calls a script's stream from
 * its threads), and is signalled (fz_cv) when a script's stream is freed
 * and when a reap barrier is passed; a target may use both for state of
 * its own that the library's threads touch. */
extern pthread_mutex_t fz_mtx;
extern pthread_cond_t  fz_cv;

/* Waits on fz_cv, fz_mtx held, until done(arg), or fails the input after
 * a minute (a hang the library should never have). */
void fz_wait_locked(bool (*done)(void *), void *arg, const char *what);

/* Returns once everything queued on the library's reaper so far has run. */
void fz_reap_barrier(void);

/* A stream over the script, for a target that hands it on itself. */
nghttpw_stream *fz_stream_open(fz_script *s);

/* A connection over the script.  fz_conn_close closes it and returns once
 * the library has freed it (and the stream). */
void fz_conn_open(fz_script *s, nghttpw_http_conn **cp);
void fz_conn_close(nghttpw_http_conn *c, fz_script *s);

/* An aio without callback and without timeout (libFuzzer's -timeout is
 * the watchdog), and waiting for it. */
nghttpw_aio *fz_aio(void);
int          fz_wait(nghttpw_aio *aio);

/* Reads everything left on the connection with raw reads (read and
 * read_all in turn, into two-entry iovs of sizes from the script's
 * generator) until the peer's close, and checks that it is exactly the
 * rest of the script's data: what was buffered after the last head, then
 * what had not been received yet. */
void fz_drain_raw(nghttpw_http_conn *c, fz_script *s);

/* Invariants of a message as the library holds it: every field name a
 * token, every value free of CR, LF, NUL and other CTLs but HTAB, the
 * stored lengths matching the strings.  parsed adds what the parser
 * promises: values without leading or trailing blanks, one field per name
 * except Set-Cookie. */
void fz_check_fields(const nhw_http_msg *msg, bool parsed);

/* Invariants of a serialized head: CR and LF only as CRLF line ends, the
 * start line first, then "name: value" lines, then one empty line at the
 * very end; the fields in the head are exactly those of msg, in order. */
void fz_check_head(const char *head, size_t len, const nhw_http_msg *msg);

/* Whether the comma-separated list holds token (case-insensitive) as a
 * whole element, blanks around it aside: "close cluse" does not hold
 * "close" (unlike the library's nhw_http_list_has_token). */
bool fz_list_has(const char *list, const char *token);

/* Whether s is one or more decimal digits and nothing else. */
bool fz_all_digits(const char *s);

/* Case-insensitive equality of NUL-terminated strings. */
bool fz_name_eq(const char *a, const char *b);

#endif
