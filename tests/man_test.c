/*
 * Checks that the manual keeps up with the public headers.
 *
 * Every function declared with NGHTTPW_DECL in a header of include/nghttpw/
 * must have a page man/<function>.adoc; the page must have the six sections
 * of a function page, and the prototype in its SYNOPSIS must have the same
 * return type and parameter types as the header (parameter names and
 * spacing may differ).  Every page's title must name its file.
 *
 * The tree checked is NGHTTPW_SOURCE_DIR, or the directory named by the
 * environment variable NGHTTPW_MAN_CHECK_ROOT when that is set (used to
 * prove that the checks fail on a broken copy of the tree).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#ifndef NGHTTPW_SOURCE_DIR
#define NGHTTPW_SOURCE_DIR "."
#endif

/* ------------------------------------------------------------------ */
/* Small helpers. */

typedef struct {
	char  *s;
	size_t len;
	size_t cap;
} sbuf;

static void
sb_putn(sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (b->len + n + 1 > cap) {
			cap *= 2;
		}
		b->s = realloc(b->s, cap);
		cr_assert_not_null(b->s, "out of memory");
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
sb_puts(sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static char *
sb_take(sbuf *b)
{
	if (b->s == NULL) {
		sb_putn(b, "", 0);
	}
	char *s = b->s;
	b->s    = NULL;
	b->len = b->cap = 0;
	return (s);
}

static char *
xstrndup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	cr_assert_not_null(d, "out of memory");
	memcpy(d, s, n);
	d[n] = '\0';
	return (d);
}

static const char *
check_root(void)
{
	const char *r = getenv("NGHTTPW_MAN_CHECK_ROOT");
	return ((r != NULL && *r != '\0') ? r : NGHTTPW_SOURCE_DIR);
}

/* Reads a whole file; NULL when it cannot be opened. */
static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return (NULL);
	}
	sbuf b = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		sb_putn(&b, chunk, n);
	}
	fclose(f);
	return (sb_take(&b));
}

static bool
file_exists(const char *path)
{
	struct stat st;
	return (stat(path, &st) == 0 && S_ISREG(st.st_mode));
}

static bool
is_ident_start(int c)
{
	return (isalpha((unsigned char) c) || c == '_');
}

static bool
is_ident_char(int c)
{
	return (isalnum((unsigned char) c) || c == '_');
}

/* ------------------------------------------------------------------ */
/* C text: comments and preprocessor lines are blanked out. */

static char *
strip_c(const char *src)
{
	sbuf        b   = { 0 };
	const char *p   = src;
	bool        bol = true; /* only blanks since the start of the line */

	while (*p != '\0') {
		if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p             = (e != NULL) ? e + 2 : p + strlen(p);
			sb_puts(&b, " ");
			continue;
		}
		if (p[0] == '/' && p[1] == '/') {
			while (*p != '\0' && *p != '\n') {
				p++;
			}
			continue;
		}
		if (bol && *p == '#') {
			/* A directive, with its backslash continuations. */
			while (*p != '\0' && *p != '\n') {
				if (p[0] == '\\' && p[1] == '\n') {
					p++;
				}
				p++;
			}
			continue;
		}
		if (*p == '"' || *p == '\'') {
			char q = *p;
			sb_putn(&b, p++, 1);
			while (*p != '\0' && *p != q) {
				if (*p == '\\' && p[1] != '\0') {
					sb_putn(&b, p++, 1);
				}
				sb_putn(&b, p++, 1);
			}
			if (*p != '\0') {
				sb_putn(&b, p++, 1);
			}
			bol = false;
			continue;
		}
		if (*p == '\n') {
			bol = true;
		} else if (!isspace((unsigned char) *p)) {
			bol = false;
		}
		sb_putn(&b, p++, 1);
	}
	return (sb_take(&b));
}

/* Collapses every run of white space to one blank and trims the ends. */
static char *
collapse_ws(const char *s, size_t n)
{
	sbuf b     = { 0 };
	bool space = false;
	for (size_t i = 0; i < n; i++) {
		if (isspace((unsigned char) s[i])) {
			space = true;
			continue;
		}
		if (space && b.len > 0) {
			sb_puts(&b, " ");
		}
		space = false;
		sb_putn(&b, &s[i], 1);
	}
	return (sb_take(&b));
}

