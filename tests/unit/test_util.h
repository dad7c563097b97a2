/* Helpers shared by the unit tests. */
#ifndef ROOST_TEST_UTIL_H
#define ROOST_TEST_UTIL_H

#include "base/base.h"

#include <stdio.h>

/* The whole file (NUL-terminated past *len_r), or NULL if it cannot be
 * opened. The caller frees it. */
static inline unsigned char *test_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char tmp[65536];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(&b, tmp, n);
	fclose(f);
	*len_r = b.len;
	if (b.data == NULL)
		return (unsigned char *)xcalloc(1, 1);
	return (unsigned char *)b.data;
}

#endif
