/* WebSocket against peers nobody here wrote: npm's ws (8.x, pinned in
 * tests/ws/peers) under node, and Debian's python3-websockets, both as
 * client and as server; then permessage-deflate (RFC 7692) with both, in
 * both directions, with each of its parameters asked by the peer and by
 * us (suite ws_interop_deflate).  The peers' protocol is in
 * tests/ws/peers/README; tools/install-deps.sh installs them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"
#include "nghttpw/ws.h"
#include "support/child.h"
#include "support/programs.h"
#include "support/ws_util.h"

#define PEERS NGHTTPW_SOURCE_DIR "/tests/ws/peers"
#define PYTHON "/usr/bin/python3" /* Debian's, which sees its modules */

static child peer;

static void
peer_fini(void)
{
	if (peer.pid > 0) {
		child_stop(&peer, SIGKILL, 2000);
	}
}

TestSuite(ws_interop, .fini = peer_fini, .timeout = 120);

/* argv for a peer: node's or python's, with the script and its words. */
static void
peer_argv(bool node, char *path, size_t cap, char **argv, const char *a1,
    const char *a2, const char *a3, const char *a4)
{
	if (node) {
		cr_assert(program_in_path("node", path, cap), "node is not installed");
		cr_assert_eq(access(PEERS "/node_modules/ws/package.json", R_OK), 0,
		    "npm's ws is not installed (tools/install-deps.sh)");
		argv[0] = "node";
		argv[1] = PEERS "/ws_peer.js";
	} else {
		snprintf(path, cap, "%s", PYTHON);
		cr_assert_eq(access(PYTHON, X_OK), 0, "no " PYTHON);
		argv[0] = "python3";
		argv[1] = PEERS "/py_peer.py";
	}
	argv[2] = (char *) a1;
	argv[3] = (char *) a2;
	argv[4] = (char *) a3;
	argv[5] = (char *) a4;
	argv[6] = NULL;
}

/* The peer's client script against our echo server: every step passes. */
static void
peer_client_vs_our_server(bool node)
{
	ws_echo *e;
	int      port;
	char     url[64], path[256], line[512];
	char    *argv[8];
	int      passed = -1, failed = -1;

	cr_assert_eq(ws_echo_start("ws://127.0.0.1:0/echo", 64u << 20, &e, &port), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", port);
	peer_argv(node, path, sizeof(path), argv, "client", url, NULL, NULL);
	cr_assert_eq(child_start(&peer, path, argv), 0);
	while (child_line(&peer, line, sizeof(line), 90000) == 0) {
		cr_log_info("%s: %s", argv[0], line);
		cr_expect_null(strstr(line, "FAIL"), "%s", line);
		sscanf(line, "DONE %d passed, %d failed", &passed, &failed);
	}
	cr_assert_eq(child_wait(&peer, 5000), 0, "the %s client failed", argv[0]);
	cr_assert_eq(failed, 0);
	cr_assert_geq(passed, 14);
	ws_echo_stop(e);
}

Test(ws_interop, node_ws_client_against_our_server)
{
	peer_client_vs_our_server(true);
}

Test(ws_interop, python_websockets_client_against_our_server)
{
	peer_client_vs_our_server(false);
}

/* Starts the peer's server; returns its port. */
static int
peer_server(bool node, const char *protocols)
{
	char  path[256], line[128];
	char *argv[8];
	int   port = 0;

	peer_argv(node, path, sizeof(path), argv, "server", "--timeout", "100",
	    protocols != NULL ? "--protocols" : NULL);
	argv[6] = (char *) protocols;
	argv[7] = NULL;
	cr_assert_eq(child_start(&peer, path, argv), 0);
	cr_assert_eq(child_line(&peer, line, sizeof(line), 20000), 0, "no PORT line");
	cr_assert_eq(sscanf(line, "PORT %d", &port), 1, "%s", line);
	return (port);
}

/* The next line the peer prints that starts with prefix. */
static void
peer_expect(const char *prefix, char *line, size_t cap)
{
	while (child_line(&peer, line, cap, 10000) == 0) {
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			return;
		}
	}
	cr_assert_fail("the peer never printed '%s...'", prefix);
}

