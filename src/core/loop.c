/* The I/O thread pool.  Each loop thread alternates between waiting in
 * its poller, epoll or io_uring (bounded by its nearest timer), firing expired timers and running
 * its queue of deferred tasks.  Other threads hand tasks over through a
 * mutex-protected post list and an eventfd wake-up. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/loop.h"

#define LOOP_MAX_THREADS 256
#define TIMER_HEAP_INITIAL 64
#define LOOP_TASK_BUDGET 64
/* A stopping loop waits this long, at most this many times, for the
 * operations it cancelled to come back from the kernel. */
#define LOOP_DRAIN_TURN_MS 100
#define LOOP_DRAIN_TURNS 20
/* runtime_trim_soon: how long after the request, and after the last free
 * the reaper ran, the trim comes (the frees of a burst arrive together),
 * and at least how far apart trims are. */
#define TRIM_DELAY_MS 20
#define TRIM_SPACING_MS 200

struct loop {
	loop_head       head; /* first: loop_mutex and loop_cond rely on it */
	poller          poller;
	pthread_t       thread;
	timer_node    **heap;
	size_t          heap_len;
	size_t          heap_cap;
	size_t          heap_reserved; /* timers that may be armed at once */
	task           *post_head; /* guarded by mtx */
	task           *post_tail;
	task           *run_head; /* touched only by the loop's thread */
	task           *run_tail;
	bool            wake_pending;
	bool            stopping;
	bool            exited; /* its thread ran its last task */
};

static struct {
	pthread_mutex_t mtx;
	loop           *loops;
	unsigned        nloops;
	/* nghttpw_init_set_parameter's poller values: the loops to start
	 * (unset: one per online CPU) and a cap on that (0: none). */
	uint64_t        num_pollers;
	bool            num_pollers_set;
	uint64_t        max_pollers;
	uint64_t        backend_param; /* NGHTTPW_POLLER_* */
	poller_backend  backend;       /* of the loops running */
	/* Two rotations: connections and listeners take turns of their own,
	 * so that the aios a connection allocates (a TLS handshake's timer,
	 * a WebSocket upgrade's aio) do not decide where the next goes. */
	atomic_uint     next;
	atomic_uint     next_home;
	atomic_bool     started;
	/* the reaper: a thread that may block, for deferred frees */
	pthread_t       reaper;
	pthread_cond_t  reap_cv;
	pthread_cond_t  reap_idle_cv;
	task           *reap_head;
	task           *reap_tail;
	bool            reap_busy; /* running a task */
	bool            reap_stop;
	/* runtime_trim_soon: a trim is wanted, once the reaper is idle and
	 * not before trim_at (CLOCK_REALTIME, as reap_cv). */
	bool            trim_wanted;
	struct timespec trim_at;
	struct timespec trimmed_at;
	list_node       lingering; /* runtime_linger */
} rt = {
	.mtx          = PTHREAD_MUTEX_INITIALIZER,
	.lingering    = { &rt.lingering, &rt.lingering },
	.backend_param = NGHTTPW_POLLER_AUTO,
	.reap_cv      = PTHREAD_COND_INITIALIZER,
	.reap_idle_cv = PTHREAD_COND_INITIALIZER,
};

/* initial-exec: read on every completion, and the general-dynamic model
 * would make each read a call to __tls_get_addr. */
static _Thread_local loop *current_loop
    __attribute__((tls_model("initial-exec")));

static void
task_list_append(task **head, task **tail, task *t)
{
	t->next = NULL;
	if (*tail != NULL) {
		(*tail)->next = t;
	} else {
		*head = t;
	}
	*tail = t;
}

loop *
loop_current(void)
{
	return (current_loop);
}

static void
loop_push_local(loop *l, task *t)
{
	task_list_append(&l->run_head, &l->run_tail, t);
}

bool
loop_push_current(task *t)
{
	if (current_loop == NULL) {
		return (false);
	}
	loop_push_local(current_loop, t);
	return (true);
}

bool
loop_exited_locked(loop *l)
{
	return (l->exited);
}

void
loop_post_locked(loop *l, task *t)
{
	if (current_loop == l) {
		loop_push_local(l, t);
		return;
	}
	task_list_append(&l->post_head, &l->post_tail, t);
	if (!l->wake_pending) {
		l->wake_pending = true;
		poller_wake(&l->poller);
	}
}

void
loop_post(loop *l, task *t)
{
	if (current_loop == l) {
		loop_push_local(l, t);
		return;
	}
	plat_mutex_lock(&l->head.mtx);
	loop_post_locked(l, t);
	plat_mutex_unlock(&l->head.mtx);
}

