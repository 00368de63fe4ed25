/* WebSocket against peers nobody here wrote: npm's ws (8.x, pinned in
 * tests/ws/peers) under node, and Debian's python3-websockets, both as
 * client and as server.  The peers' protocol is in tests/ws/peers/README;
 * tools/install-deps.sh installs them. */
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
