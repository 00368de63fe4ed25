/* permessage-deflate (RFC 7692): negotiation, and making and dropping the
 * zlib streams.  Compressing and decompressing messages is done where
 * they are written and read (ws_write.c, ws_read.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nghttpw/nghttpw.h"
#include "ws/ws_deflate.h"

#define PMD_NAME "permessage-deflate"
#define PMD_BITS_MAX 15

const uint8_t ws_pmd_tail[WS_PMD_TAIL_LEN] = { 0x00, 0x00, 0xff, 0xff };

void
ws_pmd_config_init(ws_pmd_config *cfg)
{
	cfg->on          = false;
	cfg->level       = Z_DEFAULT_COMPRESSION;
	cfg->mem_level   = 8;
	cfg->threshold   = 1024;
	cfg->server_nct  = false;
	cfg->client_nct  = false;
	cfg->server_bits = PMD_BITS_MAX;
	cfg->client_bits = PMD_BITS_MAX;
}

/* ------------------------------------------------------------ parsing */

/* The parameters of one offer or answer.  A bits value of 0 means the
 * parameter is absent, -1 present without a value (only
 * client_max_window_bits may be so, and only in an offer). */
typedef struct pmd_params {
	bool server_nct;
	bool client_nct;
	int  server_bits;
	int  client_bits;
} pmd_params;

static const char *
skip_ows(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t')) {
		p++;
	}
	return (p);
}

static bool
is_tchar(char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* A token at p: its end. */
static const char *
token_end(const char *p, const char *end)
{
	while (p < end && is_tchar(*p)) {
		p++;
	}
	return (p);
}

/* 8 to 15, written as RFC 7692's ABNF has it (no leading zero), from a
 * token or a quoted string's contents; 0 when it is not. */
static int
window_bits(const char *v, size_t n)
{
	if (n == 1 && (v[0] == '8' || v[0] == '9')) {
		return (v[0] - '0');
	}
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
		return (10 + v[1] - '0');
	}
	return (0);
}

/* Parses the parameters of one element, from just after its name to the
 * comma (or end) at end.  False for anything RFC 7692 does not allow: an
 * unknown or repeated parameter, a missing or bad value. */
static bool
params_parse(const char *p, const char *end, bool answer, pmd_params *pp)
{
	memset(pp, 0, sizeof(*pp));
	for (;;) {
		const char *name, *name_end, *v = NULL;
		size_t      vlen = 0;
		int         bits = -1;

		p = skip_ows(p, end);
		if (p == end) {
			return (true);
		}
		if (*p != ';') {
			return (false);
		}
		p        = skip_ows(p + 1, end);
		name     = p;
		name_end = token_end(p, end);
		if (name_end == name) {
			return (false);
		}
		p = skip_ows(name_end, end);
		if (p < end && *p == '=') {
			p = skip_ows(p + 1, end);
			if (p < end && *p == '"') {
				v = ++p;
				while (p < end && *p != '"') {
					p++;
				}
				if (p == end) {
					return (false);
				}
				vlen = (size_t) (p++ - v);
			} else {
				v    = p;
				p    = token_end(p, end);
				vlen = (size_t) (p - v);
			}
			if ((bits = window_bits(v, vlen)) == 0) {
				return (false);
			}
		}
#define PARAM_IS(s) \
	((size_t) (name_end - name) == sizeof(s) - 1 && \
	    strncasecmp(name, s, sizeof(s) - 1) == 0)
		if (PARAM_IS("server_no_context_takeover") && v == NULL &&
		    !pp->server_nct) {
			pp->server_nct = true;
		} else if (PARAM_IS("client_no_context_takeover") && v == NULL &&
		    !pp->client_nct) {
			pp->client_nct = true;
		} else if (PARAM_IS("server_max_window_bits") && v != NULL &&
		    pp->server_bits == 0) {
			pp->server_bits = bits;
		} else if (PARAM_IS("client_max_window_bits") &&
		    (v != NULL || !answer) && pp->client_bits == 0) {
			pp->client_bits = bits;
		} else {
			return (false);
		}
#undef PARAM_IS
	}
}

