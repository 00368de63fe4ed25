/* TLS configurations: an mbedTLS ssl_config with the certificates, keys
 * and random generator it points to, shared by reference count.  Once a
 * stream has used a configuration it is read-only (NGHTTPW_EBUSY), so the
 * streams read it without locking. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/error.h>
#include <mbedtls/platform_util.h>

#include "core/log.h"
#include "core/options.h"
#include "tls/tls_impl.h"


int
tls_rng(void *arg, unsigned char *out, size_t len)
{
	nghttpw_tls_config *cfg = arg;
	int                 rv;

#if defined(MBEDTLS_THREADING_C)
	/* The DRBG locks itself. */
	rv = mbedtls_ctr_drbg_random(&cfg->drbg, out, len);
#else
	pthread_mutex_lock(&cfg->rng_mtx);
	rv = mbedtls_ctr_drbg_random(&cfg->drbg, out, len);
	pthread_mutex_unlock(&cfg->rng_mtx);
#endif
	return (rv);
}

void
tls_describe_error(int mrv, char *buf, size_t len)
{
#if defined(MBEDTLS_ERROR_C)
	mbedtls_strerror(mrv, buf, len);
#else
	snprintf(buf, len, "mbedTLS error -0x%04x", (unsigned) -mrv);
#endif
}

int
tls_map_error(int mrv)
{
	switch (mrv) {
	case 0:
		return (0);
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
	case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE:
	case TLS_ERR_PEER_CERT:
	case MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED:
		return (NGHTTPW_EPEERAUTH);
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		return (NGHTTPW_ECLOSED);
	case MBEDTLS_ERR_SSL_CONN_EOF:
		return (NGHTTPW_ECONNRESET);
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
	case MBEDTLS_ERR_X509_ALLOC_FAILED:
	case MBEDTLS_ERR_PK_ALLOC_FAILED:
		return (NGHTTPW_ENOMEM);
	default:
		return (NGHTTPW_ECRYPTO);
	}
}

/* Errors from parsing what the user gave us: NGHTTPW_ECRYPTO for any
 * certificate, key or list that does not parse, as nng's. */
static int
tls_map_parse_error(int mrv)
{
	switch (mrv) {
	case 0:
		return (0);
	case MBEDTLS_ERR_X509_ALLOC_FAILED:
	case MBEDTLS_ERR_PK_ALLOC_FAILED:
		return (NGHTTPW_ENOMEM);
	default:
		return (NGHTTPW_ECRYPTO);
	}
}

/* A failure goes to the configuration's own log, if any, and to the
 * library's log as an authentication warning (nng's NNG-TLS-* messages
 * are too), where it costs nothing unless a logger takes warnings. */
void
tls_config_log(nghttpw_tls_config *cfg, const char *fmt, ...)
{
	void (*fn)(void *, const char *);
	void   *arg;
	char    msg[512];
	va_list ap;

	pthread_mutex_lock(&cfg->mtx);
	fn  = cfg->log_fn;
	arg = cfg->log_arg;
	pthread_mutex_unlock(&cfg->mtx);
	if (fn == NULL && !log_wants(NGHTTPW_LOG_WARN)) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fn != NULL) {
		fn(arg, msg);
	}
	nghttpw_log_auth(NGHTTPW_LOG_WARN, "NGHTTPW-TLS-CONN-FAIL", "%s", msg);
}

/* SNI names match exactly (ignoring case), or as "*.rest" for one more
 * label in front of rest. */
static bool
tls_sni_match(const char *pattern, const unsigned char *name, size_t len)
{
	size_t plen = strlen(pattern);

	if (plen == len && strncasecmp(pattern, (const char *) name, len) == 0) {
		return (true);
	}
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
		const unsigned char *dot = memchr(name, '.', len);
		size_t               rest;
		if (dot == NULL || dot == name) {
			return (false);
		}
		rest = len - (size_t) (dot - name);
		return (rest == plen - 1 &&
		    strncasecmp(pattern + 1, (const char *) dot, rest) == 0);
	}
	return (false);
}

static int
tls_sni_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	nghttpw_tls_config *cfg = arg;

	/* The configuration is read-only by now: no lock needed. */
	for (tls_cert *c = cfg->sni; c != NULL; c = c->next) {
		if (tls_sni_match(c->name, name, len)) {
			return (mbedtls_ssl_set_hs_own_cert(ssl, &c->crt, &c->key));
		}
	}
	return (0); /* the default certificate */
}

