/* Typed option values for get and set. */
#include <stdlib.h>
#include <string.h>

#include "core/options.h"

static int
opt_out(const void *v, size_t vsz, void *buf, size_t *szp, nghttpw_type t,
    nghttpw_type want)
{
	if (t != want) {
		return (NGHTTPW_EBADTYPE);
	}
	if (*szp < vsz) {
		return (NGHTTPW_EINVAL);
	}
	memcpy(buf, v, vsz);
	*szp = vsz;
	return (0);
}

int
opt_out_bool(bool v, void *buf, size_t *szp, nghttpw_type t)
{
	return (opt_out(&v, sizeof(v), buf, szp, t, NGHTTPW_TYPE_BOOL));
}

int
opt_out_int(int v, void *buf, size_t *szp, nghttpw_type t)
{
	return (opt_out(&v, sizeof(v), buf, szp, t, NGHTTPW_TYPE_INT));
}

int
opt_out_addr(const nghttpw_sockaddr *v, void *buf, size_t *szp, nghttpw_type t)
{
	return (opt_out(v, sizeof(*v), buf, szp, t, NGHTTPW_TYPE_SOCKADDR));
}

int
opt_out_ptr(void *v, void *buf, size_t *szp, nghttpw_type t)
{
	return (opt_out(&v, sizeof(v), buf, szp, t, NGHTTPW_TYPE_POINTER));
}

int
opt_out_string(const char *v, void *buf, size_t *szp, nghttpw_type t)
{
	char *copy;
	int   rv;

	if (t != NGHTTPW_TYPE_STRING) {
		return (NGHTTPW_EBADTYPE);
	}
	if ((copy = strdup(v)) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = opt_out(&copy, sizeof(copy), buf, szp, t, t)) != 0) {
		free(copy);
	}
	return (rv);
}

static int
opt_in(const void *buf, size_t sz, nghttpw_type t, nghttpw_type want,
    void *out, size_t outsz)
{
	if (t != want) {
		return (NGHTTPW_EBADTYPE);
	}
	if (sz != outsz || buf == NULL) {
		return (NGHTTPW_EINVAL);
	}
	memcpy(out, buf, outsz);
	return (0);
}

int
opt_in_bool(const void *buf, size_t sz, nghttpw_type t, bool *out)
{
	return (opt_in(buf, sz, t, NGHTTPW_TYPE_BOOL, out, sizeof(*out)));
}

int
opt_in_ptr(const void *buf, size_t sz, nghttpw_type t, void **out)
{
	return (opt_in(buf, sz, t, NGHTTPW_TYPE_POINTER, out, sizeof(*out)));
}
