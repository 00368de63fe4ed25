#!/usr/bin/env python3
"""Turns tools/bench/run's raw results (metric, threads, impl, value per
line) into the table of medians with ratios (--stage table, to stdout) and
PERFORMANCE.adoc (--stage doc)."""
import argparse
import os
import platform
import re
import statistics
import time
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from bench_common import blocks, is_number, median, pkgver, ratio, read_results, readf, sh  # noqa: E402
from bench_common import fmt as bc_fmt  # noqa: E402

ap = argparse.ArgumentParser()
for a in ("results", "notes", "work", "out", "findings", "stage", "plots"):
    ap.add_argument("--" + a)
for a in ("reps", "dur", "lreps", "sreps", "idle", "idle-big", "rate", "lconns",
          "client-k", "syscall-n", "quick", "elapsed"):
    ap.add_argument("--" + a, type=int)
args = ap.parse_args()
# The two memory tests: (metric, connections asked for).
IDLE = [("mem_conn", args.idle), ("mem_conn_big", args.idle_big)]

raw = read_results(args.results)


def med(metric, thr, impl):
    return median(raw, metric, thr, impl)


def fmt(v, unit=""):
    s = bc_fmt(v)
    return None if s is None else s + unit


NAMES = {"nghttpw": "nghttpw", "nghttpw_uring": "nghttpw io_uring",
         "nginx": "nginx", "nng": "nng 1.5",
         "mhd": "libmicrohttpd", "raw": "raw sendmsg (non-blocking, epoll)",
         "raw_sendfile": "raw sendfile (non-blocking, epoll)",
         "curl": "libcurl multi", "nghttpw_conn": "nghttpw conn_transact",
         "ceiling": "epoll ceiling (no HTTP)"}


def uring_of(impl):
    """The io_uring row of an nghttpw row (nghttpw_conn: nghttpw_conn_uring),
    None for the peers, which have one backend."""
    return impl + "_uring" if impl.startswith("nghttpw") else None


# Whether this run has io_uring rows (the library has the backend).
URING = any(i.endswith("_uring") for _, _, i in raw)

SRV_PEERS = ["nginx", "nng", "mhd", "ceiling"]
# (label, metric, threads, main impl, peers, better)
ROWS = []
for m, lab in (("rps_c64", "req/s, wrk -c 64"),
               ("rps_c512", "req/s, wrk -c 512"),
               ("rps_pipe16", "req/s, pipelined x16, -c 64")):
    for t in (1, 2):
        ROWS.append((lab, m, t, "nghttpw", SRV_PEERS, "higher"))
# Requests per second of server CPU (user + kernel), from the two rows
# below: the efficiency measure that does not depend on whether the load
# generator or the server is the bottleneck.
for x, lab in (("", "-c 64"), ("_pipe16", "pipelined")):
    for t in (1, 2):
        for impl in ("nghttpw", "nghttpw_uring", "nginx", "nng", "mhd", "ceiling"):
            u, k = med("cpu_user_us" + x, t, impl), med("cpu_sys_us" + x, t, impl)
            if isinstance(u, float) and isinstance(k, float) and u + k > 0:
                raw[("cpu_rps" + x, str(t), impl)].append(str(1e6 / (u + k)))
        ROWS.append((f"req per server CPU-second, {lab}", "cpu_rps" + x, t, "nghttpw",
                     SRV_PEERS, "higher"))
for m, lab in (("cpu_user_us", "server CPU us/request in user space, -c 64"),
               ("cpu_sys_us", "server CPU us/request in the kernel, -c 64")):
    for t in (1, 2):
        ROWS.append((lab, m, t, "nghttpw", SRV_PEERS, "lower"))
for m, lab in (("lat_p50", f"latency p50 at {args.rate}/s (us)"),
               ("lat_p99", f"latency p99 at {args.rate}/s (us)")):
    for t in (1, 2):
        ROWS.append((lab, m, t, "nghttpw", SRV_PEERS, "lower"))
for m, n in IDLE:
    ROWS.append((f"bytes per idle keep-alive conn, {n:,} conns", m, 1,
                 "nghttpw", ["nginx", "nng", "mhd"], "lower"))
ROWS.append(("bulk 1 GiB from memory, GiB/s (write_all)", "bulk", 1, "nghttpw",
             ["raw"], "higher"))
ROWS.append(("bulk 1 GiB file, GiB/s (file handler)", "bulk_file", 1, "nghttpw",
             ["nginx", "raw_sendfile"], "higher"))
