/* Cipher suites and curves: the modern defaults (ECDHE with AEAD only;
 * X25519, P-256, P-384) and the lists a user sets instead.  A list is
 * kept by the configuration, since mbedTLS keeps a pointer to it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/dhm.h>
#include <mbedtls/ecp.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "tls/tls_impl.h"

#define TLS_MAX_NAME 128 /* longer than any suite or curve name */

/* With a certificate: forward secrecy and AEAD only.  ChaCha20 first,
 * which costs least without AES instructions (see tls_suites_build). */
static const int tls_cert_suites[] = {
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

/* Added when the configuration has a pre-shared key, and only then: a
 * client without one must not offer them.  ECDHE-PSK has no AES-GCM
 * suite; plain PSK keeps nng's PSK peers working. */
static const int tls_psk_suites[] = {
	MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256,
};

#define TLS_N_CERT (sizeof(tls_cert_suites) / sizeof(int))
#define TLS_N_PSK (sizeof(tls_psk_suites) / sizeof(int))

/* The defaults as handed to mbedTLS: certificate suites, then (for
 * tls_dflt_psk) the PSK ones, 0-terminated.  Built once. */
static int            tls_dflt[TLS_N_CERT + 1];
static int            tls_dflt_psk[TLS_N_CERT + TLS_N_PSK + 1];
static pthread_once_t tls_dflt_once = PTHREAD_ONCE_INIT;

/* A server's curves; a client's add P-521 last, which it needs to accept
 * a server certificate on that curve (TLS 1.2 checks it against the
 * list), and which costs it nothing unless a server picks it. */
static const tls_group tls_dflt_curves[] = {
	TLS_GROUP_X25519,
	TLS_GROUP_P256,
	TLS_GROUP_P384,
	TLS_GROUP_NONE,
};
static const tls_group tls_dflt_client_curves[] = {
	TLS_GROUP_X25519,
	TLS_GROUP_P256,
	TLS_GROUP_P384,
	TLS_GROUP_P521,
	TLS_GROUP_NONE,
};

/* OpenSSL's names of the AEAD suites (IANA's and mbedTLS's names are
 * matched by mbedTLS itself). */
static const struct {
	const char *name;
	int         id;
} tls_openssl_names[] = {
	{ "ECDHE-ECDSA-AES128-GCM-SHA256",
	    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 },
	{ "ECDHE-ECDSA-AES256-GCM-SHA384",
	    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 },
	{ "ECDHE-ECDSA-CHACHA20-POLY1305",
	    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 },
	{ "ECDHE-RSA-AES128-GCM-SHA256",
	    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 },
	{ "ECDHE-RSA-AES256-GCM-SHA384",
	    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 },
	{ "ECDHE-RSA-CHACHA20-POLY1305",
	    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 },
	{ "DHE-RSA-AES128-GCM-SHA256", MBEDTLS_TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 },
	{ "DHE-RSA-AES256-GCM-SHA384", MBEDTLS_TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 },
	{ "DHE-RSA-CHACHA20-POLY1305",
	    MBEDTLS_TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 },
	{ "ECDHE-PSK-CHACHA20-POLY1305",
	    MBEDTLS_TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256 },
	{ "PSK-AES128-GCM-SHA256", MBEDTLS_TLS_PSK_WITH_AES_128_GCM_SHA256 },
	{ "PSK-AES256-GCM-SHA384", MBEDTLS_TLS_PSK_WITH_AES_256_GCM_SHA384 },
	{ "PSK-CHACHA20-POLY1305", MBEDTLS_TLS_PSK_WITH_CHACHA20_POLY1305_SHA256 },
};

/* Other names for the curves than mbedTLS's own ("x25519", "secp256r1"). */
static const struct {
	const char          *name;
	mbedtls_ecp_group_id id;
} tls_curve_aliases[] = {
	{ "p256", MBEDTLS_ECP_DP_SECP256R1 },
	{ "p-256", MBEDTLS_ECP_DP_SECP256R1 },
	{ "prime256v1", MBEDTLS_ECP_DP_SECP256R1 },
	{ "p384", MBEDTLS_ECP_DP_SECP384R1 },
	{ "p-384", MBEDTLS_ECP_DP_SECP384R1 },
	{ "p521", MBEDTLS_ECP_DP_SECP521R1 },
	{ "p-521", MBEDTLS_ECP_DP_SECP521R1 },
};

/* The RFC 7919 groups a server uses for DHE suites (when a cipher list
 * names any), picked with an "ffdhe..." name in the curve list. */
static const unsigned char tls_ffdhe2048_p[] = MBEDTLS_DHM_RFC7919_FFDHE2048_P_BIN;
static const unsigned char tls_ffdhe3072_p[] = MBEDTLS_DHM_RFC7919_FFDHE3072_P_BIN;
static const unsigned char tls_ffdhe4096_p[] = MBEDTLS_DHM_RFC7919_FFDHE4096_P_BIN;
static const unsigned char tls_ffdhe_g[]     = MBEDTLS_DHM_RFC7919_FFDHE2048_G_BIN;

static const struct {
	const char          *name;
	const unsigned char *p;
	size_t               len;
} tls_ffdhe[] = {
	{ "ffdhe2048", tls_ffdhe2048_p, sizeof(tls_ffdhe2048_p) },
	{ "ffdhe3072", tls_ffdhe3072_p, sizeof(tls_ffdhe3072_p) },
	{ "ffdhe4096", tls_ffdhe4096_p, sizeof(tls_ffdhe4096_p) },
};

static bool
tls_suite_is_aes_gcm(int id)
{
	const char *name = mbedtls_ssl_get_ciphersuite_name(id);

	return (strstr(name, "-AES-128-GCM-") != NULL ||
	    strstr(name, "-AES-256-GCM-") != NULL);
}

/* Where the CPU has AES instructions that mbedTLS uses, AES-GCM costs
 * less per record than ChaCha20: then the same suites come with AES-GCM
 * first (a stable partition). */
static void
tls_suites_build(void)
{
	bool   aes = tls_cpu_has_aes();
	size_t k   = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < TLS_N_CERT; i++) {
			if (tls_suite_is_aes_gcm(tls_cert_suites[i]) == (aes == (pass == 0))) {
				tls_dflt[k++] = tls_cert_suites[i];
			}
		}
	}
	tls_dflt[k] = 0;
	memcpy(tls_dflt_psk, tls_dflt, k * sizeof(int));
	memcpy(tls_dflt_psk + k, tls_psk_suites, sizeof(tls_psk_suites));
	tls_dflt_psk[k + TLS_N_PSK] = 0;
}

