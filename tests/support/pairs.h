/* Helpers shared by the tests: connected stream pairs of each kind and
 * synchronous send/recv loops over the public API. */
#ifndef NGHTTPW_TESTS_PAIRS_H
#define NGHTTPW_TESTS_PAIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nghttpw/nghttpw.h"

/* Connected pair over TCP on the given loopback address ("127.0.0.1" or
 * "[::1]"); returns 0 or the error.  The listener is freed before return. */
int tcp_pair(const char *host, nghttpw_stream **a, nghttpw_stream **b);

/* Plain sockets on 127.0.0.1, beside the library: a listening socket
 * (its port in *port, backlog 8) and a connected one.  The descriptor,
 * or -1. */
int raw_tcp_listen(int *port);
int raw_tcp_connect(int port);

/* Dials tcp://127.0.0.1:port (5 s at most); returns 0 or the error. */
int tcp_dial(int port, nghttpw_stream **sp);

/* True when the machine can listen on ::1. */
bool have_ipv6(void);

/* A pair of in-memory streams built only on the public stream table and
 * provider functions, the way a user would write one. */
int mem_pair(nghttpw_stream **a, nghttpw_stream **b);

/* Sends/receives every byte, looping over partial transfers.  Return 0 or
 * the error; *moved (if not NULL) gets the bytes moved before it. */
int send_all(nghttpw_stream *s, const void *buf, size_t len, size_t *moved);
int recv_all(nghttpw_stream *s, void *buf, size_t len, size_t *moved);

/* Starts an operation and waits for it with a private aio. */
int sync_op(void (*op)(nghttpw_stream *, nghttpw_aio *), nghttpw_stream *s,
    nghttpw_iov *iov, unsigned niov, nghttpw_duration timeout, size_t *count);

/* Fills buf with a repeatable pseudo-random pattern from seed. */
void fill_pattern(void *buf, size_t len, unsigned seed);

/* The byte at offset off of an endless repeatable pattern: a peer makes
 * it as it sends, and a reader checks any piece where it falls. */
unsigned char pattern_byte(uint64_t off);

#endif