/* ------------------------------------------------------------------ */
/* Tokens of a declaration. */

#define MAX_TOKS 256

typedef struct {
	const char *p;
	size_t      n;
} tok;

static int
tokenize(const char *s, size_t n, tok *toks, int max)
{
	int         nt = 0;
	const char *e  = s + n;
	while (s < e) {
		if (isspace((unsigned char) *s)) {
			s++;
			continue;
		}
		const char *start = s;
		if (is_ident_char(*s)) {
			while (s < e && is_ident_char(*s)) {
				s++;
			}
		} else if (e - s >= 3 && strncmp(s, "...", 3) == 0) {
			s += 3;
		} else {
			s++;
		}
		cr_assert(nt < max, "declaration too long: %.*s", (int) n, start);
		toks[nt].p = start;
		toks[nt].n = (size_t) (s - start);
		nt++;
	}
	return (nt);
}

static bool
tok_is(const tok *t, const char *s)
{
	return (t->n == strlen(s) && strncmp(t->p, s, t->n) == 0);
}

static bool
tok_in(const tok *t, const char *const *list)
{
	for (int i = 0; list[i] != NULL; i++) {
		if (tok_is(t, list[i])) {
			return (true);
		}
	}
	return (false);
}

static const char *const qualifiers[] = { "const", "volatile", "restrict",
	"_Atomic", "register", NULL };

static const char *const basic_types[] = { "void", "char", "short", "int",
	"long", "float", "double", "signed", "unsigned", "_Bool", "bool",
	"_Complex", NULL };

static const char *const tag_words[] = { "struct", "union", "enum", NULL };

/* Finds the token that closes the parenthesis or bracket at toks[i]. */
static int
matching(const tok *toks, int nt, int i)
{
	char open  = toks[i].p[0];
	char close = (open == '(') ? ')' : ']';
	int  depth = 0;
	for (; i < nt; i++) {
		if (toks[i].n == 1 && toks[i].p[0] == open) {
			depth++;
		} else if (toks[i].n == 1 && toks[i].p[0] == close) {
			if (--depth == 0) {
				return (i);
			}
		}
	}
	return (-1);
}

static void normalize_params(const tok *toks, int nt, sbuf *out);

static void
emit(sbuf *out, const char *s, size_t n)
{
	if (out->len > 0 && out->s[out->len - 1] != '(' &&
	    !(n == 1 && (s[0] == ')' || s[0] == ','))) {
		sb_puts(out, " ");
	}
	sb_putn(out, s, n);
}

/*
 * Writes one parameter's type without its name: "const char *name" gives
 * "const char *", "void (*cb)(void *arg)" gives "void (*) (void *)".
 * The specifiers come first (qualifiers, basic types, one typedef name or
 * a struct/union/enum tag); an identifier that follows a complete type is
 * the name.  In the declarator that follows, every identifier that is not
 * a qualifier is the name, and a parenthesis after the name or after a
 * closing parenthesis opens a parameter list, normalized recursively.
 */
static void
normalize_param(const tok *toks, int nt, sbuf *out)
{
	bool have_type  = false;
	bool name_or_rp = false; /* just after the name or a ')' */
	int  i          = 0;

	/* Specifiers, up to the first punctuation or the name. */
	for (; i < nt && is_ident_start(toks[i].p[0]); i++) {
		if (tok_in(&toks[i], qualifiers)) {
			emit(out, toks[i].p, toks[i].n);
		} else if (tok_in(&toks[i], basic_types)) {
			emit(out, toks[i].p, toks[i].n);
			have_type = true;
		} else if (tok_in(&toks[i], tag_words)) {
			emit(out, toks[i].p, toks[i].n);
			if (i + 1 < nt && is_ident_start(toks[i + 1].p[0])) {
				i++;
				emit(out, toks[i].p, toks[i].n);
			}
			have_type = true;
		} else if (!have_type) {
			emit(out, toks[i].p, toks[i].n); /* typedef name */
			have_type = true;
		} else {
			name_or_rp = true; /* the name: dropped */
			i++;
			break;
		}
	}

	/* Declarator. */
	for (; i < nt; i++) {
		const tok *t = &toks[i];
		if (is_ident_start(t->p[0])) {
			if (tok_in(t, qualifiers)) {
				emit(out, t->p, t->n);
				name_or_rp = false;
			} else {
				name_or_rp = true; /* the name: dropped */
			}
			continue;
		}
		if (tok_is(t, "(") && name_or_rp) {
			int close = matching(toks, nt, i);
			if (close < 0) {
				close = nt; /* unbalanced: take the rest */
			}
			emit(out, "(", 1);
			normalize_params(toks + i + 1, close - i - 1, out);
			emit(out, ")", 1);
			i = close;
			continue; /* still name_or_rp */
		}
		if (tok_is(t, "[")) {
			int close = matching(toks, nt, i);
			if (close < 0) {
				close = nt - 1;
			}
			for (int j = i; j <= close; j++) {
				emit(out, toks[j].p, toks[j].n);
			}
			i          = close;
			name_or_rp = true;
			continue;
		}
		emit(out, t->p, t->n);
		name_or_rp = tok_is(t, ")");
	}
}