ROWS.append((f"client req/s vs nginx, {args.client_k} in flight (client_transact)",
             "client", 1, "nghttpw", ["nghttpw_conn", "curl", "nng"], "higher"))
for t in (1, 2):
    ROWS.append(("https req/s, wrk -c 64", "tls_c64", t, "nghttpw", ["nginx"], "higher"))
for m, lab in (("syscalls_c1", "syscalls/request, 1 conn (strace)"),
               ("syscalls_c64", "syscalls/request, 64 conns (strace)"),
               ("syscalls_io_c64", "reads + writes/request, 64 conns (strace)"),
               ("syscalls_perf_c1", "syscalls/request, 1 conn (perf)"),
               ("syscalls_perf_c64", "syscalls/request, 64 conns (perf)")):
    ROWS.append((lab, m, 1, "nghttpw", ["nginx"], "lower"))

table = []  # (label, thr, main, uring, [(peer, value, uring value, ratio, uring ratio)], better)
for lab, m, t, main, peers, better in ROWS:
    mv, uv = med(m, t, main), med(m, t, uring_of(main))
    if mv is None and uv is None:
        continue
    cells = []
    for p in peers:
        pv = med(m, t, p)
        pu = med(m, t, uring_of(p)) if uring_of(p) else pv
        if pv is None and pu is None:
            continue
        cells.append((p, pv, pu, ratio(mv, pv), ratio(uv, pu)))
    table.append((lab, t, mv, uv, cells, better))


def stalls(pv, mv, better):
    """A peer under 2% of nghttpw's rate answers a few requests per
    connection and then stalls: no ratio."""
    return (better == "higher" and isinstance(pv, float) and isinstance(mv, float)
            and pv < 0.02 * mv)


def row_text(r):
    lab, t, mv, uv, cells, better = r
    peers = []
    for p, pv, pu, rt, ru in cells:
        same = uring_of(p) is None
        s = f"{NAMES[p]} {fmt(pv)}" if same or not URING else f"{NAMES[p]} {fmt(pv)} / {fmt(pu)}"
        if stalls(pv, mv, better):
            s += " (stalls: see notes)"
        elif URING and (rt is not None or ru is not None):
            s += " (" + " / ".join("-" if x is None else f"{x:.2f}x" for x in (rt, ru)) + ")"
        elif rt is not None:
            s += f" ({rt:.2f}x)"
        peers.append(s)
    return lab, str(t), fmt(mv) or "-", fmt(uv) or "-", peers, better


def get(m, t, p):
    return med(m, t, p)


# Targets: those of issue 14, then the earlier ones still tracked.
targets = []


def target(name, checks, need, prec=2, group="issue 14"):
    """checks: list of (what, ratio or None); need: (op, bound)."""
    op, bound = need
    vals = [(w, r) for w, r in checks if r is not None]
    if not vals:
        targets.append((group, name, "NOT MEASURED", "no data"))
        return
    ok = all((r >= bound) if op == ">=" else (r <= bound) for _, r in vals)
    detail = ", ".join(f"{w}: {r:.{prec}f}" for w, r in vals)
    targets.append((group, name, "met" if ok else "MISSED", detail))


BACKENDS = [("epoll", "nghttpw")] + ([("io_uring", "nghttpw_uring")] if URING else [])


def paired_ratio(metric, thr, a, b):
    """The median of a's n-th value over b's n-th: for rows run in pairs,
    back to back, so that the machine's drift between runs cancels."""
    rs = [float(x) / float(y) for x, y in zip(raw.get((metric, str(thr), a), []),
                                              raw.get((metric, str(thr), b), []))
          if is_number(x) and is_number(y) and float(y) > 0]
    return statistics.median(rs) if rs else None


def per_backend(metric, thr, peer, main="nghttpw", paired=False):
    """(label, ratio) of each backend's row against peer's (a peer that is an
    nghttpw row is taken on the same backend); paired: see paired_ratio."""
    out = []
    for b, _ in BACKENDS:
        mi = main if b == "epoll" else uring_of(main)
        pi = peer if b == "epoll" or uring_of(peer) is None else uring_of(peer)
        out.append((b, paired_ratio(metric, thr, mi, pi) if paired
                    else ratio(get(metric, thr, mi), get(metric, thr, pi))))
    return out


target("idle keep-alive connection memory <= 0.5x nginx's",
       [(f"{b} {n:,}", r) for m, n in IDLE
        for b, r in per_backend(m, 1, "nginx")], ("<=", 0.5))
