/*
 * nghttpw TLS: configuration objects and the option names of TLS streams,
 * dialers and listeners (tls+tcp://, tls+tcp4://, tls+tcp6://, https://,
 * wss://).  Names and semantics follow nng 1.x (nng_tls_* becomes
 * nghttpw_tls_*); what nng lacks is marked "beyond nng".  The engine is
 * mbedTLS.  See nghttpw_tls(7).
 */
#ifndef NGHTTPW_TLS_H
#define NGHTTPW_TLS_H

#include "nghttpw/nghttpw.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum nghttpw_tls_mode {
	NGHTTPW_TLS_MODE_CLIENT = 0,
	NGHTTPW_TLS_MODE_SERVER = 1,
} nghttpw_tls_mode;

typedef enum nghttpw_tls_auth_mode {
	NGHTTPW_TLS_AUTH_MODE_NONE     = 0, /* the peer is not verified */
	NGHTTPW_TLS_AUTH_MODE_OPTIONAL = 1, /* verified if it sends a cert */
	NGHTTPW_TLS_AUTH_MODE_REQUIRED = 2, /* must send a valid cert */
} nghttpw_tls_auth_mode;

typedef enum nghttpw_tls_version {
	NGHTTPW_TLS_1_0 = 0x301,
	NGHTTPW_TLS_1_1 = 0x302,
	NGHTTPW_TLS_1_2 = 0x303,
	NGHTTPW_TLS_1_3 = 0x304,
} nghttpw_tls_version;

/* Options beyond nng's (nng's own, NGHTTPW_OPT_TLS_CONFIG and the rest,
 * are in nghttpw.h, as in nng.h).  On listeners (bool): report failed
 * handshakes to accept. */
#define NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS "tls-handshake-errors"
/* On listeners (milliseconds; default 5000): the time a new connection
 * has to send its ClientHello and finish its handshake. */
#define NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT "tls-handshake-timeout"
/* On TLS streams (read-only): */
#define NGHTTPW_OPT_TLS_ALPN "tls-alpn"       /* string */
#define NGHTTPW_OPT_TLS_RESUMED "tls-resumed" /* bool */
#define NGHTTPW_OPT_TLS_ERROR "tls-error"     /* string */

NGHTTPW_DECL int  nghttpw_tls_config_alloc(nghttpw_tls_config **, nghttpw_tls_mode);
NGHTTPW_DECL void nghttpw_tls_config_hold(nghttpw_tls_config *);
NGHTTPW_DECL void nghttpw_tls_config_free(nghttpw_tls_config *);
NGHTTPW_DECL int  nghttpw_tls_config_server_name(nghttpw_tls_config *, const char *);
NGHTTPW_DECL int  nghttpw_tls_config_ca_chain(
     nghttpw_tls_config *, const char *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_ca_file(nghttpw_tls_config *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_own_cert(
    nghttpw_tls_config *, const char *, const char *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_cert_key_file(
    nghttpw_tls_config *, const char *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_auth_mode(
    nghttpw_tls_config *, nghttpw_tls_auth_mode);
NGHTTPW_DECL int nghttpw_tls_config_version(
    nghttpw_tls_config *, nghttpw_tls_version, nghttpw_tls_version);
NGHTTPW_DECL int nghttpw_tls_config_psk(
    nghttpw_tls_config *, const char *, const uint8_t *, size_t);
/* Declared by nng 1.x, which implements them in no engine: they fail with
 * NGHTTPW_ENOTSUP, as nng's do. */
NGHTTPW_DECL int nghttpw_tls_config_key(
    nghttpw_tls_config *, const uint8_t *, size_t);
NGHTTPW_DECL int nghttpw_tls_config_pass(nghttpw_tls_config *, const char *);

/* Beyond nng. */
NGHTTPW_DECL int nghttpw_tls_config_alpn(nghttpw_tls_config *, const char *const *);
/* Beyond nng: the cipher suites and the curves (and DHE groups) a
 * configuration allows, in order of preference, as a ':' or ','
 * separated list of names; NULL restores the defaults. */
NGHTTPW_DECL int nghttpw_tls_config_ciphers(nghttpw_tls_config *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_curves(nghttpw_tls_config *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_add_sni_cert(nghttpw_tls_config *,
    const char *, const char *, const char *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_log(
    nghttpw_tls_config *, void (*)(void *, const char *), void *);
/* Beyond nng: a server's resumption, its session-ID cache bound (0: no
 * cache) and how long a session can be resumed (by ID or by ticket; ticket
 * keys rotate at that interval). */
NGHTTPW_DECL int nghttpw_tls_config_session_cache(
    nghttpw_tls_config *, size_t, nghttpw_duration);

/* The engine. */
NGHTTPW_DECL const char *nghttpw_tls_engine_name(void);
NGHTTPW_DECL const char *nghttpw_tls_engine_description(void);
NGHTTPW_DECL bool        nghttpw_tls_engine_fips_mode(void);

#ifdef __cplusplus
}
#endif

#endif /* NGHTTPW_TLS_H */
