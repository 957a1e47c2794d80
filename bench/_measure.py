"""What the parse benchmarks share: each parse runs in a child process, so its peak RSS is its own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def report(count: int, started: float) -> None:
    """In the child: print transactions, seconds since ``started`` and peak RSS, as one JSON line."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"transactions": count, "seconds": time.perf_counter() - started, "rss_mib": rss}))


def parse_with_conciliador(module: str, format_class: str, path: str, *, stub_ordinals: bool) -> None:
    """In the child: parse ``path`` with a conciliador format and report. ``stub_ordinals`` replaces
    the core's Ordinals with a constant, to show how much memory that table alone takes."""
    import importlib

    from conciliador import StatementLine

    mod = importlib.import_module(module)
    if stub_ordinals:
        mod.Ordinals = lambda: (lambda *args: 0)
    started = time.perf_counter()
    count = 0
    with open(path, "rb") as fh:
        for item in getattr(mod, format_class)().parse(fh, path):
            count += isinstance(item, StatementLine)
    report(count, started)


def run(script: str, path: Path, which: str) -> dict | None:
    """In the parent: run ``script --child PATH WHICH`` and read what it reported."""
    proc = subprocess.run([sys.executable, script, "--child", str(path), which], capture_output=True, text=True)
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
        print(f"  {which}: failed: {err}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])