/* Timer heap: a binary min-heap on deadline, each node knowing its index
 * so that removal on completion is O(log n). */

void
timer_init(timer_node *t, void (*expire)(timer_node *))
{
	t->deadline = TIMER_NEVER;
	t->index    = SIZE_MAX;
	t->expire   = expire;
}

static void
heap_set(loop *l, size_t i, timer_node *t)
{
	l->heap[i] = t;
	t->index   = i;
}

static void
heap_sift_up(loop *l, size_t i)
{
	timer_node *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (l->heap[parent]->deadline <= t->deadline) {
			break;
		}
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void
heap_sift_down(loop *l, size_t i)
{
	timer_node *t = l->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= l->heap_len) {
			break;
		}
		if (child + 1 < l->heap_len &&
		    l->heap[child + 1]->deadline < l->heap[child]->deadline) {
			child++;
		}
		if (t->deadline <= l->heap[child]->deadline) {
			break;
		}
		heap_set(l, i, l->heap[child]);
		i = child;
	}
	heap_set(l, i, t);
}

/* Each aio reserves its heap slot when it is allocated, so arming its
 * timer later never allocates and never fails: a deferred operation that
 * could not get its timer would have no one left to finish it. */
int
loop_timer_reserve_locked(loop *l)
{
	if (l->heap_reserved == l->heap_cap) {
		size_t       cap = l->heap_cap * 2;
		timer_node **h   = realloc(l->heap, cap * sizeof(*h));
		if (h == NULL) {
			return (NGHTTPW_ENOMEM);
		}
		l->heap     = h;
		l->heap_cap = cap;
	}
	l->heap_reserved++;
	return (0);
}

void
loop_timer_release_locked(loop *l)
{
	l->heap_reserved--;
}

void
loop_timer_add_locked(loop *l, timer_node *t)
{
	heap_set(l, l->heap_len++, t);
	heap_sift_up(l, t->index);
	/* A new earliest deadline must shorten the loop's current wait. */
	if (t->index == 0 && current_loop != l && !l->wake_pending) {
		l->wake_pending = true;
		poller_wake(&l->poller);
	}
}

void
loop_timer_remove_locked(loop *l, timer_node *t)
{
	size_t i = t->index;

	if (i == SIZE_MAX) {
		return;
	}
	t->index = SIZE_MAX;
	if (--l->heap_len == i) {
		return;
	}
	heap_set(l, i, l->heap[l->heap_len]);
	heap_sift_up(l, i);
	heap_sift_down(l, l->heap[i]->index);
}

static int
loop_wait_ms(loop *l)
{
	nghttpw_time now, deadline;

	if (l->run_head != NULL) {
		return (0);
	}
	if (l->heap_len == 0) {
		return (-1);
	}
	deadline = l->heap[0]->deadline;
	now      = nghttpw_clock();
	if (deadline <= now) {
		return (0);
	}
	if (deadline - now > 60000) {
		return (60000);
	}
	return ((int) (deadline - now));
}

static void
loop_expire_locked(loop *l)
{
	nghttpw_time now = nghttpw_clock();

	while (l->heap_len > 0 && l->heap[0]->deadline <= now) {
		timer_node *t = l->heap[0];
		loop_timer_remove_locked(l, t);
		t->expire(t);
	}
}

/* Moves what other threads posted to the end of the run queue. */
static void
loop_take_posted_locked(loop *l)
{
	if (l->post_head != NULL) {
		if (l->run_tail != NULL) {
			l->run_tail->next = l->post_head;
		} else {
			l->run_head = l->post_head;
		}
		l->run_tail  = l->post_tail;
		l->post_head = NULL;
		l->post_tail = NULL;
	}
}

static void
loop_run_tasks(loop *l)
{
	/* Run only what is queued now: tasks queued by these tasks wait for
	 * the next turn, so I/O readiness is polled between batches. */
	task *t = l->run_head;

	l->run_head = NULL;
	l->run_tail = NULL;
	while (t != NULL) {
		task *next = t->next;
		t->next    = NULL;
		t->fn(t->arg);
		t = next;
	}
}

