/* nng's mutexes and condition variables, over POSIX threads.  A condition
 * variable is bound to one mutex when allocated, and waits on the
 * monotonic clock, so that nghttpw_cv_until takes nghttpw_clock() times. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "nghttpw/nghttpw.h"

struct nghttpw_mtx {
	pthread_mutex_t mtx;
};

struct nghttpw_cv {
	pthread_cond_t cv;
	nghttpw_mtx   *mtx;
};

int
nghttpw_mtx_alloc(nghttpw_mtx **mp)
{
	nghttpw_mtx *m;

	if ((m = malloc(sizeof(*m))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	pthread_mutex_init(&m->mtx, NULL);
	*mp = m;
	return (0);
}

void
nghttpw_mtx_free(nghttpw_mtx *m)
{
	if (m != NULL) {
		pthread_mutex_destroy(&m->mtx);
		free(m);
	}
}

void
nghttpw_mtx_lock(nghttpw_mtx *m)
{
	pthread_mutex_lock(&m->mtx);
}

void
nghttpw_mtx_unlock(nghttpw_mtx *m)
{
	pthread_mutex_unlock(&m->mtx);
}

int
nghttpw_cv_alloc(nghttpw_cv **cvp, nghttpw_mtx *m)
{
	pthread_condattr_t attr;
	nghttpw_cv        *cv;

	if ((cv = malloc(sizeof(*cv))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cv->cv, &attr);
	pthread_condattr_destroy(&attr);
	cv->mtx = m;
	*cvp    = cv;
	return (0);
}

void
nghttpw_cv_free(nghttpw_cv *cv)
{
	if (cv != NULL) {
		pthread_cond_destroy(&cv->cv);
		free(cv);
	}
}

void
nghttpw_cv_wait(nghttpw_cv *cv)
{
	pthread_cond_wait(&cv->cv, &cv->mtx->mtx);
}

int
nghttpw_cv_until(nghttpw_cv *cv, nghttpw_time when)
{
	struct timespec ts;

	/* Far future: wait without a deadline (tv_sec would overflow). */
	if (when >= (nghttpw_time) INT64_MAX / 2) {
		nghttpw_cv_wait(cv);
		return (0);
	}
	ts.tv_sec  = (time_t) (when / 1000);
	ts.tv_nsec = (long) (when % 1000) * 1000000;
	switch (pthread_cond_timedwait(&cv->cv, &cv->mtx->mtx, &ts)) {
	case ETIMEDOUT:
		return (NGHTTPW_ETIMEDOUT);
	default:
		return (0);
	}
}

void
nghttpw_cv_wake(nghttpw_cv *cv)
{
	pthread_cond_broadcast(&cv->cv);
}

void
nghttpw_cv_wake1(nghttpw_cv *cv)
{
	pthread_cond_signal(&cv->cv);
}
