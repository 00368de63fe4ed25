#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "support/tmp_dir.h"

int
tmp_dir_make(char *dir, size_t cap, const char *tag)
{
	int n = snprintf(dir, cap, "/tmp/nghttpw-%s-XXXXXX", tag);

	if (n < 0 || (size_t) n >= cap || mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return (-1);
	}
	return (0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	return (remove(path));
}

void
tmp_dir_remove(char *dir)
{
	if (dir[0] != '\0') {
		(void) nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		dir[0] = '\0';
	}
}
