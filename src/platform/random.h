/* Strong random bytes for the library's own use. */
#ifndef NGHTTPW_PLATFORM_RANDOM_H
#define NGHTTPW_PLATFORM_RANDOM_H

#include <stddef.h>

/* Fills buf with len bytes from the kernel's generator, drawn through a
 * small per-thread pool so that the many short requests (a WebSocket
 * mask per frame) cost one getrandom(2) per 256 bytes, not one each. */
void plat_random(void *buf, size_t len);

#endif
