/* TLS-PSK (RFC 4279): a client has one identity and key, the last one
 * given; a server has any number and picks the key by the identity the
 * client names, as nng's mbedTLS engine does. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "tls/tls_impl.h"

static void
tls_psk_free(tls_psk *p)
{
	if (p->key != NULL) {
		mbedtls_platform_zeroize(p->key, p->key_len);
		free(p->key);
	}
	free(p->identity);
	free(p);
}

void
tls_psks_free(tls_psk *p)
{
	while (p != NULL) {
		tls_psk *next = p->next;
		tls_psk_free(p);
		p = next;
	}
}

/* The server's choice of key by the identity in the ClientKeyExchange.
 * The configuration is read-only by now: no lock needed. */
static int
tls_psk_cb(void *arg, mbedtls_ssl_context *ssl, const unsigned char *id,
    size_t id_len)
{
	nghttpw_tls_config *cfg = arg;

	for (tls_psk *p = cfg->psks; p != NULL; p = p->next) {
		if (strlen(p->identity) == id_len &&
		    memcmp(p->identity, id, id_len) == 0) {
			return (mbedtls_ssl_set_hs_psk(ssl, p->key, p->key_len));
		}
	}
	tls_config_log(cfg, "TLS-PSK: no key for the identity the client named");
	return (MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY);
}

static int
tls_psk_new(tls_psk **pp, const char *identity, const uint8_t *key,
    size_t key_len)
{
	tls_psk *p;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->identity = strdup(identity)) == NULL ||
	    (p->key = malloc(key_len)) == NULL) {
		if (p != NULL) {
			tls_psk_free(p);
		}
		return (NGHTTPW_ENOMEM);
	}
	memcpy(p->key, key, key_len);
	p->key_len = key_len;
	*pp        = p;
	return (0);
}

int
nghttpw_tls_config_psk(nghttpw_tls_config *cfg, const char *identity,
    const uint8_t *key, size_t key_len)
{
	tls_psk  *p;
	tls_psk **pp;
	size_t    id_len;
	int       rv;

	if (cfg == NULL || identity == NULL || (key == NULL && key_len != 0)) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		return (rv);
	}
	/* What mbedTLS refuses to use, refused now on both sides (nng's
	 * client gets this from mbedTLS; its server only at handshake). */
	id_len = strlen(identity);
	if (key_len == 0 || key_len > MBEDTLS_PSK_MAX_LEN || id_len == 0 ||
	    id_len > MBEDTLS_SSL_OUT_CONTENT_LEN) {
		pthread_mutex_unlock(&cfg->mtx);
		return (NGHTTPW_ECRYPTO);
	}
	cfg->have_psk = true;
	if (cfg->mode == NGHTTPW_TLS_MODE_CLIENT) {
		/* mbedTLS keeps its own copy, replacing any earlier one. */
		rv = tls_map_error(mbedtls_ssl_conf_psk(&cfg->conf, key, key_len,
		    (const unsigned char *) identity, id_len));
		pthread_mutex_unlock(&cfg->mtx);
		return (rv);
	}
	if ((rv = tls_psk_new(&p, identity, key, key_len)) != 0) {
		pthread_mutex_unlock(&cfg->mtx);
		return (rv);
	}
	if (cfg->psks == NULL) {
		mbedtls_ssl_conf_psk_cb(&cfg->conf, tls_psk_cb, cfg);
	}
	/* The last key given for an identity wins. */
	for (pp = &cfg->psks; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->identity, identity) == 0) {
			tls_psk *old = *pp;
			*pp          = old->next;
			tls_psk_free(old);
			break;
		}
	}
	for (; *pp != NULL; pp = &(*pp)->next) {
	}
	*pp = p;
	pthread_mutex_unlock(&cfg->mtx);
	return (0);
}
