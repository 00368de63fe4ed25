/* The PROXY protocol header parser: both versions as HAProxy's
 * specification gives them, every prefix of a valid header asking for
 * more, and what the specification says to reject rejected. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/proxy_header.h"

static int
parse(const void *buf, size_t len, size_t *used, proxy_header *h)
{
	memset(h, 0xa5, sizeof(*h));
	*used = 0;
	return proxy_header_parse(buf, len, used, h);
}

/* Every proper prefix of a valid header asks for more; the whole one
 * parses to header_len bytes, whatever follows it. */
static void
expect_header(const void *buf, size_t header_len, proxy_header *h)
{
	size_t used;
	char   more[2048];

	cr_assert_lt(header_len + 32, sizeof(more));
	for (size_t n = 0; n < header_len; n++) {
		cr_assert_eq(parse(buf, n, &used, h), PROXY_HEADER_MORE,
		    "prefix of %zu bytes", n);
	}
	memcpy(more, buf, header_len);
	memcpy(more + header_len, "GET / HTTP/1.1\r\n\r\n", 18);
	cr_assert_eq(parse(more, header_len + 18, &used, h), 0);
	cr_assert_eq(used, header_len);
}

static void
expect_bad(const void *buf, size_t len, const char *what)
{
	proxy_header h;
	size_t       used;

	cr_expect_eq(parse(buf, len, &used, &h), NGHTTPW_EPROTO, "%s", what);
}

static void
expect_in(const nghttpw_sockaddr *sa, const char *addr, uint16_t port)
{
	uint32_t want;

	cr_assert_eq(inet_pton(AF_INET, addr, &want), 1);
	cr_assert_eq(sa->s_in.sa_family, NGHTTPW_AF_INET);
	cr_assert_eq(sa->s_in.sa_addr, want);
	cr_assert_eq(ntohs(sa->s_in.sa_port), port);
}

static void
expect_in6(const nghttpw_sockaddr *sa, const char *addr, uint16_t port)
{
	uint8_t want[16];

	cr_assert_eq(inet_pton(AF_INET6, addr, want), 1);
	cr_assert_eq(sa->s_in6.sa_family, NGHTTPW_AF_INET6);
	cr_assert_eq(memcmp(sa->s_in6.sa_addr, want, 16), 0);
	cr_assert_eq(ntohs(sa->s_in6.sa_port), port);
}

Test(proxy_header, version_1)
{
	proxy_header h;
	const char  *v4 = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
	const char  *v6 = "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
	const char  *unknown = "PROXY UNKNOWN ff:ff junk here\r\n";

	expect_header(v4, strlen(v4), &h);
	cr_assert(h.has_addr);
	expect_in(&h.src, "192.0.2.7", 56324);
	expect_in(&h.dst, "198.51.100.1", 443);

	expect_header(v6, strlen(v6), &h);
	cr_assert(h.has_addr);
	expect_in6(&h.src, "2001:db8::1", 65535);
	expect_in6(&h.dst, "::1", 0);

	expect_header(unknown, strlen(unknown), &h);
	cr_assert(!h.has_addr);
	expect_header("PROXY UNKNOWN\r\n", 15, &h);
	cr_assert(!h.has_addr);

	/* The longest line allowed: 107 bytes with its CRLF. */
	char line[200];
	snprintf(line, sizeof(line), "PROXY UNKNOWN %0*d\r\n", 107 - 16, 0);
	cr_assert_eq(strlen(line), 107);
	expect_header(line, 107, &h);
	snprintf(line, sizeof(line), "PROXY UNKNOWN %0*d\r\n", 108 - 16, 0);
	expect_bad(line, strlen(line), "108 bytes");
	expect_bad(line, 106, "no CR in the first 106 bytes");
}

Test(proxy_header, version_1_refusals)
{
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.7 198.51.100.1 56324 65536\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 056324 443\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 -1 443\r\n",
		"PROXY TCP4 192.0.2.7  198.51.100.1 1 443\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 443 \r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",
		"PROXY TCP4 ::1 ::1 1 2\r\n",
		"PROXY TCP6 192.0.2.7 198.51.100.1 1 2\r\n",
		"PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.300 198.51.100.1 1 2\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 1 2\rX",
		"PROXY UNKNOWNX\r\n",
		"PROXY \r\n",
		"proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"\r\n\r\nGET",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_bad(bad[i], strlen(bad[i]), bad[i]);
	}
}

