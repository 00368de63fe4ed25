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
from collections import defaultdict

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from bench_common import blocks, pkgver, readf, sh  # noqa: E402

ap = argparse.ArgumentParser()
for a in ("results", "notes", "work", "out", "findings", "stage"):
    ap.add_argument("--" + a)
for a in ("reps", "dur", "lreps", "idle", "idle-big", "rate", "lconns", "client-k",
          "syscall-n", "quick"):
    ap.add_argument("--" + a, type=int)
args = ap.parse_args()

raw = defaultdict(list)
with open(args.results) as f:
    for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 4:
            continue
        metric, thr, impl, val = parts
        raw[(metric, thr, impl)].append(val)


def med(metric, thr, impl):
    vals = raw.get((metric, str(thr), impl))
    if not vals:
        return None
    nums = [float(v) for v in vals if re.fullmatch(r"[0-9.]+", v)]
    if not nums:
        return "fail"
    return statistics.median(nums)


def nruns(metric, thr, impl):
    vals = raw.get((metric, str(thr), impl), [])
    return len([v for v in vals if re.fullmatch(r"[0-9.]+", v)]), len(vals)


def fmt(v, unit=""):
    if v is None:
        return None
    if v == "fail":
        return "failed"
    if v >= 100:
        s = f"{v:,.0f}"
    elif v >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


NAMES = {"nghttpw": "nghttpw", "nginx": "nginx", "nng": "nng 1.5",
         "mhd": "libmicrohttpd", "raw": "raw writev", "curl": "libcurl multi",
         "nghttpw_conn": "nghttpw conn_transact",
         "ceiling": "epoll ceiling (no HTTP)"}

# (label, metric, threads, main impl, peers, unit, better)
ROWS = []
for m, lab in (("rps_c64", "req/s, wrk -c 64"),
               ("rps_c512", "req/s, wrk -c 512"),
               ("rps_pipe16", "req/s, pipelined x16, -c 64")):
    for t in (1, 2):
        ROWS.append((lab, m, t, "nghttpw", ["nginx", "nng", "mhd", "ceiling"], "", "higher"))
# Requests per second of server CPU (user + kernel), from the two rows
# below: the efficiency measure that does not depend on whether the load
# generator or the server is the bottleneck.
for t in (1, 2):
    for impl in ("nghttpw", "nginx", "nng", "mhd", "ceiling"):
        u, k = med("cpu_user_us", t, impl), med("cpu_sys_us", t, impl)
        if isinstance(u, float) and isinstance(k, float) and u + k > 0:
            raw[("cpu_rps", str(t), impl)].append(str(1e6 / (u + k)))
    ROWS.append(("req per server CPU-second, -c 64", "cpu_rps", t, "nghttpw",
                 ["nginx", "nng", "mhd", "ceiling"], "", "higher"))
for m, lab in (("cpu_user_us", "server CPU us/request in user space, -c 64"),
               ("cpu_sys_us", "server CPU us/request in the kernel, -c 64")):
    for t in (1, 2):
        ROWS.append((lab, m, t, "nghttpw", ["nginx", "nng", "mhd", "ceiling"], "", "lower"))
for m, lab in (("lat_p50", f"latency p50 at {args.rate}/s (us)"),
               ("lat_p99", f"latency p99 at {args.rate}/s (us)")):
    for t in (1, 2):
        ROWS.append((lab, m, t, "nghttpw", ["nginx", "nng", "mhd", "ceiling"], "", "lower"))
ROWS.append((f"bytes per idle keep-alive conn, {args.idle} conns", "mem_conn", 1,
             "nghttpw", ["nginx", "nng", "mhd"], "", "lower"))
ROWS.append((f"bytes per idle keep-alive conn, {args.idle_big} conns", "mem_conn_big", 1,
             "nghttpw", ["nginx", "nng", "mhd"], "", "lower"))
ROWS.append(("bulk 1 GiB, MB/s", "bulk", 1, "nghttpw", ["raw"], "", "higher"))
ROWS.append((f"client req/s vs nginx, {args.client_k} in flight", "client", 1,
             "nghttpw", ["nghttpw_conn", "curl", "nng"], "", "higher"))
