#!/usr/bin/env python3
"""Compiles what the man pages show, as a reader would copy it.

For every man/*.adoc page with a SYNOPSIS listing, two C files are made and
compiled as C11 with -pedantic-errors -Werror:

  decl.c   the listing itself, its own #include lines first.  A function the
           page declares with other parameter or return types than the
           header is then a conflicting redeclaration (an error), and so is
           a #define with another value.  Struct, union and enum
           definitions cannot be repeated in C, so each is turned into
           checks instead: every member shown has the type shown, in the
           order shown (a page may leave members out), every enumerator
           shown has the value shown, and a tag or typedef name shown
           names that type.
  names.c  only the listing's #include lines, then a use of every function
           and macro the listing declares: each must come from the headers
           the page tells the reader to include, not from the page.

Every listing of an EXAMPLE or EXAMPLES section that is a whole program
(it defines main) is compiled and linked against the library.

usage: check.py --cc CC --include DIR --man DIR --lib LIBRARY
           [--flags "EXTRA FLAGS"] [--keep DIR]
Exits 0 when all compile; otherwise names each page and shows the
compiler's complaint.
"""
import argparse
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

CFLAGS = ["-std=c11", "-pedantic-errors", "-Wall", "-Wextra", "-Werror",
          "-Wstrict-prototypes", "-Wno-unused-function"]

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def section_listings(text, titles):
    """The [source, c] listings of the sections whose title is in titles,
    each as (first line number, text)."""
    out = []
    lines = text.split("\n")
    in_section = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("== "):
            in_section = line[3:].strip() in titles
        elif in_section and re.match(r"^\[source,\s*c\]$", line.strip()):
            if i + 1 < len(lines) and lines[i + 1] == "----":
                j = i + 2
                while j < len(lines) and lines[j] != "----":
                    j += 1
                out.append((i + 3, "\n".join(lines[i + 2:j]) + "\n"))
                i = j
        i += 1
    return out


def strip_comments(src):
    """Comments become blanks; line breaks stay, so line numbers hold."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    return re.sub(r"/\*.*?\*/|//[^\n]*", blank, src, flags=re.S)


def split_listing(src):
    """Splits a listing into (directives, statements): the preprocessor
    lines, and the top-level declarations ending in ';' (braces nest), each
    with the listing's line (from 0) where it starts."""
    directives = []
    body = []
    for line in src.split("\n"):
        if line.lstrip().startswith("#"):
            directives.append(line.strip())
            body.append("")
        else:
            body.append(line)
    statements = []
    cur = ""
    depth = 0
    line = start = 0
    for ch in "\n".join(body):
        if not cur.strip():
            start = line
        cur += ch
        if ch == "\n":
            line += 1
        elif ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == ";" and depth == 0:
            statements.append((start, cur.strip()))
            cur = ""
    if cur.strip():
        statements.append((start, cur.strip()))
    return directives, statements


def declared_function(stmt):
    """The name of the function a non-typedef declaration declares, or
    None: the identifier just before the first '(' at paren depth 0."""
    if stmt.startswith("typedef") or "{" in stmt:
        return None
    m = re.match(r"^(.*?)\(", stmt, flags=re.S)
    if m is None:
        return None
    names = IDENT.findall(m.group(1))
    return names[-1] if names else None


def member_name(decl):
    """The name a member declarator declares: the identifier after '(*' for
    a function pointer, else the last identifier before any '['."""
    m = re.search(r"\(\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)", decl)
    if m:
        return m.group(1)
    names = IDENT.findall(decl.split("[", 1)[0])
    return names[-1] if names else None


class Checks:
    """C text checking a shown struct/union/enum definition against the
    one the headers have."""

    def __init__(self):
        self.n = 0

    def fresh(self, what):
        self.n += 1
        return "man_check_%s_%d" % (what, self.n)

    def definition(self, stmt):
        m = re.match(r"^(typedef\s+)?(struct|union|enum)\s*"
                     r"([A-Za-z_][A-Za-z0-9_]*)?\s*\{(.*)\}\s*"
                     r"([A-Za-z_][A-Za-z0-9_\s,]*)?;$", stmt, flags=re.S)
        if m is None:
            return None
        is_typedef, kind, tag, body, names = m.groups()
        # "} a, b;" typedefs both names (nng's sockaddr_path and _ipc).
        names = [n for n in re.split(r"[\s,]+", names or "") if n]
        if not tag and not names:
            # Only an enum may be shown without a name: nng's init
            # parameters are an unnamed enum of constants.
            return "\n".join(self.enumerators(body)) if kind == "enum" else None
        out = []
        ctype = "%s %s" % (kind, tag) if tag else names[0]
        if is_typedef:
            # C11 allows a typedef again when it names the same type.
            out.extend("typedef %s %s;" % (ctype, n)
                       for n in names if n != ctype)
        if kind == "enum":
            out.extend(self.enumerators(body))
            if tag:
                out.append("typedef %s %s;" % (ctype, self.fresh("tag")))
            for n in names:
                out.append("typedef %s %s;" % (n, self.fresh("name")))
        else:
            out.append(self.members(ctype, kind, body))
        return "\n".join(out)

    def enumerators(self, body):
        out = []
        prev = None
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                name, value = [s.strip() for s in item.split("=", 1)]
            else:
                name = item
                value = "(%s) + 1" % prev if prev is not None else "0"
            out.append('_Static_assert((%s) == (%s), "%s is %s");'
                       % (name, value, name, value.replace('"', "'")))
            prev = name
        return out

    def members(self, ctype, kind, body):
        fn = self.fresh("members")
        lines = ["void %s(%s *s);" % (fn, ctype),
                 "void %s(%s *s)" % (fn, ctype), "{"]
        shown = []
        for decl in body.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            name = member_name(decl)
            if name is None:
                continue
            shown.append(name)
            ptr = "p_" + name
            # The member's declarator with its name made a pointer to it:
            # assigning the member's address to it fails unless the types
            # are the same.
            as_ptr = re.sub(r"\b%s\b" % name, "(*%s)" % ptr, decl, count=1)
            lines.append("\t%s = &s->%s;" % (as_ptr, name))
            lines.append("\t(void) %s;" % ptr)
        lines.append("}")
        if kind == "struct":
            for a, b in zip(shown, shown[1:]):
                lines.append('_Static_assert(offsetof(%s, %s) < offsetof(%s, %s),'
                             ' "%s comes before %s");'
                             % (ctype, a, ctype, b, a, b))
        return "\n".join(lines)


