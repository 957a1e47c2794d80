"""Benchmark of the ``asobancaria-2001`` format: lines per second and peak memory.

    python bench/parse_asobancaria.py [--n 100000]

Generates a realistic collection file (one 01, lots of up to 5,000 collections, 162-character
CRLF records, references that are invoice numbers, mixed origins and payment means), parses it
in a child process (so the peak RSS is that of parsing alone) for n/10 and n collections, and
prints both: the peak must not grow with n. No maintained Python library reads Asobancaria 2001
(reference section 7), so there is no comparison.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

W = 162
LOT_SIZE = 5000


def generate(path: Path | str, n: int, *, seed: int = 2001) -> None:
    """Write an Asobancaria 2001 file of ``n`` collections to ``path``."""
    rng = random.Random(seed)
    path = Path(path)
    file_count = file_total = 0
    with open(path, "w", encoding="ascii", newline="\r\n") as out:
        out.write(f"01{8909001234:010d}20261120007{69812345678:017d}202611210615A02".ljust(W) + "\n")
        lot = 0
        while file_count < n:
            lot += 1
            out.write(f"05{7709998001234:013d}{lot:04d}".ljust(W) + "\n")
            lot_count = lot_total = 0
            for seq in range(1, min(LOT_SIZE, n - file_count) + 1):
                cents = rng.randrange(1_000_00, 50_000_000_00)
                origin, means = rng.choice([("01", "01"), ("01", "02"), ("03", "15"), ("07", "23"), ("05", "12")])
                ref = 100000 + rng.randrange(900000)
                out.write(f"06{ref:048d}{cents:014d}{origin}{means}{rng.randrange(10**6):06d}000000"
                          f"{rng.choice(['007', '051', '001', '013'])}{rng.randrange(10**4):04d}{seq:07d}000".ljust(W)
                          + "\n")
                lot_count += 1
                lot_total += cents
            out.write(f"08{lot_count:09d}{lot_total:018d}{lot:04d}".ljust(W) + "\n")
            file_count += lot_count
            file_total += lot_total
        out.write(f"09{file_count:09d}{file_total:018d}".ljust(W) + "\n")


def measure(path: Path) -> dict:
    """Parse ``path`` through the format; run in a fresh process."""
    from conciliador import StatementLine
    from conciliador.plugins.banks.asobancaria import Asobancaria2001

    fmt = Asobancaria2001()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    lines = 0
    with open(path, "rb") as fh:
        for item in fmt.parse(fh, path.name):
            lines += isinstance(item, StatementLine)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    return {"lines": lines, "seconds": elapsed, "peak_mib": peak * scale / 2**20,
            "import_mib": before * scale / 2**20}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="collections in the larger file")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in (max(args.n // 10, 1), args.n):
            path = Path(tmp) / f"recaudo_{n}.txt"
            generate(path, n)
            size = path.stat().st_size
            out = subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True,
                                 capture_output=True, text=True).stdout
            r = json.loads(out)
            print(f"asobancaria-2001  n={n:>9,}  file={size / 2**20:7.1f} MiB  {r['lines'] / r['seconds']:>9,.0f} lines/s  "
                  f"peak RSS {r['peak_mib']:6.1f} MiB (after imports {r['import_mib']:.1f} MiB)")
    print("no maintained Python library reads Asobancaria 2001: no comparison")


if __name__ == "__main__":
    main()
