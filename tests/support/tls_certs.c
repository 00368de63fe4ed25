/* Test certificates made with mbedTLS's certificate writer. */
#ifdef NGHTTPW_HAVE_TLS

#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "support/tls_certs.h"

#define DAY (24 * 60 * 60)
#define YEAR (365 * DAY)

typedef struct {
	mbedtls_entropy_context  entropy;
	mbedtls_ctr_drbg_context drbg;
	int                      serial;
} maker;

/* One subject: its key, its name and what it will sign with. */
typedef struct {
	mbedtls_pk_context key;
	char               name[128];
} ident;

static int
ident_init(maker *m, ident *id, const char *cn)
{
	mbedtls_pk_init(&id->key);
	snprintf(id->name, sizeof(id->name), "CN=%s,O=nghttpw tests", cn);
	if (mbedtls_pk_setup(&id->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) !=
	    0) {
		return (-1);
	}
	return (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	            mbedtls_pk_ec(id->key), mbedtls_ctr_drbg_random, &m->drbg) == 0
	        ? 0
	        : -1);
}

static char *
key_pem(ident *id)
{
	unsigned char buf[2048];

	if (mbedtls_pk_write_key_pem(&id->key, buf, sizeof(buf)) != 0) {
		return (NULL);
	}
	return (strdup((char *) buf));
}

static void
utc(char out[16], time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* subjectAltName: DNS names then IP addresses, each list NULL-ended. */
static int
set_san(mbedtls_x509write_cert *crt, const char *const *dns,
    const char *const *ips)
{
	unsigned char  buf[512];
	unsigned char *p   = buf + sizeof(buf);
	size_t         len = 0;
	int            n;

	/* The writer goes backwards: last entry first. */
	for (n = 0; ips != NULL && ips[n] != NULL; n++) {
	}
	while (n-- > 0) {
		unsigned char addr[16];
		size_t        alen = strchr(ips[n], ':') != NULL ? 16 : 4;
		if (inet_pton(alen == 16 ? AF_INET6 : AF_INET, ips[n], addr) != 1 ||
		    mbedtls_asn1_write_raw_buffer(&p, buf, addr, alen) < 0 ||
		    mbedtls_asn1_write_len(&p, buf, alen) < 0 ||
		    mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) <
		        0) {
			return (-1);
		}
	}
	for (n = 0; dns != NULL && dns[n] != NULL; n++) {
	}
	while (n-- > 0) {
		size_t nlen = strlen(dns[n]);
		if (mbedtls_asn1_write_raw_buffer(
		        &p, buf, (const unsigned char *) dns[n], nlen) < 0 ||
		    mbedtls_asn1_write_len(&p, buf, nlen) < 0 ||
		    mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2) <
		        0) {
			return (-1);
		}
	}
	len = (size_t) (buf + sizeof(buf) - p);
	if (mbedtls_asn1_write_len(&p, buf, len) < 0 ||
	    mbedtls_asn1_write_tag(
	        &p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) < 0) {
		return (-1);
	}
	len = (size_t) (buf + sizeof(buf) - p);
	return (mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
	            MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, p, len) == 0
	        ? 0
	        : -1);
}

/* A certificate for subj signed by issuer (subj itself for a root). */
static char *
make_cert(maker *m, ident *subj, ident *issuer, bool ca, const char *const *dns,
    const char *const *ips, time_t not_before, time_t not_after)
{
	mbedtls_x509write_cert crt;
	unsigned char          buf[4096];
	char                   nb[16], na[16];
	char                  *pem = NULL;
	int                    ok  = 0;

	mbedtls_x509write_crt_init(&crt);
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &subj->key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &issuer->key);
	utc(nb, not_before);
	utc(na, not_after);
	m->serial++;
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
	{
		unsigned char serial[2] = { (unsigned char) (m->serial >> 8),
			(unsigned char) m->serial };
		ok = mbedtls_x509write_crt_set_serial_raw(&crt, serial, 2);
	}
#else
	{
		mbedtls_mpi serial;
		mbedtls_mpi_init(&serial);
		ok = mbedtls_mpi_lset(&serial, m->serial);
		if (ok == 0) {
			ok = mbedtls_x509write_crt_set_serial(&crt, &serial);
		}
		mbedtls_mpi_free(&serial);
	}
#endif
	if (ok == 0 &&
	    mbedtls_x509write_crt_set_subject_name(&crt, subj->name) == 0 &&
	    mbedtls_x509write_crt_set_issuer_name(&crt, issuer->name) == 0 &&
	    mbedtls_x509write_crt_set_validity(&crt, nb, na) == 0 &&
	    mbedtls_x509write_crt_set_basic_constraints(&crt, ca ? 1 : 0, ca ? 0 : -1) ==
	        0 &&
	    mbedtls_x509write_crt_set_key_usage(&crt,
	        ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
	           : MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0 &&
	    mbedtls_x509write_crt_set_subject_key_identifier(&crt) == 0 &&
	    mbedtls_x509write_crt_set_authority_key_identifier(&crt) == 0 &&
	    (dns == NULL && ips == NULL ? 0 : set_san(&crt, dns, ips)) == 0 &&
	    mbedtls_x509write_crt_pem(
	        &crt, buf, sizeof(buf), mbedtls_ctr_drbg_random, &m->drbg) == 0) {
		pem = strdup((char *) buf);
	}
	mbedtls_x509write_crt_free(&crt);
	return (pem);
}

