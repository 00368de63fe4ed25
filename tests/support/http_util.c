#include <criterion/criterion.h>
#include <string.h>

#include "support/http_util.h"

void
http_res_assert(nghttpw_http_res *res, uint16_t status, const char *want)
{
	void  *body;
	size_t size;

	cr_assert_eq(nghttpw_http_res_get_status(res), status);
	nghttpw_http_res_get_data(res, &body, &size);
	cr_assert_eq(size, strlen(want), "body of %zu bytes, not %zu", size,
	    strlen(want));
	cr_assert_eq(memcmp(body, want, size), 0, "body '%.*s', not '%s'",
	    (int) size, (char *) body, want);
}
