"""Learned eigenbasis vs robust-laplacian + scipy eigsh on uniform samples of S^2, one table.

    python benchmarks/spectral.py [--sizes 2000 20000 100000] [--seeds 3] [--threads 1]

Columns per size: fit time (median over seeds; the anchor once), its ratio to the anchor, the
largest principal angle between the first 9 functions and the degree <= 2 spherical harmonics,
the eigenvalue ratio mean(l = 2) / mean(l = 1) (exact: 3), and the angle on 2,000 new points: the
learned basis is evaluated there, the anchor must build a new Laplacian (its time is listed).
Seeds are run where n <= 20,000; 100,000 points run seed 0 only.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import robust_laplacian
import torch
from scipy.sparse.linalg import eigsh

from extremo.equivariant import spherical_harmonics
from extremo.spectral import LearnedEigenbasis


def sphere(n, seed):
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def angle(a, b, w=None):
    w = torch.full((len(a),), 1.0 / len(a), dtype=torch.float64) if w is None else torch.as_tensor(w)
    root = w.sqrt()[:, None]
    s = torch.linalg.svdvals(torch.linalg.qr(root * a)[0].T @ torch.linalg.qr(root * b)[0])
    return math.degrees(math.acos(min(1.0, float(s.min()))))


def anchor(x):
    start = time.perf_counter()
    L, M = robust_laplacian.point_cloud_laplacian(x.numpy())
    vals, vecs = eigsh(L, k=9, M=M, sigma=-1e-8)
    return time.perf_counter() - start, vals, torch.as_tensor(vecs), np.asarray(M.diagonal())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    new = sphere(2000, 12345)
    y_new = spherical_harmonics([0, 1, 2], new)
    print("| n | learned fit s | eigsh fit s | time ratio | learned angle deg | eigsh angle deg "
          "| learned l2/l1 | eigsh l2/l1 | new points: learned angle deg | new points: eigsh rebuild s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        seeds = range(args.seeds) if n <= 20000 else range(1)
        rows = []
        for seed in seeds:
            x = sphere(n, seed)
            basis = LearnedEigenbasis(9, seed=seed).fit(x)
            phi = torch.as_tensor(basis.transform(x)).double()
            lam = basis.eigenvalues_
            rows.append((basis.fit_time_, angle(phi, spherical_harmonics([0, 1, 2], x), basis.measure_),
                         lam[4:9].mean() / lam[1:4].mean(),
                         angle(torch.as_tensor(basis.transform(new)).double(), y_new)))
        rows = np.array(rows)
        med, lo, hi = np.median(rows, 0), rows.min(0), rows.max(0)
        t_anchor, vals, vecs, mass = anchor(sphere(n, 0))
        a_anchor = angle(vecs, spherical_harmonics([0, 1, 2], sphere(n, 0)), mass / mass.sum())
        t_rebuild = anchor(new)[0]
        spread = lambda j, f: f"{med[j]:{f}} [{lo[j]:{f}}, {hi[j]:{f}}]" if len(rows) > 1 else f"{med[j]:{f}}"
        print(f"| {n} | {spread(0, '.1f')} | {t_anchor:.1f} | {med[0] / t_anchor:.2f} | {spread(1, '.2f')} | "
              f"{a_anchor:.2f} | {spread(2, '.3f')} | {(vals[4:9].mean() / vals[1:4].mean()):.3f} | "
              f"{spread(3, '.2f')} | {t_rebuild:.2f} |", flush=True)


if __name__ == "__main__":
    main()
