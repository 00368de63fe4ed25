/* Allocation failure injection and live-block tracking; see oom.h.
 *
 * Nothing here may allocate through the wrapped functions (it would count
 * itself), and nothing takes a lock that an allocation inside the locked
 * region could need: the only lock guards the tracking table and is held
 * for a few stores. */
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "support/oom.h"

/* Resolved by the linker to the real functions under --wrap; NULL (weak,
 * undefined) in a program linked without it. */
extern void *__real_malloc(size_t) __attribute__((weak));
extern void *__real_calloc(size_t, size_t) __attribute__((weak));
extern void *__real_realloc(void *, size_t) __attribute__((weak));
extern char *__real_strdup(const char *) __attribute__((weak));
extern char *__real_strndup(const char *, size_t) __attribute__((weak));
extern void  __real_free(void *) __attribute__((weak));

/* The sanitizer runtimes' symbolizer, when one is linked in. */
extern void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out,
    size_t out_size) __attribute__((weak));

void *__wrap_malloc(size_t);
void *__wrap_calloc(size_t, size_t);
void *__wrap_realloc(void *, size_t);
char *__wrap_strdup(const char *);
char *__wrap_strndup(const char *, size_t);
void  __wrap_free(void *);

#define OOM_FRAMES 16

/* ------------------------------------------------------------ injection */

static atomic_int    oom_scope_now; /* 0: no window */
static atomic_ulong  oom_nth;
static atomic_bool   oom_sticky; /* every allocation from the nth fails */
static atomic_ulong  oom_counter;
static atomic_bool   oom_did_fire;
static _Thread_local bool oom_armed_here;
static atomic_bool   oom_print_now;

static void *site_frames[OOM_FRAMES];
static int   site_nframes;
static int   site_first;

bool
oom_available(void)
{
	return (__real_malloc != NULL && __real_calloc != NULL &&
	    __real_realloc != NULL && __real_strdup != NULL &&
	    __real_strndup != NULL && __real_free != NULL);
}

static void
prime_backtrace(void)
{
	void *f[2];

	/* The first call may load the unwinder (and allocate): do it
	 * outside any wrapper. */
	(void) backtrace(f, 2);
}

static void
arm(oom_scope scope, unsigned long nth, bool sticky)
{
	prime_backtrace();
	atomic_store(&oom_scope_now, 0);
	atomic_store(&oom_counter, 0);
	atomic_store(&oom_did_fire, false);
	site_nframes = 0;
	site_first   = 0;
	atomic_store(&oom_nth, nth);
	atomic_store(&oom_sticky, sticky);
	oom_armed_here = true;
	atomic_store(&oom_scope_now, (int) scope);
}

void
oom_arm(oom_scope scope, unsigned long nth)
{
	arm(scope, nth, false);
}

void
oom_arm_from(oom_scope scope, unsigned long nth)
{
	arm(scope, nth, true);
}

unsigned long
oom_disarm(void)
{
	atomic_store(&oom_scope_now, 0);
	oom_armed_here = false;
	return (atomic_load(&oom_counter));
}

unsigned long
oom_count(void)
{
	return (atomic_load(&oom_counter));
}

bool
oom_fired(void)
{
	return (atomic_load(&oom_did_fire));
}

/* The stack from the wrapper's caller (the frames above it are the
 * capture's own); returns the index of the caller's frame. */
static int
capture(void **frames, int *nframes, void *caller)
{
	*nframes = backtrace(frames, OOM_FRAMES);
	for (int i = 0; i < *nframes; i++) {
		if (frames[i] == caller) {
			return (i);
		}
	}
	return (0);
}

/* Counts an allocation; true when it is the one to fail. */
static bool
oom_should_fail(void *caller)
{
	int           scope = atomic_load_explicit(&oom_scope_now, memory_order_acquire);
	unsigned long n;

	if (scope == 0 || (scope == OOM_THREAD && !oom_armed_here)) {
		return (false);
	}
	n = atomic_fetch_add(&oom_counter, 1) + 1;
	if (n != atomic_load(&oom_nth)) {
		/* Sticky: the later ones fail too (the stack kept is the
		 * first's). */
		return (atomic_load(&oom_sticky) && atomic_load(&oom_nth) > 0 &&
		    n > atomic_load(&oom_nth));
	}
	site_first = capture(site_frames, &site_nframes, caller);
	atomic_store(&oom_did_fire, true);
	if (atomic_load(&oom_print_now)) {
		oom_print_site(stderr);
	}
	return (true);
}

static void
print_frames(FILE *f, void *const *frames, int first, int n)
{
	for (int i = first; i < n; i++) {
		char buf[512];
		if (__sanitizer_symbolize_pc != NULL) {
			/* A return address: the call is the byte before. */
			__sanitizer_symbolize_pc((char *) frames[i] - 1,
			    "%p %F %L", buf, sizeof(buf));
			fprintf(f, "    #%d %s\n", i - first, buf);
		} else {
			fflush(f);
			backtrace_symbols_fd(&frames[i], 1, fileno(f));
		}
	}
	fflush(f);
}

void
oom_print_on_fire(bool on)
{
	atomic_store(&oom_print_now, on);
}

void
oom_print_site(FILE *f)
{
	if (!oom_fired()) {
		fprintf(f, "  (no allocation was failed)\n");
		return;
	}
	fprintf(f, "  failed allocation #%lu at:\n", atomic_load(&oom_nth));
	print_frames(f, site_frames, site_first, site_nframes);
}

