/* nng's small helpers under their nghttpw names: memory handed between
 * library and program, strings, the version, and addresses as text. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"
#include "support/pairs.h"

Test(nng_api, alloc_and_free)
{
	unsigned char *p = nghttpw_alloc(1000);

	cr_assert_not_null(p);
	memset(p, 0xa5, 1000); /* all of it is ours to write (ASan checks) */
	nghttpw_free(p, 1000);
	nghttpw_free(NULL, 0);
}

Test(nng_api, strdup_copies_and_strfree_frees)
{
	const char *src = "h\xc3\xa9llo";
	char       *copy = nghttpw_strdup(src);

	cr_assert_not_null(copy);
	cr_assert_neq((const char *) copy, src);
	cr_assert_str_eq(copy, src);
	nghttpw_strfree(copy);
	cr_assert_null(nghttpw_strdup(NULL));
	nghttpw_strfree(NULL);
}

Test(nng_api, version_matches_the_header)
{
	char want[64];

	snprintf(want, sizeof(want), "%d.%d.%d%s", NGHTTPW_MAJOR_VERSION,
	    NGHTTPW_MINOR_VERSION, NGHTTPW_PATCH_VERSION, NGHTTPW_RELEASE_SUFFIX);
	cr_assert_str_eq(nghttpw_version(), want);
}

Test(nng_api, addresses_as_text)
{
	nghttpw_sockaddr sa = { 0 };
	char             buf[NGHTTPW_MAXADDRSTRLEN];
	char             small[6];

	sa.s_in.sa_family = NGHTTPW_AF_INET;
	sa.s_in.sa_port   = htons(8080);
	sa.s_in.sa_addr   = htonl(0x7f000001);
	cr_assert_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), buf);
	cr_assert_str_eq(buf, "127.0.0.1:8080");
	/* Cut short, but a string still. */
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, small, sizeof(small)), "127.0");

	memset(&sa, 0, sizeof(sa));
	sa.s_in6.sa_family   = NGHTTPW_AF_INET6;
	sa.s_in6.sa_port     = htons(443);
	sa.s_in6.sa_addr[15] = 1;
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "[::1]:443");
	sa.s_in6.sa_addr[0] = 0xfe;
	sa.s_in6.sa_addr[1] = 0x80;
	sa.s_in6.sa_scope   = 2;
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "[fe80::1%2]:443");

	sa.s_family = NGHTTPW_AF_UNSPEC;
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "unknown");
	cr_assert_str_eq(nghttpw_str_sockaddr(NULL, buf, sizeof(buf)), "unknown");
}

/* The families nghttpw's streams never produce still print as nng prints
 * them, and a name that fills its array without a NUL is not overread. */
Test(nng_api, other_families_as_text)
{
	nghttpw_sockaddr sa;
	char             buf[NGHTTPW_MAXADDRSTRLEN + 8];

	memset(&sa, 0, sizeof(sa));
	sa.s_inproc.sa_family = NGHTTPW_AF_INPROC;
	strcpy(sa.s_inproc.sa_name, "queue");
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "inproc[queue]");

	memset(&sa, 0, sizeof(sa));
	sa.s_ipc.sa_family = NGHTTPW_AF_IPC;
	strcpy(sa.s_ipc.sa_path, "/tmp/sock");
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "/tmp/sock");
	memset(sa.s_ipc.sa_path, 'p', sizeof(sa.s_ipc.sa_path));
	nghttpw_str_sockaddr(&sa, buf, sizeof(buf));
	cr_assert_eq(strlen(buf), NGHTTPW_MAXADDRLEN);

	memset(&sa, 0, sizeof(sa));
	sa.s_abstract.sa_family = NGHTTPW_AF_ABSTRACT;
	memcpy(sa.s_abstract.sa_name, "bus!!", 5);
	sa.s_abstract.sa_len = 3;
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "abstract[bus]");
	sa.s_abstract.sa_len = 60000; /* more than the array holds */
	memset(sa.s_abstract.sa_name, 'a', sizeof(sa.s_abstract.sa_name));
	nghttpw_str_sockaddr(&sa, buf, sizeof(buf));
	cr_assert_eq(strlen(buf), strlen("abstract[]") + 107);

	memset(&sa, 0, sizeof(sa));
	sa.s_zt.sa_family = NGHTTPW_AF_ZT;
	sa.s_zt.sa_nodeid = 0xabc;
	sa.s_zt.sa_nwid   = 0x1234;
	sa.s_zt.sa_port   = 99;
	cr_assert_str_eq(nghttpw_str_sockaddr(&sa, buf, sizeof(buf)), "ZT[abc:1234:99]");
}

/* What a stream says of its peer reads as a person expects. */
Test(nng_api, a_tcp_streams_peer_as_text)
{
	nghttpw_stream  *a, *b;
	nghttpw_sockaddr sa;
	char             buf[NGHTTPW_MAXADDRSTRLEN];

	cr_assert_eq(tcp_pair("127.0.0.1", &a, &b), 0);
	cr_assert_eq(nghttpw_stream_get_addr(a, NGHTTPW_OPT_REMADDR, &sa), 0);
	nghttpw_str_sockaddr(&sa, buf, sizeof(buf));
	cr_assert_eq(strncmp(buf, "127.0.0.1:", 10), 0, "%s", buf);
	nghttpw_stream_free(a);
	nghttpw_stream_free(b);
}
