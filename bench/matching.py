"""Matching benchmark: `python bench/matching.py [--lines N --items N --customers N --seed S --json]`.

The same as `conciliador bench matching`. The default mix is 20,000 lines against 100,000 open
items of 2,500 customers; the scale run of the issue is
`--lines 100000 --items 1000000 --customers 20000`. See conciliador/matching/bench.py (the
folder matching/) for what the data set draws from, and the targets it checks.
"""

import sys

from conciliador.cli import app

if __name__ == "__main__":
    sys.exit(app(["bench", "matching", *sys.argv[1:]]))
