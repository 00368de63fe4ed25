/*
 * bench server on libmicrohttpd: MHD_USE_EPOLL_INTERNAL_THREAD, with a
 * thread pool of THREADS when THREADS > 1; one persistent response
 * "Hello, World!" text/plain.
 *
 *   mhd_server PORT THREADS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

static struct MHD_Response *hello;

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	(void) cls;
	(void) url;
	(void) method;
	(void) version;
	(void) data;
	(void) data_size;
	/* The usual MHD idiom: the first call only notes the request; a
	 * response queued before the request is complete (even a GET)
	 * makes MHD close the connection after it. */
	if (*con_cls == NULL) {
		*con_cls = (void *) &hello;
		return MHD_YES;
	}
	return MHD_queue_response(c, MHD_HTTP_OK, hello);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	sigset_t           sigs;
	unsigned           threads;
	int                sig, rv;

	if (argc != 3) {
		fprintf(stderr, "usage: mhd_server PORT THREADS\n");
		return 2;
	}
	threads = (unsigned) strtoul(argv[2], NULL, 10);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	hello = MHD_create_response_from_buffer(
	    13, (void *) "Hello, World!", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(hello, "Content-Type", "text/plain");
	memset(&sa, 0, sizeof(sa));
	sa.sin_family      = AF_INET;
	sa.sin_port        = htons((uint16_t) atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	{
		struct MHD_OptionItem opts[] = {
			{ MHD_OPTION_SOCK_ADDR, 0, &sa },
			{ MHD_OPTION_CONNECTION_LIMIT, 60000, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, 0, NULL },
			{ MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL },
			{ threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
			    (intptr_t) threads, NULL },
			{ MHD_OPTION_END, 0, NULL },
		};
		d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
		    (uint16_t) atoi(argv[1]), NULL, NULL, answer, NULL,
		    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	}
	if (d == NULL) {
		fprintf(stderr, "mhd_server: cannot start\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	do {
		rv = sigwait(&sigs, &sig);
	} while (rv == EINTR);
	MHD_stop_daemon(d);
	MHD_destroy_response(hello);
	return 0;
}
