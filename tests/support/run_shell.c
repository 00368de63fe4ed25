/* Running a shell command from a test: see run_shell.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "support/run_shell.h"

int
run_shell(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	char   *cmd;
	FILE   *f;
	size_t  n = 0;
	int     st;

	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&cmd, fmt, ap), 0);
	va_end(ap);
	f = popen(cmd, "r");
	free(cmd);
	cr_assert_not_null(f);
	while (n + 1 < cap && !feof(f)) {
		n += fread(out + n, 1, cap - n - 1, f);
	}
	out[n] = '\0';
	st     = pclose(f);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
