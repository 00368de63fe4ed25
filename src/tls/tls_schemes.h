/* The URL schemes served by TLS over TCP, for the library's top level to
 * register (see stream_schemes_builtin). */
#ifndef NGHTTPW_TLS_SCHEMES_H
#define NGHTTPW_TLS_SCHEMES_H

#include "core/stream.h"

extern const stream_scheme tls_schemes[];

#endif
