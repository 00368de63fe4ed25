/* What a TLS connection says about its peer and its options.  The
 * stream's options are answered here: the peer certificate's common name
 * and subject alternative names, the ALPN protocol agreed, whether the
 * peer was verified and the session resumed, and the last error's text;
 * any other name is the lower stream's.  The peer's identity is set up
 * here as the connection is made: the name a client sends and verifies,
 * or the address it matches against the certificate's IP SANs, and the
 * peer's address for log lines.  Handshake and I/O are tls_stream.c's. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/oid.h>

#include "core/options.h"
#include "core/stream.h" /* stream_get_opt, stream_set */
#include "tls/tls_conn_impl.h"

/* ------------------------------------------------------------ options */

static char *
tls_strndup(const unsigned char *p, size_t len)
{
	char *s = malloc(len + 1);
	if (s != NULL) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return (s);
}

static int
tls_peer_cn(tls_conn *c, char **sp)
{
	const mbedtls_x509_crt  *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	const mbedtls_x509_name *n;

	if (crt == NULL) {
		return (NGHTTPW_ENOENT);
	}
	for (n = &crt->subject; n != NULL; n = n->next) {
		if (n->oid.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
			*sp = tls_strndup(n->val.p, n->val.len);
			return (*sp != NULL ? 0 : NGHTTPW_ENOMEM);
		}
	}
	return (NGHTTPW_ENOENT);
}

/* The DNS names and IP addresses of the peer's certificate, one a line. */
static int
tls_peer_alt_names(tls_conn *c, char **sp)
{
	const mbedtls_x509_crt      *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	const mbedtls_x509_sequence *s;
	char                        *out = NULL;
	size_t                       len = 0;

	if (crt == NULL) {
		return (NGHTTPW_ENOENT);
	}
	for (s = &crt->subject_alt_names; s != NULL; s = s->next) {
		char   ipbuf[INET6_ADDRSTRLEN];
		char  *grown;
		size_t n;
		const char *name = NULL;

		if (s->buf.p == NULL) {
			continue;
		}
		if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) { /* dNSName */
			n = s->buf.len;
		} else if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
		    (s->buf.len == 4 || s->buf.len == 16)) { /* iPAddress */
			inet_ntop(s->buf.len == 4 ? AF_INET : AF_INET6, s->buf.p,
			    ipbuf, sizeof(ipbuf));
			name = ipbuf;
			n    = strlen(ipbuf);
		} else {
			continue;
		}
		if ((grown = realloc(out, len + n + 2)) == NULL) {
			free(out);
			return (NGHTTPW_ENOMEM);
		}
		out = grown;
		if (len > 0) {
			out[len++] = '\n';
		}
		memcpy(out + len, name != NULL ? name : (const char *) s->buf.p, n);
		len += n;
		out[len] = '\0';
	}
	if (out == NULL) {
		return (NGHTTPW_ENOENT);
	}
	*sp = out;
	return (0);
}

static int
tls_get_string(tls_conn *c, const char *name, char **sp)
{
	const char *v;

	if (strcmp(name, NGHTTPW_OPT_TLS_PEER_CN) == 0) {
		return (c->state == ST_OPEN || c->state == ST_FAILED
		        ? tls_peer_cn(c, sp)
		        : NGHTTPW_ESTATE);
	}
	if (strcmp(name, NGHTTPW_OPT_TLS_PEER_ALT_NAMES) == 0) {
		return (tls_peer_alt_names(c, sp));
	}
	if (strcmp(name, NGHTTPW_OPT_TLS_ALPN) == 0) {
		v = mbedtls_ssl_get_alpn_protocol(&c->ssl);
	} else {
		v = c->errmsg[0] != '\0' ? c->errmsg : NULL;
	}
	if (v == NULL) {
		return (NGHTTPW_ENOENT);
	}
	*sp = strdup(v);
	return (*sp != NULL ? 0 : NGHTTPW_ENOMEM);
}

static bool
tls_is_tls_option(const char *name)
{
	return (strcmp(name, NGHTTPW_OPT_TLS_VERIFIED) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_PEER_CN) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_PEER_ALT_NAMES) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_ALPN) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_RESUMED) == 0 ||
	    strcmp(name, NGHTTPW_OPT_TLS_ERROR) == 0);
}