for bound, peer, what in ((1.3, "nginx", "nginx"), (1.2, "nghttpw", "nghttpw on epoll")):
    target(f"io_uring: requests per server CPU-second >= {bound}x {what} (-c 64)",
           [(f"T={t}", ratio(get("cpu_rps", t, "nghttpw_uring"), get("cpu_rps", t, peer)))
            for t in (1, 2)], (">=", bound))
sc_tool = "perf" if isinstance(get("syscalls_perf_c64", 1, "nghttpw_uring"), float) else "strace"
sc_metric = "syscalls_perf_c64" if sc_tool == "perf" else "syscalls_c64"
sc = get(sc_metric, 1, "nghttpw_uring")
target("io_uring: <= 0.5 syscalls per keep-alive request, 64 connections",
       [(f"io_uring ({sc_tool})", sc if isinstance(sc, float) else None)], ("<=", 0.5), 3)
if isinstance(get(sc_metric, 1, "nghttpw"), float) and targets[-1][2] != "NOT MEASURED":
    g, n_, st, det = targets[-1]
    targets[-1] = (g, n_, st, det + f"; epoll: {get(sc_metric, 1, 'nghttpw'):.3f}, nginx: "
                   + (fmt(get(sc_metric, 1, "nginx")) or "-"))
target("HTTPS >= 1.0x nginx req/s with 2 threads",
       per_backend("tls_c64", 2, "nginx"), (">=", 1.0))
target("bulk: write_all >= 0.9x the raw non-blocking sendmsg",
       per_backend("bulk", 1, "raw"), (">=", 0.9))
target(f"client: client_transact >= 0.9x a bare conn_transact, {args.client_k} in flight"
       " (median of back-to-back pairs)",
       per_backend("client", 1, "nghttpw_conn", paired=True), (">=", 0.9))
target("client: client_transact >= 1.2x libcurl multi",
       per_backend("client", 1, "curl"), (">=", 1.2))
target("user CPU per keep-alive request <= nginx's (-c 64)",
       [(f"{b} T={t}", r) for t in (1, 2) for b, r in per_backend("cpu_user_us", t, "nginx")],
       ("<=", 1.0))

srv = [(m, lab, t) for m, lab in (("rps_c64", "c64"), ("rps_c512", "c512")) for t in (1, 2)]
target("server >= 1.3x nginx req/s at equal workers (-c 64 and -c 512, 1 and 2 threads)",
       [(f"{lab} T={t}", ratio(get(m, t, "nghttpw"), get(m, t, "nginx"))) for m, lab, t in srv],
       (">=", 1.3), group="earlier")
target("server >= 2x nng req/s",
       [(f"{lab} T={t}", ratio(get(m, t, "nghttpw"), get(m, t, "nng"))) for m, lab, t in srv],
       (">=", 2.0), group="earlier")
sio = get("syscalls_io_c64", 1, "nghttpw")
target("<= 2 syscalls per keep-alive request in steady state, one read and one write (64 connections, epoll)",
       [("reads+writes/request", sio if isinstance(sio, float) else None)],
       ("<=", 2.0), 3, group="earlier")
sc1 = get("syscalls_c1", 1, "nghttpw")


def info_lines():
    """Ratios without a target: the file case, and io_uring against epoll
    on the rows that must not get slower."""
    out = []
    for b, impl in BACKENDS:
        f = get("bulk_file", 1, impl)
        for peer in ("nginx", "raw_sendfile"):
            r = ratio(f, get("bulk_file", 1, peer))
            if r is not None:
                out.append(f"bulk file, {b}: {r:.2f}x {NAMES[peer]}")
    if URING:
        for m, lab in (("rps_c64", "-c 64"), ("rps_pipe16", "pipelined")):
            for t in (1, 2):
                r = ratio(get(m, t, "nghttpw_uring"), get(m, t, "nghttpw"))
                if r is not None:
                    out.append(f"io_uring / epoll req/s, {lab}, T={t}: {r:.2f}x")
    return out


