/* Typed option values: copying them in and out of the untyped buffers
 * that get and set pass around, with type and size checks. */
#ifndef NGHTTPW_CORE_OPTIONS_H
#define NGHTTPW_CORE_OPTIONS_H

#include "nghttpw/nghttpw.h"

/* Whether a value of type want may be passed as t: its own type, or
 * NGHTTPW_TYPE_OPAQUE from the untyped get and set (raw bytes, checked by
 * size alone; a string is its characters and the NUL). */
bool opt_type_ok(nghttpw_type t, nghttpw_type want);

int opt_out_bool(bool v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_int(int v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_addr(const nghttpw_sockaddr *v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_ptr(void *v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_string(const char *v, void *buf, size_t *szp, nghttpw_type t);

int opt_out_size(size_t v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_ms(nghttpw_duration v, void *buf, size_t *szp, nghttpw_type t);

int opt_in_bool(const void *buf, size_t sz, nghttpw_type t, bool *out);
int opt_in_int(const void *buf, size_t sz, nghttpw_type t, int *out);
int opt_in_ptr(const void *buf, size_t sz, nghttpw_type t, void **out);
int opt_in_size(const void *buf, size_t sz, nghttpw_type t, size_t *out);
/* A duration: NGHTTPW_DURATION_INFINITE or not negative. */
int opt_in_ms(const void *buf, size_t sz, nghttpw_type t, nghttpw_duration *out);
/* A string: NUL-terminated within sz bytes; *out points into buf. */
int opt_in_string(const void *buf, size_t sz, nghttpw_type t, const char **out);

#endif
