/*
 * nng's <nng/supplemental/util/platform.h> under its nghttpw name.  The
 * portable helpers it names (threads, mutexes, condition variables,
 * nghttpw_random, nghttpw_socket_pair, nghttpw_clock, nghttpw_msleep) are
 * declared in nghttpw.h; this header lets a program ported from nng keep
 * its include line, renamed.
 */
#ifndef NGHTTPW_PLATFORM_H
#define NGHTTPW_PLATFORM_H

#include <nghttpw/nghttpw.h>

#endif /* NGHTTPW_PLATFORM_H */
