/* Memory and strings that pass between the library and its callers, and
 * the library's version: nng's nng_alloc, nng_free, nng_strdup,
 * nng_strfree and nng_version. */
#include <stdlib.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

#define STR_(x) #x
#define STR(x) STR_(x)

void *
nghttpw_alloc(size_t size)
{
	return (malloc(size));
}

void
nghttpw_free(void *ptr, size_t size)
{
	(void) size; /* nng's allocator wants it; malloc's does not */
	free(ptr);
}

char *
nghttpw_strdup(const char *src)
{
	return (src != NULL ? strdup(src) : NULL);
}

void
nghttpw_strfree(char *s)
{
	free(s);
}

const char *
nghttpw_version(void)
{
	return (STR(NGHTTPW_MAJOR_VERSION) "." STR(NGHTTPW_MINOR_VERSION) "." STR(
	    NGHTTPW_PATCH_VERSION) NGHTTPW_RELEASE_SUFFIX);
}
