#!/usr/bin/env python3
"""Shows that check.py catches what it is there to catch: each page below
has one mistake a reader would trip over, and check.py must fail on it
alone; the last page is right, and must pass.

usage: selftest.py --cc CC --include DIR --lib LIBRARY [--flags "FLAGS"]
"""
import argparse
import os
import subprocess
import sys
import tempfile

HEAD = "= %s(3)\n\n== NAME\n\n%s - test\n\n== SYNOPSIS\n\n[source, c]\n----\n"
TAIL = "----\n\n== DESCRIPTION\n\nText.\n"

# (page name, why it must fail, SYNOPSIS listing, EXAMPLE listing or None).
# The compiler must put its error on the page itself (man/nghttpw_NAME.adoc:),
# or, for a link error, name the missing function: a failure of the harness
# does not count.
BROKEN = [
    ("param_type", "a parameter of another type",
     "#include <nghttpw/nghttpw.h>\n\n"
     "int nghttpw_aio_alloc(nghttpw_aio **aiop, void (*callb)(void *), int arg);\n",
     None),
    ("return_type", "another return type",
     "#include <nghttpw/nghttpw.h>\n\n"
     "void nghttpw_aio_alloc(nghttpw_aio **aiop, void (*callb)(void *), void *arg);\n",
     None),
    ("no_prototype", "no parameter list",
     "#include <nghttpw/nghttpw.h>\n\nint nghttpw_aio_alloc();\n", None),
    ("not_in_header", "a function no header declares",
     "#include <nghttpw/nghttpw.h>\n\nint nghttpw_aio_frobnicate(nghttpw_aio *aio);\n",
     None),
    ("wrong_include", "a function of a header the page does not include",
     "#include <nghttpw/nghttpw.h>\n\n"
     "void nghttpw_tls_config_free(nghttpw_tls_config *cfg);\n", None),
    ("macro_value", "a macro with another value",
     "#include <nghttpw/nghttpw.h>\n#include <nghttpw/http.h>\n\n"
     "#define NGHTTPW_HTTP_MAX_HEADERS_DEFAULT 99u\n", None),
    ("macro_missing", "a macro no header defines",
     "#include <nghttpw/nghttpw.h>\n\n#define NGHTTPW_NOT_A_MACRO 1\n", None),
    ("enum_value", "an enumerator with another value",
     "#include <nghttpw/nghttpw.h>\n#include <nghttpw/tls.h>\n\n"
     "typedef enum nghttpw_tls_auth_mode {\n"
     "    NGHTTPW_TLS_AUTH_MODE_NONE     = 0,\n"
     "    NGHTTPW_TLS_AUTH_MODE_REQUIRED = 7,\n"
     "} nghttpw_tls_auth_mode;\n", None),
    ("unnamed_enum_value", "an unnamed enum whose next value is another",
     "#include <nghttpw/nghttpw.h>\n\n"
     "enum {\n    NGHTTPW_INIT_PARAMETER_NONE = 0,\n"
     "    NGHTTPW_INIT_NUM_POLLER_THREADS,\n};\n", None),
    ("second_typedef", "a second typedef name for another type",
     "#include <nghttpw/nghttpw.h>\n\n"
     "typedef struct nghttpw_sockaddr_path {\n    uint16_t sa_family;\n"
     "} nghttpw_sockaddr_path, nghttpw_sockaddr_in;\n", None),
    ("member_type", "a member of another type",
     "#include <nghttpw/nghttpw.h>\n\n"
     "typedef struct nghttpw_iov {\n    void  *iov_buf;\n    int    iov_len;\n"
     "} nghttpw_iov;\n", None),
    ("member_order", "members in another order",
     "#include <nghttpw/nghttpw.h>\n\n"
     "typedef struct nghttpw_iov {\n    size_t iov_len;\n    void  *iov_buf;\n"
     "} nghttpw_iov;\n", None),
    ("member_missing", "a member the type does not have",
     "#include <nghttpw/nghttpw.h>\n\n"
     "typedef struct nghttpw_iov {\n    void  *iov_buf;\n    size_t iov_size;\n"
     "} nghttpw_iov;\n", None),
    ("example_link", "an example program calling a function that is not there",
     "#include <nghttpw/nghttpw.h>\n\nvoid nghttpw_fini(void);\n",
     "#include <nghttpw/nghttpw.h>\n\nvoid nghttpw_not_there(void);\n\nint\n"
     "main(void)\n{\n\tnghttpw_not_there();\n\treturn (0);\n}\n"),
    ("example_args", "an example program calling with wrong arguments",
     "#include <nghttpw/nghttpw.h>\n\nvoid nghttpw_fini(void);\n",
     "#include <nghttpw/nghttpw.h>\n\nint\nmain(void)\n{\n"
     "\tnghttpw_fini(1);\n\treturn (0);\n}\n"),
]

GOOD = ("good", "",
        "#include <nghttpw/nghttpw.h>\n#include <nghttpw/http.h>\n\n"
        "typedef struct nghttpw_aio nghttpw_aio;\n\n"
        "enum {\n    NGHTTPW_INIT_PARAMETER_NONE = 0,\n"
        "    NGHTTPW_INIT_NUM_TASK_THREADS,\n};\n\n"
        "typedef struct nghttpw_sockaddr_path {\n    uint16_t sa_family;\n"
        "} nghttpw_sockaddr_path, nghttpw_sockaddr_ipc;\n\n"
        "#define NGHTTPW_HTTP_MAX_HEADERS_DEFAULT 100u\n\n"
        "typedef struct nghttpw_iov {\n    void  *iov_buf; /* shown */\n"
        "    size_t iov_len;\n} nghttpw_iov;\n\n"
        "int nghttpw_aio_alloc(nghttpw_aio **aiop, void (*cb)(void *), void *);\n",
        "#include <nghttpw/nghttpw.h>\n\nint\nmain(void)\n{\n"
        "\tnghttpw_fini();\n\treturn (0);\n}\n")


def page_text(name, synopsis, example):
    text = HEAD % ("nghttpw_" + name, "nghttpw_" + name) + synopsis + TAIL
    if example is not None:
        text += "\n== EXAMPLE\n\n[source, c]\n----\n" + example + "----\n"
    return text


def run(opt, case):
    name, _, synopsis, example = case
    with tempfile.TemporaryDirectory() as tmp:
        man = os.path.join(tmp, "man")
        os.mkdir(man)
        with open(os.path.join(man, "nghttpw_%s.adoc" % name), "w") as f:
            f.write(page_text(name, synopsis, example))
        r = subprocess.run([sys.executable, opt.check, "--cc", opt.cc,
                            "--include", opt.include, "--man", man,
                            "--lib", opt.lib, "--flags", opt.flags],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        return r.returncode, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--flags", default="")
    opt = ap.parse_args()
    opt.check = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "check.py")
    bad = 0
    for case in BROKEN:
        rc, out = run(opt, case)
        where = "man/nghttpw_%s.adoc:" % case[0]
        if case[0] == "example_link":
            where = "nghttpw_not_there"
        if rc == 0:
            print("selftest: FAILED: a page with %s passed" % case[1])
            bad += 1
        elif where not in out:
            print("selftest: FAILED: a page with %s failed, but not on "
                  "the page:\n%s" % (case[1], out))
            bad += 1
        else:
            print("selftest: a page with %s fails, as it must" % case[1])
    rc, out = run(opt, GOOD)
    if rc != 0:
        print("selftest: FAILED: a right page did not pass:\n" + out)
        bad += 1
    else:
        print("selftest: a right page passes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
