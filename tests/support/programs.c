/* Finding the programs some tests run: see programs.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/programs.h"

bool
program_in_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	const char *p, *end;

	if (path == NULL || *path == '\0') {
		path = "/usr/local/bin:/usr/bin:/bin";
	}
	for (p = path; *p != '\0'; p = (*end == ':') ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL) {
			end = p + strlen(p);
		}
		if (end == p) {
			continue;
		}
		int n = snprintf(out, cap, "%.*s/%s", (int) (end - p), p, name);
		if (n > 0 && (size_t) n < cap && access(out, X_OK) == 0) {
			return (true);
		}
	}
	return (false);
}

bool
built_tool(const char *name, char *out, size_t cap)
{
#ifdef NGHTTPW_TOOLS_DIR
	int n = snprintf(out, cap, "%s/%s", NGHTTPW_TOOLS_DIR, name);
	return (n > 0 && (size_t) n < cap && access(out, X_OK) == 0);
#else
	(void) name;
	(void) out;
	(void) cap;
	return (false);
#endif
}
