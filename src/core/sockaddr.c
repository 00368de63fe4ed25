/* Socket addresses as text, in nng_str_sockaddr's formats.  Names that fill
 * their array without a NUL are cut at its end, not read past it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

static const char *
str_inet6(const nghttpw_sockaddr_in6 *sa, char *buf, size_t bufsz)
{
	char text[INET6_ADDRSTRLEN];

	/* The system's text (RFC 5952), not nng's own: see the man page. */
	inet_ntop(AF_INET6, sa->sa_addr, text, sizeof(text));
	if (sa->sa_scope != 0) {
		snprintf(buf, bufsz, "[%s%%%u]:%u", text, (unsigned) sa->sa_scope,
		    ntohs(sa->sa_port));
	} else {
		snprintf(buf, bufsz, "[%s]:%u", text, ntohs(sa->sa_port));
	}
	return (buf);
}

const char *
nghttpw_str_sockaddr(const nghttpw_sockaddr *sa, char *buf, size_t bufsz)
{
	char text[INET_ADDRSTRLEN];
	int  len;

	if (sa == NULL || buf == NULL || bufsz == 0) {
		return ("unknown");
	}
	switch (sa->s_family) {
	case NGHTTPW_AF_INET:
		inet_ntop(AF_INET, &sa->s_in.sa_addr, text, sizeof(text));
		snprintf(buf, bufsz, "%s:%u", text, ntohs(sa->s_in.sa_port));
		return (buf);
	case NGHTTPW_AF_INET6:
		return (str_inet6(&sa->s_in6, buf, bufsz));
	case NGHTTPW_AF_INPROC:
		len = (int) strnlen(sa->s_inproc.sa_name, NGHTTPW_MAXADDRLEN);
		snprintf(buf, bufsz, "inproc[%.*s]", len, sa->s_inproc.sa_name);
		return (buf);
	case NGHTTPW_AF_IPC:
		len = (int) strnlen(sa->s_ipc.sa_path, NGHTTPW_MAXADDRLEN);
		snprintf(buf, bufsz, "%.*s", len, sa->s_ipc.sa_path);
		return (buf);
	case NGHTTPW_AF_ABSTRACT:
		len = sa->s_abstract.sa_len;
		if (len > (int) sizeof(sa->s_abstract.sa_name)) {
			len = (int) sizeof(sa->s_abstract.sa_name);
		}
		len = (int) strnlen((const char *) sa->s_abstract.sa_name, len);
		snprintf(buf, bufsz, "abstract[%.*s]", len,
		    (const char *) sa->s_abstract.sa_name);
		return (buf);
	case NGHTTPW_AF_ZT:
		snprintf(buf, bufsz, "ZT[%llx:%llx:%u]",
		    (unsigned long long) sa->s_zt.sa_nodeid,
		    (unsigned long long) sa->s_zt.sa_nwid,
		    (unsigned) sa->s_zt.sa_port);
		return (buf);
	default:
		return ("unknown");
	}
}
