/* A small stand-in for Criterion's <criterion/criterion.h>, used only by the
 * ThreadSanitizer build of the tests: Criterion 2.4's runner cannot start
 * under TSan (Snaipe/Criterion#274), this one can.  It offers the part of
 * Criterion's classic API that the tests use:
 *
 *   Test(suite, name, .timeout = s, .init = f, .fini = f, .disabled = b,
 *        .exit_code = n, .signal = n, .description = "...")
 *   TestSuite(suite, same options)
 *   cr_assert / cr_expect and their _not, _eq, _neq, _lt, _leq, _gt, _geq,
 *   _null, _not_null, _str_eq, _str_neq, _str_lt, _str_leq, _str_gt,
 *   _str_geq, _str_empty, _str_not_empty, _arr_eq, _arr_neq, _fail forms,
 *   each taking an optional printf-style message after its operands;
 *   cr_skip_test, cr_log_info, cr_log_warn, cr_log_error.
 *
 * The runner (runner.c, which has main()) runs every test in a child
 * process.  A message given as the first optional argument must not start
 * with a parenthesis in cr_assert_fail, cr_expect_fail and cr_skip_test.
 *
 * Put the directory above this one first on the include path and link
 * runner.c instead of libcriterion. */
#ifndef NGHTTPW_TSAN_RUNNER_CRITERION_H
#define NGHTTPW_TSAN_RUNNER_CRITERION_H

/* Like the real header (installed under /usr/include): warnings about the
 * code that the macros expand to are not the test's to fix.  Define
 * CRS_SHIM_WARNINGS to see them anyway. */
#ifndef CRS_SHIM_WARNINGS
#pragma GCC system_header
#endif

/* What the real header brings in, so that a test compiles alike with both. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define CRS_PRINTF_(f, a) __attribute__((format(printf, f, a)))
#else
#define CRS_PRINTF_(f, a)
#endif

/* ---------------------------------------------------------------- tests */

/* The options of Test() and TestSuite(), given as designated initialisers. */
struct crs_opts {
	void (*init)(void);
	void (*fini)(void);
	int         signal;    /* the test passes if it dies of this signal */
	int         exit_code; /* the test passes if it exits with this */
	bool        disabled;
	const char *description;
	double      timeout; /* seconds; 0: none */
	void       *data;
	int         crs_pad_; /* always set: makes the option list non-empty */
};

struct crs_test {
	const char            *suite;
	const char            *name;
	const char            *file;
	int                    line;
	void                   (*fn)(void);
	const struct crs_opts *opts;
	struct crs_test       *next;
};

struct crs_suite {
	const char            *name;
	const struct crs_opts *opts;
	struct crs_suite      *next;
};

void crs_register_test(struct crs_test *t);
void crs_register_suite(struct crs_suite *s);

