/* Plain blocking sockets for tests that speak to a server byte by byte,
 * asserting as they go (pairs.h's raw_tcp_connect returns -1 instead). */
#ifndef NGHTTPW_TESTS_RAW_TCP_H
#define NGHTTPW_TESTS_RAW_TCP_H

/* A socket connected to 127.0.0.1:port, its reads bounded by 10 s; the
 * test fails if it cannot connect. */
int raw_tcp_client(int port);

/* Sends all of text, or the test fails. */
void raw_tcp_send(int fd, const char *text);

#endif
