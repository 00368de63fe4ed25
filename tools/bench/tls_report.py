#!/usr/bin/env python3
"""Turns tools/bench/tls's raw results (metric, cert or operation,
implementation, value per line) into a table of medians with ratios
(--stage table, to stdout) and the TLS section of PERFORMANCE.adoc
(--stage doc): the text between the two markers below is replaced, or
added at the end; the other bench scripts keep it."""
import argparse
import os
import platform
import statistics
import sys
import time
from collections import defaultdict

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from bench_common import pkgver, put, readf, sh  # noqa: E402

BEGIN = "// BEGIN TLS handshakes section: written by tools/bench/tls, kept by the other scripts"
END = "// END TLS handshakes section"

ap = argparse.ArgumentParser()
for a in ("results", "notes", "work", "out", "findings", "stage"):
    ap.add_argument("--" + a)
for a in ("reps", "dur", "quick"):
    ap.add_argument("--" + a, type=int)
args = ap.parse_args()

raw = defaultdict(list)
with open(args.results) as f:
    for line in f:
        p = line.rstrip("\n").split("\t")
        if len(p) == 4:
            try:
                raw[(p[0], p[1], p[2])].append(float(p[3]))
            except ValueError:
                pass


def med(metric, key, impl):
    v = raw.get((metric, key, impl))
    return statistics.median(v) if v else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=0):
    if v is None:
        return "?"
    return f"{v:,.{digits}f}"


def fx(r):
    return "?" if r is None else f"{r:.2f}x"




CERTS = [("ec", "ECDSA P-256"), ("rsa", "RSA-2048")]
MODES = [("full", "full"), ("resumed", "resumed")]

# ------------------------------------------------------------ table rows
rows = []
for cert, cname in CERTS:
    for mode, mname in MODES:
        n = med(f"hs_{mode}_rate", cert, "nghttpw")
        g = med(f"hs_{mode}_rate", cert, "nginx")
        nc = med(f"hs_{mode}_cpu_ms", cert, "nghttpw")
        gc = med(f"hs_{mode}_cpu_ms", cert, "nginx")
        rows.append((cname, mname, n, g, ratio(n, g), nc, gc, ratio(nc, gc)))
ref13 = med("hs_full_rate", "ec", "nginx13")
ref13_cpu = med("hs_full_cpu_ms", "ec", "nginx13")

PRIMS = [("x25519_keygen", "X25519 key pair"), ("x25519_shared", "X25519 shared secret"),
         ("p256_keygen", "P-256 key pair"), ("p256_shared", "P-256 shared secret"),
         ("ecdsa_p256_sign", "ECDSA P-256 signature, key as mbedTLS parses it"),
         ("ecdsa_p256_sign_kept", "ECDSA P-256 signature, kept context (nghttpw)"),
         ("rsa2048_sign", "RSA-2048 signature")]
OSSL = {"ecdsa_p256_sign_kept": "ecdsa_p256_sign"}


def prim(op, impl):
    return med("prim", op, impl)


# The public-key work of one full handshake as our server does it:
# an X25519 key pair and shared secret, and one signature.
def pk_cost(sign_op):
    parts = [prim("x25519_keygen", "mbedtls"), prim("x25519_shared", "mbedtls"),
             prim(sign_op, "mbedtls")]
    return None if None in parts else sum(parts)


pk_ec = pk_cost("ecdsa_p256_sign_kept")
pk_rsa = pk_cost("rsa2048_sign")

if args.stage == "table":
    print(f"{'certificate':<12} {'handshake':<9} {'nghttpw/s':>10} {'nginx/s':>10} {'ratio':>7}"
          f" {'nghttpw ms':>10} {'nginx ms':>9}")
    for cname, mname, n, g, r, nc, gc, _ in rows:
        print(f"{cname:<12} {mname:<9} {fmt(n):>10} {fmt(g):>10} {fx(r):>7}"
              f" {fmt(nc, 3):>10} {fmt(gc, 3):>9}")
    print(f"nginx with TLS 1.3, full ECDSA: {fmt(ref13)}/s, {fmt(ref13_cpu, 3)} ms")
    for op, name in PRIMS:
        m = prim(op, "mbedtls")
        o = prim(OSSL.get(op, op), "openssl")
        print(f"{name:<50} mbedTLS {fmt(m, 3):>7} ms  OpenSSL {fmt(o, 3):>7} ms")
    raise SystemExit(0)

# ------------------------------------------------------------ the section
top = os.path.dirname(os.path.abspath(args.out))
rev = sh(f"git -C {top} rev-parse --short HEAD")
dirty = sh(f"git -C {top} status --porcelain -- src include | head -1")
params = defaultdict(str)
for line in readf(os.path.join(args.work, "params.tsv")).splitlines():
    p = line.split("\t")
    if len(p) == 3:
        params[(p[0], p[1])] = p[2]

D = [BEGIN, "== TLS handshakes", ""]
D.append("Measured by `tools/bench/tls` (see `tools/bench/README.adoc`), which "
         "rewrites this section only; the other bench scripts keep it.")
D.append("")
D.append("[source,sh]\n----\nbash tools/bench/tls" + (" --quick" if args.quick else "") + "\n----")
D.append("")
cpu_model = sh("lscpu | sed -n 's/^Model name: *//p'") or platform.processor()
D.append(f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit "
         f"`{rev}`{' with uncommitted changes' if dirty else ''}; "
         f"{sh('nproc')} CPUs ({cpu_model}), "
         f"Linux {platform.release()}; mbedTLS {pkgver('libmbedtls-dev')}, "
         f"nginx {pkgver('nginx-light')} with OpenSSL {pkgver('openssl')}. "
         f"Medians of {args.reps} runs of {args.dur} s each.")
