#!/usr/bin/env python3
"""Turns tools/bench/ws's raw results (metric, threads, impl, value per
line, as tools/bench/run writes them) into a table of medians with ratios
to nghttpw (--stage table, to stdout) and the WebSocket section of
PERFORMANCE.adoc (--stage doc): the text between the two markers below is
replaced, or added at the end; tools/bench/report.py keeps it when it
rewrites the rest of the file."""
import argparse
import os
import platform
import re
import time
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from bench_common import fmt, median, pkgver, put, ratio, read_results, readf, sh  # noqa: E402

BEGIN = "// BEGIN WebSocket section: written by tools/bench/ws, kept by tools/bench/run"
END = "// END WebSocket section"
FINDINGS_MARK = "// ws-findings"  # findings.adoc: the WebSocket part follows

ap = argparse.ArgumentParser()
for a in ("results", "notes", "work", "out", "findings", "stage", "rev"):
    ap.add_argument("--" + a)
for a in ("reps", "dur", "idle", "window", "zconns", "quick"):
    ap.add_argument("--" + a, type=int)
args = ap.parse_args()

raw = read_results(args.results)


def med(metric, thr, impl):
    return median(raw, metric, thr, impl)


NAMES = {"nghttpw": "nghttpw", "beast": "Boost.Beast", "node": "node ws",
         "nng": "nng 1.5", "lws": "libwebsockets", "raw": "raw TCP echo (ceiling)"}
ALL = ["beast", "node", "nng", "lws", "raw"]

# (label, metric, threads, peers, better)
ROWS = []
for c in (1, 64):
    for t in (1, 2):
        ROWS.append((f"echo msgs/s, 64 B, {c} conn{'s' if c > 1 else ''}",
                     f"ws_echo_c{c}", t, ALL, "higher"))
for t in (1, 2):
    ROWS.append(("server CPU us per echoed message, 64 conns", "ws_cpu_c64", t, ALL, "lower"))
ROWS.append((f"1 MiB messages echoed, MB/s ({args.window} in flight)", "ws_bulk", 1, ALL, "higher"))
ROWS.append((f"bytes per idle WebSocket conn ({args.idle:,})", "ws_mem_conn", 1,
             ["beast", "node", "nng", "lws"], "lower"))
ROWS.append((f"deflate: JSON msgs/s, {args.zconns} conns", "ws_z_rate", 1, ["beast", "node"], "higher"))
ROWS.append(("deflate: wire bytes/msg client to server", "ws_z_out", 1, ["beast", "node"], "lower"))
ROWS.append(("deflate: wire bytes/msg server to client", "ws_z_in", 1, ["beast", "node"], "lower"))

table = []
for lab, m, t, peers, better in ROWS:
    mv = med(m, t, "nghttpw")
    cells = [(p, med(m, t, p)) for p in peers if med(m, t, p) is not None]
    if mv is None and not cells:
        continue
    table.append((lab, t, mv, cells, better))


def peer_text(mv, cells):
    out = []
    for p, pv in cells:
        r = ratio(mv, pv)
        out.append(f"{NAMES[p]} {fmt(pv)}" + (f" ({r:.2f}x)" if r is not None else ""))
    return out


targets = []


def target(name, checks, op, bound):
    vals = [(w, r) for w, r in checks if r is not None]
    if not vals:
        targets.append((name, "NOT MEASURED", "no data"))
        return
    ok = all(r >= bound if op == ">=" else r <= bound for _, r in vals)
    targets.append((name, "met" if ok else "MISSED",
                    ", ".join(f"{w}: {r:.2f}" for w, r in vals)))


def echo_checks(peer):
    return [(f"c{c} T={t}", ratio(med(f"ws_echo_c{c}", t, "nghttpw"), med(f"ws_echo_c{c}", t, peer)))
            for c in (1, 64) for t in (1, 2)]


target("small-message echo >= 1.3x Boost.Beast (64 B, 1 and 64 conns, 1 and 2 threads)",
       echo_checks("beast"), ">=", 1.3)
target("small-message echo >= 2x node's ws (1 thread: node has one)", echo_checks("node"), ">=", 2.0)
target("small-message echo >= 2x nng 1.5", echo_checks("nng"), ">=", 2.0)
target("1 MiB throughput >= 0.9x the raw TCP ceiling",
       [("nghttpw/raw", ratio(med("ws_bulk", 1, "nghttpw"), med("ws_bulk", 1, "raw")))], ">=", 0.9)
target("idle WebSocket connection <= 0.5x Boost.Beast's memory",
       [("nghttpw/Beast bytes", ratio(med("ws_mem_conn", 1, "nghttpw"), med("ws_mem_conn", 1, "beast")))],
       "<=", 0.5)

if args.stage == "table":
    rows = [(lab, str(t), fmt(mv) or "-", peer_text(mv, cells), b) for lab, t, mv, cells, b in table]
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
    raise SystemExit(0)


# ------------------------------------------------------------ the section