for t in (1, 2):
    ROWS.append(("https req/s, wrk -c 64", "tls_c64", t, "nghttpw", ["nginx"],
                 "", "higher"))
ROWS.append(("syscalls/request, 1 conn", "syscalls_c1", 1, "nghttpw", ["nginx"],
             "", "lower"))
ROWS.append(("syscalls/request, 64 conns", "syscalls_c64", 1, "nghttpw",
             ["nginx"], "", "lower"))
ROWS.append(("reads + writes/request, 64 conns", "syscalls_io_c64", 1, "nghttpw",
             ["nginx"], "", "lower"))


def ratio(a, b):
    if not isinstance(a, float) or not isinstance(b, float) or b == 0:
        return None
    return a / b


table = []  # (label, thr, main, [(peer, value, ratio)], better)
for lab, m, t, main, peers, unit, better in ROWS:
    mv = med(m, t, main)
    if mv is None:
        continue
    cells = []
    for p in peers:
        pv = med(m, t, p)
        if pv is None:
            continue
        cells.append((p, pv, ratio(mv, pv)))
    table.append((lab, t, mv, cells, better))


def row_text(r):
    lab, t, mv, cells, better = r
    peers = []
    for p, pv, rt in cells:
        s = f"{NAMES[p]} {fmt(pv)}"
        if (better == "higher" and isinstance(pv, float) and isinstance(mv, float)
                and pv < 0.02 * mv):
            s += " (stalls: see notes)"
        elif rt is not None:
            s += f" ({rt:.2f}x)"
        peers.append(s)
    return lab, str(t), fmt(mv), peers, better


def get(m, t, p):
    return med(m, t, p)


# Targets.
targets = []


def target(name, checks, need, prec=2):
    """checks: list of (what, ratio or None); need: (op, bound)."""
    op, bound = need
    vals = [(w, r) for w, r in checks if r is not None]
    if not vals:
        targets.append((name, "NOT MEASURED", "no data"))
        return
    ok = all((r >= bound) if op == ">=" else (r <= bound) for _, r in vals)
    detail = ", ".join(f"{w}: {r:.{prec}f}" for w, r in vals)
    targets.append((name, "met" if ok else "MISSED", detail))


srv = []
for m, lab in (("rps_c64", "c64"), ("rps_c512", "c512")):
    for t in (1, 2):
        srv.append((m, lab, t))
target("server >= 1.3x nginx req/s at equal workers (-c 64 and -c 512, 1 and 2 threads)",
       [(f"{lab} T={t}", ratio(get(m, t, "nghttpw"), get(m, t, "nginx"))) for m, lab, t in srv],
       (">=", 1.3))
target("server >= 2x nng req/s",
       [(f"{lab} T={t}", ratio(get(m, t, "nghttpw"), get(m, t, "nng"))) for m, lab, t in srv],
       (">=", 2.0))
target("idle keep-alive connection memory <= 0.5x nginx's",
       [(f"nghttpw/nginx bytes, {args.idle} conns",
         ratio(get("mem_conn", 1, "nghttpw"), get("mem_conn", 1, "nginx"))),
        (f"nghttpw/nginx bytes, {args.idle_big} conns",
         ratio(get("mem_conn_big", 1, "nghttpw"), get("mem_conn_big", 1, "nginx")))],
       ("<=", 0.5))
target("bulk write_all >= 0.9x raw writev",
       [("nghttpw/raw", ratio(get("bulk", 1, "nghttpw"), get("bulk", 1, "raw")))],
       (">=", 0.9))
target("client >= 1.2x libcurl multi req/s",
       [("client_transact/curl", ratio(get("client", 1, "nghttpw"), get("client", 1, "curl")))],
       (">=", 1.2))
sc = get("syscalls_c64", 1, "nghttpw")
sc1 = get("syscalls_c1", 1, "nghttpw")
sio = get("syscalls_io_c64", 1, "nghttpw")
target("<= 2 syscalls per keep-alive request in steady state, one read and one write (64 connections)",
       [("reads+writes/request", sio if isinstance(sio, float) else None)],
       ("<=", 2.0), 3)