D.append("")
D.append("Method: each server runs one thread (nginx one worker) pinned to CPU 0; "
         "`openssl s_time` runs on CPU 1 and makes one connection at a time, so a "
         "handshake's rate is what one client sees: the server's time plus the "
         "client's plus the round trips. `-new` makes every connection a full "
         "handshake; `-reuse` resumes the first one's session (by ticket). The "
         "server's CPU time per handshake (user + system, from `/proc/PID/stat`) "
         "is what bounds a busy server. Both servers speak TLS 1.2 with the same "
         "suites and curves, and keep a session cache beside their tickets "
         "(`tools/bench/nginx-tls.conf.in`).")
D.append("")
for cert, cname in CERTS:
    for impl in ("nghttpw", "nginx"):
        if params[(cert, impl)]:
            D.append(f"* {cname}, {impl}: {params[(cert, impl)]}")
if params[("ec", "nginx13")]:
    D.append(f"* ECDSA P-256, nginx with TLS 1.3 on: {params[('ec', 'nginx13')]}")
D.append("")
D.append(".Handshakes per second (one client) and server CPU per handshake")
D.append("[cols=\"2,1,>1,>1,>1,>1,>1,>1\",options=\"header\"]")
D.append("|===\n| certificate | handshake | nghttpw /s | nginx /s | ratio | nghttpw CPU ms | nginx CPU ms | CPU ratio")
for cname, mname, n, g, r, nc, gc, cr in rows:
    D.append(f"| {cname} | {mname} | {fmt(n)} | {fmt(g)} | {fx(r)} | {fmt(nc, 3)} | {fmt(gc, 3)} | {fx(cr)}")
D.append("|===")
D.append("")
if ref13 is not None:
    D.append(f"For reference, nginx with TLS 1.3 on (as Debian's configuration has it) "
             f"negotiates TLS 1.3 with the same client: "
             f"{fmt(ref13)} full ECDSA handshakes/s, {fmt(ref13_cpu, 3)} ms of CPU each.")
    D.append("")

D.append("=== Targets (from issue 18)")
D.append("")
full = rows[0][4]
res = rows[1][4]
for name, v, bound in (("full handshakes, ECDSA, >= 0.5x nginx's rate", full, 0.5),
                       ("resumed handshakes, ECDSA, >= 0.8x nginx's rate", res, 0.8)):
    state = "?" if v is None else ("met" if v >= bound else "missed")
    D.append(f"* {name}: {fx(v)}, *{state}*")
D.append("")

D.append("=== mbedTLS's own cost")
D.append("")
D.append("The public-key operations of a full handshake, timed alone in one thread "
         "(`tools/bench/src/tls_primitives.c` for mbedTLS, as our server calls it; "
         "`openssl speed` for OpenSSL, which nginx uses; OpenSSL times the shared "
         "secret only, and its key pair costs about the same):")
D.append("")
D.append("[cols=\"3,>1,>1,>1\",options=\"header\"]")
D.append("|===\n| operation | mbedTLS ms | OpenSSL ms | mbedTLS / OpenSSL")
for op, name in PRIMS:
    m = prim(op, "mbedtls")
    o = prim(OSSL.get(op, op), "openssl")
    D.append(f"| {name} | {fmt(m, 3)} | {fmt(o, 3)} | {fx(ratio(m, o))}")
D.append("|===")
D.append("")
ec_cpu = rows[0][5]
rsa_cpu = rows[2][5]
if pk_ec is not None and ec_cpu:
    D.append(f"A full ECDSA handshake on our server (X25519 key pair and shared secret, "
             f"one signature) spends {pk_ec:.2f} ms in mbedTLS's public-key code alone: "
             f"{100 * pk_ec / ec_cpu:.0f}% of the {ec_cpu:.2f} ms of CPU the server "
             f"spends per handshake, and {pk_ec / rows[0][6]:.1f}x nginx's whole handshake "
             f"({rows[0][6]:.2f} ms)." if rows[0][6] else "")
if pk_rsa is not None and rsa_cpu:
    D.append(f"With RSA-2048 it is {pk_rsa:.2f} ms of {rsa_cpu:.2f} ms "
             f"({100 * pk_rsa / rsa_cpu:.0f}%).")
D.append("")

dso = readf(os.path.join(args.work, "perf-dso.txt")).strip()
sym = readf(os.path.join(args.work, "perf-sym.txt")).strip()
if dso:
    D.append("=== Profile of the server during full ECDSA handshakes (raw)")
    D.append("")
    D.append("`perf record -g` of nghttpw's server for 4 s under `s_time -new`; self "
             "time by object, then the top functions. libc's share is almost all "
             "malloc, calloc and free called by mbedTLS's bignum code.")
    D.append("")
    D.append("----\n" + dso + "\n----")
    D.append("")
    if sym:
        D.append("----\n" + sym + "\n----")
        D.append("")
notes = readf(args.notes).strip() if args.notes else ""
if notes:
    D.append("Notes from this run:")
    D.append("")
    for line in notes.splitlines():
        D.append("* " + line)
    D.append("")
fd = readf(args.findings).strip() if args.findings else ""
if fd:
    D.append(fd)
    D.append("")
D.append(END)
section = "\n".join(D) + "\n"

new = put(readf(args.out), "TLS handshakes section", section)
with open(args.out, "w") as f:
    f.write(new)