static void
send_text(nghttpw_stream *s, const char *text)
{
	cr_assert_eq(ws_send(s, NGHTTPW_WS_TEXT, text, strlen(text)), 0, "%s", text);
}

/* Our client against the peer's server: messages of the edge lengths and
 * 16 MiB, a fragmented message, pings both ways, the subprotocol, and the
 * close codes both ways. */
static void
our_client_vs_peer_server(bool node)
{
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	nghttpw_stream        *s;
	char                   url[64], line[512];
	int                    port = peer_server(node, "superchat,chat");
	static const size_t    lens[] = { 0, 1, 125, 126, 65535, 65536, 16u << 20 };
	uint8_t               *out = malloc(16u << 20), *in = malloc((16u << 20) + 1);
	size_t                 got;
	unsigned               fl;
	char                  *str;
	int                    code = 0;

	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/any/path", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 10000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s = nghttpw_aio_get_output(aio, 0);
	cr_assert_eq(nghttpw_stream_set_size(s, NGHTTPW_OPT_RECVMAXSZ, 32u << 20), 0);
	cr_assert_eq(nghttpw_stream_set_size(s, NGHTTPW_OPT_WS_RECVMAXFRAME, 32u << 20), 0);

	for (size_t i = 0; i < (16u << 20); i++) {
		out[i] = (uint8_t) (i * 7 + 3);
	}
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		cr_assert_eq(ws_send(s, NGHTTPW_WS_BINARY, out, lens[i]), 0);
		cr_assert_eq(ws_recv(s, in, (16u << 20) + 1, &got, &fl, 30000), 0);
		cr_assert_eq(got, lens[i]);
		cr_assert_eq(fl, NGHTTPW_WS_BINARY);
		cr_assert(got == 0 || memcmp(in, out, got) == 0);
	}
	send_text(s, "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
	cr_assert_eq(ws_recv(s, in, 64, &got, &fl, 0), 0);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	cr_assert_eq(got, 17);

	/* The server's message comes in 7 frames: one message for us. */
	send_text(s, "cmd:frag 7 1000");
	cr_assert_eq(ws_recv(s, in, 8000, &got, &fl, 0), 0);
	cr_assert_eq(got, 7000);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	for (size_t j = 0; j < got; j++) {
		cr_assert_eq(in[j], 'a' + j % 26, "byte %zu", j);
	}
	send_text(s, "cmd:send 300000");
	cr_assert_eq(ws_recv(s, in, 300000, &got, &fl, 0), 0);
	cr_assert_eq(got, 300000);
	for (size_t j = 0; j < got; j++) {
		cr_assert_eq(in[j], (uint8_t) (j * 7 + 3));
	}

	/* Their ping: answered while we read. */
	send_text(s, "cmd:ping are you there");
	peer_expect("PONG", line, sizeof(line));
	cr_assert_str_eq(line, "PONG are you there");
	/* Our ping: answered by them. */
	nghttpw_ws_ping(s, "ours", 4, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);

	/* What we sent, as they saw it; the subprotocol we did not ask
	 * for is absent. */
	send_text(s, "cmd:headers");
	cr_assert_eq(ws_recv(s, in, 8000, &got, &fl, 0), 0);
	in[got] = '\0';
	cr_assert_not_null(strstr((char *) in, "\"_path\":\"/any/path\""), "%s", in);
	cr_assert_not_null(strstr((char *) in, "\"_protocol\":null"), "%s", in);
	cr_assert_eq(nghttpw_stream_get_string(s, NGHTTPW_OPT_WS_PROTOCOL, &str), 0);
	cr_assert_str_eq(str, "");
	nghttpw_strfree(str);

	/* We close: they see our code and reason. */
	nghttpw_ws_close(s, 4001, "bye", aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	peer_expect("CLOSE", line, sizeof(line));
	cr_assert_str_eq(line, "CLOSE 4001 bye");
	nghttpw_stream_get_int(s, NGHTTPW_OPT_WS_CLOSE_CODE, &code);
	cr_assert_eq(code, 4001, "they echo our code");
	nghttpw_stream_free(s);

	/* They close: we see their code and reason. */
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	s = nghttpw_aio_get_output(aio, 0);
	send_text(s, "cmd:close 4002 going now");
	cr_assert_eq(ws_recv(s, in, 16, &got, &fl, 0), NGHTTPW_ECLOSED);
	cr_assert_eq(nghttpw_stream_get_int(s, NGHTTPW_OPT_WS_CLOSE_CODE, &code), 0);
	cr_assert_eq(code, 4002);
	cr_assert_eq(nghttpw_stream_get_string(s, NGHTTPW_OPT_WS_CLOSE_REASON, &str), 0);
	cr_assert_str_eq(str, "going now");
	nghttpw_strfree(str);
	peer_expect("CLOSE", line, sizeof(line));
	cr_assert_str_eq(line, "CLOSE 4002", "we echo their code, without the reason");
	nghttpw_stream_free(s);

	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	free(out);
	free(in);
	cr_assert_eq(child_stop(&peer, SIGTERM, 5000), 0);
}

Test(ws_interop, our_client_against_node_ws_server)
{
	our_client_vs_peer_server(true);
}

Test(ws_interop, our_client_against_python_websockets_server)
{
	our_client_vs_peer_server(false);
}

/* ---------------------------------------------- permessage-deflate */

/* What our side of a deflate test sets on its listener or dialer, beyond
 * NGHTTPW_OPT_WS_DEFLATE: a field left 0 is left at the library's
 * default, but for the threshold, which is 0 (every message compressed)
 * unless default_threshold. */
typedef struct pmd_opts {
	bool server_nct;
	bool client_nct;
	int  server_bits;
	int  client_bits;
	bool default_threshold;
} pmd_opts;

#define PMD_SET(setter, obj, o) \
	do { \
		cr_assert_eq(setter##_bool(obj, NGHTTPW_OPT_WS_DEFLATE, true), 0); \
		if (!(o).default_threshold) { \
			cr_assert_eq(setter##_size(obj, NGHTTPW_OPT_WS_DEFLATE_THRESHOLD, 0), 0); \
		} \
		if ((o).server_nct) { \
			cr_assert_eq(setter##_bool(obj, NGHTTPW_OPT_WS_DEFLATE_SERVER_NO_CONTEXT, true), 0); \
		} \
		if ((o).client_nct) { \
			cr_assert_eq(setter##_bool(obj, NGHTTPW_OPT_WS_DEFLATE_CLIENT_NO_CONTEXT, true), 0); \
		} \
		if ((o).server_bits != 0) { \
			cr_assert_eq(setter##_int(obj, NGHTTPW_OPT_WS_DEFLATE_SERVER_MAX_WINDOW, \
			                 (o).server_bits), \
			    0); \
		} \
		if ((o).client_bits != 0) { \
			cr_assert_eq(setter##_int(obj, NGHTTPW_OPT_WS_DEFLATE_CLIENT_MAX_WINDOW, \
			                 (o).client_bits), \
			    0); \
		} \
	} while (0)

/* ws_util's echo server, on a listener with deflate set as o says. */
#define PMD_ECHO_MAX (32u << 20)

static ws_echo *echo;

/* Starts the echo at ws://127.0.0.1:0/echo: its port. */
static int
pmd_echo_start(pmd_opts o)
{
	nghttpw_stream_listener *l;
	int                      port;

	cr_assert_eq(nghttpw_stream_listener_alloc(&l, "ws://127.0.0.1:0/echo"), 0);
	PMD_SET(nghttpw_stream_listener_set, l, o);
	cr_assert_eq(ws_echo_serve(l, PMD_ECHO_MAX, &echo, &port), 0);
	return (port);
}

static void
pmd_echo_stop(void)
{
	if (echo != NULL) {
		ws_echo_stop(echo);
		echo = NULL;
	}
}

static void
pmd_fini(void)
{
	peer_fini();
	pmd_echo_stop();
}

TestSuite(ws_interop_deflate, .fini = pmd_fini, .timeout = 120);

/* Whether the Sec-WebSocket-Extensions value got has the parameters of
 * want, in any order: both "permessage-deflate" and then the same set of
 * parameters (spaces around the semicolons do not count). */
static bool
same_extension(const char *got, const char *want)
{
	char  a[256], b[256];
	char *pa[16], *pb[16];
	int   na = 0, nb = 0;

	snprintf(a, sizeof(a), "%s", got);
	snprintf(b, sizeof(b), "%s", want);
	for (char *t = strtok(a, ";"); t != NULL && na < 16; t = strtok(NULL, ";")) {
		pa[na++] = t + strspn(t, " ");
	}
	for (char *t = strtok(b, ";"); t != NULL && nb < 16; t = strtok(NULL, ";")) {
		pb[nb++] = t + strspn(t, " ");
	}
	if (na != nb || na == 0 || strcmp(pa[0], pb[0]) != 0) {
		return (false);
	}
	for (int i = 1; i < na; i++) {
		int j = 1;
		while (j < nb && strcmp(pa[i], pb[j]) != 0) {
			j++;
		}
		if (j == nb) {
			return (false);
		}
		pb[j] = ""; /* each matches once */
	}
	return (true);
}

/* Starts the peer's script with its words (NULL-terminated). */
static void
peer_start(bool node, const char *const *words)
{
	char  path[256];
	char *argv[16];
	int   n = 0;

	peer_argv(node, path, sizeof(path), argv, NULL, NULL, NULL, NULL);
	n = 2;
	for (; *words != NULL && n < 15; words++) {
		argv[n++] = (char *) *words;
	}
	argv[n] = NULL;
	cr_assert_eq(child_start(&peer, path, argv), 0);
}

/* The WIRE steps of the peer's client whose echoes are compressible. */
static bool
compressible_step(const char *name)
{
	return (strcmp(name, "deflate-text-1m") == 0 ||
	    strcmp(name, "deflate-binary-1m") == 0 ||
	    strcmp(name, "deflate-text-100k") == 0);
}

/* The peer's client, with --deflate json, against our echo server set as
 * o says: every step passes, the extension it was answered is want_ext,
 * deflate was agreed on our side too, and the echoes of compressible
 * messages came compressed (or, when we_compress is false, as they are:
 * a window of 8 bits, which zlib cannot make). */
static void
peer_client_deflate(bool node, const char *json, pmd_opts o, const char *want_ext,
    bool we_compress)
{
	char url[64], line[512], ext[256] = "";
	int  port, passed = -1, failed = -1, wires = 0, accepted, agreed;

	port = pmd_echo_start(o);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/echo", port);
	peer_start(node,
	    (const char *[]) { "client", url, "--big", "1048576", "--deflate", json, NULL });
	while (child_line(&peer, line, sizeof(line), 90000) == 0) {
		char   name[64];
		size_t n, out, in;

		cr_log_info("%s %s: %s", node ? "node" : "python", json, line);
		cr_expect_null(strstr(line, "FAIL"), "%s", line);
		sscanf(line, "DONE %d passed, %d failed", &passed, &failed);
		if (strncmp(line, "EXTENSIONS ", 11) == 0) {
			snprintf(ext, sizeof(ext), "%.*s", (int) sizeof(ext) - 1, line + 11);
		}
		if (sscanf(line, "WIRE %63s payload=%zu out=%zu in=%zu", name, &n, &out, &in) == 4 &&
		    compressible_step(name)) {
			wires++;
			if (we_compress) {
				cr_expect_lt(in, n / 4, "%s: our echo of %zu bytes took %zu on the wire",
				    name, n, in);
			} else {
				cr_expect_gt(in, n, "%s: our echo of %zu bytes took %zu on the wire",
				    name, n, in);
			}
		}
	}
	cr_assert_eq(child_wait(&peer, 5000), 0, "the client failed");
	cr_assert_eq(failed, 0);
	cr_assert_geq(passed, 20);
	cr_assert_eq(wires, 3);
	cr_assert(same_extension(ext, want_ext), "answered '%s', expected '%s'", ext, want_ext);
	ws_echo_counts(echo, &accepted, &agreed);
	cr_assert_eq(accepted, 1);
	cr_assert_eq(agreed, 1, "deflate not agreed on our side");
	pmd_echo_stop();
}

/* A JSON string value "name":"..." (no escapes) of a cmd:info answer, or
 * "null". */
static void
info_string(const char *json, const char *name, char *out, size_t cap)
{
	char        key[64];
	const char *p;
	size_t      n;

	snprintf(key, sizeof(key), "\"%s\":", name);
	cr_assert_not_null(p = strstr(json, key), "%s in %s", name, json);
	p += strlen(key);
	if (*p != '"') {
		snprintf(out, cap, "null");
		return;
	}
	n = strcspn(p + 1, "\"");
	snprintf(out, cap, "%.*s", (int) n, p + 1);
}

static size_t
info_number(const char *json, const char *name)
{
	char        key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":", name);
	cr_assert_not_null(p = strstr(json, key), "%s in %s", name, json);
	return ((size_t) strtoull(p + strlen(key), NULL, 10));
}

/* cmd:info: the peer's view of the connection, as JSON, in buf. */
static void
peer_info(nghttpw_stream *s, char *buf, size_t cap)
{
	size_t   got;
	unsigned fl;

	send_text(s, "cmd:info");
	cr_assert_eq(ws_recv(s, buf, cap - 1, &got, &fl, 10000), 0);
	cr_assert_eq(fl, NGHTTPW_WS_TEXT);
	buf[got] = '\0';
}

/* n bytes of JSON-like text. */
static void
json_text(uint8_t *p, size_t n)
{
	size_t len = 0;
	char   rec[128];

	for (unsigned i = 0; len < n; i++) {
		int r = snprintf(rec, sizeof(rec),
		    "{\"id\":%u,\"user\":\"user%u\",\"score\":%u,\"tags\":[\"a\",\"b\"]},", i,
		    i % 97, (i * 37) % 1000);
		size_t k = (size_t) r < n - len ? (size_t) r : n - len;
		memcpy(p + len, rec, k);
		len += k;
	}
}

/* Bytes no compressor shrinks (xorshift). */
static void
noise(uint8_t *p, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15u;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t) (x >> 24);
	}
}

