/* Test certificates, made at run time with mbedTLS (ECDSA P-256): nothing
 * secret lives in the tree.  All strings are PEM. */
#ifndef NGHTTPW_TESTS_TLS_CERTS_H
#define NGHTTPW_TESTS_TLS_CERTS_H

#include <stdbool.h>

typedef struct tls_test_certs {
	/* The test CA. */
	char *ca_cert;
	char *ca_key;
	/* CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1; by the CA. */
	char *server_cert;
	char *server_key;
	/* The same names, but valid from two years ago to one year ago. */
	char *expired_cert;
	char *expired_key;
	/* CN=wrong.example, SAN DNS:wrong.example only; by the CA. */
	char *wrong_host_cert;
	char *wrong_host_key;
	/* CN=test-client; by the CA. */
	char *client_cert;
	char *client_key;
	/* A CA nobody trusts, and a localhost certificate it signed. */
	char *other_ca_cert;
	char *other_ca_key;
	char *untrusted_cert;
	char *untrusted_key;
	/* CN=alpha.test and CN=beta.test (and their DNS SANs); by the CA. */
	char *alpha_cert;
	char *alpha_key;
	char *beta_cert;
	char *beta_key;
} tls_test_certs;

/* Makes the certificates on first use (once per process); NULL if that
 * failed. */
const tls_test_certs *tls_test_certs_get(void);

/* Writes the concatenation of the strings (NULL-terminated list) to
 * dir/name; returns 0 or -1. */
int tls_test_write_file(const char *dir, const char *name, ...);

#endif
