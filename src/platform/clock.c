/* Monotonic time in milliseconds. */
#include <errno.h>
#include <time.h>

#include "nghttpw/nghttpw.h"

nghttpw_time
nghttpw_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((nghttpw_time) ts.tv_sec * 1000 +
	    (nghttpw_time) ts.tv_nsec / 1000000);
}

void
nghttpw_msleep(nghttpw_duration ms)
{
	struct timespec ts;

	if (ms <= 0) {
		return;
	}
	ts.tv_sec  = ms / 1000;
	ts.tv_nsec = (long) (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}
