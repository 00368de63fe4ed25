/* The listening socket nghttpw-serve is given (systemd socket
 * activation) or makes itself for its workers to share. */
#ifndef NGHTTPW_SERVE_LISTEN_SOCKET_H
#define NGHTTPW_SERVE_LISTEN_SOCKET_H

#include <stdbool.h>

/* The first socket systemd passed (LISTEN_FDS and LISTEN_PID naming this
 * process), or -1 when there is none.  The variables are removed, so
 * that no child takes them for its own. */
int listen_socket_from_systemd(void);

/* A TCP socket bound to host:port (host "" for every address) and
 * listening, with SO_REUSEPORT when reuseport; -1 with a message on
 * standard error when that fails. */
int listen_socket_bind(const char *host, const char *port, bool reuseport);

/* The port the socket is bound to, or 0. */
unsigned listen_socket_port(int fd);

#endif
