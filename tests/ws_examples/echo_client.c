/*
 * echo_client: dials ws://127.0.0.1:PORT/echo, sends one text message,
 * reads the echo, checks it, and closes the WebSocket with 1000.
 *
 * usage: echo_client PORT [MESSAGE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttpw/nghttpw.h>
#include <nghttpw/ws.h>

/* Waits for the operation started on aio; returns its result. */
static int
wait_for(nghttpw_aio *aio)
{
	nghttpw_aio_wait(aio);
	return (nghttpw_aio_result(aio));
}

int
main(int argc, char **argv)
{
	const char            *msg  = argc > 2 ? argv[2] : "Hello, WebSocket!";
	size_t                 mlen = strlen(msg);
	long                   port = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	nghttpw_stream_dialer *d    = NULL;
	nghttpw_stream        *s    = NULL;
	nghttpw_aio           *aio  = NULL;
	nghttpw_iov            iov;
	char                   url[64];
	char                   echo[1024];
	unsigned               flags = 0;
	size_t                 n;
	int                    rv;

	if (argc < 2 || argc > 3 || port < 1 || port > 65535 ||
	    mlen > sizeof(echo)) {
		fprintf(stderr, "usage: echo_client PORT [MESSAGE]\n");
		return (2);
	}
	snprintf(url, sizeof(url), "ws://127.0.0.1:%ld/echo", port);

	if ((rv = nghttpw_stream_dialer_alloc(&d, url)) != 0 ||
	    (rv = nghttpw_aio_alloc(&aio, NULL, NULL)) != 0) {
		fprintf(stderr, "echo_client: %s\n", nghttpw_strerror(rv));
		goto out;
	}
	/* Each step below (the dial with its handshake, the send, the
	 * receive, the close) must be over within 5 s. */
	nghttpw_aio_set_timeout(aio, 5000);

	/* Connect and make the opening handshake. */
	nghttpw_stream_dialer_dial(d, aio);
	if ((rv = wait_for(aio)) != 0) {
		fprintf(stderr, "echo_client: dial %s: %s\n", url,
		    nghttpw_strerror(rv));
		goto out;
	}
	s = nghttpw_aio_get_output(aio, 0);

	/* One text message. */
	iov.iov_buf = (void *) msg;
	iov.iov_len = mlen;
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_send_msg(s, NGHTTPW_WS_TEXT, aio);
	if ((rv = wait_for(aio)) != 0) {
		fprintf(stderr, "echo_client: send: %s\n", nghttpw_strerror(rv));
		goto out;
	}
	printf("echo_client: sent %zu bytes: %s\n", mlen, msg);

	/* Its echo: one whole message, which must fit in echo[]. */
	iov.iov_buf = echo;
	iov.iov_len = sizeof(echo);
	nghttpw_aio_set_iov(aio, 1, &iov);
	nghttpw_ws_recv_msg(s, &flags, aio);
	if ((rv = wait_for(aio)) != 0) {
		fprintf(stderr, "echo_client: receive: %s\n", nghttpw_strerror(rv));
		goto out;
	}
	n = nghttpw_aio_count(aio);
	printf("echo_client: got %zu bytes (%s): %.*s\n", n,
	    (flags & NGHTTPW_WS_TEXT) ? "text" : "binary", (int) n, echo);
	if (n != mlen || memcmp(echo, msg, n) != 0 ||
	    (flags & NGHTTPW_WS_TEXT) == 0) {
		fprintf(stderr, "echo_client: the echo differs\n");
		rv = NGHTTPW_EPROTO;
		goto out;
	}

	/* The closing handshake: our close, the server's answer, the end
	 * of the connection. */
	nghttpw_ws_close(s, NGHTTPW_WS_STATUS_NORMAL, "done", aio);
	if ((rv = wait_for(aio)) != 0) {
		fprintf(stderr, "echo_client: close: %s\n", nghttpw_strerror(rv));
		goto out;
	}
	printf("echo_client: closed cleanly\n");

out:
	nghttpw_stream_free(s);
	nghttpw_aio_free(aio);
	nghttpw_stream_dialer_free(d);
	nghttpw_fini(); /* optional: ends the library's threads */
	return (rv == 0 ? 0 : 1);
}