/* One message to the peer's echo server and its echo back, the same. */
static void
echo_one(nghttpw_stream *s, unsigned flags, const uint8_t *p, size_t n, uint8_t *in)
{
	size_t   got;
	unsigned fl;

	cr_assert_eq(ws_send(s, flags, p, n), 0, "sending %zu bytes", n);
	cr_assert_eq(ws_recv(s, in, n + 1, &got, &fl, 30000), 0, "the echo of %zu bytes", n);
	cr_assert_eq(got, n);
	cr_assert_eq(fl, flags);
	cr_assert(n == 0 || memcmp(in, p, n) == 0, "the echo of %zu bytes differs", n);
}

/* Our client, with deflate set as o says, against the peer's echo server
 * started with --deflate json: deflate is agreed on both sides, the
 * server answered want_ext, messages of every kind come back the same
 * (the peer compresses them: threshold 0), and a compressible message
 * of 1 MiB took less than a quarter of its size on the wire (or, when
 * we_compress is false, more than its size). */
static void
our_client_deflate(bool node, const char *json, pmd_opts o, const char *want_ext,
    bool we_compress)
{
	nghttpw_stream_dialer *d;
	nghttpw_aio           *aio;
	nghttpw_stream        *s;
	char                   url[64], line[128], info[1024], ext[256];
	const size_t           big = 1u << 20;
	uint8_t               *out = malloc(big), *in = malloc(big + 1);
	size_t                 before, after;
	bool                   on = false;
	int                    port = 0;

	peer_start(node,
	    (const char *[]) { "server", "--timeout", "100", "--deflate", json, NULL });
	cr_assert_eq(child_line(&peer, line, sizeof(line), 20000), 0, "no PORT line");
	cr_assert_eq(sscanf(line, "PORT %d", &port), 1, "%s", line);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/deflate", port);
	cr_assert_eq(nghttpw_stream_dialer_alloc(&d, url), 0);
	PMD_SET(nghttpw_stream_dialer_set, d, o);
	nghttpw_aio_alloc(&aio, NULL, NULL);
	nghttpw_aio_set_timeout(aio, 10000);
	nghttpw_stream_dialer_dial(d, aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0, "dial: %s",
	    nghttpw_strerror(nghttpw_aio_result(aio)));
	s = nghttpw_aio_get_output(aio, 0);
	cr_assert_eq(nghttpw_stream_set_size(s, NGHTTPW_OPT_RECVMAXSZ, 2 * big), 0);
	cr_assert_eq(nghttpw_stream_set_size(s, NGHTTPW_OPT_WS_RECVMAXFRAME, 2 * big), 0);
	cr_assert_eq(nghttpw_stream_get_bool(s, NGHTTPW_OPT_WS_DEFLATE, &on), 0);
	cr_assert(on, "deflate not agreed on our side");

	/* What the peer was offered and answered. */
	peer_info(s, info, sizeof(info));
	cr_log_info("%s server %s: %s", node ? "node" : "python", json, info);
	info_string(info, "extensions", ext, sizeof(ext));
	cr_assert(same_extension(ext, want_ext), "answered '%s', expected '%s'", ext, want_ext);

	/* Empty, small, 100 KB, 1 MiB of compressible text and binary, and
	 * 256 KiB of noise; then many alike, back to back. */
	echo_one(s, NGHTTPW_WS_TEXT, (const uint8_t *) "", 0, in);
	echo_one(s, NGHTTPW_WS_BINARY, (const uint8_t *) "", 0, in);
	echo_one(s, NGHTTPW_WS_TEXT, (const uint8_t *) "small", 5, in);
	echo_one(s, NGHTTPW_WS_BINARY, (const uint8_t *) "\x00\x01\x02", 3, in);
	json_text(out, 100000);
	echo_one(s, NGHTTPW_WS_TEXT, out, 100000, in);
	for (size_t i = 0; i < big; i++) {
		out[i] = (uint8_t) (i * 7 + 3);
	}
	echo_one(s, NGHTTPW_WS_BINARY, out, 100000, in);
	noise(out, 256u << 10);
	echo_one(s, NGHTTPW_WS_BINARY, out, 256u << 10, in);

	/* The bytes the peer read for a compressible MiB: the info
	 * command's and the message's. */
	json_text(out, big);
	peer_info(s, info, sizeof(info));
	before = info_number(info, "bytesRead");
	echo_one(s, NGHTTPW_WS_TEXT, out, big, in);
	peer_info(s, info, sizeof(info));
	after = info_number(info, "bytesRead");
	cr_log_info("a MiB of JSON text took %zu bytes to the peer", after - before);
	if (we_compress) {
		cr_assert_lt(after - before, big / 4, "we sent %zu bytes of text as %zu",
		    big, after - before);
	} else {
		cr_assert_gt(after - before, big, "we sent %zu bytes of text as %zu", big,
		    after - before);
	}
	for (size_t i = 0; i < big; i++) {
		out[i] = (uint8_t) (i * 7 + 3);
	}
	echo_one(s, NGHTTPW_WS_BINARY, out, big, in);
	for (int i = 0; i < 50; i++) {
		int n = snprintf((char *) out, 128, "{\"seq\":%d,\"name\":\"message %d\"}", i, i);
		cr_assert_eq(ws_send(s, NGHTTPW_WS_TEXT, out, (size_t) n), 0);
	}
	for (int i = 0; i < 50; i++) {
		char     want[128];
		size_t   got;
		unsigned fl;
		int      n = snprintf(want, sizeof(want), "{\"seq\":%d,\"name\":\"message %d\"}", i, i);
		cr_assert_eq(ws_recv(s, in, 128, &got, &fl, 10000), 0);
		cr_assert(got == (size_t) n && memcmp(in, want, got) == 0, "message %d", i);
	}

	nghttpw_ws_close(s, 1000, "", aio);
	nghttpw_aio_wait(aio);
	cr_assert_eq(nghttpw_aio_result(aio), 0);
	nghttpw_stream_free(s);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	free(out);
	free(in);
	cr_assert_eq(child_stop(&peer, SIGTERM, 5000), 0);
}