static void
tls_cert_free(tls_cert *c)
{
	mbedtls_x509_crt_free(&c->crt);
	mbedtls_pk_free(&c->key);
	free(c->name);
	free(c);
}

static void
tls_alpn_free(char **alpn)
{
	if (alpn != NULL) {
		for (char **p = alpn; *p != NULL; p++) {
			free(*p);
		}
		free(alpn);
	}
}

static void
tls_config_destroy(nghttpw_tls_config *cfg)
{
	tls_cert *c;

	mbedtls_ssl_config_free(&cfg->conf);
	tls_resume_free(cfg);
	while ((c = cfg->own) != NULL) {
		cfg->own = c->next;
		tls_cert_free(c);
	}
	while ((c = cfg->sni) != NULL) {
		cfg->sni = c->next;
		tls_cert_free(c);
	}
	tls_psks_free(cfg->psks);
	mbedtls_x509_crt_free(&cfg->ca);
	mbedtls_x509_crl_free(&cfg->crl);
	mbedtls_ctr_drbg_free(&cfg->drbg);
	mbedtls_entropy_free(&cfg->entropy);
	tls_alpn_free(cfg->alpn);
	free(cfg->suites);
	free(cfg->curves);
	free(cfg->server_name);
	pthread_mutex_destroy(&cfg->rng_mtx);
	pthread_mutex_destroy(&cfg->mtx);
	free(cfg);
}

