/* A server's EC key is kept ready to sign (src/tls/tls_sign_key.c): the
 * signatures it makes still verify with its certificate, from many
 * threads at once, and the table of base-point multiples that makes them
 * cheap is built once, when the key is set, not per signature. */
#ifdef NGHTTPW_HAVE_TLS

#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/pk.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/tls.h"
#include "support/tls_certs.h"
#include "tls/tls_impl.h" /* to reach the key a configuration holds */

#define SIGNERS 4
#define SIGNATURES 25

TestSuite(tls_sign_key, .timeout = 120);

static nghttpw_tls_config *
config_with_cert(nghttpw_tls_mode mode)
{
	const tls_test_certs *c = tls_test_certs_get();
	nghttpw_tls_config   *cfg;

	cr_assert_not_null(c, "making the test certificates failed");
	cr_assert_eq(nghttpw_tls_config_alloc(&cfg, mode), 0);
	cr_assert_eq(nghttpw_tls_config_own_cert(cfg, c->server_cert, c->server_key, NULL), 0);
	return (cfg);
}

/* Signs a hash with the configuration's own key, as a handshake does,
 * and checks the signature against the certificate's public key. */
static void
sign_and_verify(nghttpw_tls_config *cfg, unsigned char seed)
{
	unsigned char hash[32], sig[MBEDTLS_ECDSA_MAX_LEN];
	size_t        len;

	memset(hash, seed, sizeof(hash));
	cr_assert_eq(mbedtls_pk_sign(&cfg->own->key, MBEDTLS_MD_SHA256, hash,
	                 sizeof(hash), sig, &len, tls_rng, cfg),
	    0);
	cr_assert_eq(mbedtls_pk_verify(&cfg->own->crt.pk, MBEDTLS_MD_SHA256, hash,
	                 sizeof(hash), sig, len),
	    0, "a signature that does not verify");
	hash[0] ^= 1;
	cr_assert_neq(mbedtls_pk_verify(&cfg->own->crt.pk, MBEDTLS_MD_SHA256,
	                  hash, sizeof(hash), sig, len),
	    0);
}

Test(tls_sign_key, signatures_verify_with_the_certificate)
{
	for (int mode = 0; mode < 2; mode++) {
		nghttpw_tls_config *cfg = config_with_cert(
		    mode == 0 ? NGHTTPW_TLS_MODE_SERVER : NGHTTPW_TLS_MODE_CLIENT);
		for (int i = 0; i < 5; i++) {
			sign_and_verify(cfg, (unsigned char) i);
		}
		nghttpw_tls_config_free(cfg);
	}
}

#if MBEDTLS_VERSION_NUMBER < 0x03000000
Test(tls_sign_key, the_table_is_built_once_when_the_key_is_set)
{
	nghttpw_tls_config *cfg = config_with_cert(NGHTTPW_TLS_MODE_SERVER);
	mbedtls_ecp_group  *grp;
	void               *table;

	cr_assert_eq(mbedtls_pk_get_type(&cfg->own->key), MBEDTLS_PK_ECDSA);
	grp   = &mbedtls_pk_ec(cfg->own->key)->grp;
	table = grp->T;
	cr_assert_not_null(table, "no table before the first handshake");
	sign_and_verify(cfg, 1);
	sign_and_verify(cfg, 2);
	cr_assert_eq(grp->T, table, "a signature rebuilt the table");
	nghttpw_tls_config_free(cfg);
}
#endif

static void *
signer(void *arg)
{
	for (int i = 0; i < SIGNATURES; i++) {
		sign_and_verify(arg, (unsigned char) i);
	}
	return (NULL);
}

/* Handshakes on several I/O threads sign with the one key at once. */
Test(tls_sign_key, threads_sign_with_one_key_at_once)
{
	nghttpw_tls_config *cfg = config_with_cert(NGHTTPW_TLS_MODE_SERVER);
	pthread_t           thr[SIGNERS];

	for (int i = 0; i < SIGNERS; i++) {
		cr_assert_eq(pthread_create(&thr[i], NULL, signer, cfg), 0);
	}
	for (int i = 0; i < SIGNERS; i++) {
		pthread_join(thr[i], NULL);
	}
	nghttpw_tls_config_free(cfg);
}

#endif /* NGHTTPW_HAVE_TLS */