/* node's ws client against our server: ws's defaults (it offers
 * client_max_window_bits), then each parameter asked by ws, then each
 * set on our listener.  A window of 8 bits for us: our echoes go out
 * uncompressed (zlib cannot make one). */
Test(ws_interop_deflate, node_client_defaults)
{
	peer_client_deflate(true, "{}", (pmd_opts) { 0 }, "permessage-deflate", true);
}

Test(ws_interop_deflate, node_client_threshold_left_at_1024)
{
	peer_client_deflate(true, "{}", (pmd_opts) { .default_threshold = true },
	    "permessage-deflate", true);
}

Test(ws_interop_deflate, node_client_asks_server_no_context_takeover)
{
	peer_client_deflate(true, "{\"serverNoContextTakeover\":true}", (pmd_opts) { 0 },
	    "permessage-deflate; server_no_context_takeover", true);
}

Test(ws_interop_deflate, node_client_offers_client_no_context_takeover)
{
	peer_client_deflate(true, "{\"clientNoContextTakeover\":true}", (pmd_opts) { 0 },
	    "permessage-deflate; client_no_context_takeover", true);
}

Test(ws_interop_deflate, node_client_asks_server_max_window_bits)
{
	peer_client_deflate(true, "{\"serverMaxWindowBits\":10}", (pmd_opts) { 0 },
	    "permessage-deflate; server_max_window_bits=10", true);
}

