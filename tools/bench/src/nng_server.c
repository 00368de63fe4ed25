/*
 * bench server on nng 1.5: a static handler (nng_http_handler_alloc_static)
 * answering "Hello, World!" text/plain.  nng 1.5 has no run-time thread
 * setting (its poller and task queues are sized when nng is built), so
 * THREADS is accepted and ignored; the driver pins it with taskset.
 *
 *   nng_server PORT THREADS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

static const char body[] = "Hello, World!";

int
main(int argc, char **argv)
{
	nng_http_server  *srv;
	nng_http_handler *h;
	nng_url          *url;
	sigset_t          sigs;
	char              buf[128];
	int               rv, sig;

	if (argc != 3) {
		fprintf(stderr, "usage: nng_server PORT THREADS\n");
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	snprintf(buf, sizeof(buf), "http://127.0.0.1:%s", argv[1]);
	if ((rv = nng_url_parse(&url, buf)) != 0 ||
	    (rv = nng_http_server_hold(&srv, url)) != 0 ||
	    (rv = nng_http_handler_alloc_static(
	         &h, "/", body, sizeof(body) - 1, "text/plain")) != 0 ||
	    (rv = nng_http_server_add_handler(srv, h)) != 0 ||
	    (rv = nng_http_server_start(srv)) != 0) {
		fprintf(stderr, "nng_server: %s\n", nng_strerror(rv));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	do {
		rv = sigwait(&sigs, &sig);
	} while (rv == EINTR);
	nng_http_server_stop(srv);
	nng_http_server_release(srv);
	nng_url_free(url);
	return 0;
}