static const tls_group *
tls_dflt_curves_for(const nghttpw_tls_config *cfg)
{
	return (cfg->mode == NGHTTPW_TLS_MODE_CLIENT ? tls_dflt_client_curves
	                                             : tls_dflt_curves);
}

int
tls_suites_defaults(nghttpw_tls_config *cfg)
{
	tls_conf_groups(&cfg->conf, tls_dflt_curves_for(cfg));
	if (cfg->mode == NGHTTPW_TLS_MODE_CLIENT) {
		mbedtls_ssl_conf_dhm_min_bitlen(&cfg->conf, 2048);
		return (0);
	}
	/* Only used once a cipher list names DHE suites. */
	return (tls_map_error(mbedtls_ssl_conf_dh_param_bin(&cfg->conf,
	    tls_ffdhe2048_p, sizeof(tls_ffdhe2048_p), tls_ffdhe_g,
	    sizeof(tls_ffdhe_g))));
}

void
tls_suites_use(nghttpw_tls_config *cfg)
{
	if (cfg->suites == NULL) {
		pthread_once(&tls_dflt_once, tls_suites_build);
		mbedtls_ssl_conf_ciphersuites(
		    &cfg->conf, cfg->have_psk ? tls_dflt_psk : tls_dflt);
	}
}

/* Calls fn on each name of a ':' or ',' separated list (blanks around
 * a name ignored); stops at the first failure.  NGHTTPW_EINVAL for an
 * empty list, an empty name or one too long to be any. */
static int
tls_list_each(const char *list, int (*fn)(void *, const char *), void *arg)
{
	const char *p = list;
	char        name[TLS_MAX_NAME];
	int         rv;

	do {
		size_t len = strcspn(p, ":,");
		size_t b   = 0;
		while (b < len && isspace((unsigned char) p[b])) {
			b++;
		}
		while (len > b && isspace((unsigned char) p[len - 1])) {
			len--;
		}
		if (len == b || len - b >= sizeof(name)) {
			return (NGHTTPW_EINVAL);
		}
		memcpy(name, p + b, len - b);
		name[len - b] = '\0';
		if ((rv = fn(arg, name)) != 0) {
			return (rv);
		}
		p += strcspn(p, ":,");
	} while (*p++ != '\0');
	return (0);
}

static int
tls_suite_id(const char *name)
{
	char mb[TLS_MAX_NAME + 4] = "TLS-";
	int  i;

	for (size_t k = 0; k < sizeof(tls_openssl_names) / sizeof(tls_openssl_names[0]); k++) {
		if (strcasecmp(name, tls_openssl_names[k].name) == 0) {
			return (tls_openssl_names[k].id);
		}
	}
	/* IANA's TLS_X_WITH_Y is mbedTLS's TLS-X-WITH-Y. */
	i = strncasecmp(name, "TLS", 3) == 0 ? 0 : 4;
	for (const char *p = name; *p != '\0'; p++) {
		mb[i++] = *p == '_' ? '-' : (char) toupper((unsigned char) *p);
	}
	mb[i] = '\0';
	return (mbedtls_ssl_get_ciphersuite_id(mb));
}

