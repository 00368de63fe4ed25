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

/* Options.  On dialers and listeners (pointer, nghttpw_stream_dialer_*_ptr
 * and nghttpw_stream_listener_*_ptr): */
#define NGHTTPW_OPT_TLS_CONFIG "tls-config"
/* On listeners (bool, beyond nng): report failed handshakes to accept. */
#define NGHTTPW_OPT_TLS_HANDSHAKE_ERRORS "tls-handshake-errors"
/* On listeners (milliseconds, beyond nng; default 5000): the time a new
 * connection has to send its ClientHello and finish its handshake. */
#define NGHTTPW_OPT_TLS_HANDSHAKE_TIMEOUT "tls-handshake-timeout"
/* On TLS streams (read-only): */
#define NGHTTPW_OPT_TLS_VERIFIED "tls-verified"     /* bool */
#define NGHTTPW_OPT_TLS_PEER_CN "tls-peer-cn"       /* string */
#define NGHTTPW_OPT_TLS_PEER_ALT_NAMES "tls-peer-alt-names" /* string */
#define NGHTTPW_OPT_TLS_ALPN "tls-alpn"             /* string, beyond nng */
#define NGHTTPW_OPT_TLS_RESUMED "tls-resumed"       /* bool, beyond nng */
#define NGHTTPW_OPT_TLS_ERROR "tls-error"           /* string, beyond nng */

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

/* Beyond nng. */
NGHTTPW_DECL int nghttpw_tls_config_alpn(nghttpw_tls_config *, const char *const *);
NGHTTPW_DECL int nghttpw_tls_config_add_sni_cert(nghttpw_tls_config *,
    const char *, const char *, const char *, const char *);
NGHTTPW_DECL int nghttpw_tls_config_log(
    nghttpw_tls_config *, void (*)(void *, const char *), void *);

/* The engine. */
NGHTTPW_DECL const char *nghttpw_tls_engine_name(void);
NGHTTPW_DECL const char *nghttpw_tls_engine_description(void);

#ifdef __cplusplus
}
#endif

#endif /* NGHTTPW_TLS_H */
