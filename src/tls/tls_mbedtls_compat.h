/* What differs between mbedTLS 2.28 (Debian 12's) and 3.x (3.2 and later,
 * 3.6 LTS in mind), in one place: the rest of src/tls uses these names.
 * Both sides keep TLS 1.2 only; TLS 1.3 on 3.x is not done yet. */
#ifndef NGHTTPW_TLS_MBEDTLS_COMPAT_H
#define NGHTTPW_TLS_MBEDTLS_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/version.h> /* 2.x defines the version here, 3.x beside */
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#if defined(MBEDTLS_SSL_CACHE_C)
#include <mbedtls/ssl_cache.h>
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03020000
#error "mbedTLS 3.0 and 3.1 lack calls we need: use 2.28 or 3.2 and later"
#endif

#if MBEDTLS_VERSION_NUMBER >= 0x03000000

#include <psa/crypto.h>

/* mbedTLS 3 made the fields we read private; reach them through its own
 * macro. */
#define TLS_PRIV(f) MBEDTLS_PRIVATE(f)

/* Curves are configured as IANA group ids. */
typedef uint16_t tls_group;
#define TLS_GROUP_NONE MBEDTLS_SSL_IANA_TLS_GROUP_NONE
#define TLS_GROUP_X25519 MBEDTLS_SSL_IANA_TLS_GROUP_X25519
#define TLS_GROUP_P256 MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1
#define TLS_GROUP_P384 MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1
#define TLS_GROUP_P521 MBEDTLS_SSL_IANA_TLS_GROUP_SECP521R1
#define TLS_GROUP_OF(curve_info) ((curve_info)->tls_id)

/* 3.x has no PEER_VERIFY_FAILED; a refused peer certificate says this. */
#define TLS_ERR_PEER_CERT MBEDTLS_ERR_SSL_BAD_CERTIFICATE

/* TLS 1.3 and parts of 1.2 go through PSA, which must be started first
 * (starting it again is harmless). */
static inline int
tls_crypto_start(void)
{
#if defined(MBEDTLS_PSA_CRYPTO_C)
	return (psa_crypto_init() == PSA_SUCCESS ? 0 : -1);
#else
	return (0);
#endif
}

static inline void
tls_conf_groups(mbedtls_ssl_config *conf, const tls_group *groups)
{
	mbedtls_ssl_conf_groups(conf, groups);
}

/* min and max are nghttpw_tls_version values: the protocol's numbers. */
static inline void
tls_conf_versions(mbedtls_ssl_config *conf, int min, int max)
{
	mbedtls_ssl_conf_min_tls_version(conf, (mbedtls_ssl_protocol_version) min);
	mbedtls_ssl_conf_max_tls_version(conf, (mbedtls_ssl_protocol_version) max);
}

static inline int
tls_pk_parse_key(mbedtls_pk_context *pk, const unsigned char *key,
    size_t key_len, const unsigned char *pass, size_t pass_len,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	return (mbedtls_pk_parse_key(pk, key, key_len, pass, pass_len, f_rng, p_rng));
}

static inline int
tls_pk_check_pair(const mbedtls_pk_context *pub, const mbedtls_pk_context *prv,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	return (mbedtls_pk_check_pair(pub, prv, f_rng, p_rng));
}

/* Whether the server asked for our certificate.  3.x keeps that in its
 * private handshake state; a failure while we wait for the server's
 * ChangeCipherSpec (our whole flight, Certificate included, is out) is
 * the server refusing what we sent. */
static inline bool
tls_peer_wants_cert(const mbedtls_ssl_context *ssl)
{
	return (ssl->MBEDTLS_PRIVATE(state) == MBEDTLS_SSL_SERVER_CHANGE_CIPHER_SPEC);
}

#if defined(MBEDTLS_SSL_CACHE_C)
/* Stores the session a server is negotiating in its session-ID cache. */
static inline void
tls_cache_store(mbedtls_ssl_cache_context *cache, const mbedtls_ssl_context *ssl)
{
	const mbedtls_ssl_session *s = ssl->MBEDTLS_PRIVATE(session_negotiate);

	if (s != NULL && s->MBEDTLS_PRIVATE(id_len) != 0) {
		(void) mbedtls_ssl_cache_set(
		    cache, s->MBEDTLS_PRIVATE(id), s->MBEDTLS_PRIVATE(id_len), s);
	}
}
#endif

/* Whether mbedTLS's AES runs on AES-NI here: aesni.h is private in 3.x,
 * so ask the CPU, as mbedTLS does when built with MBEDTLS_AESNI_C. */
static inline bool
tls_cpu_has_aes(void)
{
#if defined(MBEDTLS_AESNI_C) && defined(__x86_64__) && defined(__GNUC__)
	return (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul"));
#else
	return (false);
#endif
}

#else /* mbedTLS 2.28 */

#if defined(MBEDTLS_AESNI_C)
#include <mbedtls/aesni.h> /* defines MBEDTLS_HAVE_X86_64 where it applies */
#endif

#define TLS_PRIV(f) f

typedef mbedtls_ecp_group_id tls_group;
#define TLS_GROUP_NONE MBEDTLS_ECP_DP_NONE
#define TLS_GROUP_X25519 MBEDTLS_ECP_DP_CURVE25519
#define TLS_GROUP_P256 MBEDTLS_ECP_DP_SECP256R1
#define TLS_GROUP_P384 MBEDTLS_ECP_DP_SECP384R1
#define TLS_GROUP_P521 MBEDTLS_ECP_DP_SECP521R1
#define TLS_GROUP_OF(curve_info) ((curve_info)->grp_id)

#define TLS_ERR_PEER_CERT MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED

static inline int
tls_crypto_start(void)
{
	return (0); /* 2.28's TLS does not use PSA */
}

static inline void
tls_conf_groups(mbedtls_ssl_config *conf, const tls_group *groups)
{
	mbedtls_ssl_conf_curves(conf, groups);
}

static inline void
tls_conf_versions(mbedtls_ssl_config *conf, int min, int max)
{
	mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, min & 0xff);
	mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, max & 0xff);
}

static inline int
tls_pk_parse_key(mbedtls_pk_context *pk, const unsigned char *key,
    size_t key_len, const unsigned char *pass, size_t pass_len,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	(void) f_rng;
	(void) p_rng;
	return (mbedtls_pk_parse_key(pk, key, key_len, pass, pass_len));
}

static inline int
tls_pk_check_pair(const mbedtls_pk_context *pub, const mbedtls_pk_context *prv,
    int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	(void) f_rng;
	(void) p_rng;
	return (mbedtls_pk_check_pair(pub, prv));
}

static inline bool
tls_peer_wants_cert(const mbedtls_ssl_context *ssl)
{
	return (ssl->client_auth != 0);
}

#if defined(MBEDTLS_SSL_CACHE_C)
static inline void
tls_cache_store(mbedtls_ssl_cache_context *cache, const mbedtls_ssl_context *ssl)
{
	if (ssl->session_negotiate != NULL && ssl->session_negotiate->id_len != 0) {
		(void) mbedtls_ssl_cache_set(cache, ssl->session_negotiate);
	}
}
#endif

static inline bool
tls_cpu_has_aes(void)
{
#if defined(MBEDTLS_AESNI_C) && defined(MBEDTLS_HAVE_X86_64)
	return (mbedtls_aesni_has_support(MBEDTLS_AESNI_AES) != 0);
#else
	return (false);
#endif
}

#endif /* mbedTLS 2.28 */

#endif