def ceiling_lines():
    """How far the canned-answer epoll loop (the most any server can do on
    this kernel and CPU) is above nginx, and where nghttpw stands."""
    out = []
    for m, lab in (("rps_c64", "c64"), ("rps_c512", "c512")):
        for t in (1, 2):
            c, n, x = get(m, t, "ceiling"), get(m, t, "nginx"), get(m, t, "nghttpw")
            if not all(isinstance(v, float) for v in (c, n, x)):
                continue
            u = get(m, t, "nghttpw_uring")
            out.append(f"{lab} T={t}: epoll ceiling = {c / n:.2f}x nginx; "
                       f"nghttpw at {x / c:.0%} of the ceiling"
                       + (f" (io_uring {u / c:.0%})" if isinstance(u, float) else "")
                       + f", nginx at {n / c:.0%}")
    for t in (1, 2):
        c, n, x = get("cpu_rps", t, "ceiling"), get("cpu_rps", t, "nginx"), get("cpu_rps", t, "nghttpw")
        if all(isinstance(v, float) for v in (c, n, x)):
            u = get("cpu_rps", t, "nghttpw_uring")
            out.append(f"requests per server CPU-second T={t}: epoll ceiling = {c / n:.2f}x nginx; "
                       f"nghttpw = {x / n:.2f}x nginx"
                       + (f" (io_uring {u / n:.2f}x)" if isinstance(u, float) else ""))
    return out


SWEEP_IMPLS = ["nghttpw", "nghttpw_uring", "nginx", "nng", "mhd", "ceiling"]


def sweep():
    """{threads: (connection counts, [(impl, [median per count])])}."""
    out = {}
    for t in (1, 2):
        conns = sorted({int(m[5:]) for m, th, _ in raw
                        if th == str(t) and re.fullmatch(r"rps_c[0-9]+", m)})
        rows = [(i, [get(f"rps_c{c}", t, i) for c in conns]) for i in SWEEP_IMPLS]
        rows = [(i, v) for i, v in rows if any(x is not None for x in v)]
        if conns and rows:
            out[t] = (conns, rows)
    return out


hdr = ("measure", "thr", "epoll", "io_uring", "peers: value (nghttpw / peer)")


def text_table():
    rows = [row_text(r) for r in table]
    w0 = max(len(hdr[0]), *(len(r[0]) for r in rows))
    w2 = max(len(hdr[2]), *(len(r[2]) for r in rows))
    w3 = max(len(hdr[3]), *(len(r[3]) for r in rows))
    out = [f"{hdr[0]:<{w0}}  {hdr[1]:>3}  {hdr[2]:>{w2}}  "
           + (f"{hdr[3]:>{w3}}  peers: value (epoll / peer, io_uring / peer)" if URING else hdr[4])]
    out.append("-" * (w0 + w2 + w3 + 60))
    for lab, t, mv, uv, peers, better in rows:
        out.append(f"{lab:<{w0}}  {t:>3}  {mv:>{w2}}  " + (f"{uv:>{w3}}  " if URING else "")
                   + " | ".join(peers) + ("" if better == "higher" else "   [lower is better]"))
    for t, (conns, rows_) in sweep().items():
        out.append("")
        out.append(f"req/s by wrk connections, {t} thread(s): "
                   + "  ".join(f"{c:>9}" for c in conns))
        for i, vals in rows_:
            out.append(f"  {NAMES[i]:<38}" + "  ".join(f"{fmt(v) or '-':>9}" for v in vals))
    out.append("")
    out.append("targets:")
    for group, name, st, det in targets:
        out.append(f"  {st:<12} {'' if group == 'issue 14' else '(' + group + ') '}{name}  [{det}]")
    if isinstance(sc1, float):
        out.append(f"  (info)       syscalls/request with 1 connection (strace): {sc1:.2f}")
    for line in info_lines() + ceiling_lines():
        out.append(f"  (info)       {line}")
    return "\n".join(out)


if args.stage == "table":
    print(text_table())
    raise SystemExit(0)


# ------------------------------------------------------------ the document


cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()
top = os.path.dirname(os.path.abspath(args.out))
rev = sh(f"git -C {top} rev-parse --short HEAD")
dirty = sh(f"git -C {top} status --porcelain -- src include | head -1")

D = []
D.append("= nghttpw performance")
D.append(":toc: macro")
D.append("")
D.append("Measured by `tools/bench/run` (see `tools/bench/README.adoc`); this "
         "file is rewritten by every run, except the findings section, which "
         "is kept in `tools/bench/findings.adoc`.")
D.append("")
D.append("toc::[]")
D.append("")
D.append("== Reproduce")
D.append("")
D.append("[source,sh]\n----\nbash tools/bench/run" + (" --quick" if args.quick else "")
         + "        # as root on Debian 12; installs wrk, nginx-light, gnuplot-nox, ... with apt\n----")