int
nghttpw_tls_config_alloc(nghttpw_tls_config **cfgp, nghttpw_tls_mode mode)
{
	static const char   pers[] = "nghttpw tls";
	nghttpw_tls_config *cfg;
	int                 mrv;
	int                 rv;

	if (cfgp == NULL ||
	    (mode != NGHTTPW_TLS_MODE_CLIENT && mode != NGHTTPW_TLS_MODE_SERVER)) {
		return (NGHTTPW_EINVAL);
	}
	if (tls_crypto_start() != 0) {
		return (NGHTTPW_ECRYPTO);
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&cfg->mtx, NULL);
	pthread_mutex_init(&cfg->rng_mtx, NULL);
	cfg->refs = 1;
	cfg->mode = mode;
	mbedtls_ssl_config_init(&cfg->conf);
	mbedtls_entropy_init(&cfg->entropy);
	mbedtls_ctr_drbg_init(&cfg->drbg);
	mbedtls_x509_crt_init(&cfg->ca);
	mbedtls_x509_crl_init(&cfg->crl);
	tls_resume_init(cfg);

	if ((mrv = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func,
	         &cfg->entropy, (const unsigned char *) pers, sizeof(pers) - 1)) !=
	        0 ||
	    (mrv = mbedtls_ssl_config_defaults(&cfg->conf,
	         mode == NGHTTPW_TLS_MODE_CLIENT ? MBEDTLS_SSL_IS_CLIENT
	                                         : MBEDTLS_SSL_IS_SERVER,
	         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_config_destroy(cfg);
		return (tls_map_error(mrv));
	}
	mbedtls_ssl_conf_rng(&cfg->conf, tls_rng, cfg);
	if ((rv = tls_suites_defaults(cfg)) != 0) {
		tls_config_destroy(cfg);
		return (rv);
	}
	/* TLS 1.2 only: 1.0 and 1.1 are obsolete, mbedTLS 2 has no TLS 1.3,
	 * and ours is not done on 3.x (see tls_mbedtls_compat.h). */
	tls_conf_versions(&cfg->conf, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_2);
#if defined(MBEDTLS_SSL_RENEGOTIATION)
	mbedtls_ssl_conf_renegotiation(&cfg->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
	if (mode == NGHTTPW_TLS_MODE_CLIENT) {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
		mbedtls_ssl_conf_session_tickets(
		    &cfg->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
#endif
	} else {
		mbedtls_ssl_conf_authmode(&cfg->conf, MBEDTLS_SSL_VERIFY_NONE);
		mbedtls_ssl_conf_sni(&cfg->conf, tls_sni_cb, cfg);
	}
	*cfgp = cfg;
	return (0);
}

void
nghttpw_tls_config_hold(nghttpw_tls_config *cfg)
{
	if (cfg != NULL) {
		pthread_mutex_lock(&cfg->mtx);
		cfg->refs++;
		pthread_mutex_unlock(&cfg->mtx);
	}
}

void
nghttpw_tls_config_free(nghttpw_tls_config *cfg)
{
	bool last;

	if (cfg == NULL) {
		return;
	}
	pthread_mutex_lock(&cfg->mtx);
	last = --cfg->refs == 0;
	pthread_mutex_unlock(&cfg->mtx);
	if (last) {
		tls_config_destroy(cfg);
	}
}

int
tls_config_opt_set(pthread_mutex_t *mtx, nghttpw_tls_config **slot,
    nghttpw_tls_mode mode, const void *buf, size_t sz, nghttpw_type t,
    void (*swapped)(void *), void *arg)
{
	nghttpw_tls_config *cfg;
	nghttpw_tls_config *old;
	void               *p;
	int                 rv;

	if ((rv = opt_in_ptr(buf, sz, t, &p)) != 0) {
		return (rv);
	}
	if ((cfg = p) == NULL || cfg->mode != mode) {
		return (NGHTTPW_EINVAL);
	}
	nghttpw_tls_config_hold(cfg);
	pthread_mutex_lock(mtx);
	old   = *slot;
	*slot = cfg;
	if (swapped != NULL) {
		swapped(arg);
	}
	pthread_mutex_unlock(mtx);
	nghttpw_tls_config_free(old);
	return (0);
}

int
tls_config_lock_unused(nghttpw_tls_config *cfg)
{
	pthread_mutex_lock(&cfg->mtx);
	if (cfg->busy) {
		pthread_mutex_unlock(&cfg->mtx);
		return (NGHTTPW_EBUSY);
	}
	return (0);
}

int
tls_config_use(nghttpw_tls_config *cfg)
{
	int rv = 0;

	pthread_mutex_lock(&cfg->mtx);
	if (!cfg->busy && cfg->mode == NGHTTPW_TLS_MODE_SERVER &&
	    cfg->own == NULL && cfg->sni != NULL) {
		/* Peers that send no SNI, or an unknown name, get the first
		 * SNI certificate when there is no own certificate. */
		int mrv = mbedtls_ssl_conf_own_cert(
		    &cfg->conf, &cfg->sni->crt, &cfg->sni->key);
		rv      = tls_map_error(mrv);
	}
	if (rv == 0 && cfg->mode == NGHTTPW_TLS_MODE_SERVER &&
	    cfg->own == NULL && cfg->sni == NULL && cfg->psks == NULL) {
		rv = NGHTTPW_EINVAL;
	}
	if (rv == 0 && !cfg->busy) {
		rv = tls_resume_start(cfg);
	}
	if (rv == 0) {
		if (!cfg->busy) {
			tls_suites_use(cfg);
		}
		cfg->busy = true;
		cfg->refs++;
	}
	pthread_mutex_unlock(&cfg->mtx);
	return (rv);
}

bool
tls_config_can_serve(nghttpw_tls_config *cfg)
{
	bool can;

	pthread_mutex_lock(&cfg->mtx);
	can = cfg->own != NULL || cfg->sni != NULL || cfg->psks != NULL;
	pthread_mutex_unlock(&cfg->mtx);
	return (can);
}

/* NGHTTPW_EBUSY once cfg is used: nng checks that before it looks at
 * the arguments. */
static int
tls_config_check_unused(nghttpw_tls_config *cfg)
{
	int rv;

	if ((rv = tls_config_lock_unused(cfg)) == 0) {
		pthread_mutex_unlock(&cfg->mtx);
	}
	return (rv);
}

int
nghttpw_tls_config_server_name(nghttpw_tls_config *cfg, const char *name)
{
	char *dup = NULL;
	int   rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	/* NULL forgets the name: a dialer then uses its URL's host. */
	if (name != NULL && (dup = strdup(name)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		free(dup);
		return (rv);
	}
	free(cfg->server_name);
	cfg->server_name = dup;
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

/* Checks that a PEM or DER certificate list parses as a whole. */
static int
tls_check_crts(const unsigned char *buf, size_t len, bool allow_partial)
{
	mbedtls_x509_crt tmp;
	int              mrv;
	bool             any;

	mbedtls_x509_crt_init(&tmp);
	mrv = mbedtls_x509_crt_parse(&tmp, buf, len);
	any = tmp.raw.p != NULL;
	mbedtls_x509_crt_free(&tmp);
	if (mrv < 0) {
		return (tls_map_parse_error(mrv));
	}
	if (!any || (mrv > 0 && !allow_partial)) {
		return (NGHTTPW_ECRYPTO);
	}
	return (0);
}

static int
tls_add_ca_locked(nghttpw_tls_config *cfg, const unsigned char *chain,
    size_t chain_len, const unsigned char *crl, size_t crl_len,
    bool allow_partial)
{
	int rv;
	int mrv;

	if ((rv = tls_check_crts(chain, chain_len, allow_partial)) != 0) {
		return (rv);
	}
	if (crl != NULL) {
		mbedtls_x509_crl tmp;
		mbedtls_x509_crl_init(&tmp);
		mrv = mbedtls_x509_crl_parse(&tmp, crl, crl_len);
		mbedtls_x509_crl_free(&tmp);
		if (mrv != 0) {
			return (tls_map_parse_error(mrv));
		}
	}
	/* Checked: now append for real (failures here are memory). */
	if ((mrv = mbedtls_x509_crt_parse(&cfg->ca, chain, chain_len)) < 0) {
		return (tls_map_parse_error(mrv));
	}
	cfg->have_ca = true;
	if (crl != NULL) {
		if ((mrv = mbedtls_x509_crl_parse(&cfg->crl, crl, crl_len)) != 0) {
			return (tls_map_parse_error(mrv));
		}
		cfg->have_crl = true;
	}
	mbedtls_ssl_conf_ca_chain(
	    &cfg->conf, &cfg->ca, cfg->have_crl ? &cfg->crl : NULL);
	return (0);
}

int
nghttpw_tls_config_ca_chain(
    nghttpw_tls_config *cfg, const char *chain, const char *crl)
{
	int rv;

	if (cfg == NULL || chain == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		return (rv);
	}
	/* PEM is parsed with its terminating NUL. */
	rv = tls_add_ca_locked(cfg, (const unsigned char *) chain,
	    strlen(chain) + 1, (const unsigned char *) crl,
	    crl != NULL ? strlen(crl) + 1 : 0, false);
	pthread_mutex_unlock(&cfg->mtx);
	return (rv);
}

/* Reads a whole file, NUL-terminated; *lenp counts the NUL. */
static int
tls_read_file(const char *path, unsigned char **bufp, size_t *lenp)
{
	FILE          *f;
	unsigned char *buf = NULL;
	size_t         len = 0;
	size_t         cap = 0;
	size_t         n;
	int            rv = 0;

	if ((f = fopen(path, "rb")) == NULL) {
		switch (errno) {
		case ENOENT:
		case ENOTDIR:
			return (NGHTTPW_ENOENT);
		case EACCES:
		case EPERM:
			return (NGHTTPW_EPERM);
		case ENOMEM:
			return (NGHTTPW_ENOMEM);
		default:
			return (NGHTTPW_ESYSERR | errno);
		}
	}
	do {
		if (cap - len < 4096) {
			unsigned char *grown = realloc(buf, cap + 65536);
			if (grown == NULL) {
				rv = NGHTTPW_ENOMEM;
				break;
			}
			buf = grown;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (rv == 0 && ferror(f)) {
		rv = NGHTTPW_ESYSERR | EIO;
	}
	fclose(f);
	if (rv != 0) {
		free(buf);
		return (rv);
	}
	buf[len] = '\0';
	*bufp    = buf;
	*lenp    = len + 1;
	return (0);
}

int
nghttpw_tls_config_ca_file(nghttpw_tls_config *cfg, const char *path)
{
	unsigned char *buf;
	size_t         len;
	int            rv;
	bool           has_crl;

	if (cfg == NULL || path == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_read_file(path, &buf, &len)) != 0) {
		return (rv);
	}
	has_crl = strstr((const char *) buf, "-----BEGIN X509 CRL-----") != NULL;
	if ((rv = tls_config_lock_unused(cfg)) == 0) {
		/* A system bundle may hold a few certificates mbedTLS does
		 * not understand; the rest are still useful. */
		rv = tls_add_ca_locked(
		    cfg, buf, len, has_crl ? buf : NULL, len, true);
		pthread_mutex_unlock(&cfg->mtx);
	}
	free(buf);
	return (rv);
}

static int
tls_cert_new(nghttpw_tls_config *cfg, tls_cert **cp, const char *name,
    const unsigned char *cert,
    size_t cert_len, const unsigned char *key, size_t key_len,
    const char *pass)
{
	tls_cert *c;
	int       mrv;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	mbedtls_x509_crt_init(&c->crt);
	mbedtls_pk_init(&c->key);
	if (name != NULL && (c->name = strdup(name)) == NULL) {
		tls_cert_free(c);
		return (NGHTTPW_ENOMEM);
	}
	if ((mrv = mbedtls_x509_crt_parse(&c->crt, cert, cert_len)) != 0) {
		tls_cert_free(c);
		return (mrv > 0 ? NGHTTPW_ECRYPTO : tls_map_parse_error(mrv));
	}
	mrv = tls_pk_parse_key(&c->key, key, key_len, (const unsigned char *) pass,
	    pass != NULL ? strlen(pass) : 0, tls_rng, cfg);
	if (mrv != 0) {
		tls_cert_free(c);
		return (tls_map_parse_error(mrv));
	}
	if ((mrv = tls_pk_check_pair(&c->crt.pk, &c->key, tls_rng, cfg)) != 0) {
		tls_cert_free(c);
		return (NGHTTPW_EINVAL); /* the key is not the certificate's */
	}
	tls_sign_key_prepare(cfg, &c->key);
	*cp = c;
	return (0);
}

static int
tls_add_own_cert(nghttpw_tls_config *cfg, const unsigned char *cert,
    size_t cert_len, const unsigned char *key, size_t key_len,
    const char *pass)
{
	tls_cert  *c;
	tls_cert **pp;
	int        rv;

	if ((rv = tls_cert_new(
	         cfg, &c, NULL, cert, cert_len, key, key_len, pass)) != 0) {
		return (rv);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		tls_cert_free(c);
		return (rv);
	}
	if ((rv = tls_map_error(
	         mbedtls_ssl_conf_own_cert(&cfg->conf, &c->crt, &c->key))) != 0) {
		pthread_mutex_unlock(&cfg->mtx);
		tls_cert_free(c);
		return (rv);
	}
	for (pp = &cfg->own; *pp != NULL; pp = &(*pp)->next) {
	}
	*pp = c;
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

int
nghttpw_tls_config_own_cert(nghttpw_tls_config *cfg, const char *cert,
    const char *key, const char *pass)
{
	int rv;

	if (cfg == NULL || cert == NULL || key == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_config_check_unused(cfg)) != 0) {
		return (rv);
	}
	return (tls_add_own_cert(cfg, (const unsigned char *) cert,
	    strlen(cert) + 1, (const unsigned char *) key, strlen(key) + 1, pass));
}

int
nghttpw_tls_config_cert_key_file(
    nghttpw_tls_config *cfg, const char *path, const char *pass)
{
	unsigned char *buf;
	size_t         len;
	int            rv;

	if (cfg == NULL || path == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_read_file(path, &buf, &len)) != 0) {
		return (rv);
	}
	/* Both parsers look for their own PEM blocks in the whole file. */
	if ((rv = tls_config_check_unused(cfg)) == 0) {
		rv = tls_add_own_cert(cfg, buf, len, buf, len, pass);
	}
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	return (rv);
}

int
nghttpw_tls_config_add_sni_cert(nghttpw_tls_config *cfg, const char *name,
    const char *cert, const char *key, const char *pass)
{
	tls_cert  *c;
	tls_cert **pp;
	int        rv;

	if (cfg == NULL || name == NULL || name[0] == '\0' || cert == NULL ||
	    key == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (cfg->mode != NGHTTPW_TLS_MODE_SERVER) {
		return (NGHTTPW_ENOTSUP);
	}
	if ((rv = tls_config_check_unused(cfg)) != 0) {
		return (rv);
	}
	if ((rv = tls_cert_new(cfg, &c, name, (const unsigned char *) cert,
	         strlen(cert) + 1, (const unsigned char *) key, strlen(key) + 1,
	         pass)) != 0) {
		return (rv);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		tls_cert_free(c);
		return (rv);
	}
	for (pp = &cfg->sni; *pp != NULL; pp = &(*pp)->next) {
		if (strcasecmp((*pp)->name, name) == 0) {
			pthread_mutex_unlock(&cfg->mtx);
			tls_cert_free(c);
			return (NGHTTPW_EEXIST);
		}
	}
	*pp = c;
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

int
nghttpw_tls_config_auth_mode(nghttpw_tls_config *cfg, nghttpw_tls_auth_mode mode)
{
	int mmode;
	int rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		return (rv);
	}
	switch (mode) {
	case NGHTTPW_TLS_AUTH_MODE_NONE:
		mmode = MBEDTLS_SSL_VERIFY_NONE;
		break;
	case NGHTTPW_TLS_AUTH_MODE_OPTIONAL:
		mmode = MBEDTLS_SSL_VERIFY_OPTIONAL;
		break;
	case NGHTTPW_TLS_AUTH_MODE_REQUIRED:
		mmode = MBEDTLS_SSL_VERIFY_REQUIRED;
		break;
	default:
		pthread_mutex_unlock(&cfg->mtx);
		return (NGHTTPW_EINVAL);
	}
	mbedtls_ssl_conf_authmode(&cfg->conf, mmode);
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

/* nng's rules: NGHTTPW_ENOTSUP for a minimum above the maximum, or for
 * a version the engine does not offer.  Ours offers TLS 1.2 alone:
 * mbedTLS 2 has no TLS 1.3, which as a maximum means "the best we have",
 * and TLS 1.0 and 1.1 are refused, as RFC 8996 asks, where nng would let
 * mbedTLS 2 negotiate them. */
int
nghttpw_tls_config_version(
    nghttpw_tls_config *cfg, nghttpw_tls_version min, nghttpw_tls_version max)
{
	int rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		return (rv);
	}
	if (min > max || min != NGHTTPW_TLS_1_2 ||
	    (max != NGHTTPW_TLS_1_2 && max != NGHTTPW_TLS_1_3)) {
		pthread_mutex_unlock(&cfg->mtx);
		return (NGHTTPW_ENOTSUP);
	}
	tls_conf_versions(&cfg->conf, NGHTTPW_TLS_1_2, NGHTTPW_TLS_1_2);
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

int
nghttpw_tls_config_alpn(nghttpw_tls_config *cfg, const char *const *protos)
{
	char **copy = NULL;
	size_t n    = 0;
	int    rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (protos != NULL) {
		while (protos[n] != NULL) {
			size_t len = strlen(protos[n]);
			if (len == 0 || len > 255) {
				return (NGHTTPW_EINVAL);
			}
			n++;
		}
	}
	if (n > 0) {
		if ((copy = calloc(n + 1, sizeof(*copy))) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		for (size_t i = 0; i < n; i++) {
			if ((copy[i] = strdup(protos[i])) == NULL) {
				tls_alpn_free(copy);
				return (NGHTTPW_ENOMEM);
			}
		}
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		tls_alpn_free(copy);
		return (rv);
	}
	if (copy != NULL) {
		rv = tls_map_error(mbedtls_ssl_conf_alpn_protocols(
		    &cfg->conf, (const char **) copy));
	} else {
		/* mbedTLS has no call to forget the list. */
		cfg->conf.TLS_PRIV(alpn_list) = NULL;
	}
	if (rv == 0) {
		tls_alpn_free(cfg->alpn);
		cfg->alpn = copy;
	} else {
		tls_alpn_free(copy);
	}
	pthread_mutex_unlock(&cfg->mtx);
	return (rv);
}

int
nghttpw_tls_config_log(nghttpw_tls_config *cfg,
    void (*fn)(void *arg, const char *msg), void *arg)
{
	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	pthread_mutex_lock(&cfg->mtx);
	cfg->log_fn  = fn;
	cfg->log_arg = arg;
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

int
tls_config_default_client(nghttpw_tls_config **cfgp)
{
	nghttpw_tls_config *cfg;
	int                 rv;

	if ((rv = nghttpw_tls_config_alloc(&cfg, NGHTTPW_TLS_MODE_CLIENT)) != 0) {
		return (rv);
	}
	/* Without the bundle nothing verifies, and every handshake fails
	 * with NGHTTPW_EPEERAUTH: that is the safe outcome. */
	(void) nghttpw_tls_config_ca_file(cfg, TLS_SYSTEM_CA_FILE);
	*cfgp = cfg;
	return (0);
}

const char *
nghttpw_tls_engine_name(void)
{
	return ("mbed");
}

const char *
nghttpw_tls_engine_description(void)
{
	return (MBEDTLS_VERSION_STRING_FULL);
}

/* mbedTLS has no FIPS 140 mode. */
bool
nghttpw_tls_engine_fips_mode(void)
{
	return (false);
}
