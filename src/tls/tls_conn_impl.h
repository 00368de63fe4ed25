/* The insides of a TLS connection, shared by the stream itself
 * (tls_stream.c: handshake, send, recv, lifetime) and what it says about
 * its peer and its options (tls_peer.c). */
#ifndef NGHTTPW_TLS_CONN_IMPL_H
#define NGHTTPW_TLS_CONN_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mbedtls/ssl.h>

#include "core/task.h"
#include "nghttpw/nghttpw.h"
#include "tls/tls_impl.h"

typedef struct {
	nghttpw_aio **v;
	size_t        n;
	size_t        cap;
} aioq;

enum { ST_HANDSHAKE, ST_OPEN, ST_FAILED };

struct tls_conn {
	nghttpw_stream     *stream; /* ours */
	nghttpw_stream     *lower;
	nghttpw_tls_config *cfg;
	pthread_mutex_t     mtx;
	unsigned            refs;
	int                 state;
	int                 err;    /* ST_FAILED: why */
	int                 rx_err; /* recv side over (close_notify) */
	bool                closed; /* by the user */
	bool                notify_sent;
	bool                lower_closed;
	bool                client;
	mbedtls_ssl_context ssl;

	/* Received bytes not yet read by mbedTLS. */
	nghttpw_aio   *rx_aio;
	unsigned char *rxbuf;
	size_t         rx_off;
	size_t         rx_len;
	bool           rx_busy;
	bool           rx_want;
	int            rx_lower_err;

	/* The lower send, into mbedTLS's output buffer. */
	nghttpw_aio         *tx_aio;
	const unsigned char *tx_ptr;
	size_t               tx_len;
	size_t               tx_done; /* sent, not yet reported to mbedTLS */
	bool                 tx_busy;
	bool                 tx_start;
	int                  tx_lower_err;

	/* Handshake records gathered while mbedTLS writes a flight, so that
	 * the flight leaves in one lower send (one segment, one wakeup of
	 * the peer) when mbedTLS waits for the peer. */
	unsigned char *flight;
	size_t         flight_len;
	size_t         flight_cap;
	bool           flight_busy; /* the lower send in flight is the flight */

	/* User operations, served in order from the head. */
	aioq           sendq;
	aioq           recvq;
	unsigned       s_idx;   /* the head send's cursor */
	size_t         s_off;
	size_t         s_count;
	bool           wr_pending; /* a record is written, not yet sent */
	bool           wr_orphan;  /* ... whose send was cancelled */
	size_t         wr_len;
	unsigned char *coalesce;
	size_t         coalesce_cap;

	/* The one report of the handshake's end. */
	tls_hs_cb hs_cb;
	void     *hs_arg;
	bool      hs_claimed;
	bool      hs_due;
	int       hs_rv;
	bool      full_hs;
	bool      resumed;
	bool      verified;

	task          destroy_task;
	unsigned char ip[16]; /* a client's peer named by address */
	size_t        ip_len;
	char          peer[64];
	char          errmsg[256];
};

/* The stream's s_get and s_set: the TLS options (all read-only), and the
 * lower stream's for any other name. */
int tls_get(void *arg, const char *name, void *buf, size_t *szp,
    nghttpw_type t);
int tls_set(void *arg, const char *name, const void *buf, size_t sz,
    nghttpw_type t);

/* Names the peer by its address (lower's remote address), for log lines. */
void tls_peer_name(tls_conn *c, nghttpw_stream *lower);

/* Client side: sets the name sent and verified (or the address to match
 * against the certificate's IP SANs, or neither) from host. */
int tls_set_peer_host(tls_conn *c, const char *host);

#endif
