/* Child processes for the interoperability tests: a program run with its
 * standard output on a pipe that the test reads line by line, killed with
 * the test process whatever ends it. */
#ifndef NGHTTPW_TESTS_CHILD_H
#define NGHTTPW_TESTS_CHILD_H

#include <stddef.h>
#include <sys/types.h>

typedef struct child {
	pid_t  pid;
	int    out; /* read end of its standard output */
	char   buf[4096];
	size_t len;
} child;

/* Runs path with argv (argv[0] included, NULL-terminated); standard input
 * is /dev/null, standard error the test's.  0 or -1. */
int child_start(child *c, const char *path, char *const argv[]);

/* The next line of its output (no newline) in line, within ms
 * milliseconds: 0, or -1 at the end of its output or on timeout. */
int child_line(child *c, char *line, size_t cap, int ms);

/* Waits ms at most: its exit status, -1 if a signal ended it, -2 if it
 * had to be killed. */
int child_wait(child *c, int ms);

/* Sends sig, then waits as child_wait does. */
int child_stop(child *c, int sig, int ms);

#endif
