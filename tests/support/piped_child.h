/* A child process (openssl, say) with a pipe on its standard input and
 * one on its standard output, for tests that talk to it both ways.  The
 * last one started is remembered until it ends, so that a test's
 * teardown can kill it whatever happened in the test. */
#ifndef NGHTTPW_TESTS_PIPED_CHILD_H
#define NGHTTPW_TESTS_PIPED_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct piped_child {
	pid_t pid;
	int   in;  /* write end of its standard input */
	int   out; /* read end of its standard output */
} piped_child;

/* Runs argv[0], found in PATH, with argv (NULL-terminated).  Its standard
 * error is appended to errpath, or goes into the output pipe when errpath
 * is NULL.  0 or -1. */
int piped_child_start(piped_child *ch, char *const argv[], const char *errpath);

/* Reads its output into buf (NUL-terminated, appended to what buf holds)
 * until want shows up: false on timeout, at the end of its output or when
 * buf is full. */
bool piped_child_read_until(
    piped_child *ch, char *buf, size_t cap, const char *want, int ms);

/* Closes its input and waits ms at most for it to exit: its exit status,
 * or -1 when a signal ended it or it had to be killed. */
int piped_child_wait(piped_child *ch, int ms);

/* Ends it at once (SIGTERM) and reaps it. */
void piped_child_stop(piped_child *ch);

/* Kills the child still running, if any (a test's teardown). */
void piped_child_kill_live(void);

#endif
