/* The options that act on the TLS configuration of a dialer or listener
 * (NGHTTPW_OPT_TLS_AUTH_MODE, _CA_FILE, _CERT_KEY_FILE, _SERVER_NAME),
 * for the TLS endpoints and those built on them (wss://).  No mbedTLS
 * here: a build without TLS has these too. */
#ifndef NGHTTPW_TLS_SETTINGS_H
#define NGHTTPW_TLS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "nghttpw/nghttpw.h"

/* Whether name is one of them. */
bool tls_setting_is(const char *name);

/* Applies one to cfg through the nghttpw_tls_config_* call it stands for
 * (so NGHTTPW_EBUSY once cfg is in use).  As in nng they are write-only:
 * getting one gives NGHTTPW_EWRITEONLY. */
int tls_setting_set(nghttpw_tls_config *cfg, const char *name,
    const void *buf, size_t sz, nghttpw_type t);

#endif