static tls_test_certs *certs;

static int
leaf(maker *m, ident *ca, const char *cn, const char *const *dns,
    const char *const *ips, time_t nb, time_t na, char **certp, char **keyp)
{
	ident id;
	int   rv = -1;

	if (ident_init(m, &id, cn) == 0 &&
	    (*certp = make_cert(m, &id, ca, false, dns, ips, nb, na)) != NULL &&
	    (*keyp = key_pem(&id)) != NULL) {
		rv = 0;
	}
	mbedtls_pk_free(&id.key);
	return (rv);
}

static void
make_all(void)
{
	static const char *const local_dns[] = { "localhost", NULL };
	static const char *const local_ips[] = { "127.0.0.1", "::1", NULL };
	static const char *const wrong_dns[] = { "wrong.example", NULL };
	static const char *const alpha_dns[] = { "alpha.test", NULL };
	static const char *const beta_dns[]  = { "beta.test", NULL };
	tls_test_certs          *c           = calloc(1, sizeof(*c));
	maker                    m           = { 0 };
	ident                    ca, other;
	time_t                   now = time(NULL);
	int                      bad = 0;

	mbedtls_entropy_init(&m.entropy);
	mbedtls_ctr_drbg_init(&m.drbg);
	mbedtls_pk_init(&ca.key);
	mbedtls_pk_init(&other.key);
	if (c == NULL ||
	    mbedtls_ctr_drbg_seed(&m.drbg, mbedtls_entropy_func, &m.entropy,
	        (const unsigned char *) "certs", 5) != 0 ||
	    ident_init(&m, &ca, "nghttpw test CA") != 0 ||
	    ident_init(&m, &other, "nghttpw unknown CA") != 0) {
		bad = 1;
	} else {
		c->ca_cert       = make_cert(&m, &ca, &ca, true, NULL, NULL,
		          now - DAY, now + 10 * YEAR);
		c->ca_key        = key_pem(&ca);
		c->other_ca_cert = make_cert(&m, &other, &other, true, NULL, NULL,
		    now - DAY, now + 10 * YEAR);
		c->other_ca_key  = key_pem(&other);
		bad              = c->ca_cert == NULL || c->ca_key == NULL ||
		    c->other_ca_cert == NULL || c->other_ca_key == NULL;
		bad = bad ||
		    leaf(&m, &ca, "localhost", local_dns, local_ips, now - DAY,
		        now + YEAR, &c->server_cert, &c->server_key) != 0 ||
		    leaf(&m, &ca, "localhost", local_dns, local_ips, now - 2 * YEAR,
		        now - YEAR, &c->expired_cert, &c->expired_key) != 0 ||
		    leaf(&m, &ca, "wrong.example", wrong_dns, NULL, now - DAY,
		        now + YEAR, &c->wrong_host_cert, &c->wrong_host_key) != 0 ||
		    leaf(&m, &ca, "test-client", NULL, NULL, now - DAY, now + YEAR,
		        &c->client_cert, &c->client_key) != 0 ||
		    leaf(&m, &other, "localhost", local_dns, local_ips, now - DAY,
		        now + YEAR, &c->untrusted_cert, &c->untrusted_key) != 0 ||
		    leaf(&m, &ca, "alpha.test", alpha_dns, NULL, now - DAY,
		        now + YEAR, &c->alpha_cert, &c->alpha_key) != 0 ||
		    leaf(&m, &ca, "beta.test", beta_dns, NULL, now - DAY, now + YEAR,
		        &c->beta_cert, &c->beta_key) != 0;
	}
	mbedtls_pk_free(&ca.key);
	mbedtls_pk_free(&other.key);
	mbedtls_ctr_drbg_free(&m.drbg);
	mbedtls_entropy_free(&m.entropy);
	if (!bad) {
		certs = c;
	}
	/* On failure what was made is left: the test fails anyway. */
}

const tls_test_certs *
tls_test_certs_get(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, make_all);
	return (certs);
}

int
tls_test_write_file(const char *dir, const char *name, ...)
{
	char        path[1024];
	FILE       *f;
	va_list     ap;
	const char *s;
	int         rv = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		return (-1);
	}
	va_start(ap, name);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (fputs(s, f) == EOF) {
			rv = -1;
		}
	}
	va_end(ap);
	if (fclose(f) != 0) {
		rv = -1;
	}
	return (rv);
}

#else
typedef int tls_certs_unused; /* no empty translation unit */
#endif /* NGHTTPW_HAVE_TLS */
