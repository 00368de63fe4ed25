/* Fuzz target: permessage-deflate negotiation (src/ws/ws_deflate.c), the
 * parser of Sec-WebSocket-Extensions offers and answers.
 *
 * Input: byte 0 picks the settings of our side (bit 0: server no context
 * takeover, bit 1: client no context takeover, bits 2-4 and 5-7: the two
 * window limits, 8 + n); the rest is a header value.  Checked, for that
 * value as a client's offer:
 *   - an accepted offer gets an answer that our own parser, as the server,
 *     reads back, that a client with the same settings accepts, and that
 *     keeps within every limit the settings and the offer set;
 * and as a server's answer to our offer: whatever a client accepts has
 * windows of 8 to 15 bits, within what it asked for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "ws/ws_deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_agreed(const ws_pmd *a, const char *what)
{
	FZ_CHECK(a->on, "%s: not on", what);
	FZ_CHECK(a->tx_bits >= 8 && a->tx_bits <= 15, "%s: tx_bits %d", what, a->tx_bits);
	FZ_CHECK(a->rx_bits >= 8 && a->rx_bits <= 15, "%s: rx_bits %d", what, a->rx_bits);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ws_pmd_config cfg;
	ws_pmd        srv, cli;
	char          answer[WS_PMD_HEADER_MAX];
	char         *value;

	if (size < 1) {
		return (0);
	}
	ws_pmd_config_init(&cfg);
	cfg.on          = true;
	cfg.server_nct  = (data[0] & 1) != 0;
	cfg.client_nct  = (data[0] & 2) != 0;
	cfg.server_bits = 8 + ((data[0] >> 2) & 7);
	cfg.client_bits = 8 + ((data[0] >> 5) & 7);
	if ((value = malloc(size)) == NULL) {
		return (0);
	}
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';

	/* The value as a client's offers, to our server. */
	if (ws_pmd_accept(&cfg, value, answer, sizeof(answer))) {
		FZ_CHECK(strlen(answer) < sizeof(answer) - 1, "answer cut short: %s", answer);
		FZ_CHECK(ws_pmd_agreed(&cfg, answer, true, &srv) == 0,
		    "our own answer does not parse: %s", answer);
		check_agreed(&srv, "server");
		FZ_CHECK(srv.tx_bits <= cfg.server_bits, "server window %d over %d",
		    srv.tx_bits, cfg.server_bits);
		FZ_CHECK(!cfg.server_nct || srv.tx_reset, "server context kept: %s", answer);
		FZ_CHECK(!cfg.client_nct || srv.rx_reset, "client context allowed: %s", answer);
	}

	/* The value as a server's answer to our client's offer. */
	if (ws_pmd_agreed(&cfg, value, false, &cli) == 0 && cli.on) {
		check_agreed(&cli, "client");
		FZ_CHECK(cli.tx_bits <= cfg.client_bits, "client window %d over %d",
		    cli.tx_bits, cfg.client_bits);
		FZ_CHECK(cfg.server_bits == 15 || cli.rx_bits <= cfg.server_bits,
		    "server window %d over the %d asked", cli.rx_bits, cfg.server_bits);
		FZ_CHECK(!cfg.client_nct || cli.tx_reset, "client context kept");
	}
	free(value);
	return (0);
}