#define Test(...) CRS_TEST_(__VA_ARGS__, .crs_pad_ = 0)
#define CRS_TEST_(suite, name, ...)                                          \
	static void crs_fn__##suite##__##name(void);                         \
	static const struct crs_opts crs_opts__##suite##__##name = {         \
		__VA_ARGS__};                                                \
	static struct crs_test crs_test__##suite##__##name = {#suite, #name, \
	    __FILE__, __LINE__, crs_fn__##suite##__##name,                   \
	    &crs_opts__##suite##__##name, NULL};                             \
	__attribute__((constructor)) static void                             \
	crs_reg__##suite##__##name(void)                                     \
	{                                                                    \
		crs_register_test(&crs_test__##suite##__##name);             \
	}                                                                    \
	static void crs_fn__##suite##__##name(void)

#define TestSuite(...) CRS_SUITE_(__VA_ARGS__, .crs_pad_ = 0)
#define CRS_SUITE_(suite, ...)                                               \
	static const struct crs_opts crs_sopts__##suite = {__VA_ARGS__};     \
	static struct crs_suite      crs_suite__##suite = {                  \
            #suite, &crs_sopts__##suite, NULL};                          \
	__attribute__((constructor)) static void crs_sreg__##suite(void)     \
	{                                                                    \
		crs_register_suite(&crs_suite__##suite);                     \
	}                                                                    \
	struct crs_suite_end__##suite /* swallows the caller's ';' */

/* ----------------------------------------------------- runtime support */

/* Formats the optional message (malloc'd; NULL if out of memory). */
char *crs_format_(const char *fmt, ...) CRS_PRINTF_(1, 2);
/* Notes the assertion about to be checked (shown if the test crashes). */
void crs_mark_(const char *file, int line);
/* A failed assertion: prints msg (freed) or else the default message,
 * deffmt formatted with the arguments after it, where @1, @2 and @3 stand
 * for the operands as written (text is the assertion's argument list as
 * written).  The fatal form ends the test. */
_Noreturn void crs_fail_fatal_(const char *file, int line, char *msg,
    const char *text, const char *deffmt, ...) CRS_PRINTF_(5, 6);
void crs_fail_soft_(const char *file, int line, char *msg, const char *text,
    const char *deffmt, ...) CRS_PRINTF_(5, 6);
_Noreturn void crs_skip_(const char *file, int line, char *msg);
/* For the string forms: -2 when a or b is NULL (the assertion fails),
 * otherwise the sign of strcmp(a, b). */
int crs_strcmp_(const char *a, const char *b);

enum crs_log_level { CRS_LOG_INFO, CRS_LOG_WARN, CRS_LOG_ERROR };
void crs_log_(enum crs_log_level lvl, const char *fmt, ...) CRS_PRINTF_(2, 3);

/* ----------------------------------------------- preprocessor helpers */

#define CRS_CAT(a, b)  CRS_CAT_(a, b)
#define CRS_CAT_(a, b) a##b

/* The first, second and third argument of a list. */
#define CRS_A1(...)            CRS_A1_(__VA_ARGS__, ~)
#define CRS_A1_(a, ...)        a
#define CRS_A2(...)            CRS_A2_(__VA_ARGS__, ~, ~)
#define CRS_A2_(a, b, ...)     b
#define CRS_A3(...)            CRS_A3_(__VA_ARGS__, ~, ~, ~)
#define CRS_A3_(a, b, c, ...)  c

/* The list without its first k arguments (only used when it has more). */
#define CRS_DROP_1(a, ...)       __VA_ARGS__
#define CRS_DROP_2(a, b, ...)    __VA_ARGS__
#define CRS_DROP_3(a, b, c, ...) __VA_ARGS__

/* CRS_HAS_TAIL_k(list): 1 if the list has more than k arguments, else 0
 * (for lists of up to 63 arguments). */
#define CRS_PICK64(...) CRS_PICK64_(__VA_ARGS__)
#define CRS_PICK64_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, \
    _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, _25, _26, _27,   \
    _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38, _39, _40, _41,   \
    _42, _43, _44, _45, _46, _47, _48, _49, _50, _51, _52, _53, _54, _55,   \
    _56, _57, _58, _59, _60, _61, _62, _63, x, ...)                         \
	x
#define CRS_ONES_10 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
#define CRS_ONES_60                                                     \
	CRS_ONES_10, CRS_ONES_10, CRS_ONES_10, CRS_ONES_10, CRS_ONES_10, \
	    CRS_ONES_10
#define CRS_HAS_TAIL_1(...) CRS_PICK64(__VA_ARGS__, CRS_ONES_60, 1, 1, 0, ~)
#define CRS_HAS_TAIL_2(...) CRS_PICK64(__VA_ARGS__, CRS_ONES_60, 1, 0, 0, ~)
#define CRS_HAS_TAIL_3(...) CRS_PICK64(__VA_ARGS__, CRS_ONES_60, 0, 0, 0, ~)

/* CRS_MSG(k, list): the message made of the arguments after the first k,
 * or a null pointer if there are none. */
#define CRS_MSG(k, ...) \
	CRS_CAT(CRS_MSG_, CRS_HAS_TAIL_##k(__VA_ARGS__))(k, __VA_ARGS__)
#define CRS_MSG_0(k, ...) ((char *) 0)
#define CRS_MSG_1(k, ...) crs_format_(CRS_DROP_##k(__VA_ARGS__))

/* CRS_MSG0(list): the same for a list that may be empty. */
#define CRS_COMMA_()       ,
#define CRS_IS_EMPTY(a)    CRS_A2(CRS_COMMA_ a() 1, 0)
#define CRS_MSG0(...)      CRS_MSG0_(CRS_IS_EMPTY(CRS_A1(__VA_ARGS__)), __VA_ARGS__)
#define CRS_MSG0_(e, ...)  CRS_CAT(CRS_MSG0_E, e)(__VA_ARGS__)
#define CRS_MSG0_E1(...)   ((char *) 0)
#define CRS_MSG0_E0(...)   crs_format_(__VA_ARGS__)

/* One check.  how: fatal_ or soft_; k: operand count; args: the
 * assertion's arguments in parentheses; text: the same as written; then
 * the default message format and its arguments. */
#define CRS_CHECK_(how, k, args, text, cond, ...)                         \
	do {                                                              \
		crs_mark_(__FILE__, __LINE__);                            \
		if (!(cond)) {                                            \
			CRS_CAT(crs_fail_, how)                           \
			(__FILE__, __LINE__, CRS_MSG(k, CRS_UNPAREN_ args), \
			    text, __VA_ARGS__);                           \
		}                                                         \
	} while (0)
#define CRS_UNPAREN_(...) __VA_ARGS__

/* ---------------------------------------------------- the assertions */

#define CRS_TRUE_(how, text, ...)                                       \
	CRS_CHECK_(how, 1, (__VA_ARGS__), text, CRS_A1(__VA_ARGS__),    \
	    "The expression @1 is false.")
#define CRS_NOT_(how, text, ...)                                        \
	CRS_CHECK_(how, 1, (__VA_ARGS__), text, !(CRS_A1(__VA_ARGS__)), \
	    "The expression !(@1) is false.")
#define CRS_OP_(how, op, text, ...)                                     \
	CRS_CHECK_(how, 2, (__VA_ARGS__), text,                         \
	    (CRS_A1(__VA_ARGS__)) op(CRS_A2(__VA_ARGS__)),              \
	    "The expression (@1) " #op " (@2) is false.")
#define CRS_NULL_(how, text, ...)                                       \
	CRS_CHECK_(how, 1, (__VA_ARGS__), text,                         \
	    (CRS_A1(__VA_ARGS__)) == NULL, "@1 is not null.")
#define CRS_NOT_NULL_(how, text, ...)                                   \
	CRS_CHECK_(how, 1, (__VA_ARGS__), text,                         \
	    (CRS_A1(__VA_ARGS__)) != NULL, "@1 is null.")
/* The strings are evaluated once, into locals, to be shown on failure. */
#define CRS_STR_(how, op, text, ...)                                         \
	do {                                                                 \
		const char *crs_a_ = (CRS_A1(__VA_ARGS__));                  \
		const char *crs_b_ = (CRS_A2(__VA_ARGS__));                  \
		int         crs_c_ = crs_strcmp_(crs_a_, crs_b_);            \
		CRS_CHECK_(how, 2, (__VA_ARGS__), text,                      \
		    crs_c_ != -2 && crs_c_ op 0,                             \
		    "The expression (as strings) (@1) " #op " (@2) is "     \
		    "false: actual=`%s` expected=`%s`.",                     \
		    crs_a_ ? crs_a_ : "(null)", crs_b_ ? crs_b_ : "(null)"); \
	} while (0)
#define CRS_STR_EMPTY_(how, want, text, ...)                                \
	do {                                                                \
		const char *crs_a_ = (CRS_A1(__VA_ARGS__));                 \
		CRS_CHECK_(how, 1, (__VA_ARGS__), text,                     \
		    crs_a_ != NULL && (crs_a_[0] == '\0') == (want),        \
		    "@1 (`%s`) is %s.", crs_a_ ? crs_a_ : "(null)",         \
		    crs_a_ == NULL ? "null" : (want) ? "not empty" : "empty"); \
	} while (0)
#define CRS_ARR_(how, op, text, ...)                                         \
	CRS_CHECK_(how, 3, (__VA_ARGS__), text,                              \
	    memcmp((CRS_A1(__VA_ARGS__)), (CRS_A2(__VA_ARGS__)),             \
		(CRS_A3(__VA_ARGS__))) op 0,                                 \
	    "The expression (@1)[0..@3] " #op " (@2)[0..@3] is false.")
#define CRS_FAIL_(how, ...)                                             \
	do {                                                            \
		crs_mark_(__FILE__, __LINE__);                          \
		CRS_CAT(crs_fail_, how)                                 \
		(__FILE__, __LINE__, CRS_MSG0(__VA_ARGS__), "",         \
		    "The conditions for this assertion were not met."); \
	} while (0)

#define cr_assert(...)            CRS_TRUE_(fatal_, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_not(...)        CRS_NOT_(fatal_, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_eq(...)         CRS_OP_(fatal_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_neq(...)        CRS_OP_(fatal_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_lt(...)         CRS_OP_(fatal_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_leq(...)        CRS_OP_(fatal_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_gt(...)         CRS_OP_(fatal_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_geq(...)        CRS_OP_(fatal_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_null(...)       CRS_NULL_(fatal_, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_not_null(...)   CRS_NOT_NULL_(fatal_, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_eq(...)     CRS_STR_(fatal_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_neq(...)    CRS_STR_(fatal_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_lt(...)     CRS_STR_(fatal_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_leq(...)    CRS_STR_(fatal_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_gt(...)     CRS_STR_(fatal_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_geq(...)    CRS_STR_(fatal_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_empty(...)  CRS_STR_EMPTY_(fatal_, 1, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_str_not_empty(...) CRS_STR_EMPTY_(fatal_, 0, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_arr_eq(...)     CRS_ARR_(fatal_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_arr_neq(...)    CRS_ARR_(fatal_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_assert_fail(...)       CRS_FAIL_(fatal_, __VA_ARGS__)

#define cr_expect(...)            CRS_TRUE_(soft_, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_not(...)        CRS_NOT_(soft_, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_eq(...)         CRS_OP_(soft_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_neq(...)        CRS_OP_(soft_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_lt(...)         CRS_OP_(soft_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_leq(...)        CRS_OP_(soft_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_gt(...)         CRS_OP_(soft_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_geq(...)        CRS_OP_(soft_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_null(...)       CRS_NULL_(soft_, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_not_null(...)   CRS_NOT_NULL_(soft_, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_eq(...)     CRS_STR_(soft_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_neq(...)    CRS_STR_(soft_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_lt(...)     CRS_STR_(soft_, <, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_leq(...)    CRS_STR_(soft_, <=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_gt(...)     CRS_STR_(soft_, >, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_geq(...)    CRS_STR_(soft_, >=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_empty(...)  CRS_STR_EMPTY_(soft_, 1, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_str_not_empty(...) CRS_STR_EMPTY_(soft_, 0, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_arr_eq(...)     CRS_ARR_(soft_, ==, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_arr_neq(...)    CRS_ARR_(soft_, !=, #__VA_ARGS__, __VA_ARGS__)
#define cr_expect_fail(...)       CRS_FAIL_(soft_, __VA_ARGS__)

#define cr_skip_test(...) crs_skip_(__FILE__, __LINE__, CRS_MSG0(__VA_ARGS__))

#define cr_log_info(...)  crs_log_(CRS_LOG_INFO, __VA_ARGS__)
#define cr_log_warn(...)  crs_log_(CRS_LOG_WARN, __VA_ARGS__)
#define cr_log_error(...) crs_log_(CRS_LOG_ERROR, __VA_ARGS__)

#endif