static void *
loop_main(void *arg)
{
	loop    *l           = arg;
	unsigned drain_turns = 0;

	current_loop = l;
	poller_start(&l->poller);
	plat_mutex_lock(&l->head.mtx);
	for (;;) {
		l->wake_pending = false;
		loop_take_posted_locked(l);
		int wait_ms = loop_wait_ms(l);
		if (l->stopping && l->run_head == NULL) {
			/* On io_uring, operations still in the kernel hold their
			 * streams until they complete: cancel them and serve
			 * what comes back, so that everything is freed; a
			 * bounded while, should the kernel keep one. */
			if (poller_ops_inflight(&l->poller) == 0 ||
			    drain_turns++ == LOOP_DRAIN_TURNS) {
				l->exited = true;
				break;
			}
			poller_cancel_all(&l->poller);
			wait_ms = LOOP_DRAIN_TURN_MS;
		}
		plat_mutex_unlock(&l->head.mtx);

		poller_run(&l->poller, wait_ms);

		plat_mutex_lock(&l->head.mtx);
		loop_expire_locked(l);
		plat_mutex_unlock(&l->head.mtx);

		/* Tasks queued by tasks (a callback starting the next step
		 * that completes at once) run now, up to a budget, rather
		 * than after another epoll_wait. */
		for (int i = 0; i < LOOP_TASK_BUDGET && l->run_head != NULL; i++) {
			loop_run_tasks(l);
		}

		plat_mutex_lock(&l->head.mtx);
	}
	plat_mutex_unlock(&l->head.mtx);
	return (NULL);
}

poller *
loop_poller(loop *l)
{
	return (&l->poller);
}

int
loop_poll_add(loop *l, poller_fd *pfd)
{
	return (poller_add(&l->poller, pfd));
}

void
loop_poll_del(loop *l, poller_fd *pfd)
{
	poller_del(&l->poller, pfd);
}

/* The reaper thread. */

void
runtime_reap(task *t)
{
	pthread_mutex_lock(&rt.mtx);
	task_list_append(&rt.reap_head, &rt.reap_tail, t);
	pthread_cond_signal(&rt.reap_cv);
	pthread_mutex_unlock(&rt.mtx);
}

