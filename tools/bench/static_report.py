#!/usr/bin/env python3
"""Turns tools/bench/static's raw results (metric, threads, impl, value per
line, as tools/bench/run writes them) into a table of medians with ratios
to nghttpw-serve (--stage table, to stdout) and the static files section
of PERFORMANCE.adoc (--stage doc): the text between the two markers below
is replaced, or added at the end; tools/bench/report.py keeps it when it
rewrites the rest of the file."""
import argparse
import os
import platform
import time
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from bench_common import fmt, median, pkgver, put, ratio, read_results, readf, sh  # noqa: E402

NAME = "static files section"
BEGIN = f"// BEGIN {NAME}: written by tools/bench/static, kept by tools/bench/run"
END = f"// END {NAME}"

ap = argparse.ArgumentParser()
for a in ("results", "notes", "work", "out", "stage", "rev"):
    ap.add_argument("--" + a)
for a in ("reps", "dur", "syscall-n", "quick"):
    ap.add_argument("--" + a, type=int)
args = ap.parse_args()

raw = read_results(args.results)


def med(metric, thr, impl):
    return median(raw, metric, thr, impl)


NAMES = {"nghttpw": "nghttpw-serve", "nginx": "nginx", "nginx_ofc": "nginx open_file_cache",
         "h2o": "h2o", "lighttpd": "lighttpd"}
for k in list(NAMES):  # the rows say when the log is on
    NAMES[k + "_log"] = NAMES[k]
PEERS = ["nginx", "nginx_ofc", "h2o", "lighttpd"]
LOG_PEERS = ["nginx_log", "h2o_log", "lighttpd_log"]
SMALL = (("14", "14 B"), ("4k", "4 KiB"))
LARGE = (("100k", "100 KiB"), ("1m", "1 MiB"))

# (label, metric, threads, main, peers, better)
ROWS = []
for key, lab in SMALL:
    for c in (64, 512):
        for t in (1, 2):
            ROWS.append((f"{lab}, req/s, -c {c}", f"st_rps_{key}_c{c}", t, "nghttpw", PEERS, "higher"))
for key, lab in LARGE:
    for t in (1, 2):
        ROWS.append((f"{lab}, MB/s, -c 64", f"st_mbs_{key}_c64", t, "nghttpw", PEERS, "higher"))
for c in (64, 512):
    for t in (1, 2):
        ROWS.append((f"14 B, access log on, req/s, -c {c}", f"st_rps_14_c{c}", t,
                     "nghttpw_log", LOG_PEERS, "higher"))
for t in (1, 2):
    ROWS.append(("14 B, server CPU us/request, -c 64", "st_cpu_14_c64", t, "nghttpw",
                 PEERS, "lower"))
for c in (1, 64):
    ROWS.append((f"14 B, syscalls/request, {c} conn{'s' if c > 1 else ''}", f"st_sc_c{c}", 1,
                 "nghttpw", ["nginx", "nginx_ofc"], "lower"))
ROWS.append(("14 B, syscalls/request without readiness waits, 64 conns", "st_sc_nowait_c64", 1,
             "nghttpw", ["nginx", "nginx_ofc"], "lower"))
ROWS.append(("14 B, syscalls/request without readiness waits, 64 conns, access log on", "st_sc_nowait_c64", 1, "nghttpw_log", [], "lower"))

table = []
for lab, m, t, main, peers, better in ROWS:
    mv = med(m, t, main)
    cells = [(p, med(m, t, p)) for p in peers if med(m, t, p) is not None]
    if mv is None and not cells:
        continue
    table.append((lab, t, main, mv, cells, better))


def peer_text(mv, cells):
    out = []
    for p, pv in cells:
        r = ratio(mv, pv)
        out.append(f"{NAMES[p]} {fmt(pv)}" + (f" ({r:.2f}x)" if r is not None else ""))
    return out


targets = []


