/* Allocation failure injection for the tests.
 *
 * The test program is linked with the GNU linker's
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,
 *       --wrap=strndup,--wrap=free
 * so that every call to these functions made from the program's own
 * objects -- the test, tests/support and the static library -- goes
 * through the __wrap_ functions in oom.c (calls made inside shared
 * libraries, Criterion and libc included, are not affected).  Without
 * those flags the wrappers are never called and oom_available() is false:
 * every test program links oom.c, only the one that wants injection links
 * with the flags.
 *
 * Injection: oom_arm() opens a window in which allocations are counted
 * and the nth one fails (returns NULL with errno ENOMEM, touching
 * nothing) -- or, with oom_arm_from(), the nth and all after it.  OOM_THREAD counts only the allocations made by the thread
 * that armed it, so other threads (the library's I/O threads) never fail;
 * OOM_ANY counts those of every thread.
 *
 * Tracking: between oom_track_begin() and oom_track_end() every block
 * handed out by the wrappers (on any thread) is recorded with the stack
 * that allocated it, and forgotten when it is freed; oom_track_end()
 * reports what is still live.  Blocks from before the window, or from
 * outside the wrapped objects, are ignored. */
#ifndef NGHTTPW_TESTS_OOM_H
#define NGHTTPW_TESTS_OOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
	OOM_THREAD = 1, /* the arming thread's allocations only */
	OOM_ANY    = 2, /* every thread's */
} oom_scope;

/* Whether the wrappers are linked in (the program was linked with the
 * --wrap flags).  Only says the linker was asked; that the library's own
 * calls go through them is for the caller to check (oom_count() after a
 * call that is known to allocate). */
bool oom_available(void);

/* Opens an injection window: counting starts from zero and the nth
 * allocation counted fails (nth 0: count only, fail nothing).  A window
 * already open is replaced. */
void oom_arm(oom_scope scope, unsigned long nth);

/* The same, but the nth allocation and every one after it fail. */
void oom_arm_from(oom_scope scope, unsigned long nth);

/* Closes the window; returns the number of allocations it counted
 * (including the one that was failed). */
unsigned long oom_disarm(void);

/* Allocations counted so far in the current (or last) window. */
unsigned long oom_count(void);

/* Whether the current (or last) window failed an allocation. */
bool oom_fired(void);

/* Prints the stack of the allocation that was failed, if any. */
void oom_print_site(FILE *f);

/* Whether to print the stack at once when an allocation is failed (for
 * a crash that would not let the caller print it afterwards). */
void oom_print_on_fire(bool on);

/* Starts recording live blocks (forgetting any earlier record). */
void oom_track_begin(void);

/* The number of recorded blocks not freed so far ((size_t) -1 when the
 * record overflowed). */
size_t oom_track_live(void);

/* Stops recording; returns the number of recorded blocks not freed and,
 * when f is not NULL, prints each with its size and allocation stack.
 * Returns (size_t) -1 when the record overflowed. */
size_t oom_track_end(FILE *f);

#endif