D.append("")
D.append(f"This run: {'--quick, ' if args.quick else ''}{args.reps} repetitions x {args.dur} s "
         f"per wrk measurement ({args.sreps} at the other connection counts of the plot), "
         f"{args.lreps} x {args.dur} s (+1 s warm-up) per latency "
         f"measurement, {time.strftime('%Y-%m-%d %H:%M %Z')}, nghttpw at {rev}"
         + (" (with uncommitted changes under src/ or include/)" if dirty else "")
         + (f"; it took {args.elapsed // 60} min" if args.elapsed else "") + ".  "
         + ("nghttpw's rows were measured on both of its backends, `NGHTTPW_POLLER=epoll` "
            "and `NGHTTPW_POLLER=io_uring`." if URING else
            "The library showed no io_uring backend (see the notes): nghttpw was "
            "measured on epoll only."))
D.append("")
D.append("== Machine")
D.append("")
D.append("[cols=\"1,3\"]\n|===")
for k, v in (("CPUs (nproc)", sh("nproc")), ("CPU", cpu), ("kernel", platform.release()),
             ("OS", sh(". /etc/os-release; echo $PRETTY_NAME")),
             ("compiler", sh("cc --version | head -1")),
             ("nghttpw", f"0.1.0 at {rev}, CMake Release (-O3), mbed TLS {pkgver('libmbedtls-dev')}, llhttp {pkgver('node-llhttp') if pkgver('libllhttp-dev') == 'not installed' else pkgver('libllhttp-dev')}"),
             ("nginx", pkgver("nginx-light") + " (nginx-light), OpenSSL " + pkgver("libssl3")),
             ("nng", pkgver("libnng-dev")), ("libmicrohttpd", pkgver("libmicrohttpd-dev")),
             ("libcurl", pkgver("libcurl4-openssl-dev")), ("wrk", pkgver("wrk")),
             ("strace / valgrind", pkgver("strace") + " / " + pkgver("valgrind"))):
    D.append(f"| {k} | {v}")
D.append("|===")
D.append("")
D.append("== Results")
D.append("")
D.append("Medians over the repetitions.  The ratio in brackets is nghttpw ÷ peer"
         + (", first for nghttpw on epoll, then on io_uring (an nghttpw peer, such as "
            "conn_transact, is taken on the same backend, its two values in that order)"
            if URING else "")
         + ": above 1 nghttpw is faster for rates, below 1 it is better for latency, "
         "memory and syscalls.  On this 2-CPU machine only ratios measured in the "
         "same run mean much; absolute numbers move by 10-20% from run to run.")
D.append("")
if URING:
    D.append('[cols="3,1,2,2,6",options="header"]\n|===')
    D.append("| measure | threads | nghttpw epoll | nghttpw io_uring "
             "| peers: median (epoll ÷ peer / io_uring ÷ peer)")
else:
    D.append('[cols="3,1,2,6",options="header"]\n|===')
    D.append("| measure | threads | nghttpw | peers: median (nghttpw ÷ peer)")
for r in table:
    lab, t, mv, uv, peers, better = row_text(r)
    D.append(f"| {lab}{'' if better == 'higher' else ' (lower is better)'} | {t} | {mv} | "
             + (f"{uv} | " if URING else "") + " +\n".join(peers))
D.append("|===")
D.append("")
SW = sweep()
if SW:
    D.append("=== Requests/s against connections")
    D.append("")
    D.append("`wrk` keep-alive, medians (the -c 64 column from the main rounds, the "
             "others from fewer repetitions); the plots below draw these tables.")
    D.append("")
    for t, (conns, rows_) in SW.items():
        D.append(f".{t} server thread{'s' if t > 1 else ''}")
        D.append(f'[cols="3,{",".join("2" for _ in conns)}",options="header"]\n|===')
        D.append("| server | " + " | ".join(f"-c {c}" for c in conns))
        for i, vals in rows_:
            D.append(f"| {NAMES[i]} | " + " | ".join(fmt(v) or "-" for v in vals))
        D.append("|===")
        D.append("")
# The plots made by tools/bench/plot.py from this run's results.
if args.plots and os.path.isdir(args.plots):
    rel = os.path.relpath(os.path.abspath(args.plots), top)
    shown = []
    for name, alt in (("rps-conns-1t", "requests/s against connections, 1 server thread"),
                      ("rps-conns-2t", "requests/s against connections, 2 server threads"),
                      ("latency-1t", f"latency distribution at {args.rate} req/s, 1 server thread"),
                      ("latency-2t", f"latency distribution at {args.rate} req/s, 2 server threads")):
        if os.path.exists(os.path.join(args.plots, name + ".svg")):
            shown.append(f"image::{rel}/{name}.svg[{alt}]")
    if shown:
        D.append("=== Plots")
        D.append("")
        D.append("Drawn with gnuplot by `tools/bench/plot.py` from this run's "
                 "`results.tsv` (it redraws them from any results file).  Latency: "
                 f"`loadgen open` at a fixed {args.rate:,} req/s over {args.lconns} "
                 "connections; the x axis is HDR-style, 1 ÷ (1 - quantile) on a log "
                 "scale, so each decade is one more nine; each point is the median "
                 "of the repetitions.")
        D.append("")
        for line in shown:
            D.append(line)
            D.append("")
