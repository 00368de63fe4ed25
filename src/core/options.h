/* Typed option values: copying them in and out of the untyped buffers
 * that get and set pass around, with type and size checks. */
#ifndef NGHTTPW_CORE_OPTIONS_H
#define NGHTTPW_CORE_OPTIONS_H

#include "nghttpw/nghttpw.h"

int opt_out_bool(bool v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_int(int v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_addr(const nghttpw_sockaddr *v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_ptr(void *v, void *buf, size_t *szp, nghttpw_type t);
int opt_out_string(const char *v, void *buf, size_t *szp, nghttpw_type t);

int opt_in_bool(const void *buf, size_t sz, nghttpw_type t, bool *out);
int opt_in_ptr(const void *buf, size_t sz, nghttpw_type t, void **out);

#endif
