#!/usr/bin/env python3
"""The plots of tools/bench/run, from its results file, with gnuplot (SVG):

  rps-conns-<T>t.svg   median requests/s against the number of wrk
                       connections (rps_c<N> rows), one line per server,
                       T = 1 and 2 server threads
  latency-<T>t.svg     the latency distribution at loadgen's fixed rate
                       (latq_<X> rows: the latency at quantile 1 - 1/X,
                       median over the repetitions), HDR-style: X on a log
                       scale, labelled with the percentile

The data files and the gnuplot script are left in --work/plots/ beside
the results; the SVGs go to --out.  Run again on a results file to redraw
them."""
import argparse
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from bench_common import median, read_results  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--results", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--rate", type=int, default=10000)
ap.add_argument("--lconns", type=int, default=32)
args = ap.parse_args()

raw = read_results(args.results)

# Line title and style per server, in the order of the key; the same
# colours in every plot.
SERVERS = [
    ("nghttpw", "nghttpw, epoll", "lc rgb '#1f4e9c' lw 2.5 pt 7"),
    ("nghttpw_uring", "nghttpw, io_uring", "lc rgb '#2ca6e0' lw 2.5 pt 5"),
    ("nginx", "nginx", "lc rgb '#2e9d3a' lw 2 pt 9"),
    ("nng", "nng 1.5", "lc rgb '#e07b00' lw 2 pt 11"),
    ("mhd", "libmicrohttpd", "lc rgb '#8a3ab9' lw 2 pt 13"),
    ("ceiling", "epoll ceiling (no HTTP)", "lc rgb '#808080' lw 1.5 dt 2 pt 1"),
]
TERM = "set terminal svg size 820,540 noenhanced font 'sans,13' background '#ffffff'"

data_dir = os.path.join(args.work, "plots")
os.makedirs(data_dir, exist_ok=True)
os.makedirs(args.out, exist_ok=True)


def series(prefix, thr, impl, key):
    """[(x, median)] of the rows named prefix + something, sorted by x =
    key(something); failed runs are left out."""
    pts = []
    for metric, t, i in raw:
        if t != str(thr) or i != impl or not metric.startswith(prefix):
            continue
        x = key(metric[len(prefix):])
        v = median(raw, metric, thr, impl)
        if x is not None and isinstance(v, float):
            pts.append((x, v))
    return sorted(pts)


def num(s):
    return float(s) if re.fullmatch(r"[0-9.e+]+", s) else None


def plot(name, settings, lines):
    """lines: [(title, style, [(x, y)])]; writes name.svg when any line has
    points."""
    lines = [ln for ln in lines if ln[2]]
    if not lines:
        print(f"{name}: no data")
        return
    plots = []
    for k, (title, style, pts) in enumerate(lines):
        dat = os.path.join(data_dir, f"{name}-{k}.dat")
        with open(dat, "w") as f:
            f.write(f"# {title}\n")
            for x, y in pts:
                f.write(f"{x:g} {y:g}\n")
        plots.append(f"'{dat}' using 1:2 with linespoints {style} title '{title}'")
    svg = os.path.join(args.out, name + ".svg")
    gp = os.path.join(data_dir, name + ".gp")
    with open(gp, "w") as f:
        f.write(f"{TERM}\nset output '{svg}'\n{settings}\n")
        f.write("plot " + ", \\\n     ".join(plots) + "\n")
    subprocess.run(["gnuplot", gp], check=True)
    print(f"{svg}: {len(lines)} lines")


for t in (1, 2):
    thr = "1 server thread: server on CPU 0, wrk on CPU 1" if t == 1 else \
        "2 server threads: server and wrk -t 2 share both CPUs"
    lthr = "1 server thread: server on CPU 0" if t == 1 else \
        "2 server threads: server on both CPUs"
    plot(f"rps-conns-{t}t", f"""
set title "Requests/s against connections (wrk, keep-alive)\\n{thr}"
set logscale x 2
set xtics (1, 8, 64, 256, 512, 1024)
set xrange [0.8:1300]
set xlabel "wrk connections"
set ylabel "requests/s (median)"
set yrange [0:*]
set format y "%.0s%c"
set grid
set key outside bottom center horizontal maxcols 3
""", [(title, style, series("rps_c", t, impl, lambda s: int(s) if s.isdigit() else None))
      for impl, title, style in SERVERS])
    plot(f"latency-{t}t", f"""
set title "Latency at a fixed {args.rate:,} req/s over {args.lconns} connections\\n{lthr}, loadgen open on CPU 1"
set logscale x 10
set xtics ("0%%" 1, "50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000)
set xlabel "percentile"
set rmargin 6
set logscale y 10
set format y "%.0f"
set ylabel "latency (µs), median of the runs"
set grid
set key outside bottom center horizontal maxcols 3
""", [(title, style, series("latq_", t, impl, num)) for impl, title, style in SERVERS])