def target(name, checks, op, bound, prec=2):
    vals = [(w, r) for w, r in checks if r is not None]
    if not vals:
        targets.append((name, "NOT MEASURED", "no data"))
        return
    ok = all(r >= bound if op == ">=" else r <= bound for _, r in vals)
    targets.append((name, "met" if ok else "MISSED",
                    ", ".join(f"{w}: {r:.{prec}f}" for w, r in vals)))


def vs(peer, metrics):
    """nghttpw-serve ÷ peer for each metric at 1 and 2 threads."""
    return [(f"{lab} T={t}", ratio(med(m, t, "nghttpw"), med(m, t, peer)))
            for m, lab in metrics for t in (1, 2)]


small = [(f"st_rps_{k}_c{c}", f"{lab} c{c}") for k, lab in SMALL for c in (64, 512)]
large = [(f"st_mbs_{k}_c64", lab) for k, lab in LARGE]
target("small files >= 1.3x nginx default (14 B and 4 KiB, -c 64 and -c 512, 1 and 2 threads)",
       vs("nginx", small), ">=", 1.3)
target("small files >= 1.0x nginx with open_file_cache", vs("nginx_ofc", small), ">=", 1.0)
sc = med("st_sc_nowait_c64", 1, "nghttpw")
# Steady state: the cache looks at a file again once a second (a stat
# per second per file, 0.001 per request at 1,000 requests/s), which the
# target does not count; what is above 2.01 is per request.
target("<= 2 syscalls per small-file keep-alive request in steady state "
       "(14 B, 64 conns, waits for readiness and the once-a-second "
       "revalidation not counted: <= 2.01)",
       [("nghttpw-serve", sc if isinstance(sc, float) else None)], "<=", 2.01, 3)
extra = []
for impl in ("nginx", "nginx_ofc"):
    v = med("st_sc_nowait_c64", 1, impl)
    if isinstance(v, float):
        extra.append(f"{NAMES[impl]} {v:.3f}")
for c in (64, 1):
    v = med(f"st_sc_c{c}", 1, "nghttpw")
    if isinstance(v, float):
        extra.append(f"all calls, {c} conn{'s' if c > 1 else ''}: {v:.3f}")
if extra and targets[-1][1] != "NOT MEASURED":
    n, st, det = targets[-1]
    targets[-1] = (n, st, det + "; " + ", ".join(extra))
target("large files >= 0.95x nginx MB/s (100 KiB and 1 MiB, -c 64, 1 and 2 threads)",
       vs("nginx", large), ">=", 0.95)
logm = [(f"st_rps_14_c{c}", f"14 B c{c}") for c in (64, 512)]
target("access log on costs <= 10% (nghttpw-serve with the log / without, 14 B)",
       [(f"{lab} T={t}", ratio(med(m, t, "nghttpw_log"), med(m, t, "nghttpw")))
        for m, lab in logm for t in (1, 2)], ">=", 0.90)


def log_cost_lines():
    """What the access log costs each server: log on / log off."""
    out = []
    for s in ("nghttpw", "nginx", "h2o", "lighttpd"):
        rs = [(f"{lab} T={t}", ratio(med(m, t, s + "_log"), med(m, t, s)))
              for m, lab in logm for t in (1, 2)]
        rs = [f"{w} {r:.2f}" for w, r in rs if r is not None]
        if rs:
            out.append(f"{NAMES[s]}: " + ", ".join(rs))
    return out