/* Writes a comma separated list of parameter types, names removed. */
static void
normalize_params(const tok *toks, int nt, sbuf *out)
{
	int  start = 0;
	int  depth = 0;
	bool first = true;
	for (int i = 0; i <= nt; i++) {
		if (i < nt && toks[i].n == 1 &&
		    (toks[i].p[0] == '(' || toks[i].p[0] == '[')) {
			depth++;
		} else if (i < nt && toks[i].n == 1 &&
		    (toks[i].p[0] == ')' || toks[i].p[0] == ']')) {
			depth--;
		}
		if (i == nt || (depth == 0 && tok_is(&toks[i], ","))) {
			if (i == start && i == nt && first) {
				break; /* empty list: "()" */
			}
			if (!first) {
				emit(out, ",", 1);
			}
			normalize_param(toks + start, i - start, out);
			first = false;
			start = i + 1;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Declarations. */

typedef struct {
	char *name;   /* the function's name */
	char *header; /* the file that declares it */
	char *text;   /* the declaration, white space collapsed */
	char *sig;    /* "return-type | param-types", names removed */
} decl;

typedef struct {
	decl *v;
	int   n;
	int   cap;
} decl_list;

/*
 * Given the text of one declaration (without the final ';'), finds the
 * function's name and writes its normalized signature.  Returns false when
 * the text does not declare a function.
 */
static bool
parse_function(const char *s, size_t n, char **namep, char **sigp)
{
	tok toks[MAX_TOKS];
	int nt    = tokenize(s, n, toks, MAX_TOKS);
	int paren = -1;
	for (int i = 0; i < nt; i++) {
		if (tok_is(&toks[i], "(")) {
			paren = i;
			break;
		}
		if (tok_is(&toks[i], "{") || tok_is(&toks[i], "=")) {
			return (false);
		}
	}
	if (paren < 1 || !is_ident_start(toks[paren - 1].p[0]) ||
	    tok_in(&toks[paren - 1], basic_types) ||
	    tok_in(&toks[paren - 1], qualifiers)) {
		return (false);
	}
	int close = matching(toks, nt, paren);
	if (close < 0) {
		return (false);
	}

	sbuf out = { 0 };
	for (int i = 0; i < paren - 1; i++) {
		emit(&out, toks[i].p, toks[i].n);
	}
	sb_puts(&out, " | ");
	normalize_params(toks + paren + 1, close - paren - 1, &out);
	/* Anything after the parameter list (attributes, say) counts. */
	for (int i = close + 1; i < nt; i++) {
		emit(&out, toks[i].p, toks[i].n);
	}
	*namep = xstrndup(toks[paren - 1].p, toks[paren - 1].n);
	*sigp  = sb_take(&out);
	return (true);
}

static void
decls_add(decl_list *l, decl d)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v   = realloc(l->v, (size_t) l->cap * sizeof(decl));
		cr_assert_not_null(l->v, "out of memory");
	}
	l->v[l->n++] = d;
}

/*
 * Calls fn for every statement of C text (split at ';' outside braces and
 * parentheses).
 */
static void
for_each_statement(const char *text,
    void (*fn)(const char *s, size_t n, void *arg), void *arg)
{
	int         depth = 0;
	const char *start = text;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '{' || *p == '(' || *p == '[') {
			depth++;
		} else if ((*p == '}' || *p == ')' || *p == ']') && depth > 0) {
			depth--;
		} else if (*p == ';' && depth == 0) {
			fn(start, (size_t) (p - start), arg);
			start = p + 1;
		}
	}
}

