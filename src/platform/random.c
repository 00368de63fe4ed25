/* Strong random numbers, from the kernel's generator (getrandom(2)). */
#include <sys/random.h>

#include "nghttpw/nghttpw.h"

uint32_t
nghttpw_random(void)
{
	uint32_t v;
	size_t   got = 0;

	while (got < sizeof(v)) {
		ssize_t n = getrandom((char *) &v + got, sizeof(v) - got, 0);
		/* Without flags it blocks until the kernel's pool is
		 * seeded, and fails only when a signal interrupts it. */
		if (n > 0) {
			got += (size_t) n;
		}
	}
	return (v);
}
