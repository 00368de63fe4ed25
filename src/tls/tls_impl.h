/* TLS over mbedTLS: what the configuration, the stream, the dialer and
 * the listener share.  Only the public stream and aio API is used on the
 * TCP streams underneath. */
#ifndef NGHTTPW_TLS_IMPL_H
#define NGHTTPW_TLS_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_SSL_TICKET_C)
#include <mbedtls/ssl_ticket.h>
#endif

#include "core/loop.h"
#include "core/stream.h"
#include "core/task.h"
#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "tls/tls_mbedtls_compat.h"

/* Runs fn(arg) once the aio callback we may be in is over: queued on the
 * calling loop when on one, else at once.  Objects that own aios free
 * them this way, since an aio cannot be freed inside its own callback
 * (and the reaper is gone once nghttpw_fini() has begun).  t must stay
 * valid until fn runs. */
static inline void
tls_run_later(task *t, void (*fn)(void *), void *arg)
{
	loop *l = loop_current();

	task_init(t, fn, arg);
	if (l != NULL) {
		loop_post(l, t);
	} else {
		fn(arg);
	}
}

/* The CA bundle a dialer without a configuration verifies against. */
#define TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* A certificate with its key: own certificates (name NULL) and the
 * certificates picked by SNI. */
typedef struct tls_cert {
	struct tls_cert   *next;
	char              *name;
	mbedtls_x509_crt   crt;
	mbedtls_pk_context key;
} tls_cert;

/* A pre-shared key and its identity (a C string, as in nng). */
typedef struct tls_psk {
	struct tls_psk *next;
	char           *identity;
	unsigned char  *key;
	size_t          key_len;
} tls_psk;

struct nghttpw_tls_config {
	pthread_mutex_t          mtx;
	unsigned                 refs;
	bool                     busy; /* a stream has used it: read-only */
	nghttpw_tls_mode         mode;
	mbedtls_ssl_config       conf;
	mbedtls_entropy_context  entropy;
	mbedtls_ctr_drbg_context drbg;
	pthread_mutex_t          rng_mtx; /* only without MBEDTLS_THREADING_C */
	mbedtls_x509_crt         ca;
	mbedtls_x509_crl         crl;
	bool                     have_ca;
	bool                     have_crl;
	tls_cert                *own;
	tls_cert                *sni;
	tls_psk                 *psks; /* a server's, to pick by identity */
	char                    *server_name;
	char                   **alpn; /* NULL-terminated, or NULL */
	int                     *suites; /* the user's, or NULL: defaults */
	tls_group               *curves; /* the user's, or NULL: defaults */
	bool                     have_psk; /* picks the default suites */
#if defined(MBEDTLS_SSL_TICKET_C)
	mbedtls_ssl_ticket_context ticket;
#endif
#if defined(MBEDTLS_SSL_CACHE_C)
	mbedtls_ssl_cache_context cache;
#endif
	size_t cache_entries;   /* session-ID cache bound; 0: none */
	int    resume_lifetime; /* seconds, for session IDs and tickets */
	void (*log_fn)(void *, const char *);
	void *log_arg;
};

/* Marks the configuration used (read-only from now on) and takes a
 * reference for the user.  NGHTTPW_EINVAL for a server configuration
 * without a certificate or a pre-shared key. */
int tls_config_use(nghttpw_tls_config *);

/* True when a server configuration can answer a handshake: it has a
 * certificate to present or a pre-shared key. */
bool tls_config_can_serve(nghttpw_tls_config *);

/* Locks cfg for a change; NGHTTPW_EBUSY (and unlocked) once it is used. */
int tls_config_lock_unused(nghttpw_tls_config *);

/* Sets the default curves and DHE group of a new configuration
 * (tls_suites.c); NGHTTPW_ENOMEM when that fails. */
int tls_suites_defaults(nghttpw_tls_config *);

/* At first use: the default cipher suites, unless the user set a list
 * (with PSK suites when the configuration has a pre-shared key). */
void tls_suites_use(nghttpw_tls_config *);

/* Frees a server's pre-shared keys (tls_psk.c). */
void tls_psks_free(tls_psk *);