static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* A version 2 header: signature, ver_cmd, fam, then body (len bytes). */
static size_t
v2(unsigned char *out, unsigned ver_cmd, unsigned fam, const void *body,
    size_t len)
{
	memcpy(out, sig, 12);
	out[12] = (unsigned char) ver_cmd;
	out[13] = (unsigned char) fam;
	out[14] = (unsigned char) (len >> 8);
	out[15] = (unsigned char) len;
	memcpy(out + 16, body, len);
	return 16 + len;
}

Test(proxy_header, version_2)
{
	proxy_header  h;
	unsigned char buf[1024];
	unsigned char body[300] = { 0 };
	size_t        n;

	/* TCP over IPv4, with two TLV fields after the addresses (ALPN and a
	 * CRC32C, as HAProxy sends them): skipped. */
	unsigned char in4[] = { 192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01,
		0xbb, 0x01, 0x00, 0x02, 'h', '2', 0x03, 0x00, 0x04, 1, 2, 3, 4 };
	n = v2(buf, 0x21, 0x11, in4, sizeof(in4));
	expect_header(buf, n, &h);
	cr_assert(h.has_addr);
	expect_in(&h.src, "192.0.2.7", 56324);
	expect_in(&h.dst, "198.51.100.1", 443);

	unsigned char in6[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1, [31] = 1,
		[32] = 0x30, [33] = 0x39, [34] = 0x00, [35] = 0x50 };
	n = v2(buf, 0x21, 0x21, in6, sizeof(in6));
	expect_header(buf, n, &h);
	cr_assert(h.has_addr);
	expect_in6(&h.src, "2001:db8::1", 12345);
	expect_in6(&h.dst, "::1", 80);

	/* LOCAL (a health check), UNSPEC, datagrams and UNIX sockets name no
	 * TCP client: the connection's own addresses stand. */
	n = v2(buf, 0x20, 0x00, body, 0);
	expect_header(buf, n, &h);
	cr_assert(!h.has_addr);
	n = v2(buf, 0x20, 0x11, in4, 12);
	expect_header(buf, n, &h);
	cr_assert(!h.has_addr);
	n = v2(buf, 0x21, 0x00, body, 5);
	expect_header(buf, n, &h);
	cr_assert(!h.has_addr);
	n = v2(buf, 0x21, 0x12, in4, 12);
	expect_header(buf, n, &h);
	cr_assert(!h.has_addr);
	n = v2(buf, 0x21, 0x31, body, 216);
	expect_header(buf, n, &h);
	cr_assert(!h.has_addr);
}

Test(proxy_header, version_2_refusals)
{
	unsigned char buf[1024];
	unsigned char body[300] = { 0 };

	expect_bad(buf, v2(buf, 0x11, 0x11, body, 12), "version 1 in binary");
	expect_bad(buf, v2(buf, 0x31, 0x11, body, 12), "version 3");
	expect_bad(buf, v2(buf, 0x22, 0x11, body, 12), "command 2");
	expect_bad(buf, v2(buf, 0x21, 0x13, body, 12), "transport 3");
	expect_bad(buf, v2(buf, 0x21, 0x41, body, 12), "family 4");
	expect_bad(buf, v2(buf, 0x21, 0x10, body, 12), "family without transport");
	expect_bad(buf, v2(buf, 0x21, 0x11, body, 11), "IPv4 addresses cut");
	expect_bad(buf, v2(buf, 0x21, 0x21, body, 35), "IPv6 addresses cut");
	expect_bad(buf, v2(buf, 0x21, 0x31, body, 215), "UNIX addresses cut");
	buf[0] = 0x0d;
	buf[1] = 0x0a;
	buf[2] = 0x0d;
	buf[3] = 0x0a;
	buf[4] = 0x01;
	expect_bad(buf, 5, "a signature gone wrong");
}

/* The largest header, and one announced larger than what came: more. */
Test(proxy_header, version_2_lengths)
{
	static unsigned char buf[PROXY_HEADER_MAX];
	proxy_header         h;
	size_t               used;

	memset(buf, 0, sizeof(buf));
	v2(buf, 0x21, 0x11, buf + 16, 0);
	buf[14] = 0xff;
	buf[15] = 0xff;
	cr_assert_eq(parse(buf, sizeof(buf) - 1, &used, &h), PROXY_HEADER_MORE);
	cr_assert_eq(parse(buf, sizeof(buf), &used, &h), 0);
	cr_assert_eq(used, PROXY_HEADER_MAX);
	cr_assert(h.has_addr);
}