Test(ws_interop_deflate, node_client_offers_client_max_window_bits)
{
	peer_client_deflate(true, "{\"clientMaxWindowBits\":9}", (pmd_opts) { 0 },
	    "permessage-deflate; client_max_window_bits=9", true);
}

Test(ws_interop_deflate, node_client_all_parameters)
{
	peer_client_deflate(true,
	    "{\"serverNoContextTakeover\":true,\"clientNoContextTakeover\":true,"
	    "\"serverMaxWindowBits\":11,\"clientMaxWindowBits\":12}",
	    (pmd_opts) { 0 },
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=11; client_max_window_bits=12",
	    true);
}

Test(ws_interop_deflate, node_client_our_server_no_context_takeover)
{
	peer_client_deflate(true, "{}", (pmd_opts) { .server_nct = true },
	    "permessage-deflate; server_no_context_takeover", true);
}

Test(ws_interop_deflate, node_client_our_client_no_context_takeover)
{
	peer_client_deflate(true, "{}", (pmd_opts) { .client_nct = true },
	    "permessage-deflate; client_no_context_takeover", true);
}

Test(ws_interop_deflate, node_client_our_server_max_window_bits)
{
	peer_client_deflate(true, "{}", (pmd_opts) { .server_bits = 9 },
	    "permessage-deflate; server_max_window_bits=9", true);
}

