/* The TLS functions of a build without TLS (NGHTTPW_TLS=OFF): they exist,
 * so programs link, and fail with NGHTTPW_ENOTSUP, as nng's do.  With TLS
 * built in this file is empty. */
#ifndef NGHTTPW_HAVE_TLS

#include "nghttpw/tls.h"
#include "tls/tls_over.h"
#include "tls/tls_settings.h"

int
nghttpw_tls_config_alloc(nghttpw_tls_config **cfgp, nghttpw_tls_mode mode)
{
	(void) cfgp;
	(void) mode;
	return (NGHTTPW_ENOTSUP);
}

void
nghttpw_tls_config_hold(nghttpw_tls_config *cfg)
{
	(void) cfg;
}

void
nghttpw_tls_config_free(nghttpw_tls_config *cfg)
{
	(void) cfg;
}

int
nghttpw_tls_config_server_name(nghttpw_tls_config *cfg, const char *name)
{
	(void) cfg;
	(void) name;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_ca_chain(
    nghttpw_tls_config *cfg, const char *chain, const char *crl)
{
	(void) cfg;
	(void) chain;
	(void) crl;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_ca_file(nghttpw_tls_config *cfg, const char *path)
{
	(void) cfg;
	(void) path;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_own_cert(nghttpw_tls_config *cfg, const char *cert,
    const char *key, const char *pass)
{
	(void) cfg;
	(void) cert;
	(void) key;
	(void) pass;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_cert_key_file(
    nghttpw_tls_config *cfg, const char *path, const char *pass)
{
	(void) cfg;
	(void) path;
	(void) pass;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_auth_mode(nghttpw_tls_config *cfg, nghttpw_tls_auth_mode mode)
{
	(void) cfg;
	(void) mode;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_version(
    nghttpw_tls_config *cfg, nghttpw_tls_version min, nghttpw_tls_version max)
{
	(void) cfg;
	(void) min;
	(void) max;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_alpn(nghttpw_tls_config *cfg, const char *const *protos)
{
	(void) cfg;
	(void) protos;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_session_cache(
    nghttpw_tls_config *cfg, size_t entries, nghttpw_duration lifetime)
{
	(void) cfg;
	(void) entries;
	(void) lifetime;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_ciphers(nghttpw_tls_config *cfg, const char *list)
{
	(void) cfg;
	(void) list;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_curves(nghttpw_tls_config *cfg, const char *list)
{
	(void) cfg;
	(void) list;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_add_sni_cert(nghttpw_tls_config *cfg, const char *name,
    const char *cert, const char *key, const char *pass)
{
	(void) cfg;
	(void) name;
	(void) cert;
	(void) key;
	(void) pass;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_log(nghttpw_tls_config *cfg,
    void (*fn)(void *arg, const char *msg), void *arg)
{
	(void) cfg;
	(void) fn;
	(void) arg;
	return (NGHTTPW_ENOTSUP);
}

const char *
nghttpw_tls_engine_name(void)
{
	return ("none");
}

const char *
nghttpw_tls_engine_description(void)
{
	return ("no TLS: nghttpw was built without it");
}

bool
nghttpw_tls_engine_fips_mode(void)
{
	return (false);
}

int
nghttpw_tls_config_psk(nghttpw_tls_config *cfg, const char *identity,
    const uint8_t *key, size_t key_len)
{
	(void) cfg;
	(void) identity;
	(void) key;
	(void) key_len;
	return (NGHTTPW_ENOTSUP);
}

bool
tls_setting_is(const char *name)
{
	(void) name;
	return (false);
}

int
tls_setting_set(nghttpw_tls_config *cfg, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	(void) cfg;
	(void) name;
	(void) buf;
	(void) sz;
	(void) t;
	return (NGHTTPW_ENOTSUP);
}

void
tls_client_over(nghttpw_stream *lower, nghttpw_tls_config *cfg,
    const char *host, nghttpw_aio *aio)
{
	(void) cfg;
	(void) host;
	nghttpw_stream_free(lower);
	if (nghttpw_aio_begin(aio)) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOTSUP);
	}
}

#else
typedef int tls_disabled_unused; /* no empty translation unit */
#endif