/*
 * Collects the functions of a header: each NGHTTPW_DECL starts a
 * declaration that runs to the next ';' outside parentheses.
 */
static void
header_scan(const char *text, const char *header, decl_list *list)
{
	const char *kw = "NGHTTPW_DECL";
	size_t      kn = strlen(kw);

	for (const char *p = text; (p = strstr(p, kw)) != NULL; p += kn) {
		if ((p > text && is_ident_char(p[-1])) || is_ident_char(p[kn])) {
			continue;
		}
		const char *d     = p + kn;
		const char *e     = d;
		int         depth = 0;
		for (; *e != '\0' && !(*e == ';' && depth == 0); e++) {
			if (*e == '(') {
				depth++;
			} else if (*e == ')' && depth > 0) {
				depth--;
			}
		}
		char *name, *sig;
		if (parse_function(d, (size_t) (e - d), &name, &sig)) {
			decl x = { name, xstrndup(header, strlen(header)),
				collapse_ws(d, (size_t) (e - d)), sig };
			decls_add(list, x);
		}
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return (strcmp(*(char *const *) a, *(char *const *) b));
}

/* Lists the names in dir ending with suffix, sorted. */
static char **
list_dir(const char *dir, const char *suffix, int *np)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "cannot open directory %s", dir);
	char **v  = NULL;
	int    n  = 0;
	size_t sl = strlen(suffix);
	struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		size_t l = strlen(ent->d_name);
		if (l <= sl || strcmp(ent->d_name + l - sl, suffix) != 0) {
			continue;
		}
		v = realloc(v, (size_t) (n + 1) * sizeof(char *));
		cr_assert_not_null(v, "out of memory");
		v[n++] = xstrndup(ent->d_name, l);
	}
	closedir(d);
	if (n > 0) {
		qsort(v, (size_t) n, sizeof(char *), cmp_str);
	}
	*np = n;
	return (v);
}

static void
free_names(char **v, int n)
{
	for (int i = 0; i < n; i++) {
		free(v[i]);
	}
	free(v);
}

/* Every NGHTTPW_DECL function of every public header. */
static decl_list
header_decls(void)
{
	decl_list l = { 0 };
	char      dir[4096];
	snprintf(dir, sizeof(dir), "%s/include/nghttpw", check_root());
	int    nh;
	char **hs = list_dir(dir, ".h", &nh);
	for (int i = 0; i < nh; i++) {
		char path[4096 + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, hs[i]);
		char *raw = read_file(path);
		cr_assert_not_null(raw, "cannot read %s", path);
		char *text = strip_c(raw);
		header_scan(text, hs[i], &l);
		free(text);
		free(raw);
	}
	free_names(hs, nh);
	return (l);
}

static void
free_decls(decl_list *l)
{
	for (int i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].header);
		free(l->v[i].text);
		free(l->v[i].sig);
	}
	free(l->v);
}

static char *
page_path(const char *name)
{
	char path[4096 + 256];
	snprintf(path, sizeof(path), "%s/man/%s.adoc", check_root(), name);
	return (xstrndup(path, strlen(path)));
}

/* ------------------------------------------------------------------ */
/* Pages. */

/* Returns a copy of the line at p, without its end of line or trailing
 * blanks. */
static char *
line_at(const char *p)
{
	size_t n = strcspn(p, "\r\n");
	while (n > 0 && isspace((unsigned char) p[n - 1])) {
		n--;
	}
	return (xstrndup(p, n));
}

/* Finds a line equal to want (trailing blanks ignored); NULL if none. */
static const char *
find_line(const char *text, const char *want)
{
	for (const char *p = text; p != NULL && *p != '\0';) {
		char *l  = line_at(p);
		bool  eq = strcmp(l, want) == 0;
		free(l);
		if (eq) {
			return (p);
		}
		p = strchr(p, '\n');
		if (p != NULL) {
			p++;
		}
	}
	return (NULL);
}

static const char *
next_line(const char *p)
{
	p = strchr(p, '\n');
	return (p != NULL ? p + 1 : NULL);
}

/*
 * Returns the C text of the first listing block ("----" delimited) of the
 * SYNOPSIS section, or NULL when there is none.
 */