for group, title in (("issue 14", "=== Targets of issue 14"),
                     ("earlier", "=== Earlier targets, still tracked")):
    D.append(title)
    D.append("")
    D.append('[cols="4,1,4",options="header"]\n|===')
    D.append("| target | status | ratios")
    for g, name, st, det in targets:
        if g == group:
            D.append(f"| {name} | {'*' + st + '*' if st != 'met' else st} | {det}")
    D.append("|===")
    D.append("")
il = info_lines()
if il:
    D.append("Without a target:")
    D.append("")
    for line in il:
        D.append(f"* {line}")
if isinstance(sc1, float):
    D.append("")
    D.append(f"With a single connection (ping-pong, so every request needs its own "
             f"wait for readiness) nghttpw makes {sc1:.2f} syscalls per request; "
             f"nginx {fmt(get('syscalls_c1', 1, 'nginx')) or 'not measured'}.")
cl = ceiling_lines()
if cl:
    D.append("")
    D.append("The epoll ceiling is `tools/bench/src/epoll_server.c`: a loop that "
             "answers each request head with a canned response, parsing and "
             "allocating nothing, one read and one write per request.  Its CPU "
             "per request is the kernel's share that every server pays, so no "
             "HTTP server can be much cheaper per request; and where its req/s is "
             "no higher than nginx's, the load generator (wrk on one CPU) is the "
             "limit, not the servers:")
    D.append("")
    for line in cl:
        D.append(f"* {line}")
D.append("")

D.append("=== Syscalls per request (strace -c)")
D.append("")
D.append(f"`strace -c -f` attached to every thread of the server (1 I/O thread) "
         f"while `loadgen closed` made {args.syscall_n} keep-alive requests; counts "
         "divided by the number of requests.  The rows \"(perf)\" above count the "
         "same requests with `perf stat -e raw_syscalls:sys_enter` instead, which "
         "does not stop the server at each call.")
D.append("")
for name in ("nghttpw", "nghttpw_uring", "nginx"):
    for c in (1, 64):
        t = readf(os.path.join(args.work, f"strace-{name}-c{c}.txt"))
        if not t:
            continue
        D.append(f".{NAMES[name]}, {c} connection(s)")
        D.append("[%autowidth]\n|===\n| syscall | calls | per request")
        for line in t.splitlines()[:12]:
            p = line.split()
            if len(p) == 3:
                D.append(f"| {p[0]} | {int(p[1]):,} | {p[2]}")
        D.append("|===")
        D.append("")

tlsp = readf(os.path.join(args.work, "tls-params.txt")).strip()
if tlsp:
    D.append("=== TLS parameters negotiated (openssl s_client)")
    D.append("")
    D.append("----\n" + "\n".join(sorted(set(tlsp.splitlines()))) + "\n----")
    D.append("")