if targets[-1][1] != "NOT MEASURED" and isinstance(sc, float):
    scn = get("syscalls_c64", 1, "nginx")
    name, st, det = targets[-1]
    targets[-1] = (name, st, det + f"; all syscalls incl. epoll_wait: {sc:.3f}"
                   + (f" (nginx {scn:.3f})" if isinstance(scn, float) else ""))

def ceiling_lines():
    """How far the canned-answer epoll loop (the most any server can do on
    this kernel and CPU) is above nginx, and where nghttpw stands."""
    out = []
    for m, lab in (("rps_c64", "c64"), ("rps_c512", "c512")):
        for t in (1, 2):
            c, n, x = get(m, t, "ceiling"), get(m, t, "nginx"), get(m, t, "nghttpw")
            if not all(isinstance(v, float) for v in (c, n, x)):
                continue
            out.append(f"{lab} T={t}: epoll ceiling = {c / n:.2f}x nginx; "
                       f"nghttpw at {x / c:.0%} of the ceiling, nginx at {n / c:.0%}")
    for t in (1, 2):
        c, n, x = get("cpu_rps", t, "ceiling"), get("cpu_rps", t, "nginx"), get("cpu_rps", t, "nghttpw")
        if all(isinstance(v, float) for v in (c, n, x)):
            out.append(f"requests per server CPU-second T={t}: epoll ceiling = {c / n:.2f}x nginx; "
                       f"nghttpw = {x / n:.2f}x nginx")
    return out


hdr = ("measure", "thr", "nghttpw", "peers: value (nghttpw / peer)")


def text_table():
    rows = [row_text(r) for r in table]
    w0 = max(len(hdr[0]), *(len(r[0]) for r in rows))
    w2 = max(len(hdr[2]), *(len(r[2]) for r in rows))
    out = [f"{hdr[0]:<{w0}}  {hdr[1]:>3}  {hdr[2]:>{w2}}  {hdr[3]}"]
    out.append("-" * (w0 + w2 + 60))
    for lab, t, mv, peers, better in rows:
        out.append(f"{lab:<{w0}}  {t:>3}  {mv:>{w2}}  " + " | ".join(peers)
                   + ("" if better == "higher" else "   [lower is better]"))
    out.append("")
    out.append("targets:")
    for name, st, det in targets:
        out.append(f"  {st:<12} {name}  [{det}]")
    if isinstance(sc1, float):
        out.append(f"  (info)       syscalls/request with 1 connection: {sc1:.2f}")
    for line in ceiling_lines():
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
         + "        # as root on Debian 12; installs wrk, nginx-light, ... with apt\n----")
D.append("")
D.append(f"This run: {'--quick, ' if args.quick else ''}{args.reps} repetitions x {args.dur} s "
         f"per wrk measurement, {args.lreps} x {args.dur} s (+1 s warm-up) per latency "
         f"measurement, {time.strftime('%Y-%m-%d %H:%M %Z')}, nghttpw at {rev}"
         + (" (with uncommitted changes under src/ or include/)" if dirty else "") + ".")
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
D.append("Medians over the repetitions.  The ratio in brackets is nghttpw ÷ peer: "
         "above 1 nghttpw is faster for rates, below 1 it is better for latency, "
         "memory and syscalls.  On this 2-CPU machine only ratios measured in the "
         "same run mean much; absolute numbers move by 10-20% from run to run.")
D.append("")
D.append('[cols="3,1,2,6",options="header"]\n|===')
D.append("| measure | threads | nghttpw | peers: median (nghttpw ÷ peer)")
for r in table:
    lab, t, mv, peers, better = row_text(r)
    D.append(f"| {lab}{'' if better == 'higher' else ' (lower is better)'} | {t} | {mv} | "
             + " +\n".join(peers))
D.append("|===")
D.append("")
D.append("=== Targets (from the issue)")
D.append("")
D.append('[cols="4,1,4",options="header"]\n|===')
D.append("| target | status | ratios")
for name, st, det in targets:
    D.append(f"| {name} | {'*' + st + '*' if st != 'met' else st} | {det}")
