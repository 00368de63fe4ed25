/* The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1
 * and 2) that a load balancer sends before the client's bytes, naming the
 * client's address.  A pure parser: it knows nothing of streams. */
#ifndef NGHTTPW_CORE_PROXY_HEADER_H
#define NGHTTPW_CORE_PROXY_HEADER_H

#include <stdbool.h>
#include <stddef.h>

#include "nghttpw/nghttpw.h"

/* The longest header: version 2's 16 bytes and a 16-bit length. */
#define PROXY_HEADER_MAX (16 + 65535)

typedef struct proxy_header {
	/* False for version 2's LOCAL command (the balancer's own health
	 * check), "PROXY UNKNOWN" and families other than TCP over IPv4 and
	 * IPv6: the connection's own addresses stand. */
	bool             has_addr;
	nghttpw_sockaddr src; /* the client */
	nghttpw_sockaddr dst; /* the address the client connected to */
} proxy_header;

/* Parses the header at the start of buf[0, len).  Returns 0 with *used
 * (the header's bytes, TLV fields included, which are skipped) and *out;
 * PROXY_HEADER_MORE when buf holds a valid beginning of a header and more
 * bytes are needed; NGHTTPW_EPROTO when it is not a valid header. */
#define PROXY_HEADER_MORE 1
int proxy_header_parse(const void *buf, size_t len, size_t *used, proxy_header *out);

#endif