D.append("== Method")
D.append("")
D.append(f"""* Servers: `tools/bench/src/nghttpw_server.c` (a handler allocating a
  response with `Content-Type: text/plain` and the 13-byte body, N I/O
  threads via `NGHTTPW_INIT_NUM_POLLER_THREADS`), `nng_server.c`
  (`nng_http_handler_alloc_static`; nng 1.5 has no run-time thread setting,
  so it is the same program for 1 and 2 threads, pinned to 1 or 2 CPUs),
  `mhd_server.c` (`MHD_USE_EPOLL_INTERNAL_THREAD`, `MHD_OPTION_THREAD_POOL_SIZE`
  N when N > 1), nginx with `tools/bench/nginx.conf.in` (`worker_processes`
  N, `return 200 "Hello, World!"`, `access_log off`, keep-alive with no
  request limit, `reuseport`).  All on 127.0.0.1, distinct ports, each
  started once per thread count and measured in turn, repetition-major.
* nghttpw's two backends: every nghttpw program runs with
  `NGHTTPW_POLLER=epoll`, and again with `NGHTTPW_POLLER=io_uring` on
  its own port in the same rounds, when a probe finds that the library
  honours it (the server forced to io_uring holds an io_uring instance,
  `anon_inode:[io_uring]` in `/proc/PID/fd`, and the one forced to epoll
  does not); the result of the probe: {readf(os.path.join(args.work, "pollers.txt")).strip() or "not recorded"}.
* Requests/s against connections: `wrk -c` 1, 8, 64, 256, 512 and 1024
  (`-t` the server's thread count, at most the connections).
* CPU per request: user and system clock ticks of the server process (and
  nginx's workers) from `/proc/PID/stat` before and after each `-c 64`
  and pipelined run, divided by the requests it served.
* Ceiling: `epoll_server.c` (see the results) on the same CPUs and ports
  scheme as the servers, in the same rounds.
* CPU placement: with 1 thread the server runs on CPU 0 (`taskset -c 0`,
  nginx's workers inherit it) and the load generator on CPU 1 (`wrk -t 1`,
  `taskset -c 1`).  With 2 threads there is no free CPU: the server and
  `wrk -t 2` share both CPUs, so the 2-thread numbers measure efficiency
  under contention more than scaling.
* Pipelining: `tools/bench/pipeline.lua` sends 16 requests per write;
  wrk counts responses.
* Latency: wrk has no constant-rate mode, so `src/loadgen.c open`: a
  single-threaded open-loop generator on plain sockets and epoll, {args.rate}
  req/s spread round-robin over {args.lconns} keep-alive connections, one
  request in flight per connection (no pipelining).  A request whose
  connection is still busy waits, and its latency counts from its
  scheduled time (no coordinated omission).  The first second is not
  recorded.  The generator runs on CPU 1 in both cases.  With
  `LOADGEN_DIST` it also writes the whole distribution, the latency at
  quantile 1 - 1/X for X = 10^k/4^, which the latency plots draw.
* Memory: each server alone with 1 thread, after 1 s of load: VmRSS (of
  nginx's master and worker) before and after `src/idle_conns.c` opened
  {args.idle:,} connections, and again {args.idle_big:,} (nghttpw and nginx
  only), and made one request on each, divided by the connections held.
  (ulimit -n is raised by the script, as far as the hard limit allows, and
  nginx's `worker_connections` with it.)  Resident memory does not depend
  on the machine's load, unlike the rates.
* Bulk from memory: `src/bulk.c`: one `nghttpw_http_conn_write_all` of 1 GiB from
  4096 iovs of 256 KiB on an nghttpw TCP stream (1 poller thread) against
  the best a plain program does: non-blocking `sendmsg` of the same iovs
  (`IOV_MAX` at a time, `TCP_NODELAY` as nghttpw sets it) waiting in
  edge-triggered epoll, read by the same blocking reader thread in the
  same process.
* Bulk from a file: a 1 GiB file in the page cache, `GET /file` from
  `nghttpw_server -f` (the library's file handler, which sends with
  `sendfile(2)`) and from nginx (`sendfile on`, `location = /file` with
  `alias`), each with 1 thread on CPU 0, read by `bulk get` on CPU 1 (one
  connection, 256 KiB reads, the status and Content-Length checked);
  against `bulk sendfile`: non-blocking `sendfile(2)` of the whole file
  with epoll to the same reader in the same process, the ceiling.
* Client: against nginx (1 worker on CPU 0), the client on CPU 1 with
  {args.client_k} exchanges in flight for {args.dur} s:
  `nghttpw_http_client_transact` (the client's idle pool keeps 8
  connections), `nghttpw_http_conn_transact` on {args.client_k} connections,
  libcurl multi with {args.client_k} easy handles re-added on completion,
  and nng 1.5 `nng_http_conn_transact` on {args.client_k} connections (nng 1.5's
  `nng_http_client_transact` dials a new connection every time).
  The two nghttpw forms run as pairs, back to back in alternating order,
  {2 * args.reps} times on each backend; their target is the median of
  the pairs' ratios (the table shows each row's median).
* HTTPS: `nghttpw_server` with the P-256 self-signed certificate made by
  the script against nginx's `ssl` listener on the same files, `wrk -c 64`
  over keep-alive connections (so mostly record encryption, few handshakes).
* Syscalls: as in the section above; the io_uring target is checked on
  the perf count when perf can count `raw_syscalls:sys_enter`, else on
  strace's.
""")

notes = readf(args.notes).strip()
stalled = []
for lab, t, mv, uv, cells, better in table:
    for p, pv, pu, rt, ru in cells:
        if stalls(pv, mv, better):
            stalled.append(f"{NAMES[p]} ({lab}, {t} thread(s)): {fmt(pv)} req/s")