def synopsis_files(page_rel, first_line, listing):
    """The texts of decl.c and names.c for one SYNOPSIS listing."""
    directives, statements = split_listing(strip_comments(listing))
    includes = [d for d in directives if re.match(r"#\s*include\b", d)]
    macros = [re.match(r"#\s*define\s+([A-Za-z_][A-Za-z0-9_]*)", d).group(1)
              for d in directives if re.match(r"#\s*define\b", d)]
    checks = Checks()
    decl = ["#include <stddef.h>"]
    decl += includes
    decl.append('#line %d "%s"' % (first_line, page_rel))
    for d in directives:
        if d not in includes:
            decl.append(d)
    functions = []
    for offset, stmt in statements:
        # Each piece says where the page has it, for the compiler's messages.
        decl.append('#line %d "%s"' % (first_line + offset, page_rel))
        if "{" in stmt:
            text = checks.definition(stmt)
            if text is None:
                text = stmt  # let the compiler say what is wrong
            decl.append(text)
        else:
            decl.append(stmt)
            fn = declared_function(stmt)
            if fn:
                functions.append(fn)
    names = list(includes)
    names.append('#line %d "%s"' % (first_line, page_rel))
    for mac in macros:
        names.append("#ifndef %s" % mac)
        names.append('#error "%s: not defined by the headers the page '
                     'includes"' % mac)
        names.append("#endif")
    names.append("void man_check_names(void);")
    names.append("void man_check_names(void)")
    names.append("{")
    for fn in functions:
        names.append("\t(void) &%s;" % fn)
    names.append("}")
    return "\n".join(decl) + "\n", "\n".join(names) + "\n"


def compile_c(cc, args):
    r = subprocess.run(cc + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode == 0, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--man", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--flags", default="")
    ap.add_argument("--keep")
    opt = ap.parse_args()

    cc = shlex.split(opt.cc)
    extra = shlex.split(opt.flags)
    work = opt.keep or tempfile.mkdtemp(prefix="man-synopsis.")
    os.makedirs(work, exist_ok=True)
    top = os.path.dirname(os.path.abspath(opt.man))
    failures = []
    n_syn = n_ex = 0

    for page in sorted(glob.glob(os.path.join(opt.man, "*.adoc"))):
        base = os.path.basename(page)[:-len(".adoc")]
        rel = os.path.relpath(page, top)
        with open(page, encoding="utf-8") as f:
            text = f.read()
        for first, listing in section_listings(text, ("SYNOPSIS",)):
            decl, names = synopsis_files(rel, first, listing)
            for kind, src in (("decl", decl), ("names", names)):
                path = os.path.join(work, "%s.%s.c" % (base, kind))
                with open(path, "w", encoding="utf-8") as f:
                    f.write(src)
                ok, msg = compile_c(cc, CFLAGS + extra + [
                    "-I", opt.include, "-fsyntax-only", path])
                if not ok:
                    failures.append("%s: SYNOPSIS (%s.c, %s):\n%s"
                                    % (rel, kind, path, msg))
            n_syn += 1
        for i, (first, listing) in enumerate(
                section_listings(text, ("EXAMPLE", "EXAMPLES"))):
            if not re.search(r"^int\s*\n?\s*main\s*\(", listing, flags=re.M):
                continue
            path = os.path.join(work, "%s.example%d.c" % (base, i + 1))
            with open(path, "w", encoding="utf-8") as f:
                f.write('#line %d "%s"\n' % (first, rel) + listing)
            ok, msg = compile_c(cc, CFLAGS + extra + [
                "-I", opt.include, "-o", path[:-2], path, opt.lib,
                "-pthread"])
            if not ok:
                failures.append("%s: EXAMPLE listing %d (%s):\n%s"
                                % (rel, i + 1, path, msg))
            n_ex += 1

    for f in failures:
        print("man_synopsis: FAILED: " + f, file=sys.stderr)
    print("man_synopsis: %d SYNOPSIS listings, %d whole-program EXAMPLE "
          "listings, %d failed" % (n_syn, n_ex, len(failures)))
    if not opt.keep and not failures:
        subprocess.run(["rm", "-rf", work])
    return 1 if failures or n_syn == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
