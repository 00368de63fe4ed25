/* Listening sockets for nghttpw-serve: systemd's (sd_listen_fds(3)'s
 * protocol: the sockets start at descriptor 3, LISTEN_FDS says how many,
 * LISTEN_PID for which process), or one bound here before the workers
 * are forked, so that they all accept from one queue and a worker that
 * dies loses no connection waiting in it. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen_socket.h"

#define SD_LISTEN_FDS_START 3
#define BACKLOG 511

int
listen_socket_from_systemd(void)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	int         fd  = -1;

	if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == (long) getpid() &&
	    strtol(fds, NULL, 10) >= 1) {
		fd = SD_LISTEN_FDS_START;
		/* Not inherited by what this process starts. */
		(void) fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (fd);
}

int
listen_socket_bind(const char *host, const char *port, bool reuseport)
{
	struct addrinfo  hints = { .ai_family = AF_UNSPEC,
		 .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai;
	int              one = 1;
	int              fd, rv;

	if ((rv = getaddrinfo(*host != '\0' ? host : NULL, port, &hints, &ai)) != 0) {
		fprintf(stderr, "nghttpw-serve: %s:%s: %s\n", host, port, gai_strerror(rv));
		return (-1);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (reuseport &&
	        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, BACKLOG) != 0) {
		fprintf(stderr, "nghttpw-serve: cannot listen on %s:%s: %s\n", host,
		    port, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		fd = -1;
	}
	freeaddrinfo(ai);
	return (fd);
}

unsigned
listen_socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *) &ss, &len) != 0) {
		return (0);
	}
	if (ss.ss_family == AF_INET) {
		return (ntohs(((struct sockaddr_in *) &ss)->sin_port));
	}
	if (ss.ss_family == AF_INET6) {
		return (ntohs(((struct sockaddr_in6 *) &ss)->sin6_port));
	}
	return (0);
}