Test(ws_interop_deflate, node_client_our_client_max_window_bits)
{
	peer_client_deflate(true, "{}", (pmd_opts) { .client_bits = 10 },
	    "permessage-deflate; client_max_window_bits=10", true);
}

Test(ws_interop_deflate, node_client_windows_of_8_bits)
{
	peer_client_deflate(true, "{}", (pmd_opts) { .server_bits = 8, .client_bits = 8 },
	    "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8", false);
}

/* Our client against node's ws server: ws's defaults, each parameter set
 * on ws's server, then each asked by our dialer. */
Test(ws_interop_deflate, our_client_node_server_defaults)
{
	our_client_deflate(true, "{}", (pmd_opts) { 0 }, "permessage-deflate", true);
}

Test(ws_interop_deflate, our_client_node_server_threshold_left_at_1024)
{
	our_client_deflate(true, "{}", (pmd_opts) { .default_threshold = true },
	    "permessage-deflate", true);
}

Test(ws_interop_deflate, our_client_node_server_no_context_takeover)
{
	our_client_deflate(true, "{\"serverNoContextTakeover\":true}", (pmd_opts) { 0 },
	    "permessage-deflate; server_no_context_takeover", true);
}

Test(ws_interop_deflate, our_client_node_server_client_no_context_takeover)
{
	our_client_deflate(true, "{\"clientNoContextTakeover\":true}", (pmd_opts) { 0 },
	    "permessage-deflate; client_no_context_takeover", true);
}