la = readf("/proc/loadavg").split()
if la and max(float(la[0]), float(la[1])) > 5:
    notes = (notes + "\n" if notes else "") + (
        f"Load average at the end of the run: {la[0]} {la[1]} {la[2]} on "
        f"{sh('nproc')} CPUs, of which the benchmark itself accounts for 2 to 4: other "
        "work (builds and tests of other sessions) was competing for the CPUs during the run, so single measurements vary a lot; the medians and "
        "the repetition-major order limit, but do not remove, the effect.")
if stalled:
    notes = (notes + "\n" if notes else "") + (
        "Stalls: " + "; ".join(stalled) + ".  Under 2% of nghttpw's rate: the "
        "peer answers a few requests per connection and then stalls for the rest "
        "of the run (wrk's timeout is 5 s); a limitation of that peer, not "
        "investigated further, and left out of the ratios.")
errs = readf(os.path.join(args.work, "wrk-errors.log")).strip()
if notes or errs:
    D.append("== Notes from this run")
    D.append("")
    for n in notes.splitlines():
        D.append(f"* {n}")
    if errs:
        lines = errs.splitlines()
        D.append(f"* wrk reported errors in {len(lines)} run(s) (first ones below; "
                 "`Non-2xx` and socket errors; a run with fewer than 100 req/s or "
                 "fewer than 2 answers per connection counts as failed):")
        D.append("+\n----\n" + "\n".join(lines[:12]) + "\n----")
    D.append("")

prof = readf(os.path.join(args.work, "profile.txt")).strip()
for f, backend in (("profile.txt", "epoll"), ("profile-uring.txt", "io_uring")):
    pr = readf(os.path.join(args.work, f)).strip()
    if not pr:
        continue
    tool = readf(os.path.join(args.work, f.replace(".txt", ".tool"))).strip()
    D.append(f"== Profile of the nghttpw server on {backend} (raw)")
    D.append("")
    D.append(f"Made by the script because a target was missed, with {tool}"
             + (" (`perf stat -e instructions` is not supported on this VM)" if tool == "callgrind" else "")
             + (" (valgrind cannot run the io_uring backend; samples of `perf record -g`, "
                "`wrk -c 64`, 1 I/O thread)" if backend == "io_uring" and tool == "perf" else "")
             + (".  Instruction counts (Ir) for the whole run; divide by "
                f"{readf(os.path.join(args.work, 'profile.n')).strip() or '?'} for per-request costs."
                if tool == "callgrind" else "."))
    D.append("")
    D.append("----\n" + pr + "\n----")
    D.append("")

if args.findings and os.path.exists(args.findings):
    # The WebSocket findings, after this mark, go to tools/bench/ws's section.
    fd = readf(args.findings).split("// ws-findings", 1)[0].rstrip()
    m = re.search(r"^\s*([0-9,]+) \(100.0%\)\s+PROGRAM TOTALS", prof, re.M)
    pn = readf(os.path.join(args.work, "profile.n")).strip()
    ipr = (f"{int(m.group(1).replace(',', '')) / int(pn):,.0f}"
           if m and pn.isdigit() else "?")
    subst = {
        "PROFILE_RUN": time.strftime("%Y-%m-%d"),
        "INSTR_PER_REQ": ipr,
        "SC64": fmt(get("syscalls_c64", 1, "nghttpw")) or "?",
        "SC64_NGINX": fmt(get("syscalls_c64", 1, "nginx")) or "?",
        "SC1": fmt(get("syscalls_c1", 1, "nghttpw")) or "?",
        "SC1_NGINX": fmt(get("syscalls_c1", 1, "nginx")) or "?",
        "MEM_NGHTTPW": fmt(get("mem_conn", 1, "nghttpw")) or "?",
        "MEM_NGINX": fmt(get("mem_conn", 1, "nginx")) or "?",
        "MEM_NGHTTPW_BIG": fmt(get("mem_conn_big", 1, "nghttpw")) or "?",
        "MEM_NGINX_BIG": fmt(get("mem_conn_big", 1, "nginx")) or "?",
        "MEM_CONNS_BIG": fmt(get("mem_conns_big", 1, "nghttpw")) or "?",
    }
    for k, v in subst.items():
        fd = fd.replace("@" + k + "@", v)
    D.append(fd)
    D.append("")

# The other scripts (tools/bench/ws, tools/bench/static, ...) write their
# sections between marker lines: keep every one, in its order.
for _, block in blocks(readf(args.out)):
    D.append(block)
    D.append("")
with open(args.out, "w") as f:
    f.write("\n".join(D).rstrip("\n") + "\n")
