/* Resumption on the server side: session tickets (RFC 5077) and, beside
 * them, a bounded session-ID cache for clients that send no ticket.  Both
 * belong to the configuration, so every listener using it shares them.
 *
 * mbedTLS 2.28 rotates ticket keys itself: a key encrypts new tickets for
 * one lifetime, then decrypts only (for one more lifetime at most), then is
 * dropped; a ticket is refused anyway once its session is a lifetime old.
 * Its session cache is a list with one lock, evicting the oldest entry
 * when full.  That lock exists only with MBEDTLS_THREADING_C, and our
 * listeners run handshakes on several threads: without it, no cache. */
#include <limits.h>

#include "tls/tls_impl.h"

/* mbedTLS 2.28's cache is a list, scanned under its lock on every lookup
 * and store: about 5 us at 1,000 entries, 100 us at 10,000 (measured on
 * x86-64).  1,000 sessions of about 200 bytes each (plus the
 * client's certificate, when clients present one) is 200 kB; most clients
 * resume by ticket anyway. */
#define TLS_CACHE_ENTRIES 1000
/* A ticket key lives two lifetimes at most, so one that leaks opens at
 * most two hours of sessions; an hour still covers a client's return
 * within the same visit. */
#define TLS_RESUME_LIFETIME (60 * 60) /* seconds */

#if defined(MBEDTLS_SSL_CACHE_C) && defined(MBEDTLS_THREADING_C)
#define TLS_HAVE_CACHE 1
#endif

void
tls_resume_init(nghttpw_tls_config *cfg)
{
	cfg->cache_entries   = TLS_CACHE_ENTRIES;
	cfg->resume_lifetime = TLS_RESUME_LIFETIME;
#if defined(TLS_HAVE_CACHE)
	mbedtls_ssl_cache_init(&cfg->cache);
#else
	cfg->cache_entries = 0;
#endif
#if defined(MBEDTLS_SSL_TICKET_C)
	mbedtls_ssl_ticket_init(&cfg->ticket);
#endif
}

void
tls_resume_free(nghttpw_tls_config *cfg)
{
#if defined(TLS_HAVE_CACHE)
	mbedtls_ssl_cache_free(&cfg->cache);
#endif
#if defined(MBEDTLS_SSL_TICKET_C)
	mbedtls_ssl_ticket_free(&cfg->ticket);
#endif
}

int
tls_resume_start(nghttpw_tls_config *cfg)
{
	if (cfg->mode != NGHTTPW_TLS_MODE_SERVER) {
		return (0);
	}
#if defined(TLS_HAVE_CACHE)
	if (cfg->cache_entries > 0) {
		mbedtls_ssl_cache_set_max_entries(&cfg->cache, (int) cfg->cache_entries);
#if defined(MBEDTLS_HAVE_TIME)
		mbedtls_ssl_cache_set_timeout(&cfg->cache, cfg->resume_lifetime);
#endif
		mbedtls_ssl_conf_session_cache(
		    &cfg->conf, &cfg->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
	}
#endif
#if defined(MBEDTLS_SSL_TICKET_C) && defined(MBEDTLS_GCM_C)
	int mrv = mbedtls_ssl_ticket_setup(&cfg->ticket, tls_rng, cfg,
	    MBEDTLS_CIPHER_AES_256_GCM, (uint32_t) cfg->resume_lifetime);
	if (mrv != 0) {
		/* Ready for another try at the next use. */
		mbedtls_ssl_ticket_free(&cfg->ticket);
		mbedtls_ssl_ticket_init(&cfg->ticket);
		return (tls_map_error(mrv));
	}
	mbedtls_ssl_conf_session_tickets_cb(&cfg->conf, mbedtls_ssl_ticket_write,
	    mbedtls_ssl_ticket_parse, &cfg->ticket);
#endif
	return (0);
}

/* mbedTLS caches a session after the server's last flight is sent, which
 * for us is a lower send later, on another thread maybe: a client that
 * reconnects at once (openssl s_client -reconnect does) can ask for the
 * session before it is there.  Storing it before our Finished goes out
 * (the client's is verified by then) closes that window; mbedTLS's own
 * store then replaces the entry. */
void
tls_resume_store_early(nghttpw_tls_config *cfg, mbedtls_ssl_context *ssl)
{
#if defined(TLS_HAVE_CACHE)
	if (cfg->cache_entries > 0) {
		tls_cache_store(&cfg->cache, ssl);
	}
#else
	(void) cfg;
	(void) ssl;
#endif
}

int
nghttpw_tls_config_session_cache(
    nghttpw_tls_config *cfg, size_t entries, nghttpw_duration lifetime)
{
	int rv;

	if (cfg == NULL) {
		return (NGHTTPW_EINVAL);
	}
	if ((rv = tls_config_lock_unused(cfg)) != 0) {
		return (rv);
	}
	if (lifetime == NGHTTPW_DURATION_DEFAULT) {
		lifetime = TLS_RESUME_LIFETIME * 1000;
	}
	if (cfg->mode != NGHTTPW_TLS_MODE_SERVER || lifetime <= 0 ||
	    entries > INT_MAX) {
		rv = NGHTTPW_EINVAL;
#if !defined(TLS_HAVE_CACHE)
	} else if (entries > 0) {
		rv = NGHTTPW_ENOTSUP;
#endif
	} else {
		cfg->cache_entries = entries;
		/* mbedTLS counts whole seconds: round up. */
		cfg->resume_lifetime = (int) (((int64_t) lifetime + 999) / 1000);
	}
	pthread_mutex_unlock(&cfg->mtx);
	return (rv);
}
