/* The PROXY protocol header, versions 1 (a text line) and 2 (binary),
 * parsed strictly: what the specification says receivers must reject is
 * rejected, so that a client cannot pass off a forged header as one a
 * balancer would send. */
#include <arpa/inet.h>
#include <string.h>

#include "core/proxy_header.h"

#define V1_PREFIX "PROXY "
#define V1_MAX 107 /* the longest line, CRLF included */
#define V2_HEAD 16

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* Whether buf[0, len) agrees with prefix[0, n) as far as both go. */
static bool
agrees(const unsigned char *buf, size_t len, const void *prefix, size_t n)
{
	return memcmp(buf, prefix, len < n ? len : n) == 0;
}

/* A decimal port of version 1: 0 to 65535, no sign, no leading zero. */
static bool
v1_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0')) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (unsigned long) (s[i] - '0');
	}
	if (v > 65535) {
		return false;
	}
	*port = htons((uint16_t) v);
	return true;
}

/* An address of version 1 in the family its protocol names. */
static bool
v1_addr(const char *s, size_t n, bool ip6, nghttpw_sockaddr *sa)
{
	char text[48];

	if (n == 0 || n >= sizeof(text)) {
		return false;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (ip6) {
		sa->s_in6.sa_family = NGHTTPW_AF_INET6;
		return inet_pton(AF_INET6, text, sa->s_in6.sa_addr) == 1;
	}
	sa->s_in.sa_family = NGHTTPW_AF_INET;
	return inet_pton(AF_INET, text, &sa->s_in.sa_addr) == 1;
}

/* "PROXY TCP4 src dst sport dport\r\n", single spaces, or
 * "PROXY UNKNOWN" and anything up to the CRLF. */
static int
v1_parse(const unsigned char *buf, size_t len, size_t *used, proxy_header *out)
{
	const char *line = (const char *) buf;
	const char *tok[5];
	size_t      toklen[5];
	size_t      end, ntok = 0;
	bool        ip6;

	/* The CR is at most at V1_MAX - 2. */
	size_t limit = len < V1_MAX - 1 ? len : V1_MAX - 1;

	for (end = 0; end < limit && buf[end] != '\r' && buf[end] != '\n'; end++) {
	}
	if (end == limit) {
		return len < V1_MAX - 1 ? PROXY_HEADER_MORE : NGHTTPW_EPROTO;
	}
	if (buf[end] != '\r') {
		return NGHTTPW_EPROTO;
	}
	if (end + 1 == len) {
		return PROXY_HEADER_MORE;
	}
	if (buf[end + 1] != '\n') {
		return NGHTTPW_EPROTO;
	}
	*used         = end + 2;
	out->has_addr = false;
	if (end >= 13 && memcmp(line + 6, "UNKNOWN", 7) == 0 &&
	    (end == 13 || line[13] == ' ')) {
		return 0;
	}
	for (size_t i = sizeof(V1_PREFIX) - 1; i <= end; ntok++) {
		size_t j = i;
		while (j < end && line[j] != ' ') {
			j++;
		}
		if (ntok == 5 || j == i) {
			return NGHTTPW_EPROTO; /* too many, or two spaces */
		}
		tok[ntok]    = line + i;
		toklen[ntok] = j - i;
		i            = j + 1;
	}
	if (ntok != 5 || toklen[0] != 4 ||
	    (memcmp(tok[0], "TCP4", 4) != 0 && memcmp(tok[0], "TCP6", 4) != 0)) {
		return NGHTTPW_EPROTO;
	}
	ip6 = tok[0][3] == '6';
	if (!v1_addr(tok[1], toklen[1], ip6, &out->src) ||
	    !v1_addr(tok[2], toklen[2], ip6, &out->dst) ||
	    !v1_port(tok[3], toklen[3],
	        ip6 ? &out->src.s_in6.sa_port : &out->src.s_in.sa_port) ||
	    !v1_port(tok[4], toklen[4],
	        ip6 ? &out->dst.s_in6.sa_port : &out->dst.s_in.sa_port)) {
		return NGHTTPW_EPROTO;
	}
	out->has_addr = true;
	return 0;
}

/* Signature, version and command, family and transport, a length, the
 * addresses, then TLV fields (skipped). */
static int
v2_parse(const unsigned char *buf, size_t len, size_t *used, proxy_header *out)
{
	size_t body;
	int    cmd;

	if (len < V2_HEAD) {
		return PROXY_HEADER_MORE;
	}
	if ((buf[12] >> 4) != 2 || (cmd = buf[12] & 0x0f) > 1) {
		return NGHTTPW_EPROTO;
	}
	switch (buf[13]) {
	case 0x00: /* UNSPEC */
	case 0x11: /* TCP over IPv4 */
	case 0x12: /* UDP over IPv4 */
	case 0x21: /* TCP over IPv6 */
	case 0x22: /* UDP over IPv6 */
	case 0x31: /* UNIX stream */
	case 0x32: /* UNIX datagram */
		break;
	default:
		return NGHTTPW_EPROTO; /* the specification says to reject */
	}
	body = ((size_t) buf[14] << 8) | buf[15];
	if (len < V2_HEAD + body) {
		return PROXY_HEADER_MORE;
	}
	*used         = V2_HEAD + body;
	out->has_addr = false;
	if (cmd == 0) {
		return 0; /* LOCAL: the balancer's own connection */
	}
	const unsigned char *a = buf + V2_HEAD;
	switch (buf[13]) {
	case 0x11:
		if (body < 12) {
			return NGHTTPW_EPROTO;
		}
		memset(&out->src, 0, sizeof(out->src));
		memset(&out->dst, 0, sizeof(out->dst));
		out->src.s_in.sa_family = NGHTTPW_AF_INET;
		out->dst.s_in.sa_family = NGHTTPW_AF_INET;
		memcpy(&out->src.s_in.sa_addr, a, 4);
		memcpy(&out->dst.s_in.sa_addr, a + 4, 4);
		memcpy(&out->src.s_in.sa_port, a + 8, 2);
		memcpy(&out->dst.s_in.sa_port, a + 10, 2);
		out->has_addr = true;
		break;
	case 0x21:
		if (body < 36) {
			return NGHTTPW_EPROTO;
		}
		memset(&out->src, 0, sizeof(out->src));
		memset(&out->dst, 0, sizeof(out->dst));
		out->src.s_in6.sa_family = NGHTTPW_AF_INET6;
		out->dst.s_in6.sa_family = NGHTTPW_AF_INET6;
		memcpy(out->src.s_in6.sa_addr, a, 16);
		memcpy(out->dst.s_in6.sa_addr, a + 16, 16);
		memcpy(&out->src.s_in6.sa_port, a + 32, 2);
		memcpy(&out->dst.s_in6.sa_port, a + 34, 2);
		out->has_addr = true;
		break;
	case 0x12:
	case 0x22:
		if (body < (buf[13] == 0x12 ? 12u : 36u)) {
			return NGHTTPW_EPROTO;
		}
		break; /* datagrams name no stream client: keep our own */
	case 0x31:
	case 0x32:
		if (body < 216) {
			return NGHTTPW_EPROTO;
		}
		break;
	default:
		break; /* UNSPEC: the addresses are to be ignored */
	}
	return 0;
}

int
proxy_header_parse(const void *buf, size_t len, size_t *used, proxy_header *out)
{
	const unsigned char *b = buf;

	if (len == 0) {
		return PROXY_HEADER_MORE;
	}
	if (agrees(b, len, V1_PREFIX, sizeof(V1_PREFIX) - 1)) {
		return len < sizeof(V1_PREFIX) - 1 ? PROXY_HEADER_MORE
		                                   : v1_parse(b, len, used, out);
	}
	if (agrees(b, len, v2_sig, sizeof(v2_sig))) {
		return v2_parse(b, len, used, out);
	}
	return NGHTTPW_EPROTO;
}
