"""A/B test of one search setting on instances held out from tuning.

Every (size, seed) runs ``extremo.discover`` twice, once with the problem's default settings and
``KEY = A``, once with ``KEY = B``, each on one worker and one torch thread for ``--time`` seconds;
``--jobs`` runs go side by side (2 on this machine: A and B of one pair run at the same time, so
they see the same load). One table: per instance and seed the two values and their gaps to the
record, then how often B beats, ties (1e-9) or loses to A and the median of ``B - A``.
``--store FILE``: every run gets its own copy of this run store (e.g. a sweep's, whose bests of
the neighbouring sizes the ``neighbours`` setting starts from); the file itself is not changed.
``--trees A,B`` tests a change of code instead of a setting: A runs the package from source tree
``A/src``, B from ``B/src`` (e.g. a clean clone of the last commit and the work tree), each run in
a fresh process, all settings at their defaults.

    python benchmarks/ab.py circles-sum-radii --n 27 29 35 41 47 --seeds 0 1 2 3 \\
        --time 90 --setting screen=false,true
    python benchmarks/ab.py circles-sum-radii --n 34 38 39 40 --seeds 0 --time 300 \\
        --setting neighbours=0,1 --store benchmarks/results/standings.sqlite
    python benchmarks/ab.py circles-sum-radii --n 34 38 --time 300 --trees /tmp/head,.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path


def _run(job: tuple) -> tuple:
    name, size_key, size, seed, settings, seconds, store_path, tree = job
    if tree:
        sys.path.insert(0, str(Path(tree).resolve() / "src"))
    import torch

    torch.set_num_threads(1)
    from extremo.discover import discover
    from extremo.problems import make
    from extremo.search.local import SearchSettings
    from extremo.store import Store

    p = make(name, **{size_key: size})
    with tempfile.TemporaryDirectory() as out:
        store = None
        if store_path:
            copy = Path(out) / "runs.sqlite"
            with sqlite3.connect(store_path) as src, sqlite3.connect(copy) as dst:
                src.backup(dst)
            store = Store(copy)
        r = discover(p, seconds, workers=1, seed=seed, out=out, store=store,
                     settings=SearchSettings(**{**p.search_defaults, **settings}))
        if store is not None:
            store.close()
    rec = p.record()
    return r.value, rec.value if rec else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problem")
    ap.add_argument("--n", type=int, nargs="+", required=True, help="the held-out sizes")
    ap.add_argument("--size-key", default="n", help="the instance parameter the sizes set (n, N)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--time", type=float, default=90.0)
    ap.add_argument("--jobs", type=int, default=2)
    arms = ap.add_mutually_exclusive_group(required=True)
    arms.add_argument("--setting", help="KEY=A,B with A and B as JSON, e.g. screen=false,true")
    arms.add_argument("--trees", help="A,B: two source trees (checkouts) whose code is compared")
    ap.add_argument("--store", help="a run store each run starts from a copy of")
    a = ap.parse_args()
    if a.trees:
        key, (va, vb) = "tree", a.trees.split(",")
        arms = [({}, va), ({}, vb)]
    else:
        key, values = a.setting.split("=", 1)
        va, vb = (json.loads(v) for v in values.split(","))
        arms = [({key: va}, ""), ({key: vb}, "")]
    jobs = [(a.problem, a.size_key, n, s, settings, a.time, a.store, tree)
            for n in a.n for s in a.seeds for settings, tree in arms]
    # a fresh process per run when the arms import different code
    with mp.get_context("spawn").Pool(a.jobs, maxtasksperchild=1 if a.trees else None) as pool:
        res = pool.map(_run, jobs, chunksize=1)
    print(f"| {a.size_key} | seed | record | {key}={va} | gap | {key}={vb} | gap |")
    print("|---|---|---|---|---|---|---|")
    diffs = []
    for k, (n, s) in enumerate((n, s) for n in a.n for s in a.seeds):
        (x, rec), (y, _) = res[2 * k], res[2 * k + 1]
        diffs.append(y - x)
        print(f"| {n} | {s} | {rec:.10f} | {x:.10f} | {(rec - x) / rec:.2e} | {y:.10f} | {(rec - y) / rec:.2e} |")
    better = sum(d > 1e-9 for d in diffs)
    worse = sum(d < -1e-9 for d in diffs)
    print(f"\n{key}={vb} against {key}={va}: better {better}, worse {worse}, "
          f"equal {len(diffs) - better - worse}; median B - A {statistics.median(diffs):.2e}")


if __name__ == "__main__":
    main()