static char *
synopsis_block(const char *page)
{
	const char *p = find_line(page, "== SYNOPSIS");
	if (p == NULL) {
		return (NULL);
	}
	for (p = next_line(p); p != NULL; p = next_line(p)) {
		char *l    = line_at(p);
		bool  sect = strncmp(l, "== ", 3) == 0;
		bool  open = strncmp(l, "----", 4) == 0;
		free(l);
		if (sect) {
			return (NULL);
		}
		if (open) {
			break;
		}
	}
	if (p == NULL || (p = next_line(p)) == NULL) {
		return (NULL);
	}
	sbuf b = { 0 };
	for (; p != NULL; p = next_line(p)) {
		char *l    = line_at(p);
		bool  done = strncmp(l, "----", 4) == 0;
		if (!done) {
			sb_puts(&b, l);
			sb_puts(&b, "\n");
		}
		free(l);
		if (done) {
			return (sb_take(&b));
		}
	}
	free(b.s);
	return (NULL); /* unterminated block */
}

typedef struct {
	const char *name;
	char       *sig;  /* the first matching declaration's signature */
	char       *text; /* and its text */
	int         found;
} page_ctx;

static void
page_statement(const char *s, size_t n, void *arg)
{
	page_ctx *ctx = arg;
	char     *name, *sig;
	if (!parse_function(s, n, &name, &sig)) {
		return;
	}
	if (strcmp(name, ctx->name) == 0 && ctx->found++ == 0) {
		ctx->sig  = sig;
		ctx->text = collapse_ws(s, n);
	} else {
		free(sig);
	}
	free(name);
}

/* The name in a page's title "= name(section)"; NULL when malformed. */
static char *
page_title_name(const char *page)
{
	char *l = line_at(page);
	char *r = NULL;
	char *o = strchr(l, '(');
	if (strncmp(l, "= ", 2) == 0 && o != NULL && l[strlen(l) - 1] == ')') {
		r = collapse_ws(l + 2, (size_t) (o - l - 2));
	}
	free(l);
	return (r);
}

static const char *const sections[] = { "== NAME", "== SYNOPSIS",
	"== DESCRIPTION", "== RETURN VALUES", "== ERRORS", "== SEE ALSO",
	NULL };

/* ------------------------------------------------------------------ */
/* The tests. */

static bool
same_sig(const char *a, const char *b)
{
	char *na, *sa, *nb, *sb;
	bool ok = parse_function(a, strlen(a), &na, &sa) &&
	    parse_function(b, strlen(b), &nb, &sb);
	cr_assert(ok, "not function declarations: '%s', '%s'", a, b);
	bool same = strcmp(sa, sb) == 0;
	free(na);
	free(sa);
	free(nb);
	free(sb);
	return (same);
}

/* The normalizer itself: names go, types stay. */
Test(man, normalizer)
{
	cr_expect(same_sig("int f(const char *name)", "int f(const char*)"));
	cr_expect(same_sig("int f(nghttpw_aio **aiop, void (*cb)(void *arg), "
	                   "void *arg)",
	    "int  f( nghttpw_aio**, void(*)(void*),void * )"));
	cr_expect(same_sig("void f(int a[4], struct x *p, unsigned long n)",
	    "void f(int [4], struct x*, unsigned long)"));
	cr_expect(same_sig("void *f(unsigned i)", "void * f(unsigned)"));
	cr_expect(same_sig("nghttpw_time f(void)", "nghttpw_time f(void)"));
	cr_expect(same_sig("int f(nghttpw_duration d)", "int f(nghttpw_duration)"));
	cr_expect(same_sig("int f(const nghttpw_url *u)",
	    "int f(const nghttpw_url *)"));
	cr_expect(same_sig("int f(char *const *v)", "int f(char * const *)"));
	cr_expect(same_sig("int f(int (*g)(int x, char *y))",
	    "int f(int (*)(int, char *))"));

	cr_expect(!same_sig("int f(const char *)", "int f(char *)"));
	cr_expect(!same_sig("int f(char **)", "int f(char *)"));
	cr_expect(!same_sig("int f(int, int)", "int f(int)"));
	cr_expect(!same_sig("void *f(void)", "void f(void)"));
	cr_expect(!same_sig("int f(size_t n)", "int f(int n)"));
	cr_expect(!same_sig("int f(void (*)(void *))", "int f(void (*)(int))"));
	cr_expect(!same_sig("int f(bool *)", "int f(bool)"));
}

