/* A unit of work queued to run on an event loop's thread. */
#ifndef NGHTTPW_CORE_TASK_H
#define NGHTTPW_CORE_TASK_H

typedef struct task {
	struct task *next;
	void (*fn)(void *arg);
	void *arg;
} task;

static inline void
task_init(task *t, void (*fn)(void *), void *arg)
{
	t->next = NULL;
	t->fn   = fn;
	t->arg  = arg;
}

#endif