/* Walks a Sec-WebSocket-Extensions value element by element: *p is
 * moved past the next one, whose name and parameters' span are set.
 * False at the end, or (with *bad) at something that is not an element. */
static bool
next_element(const char **p, const char **name, size_t *name_len,
    const char **params, const char **params_end, bool *bad)
{
	const char *s = *p;
	bool        quoted = false;

	*bad = false;
	while (*s == ' ' || *s == '\t' || *s == ',') {
		s++;
	}
	if (*s == '\0') {
		return (false);
	}
	*name       = s;
	*params     = token_end(s, s + strlen(s));
	*name_len   = (size_t) (*params - s);
	*params_end = *params;
	while (**params_end != '\0' && (quoted || **params_end != ',')) {
		if (**params_end == '"') {
			quoted = !quoted;
		}
		(*params_end)++;
	}
	*p   = *params_end;
	*bad = *name_len == 0 || quoted;
	return (true);
}

static bool
is_pmd(const char *name, size_t len)
{
	return (len == sizeof(PMD_NAME) - 1 && strncasecmp(name, PMD_NAME, len) == 0);
}

static int
min_bits(int a, int b)
{
	return (a < b ? a : b);
}

/* ------------------------------------------------------------ client */

void
ws_pmd_offer(const ws_pmd_config *cfg, char *buf, size_t cap)
{
	size_t n;

	/* We can always take a server's limit on our window. */
	n = (size_t) snprintf(buf, cap, PMD_NAME "; client_max_window_bits");
	if (cfg->client_bits < PMD_BITS_MAX) {
		n += (size_t) snprintf(buf + n, cap - n, "=%d", cfg->client_bits);
	}
	if (cfg->server_bits < PMD_BITS_MAX) {
		n += (size_t) snprintf(
		    buf + n, cap - n, "; server_max_window_bits=%d", cfg->server_bits);
	}
	if (cfg->server_nct) {
		n += (size_t) snprintf(buf + n, cap - n, "; server_no_context_takeover");
	}
	if (cfg->client_nct) {
		(void) snprintf(buf + n, cap - n, "; client_no_context_takeover");
	}
}

int
ws_pmd_agreed(const ws_pmd_config *cfg, const char *answer, bool server,
    ws_pmd *agreed)
{
	const char *p = answer, *name, *params, *params_end;
	size_t      name_len;
	pmd_params  pp;
	bool        bad;

	memset(agreed, 0, sizeof(*agreed));
	if (answer == NULL) {
		return (0);
	}
	/* Exactly one element, ours (RFC 6455 4.1: nothing not offered). */
	if (!next_element(&p, &name, &name_len, &params, &params_end, &bad) ||
	    bad || !cfg->on || !is_pmd(name, name_len) ||
	    !params_parse(params, params_end, true, &pp) ||
	    next_element(&p, &name, &name_len, &params, &params_end, &bad)) {
		return (NGHTTPW_EPROTO);
	}
	if (server) {
		/* Our own answer (accept_offer). */
		agreed->tx_reset = pp.server_nct;
		agreed->rx_reset = pp.client_nct;
		agreed->tx_bits  = pp.server_bits > 0 ? pp.server_bits : PMD_BITS_MAX;
		agreed->rx_bits  = pp.client_bits > 0 ? pp.client_bits : PMD_BITS_MAX;
	} else {
		/* A limit we asked for must be kept (RFC 7692 7.1.2). */
		if ((cfg->server_bits < PMD_BITS_MAX &&
		        (pp.server_bits == 0 || pp.server_bits > cfg->server_bits)) ||
		    (cfg->client_bits < PMD_BITS_MAX &&
		        pp.client_bits > cfg->client_bits)) {
			return (NGHTTPW_EPROTO);
		}
		agreed->tx_reset = pp.client_nct || cfg->client_nct;
		agreed->rx_reset = pp.server_nct;
		agreed->tx_bits  = pp.client_bits > 0 ? pp.client_bits : cfg->client_bits;
		agreed->rx_bits  = pp.server_bits > 0 ? pp.server_bits : PMD_BITS_MAX;
	}
	agreed->on = true;
	return (0);
}

