/* Socket helpers shared by the TCP dialer, listener and stream. */
#ifndef NGHTTPW_PLATFORM_SOCKET_H
#define NGHTTPW_PLATFORM_SOCKET_H

#include <stdbool.h>
#include <sys/socket.h>

#include "nghttpw/nghttpw.h"

/* Maps an errno value to an NGHTTPW_E* result. */
int plat_errno_result(int err);

/* Converts a kernel's address to an nghttpw_sockaddr. */
int plat_sockaddr_from(nghttpw_sockaddr *, const struct sockaddr_storage *);

/* Resolves host and port (numeric or by name; blocking) to the first
 * address of the given family (AF_UNSPEC for either).  An empty or NULL
 * host means the wildcard address when passive is set. */
int plat_resolve(const char *host, const char *port, int family, bool passive,
    struct sockaddr_storage *ss, socklen_t *len);

/* Sets TCP_NODELAY / SO_KEEPALIVE. */
int plat_set_nodelay(int fd, bool on);
int plat_set_keepalive(int fd, bool on);

#endif