/* ------------------------------------------------------------- tracking */

#define TRACK_SLOTS (1u << 15) /* a power of two */
#define TRACK_TOMB ((void *) 1)

typedef struct track_ent {
	void  *p; /* NULL: never used; TRACK_TOMB: freed */
	size_t size;
	int    first;
	int    nframes;
	void  *frames[OOM_FRAMES];
} track_ent;

static pthread_mutex_t track_mtx = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool     tracking;
static bool            track_overflow;
static size_t          track_used; /* slots not NULL (live or tomb) */
static track_ent       track_tab[TRACK_SLOTS];

static size_t
track_hash(const void *p)
{
	uintptr_t x = (uintptr_t) p;

	x ^= x >> 17;
	x *= (uintptr_t) 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return ((size_t) x & (TRACK_SLOTS - 1));
}

static void
track_add(void *p, size_t size, void *caller)
{
	void  *frames[OOM_FRAMES];
	int    n, first;
	size_t i;

	if (p == NULL || !atomic_load(&tracking)) {
		return;
	}
	first = capture(frames, &n, caller);
	pthread_mutex_lock(&track_mtx);
	if (track_used >= TRACK_SLOTS / 2) {
		track_overflow = true;
	} else {
		for (i = track_hash(p);; i = (i + 1) & (TRACK_SLOTS - 1)) {
			track_ent *e = &track_tab[i];
			if (e->p == NULL || e->p == TRACK_TOMB || e->p == p) {
				if (e->p == NULL) {
					track_used++;
				}
				e->p       = p;
				e->size    = size;
				e->first   = first;
				e->nframes = n;
				memcpy(e->frames, frames, sizeof(frames));
				break;
			}
		}
	}
	pthread_mutex_unlock(&track_mtx);
}

static void
track_del(void *p)
{
	size_t i;

	if (p == NULL || !atomic_load(&tracking)) {
		return;
	}
	pthread_mutex_lock(&track_mtx);
	for (i = track_hash(p); track_tab[i].p != NULL;
	     i = (i + 1) & (TRACK_SLOTS - 1)) {
		if (track_tab[i].p == p) {
			track_tab[i].p = TRACK_TOMB;
			break;
		}
	}
	pthread_mutex_unlock(&track_mtx);
}

void
oom_track_begin(void)
{
	prime_backtrace();
	pthread_mutex_lock(&track_mtx);
	memset(track_tab, 0, sizeof(track_tab));
	track_used     = 0;
	track_overflow = false;
	atomic_store(&tracking, true);
	pthread_mutex_unlock(&track_mtx);
}

size_t
oom_track_live(void)
{
	size_t live = 0;

	pthread_mutex_lock(&track_mtx);
	for (size_t i = 0; i < TRACK_SLOTS; i++) {
		if (track_tab[i].p != NULL && track_tab[i].p != TRACK_TOMB) {
			live++;
		}
	}
	if (track_overflow) {
		live = (size_t) -1;
	}
	pthread_mutex_unlock(&track_mtx);
	return (live);
}

size_t
oom_track_end(FILE *f)
{
	size_t live = 0;

	pthread_mutex_lock(&track_mtx);
	atomic_store(&tracking, false);
	for (size_t i = 0; i < TRACK_SLOTS; i++) {
		track_ent *e = &track_tab[i];
		if (e->p == NULL || e->p == TRACK_TOMB) {
			continue;
		}
		live++;
		if (f != NULL) {
			fprintf(f, "  live block %p, %zu bytes, allocated at:\n",
			    e->p, e->size);
			print_frames(f, e->frames, e->first, e->nframes);
		}
	}
	if (track_overflow) {
		live = (size_t) -1;
	}
	pthread_mutex_unlock(&track_mtx);
	return (live);
}

/* ------------------------------------------------------------- wrappers */

void *
__wrap_malloc(size_t size)
{
	void *p;

	if (oom_should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return (NULL);
	}
	p = __real_malloc(size);
	track_add(p, size, __builtin_return_address(0));
	return (p);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	void *p;

	if (oom_should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return (NULL);
	}
	p = __real_calloc(n, size);
	track_add(p, n * size, __builtin_return_address(0));
	return (p);
}

void *
__wrap_realloc(void *old, size_t size)
{
	void *p;

	if (oom_should_fail(__builtin_return_address(0))) {
		/* The old block is left as it was. */
		errno = ENOMEM;
		return (NULL);
	}
	p = __real_realloc(old, size);
	if (p != NULL || size == 0) {
		track_del(old);
	}
	track_add(p, size, __builtin_return_address(0));
	return (p);
}

char *
__wrap_strdup(const char *s)
{
	char *p;

	if (oom_should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return (NULL);
	}
	p = __real_strdup(s);
	track_add(p, p != NULL ? strlen(p) + 1 : 0, __builtin_return_address(0));
	return (p);
}

char *
__wrap_strndup(const char *s, size_t n)
{
	char *p;

	if (oom_should_fail(__builtin_return_address(0))) {
		errno = ENOMEM;
		return (NULL);
	}
	p = __real_strndup(s, n);
	track_add(p, p != NULL ? strlen(p) + 1 : 0, __builtin_return_address(0));
	return (p);
}

void
__wrap_free(void *p)
{
	track_del(p);
	__real_free(p);
}
