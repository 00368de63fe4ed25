/*
 * A tiny consumer of an installed nghttpw: checks a few calls of the public
 * API and exits 0 when they behave.  Built with EXPECT_STATIC=1 against the
 * static library, which must then define NGHTTPW_STATIC_LIB for us.
 */
#include <nghttpw/nghttpw.h>

#include <stdio.h>
#include <string.h>

#if defined(EXPECT_STATIC) && !defined(NGHTTPW_STATIC_LIB)
#error "the static library did not pass NGHTTPW_STATIC_LIB on"
#endif
#if !defined(EXPECT_STATIC) && defined(NGHTTPW_STATIC_LIB)
#error "the shared library must not define NGHTTPW_STATIC_LIB"
#endif

#if NGHTTPW_MAJOR_VERSION != 0
#error "unexpected major version"
#endif

static int failures;

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "consumer: FAILED: %s\n", what);
		failures++;
	}
}

int
main(void)
{
	const char  *inval = nghttpw_strerror(NGHTTPW_EINVAL);
	const char  *nomem = nghttpw_strerror(NGHTTPW_ENOMEM);
	nghttpw_time t0, t1;

	check(inval != NULL && inval[0] != '\0',
	    "nghttpw_strerror(NGHTTPW_EINVAL) gives a message");
	check(nomem != NULL && inval != NULL && strcmp(inval, nomem) != 0,
	    "NGHTTPW_EINVAL and NGHTTPW_ENOMEM have different messages");

	t0 = nghttpw_clock();
	nghttpw_msleep(20);
	t1 = nghttpw_clock();
	check(t1 >= t0 + 15, "nghttpw_clock() advances across nghttpw_msleep(20)");
	check(t1 - t0 < 10000, "nghttpw_msleep(20) returns within 10 s");

	nghttpw_fini();

	if (failures != 0) {
		return (1);
	}
	printf("consumer (%s): ok: EINVAL is \"%s\", slept %llu ms\n",
#ifdef NGHTTPW_STATIC_LIB
	    "static",
#else
	    "shared",
#endif
	    inval, (unsigned long long) (t1 - t0));
	return (0);
}