typedef struct {
	int   *ids;
	size_t n;
} tls_id_list;

static int
tls_add_suite(void *arg, const char *name)
{
	tls_id_list *l  = arg;
	int          id = tls_suite_id(name);

	if (id == 0) {
		return (NGHTTPW_EINVAL);
	}
	for (size_t i = 0; i < l->n; i++) {
		if (l->ids[i] == id) {
			return (0); /* named twice: the first place counts */
		}
	}
	l->ids[l->n++] = id;
	return (0);
}

static size_t
tls_list_count(const char *list)
{
	size_t n = 1;

	for (const char *p = list; *p != '\0'; p++) {
		n += (*p == ':' || *p == ',');
	}
	return (n);
}

int
nghttpw_tls_config_ciphers(nghttpw_tls_config *cfg, const char *list)
{
	tls_id_list l = { NULL, 0 };
	int         rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (list != NULL) {
		if ((l.ids = calloc(tls_list_count(list) + 1, sizeof(int))) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		if ((rv = tls_list_each(list, tls_add_suite, &l)) != 0) {
			free(l.ids);
			return (rv);
		}
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		free(l.ids);
		return (rv);
	}
	if (l.ids != NULL) {
		mbedtls_ssl_conf_ciphersuites(&cfg->conf, l.ids);
	} /* else tls_suites_use sets the defaults */
	free(cfg->suites);
	cfg->suites = l.ids;
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}

typedef struct {
	tls_group *ids;
	size_t     n;
	int        ffdhe; /* index in tls_ffdhe, or -1 */
} tls_curve_list;

/* The curve of that name, if this mbedTLS has it; else NULL. */
static const mbedtls_ecp_curve_info *
tls_curve_info(const char *name)
{
	const mbedtls_ecp_curve_info *ci;

	for (size_t k = 0; k < sizeof(tls_curve_aliases) / sizeof(tls_curve_aliases[0]); k++) {
		if (strcasecmp(name, tls_curve_aliases[k].name) == 0) {
			return (mbedtls_ecp_curve_info_from_grp_id(tls_curve_aliases[k].id));
		}
	}
	for (ci = mbedtls_ecp_curve_list(); ci->grp_id != MBEDTLS_ECP_DP_NONE; ci++) {
		if (strcasecmp(name, ci->name) == 0) {
			return (ci);
		}
	}
	return (NULL);
}

static int
tls_add_curve(void *arg, const char *name)
{
	tls_curve_list               *l = arg;
	const mbedtls_ecp_curve_info *ci;
	tls_group                     id;

	for (size_t k = 0; k < sizeof(tls_ffdhe) / sizeof(tls_ffdhe[0]); k++) {
		if (strcasecmp(name, tls_ffdhe[k].name) == 0) {
			if (l->ffdhe < 0) {
				l->ffdhe = (int) k;
			}
			return (0);
		}
	}
	if ((ci = tls_curve_info(name)) == NULL) {
		return (NGHTTPW_EINVAL);
	}
	id = TLS_GROUP_OF(ci);
	for (size_t i = 0; i < l->n; i++) {
		if (l->ids[i] == id) {
			return (0);
		}
	}
	l->ids[l->n++] = id;
	return (0);
}

int
nghttpw_tls_config_curves(nghttpw_tls_config *cfg, const char *list)
{
	tls_curve_list l = { NULL, 0, -1 };
	int            rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if (list != NULL) {
		if ((l.ids = calloc(tls_list_count(list) + 1, sizeof(*l.ids))) == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		if ((rv = tls_list_each(list, tls_add_curve, &l)) != 0 || l.n == 0) {
			free(l.ids);
			return (NGHTTPW_EINVAL); /* ECDHE needs a curve */
		}
		l.ids[l.n] = TLS_GROUP_NONE;
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		free(l.ids);
		return (rv);
	}
	tls_conf_groups(&cfg->conf, l.ids != NULL ? l.ids : tls_dflt_curves_for(cfg));
	if (cfg->mode == NGHTTPW_TLS_MODE_SERVER) {
		int k = l.ffdhe < 0 ? 0 : l.ffdhe;
		rv    = tls_map_error(mbedtls_ssl_conf_dh_param_bin(&cfg->conf,
		       tls_ffdhe[k].p, tls_ffdhe[k].len, tls_ffdhe_g, sizeof(tls_ffdhe_g)));
	}
	free(cfg->curves);
	cfg->curves = l.ids;
	pthread_mutex_unlock(&cfg->mtx);
	return (rv);
}
