"""Record sweep: a thin front to ``extremo sweep`` (one table per campaign, against the records).

    python benchmarks/sweep.py circles-sum-radii --n 2-40 --time 20
    python benchmarks/sweep.py points-min-distance --d 2 --n 2-30 --time 60 --seeds 3

Every argument is passed on to ``extremo sweep`` (see ``extremo sweep --help`` and docs/sweep.md);
the summary (``summary.md``, ``summary.csv``, ``index.html``) lands in ``--out`` (default ``sweep``).
"""

from __future__ import annotations

import sys

from extremo.cli import main

if __name__ == "__main__":
    sys.argv = ["extremo", "sweep", *sys.argv[1:]]
    main()
