/* Typed option values for get and set. */
#include <stdlib.h>
#include <string.h>

#include "core/options.h"

bool
opt_type_ok(nghttpw_type t, nghttpw_type want)
{
	return (t == want || t == NGHTTPW_TYPE_OPAQUE);
}

/* A buffer too small for the value gets nothing, and *szp tells the size
 * that would do (for the untyped get, which cannot know it). */
static int
opt_out(const void *v, size_t vsz, void *buf, size_t *szp, nghttpw_type t,
    nghttpw_type want)
{
	if (!opt_type_ok(t, want)) {
		return (NGHTTPW_EBADTYPE);
	}
	if (*szp < vsz) {
		*szp = vsz;
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
opt_out_size(size_t v, void *buf, size_t *szp, nghttpw_type t)
{
	return (opt_out(&v, sizeof(v), buf, szp, t, NGHTTPW_TYPE_SIZE));
}

int
opt_out_ms(nghttpw_duration v, void *buf, size_t *szp, nghttpw_type t)
{
	return (opt_out(&v, sizeof(v), buf, szp, t, NGHTTPW_TYPE_DURATION));
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

	if (t == NGHTTPW_TYPE_OPAQUE) {
		/* The untyped get copies the characters, not a pointer. */
		return (opt_out(v, strlen(v) + 1, buf, szp, t, t));
	}
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
	if (!opt_type_ok(t, want)) {
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

int
opt_in_int(const void *buf, size_t sz, nghttpw_type t, int *out)
{
	return (opt_in(buf, sz, t, NGHTTPW_TYPE_INT, out, sizeof(*out)));
}

int
opt_in_size(const void *buf, size_t sz, nghttpw_type t, size_t *out)
{
	return (opt_in(buf, sz, t, NGHTTPW_TYPE_SIZE, out, sizeof(*out)));
}

int
opt_in_ms(const void *buf, size_t sz, nghttpw_type t, nghttpw_duration *out)
{
	nghttpw_duration v;
	int              rv;

	if ((rv = opt_in(buf, sz, t, NGHTTPW_TYPE_DURATION, &v, sizeof(v))) != 0) {
		return (rv);
	}
	if (v < 0 && v != NGHTTPW_DURATION_INFINITE) {
		return (NGHTTPW_EINVAL);
	}
	*out = v;
	return (0);
}

int
opt_in_string(const void *buf, size_t sz, nghttpw_type t, const char **out)
{
	if (!opt_type_ok(t, NGHTTPW_TYPE_STRING)) {
		return (NGHTTPW_EBADTYPE);
	}
	if (buf == NULL || sz == 0 || memchr(buf, '\0', sz) == NULL) {
		return (NGHTTPW_EINVAL);
	}
	*out = buf;
	return (0);
}
