/* A server's EC key, made cheap to sign with.
 *
 * mbedTLS 2.x parses an EC private key as an "EC key" pk context, whose
 * sign function copies the key into a new ECDSA context for every
 * signature: the copy reloads the curve, so the table of multiples of
 * the base point that speeds up the signature is built afresh each time
 * (half the cost of a P-256 signature, about 0.5 ms here, once per full
 * handshake).  An "ECDSA" pk context signs with its own context and keeps
 * the table.  We move the key into one and sign once, so that the table
 * exists before any handshake: later signatures, on any thread, only
 * read it. */
#include "tls/tls_impl.h"

#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_ECDSA_C)
#include <mbedtls/ecdsa.h>

void
tls_sign_key_prepare(nghttpw_tls_config *cfg, mbedtls_pk_context *key)
{
	mbedtls_pk_context ecdsa;
	unsigned char      hash[32] = { 0 };
	unsigned char      sig[MBEDTLS_ECDSA_MAX_LEN];
	size_t             len;

	if (mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY) {
		return;
	}
	mbedtls_pk_init(&ecdsa);
	if (mbedtls_pk_setup(&ecdsa, mbedtls_pk_info_from_type(MBEDTLS_PK_ECDSA)) != 0 ||
	    mbedtls_ecdsa_from_keypair(mbedtls_pk_ec(ecdsa), mbedtls_pk_ec(*key)) != 0 ||
	    mbedtls_pk_sign(&ecdsa, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
	        &len, tls_rng, cfg) != 0) {
		/* The key as parsed signs all the same, only slower. */
		mbedtls_pk_free(&ecdsa);
		return;
	}
	mbedtls_pk_free(key);
	*key = ecdsa;
}

#else

void
tls_sign_key_prepare(nghttpw_tls_config *cfg, mbedtls_pk_context *key)
{
	(void) cfg;
	(void) key;
}

#endif
