/*
 * unit.h: the unit test harness.  A test program calls CHECK() for every
 * assertion inside named tests; each test prints "ok - name" or
 * "not ok - name" (with the failing line), which tests/run.sh counts.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

static int	unit_failed_total;
static int	unit_failed;
static const char *unit_name;

#define TEST(name)	for (unit_begin(name); unit_name != NULL; unit_end())

static void
unit_begin(const char *name)
{
	unit_name = name;
	unit_failed = 0;
}

static void
unit_end(void)
{
	printf("%s - %s\n", unit_failed ? "not ok" : "ok", unit_name);
	fflush(stdout);
	if (unit_failed)
		unit_failed_total++;
	unit_name = NULL;
}

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("#   %s:%d: CHECK(%s) failed\n", __FILE__,	\
		    __LINE__, #cond);					\
		unit_failed = 1;					\
	}								\
} while (0)

/* A table row failed: name its line. */
#define CHECK_ROW(cond, line) do {					\
	if (!(cond)) {							\
		printf("#   %s:%d (row at line %d): %s failed\n",	\
		    __FILE__, __LINE__, (line), #cond);			\
		unit_failed = 1;					\
	}								\
} while (0)

#define STREQ(a, b)	((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0)

#define UNIT_DONE()	return unit_failed_total ? 1 : 0

#endif
