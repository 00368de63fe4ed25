/*
 * client_curl: libcurl's multi interface with K easy handles against URL
 * for SECONDS; each handle is re-added as soon as it completes, so K
 * exchanges are in flight over K reused keep-alive connections.
 *
 *   client_curl URL K SECONDS
 *
 * Prints: "requests seconds req_per_s errors".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <curl/curl.h>

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t sz, size_t n, void *arg)
{
	(void) p;
	(void) arg;
	return sz * n;
}

int
main(int argc, char **argv)
{
	CURLM             *m;
	CURL             **e;
	int                k, running;
	double             secs, t0, t1, tend;
	unsigned long long done = 0, errors = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: client_curl URL K SECONDS\n");
		return 2;
	}
	k    = atoi(argv[2]);
	secs = atof(argv[3]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long) k);
	e = calloc((size_t) k, sizeof(*e));
	for (int i = 0; i < k; i++) {
		e[i] = curl_easy_init();
		curl_easy_setopt(e[i], CURLOPT_URL, argv[1]);
		curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(e[i], CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e[i], CURLOPT_SSL_VERIFYHOST, 0L);
		curl_multi_add_handle(m, e[i]);
	}
	t0   = now_s();
	tend = t0 + secs;
	for (;;) {
		CURLMsg *msg;
		int      left;
		double   now;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			long code = 0;
			if (msg->msg != CURLMSG_DONE) {
				continue;
			}
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result == CURLE_OK && code == 200) {
				if (now_s() < tend) {
					done++;
				}
			} else {
				errors++;
			}
			curl_multi_remove_handle(m, msg->easy_handle);
			if (now_s() < tend) {
				curl_multi_add_handle(m, msg->easy_handle);
			}
		}
		now = now_s();
		if (now >= tend && running == 0) {
			break;
		}
		if (now < tend || running > 0) {
			curl_multi_poll(m, NULL, 0, 100, NULL);
		}
	}
	t1 = now_s();
	(void) t1;
	printf("%llu %.3f %.0f %llu\n", done, secs, (double) done / secs, errors);
	for (int i = 0; i < k; i++) {
		curl_multi_remove_handle(m, e[i]);
		curl_easy_cleanup(e[i]);
	}
	curl_multi_cleanup(m);
	curl_global_cleanup();
	return 0;
}
