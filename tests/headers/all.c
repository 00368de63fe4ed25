/* Every public header together, as a program includes them: compiled as
 * C99 and C11 with -pedantic-errors, and as C++ (tests/headers/check.sh). */
#include <nghttpw/http.h>
#include <nghttpw/nghttpw.h>
#include <nghttpw/platform.h>
#include <nghttpw/tls.h>
#include <nghttpw/ws.h>

int
main(void)
{
	nghttpw_tls_config *cfg = NULL; /* typedef'd once, seen by all */
	(void) cfg;
	return (nghttpw_version() != NULL ? 0 : 1);
}
