/*
 * bench server on nghttpw: every GET / is answered 200 "Hello, World!"
 * (text/plain), keep-alive, with N I/O threads.
 *
 *   nghttpw_server [-f FILE] PORT THREADS [CERT KEY]
 *
 * With CERT and KEY it serves https.  With -f, GET /file answers FILE
 * through the library's file handler (sendfile(2) on plain TCP).  Prints "ready" once listening and
 * runs until SIGINT/SIGTERM (then stops cleanly, so that valgrind tools
 * can write their output).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>
#include <nghttpw/tls.h>

static const char body[] = "Hello, World!";

static void
hello_cb(nghttpw_aio *aio)
{
	nghttpw_http_res *res;

	if (nghttpw_http_res_alloc(&res) != 0) {
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	if (nghttpw_http_res_set_header(res, "Content-Type", "text/plain") != 0 ||
	    nghttpw_http_res_set_data(res, body, sizeof(body) - 1) != 0) {
		nghttpw_http_res_free(res);
		nghttpw_aio_finish(aio, NGHTTPW_ENOMEM);
		return;
	}
	nghttpw_aio_set_output(aio, 0, res);
	nghttpw_aio_finish(aio, 0);
}

/* A whole small file as a string (PEM), or NULL. */
static char *
slurp(const char *path)
{
	FILE  *f = fopen(path, "rb");
	char  *buf;
	size_t n;

	if (f == NULL || (buf = calloc(1, 1 << 16)) == NULL) {
		return NULL;
	}
	n = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void
die(const char *what, int rv)
{
	fprintf(stderr, "nghttpw_server: %s: %s\n", what, nghttpw_strerror(rv));
	exit(1);
}

int
main(int argc, char **argv)
{
	nghttpw_http_server  *srv;
	nghttpw_http_handler *h;
	nghttpw_tls_config   *tls = NULL;
	nghttpw_url          *url;
	const char           *file = NULL;
	sigset_t              sigs;
	char                  buf[128];
	int                   rv, sig;

	if (argc > 2 && strcmp(argv[1], "-f") == 0) {
		file = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: nghttpw_server [-f FILE] PORT THREADS [CERT KEY]\n");
		return 2;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	nghttpw_init_set_parameter(
	    NGHTTPW_INIT_NUM_POLLER_THREADS, strtoull(argv[2], NULL, 10));
	snprintf(buf, sizeof(buf), "%s://127.0.0.1:%s/",
	    argc == 5 ? "https" : "http", argv[1]);
	if ((rv = nghttpw_url_parse(&url, buf)) != 0) {
		die("url", rv);
	}
	if ((rv = nghttpw_http_server_hold(&srv, url)) != 0) {
		die("hold", rv);
	}
	if (argc == 5) {
		char *cert = slurp(argv[3]), *key = slurp(argv[4]);
		if (cert == NULL || key == NULL) {
			die("reading the certificate or key", NGHTTPW_ENOENT);
		}
		if ((rv = nghttpw_tls_config_alloc(&tls, NGHTTPW_TLS_MODE_SERVER)) != 0 ||
		    (rv = nghttpw_tls_config_own_cert(tls, cert, key, NULL)) != 0 ||
		    (rv = nghttpw_http_server_set_tls(srv, tls)) != 0) {
			die("tls", rv);
		}
	}
	/* Idle connections must survive the memory test. */
	(void) nghttpw_http_server_set_idle_timeout(srv, NGHTTPW_DURATION_INFINITE);
	if ((rv = nghttpw_http_handler_alloc(&h, "/", hello_cb)) != 0 ||
	    (rv = nghttpw_http_handler_set_tree(h)) != 0 ||
	    (rv = nghttpw_http_server_add_handler(srv, h)) != 0) {
		die("handler", rv);
	}
	if (file != NULL &&
	    ((rv = nghttpw_http_handler_alloc_file(&h, "/file", file)) != 0 ||
	        (rv = nghttpw_http_server_add_handler(srv, h)) != 0)) {
		die("file handler", rv);
	}
	if ((rv = nghttpw_http_server_start(srv)) != 0) {
		die("start", rv);
	}
	printf("ready\n");
	fflush(stdout);
	do {
		rv = sigwait(&sigs, &sig);
	} while (rv == EINTR);
	nghttpw_http_server_stop(srv);
	nghttpw_http_server_release(srv);
	if (tls != NULL) {
		nghttpw_tls_config_free(tls);
	}
	nghttpw_url_free(url);
	nghttpw_fini();
	return 0;
}