D.append("|===")
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
         "divided by the number of requests.")
D.append("")
for name in ("nghttpw", "nginx"):
    for c in (1, 64):
        t = readf(os.path.join(args.work, f"strace-{name}-c{c}.txt"))
        if not t:
            continue
        D.append(f".{name}, {c} connection(s)")
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
* CPU per request: user and system clock ticks of the server process (and
  nginx's workers) from `/proc/PID/stat` before and after each `-c 64`
  run, divided by the requests it served.
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
  recorded.  The generator runs on CPU 1 in both cases.
* Memory: each server alone with 1 thread, after 1 s of load: VmRSS (of
  nginx's master and worker) before and after `src/idle_conns.c` opened
  {args.idle} connections, and again {args.idle_big} (spread over the
  source addresses 127.0.0.2, .3, ...), and made one request on each,
  divided by the connections held.  (ulimit -n is raised by the script,
  as far as the hard limit allows.)  Resident memory does not depend on
  the machine's load, unlike the rates.
* Bulk: `src/bulk.c`: one `nghttpw_http_conn_write_all` of 1 GiB from
  4096 iovs of 256 KiB on an nghttpw TCP stream (1 poller thread) against
  the best a plain program does: non-blocking `sendmsg` of the same iovs
  (`IOV_MAX` at a time, `TCP_NODELAY` as nghttpw sets it) waiting in
  edge-triggered epoll, read by the same blocking reader thread in the
  same process.
* Client: against nginx (1 worker on CPU 0), the client on CPU 1 with
  {args.client_k} exchanges in flight for {args.dur} s:
  `nghttpw_http_client_transact` (the client's idle pool keeps 8
  connections), `nghttpw_http_conn_transact` on {args.client_k} connections,
  libcurl multi with {args.client_k} easy handles re-added on completion,
  and nng 1.5 `nng_http_conn_transact` on {args.client_k} connections (nng 1.5's
  `nng_http_client_transact` dials a new connection every time).
* HTTPS: `nghttpw_server` with the P-256 self-signed certificate made by
  the script against nginx's `ssl` listener on the same files, `wrk -c 64`
  over keep-alive connections (so mostly record encryption, few handshakes).
""")

notes = readf(args.notes).strip()
stalls = []
for lab, t, mv, cells, better in table:
    for p, pv, rt in cells:
        if (better == "higher" and isinstance(pv, float) and isinstance(mv, float)
                and pv < 0.02 * mv):
            stalls.append(f"{NAMES[p]} ({lab}, {t} thread(s)): {fmt(pv)} req/s")
la = readf("/proc/loadavg").split()
if la and max(float(la[0]), float(la[1])) > 5:
    notes = (notes + "\n" if notes else "") + (
        f"Load average at the end of the run: {la[0]} {la[1]} {la[2]} on "
        f"{sh('nproc')} CPUs, of which the benchmark itself accounts for 2 to 4: other "
        "work (builds and tests of other sessions) was competing for the CPUs during the run, so single measurements vary a lot; the medians and "
        "the repetition-major order limit, but do not remove, the effect.")
if stalls:
    notes = (notes + "\n" if notes else "") + (
        "Stalls: " + "; ".join(stalls) + ".  Under 2% of nghttpw's rate: the "
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
if prof:
    tool = readf(os.path.join(args.work, "profile.tool")).strip()
    D.append("== Profile of the nghttpw server (raw)")
    D.append("")
    D.append(f"Made by the script because a target was missed, with {tool}"
             + (" (`perf stat -e instructions` is not supported on this VM)" if tool == "callgrind" else "")
             + ".  Instruction counts (Ir) for the whole run; divide by "
             f"{readf(os.path.join(args.work, 'profile.n')).strip() or '?'} for per-request costs.")
    D.append("")
    D.append("----\n" + prof + "\n----")
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
        "MEM_CONNS": fmt(get("mem_conns", 1, "nghttpw")) or "?",
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