/* The client configuration of a dialer that was given none. */
int tls_config_default_client(nghttpw_tls_config **);

/* Sets the NGHTTPW_OPT_TLS_CONFIG option of a dialer (mode client) or a
 * listener (mode server) from buf: *slot, guarded by mtx, takes a reference
 * to that configuration and drops the one it held.  swapped, unless NULL,
 * runs with mtx held right after the swap.  NGHTTPW_EINVAL for no
 * configuration or one of the other mode. */
int tls_config_opt_set(pthread_mutex_t *mtx, nghttpw_tls_config **slot,
    nghttpw_tls_mode mode, const void *buf, size_t sz, nghttpw_type t,
    void (*swapped)(void *), void *arg);

/* The configuration's random generator, for mbedTLS callbacks. */
int tls_rng(void *cfg, unsigned char *out, size_t len);

/* Makes a parsed private key quick to sign with, before any handshake
 * uses it (tls_sign_key.c); it stays the same key. */
void tls_sign_key_prepare(nghttpw_tls_config *, mbedtls_pk_context *);

/* Resumption state (tls_resume.c): set to its defaults, freed, and put in
 * place in the mbedTLS configuration at its first use. */
void tls_resume_init(nghttpw_tls_config *);
void tls_resume_free(nghttpw_tls_config *);
int  tls_resume_start(nghttpw_tls_config *);
/* Caches the session of a server's full handshake before its Finished
 * goes out (see tls_resume.c). */
void tls_resume_store_early(nghttpw_tls_config *, mbedtls_ssl_context *);

/* Passes a line to the configuration's log hook, if any. */
void tls_config_log(nghttpw_tls_config *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Maps an mbedTLS error to an nghttpw error. */
int tls_map_error(int mbedtls_rv);

/* Describes an mbedTLS error in buf. */
void tls_describe_error(int mbedtls_rv, char *buf, size_t len);

/* The TLS stream.  A connection is made over a connected lower stream
 * (which it then owns), runs its handshake, and reports the end of the
 * handshake once through hs_cb (rv 0 or why it failed).  hs_cb is called
 * with no lock of the connection held. */
typedef struct tls_conn tls_conn;
typedef void (*tls_hs_cb)(void *arg, int rv);

/* host: for a client, the name to send and verify unless the
 * configuration has a server name (may be NULL, or an IP address, which is
 * then matched against the certificate's IP SANs);
 * session: a client session to offer for resumption, or NULL. */
int tls_conn_alloc(tls_conn **, nghttpw_stream *lower, nghttpw_tls_config *,
    const char *host, const mbedtls_ssl_session *session, tls_hs_cb hs_cb,
    void *hs_arg);

/* Gives the connection bytes already read from its lower stream (at most
 * a record: its ClientHello), before the handshake starts. */
void tls_conn_preload(tls_conn *, const void *buf, size_t len);

/* Starts the handshake.  If it ends at once, returns true and sets *rv:
 * the caller then calls its hs_cb itself (it is not called). */
bool tls_conn_start(tls_conn *, int *rv);

/* Fails a handshake in progress with rv.  Returns true if the handshake
 * was still running: the caller then calls its hs_cb itself (it is not
 * called); false if the handshake had ended and hs_cb is on its way. */
bool tls_conn_abort(tls_conn *, int rv);

/* The public stream of the connection; freeing it frees the connection. */
nghttpw_stream *tls_conn_stream(tls_conn *);

/* Copies the session of a finished client handshake (for resumption). */
int tls_conn_get_session(tls_conn *, mbedtls_ssl_session *);

/* Frees a connection whose stream was never handed out. */
void tls_conn_free(tls_conn *);

/* The dialer and listener of the TLS schemes (tls_schemes.c). */
int tls_dialer_alloc(nghttpw_stream_dialer *, const nghttpw_url *);
int tls_listener_alloc(nghttpw_stream_listener *, const nghttpw_url *);

/* The tcp:// URL under a tls+tcp://, https:// or wss:// URL (malloc'd). */
int tls_lower_url(const nghttpw_url *, char **);

#endif