int
tls_get(void *arg, const char *name, void *buf, size_t *szp, nghttpw_type t)
{
	tls_conn *c = arg;
	char     *s = NULL;
	int       rv;

	if (!tls_is_tls_option(name)) {
		/* Options we do not know are the lower stream's. */
		return (stream_get_opt(c->lower, name, buf, szp, t));
	}
	pthread_mutex_lock(&c->mtx);
	if (strcmp(name, NGHTTPW_OPT_TLS_VERIFIED) == 0) {
		rv = opt_out_bool(c->state == ST_OPEN && c->verified, buf, szp, t);
	} else if (strcmp(name, NGHTTPW_OPT_TLS_RESUMED) == 0) {
		rv = opt_out_bool(c->state == ST_OPEN && c->resumed, buf, szp, t);
	} else if (!opt_type_ok(t, NGHTTPW_TYPE_STRING)) {
		rv = NGHTTPW_EBADTYPE;
	} else if ((rv = tls_get_string(c, name, &s)) == 0) {
		rv = opt_out_string(s, buf, szp, t);
	}
	pthread_mutex_unlock(&c->mtx);
	free(s);
	return (rv);
}

int
tls_set(void *arg, const char *name, const void *buf, size_t sz, nghttpw_type t)
{
	tls_conn *c = arg;

	if (tls_is_tls_option(name)) {
		return (NGHTTPW_EREADONLY);
	}
	return (stream_set(c->lower, name, buf, sz, t));
}

/* ------------------------------------------------------------ the peer */

static bool
tls_crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s != NULL;
	     s = s->next) {
		if (s->buf.p != NULL &&
		    s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
		    s->buf.len == len && memcmp(s->buf.p, ip, len) == 0) {
			return (true);
		}
	}
	return (false);
}

/* A server reached by address must have that address among its
 * certificate's IP SANs (mbedTLS 2 only matches DNS names). */
static int
tls_verify_ip(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	tls_conn *c = arg;

	if (depth == 0 && !tls_crt_has_ip(crt, c->ip, c->ip_len)) {
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	return (0);
}

void
tls_peer_name(tls_conn *c, nghttpw_stream *lower)
{
	nghttpw_sockaddr sa;
	char             addr[INET6_ADDRSTRLEN];

	snprintf(c->peer, sizeof(c->peer), "(unknown peer)");
	if (nghttpw_stream_get_addr(lower, NGHTTPW_OPT_REMADDR, &sa) != 0) {
		return;
	}
	if (sa.s_family == NGHTTPW_AF_INET) {
		inet_ntop(AF_INET, &sa.s_in.sa_addr, addr, sizeof(addr));
		snprintf(c->peer, sizeof(c->peer), "%s:%u", addr,
		    ntohs(sa.s_in.sa_port));
	} else if (sa.s_family == NGHTTPW_AF_INET6) {
		inet_ntop(AF_INET6, sa.s_in6.sa_addr, addr, sizeof(addr));
		snprintf(c->peer, sizeof(c->peer), "[%s]:%u", addr,
		    ntohs(sa.s_in6.sa_port));
	}
}

/* Client side: SNI and name check for a host name, IP SAN check for an
 * address, the chain alone for no host (NULL or "").  mbedTLS 2.28.10
 * and 3.6.3 on refuse to verify a chain without a name unless told
 * there is none. */
int
tls_set_peer_host(tls_conn *c, const char *host)
{
	char   name[256];
	char  *pct;
	size_t n = host != NULL ? strlen(host) : 0;

	if (n == 0) {
		return (tls_map_error(mbedtls_ssl_set_hostname(&c->ssl, NULL)));
	}
	if (n >= sizeof(name)) {
		return (NGHTTPW_EINVAL);
	}
	memcpy(name, host, n + 1);
	if ((pct = strchr(name, '%')) != NULL) {
		*pct = '\0'; /* an IPv6 zone */
	}
	if (inet_pton(AF_INET, name, c->ip) == 1) {
		c->ip_len = 4;
	} else if (inet_pton(AF_INET6, name, c->ip) == 1) {
		c->ip_len = 16;
	}
	if (c->ip_len > 0) {
		mbedtls_ssl_set_verify(&c->ssl, tls_verify_ip, c);
		return (tls_map_error(mbedtls_ssl_set_hostname(&c->ssl, NULL)));
	}
	return (tls_map_error(mbedtls_ssl_set_hostname(&c->ssl, host)));
}
