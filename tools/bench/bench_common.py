"""What the report scripts of tools/bench share: running a command,
reading a file, a package's version, and the sections of PERFORMANCE.adoc.

The sections are those that scripts other than tools/bench/run
write (tools/bench/ws, tools/bench/static, ...): each is the text from a
line "// BEGIN <name> section..." (anything may follow the name) to the
line "// END <name> section".  run rewrites the file and keeps them all;
each script replaces its own and leaves the others alone."""
import re
import statistics
import subprocess
from collections import defaultdict

_BEGIN = re.compile(r"^// BEGIN (.+? section)\b.*$", re.M)


def blocks(text):
    """[(name, block)] in the order of the file, each block from the start
    of its BEGIN line to the end of its END line.  A BEGIN line without its
    END is not a block."""
    out = []
    pos = 0
    while True:
        m = _BEGIN.search(text, pos)
        if m is None:
            return out
        end = re.compile(r"^// END " + re.escape(m.group(1)) + r"[ \t]*$",
                         re.M).search(text, m.end())
        if end is None:
            pos = m.end()
            continue
        out.append((m.group(1), text[m.start():end.end()]))
        pos = end.end()


def put(text, name, block):
    """text with the section called name replaced by block (which has its
    own marker lines), or block added at the end when there is none."""
    block = block.rstrip("\n") + "\n"
    for n, old in blocks(text):
        if n == name:
            i = text.index(old)
            post = text[i + len(old):].lstrip("\n")
            return text[:i] + block + ("\n" + post if post else "")
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block


def sh(cmd):
    """The output of a shell command, stripped; "" when it fails."""
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except Exception:
        return ""


def readf(path, default=""):
    """A file's text, or default when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def pkgver(package):
    """The installed version of a Debian package."""
    return sh(f"dpkg-query -W -f='${{Version}}' {package} 2>/dev/null") or "not installed"


def fmt(v):
    """A median for a table: None stays None, "fail" reads "failed",
    other strings pass; numbers get fewer decimals as they grow."""
    if v is None:
        return None
    if isinstance(v, str):
        return "failed" if v == "fail" else v
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def ratio(a, b):
    """a / b when both are numbers and b is positive, else None."""
    if isinstance(a, float) and isinstance(b, float) and b > 0:
        return a / b
    return None


def read_results(path):
    """A results.tsv (metric, threads or case, implementation, value per
    line) as {(metric, threads, implementation): [value, ...]}."""
    raw = defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4:
                raw[tuple(parts[:3])].append(parts[3])
    return raw


def is_number(v):
    """Whether a recorded value is a measurement ("n/a" and "fail" are not)."""
    return re.fullmatch(r"[0-9.]+", v) is not None


def median(raw, metric, thr, impl):
    """The median of the numbers recorded, None when nothing was, else
    "n/a" or "fail" as recorded."""
    vals = raw.get((metric, str(thr), impl))
    if not vals:
        return None
    nums = [float(v) for v in vals if is_number(v)]
    if nums:
        return statistics.median(nums)
    return "n/a" if "n/a" in vals else "fail"