static void
timespec_add_ms(struct timespec *ts, long ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool
timespec_before(const struct timespec *a, const struct timespec *b)
{
	return (a->tv_sec < b->tv_sec ||
	    (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec));
}

/* rt.mtx held. */
static void
trim_want_locked(void)
{
	struct timespec at, spaced;

	if (!rt.trim_wanted) {
		clock_gettime(CLOCK_REALTIME, &at);
		timespec_add_ms(&at, TRIM_DELAY_MS);
		spaced = rt.trimmed_at;
		timespec_add_ms(&spaced, TRIM_SPACING_MS);
		rt.trim_wanted = true;
		rt.trim_at     = timespec_before(&at, &spaced) ? spaced : at;
		pthread_cond_signal(&rt.reap_cv);
	}
}

/* A free just ran, and what it posted to the loops (a TCP stream's own
 * free) runs there next: the trim waits for that too.  rt.mtx held. */
static void
trim_put_off_locked(void)
{
	struct timespec at;

	clock_gettime(CLOCK_REALTIME, &at);
	timespec_add_ms(&at, TRIM_DELAY_MS);
	if (timespec_before(&rt.trim_at, &at)) {
		rt.trim_at = at;
	}
}

void
runtime_trim_soon(void)
{
	pthread_mutex_lock(&rt.mtx);
	trim_want_locked();
	pthread_mutex_unlock(&rt.mtx);
}

void
runtime_reap_lazy(task *t)
{
	pthread_mutex_lock(&rt.mtx);
	task_list_append(&rt.reap_head, &rt.reap_tail, t);
	/* The trim's timed wake-up runs it, with whatever else came. */
	trim_want_locked();
	pthread_mutex_unlock(&rt.mtx);
}

/* The reaper with nothing queued: the trim if one is wanted and due, or a
 * wait for work (or for the trim's time).  rt.mtx held. */
static void
reaper_idle_locked(void)
{
	struct timespec now;

	if (!rt.trim_wanted) {
		pthread_cond_wait(&rt.reap_cv, &rt.mtx);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (timespec_before(&now, &rt.trim_at)) {
		(void) pthread_cond_timedwait(&rt.reap_cv, &rt.mtx, &rt.trim_at);
		return;
	}
	rt.trim_wanted = false;
	rt.trimmed_at  = now;
	pthread_mutex_unlock(&rt.mtx);
#ifdef __GLIBC__
	/* Free pages anywhere in the heaps, not only at their tops. */
	(void) malloc_trim(0);
#endif
	pthread_mutex_lock(&rt.mtx);
}

static void *
reaper_main(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&rt.mtx);
	for (;;) {
		task *t = rt.reap_head;
		if (t == NULL) {
			pthread_cond_broadcast(&rt.reap_idle_cv);
			if (rt.reap_stop) {
				break;
			}
			reaper_idle_locked();
			continue;
		}
		rt.reap_head = t->next;
		if (rt.reap_head == NULL) {
			rt.reap_tail = NULL;
		}
		rt.reap_busy = true;
		pthread_mutex_unlock(&rt.mtx);
		t->fn(t->arg);
		pthread_mutex_lock(&rt.mtx);
		rt.reap_busy = false;
		if (rt.trim_wanted) {
			trim_put_off_locked();
		}
	}
	pthread_mutex_unlock(&rt.mtx);
	return (NULL);
}

/* Start-up and shut-down. */

static void
loop_destroy(loop *l)
{
	poller_close(&l->poller);
	free(l->heap);
}

static int
loop_create(loop *l, poller_backend backend)
{
	int rv;

	plat_mutex_init(&l->head.mtx);
	plat_cond_init(&l->head.cv);
	l->heap_cap = TIMER_HEAP_INITIAL;
	if ((l->heap = calloc(l->heap_cap, sizeof(*l->heap))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	if ((rv = poller_open(&l->poller, backend)) != 0) {
		free(l->heap);
		return (rv);
	}
	if ((rv = pthread_create(&l->thread, NULL, loop_main, l)) != 0) {
		loop_destroy(l);
		return (NGHTTPW_ESYSERR | rv);
	}
	return (0);
}

/* Stops the threads of the first n loops; their state stays until
 * loops_destroy.  All stop before any is destroyed: a loop draining its
 * queue may still post to another. */
static void
loops_halt(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		loop *l = &rt.loops[i];
		plat_mutex_lock(&l->head.mtx);
		l->stopping = true;
		poller_wake(&l->poller);
		plat_mutex_unlock(&l->head.mtx);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(rt.loops[i].thread, NULL);
	}
}

/* Runs, on the calling thread, what was posted to loops that had already
 * stopped: a loop finishing its last tasks may post to one that is gone
 * (the free of a stream homed there, say), and that must not be lost.
 * The loop threads are joined: nothing else touches the queues. */
static void
loops_drain(unsigned n)
{
	bool ran = true;

	while (ran) {
		ran = false;
		for (unsigned i = 0; i < n; i++) {
			loop *l = &rt.loops[i];
			plat_mutex_lock(&l->head.mtx);
			loop_take_posted_locked(l);
			plat_mutex_unlock(&l->head.mtx);
			current_loop = l;
			while (l->run_head != NULL) {
				loop_run_tasks(l);
				ran = true;
			}
			current_loop = NULL;
		}
	}
}

static void
loops_destroy(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		loop_destroy(&rt.loops[i]);
	}
	free(rt.loops);
	rt.loops  = NULL;
	rt.nloops = 0;
}

/* The back-end asked for: the parameter, or when that says AUTO the
 * environment's NGHTTPW_POLLER; AUTO means epoll: measured, io_uring is
 * not clearly faster (the kernel's TCP work dominates), and epoll runs
 * where containers refuse io_uring. */
static int
runtime_backend(poller_backend *bp)
{
	uint64_t    want = rt.backend_param;
	const char *env  = getenv("NGHTTPW_POLLER");

	if (want == NGHTTPW_POLLER_AUTO && env != NULL) {
		if (strcmp(env, "epoll") == 0) {
			want = NGHTTPW_POLLER_EPOLL;
		} else if (strcmp(env, "io_uring") == 0) {
			want = NGHTTPW_POLLER_IO_URING;
		}
	}
	switch (want) {
	case NGHTTPW_POLLER_EPOLL:
		*bp = POLLER_BACKEND_EPOLL;
		return (0);
	case NGHTTPW_POLLER_IO_URING:
		*bp = POLLER_BACKEND_IO_URING;
		/* Asked for by name: no quiet fall-back. */
		return (poller_uring_usable() ? 0 : NGHTTPW_ENOTSUP);
	default:
		*bp = POLLER_BACKEND_EPOLL;
		return (0);
	}
}

static int
runtime_start_locked(void)
{
	uint64_t want = rt.num_pollers;
	unsigned n;
	int      rv;

	if ((rv = runtime_backend(&rt.backend)) != 0) {
		return (rv);
	}
	if (!rt.num_pollers_set) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		want      = cpus < 1 ? 1 : (uint64_t) cpus;
	}
	/* As nng clamps its own: the cap first, then at least one. */
	if (rt.max_pollers > 0 && want > rt.max_pollers) {
		want = rt.max_pollers;
	}
	if (want < 1) {
		want = 1;
	} else if (want > LOOP_MAX_THREADS) {
		want = LOOP_MAX_THREADS;
	}
	n = (unsigned) want;
	if ((rt.loops = calloc(n, sizeof(loop))) == NULL) {
		return (NGHTTPW_ENOMEM);
	}
	for (unsigned i = 0; i < n; i++) {
		if ((rv = loop_create(&rt.loops[i], rt.backend)) != 0) {
			loops_halt(i);
			loops_destroy(i);
			return (rv);
		}
		rt.nloops = i + 1;
	}
	rt.reap_stop = false;
	if ((rv = pthread_create(&rt.reaper, NULL, reaper_main, NULL)) != 0) {
		loops_halt(n);
		loops_destroy(n);
		return (NGHTTPW_ESYSERR | rv);
	}
	atomic_store(&rt.started, true);
	return (0);
}