top = os.path.dirname(os.path.abspath(args.out))
rev = args.rev or sh(f"git -C {top} rev-parse --short HEAD")
# Uncommitted library changes count only when the work tree was built.
dirty = "" if args.rev and "BENCH_REV" in args.rev else \
    sh(f"git -C {top} status --porcelain -- src include | head -1")
wsver = sh(f"node -p \"require('{top}/build/bench/ws-peers/node_modules/ws/package.json').version\" 2>/dev/null")

D = [BEGIN, "== WebSocket", ""]
D.append("Measured by `tools/bench/ws` (see `tools/bench/README.adoc`), which "
         "rewrites this section only; `tools/bench/run` keeps it.")
D.append("")
D.append("[source,sh]\n----\n" + ("BENCH_REV=" + rev.split()[0] + " " if "BENCH_REV" in rev else "") + "bash tools/bench/ws" + (" --quick" if args.quick else "")
         + "        # as root on Debian 12; installs libboost-dev, libwebsockets-dev, ... with apt, ws with npm ci\n----")
D.append("")
D.append(f"This run: {'--quick, ' if args.quick else ''}{args.reps} repetitions x {args.dur} s "
         f"(+1 s warm-up) per measurement, {time.strftime('%Y-%m-%d %H:%M %Z')}, nghttpw at {rev}"
         + (" (with uncommitted changes under src/ or include/)" if dirty else "") + ".")
D.append("")
D.append("=== Machine and peers")
D.append("")
D.append("[cols=\"1,3\"]\n|===")
for k, v in (("CPUs (nproc)", sh("nproc")),
             ("CPU", sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip()),
             ("kernel", platform.release()), ("OS", sh(". /etc/os-release; echo $PRETTY_NAME")),
             ("compilers", sh("cc --version | head -1") + "; " + sh("g++ --version | head -1")),
             ("nghttpw", f"0.1.0 at {rev}, CMake Release (-O3)"),
             ("Boost.Beast", f"Boost {pkgver('libboost-dev')} (libboost-dev), g++ -O2"),
             ("node / ws", f"{sh('node --version')} / ws {wsver or '?'} (npm ci from tools/bench/ws-peers/package-lock.json; no bufferutil)"),
             ("nng", pkgver("libnng-dev")), ("libwebsockets", pkgver("libwebsockets-dev")),
             ("zlib (load generator)", pkgver("zlib1g-dev"))):
    D.append(f"| {k} | {v}")
D.append("|===")
D.append("")
D.append("=== Results")
D.append("")
D.append("Medians over the repetitions; in brackets nghttpw ÷ peer (above 1 "
         "nghttpw is faster for rates; below 1 it is better for CPU, memory and "
         "bytes).  node's ws and Debian's libwebsockets (built with LWS_MAX_SMP 1) "
         "serve on one thread, so they appear in the 1-thread rows only.")
D.append("")
D.append('[cols="3,1,2,6",options="header"]\n|===')
D.append("| measure | threads | nghttpw | peers: median (nghttpw ÷ peer)")
for lab, t, mv, cells, better in table:
    D.append(f"| {lab}{'' if better == 'higher' else ' (lower is better)'} | {t} | "
             f"{fmt(mv) or '-'} | " + " +\n".join(peer_text(mv, cells)))
D.append("|===")
D.append("")
D.append("==== Targets (from issue 12)")
D.append("")
D.append('[cols="4,1,4",options="header"]\n|===')
D.append("| target | status | ratios")
for name, st, det in targets:
    D.append(f"| {name} | {'*' + st + '*' if st != 'met' else st} | {det}")
D.append("|===")
D.append("")
b, r = med("ws_bulk", 1, "beast"), med("ws_bulk", 1, "raw")
info = []
for p in ("nghttpw", "beast", "node", "nng", "lws"):
    v = med("ws_bulk", 1, p)
    if isinstance(v, float) and isinstance(r, float):
        info.append(f"{NAMES[p]} {v / r:.0%}")
if info:
    D.append("1 MiB throughput as a share of the raw TCP ceiling: " + ", ".join(info) + ".")
    D.append("")
