/* Strong random numbers, from the kernel's generator (getrandom(2)). */
#include <string.h>
#include <sys/random.h>

#include "nghttpw/nghttpw.h"
#include "platform/random.h"

void
plat_random(void *buf, size_t len)
{
	static _Thread_local uint8_t pool[256];
	static _Thread_local size_t  avail;
	uint8_t                     *out = buf;

	while (len > 0) {
		size_t n;
		if (avail == 0) {
			/* Without flags it blocks until the kernel's pool
			 * is seeded, and fails only when a signal
			 * interrupts it: then it is asked again. */
			ssize_t got = getrandom(pool, sizeof(pool), 0);
			if (got <= 0) {
				continue;
			}
			avail = (size_t) got;
		}
		n = len < avail ? len : avail;
		/* Bytes handed out are wiped, never given twice. */
		memcpy(out, pool + sizeof(pool) - avail, n);
		memset(pool + sizeof(pool) - avail, 0, n);
		avail -= n;
		out += n;
		len -= n;
	}
}

uint32_t
nghttpw_random(void)
{
	uint32_t v;

	plat_random(&v, sizeof(v));
	return (v);
}
