/* Fuzz target: the PROXY protocol header parser (src/core/proxy_header.c).
 *
 * Whatever the input, the parser must stay inside it and give a defined
 * answer.  A header that parses must parse again alone to the same length
 * and addresses, every shorter prefix of it must ask for more (so a header
 * split across reads gives the same answer), a text header is at most 107
 * bytes, and an address comes only as IPv4 or IPv6.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/proxy_header.h"
#include "support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proxy_header h, again;
	size_t       used = 0, used2 = 0;
	int          rv   = proxy_header_parse(data, size, &used, &h);

	FZ_CHECK(rv == 0 || rv == PROXY_HEADER_MORE || rv == NGHTTPW_EPROTO,
	    "answer %d", rv);
	if (rv == PROXY_HEADER_MORE) {
		FZ_CHECK(size < PROXY_HEADER_MAX, "more wanted after %zu bytes", size);
		return (0);
	}
	if (rv != 0) {
		return (0);
	}
	FZ_CHECK(used > 0 && used <= size && used <= PROXY_HEADER_MAX,
	    "used %zu of %zu", used, size);
	FZ_CHECK(data[0] != 'P' || used <= 107, "a text header of %zu bytes", used);
	if (h.has_addr) {
		FZ_CHECK(h.src.s_family == NGHTTPW_AF_INET ||
		        h.src.s_family == NGHTTPW_AF_INET6,
		    "family %u", (unsigned) h.src.s_family);
		FZ_CHECK(h.dst.s_family == h.src.s_family, "families differ");
	}
	/* Alone, copied so that reading past it is caught. */
	uint8_t *alone = malloc(used);
	FZ_CHECK(alone != NULL, "out of memory");
	memcpy(alone, data, used);
	FZ_CHECK(proxy_header_parse(alone, used, &used2, &again) == 0 &&
	        used2 == used && again.has_addr == h.has_addr &&
	        (!h.has_addr ||
	            (memcmp(&again.src, &h.src, sizeof(h.src)) == 0 &&
	                memcmp(&again.dst, &h.dst, sizeof(h.dst)) == 0)),
	    "the header alone parses differently");
	for (size_t n = used > 300 ? used - 300 : 0; n < used; n++) {
		FZ_CHECK(proxy_header_parse(alone, n, &used2, &again) ==
		        PROXY_HEADER_MORE,
		    "a prefix of %zu of %zu bytes is not 'more'", n, used);
	}
	free(alone);
	return (0);
}