agreed = readf(os.path.join(args.work, "deflate-agreed.txt")).strip()
m = re.search(r"message (\d+) bytes, (\d+) compressed", agreed)
zsize, zlen = (m.group(1), m.group(2)) if m else ("?", "?")
D.append("=== Method")
D.append("")
D.append(f"""* One load generator for all, `tools/bench/src/ws_loadgen.c` (with
  `ws_proto.c`): plain sockets and epoll, edge-triggered, one loop per
  thread.  It makes the opening handshake itself (random
  `Sec-WebSocket-Key`, `Sec-WebSocket-Accept` checked with mbed TLS's
  SHA-1), masks every frame with a fresh key 8 bytes at a time, parses
  the server's frames and compares every echoed byte of small messages
  (the first message of large ones) with what it sent.
* Echo servers, each the plainest asynchronous echo of its library, one
  message at a time per connection, messages of up to 4 MiB accepted:
  `ws_echo_nghttpw.c` (a `ws://` listener, `nghttpw_ws_recv_msg` and
  `nghttpw_ws_send_msg`, I/O threads from `NGHTTPW_INIT_NUM_POLLER_THREADS`),
  `ws_echo_beast.cpp` (`websocket::stream<tcp_stream>`, `async_read` into
  a `flat_buffer`, `async_write`, one `io_context` run by N threads, a
  strand per session), `ws_echo_node.js` (`ws`'s `WebSocketServer`),
  `ws_echo_nng.c` (nng 1.5 `ws://` stream listener, `nng_stream_recv` and
  `nng_stream_send`; nng 1.5 has no thread setting, so the same program
  pinned to 1 or 2 CPUs), `ws_echo_lws.c` (libwebsockets 4.1, rx flow
  control while a message is written back), and `tcp_echo.c`, the raw
  TCP ceiling: an epoll loop writing back the bytes it reads, no framing,
  measured by the same generator with `-r`.
* Echo rate: 64-byte binary messages, one in flight per connection, 1 and
  64 connections, for {args.dur} s after 1 s of warm-up.  1 server thread:
  the server on CPU 0, the generator (1 thread) on CPU 1; 2 server
  threads: both on both CPUs, the generator with 2 threads (so the
  2-thread rows measure efficiency under contention).  Server CPU per
  message: user + system ticks of the server from `/proc/PID/stat`
  around each 64-connection run, divided by the messages echoed.
* Throughput: 1 MiB binary messages echoed (each byte crosses loopback
  twice) on one connection with {args.window} messages ({args.window} MiB) in
  flight, counted as echoed payload bytes (MB = 10^6 bytes); the client
  sends each message as one frame, servers answer in the frames they
  choose.  The ceiling is the same bytes, same window, through
  `tcp_echo`.
* Memory: each server alone with 1 thread, after 1 s of echo on 8
  connections: VmRSS before and after `ws_loadgen idle` opened {args.idle:,}
  WebSocket connections (handshake done, then silent; source addresses
  127.0.0.2-9), divided by the connections held.  The nghttpw and nng
  echoes reserve their 4 MiB receive buffer per connection with `mmap`
  (address space; pages come only when a large message arrives),
  because `nghttpw_ws_recv_msg` and nng's stream receive need the room up
  front, while Beast, node and libwebsockets grow their buffers.
* Deflate: {args.zconns} connections, one message in flight each, offering
  `permessage-deflate; client_max_window_bits`; the message is a
  repetitive JSON text of {zsize} bytes ({zlen} compressed).  The
  generator compresses it once, without context takeover, so its sends
  are the same bytes every time and its CPU stays out of the way; it
  inflates and checks every answer.  Wire bytes are those read from and
  written to the sockets after the handshakes, headers included, per
  echoed message.  Servers with their library's defaults (Beast:
  `permessage_deflate::server_enable`; ws: `perMessageDeflate: true`;
  nghttpw: `NGHTTPW_OPT_WS_DEFLATE`).""")
if agreed:
    D.append("  What the servers answered: " + "; ".join(
        f"{NAMES.get(l.split(':', 1)[0], '?')} `{l.split('agreed to:', 1)[1].strip()}`"
        for l in agreed.splitlines()) + ".")
D.append("")
notes = readf(args.notes).strip()
la = readf("/proc/loadavg").split()
if la and max(float(la[0]), float(la[1])) > 5:
    notes = (notes + "\n" if notes else "") + (
        f"Load average at the end of the run: {la[0]} {la[1]} {la[2]}: other work "
        "was competing for the CPUs, so single measurements vary a lot.")
if notes:
    D.append("=== Notes from this run")
    D.append("")
    for n in notes.splitlines():
        D.append(f"* {n}")
    D.append("")
prof = readf(os.path.join(args.work, "profile.txt")).strip()
if prof:
    D.append("=== Profile of the nghttpw echo server (raw)")
    D.append("")
    D.append("Made by the script because a target was missed: `perf record -g` of "
             "the echo server (1 I/O thread) for 4 s under 64 connections of 64-byte "
             "echoes; self time, top 40.")
    D.append("")
    D.append("----\n" + prof + "\n----")
    D.append("")
for s in ("nghttpw", "beast"):
    t = readf(os.path.join(args.work, f"strace-{s}.txt")).strip()
    if t and prof:
        D.append(f".syscalls per echoed message, {NAMES[s]}, 64 connections (strace -c -f)")
        D.append("[%autowidth]\n|===\n| syscall | calls | per message")
        for line in t.splitlines():
            p = line.split()
            if len(p) == 3:
                D.append(f"| {p[0]} | {int(p[1]):,} | {p[2]}")
        D.append("|===")
        D.append("")
fd = readf(args.findings) if args.findings else ""
if FINDINGS_MARK in fd:
    D.append(fd.split(FINDINGS_MARK, 1)[1].strip())
    D.append("")
D.append(END)
section = "\n".join(D) + "\n"

new = put(readf(args.out), "WebSocket section", section)
with open(args.out, "w") as f:
    f.write(new)