static loop *
loop_pick_from(atomic_uint *next, int *rvp)
{
	unsigned i;

	if (!atomic_load(&rt.started)) {
		int rv = 0;
		pthread_mutex_lock(&rt.mtx);
		if (!atomic_load(&rt.started)) {
			rv = runtime_start_locked();
		}
		pthread_mutex_unlock(&rt.mtx);
		if (rv != 0) {
			*rvp = rv;
			return (NULL);
		}
	}
	i = atomic_fetch_add(next, 1);
	return (&rt.loops[i % rt.nloops]);
}

loop *
loop_pick(int *rvp)
{
	return (loop_pick_from(&rt.next, rvp));
}

loop *
loop_pick_home(int *rvp)
{
	return (loop_pick_from(&rt.next_home, rvp));
}

/* Waits until the reaper has nothing queued and is not running a task.
 * rt.mtx held. */
static void
reaper_drain_locked(void)
{
	while (rt.reap_head != NULL || rt.reap_busy) {
		pthread_cond_wait(&rt.reap_idle_cv, &rt.mtx);
	}
}

void
runtime_stop(void)
{
	pthread_mutex_lock(&rt.mtx);
	if (!atomic_load(&rt.started)) {
		pthread_mutex_unlock(&rt.mtx);
		return;
	}
	/* What goes on after its owner let go ends now. */
	while (!list_empty(&rt.lingering)) {
		runtime_linger *lg = LIST_ENTRY(rt.lingering.next, runtime_linger, node);
		list_remove(&lg->node);
		pthread_mutex_unlock(&rt.mtx);
		lg->stop(lg);
		pthread_mutex_lock(&rt.mtx);
	}
	/* Deferred frees may need the loops (to run the callbacks they wait
	 * for): let them finish while the loops still run.  Tasks the loops
	 * run while stopping may queue more, so the reaper stays up (and
	 * rt.mtx stays free) until the loops are gone. */
	reaper_drain_locked();
	pthread_mutex_unlock(&rt.mtx);
	loops_halt(rt.nloops);
	loops_drain(rt.nloops);

	/* What the loops queued while stopping may still lock their mutexes:
	 * run it before they are destroyed. */
	pthread_mutex_lock(&rt.mtx);
	rt.reap_stop = true;
	pthread_cond_signal(&rt.reap_cv);
	pthread_mutex_unlock(&rt.mtx);
	pthread_join(rt.reaper, NULL);
	loops_drain(rt.nloops);
	loops_destroy(rt.nloops);
	atomic_store(&rt.started, false);
}

void
runtime_linger_add(runtime_linger *lg)
{
	pthread_mutex_lock(&rt.mtx);
	list_append(&rt.lingering, &lg->node);
	pthread_mutex_unlock(&rt.mtx);
}

bool
runtime_linger_remove(runtime_linger *lg)
{
	bool listed;

	pthread_mutex_lock(&rt.mtx);
	if ((listed = list_linked(&lg->node))) {
		list_remove(&lg->node);
	}
	pthread_mutex_unlock(&rt.mtx);
	return (listed);
}

void
nghttpw_init_set_parameter(nghttpw_init_parameter p, uint64_t value)
{
	pthread_mutex_lock(&rt.mtx);
	/* Once started the loops stay as they are, as in nng: the value is
	 * dropped, not kept for a later start. */
	if (!atomic_load(&rt.started)) {
		switch (p) {
		case NGHTTPW_INIT_NUM_POLLER_THREADS:
			rt.num_pollers     = value;
			rt.num_pollers_set = true;
			break;
		case NGHTTPW_INIT_MAX_POLLER_THREADS:
			rt.max_pollers = value;
			break;
		case NGHTTPW_INIT_POLLER_BACKEND:
			if (value <= NGHTTPW_POLLER_IO_URING) {
				rt.backend_param = value;
			}
			break;
		default:
			/* nng's task, expire and resolver threads: our loops
			 * do all of that. */
			break;
		}
	}
	pthread_mutex_unlock(&rt.mtx);
}

void
nghttpw_fini(void)
{
	runtime_stop();
}
