/* Running a shell command from a test and keeping what it printed. */
#ifndef NGHTTPW_TESTS_RUN_SHELL_H
#define NGHTTPW_TESTS_RUN_SHELL_H

#include <stddef.h>

/* Runs the command made from fmt (as printf) with sh; what it wrote to
 * its standard output goes to out (cap bytes, NUL-ended, cut short if it
 * must).  Returns its exit status, or -1 when it did not exit.  A command
 * that cannot be started fails the test. */
int run_shell(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
