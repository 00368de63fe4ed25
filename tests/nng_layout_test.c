/* nghttpw_sockaddr against nng's own header (Debian's libnng-dev, 1.5;
 * the union is the same in 1.12): the same size, members at the same
 * offsets, the same family numbers, so that addresses pass between code
 * written for either byte for byte. */
#include <stddef.h>

#include <criterion/criterion.h>
#include <nng/nng.h>

#include "nghttpw/nghttpw.h"

#define SAME_MEMBER(ours, theirs, m)                                         \
	do {                                                                 \
		cr_assert_eq(offsetof(ours, m), offsetof(theirs, m),         \
		    #ours "." #m " is at %zu, nng's at %zu",                 \
		    offsetof(ours, m), offsetof(theirs, m));                 \
		cr_assert_eq(sizeof(((ours *) 0)->m),                        \
		    sizeof(((theirs *) 0)->m), #ours "." #m "'s size");      \
	} while (0)

Test(nng_layout, sockaddr_union_is_nngs)
{
	cr_assert_eq(sizeof(nghttpw_sockaddr), sizeof(nng_sockaddr));
	cr_assert_eq(_Alignof(nghttpw_sockaddr), _Alignof(nng_sockaddr));
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_family);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_ipc);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_inproc);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_in6);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_in);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_zt);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_abstract);
	SAME_MEMBER(nghttpw_sockaddr, nng_sockaddr, s_storage);
}

Test(nng_layout, sockaddr_members_are_nngs)
{
	cr_assert_eq(sizeof(nghttpw_sockaddr_in), sizeof(nng_sockaddr_in));
	SAME_MEMBER(nghttpw_sockaddr_in, nng_sockaddr_in, sa_family);
	SAME_MEMBER(nghttpw_sockaddr_in, nng_sockaddr_in, sa_port);
	SAME_MEMBER(nghttpw_sockaddr_in, nng_sockaddr_in, sa_addr);

	cr_assert_eq(sizeof(nghttpw_sockaddr_in6), sizeof(nng_sockaddr_in6));
	SAME_MEMBER(nghttpw_sockaddr_in6, nng_sockaddr_in6, sa_family);
	SAME_MEMBER(nghttpw_sockaddr_in6, nng_sockaddr_in6, sa_port);
	SAME_MEMBER(nghttpw_sockaddr_in6, nng_sockaddr_in6, sa_addr);
	SAME_MEMBER(nghttpw_sockaddr_in6, nng_sockaddr_in6, sa_scope);

	cr_assert_eq(sizeof(nghttpw_sockaddr_inproc), sizeof(nng_sockaddr_inproc));
	SAME_MEMBER(nghttpw_sockaddr_inproc, nng_sockaddr_inproc, sa_name);
	cr_assert_eq(sizeof(nghttpw_sockaddr_ipc), sizeof(nng_sockaddr_ipc));
	cr_assert_eq(sizeof(nghttpw_sockaddr_path), sizeof(nng_sockaddr_path));
	SAME_MEMBER(nghttpw_sockaddr_path, nng_sockaddr_path, sa_path);

	cr_assert_eq(sizeof(nghttpw_sockaddr_zt), sizeof(nng_sockaddr_zt));
	SAME_MEMBER(nghttpw_sockaddr_zt, nng_sockaddr_zt, sa_nwid);
	SAME_MEMBER(nghttpw_sockaddr_zt, nng_sockaddr_zt, sa_nodeid);
	SAME_MEMBER(nghttpw_sockaddr_zt, nng_sockaddr_zt, sa_port);

	cr_assert_eq(
	    sizeof(nghttpw_sockaddr_abstract), sizeof(nng_sockaddr_abstract));
	SAME_MEMBER(nghttpw_sockaddr_abstract, nng_sockaddr_abstract, sa_len);
	SAME_MEMBER(nghttpw_sockaddr_abstract, nng_sockaddr_abstract, sa_name);

	cr_assert_eq(
	    sizeof(nghttpw_sockaddr_storage), sizeof(nng_sockaddr_storage));
	SAME_MEMBER(nghttpw_sockaddr_storage, nng_sockaddr_storage, sa_pad);
}

Test(nng_layout, sockaddr_families_and_lengths_are_nngs)
{
	cr_assert_eq(NGHTTPW_AF_UNSPEC, NNG_AF_UNSPEC);
	cr_assert_eq(NGHTTPW_AF_INPROC, NNG_AF_INPROC);
	cr_assert_eq(NGHTTPW_AF_IPC, NNG_AF_IPC);
	cr_assert_eq(NGHTTPW_AF_INET, NNG_AF_INET);
	cr_assert_eq(NGHTTPW_AF_INET6, NNG_AF_INET6);
	cr_assert_eq(NGHTTPW_AF_ZT, NNG_AF_ZT);
	cr_assert_eq(NGHTTPW_AF_ABSTRACT, NNG_AF_ABSTRACT);
	cr_assert_eq(NGHTTPW_MAXADDRLEN, NNG_MAXADDRLEN);
}