Test(ws_interop_deflate, our_client_node_server_server_max_window_bits)
{
	our_client_deflate(true, "{\"serverMaxWindowBits\":10}", (pmd_opts) { 0 },
	    "permessage-deflate; server_max_window_bits=10", true);
}

Test(ws_interop_deflate, our_client_node_server_client_max_window_bits)
{
	our_client_deflate(true, "{\"clientMaxWindowBits\":9}", (pmd_opts) { 0 },
	    "permessage-deflate; client_max_window_bits=9", true);
}

Test(ws_interop_deflate, our_client_asks_node_server_no_context_takeover)
{
	our_client_deflate(true, "{}", (pmd_opts) { .server_nct = true },
	    "permessage-deflate; server_no_context_takeover", true);
}

Test(ws_interop_deflate, our_client_offers_node_client_no_context_takeover)
{
	our_client_deflate(true, "{}", (pmd_opts) { .client_nct = true },
	    "permessage-deflate; client_no_context_takeover", true);
}

Test(ws_interop_deflate, our_client_asks_node_server_max_window_bits)
{
	our_client_deflate(true, "{}", (pmd_opts) { .server_bits = 10 },
	    "permessage-deflate; server_max_window_bits=10", true);
}

Test(ws_interop_deflate, our_client_offers_node_client_max_window_bits)
{
	our_client_deflate(true, "{}", (pmd_opts) { .client_bits = 11 },
	    "permessage-deflate; client_max_window_bits=11", true);
}