/* ------------------------------------------------------------ server */

/* The answer to an offer that parsed: what we take of it, and what we
 * ask of the client.  ws_pmd_agreed reads the same back. */
static void
accept_offer(const ws_pmd_config *cfg, const pmd_params *offer, char *buf,
    size_t cap)
{
	size_t n;
	int    tx_bits = cfg->server_bits;
	int    rx_bits = PMD_BITS_MAX;

	if (offer->server_bits > 0) {
		tx_bits = min_bits(tx_bits, offer->server_bits);
	}
	if (offer->client_bits != 0) {
		/* The client can take a limit on its window: ours, or the
		 * one it announced. */
		rx_bits = offer->client_bits > 0 ? offer->client_bits : PMD_BITS_MAX;
		rx_bits = min_bits(rx_bits, cfg->client_bits);
	}
	n = (size_t) snprintf(buf, cap, PMD_NAME);
	if (offer->server_nct || cfg->server_nct) {
		n += (size_t) snprintf(buf + n, cap - n, "; server_no_context_takeover");
	}
	if (offer->client_nct || cfg->client_nct) {
		n += (size_t) snprintf(buf + n, cap - n, "; client_no_context_takeover");
	}
	if (offer->server_bits > 0 || tx_bits < PMD_BITS_MAX) {
		n += (size_t) snprintf(
		    buf + n, cap - n, "; server_max_window_bits=%d", tx_bits);
	}
	if (offer->client_bits != 0 && rx_bits < PMD_BITS_MAX) {
		(void) snprintf(buf + n, cap - n, "; client_max_window_bits=%d", rx_bits);
	}
}

bool
ws_pmd_accept(const ws_pmd_config *cfg, const char *offers, char *buf,
    size_t cap)
{
	const char *p = offers, *name, *params, *params_end;
	size_t      name_len;
	pmd_params  pp;
	bool        bad;

	if (!cfg->on || offers == NULL) {
		return (false);
	}
	/* Offers come in the client's order of preference; one we cannot
	 * parse or take is passed over, as are other extensions. */
	while (next_element(&p, &name, &name_len, &params, &params_end, &bad)) {
		if (!bad && is_pmd(name, name_len) &&
		    params_parse(params, params_end, false, &pp)) {
			accept_offer(cfg, &pp, buf, cap);
			return (true);
		}
	}
	return (false);
}

/* ------------------------------------------------------------ zlib */

z_stream *
ws_pmd_deflater(z_stream **zp, const ws_pmd_config *cfg, int bits)
{
	z_stream *z = *zp;

	if (z != NULL) {
		return (z);
	}
	if ((z = calloc(1, sizeof(*z))) == NULL) {
		return (NULL);
	}
	/* Negative: raw deflate, no zlib header or checksum. */
	if (deflateInit2(z, cfg->level, Z_DEFLATED, -bits, cfg->mem_level,
	        Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return (NULL);
	}
	return (*zp = z);
}

z_stream *
ws_pmd_inflater(z_stream **zp, int bits)
{
	z_stream *z = *zp;

	if (z != NULL) {
		return (z);
	}
	if ((z = calloc(1, sizeof(*z))) == NULL) {
		return (NULL);
	}
	/* A peer's zlib asked for a window of 8 bits uses 9: so do we. */
	if (inflateInit2(z, -(bits < 9 ? 9 : bits)) != Z_OK) {
		free(z);
		return (NULL);
	}
	return (*zp = z);
}

void
ws_pmd_deflater_free(z_stream **zp)
{
	if (*zp != NULL) {
		(void) deflateEnd(*zp);
		free(*zp);
		*zp = NULL;
	}
}

void
ws_pmd_inflater_free(z_stream **zp)
{
	if (*zp != NULL) {
		(void) inflateEnd(*zp);
		free(*zp);
		*zp = NULL;
	}
}
