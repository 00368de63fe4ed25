/* Debian's tinyproxy as a real forward proxy for the client tests: run on
 * a loopback port with a configuration of its own in a temporary
 * directory, its log there for the test to read. */
#ifndef NGHTTPW_TESTS_TINYPROXY_H
#define NGHTTPW_TESTS_TINYPROXY_H

#include <stdbool.h>

#include "support/child.h"

typedef struct tinyproxy {
	child c;
	char  dir[256];
	char  log[300];
	int   port;
	char  url[128]; /* of tinyproxy_url */
} tinyproxy;

/* Starts it, allowing CONNECT to connect_port (0: to none) and wanting
 * the Basic credentials user:pass when auth; returns once it accepts.
 * Skips the test when tinyproxy is not installed. */
void tinyproxy_start(tinyproxy *p, bool auth, int connect_port);

/* Stops it and removes its directory. */
void tinyproxy_stop(tinyproxy *p);

/* "http://[userinfo@]127.0.0.1:PORT" (userinfo "" for none), in p. */
const char *tinyproxy_url(tinyproxy *p, const char *userinfo);

/* How many lines of its log contain what. */
int tinyproxy_log_count(tinyproxy *p, const char *what);

#endif
