/* nng's threads, over POSIX threads: created running, joined and freed by
 * nghttpw_thread_destroy. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nghttpw/nghttpw.h"

/* Linux keeps 15 bytes of a thread's name. */
#define THREAD_NAME_MAX 16

struct nghttpw_thread {
	pthread_t tid;
	void (*fn)(void *);
	void *arg;
};

static void *
thread_main(void *arg)
{
	nghttpw_thread *t = arg;

	t->fn(t->arg);
	return (NULL);
}

int
nghttpw_thread_create(nghttpw_thread **tp, void (*fn)(void *), void *arg)
{
	nghttpw_thread *t;
	int             rv;

	if ((t = malloc(sizeof(*t))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	t->fn  = fn;
	t->arg = arg;
	if ((rv = pthread_create(&t->tid, NULL, thread_main, t)) != 0) {
		free(t);
		return (NGHTTPW_ESYSERR | rv);
	}
	*tp = t;
	return (0);
}

void
nghttpw_thread_set_name(nghttpw_thread *t, const char *name)
{
	char cut[THREAD_NAME_MAX];

	/* A longer name is cut, rather than refused as Linux would. */
	strncpy(cut, name, sizeof(cut) - 1);
	cut[sizeof(cut) - 1] = '\0';
	pthread_setname_np(t != NULL ? t->tid : pthread_self(), cut);
}

void
nghttpw_thread_destroy(nghttpw_thread *t)
{
	if (t != NULL) {
		pthread_join(t->tid, NULL);
		free(t);
	}
}
