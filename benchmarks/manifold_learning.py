"""Principal-subbundle distances vs Isomap and potpourri3d's point-cloud heat method, one table.

    python benchmarks/manifold_learning.py [--n 1000] [--sources 3] [--seeds 3] [--roll-seeds 5] [--threads 1]

Rows: noisy unit spheres (sigma = 0.01, 0.03, 0.05): Spearman rank correlation of each method's
distances from ``--sources`` random points to all others with the true great-circle distances of
the clean points (median [min, max] over seeds), and ours / best anchor as a ratio of (1 - rho)
(below 1: ours ranks better). Swiss roll: the same for distances against the intrinsic ones
(the trust-region geodesic solver), and the orthogonal Procrustes error (rotation + translation,
no scaling) of the 2-d embedding against the intrinsic coordinates (arc length, height), ours /
Isomap over ``--roll-seeds`` seeds. Times are medians in seconds, one thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import potpourri3d as pp3d
import torch
from scipy.stats import spearmanr
from sklearn.manifold import Isomap

from extremo.manifold_learning import PrincipalSubbundle


def ranked_with_anchors(x, src, ia, ib, keep, true, ours, t_ours):
    """Spearman correlations with the true distances of ours, Isomap's and the heat method's, and their times."""
    start = time.perf_counter()
    iso = Isomap(n_neighbors=10, n_components=2).fit(x).dist_matrix_[ia, ib][keep]
    t_iso = time.perf_counter() - start
    start = time.perf_counter()
    solver = pp3d.PointCloudHeatSolver(x)
    heat = np.concatenate([solver.compute_distance(s) for s in src])[keep]
    t_heat = time.perf_counter() - start
    return [spearmanr(d, true)[0] for d in (ours, iso, heat)] + [t_ours, t_iso, t_heat]


def sphere_row(n, sigma, sources, seed):
    rng = np.random.default_rng(seed)
    clean = rng.normal(size=(n, 3))
    clean /= np.linalg.norm(clean, axis=1, keepdims=True)
    x = clean + sigma * rng.normal(size=(n, 3))
    src = rng.choice(n, sources, replace=False)
    ia, ib = np.repeat(src, n), np.tile(np.arange(n), sources)
    keep = ia != ib
    true = np.arccos(np.clip((clean[ia] * clean[ib]).sum(1), -1, 1))[keep]
    start = time.perf_counter()
    ours = PrincipalSubbundle(2, n_neighbors=40, iterations=10, trust=None).fit(x).distance(x[ia], x[ib]).numpy()[keep]
    t_ours = time.perf_counter() - start
    return ranked_with_anchors(x, src, ia, ib, keep, true, ours, t_ours)


def procrustes(y, z):
    a, b = y - y.mean(0), z - z.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    return np.linalg.norm(a @ (u @ vt) - b) / np.linalg.norm(b)


def swiss_roll(n, seed):
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.random(n))
    h = 10 * rng.random(n)
    x = np.stack([t * np.cos(t), h, t * np.sin(t)], 1)
    return x, np.stack([0.5 * (t * np.sqrt(1 + t**2) + np.arcsinh(t)), h], 1), rng


def swiss_distance_row(n, sources, seed):
    x, z, rng = swiss_roll(n, seed)
    src = rng.choice(n, sources, replace=False)
    ia, ib = np.repeat(src, n), np.tile(np.arange(n), sources)
    keep = ia != ib
    true = np.linalg.norm(z[ia] - z[ib], axis=1)[keep]
    start = time.perf_counter()
    ours = PrincipalSubbundle(2, n_neighbors=15).fit(x).distance(x[ia], x[ib]).numpy()[keep]
    t_ours = time.perf_counter() - start
    return ranked_with_anchors(x, src, ia, ib, keep, true, ours, t_ours)


def swiss_embedding_row(n, seed):
    x, z, _ = swiss_roll(n, seed)
    start = time.perf_counter()
    ours = procrustes(PrincipalSubbundle(2, n_neighbors=15).fit(x).embed(x).numpy(), z)
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    iso = procrustes(Isomap(n_neighbors=10, n_components=2).fit_transform(x), z)
    return ours, iso, t_ours, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--sources", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--roll-seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fmt = lambda v: f"{np.median(v):.5f} [{np.min(v):.5f}, {np.max(v):.5f}]"
    print("| data | subbundle | Isomap | potpourri3d heat | (1 - rho) ours / best anchor | time s: ours, Isomap, heat |")
    print("|---|---|---|---|---|---|")
    for sigma in (0.01, 0.03, 0.05):
        rows = np.array([sphere_row(args.n, sigma, args.sources, seed) for seed in range(args.seeds)])
        ratio = (1 - np.median(rows[:, 0])) / (1 - max(np.median(rows[:, 1]), np.median(rows[:, 2])))
        times = ", ".join(f"{np.median(rows[:, j]):.1f}" for j in (3, 4, 5))
        print(f"| sphere sigma={sigma}, Spearman rho | {fmt(rows[:, 0])} | {fmt(rows[:, 1])} | {fmt(rows[:, 2])} | {ratio:.2f} | {times} |", flush=True)
    rows = np.array([swiss_distance_row(args.n, args.sources, seed) for seed in range(args.seeds)])
    ratio = (1 - np.median(rows[:, 0])) / (1 - max(np.median(rows[:, 1]), np.median(rows[:, 2])))
    times = ", ".join(f"{np.median(rows[:, j]):.1f}" for j in (3, 4, 5))
    print(f"| swiss roll, Spearman rho | {fmt(rows[:, 0])} | {fmt(rows[:, 1])} | {fmt(rows[:, 2])} | {ratio:.2f} | {times} |", flush=True)
    rows = np.array([swiss_embedding_row(args.n, seed) for seed in range(args.roll_seeds)])
    ratio = np.median(rows[:, 0] / rows[:, 1])
    times = f"{np.median(rows[:, 2]):.1f}, {np.median(rows[:, 3]):.1f}, -"
    print(f"| swiss roll embedding, Procrustes error | {fmt(rows[:, 0])} | {fmt(rows[:, 1])} | - | {ratio:.2f} (error ours / Isomap, median over seeds) | {times} |")


if __name__ == "__main__":
    main()
