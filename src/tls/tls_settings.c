/* The four options nng sets on an endpoint's TLS configuration, each one
 * of the configuration calls. */
#include <string.h>

#include "core/options.h"
#include "tls/tls_impl.h"
#include "tls/tls_settings.h"

bool
tls_setting_is(const char *name)
{
	return (strcmp(name, NGHTTPW_OPT_TLS_AUTH_MODE) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_CA_FILE) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_CERT_KEY_FILE) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_SERVER_NAME) == 0);
}

int
tls_setting_set(nghttpw_tls_config *cfg, const char *name, const void *buf,
    size_t sz, nghttpw_type t)
{
	const char *s;
	int         mode;
	int         rv;

	if (strcmp(name, NGHTTPW_OPT_TLS_AUTH_MODE) == 0) {
		if ((rv = opt_in_int(buf, sz, t, &mode)) != 0) {
			return (rv);
		}
		/* Out of range is EINVAL from the call, as in nng. */
		return (nghttpw_tls_config_auth_mode(cfg, mode));
	}
	if ((rv = opt_in_string(buf, sz, t, &s)) != 0) {
		return (rv);
	}
	if (strcmp(name, NGHTTPW_OPT_TLS_CA_FILE) == 0) {
		return (nghttpw_tls_config_ca_file(cfg, s));
	}
	if (strcmp(name, NGHTTPW_OPT_TLS_CERT_KEY_FILE) == 0) {
		/* No password: nng's option has no way to give one. */
		return (nghttpw_tls_config_cert_key_file(cfg, s, NULL));
	}
	return (nghttpw_tls_config_server_name(cfg, s));
}
