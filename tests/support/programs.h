/* Finding the programs some tests run as child processes. */
#ifndef NGHTTPW_TESTS_PROGRAMS_H
#define NGHTTPW_TESTS_PROGRAMS_H

#include <stdbool.h>
#include <stddef.h>

/* Searches PATH for an executable name; true if found, its path in out. */
bool program_in_path(const char *name, char *out, size_t cap);

/* The path of one of the project's tools (nghttpw-serve, nghttpw-get) as
 * this build made it, in out; true when it is there to run (false too
 * when the build has no tools, NGHTTPW_TOOLS=OFF). */
bool built_tool(const char *name, char *out, size_t cap);

#endif
