"""Every bank format's parse benchmark, one after the other: `python bench/parse.py [--n 100000]`.

Each bench/parse_<format>.py generates a realistic file of n transactions (and a smaller one, to
show that peak memory does not grow with the file), parses it through conciliador's format in a
child process, prints lines/second and peak RSS, and, where a maintained Python library reads the
same format (mt-940, bai2, ofxtools, pycamt), runs it on the same file and prints the ratio. Those
libraries are not dependencies: install them into the virtualenv to see the comparison.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FORMATS = ["camt", "mt940", "bai2", "ofx", "asobancaria"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="transactions in the large file of each format")
    parser.add_argument("--only", choices=FORMATS, action="append", help="run only these formats")
    args = parser.parse_args()
    failed = 0
    for name in args.only or FORMATS:
        print(f"== {name}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / f"parse_{name}.py"), "--n", str(args.n)])
        failed += result.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