/* The header parser finds what it should, so an empty list cannot pass. */
Test(man, headers_parsed)
{
	decl_list l = header_decls();
	cr_assert(l.n >= 50, "only %d declarations found in the headers", l.n);
	const char *known[] = { "nghttpw_strerror", "nghttpw_aio_alloc",
		"nghttpw_stream_dialer_get_bool", "nghttpw_strfree", NULL };
	for (int k = 0; known[k] != NULL; k++) {
		bool found = false;
		for (int i = 0; i < l.n; i++) {
			found = found || strcmp(l.v[i].name, known[k]) == 0;
		}
		cr_expect(found, "%s not found in the headers", known[k]);
	}
	for (int i = 0; i < l.n; i++) {
		for (int j = i + 1; j < l.n; j++) {
			cr_expect(strcmp(l.v[i].name, l.v[j].name) != 0,
			    "%s is declared twice", l.v[i].name);
		}
	}
	free_decls(&l);
}

Test(man, every_function_has_a_page)
{
	decl_list l = header_decls();
	for (int i = 0; i < l.n; i++) {
		char *path = page_path(l.v[i].name);
		cr_expect(file_exists(path),
		    "%s (declared in %s) has no page man/%s.adoc",
		    l.v[i].name, l.v[i].header, l.v[i].name);
		free(path);
	}
	free_decls(&l);
}

Test(man, function_pages_have_title_and_sections)
{
	decl_list l = header_decls();
	for (int i = 0; i < l.n; i++) {
		char *path = page_path(l.v[i].name);
		char *page = read_file(path);
		free(path);
		if (page == NULL) {
			continue; /* reported by every_function_has_a_page */
		}
		for (int s = 0; sections[s] != NULL; s++) {
			cr_expect(find_line(page, sections[s]) != NULL,
			    "man/%s.adoc lacks the section '%s'", l.v[i].name,
			    sections[s]);
		}
		free(page);
	}
	free_decls(&l);
}

Test(man, titles_match_file_names)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/man", check_root());
	int    n;
	char **pages = list_dir(dir, ".adoc", &n);
	for (int i = 0; i < n; i++) {
		char path[4096 + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, pages[i]);
		char *page = read_file(path);
		cr_assert_not_null(page, "cannot read %s", path);
		char  *title = page_title_name(page);
		size_t base  = strlen(pages[i]) - strlen(".adoc");
		cr_expect(title != NULL &&
		        strlen(title) == base &&
		        strncmp(title, pages[i], base) == 0,
		    "man/%s: the title names '%s', not '%.*s'", pages[i],
		    title != NULL ? title : "(no '= name(section)' title)",
		    (int) base, pages[i]);
		free(title);
		free(page);
	}
	free_names(pages, n);
}

Test(man, synopsis_matches_header)
{
	decl_list l = header_decls();
	for (int i = 0; i < l.n; i++) {
		decl *d    = &l.v[i];
		char *path = page_path(d->name);
		char *page = read_file(path);
		free(path);
		if (page == NULL) {
			continue; /* reported by every_function_has_a_page */
		}
		char *block = synopsis_block(page);
		cr_expect_not_null(block,
		    "man/%s.adoc has no ---- listing in its SYNOPSIS", d->name);
		if (block != NULL) {
			char    *code = strip_c(block);
			page_ctx ctx  = { d->name, NULL, NULL, 0 };
			for_each_statement(code, page_statement, &ctx);
			cr_expect(ctx.found > 0,
			    "man/%s.adoc: the SYNOPSIS does not declare %s()\n"
			    "  header (%s): %s", d->name, d->name, d->header,
			    d->text);
			cr_expect(ctx.found <= 1,
			    "man/%s.adoc: the SYNOPSIS declares %s() %d times",
			    d->name, d->name, ctx.found);
			if (ctx.found > 0) {
				cr_expect(strcmp(ctx.sig, d->sig) == 0,
				    "man/%s.adoc: the SYNOPSIS prototype differs "
				    "from the header\n"
				    "  header (%s): %s\n"
				    "  page:        %s\n"
				    "  normalized:  header '%s' vs page '%s'",
				    d->name, d->header, d->text, ctx.text, d->sig,
				    ctx.sig);
			}
			free(ctx.sig);
			free(ctx.text);
			free(code);
			free(block);
		}
		free(page);
	}
	free_decls(&l);
}
