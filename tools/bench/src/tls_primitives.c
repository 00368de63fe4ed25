/* tls_primitives EC_KEY RSA_KEY [MS]: the public-key operations of a full
 * TLS 1.2 server handshake, timed in mbedTLS as our server runs them: an
 * ephemeral key pair and the shared secret (X25519, P-256), and the
 * signature over the key exchange (ECDSA P-256, RSA-2048 PKCS#1 v1.5).
 * Each runs for MS milliseconds of this thread's CPU time (default 1000),
 * so that other work on the machine does not count; prints "name
 * ms-per-op".
 * The groups are loaded afresh for every key exchange, as mbedTLS's TLS
 * code does per handshake; the signing keys are loaded once, as a
 * server's are.  ECDSA is timed twice: through the key as mbedTLS parses
 * it (which rebuilds the curve's table for every signature) and through
 * an ECDSA context that keeps it, as nghttpw's server signs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

static mbedtls_ctr_drbg_context drbg;
static double                   budget = 1.0;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double) ts.tv_sec + (double) ts.tv_nsec * 1e-9);
}

static void
report(const char *name, double secs, long n)
{
	printf("%s %.4f\n", name, secs * 1e3 / (double) n);
}

static void
time_ecdh(mbedtls_ecp_group_id id, const char *name)
{
	mbedtls_ecp_group  grp;
	mbedtls_mpi        d, z;
	mbedtls_ecp_point  q;
	long               n  = 0;
	double             t0 = now(), t1;
	char               label[64];

	mbedtls_mpi_init(&z);
	do { /* key pairs, each on a freshly loaded group */
		mbedtls_ecp_group_init(&grp);
		mbedtls_mpi_init(&d);
		mbedtls_ecp_point_init(&q);
		if (mbedtls_ecp_group_load(&grp, id) != 0 ||
		    mbedtls_ecdh_gen_public(&grp, &d, &q, mbedtls_ctr_drbg_random, &drbg) != 0) {
			fprintf(stderr, "tls_primitives: %s keygen failed\n", name);
			exit(1);
		}
		n++;
		t1 = now();
		if (t1 - t0 < budget) {
			mbedtls_ecp_group_free(&grp);
			mbedtls_mpi_free(&d);
			mbedtls_ecp_point_free(&q);
		}
	} while (t1 - t0 < budget);
	snprintf(label, sizeof(label), "%s_keygen", name);
	report(label, t1 - t0, n);

	n  = 0;
	t0 = now();
	do { /* the shared secret with the last key pair's public point */
		if (mbedtls_ecdh_compute_shared(&grp, &z, &q, &d,
		        mbedtls_ctr_drbg_random, &drbg) != 0) {
			fprintf(stderr, "tls_primitives: %s shared failed\n", name);
			exit(1);
		}
		n++;
		t1 = now();
	} while (t1 - t0 < budget);
	snprintf(label, sizeof(label), "%s_shared", name);
	report(label, t1 - t0, n);
	mbedtls_ecp_group_free(&grp);
	mbedtls_mpi_free(&d);
	mbedtls_mpi_free(&z);
	mbedtls_ecp_point_free(&q);
}

static void
time_sign(const char *path, const char *name)
{
	mbedtls_pk_context pk;
	unsigned char      hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t             len;
	long               n = 0;
	double             t0, t1;

	memset(hash, 0x5a, sizeof(hash));
	mbedtls_pk_init(&pk);
	if (mbedtls_pk_parse_keyfile(&pk, path, NULL) != 0) {
		fprintf(stderr, "tls_primitives: cannot load %s\n", path);
		exit(1);
	}
	t0 = now();
	do {
		if (mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
		        &len, mbedtls_ctr_drbg_random, &drbg) != 0) {
			fprintf(stderr, "tls_primitives: %s sign failed\n", name);
			exit(1);
		}
		n++;
		t1 = now();
	} while (t1 - t0 < budget);
	report(name, t1 - t0, n);
	mbedtls_pk_free(&pk);
}

static void
time_sign_kept(const char *path, const char *name)
{
	mbedtls_pk_context    pk;
	mbedtls_ecdsa_context ecdsa;
	unsigned char         hash[32], sig[MBEDTLS_ECDSA_MAX_LEN];
	size_t                len;
	long                  n = 0;
	double                t0, t1;

	memset(hash, 0x5a, sizeof(hash));
	mbedtls_pk_init(&pk);
	mbedtls_ecdsa_init(&ecdsa);
	if (mbedtls_pk_parse_keyfile(&pk, path, NULL) != 0 ||
	    mbedtls_ecdsa_from_keypair(&ecdsa, mbedtls_pk_ec(pk)) != 0) {
		fprintf(stderr, "tls_primitives: cannot load %s\n", path);
		exit(1);
	}
	t0 = now();
	do {
		if (mbedtls_ecdsa_write_signature(&ecdsa, MBEDTLS_MD_SHA256, hash,
		        sizeof(hash), sig, &len, mbedtls_ctr_drbg_random, &drbg) != 0) {
			fprintf(stderr, "tls_primitives: %s failed\n", name);
			exit(1);
		}
		n++;
		t1 = now();
	} while (t1 - t0 < budget);
	report(name, t1 - t0, n);
	mbedtls_ecdsa_free(&ecdsa);
	mbedtls_pk_free(&pk);
}

int
main(int argc, char **argv)
{
	mbedtls_entropy_context entropy;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: tls_primitives EC_KEY RSA_KEY [MS]\n");
		return (2);
	}
	if (argc == 4) {
		budget = atof(argv[3]) / 1e3;
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0) {
		fprintf(stderr, "tls_primitives: no random numbers\n");
		return (1);
	}
	time_ecdh(MBEDTLS_ECP_DP_CURVE25519, "x25519");
	time_ecdh(MBEDTLS_ECP_DP_SECP256R1, "p256");
	time_sign(argv[1], "ecdsa_p256_sign");
	time_sign_kept(argv[1], "ecdsa_p256_sign_kept");
	time_sign(argv[2], "rsa2048_sign");
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return (0);
}
