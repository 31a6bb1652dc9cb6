/* check.h: the unit tests' whole framework. Each test binary counts its
 * checks and ends with "N passed, N failed"; exit status 1 on any failure. */
#ifndef FTPGATE_CHECK_H
#define FTPGATE_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned check_passed, check_failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		check_passed++;						\
	} else {							\
		check_failed++;						\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	}								\
} while (0)

#define CHECK_INT(got, want) do {					\
	long long got_ = (long long)(got), want_ = (long long)(want);	\
	if (got_ == want_) {						\
		check_passed++;						\
	} else {							\
		check_failed++;						\
		fprintf(stderr, "FAIL %s:%d: %s = %lld, want %lld\n",	\
			__FILE__, __LINE__, #got, got_, want_);		\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *got_ = (got), *want_ = (want);			\
	if (got_ && want_ && strcmp(got_, want_) == 0) {		\
		check_passed++;						\
	} else {							\
		check_failed++;						\
		fprintf(stderr, "FAIL %s:%d: %s = \"%s\", want \"%s\"\n", \
			__FILE__, __LINE__, #got, got_ ? got_ : "(null)", \
			want_ ? want_ : "(null)");			\
	}								\
} while (0)

static inline int check_report(const char *suite)
{
	printf("%s: %u passed, %u failed\n", suite, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
