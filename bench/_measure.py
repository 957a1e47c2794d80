"""What the parse benchmarks share: each parse runs in a child process, so its peak RSS is its own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB. Linux's ``VmHWM`` first: ``ru_maxrss`` carries over the
    peak of the parent that forked the child (it is kept across exec), so a large benchmark parent
    would show as the child's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    scale = 2**20 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def report(count: int, started: float, cpu_started: float | None = None) -> None:
    """In the child: print transactions, wall seconds since ``started`` (``time.perf_counter``),
    CPU seconds since ``cpu_started`` (``time.process_time``; the one-core figure, which other
    processes on the machine do not inflate as they do wall time) and peak RSS, as one JSON line."""
    rss = peak_rss_mib()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started if cpu_started is not None else seconds
    print(json.dumps({"transactions": count, "seconds": seconds, "cpu": cpu, "rss_mib": rss}))


def parse_with_conciliador(module: str, format_class: str, path: str, *, stub_ordinals: bool) -> None:
    """In the child: parse ``path`` with a conciliador format and report. ``stub_ordinals`` replaces
    the core's Ordinals with a constant, to show how much memory that table alone takes."""
    import importlib

    from conciliador import StatementLine

    mod = importlib.import_module(module)
    if stub_ordinals:
        mod.Ordinals = lambda: (lambda *args: 0)
    started, cpu_started = time.perf_counter(), time.process_time()
    count = 0
    with open(path, "rb") as fh:
        for item in getattr(mod, format_class)().parse(fh, path):
            count += isinstance(item, StatementLine)
    report(count, started, cpu_started)


def run(script: str, path: Path, which: str) -> dict | None:
    """In the parent: run ``script --child PATH WHICH`` and read what it reported."""
    proc = subprocess.run([sys.executable, script, "--child", str(path), which], capture_output=True, text=True)
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
        print(f"  {which}: failed: {err}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])
