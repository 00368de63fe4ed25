/*
 * ws_echo_lws: the libwebsockets peer of tools/bench/ws.  Each connection
 * gathers the fragments of a message, stops reading (rx flow control),
 * writes the message back with its type when lws says it is writeable,
 * and reads again.
 *
 *   ws_echo_lws PORT
 *
 * Debian's libwebsockets is built with LWS_MAX_SMP 1: one service thread,
 * so this peer is measured in the 1-thread rows only.  Prints "ready" and
 * runs until killed.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#define MAX_MSG (4u << 20) /* as for every peer */

/* Per connection (lws allocates it, zeroed): the message, after LWS_PRE
 * bytes of room for the frame header that lws_write puts before it. */
struct session {
	unsigned char *buf;
	size_t         len, cap;
	int            binary;
	int            ready; /* a whole message waits to be sent back */
};

static int
grow(struct session *s, size_t more)
{
	size_t need = LWS_PRE + s->len + more;

	if (need <= s->cap) {
		return 0;
	}
	size_t         cap = s->cap ? s->cap * 2 : LWS_PRE + 4096;
	unsigned char *b;
	while (cap < need) {
		cap *= 2;
	}
	if ((b = realloc(s->buf, cap)) == NULL) {
		return -1;
	}
	s->buf = b;
	s->cap = cap;
	return 0;
}

static int
echo_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct session *s = user;

	switch (reason) {
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			s->len    = 0;
			s->binary = lws_frame_is_binary(wsi);
		}
		if (s->len + len > MAX_MSG || grow(s, len) != 0) {
			return -1;
		}
		memcpy(s->buf + LWS_PRE + s->len, in, len);
		s->len += len;
		if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
			/* One message at a time, as every peer does. */
			s->ready = 1;
			lws_rx_flow_control(wsi, 0);
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		/* lws also calls when nothing is due.  It keeps what the socket
		 * does not take and sends it before the next writeable callback. */
		if (!s->ready) {
			break;
		}
		s->ready = 0;
		if (lws_write(wsi, s->buf + LWS_PRE, s->len,
		        s->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int) s->len) {
			return -1;
		}
		lws_rx_flow_control(wsi, 1);
		break;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		free(s ? s->buf : NULL);
		if (s) {
			s->buf = NULL;
			s->cap = s->len = 0;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "echo", echo_cb, sizeof(struct session), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context              *ctx;

	if (argc != 2) {
		fprintf(stderr, "usage: ws_echo_lws PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port      = atoi(argv[1]);
	info.iface     = "127.0.0.1";
	info.protocols = protocols; /* the first one serves requests without a subprotocol */
	if ((ctx = lws_create_context(&info)) == NULL) {
		fprintf(stderr, "ws_echo_lws: lws_create_context failed\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (lws_service(ctx, 0) >= 0) {
	}
	lws_context_destroy(ctx);
	return 0;
}
