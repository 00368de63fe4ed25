/* Temporary directories for tests, removed with all they hold. */
#ifndef NGHTTPW_TESTS_TMP_DIR_H
#define NGHTTPW_TESTS_TMP_DIR_H

#include <stddef.h>

/* Makes a new directory /tmp/nghttpw-<tag>-XXXXXX; its path in dir (cap
 * bytes).  0 or -1. */
int tmp_dir_make(char *dir, size_t cap, const char *tag);

/* Removes dir and everything below it, and empties dir; nothing when dir
 * is empty. */
void tmp_dir_remove(char *dir);

#endif