Test(ws_interop_deflate, our_client_node_server_all_parameters)
{
	our_client_deflate(true, "{}",
	    (pmd_opts) { .server_nct = true, .client_nct = true, .server_bits = 12,
	        .client_bits = 13 },
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=12; client_max_window_bits=13",
	    true);
}

/* ws compresses with the window of 8 bits it answers (zlib makes it 9,
 * which is what we inflate with): its echoes must still inflate. */
Test(ws_interop_deflate, our_client_node_server_server_window_of_8_bits)
{
	our_client_deflate(true, "{\"serverMaxWindowBits\":8}", (pmd_opts) { 0 },
	    "permessage-deflate; server_max_window_bits=8", true);
}

Test(ws_interop_deflate, our_client_node_server_window_of_8_bits)
{
	our_client_deflate(true, "{}", (pmd_opts) { .client_bits = 8 },
	    "permessage-deflate; client_max_window_bits=8", false);
}

/* python3-websockets, compression="deflate" (its defaults: windows of
 * 12 bits on its server, memLevel 5), and with every parameter. */
Test(ws_interop_deflate, python_client_defaults)
{
	peer_client_deflate(false, "{}", (pmd_opts) { 0 }, "permessage-deflate", true);
}

Test(ws_interop_deflate, python_client_all_parameters)
{
	peer_client_deflate(false,
	    "{\"serverNoContextTakeover\":true,\"clientNoContextTakeover\":true,"
	    "\"serverMaxWindowBits\":11,\"clientMaxWindowBits\":10}",
	    (pmd_opts) { 0 },
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=11; client_max_window_bits=10",
	    true);
}

Test(ws_interop_deflate, python_client_our_parameters)
{
	peer_client_deflate(false, "{}",
	    (pmd_opts) { .server_nct = true, .client_nct = true, .server_bits = 10,
	        .client_bits = 9 },
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=10; client_max_window_bits=9",
	    true);
}

Test(ws_interop_deflate, our_client_python_server_defaults)
{
	our_client_deflate(false, "{}", (pmd_opts) { 0 },
	    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", true);
}

Test(ws_interop_deflate, our_client_python_server_all_parameters)
{
	our_client_deflate(false,
	    "{\"serverNoContextTakeover\":true,\"clientNoContextTakeover\":true,"
	    "\"serverMaxWindowBits\":10,\"clientMaxWindowBits\":11}",
	    (pmd_opts) { 0 },
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=10; client_max_window_bits=11",
	    true);
}

Test(ws_interop_deflate, our_client_python_server_our_parameters)
{
	our_client_deflate(false, "{}",
	    (pmd_opts) { .server_nct = true, .client_nct = true, .server_bits = 11,
	        .client_bits = 10 },
	    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
	    "server_max_window_bits=11; client_max_window_bits=10",
	    true);
}
