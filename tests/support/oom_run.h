/* The driver of the allocation failure tests: a scenario run once as a
 * baseline, then with allocation N = 1, 2, ... failed (or every one from
 * N on), until a run meets no failure.  See tests/oom_test.c. */
#ifndef NGHTTPW_TESTS_OOM_RUN_H
#define NGHTTPW_TESTS_OOM_RUN_H

#include <stdbool.h>

#include "nghttpw/nghttpw.h"
#include "support/oom.h"

#define OP_TIMEOUT 5000 /* ms: any wait that reaches it is a hang */

/* Records a problem of the current run. */
void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether rv is the injected failure, reported as such. */
bool is_oom(int rv);

/* The first failure of a run, from the operation that met it: it must
 * be NGHTTPW_ENOMEM. */
void first_failure(int rv, const char *what);

/* A failure after the first: the close that it led to, or another
 * injected failure. */
void later_failure(int rv, const char *what);

/* Skips the test without the --wrap link flags; sets up the runtime. */
void require_wrapping(void);

/* Runs fn(arg) with each allocation failed in turn (run_loop), or every
 * allocation from N on (run_loop_sticky); asserts no problem was met. */
void run_loop(const char *name, oom_scope scope, void (*fn)(void *), void *arg);
void run_loop_sticky(
    const char *name, oom_scope scope, void (*fn)(void *), void *arg);

/* Whether the current run is the baseline (nothing failed), and whether
 * it fails every allocation from N on. */
bool oom_run_baseline(void);
bool oom_run_sticky(void);

/* Waits for an aio; reaching OP_TIMEOUT is a hang (a problem). */
int wait_rv(nghttpw_aio *aio, const char *what);

/* An aio with OP_TIMEOUT, or NULL with *rvp set. */
nghttpw_aio *aio_new(int *rvp);

#define CHECK(expr, what)                                                   \
	do {                                                                \
		if ((rv = (expr)) != 0) {                                   \
			first_failure(rv, what);                            \
			goto out;                                           \
		}                                                           \
	} while (0)

#define VERIFY(cond, ...)                                                   \
	do {                                                                \
		if (!(cond)) {                                              \
			bad(__VA_ARGS__);                                   \
			goto out;                                           \
		}                                                           \
	} while (0)

#endif
