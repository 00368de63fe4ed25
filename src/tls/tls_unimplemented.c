/* What nng 1.x declares but implements in no engine: it fails with
 * NGHTTPW_ENOTSUP, as nng's does, with TLS built in or not. */
#include "nghttpw/tls.h"

int
nghttpw_tls_config_key(nghttpw_tls_config *cfg, const uint8_t *key, size_t size)
{
	(void) cfg;
	(void) key;
	(void) size;
	return (NGHTTPW_ENOTSUP);
}

int
nghttpw_tls_config_pass(nghttpw_tls_config *cfg, const char *pass)
{
	(void) cfg;
	(void) pass;
	return (NGHTTPW_ENOTSUP);
}