if args.stage == "table":
    rows = [(lab, str(t), (fmt(mv) or "-"), peer_text(mv, cells), b)
            for lab, t, main, mv, cells, b in table]
    if not rows:
        print("no results")
        raise SystemExit(1)
    w0 = max(len(r[0]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    print(f"{'measure':<{w0}}  thr  {'nghttpw':>{w2}}  peers: value (nghttpw / peer)")
    print("-" * (w0 + w2 + 60))
    for lab, t, mv, peers, b in rows:
        print(f"{lab:<{w0}}  {t:>3}  {mv:>{w2}}  " + " | ".join(peers)
              + ("" if b == "higher" else "   [lower is better]"))
    print("\ntargets:")
    for name, st, det in targets:
        print(f"  {st:<12} {name}  [{det}]")
    for line in log_cost_lines():
        print(f"  (info)       log on / log off: {line}")
    raise SystemExit(0)


# ------------------------------------------------------------ the section


top = os.path.dirname(os.path.abspath(args.out))
rev = args.rev or sh(f"git -C {top} rev-parse --short HEAD")
# Uncommitted changes count only when the work tree was built.
dirty = "" if args.rev and "BENCH_REV" in args.rev else \
    sh(f"git -C {top} status --porcelain -- src include tools/nghttpw-serve.c | head -1")

D = [BEGIN, "== Static files", ""]
D.append("Measured by `tools/bench/static` (see `tools/bench/README.adoc`), which "
         "rewrites this section only; `tools/bench/run` keeps it.")
D.append("")
D.append("[source,sh]\n----\n" + ("BENCH_REV=" + rev.split()[0] + " " if "BENCH_REV" in rev else "")
         + "bash tools/bench/static" + (" --quick" if args.quick else "")
         + "        # as root on Debian 12; installs nginx-light, h2o, lighttpd, wrk, strace with apt\n----")
D.append("")
D.append(f"This run: {'--quick, ' if args.quick else ''}{args.reps} repetition{'s' if args.reps != 1 else ''} x {args.dur} s "
         f"per wrk measurement, {time.strftime('%Y-%m-%d %H:%M %Z')}, nghttpw at {rev}"
         + (" (with uncommitted changes under src/, include/ or tools/nghttpw-serve.c)" if dirty else "")
         + ".")
D.append("")
D.append("=== Machine and peers")
D.append("")
D.append("[cols=\"1,3\"]\n|===")
for k, v in (("CPUs (nproc)", sh("nproc")),
             ("CPU", sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()),
             ("kernel", platform.release()), ("OS", sh(". /etc/os-release; echo $PRETTY_NAME")),
             ("nghttpw", f"0.1.0 at {rev}, CMake Release (-O3), `nghttpw-serve` with its defaults"),
             ("nginx", pkgver("nginx-light") + " (nginx-light)"),
             ("h2o", pkgver("h2o")), ("lighttpd", pkgver("lighttpd")),
             ("wrk / strace", pkgver("wrk") + " / " + pkgver("strace"))):
    D.append(f"| {k} | {v}")
D.append("|===")
D.append("")
D.append("=== Results")
D.append("")
D.append("Medians over the repetitions; in brackets nghttpw-serve ÷ peer (above 1 "
         "nghttpw-serve is faster for rates; below 1 it is better for CPU and "
         "syscalls).  The log rows compare the servers with their access log on; "
         "MB/s counts file bytes (10^6 bytes), from req/s x size.")
D.append("")
D.append('[cols="3,1,2,6",options="header"]\n|===')
D.append("| measure | threads | nghttpw-serve | peers: median (nghttpw-serve ÷ peer)")
for lab, t, main, mv, cells, better in table:
    D.append(f"| {lab}{'' if better == 'higher' else ' (lower is better)'} | {t} | "
             f"{fmt(mv) or '-'} | " + " +\n".join(peer_text(mv, cells)))
D.append("|===")
D.append("")
D.append("==== Targets (from issue 16)")
D.append("")
D.append('[cols="4,1,4",options="header"]\n|===')
D.append("| target | status | ratios")
for name, st, det in targets:
    D.append(f"| {name} | {'*' + st + '*' if st != 'met' else st} | {det}")
D.append("|===")
D.append("")
lc = log_cost_lines()
if lc:
    D.append("What the access log costs each server (req/s with the log ÷ without, 14 B):")
    D.append("")
    for line in lc:
        D.append(f"* {line}")
    D.append("")

D.append("=== Syscalls per request (strace -c)")
D.append("")
D.append(f"`strace -c -f` attached to every process and thread of the server (1 "
         f"thread or worker) while `loadgen closed` made {args.syscall_n} keep-alive "
         "requests for the 14 B file; counts divided by the number of requests.")
D.append("")
for name in ("nghttpw", "nghttpw_log", "nginx", "nginx_ofc"):
    for c in (1, 64):
        t = readf(os.path.join(args.work, f"strace-{name}-c{c}.txt"))
        if not t:
            continue
        D.append(f".{NAMES[name]}{' with the access log' if name.endswith('_log') else ''}, "
                 f"{c} connection{'s' if c > 1 else ''}")
        D.append("[%autowidth]\n|===\n| syscall | calls | per request")
        for line in t.splitlines()[:12]:
            p = line.split()
            if len(p) == 3:
                D.append(f"| {p[0]} | {int(p[1]):,} | {p[2]}")
        D.append("|===")
        D.append("")

D.append("=== Method")
D.append("")
D.append(f"""* The files, made afresh by each run in `build/bench/work-static/files/`:
  `14.html` ("Hello, World!" and a newline), `4k.html` (text), `100k.bin`
  and `1m.bin` (random bytes).  Every server checked with curl to send
  each whole with a 200 before it is measured; wrk asks for one file per
  run (no directory index), keep-alive, `--timeout 5s`.
* `nghttpw-serve -t N [-q] DIR` from the same build as the library, with
  no `--cache-*` option (the file handler's defaults); with the log on
  its access log goes to a file (stdout redirected).
* nginx: `worker_processes` N, `sendfile on`, `access_log off`,
  `keepalive_requests` unlimited, `reuseport`, `root` the directory;
  the open_file_cache column adds `open_file_cache max=1000 inactive=20s;
  open_file_cache_valid 1s;`; the log one has `access_log FILE combined
  buffer=64k` instead of `access_log off`.
* h2o 2.2: `file.dir` the directory, `num-threads` N, `access-log` FILE
  for the log (h2o's default format).
* lighttpd: `server.document-root`, one process for 1 thread and
  `server.max-worker = 2` for 2, keep-alive requests unlimited,
  `mod_accesslog` with `accesslog.filename` for the log (lighttpd's
  default format).
* All on 127.0.0.1, each configuration on its own port, started once per
  thread count and measured in turn, repetition-major, {args.dur} s per
  wrk run after 1 s of warm-up per server.  The small files at `-c 64`
  and `-c 512`, the large ones at `-c 64`; the log configurations with
  the 14 B file only.  The access logs are emptied between runs.
* CPU placement, as in `tools/bench/run`: 1 thread: the server on CPU 0
  (`taskset -c 0`, workers inherit it) and `wrk -t1` on CPU 1; 2 threads:
  the server and `wrk -t2` share both CPUs, so the 2-thread rows measure
  efficiency under contention.  Server CPU per request: user + system
  ticks of the server (and its workers) from `/proc/PID/stat` around
  each 14 B `-c 64` run, divided by the requests it served.
* Syscalls: each server alone with 1 thread (worker), `loadgen closed`
  with `LOADGEN_PATH=/14.html`: the connections make one exchange each,
  strace is attached in the 3 s pause that follows and detached once the
  {args.syscall_n} requests are answered, while the connections are still
  open, so it sees the steady state only.  "Without readiness waits"
  leaves out `epoll_wait` and its kin, which 64 busy connections share.
""")
notes = readf(args.notes).strip()
la = readf("/proc/loadavg").split()
if la and max(float(la[0]), float(la[1])) > 5:
    notes = (notes + "\n" if notes else "") + (
        f"Load average at the end of the run: {la[0]} {la[1]} {la[2]}: other work "
        "was competing for the CPUs, so single measurements vary a lot.")
errs = readf(os.path.join(args.work, "wrk-errors.log")).strip()
if notes or errs:
    D.append("=== Notes from this run")
    D.append("")
    for n in notes.splitlines():
        D.append(f"* {n}")
    if errs:
        lines = errs.splitlines()
        D.append(f"* wrk reported errors in {len(lines)} run(s) (first ones below; a "
                 "run with fewer than 2 answers per connection counts as failed):")
        D.append("+\n----\n" + "\n".join(lines[:12]) + "\n----")
    D.append("")
D.append(END)

new = put(readf(args.out), NAME, "\n".join(D))
with open(args.out, "w") as f:
    f.write(new)
