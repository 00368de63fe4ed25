/* Socket addresses as text, as nng_str_sockaddr writes them. */
#include <arpa/inet.h>
#include <stdio.h>

#include "nghttpw/nghttpw.h"

const char *
nghttpw_str_sockaddr(const nghttpw_sockaddr *sa, char *buf, size_t bufsz)
{
	char text[INET6_ADDRSTRLEN];

	if (sa == NULL || buf == NULL || bufsz == 0) {
		return ("unknown");
	}
	switch (sa->s_family) {
	case NGHTTPW_AF_INET:
		inet_ntop(AF_INET, &sa->s_in.sa_addr, text, sizeof(text));
		snprintf(buf, bufsz, "%s:%u", text, ntohs(sa->s_in.sa_port));
		return (buf);
	case NGHTTPW_AF_INET6:
		inet_ntop(AF_INET6, sa->s_in6.sa_addr, text, sizeof(text));
		if (sa->s_in6.sa_scope != 0) {
			snprintf(buf, bufsz, "[%s%%%u]:%u", text,
			    (unsigned) sa->s_in6.sa_scope, ntohs(sa->s_in6.sa_port));
		} else {
			snprintf(buf, bufsz, "[%s]:%u", text, ntohs(sa->s_in6.sa_port));
		}
		return (buf);
	default:
		return ("unknown");
	}
}
