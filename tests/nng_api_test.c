/* nng's small helpers under their nghttpw names: memory handed between
 * library and program, strings, and the version. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "nghttpw/nghttpw.h"

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
