/* errno mapping, address conversion, name resolution, and nng's
 * connected socket pair. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>

#include "platform/socket.h"

int
plat_errno_result(int err)
{
	switch (err) {
	case 0:
		return (0);
	case EINTR:
		return (NGHTTPW_EINTR);
	case ENOMEM:
	case ENOBUFS:
		return (NGHTTPW_ENOMEM);
	case EINVAL:
		return (NGHTTPW_EINVAL);
	case EAGAIN:
		return (NGHTTPW_EAGAIN);
	case ETIMEDOUT:
		return (NGHTTPW_ETIMEDOUT);
	case ECONNREFUSED:
		return (NGHTTPW_ECONNREFUSED);
	case EPIPE:
	case ENOTCONN:
	case EBADF:
	case ESHUTDOWN:
		return (NGHTTPW_ECLOSED);
	case ECONNRESET:
		return (NGHTTPW_ECONNRESET);
	case ECONNABORTED:
		return (NGHTTPW_ECONNABORTED);
	case EADDRINUSE:
		return (NGHTTPW_EADDRINUSE);
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return (NGHTTPW_EADDRINVAL);
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
		return (NGHTTPW_EUNREACHABLE);
	case EPERM:
	case EACCES:
		return (NGHTTPW_EPERM);
	case EMFILE:
	case ENFILE:
		return (NGHTTPW_ENOFILES);
	case ENOSPC:
		return (NGHTTPW_ENOSPC);
	case ENOENT:
		return (NGHTTPW_ENOENT);
	case EMSGSIZE:
		return (NGHTTPW_EMSGSIZE);
	default:
		return (NGHTTPW_ESYSERR | err);
	}
}

int
plat_sockaddr_from(nghttpw_sockaddr *sa, const struct sockaddr_storage *ss)
{
	memset(sa, 0, sizeof(*sa));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *) ss;
		sa->s_in.sa_family = NGHTTPW_AF_INET;
		sa->s_in.sa_port   = sin->sin_port;
		sa->s_in.sa_addr   = sin->sin_addr.s_addr;
		return (0);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *) ss;
		sa->s_in6.sa_family = NGHTTPW_AF_INET6;
		sa->s_in6.sa_port   = sin6->sin6_port;
		sa->s_in6.sa_scope  = sin6->sin6_scope_id;
		memcpy(sa->s_in6.sa_addr, &sin6->sin6_addr, 16);
		return (0);
	}
	return (NGHTTPW_EADDRINVAL);
}

int
plat_resolve(const char *host, const char *port, int family, bool passive,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo  hints = { 0 };
	struct addrinfo *res;
	int              rv;

	hints.ai_family   = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags    = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (host != NULL && host[0] == '\0') {
		host = NULL;
	}
	if (host == NULL && !passive) {
		return (NGHTTPW_EADDRINVAL);
	}
	switch (getaddrinfo(host, port, &hints, &res)) {
	case 0:
		break;
	case EAI_MEMORY:
		return (NGHTTPW_ENOMEM);
	case EAI_SYSTEM:
		return (plat_errno_result(errno));
	default:
		return (NGHTTPW_EADDRINVAL);
	}
	rv = NGHTTPW_EADDRINVAL;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_addrlen <= sizeof(*ss) &&
		    (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)) {
			memcpy(ss, ai->ai_addr, ai->ai_addrlen);
			*len = ai->ai_addrlen;
			rv   = 0;
			break;
		}
	}
	freeaddrinfo(res);
	return (rv);
}

int
plat_set_nodelay(int fd, bool on)
{
	int v = on ? 1 : 0;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) != 0) {
		return (plat_errno_result(errno));
	}
	return (0);
}

int
plat_set_keepalive(int fd, bool on)
{
	int v = on ? 1 : 0;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) != 0) {
		return (plat_errno_result(errno));
	}
	return (0);
}

int
nghttpw_socket_pair(int fds[2])
{
	/* Without close-on-exec, as nng's: the usual use is handing one end
	 * to a child process. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
		return (plat_errno_result(errno));
	}
	return (0);
}
