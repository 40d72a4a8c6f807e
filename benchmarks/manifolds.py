"""extremo vs geoopt (and Geomstats if importable): time per manifold operation and optimizer step.

Usage: python benchmarks/manifolds.py [--threads N] [--repeat 15] [--spd-batch 256]

Prints one markdown table; ratio = extremo / reference (below 1 means extremo is faster).
extremo and the reference run alternately, ``--repeat`` times each after one warm-up, and
the best time of each is reported: on a shared machine the minimum is the least noisy
estimate of the cost.  Optimizer steps are timed with a fixed gradient so only
``step()`` is measured.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import extremo.linalg
from extremo.manifolds import SPD, ManifoldParameter, PoincareBall, Stiefel
from extremo.optim import RiemannianAdam, RiemannianSGD

try:
    import geoopt
except ImportError:
    geoopt = None

try:
    import geomstats  # noqa: F401

    HAVE_GEOMSTATS = True
except Exception:
    HAVE_GEOMSTATS = False


def timeit_pair(ours, theirs, repeat: int) -> tuple[float, float | None]:
    """Best-of-``repeat`` wall time in ms of ``ours`` and ``theirs``, run alternately."""
    fns = [ours] if theirs is None else [ours, theirs]
    best = [float("inf")] * len(fns)
    for f in fns:
        f()
    for _ in range(repeat):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
    return 1e3 * best[0], (1e3 * best[1] if theirs is not None else None)


def timeit_apart(ours, theirs, repeat: int) -> tuple[float, float]:
    """Best-of-``repeat`` wall time in ms of ``ours`` and ``theirs``, each run ``repeat`` times in a row."""
    best = []
    for f in (ours, theirs):
        f()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        best.append(1e3 * min(times))
    return best[0], best[1]


def optimizer_step(param, opt_cls, grad, **kw):
    opt = opt_cls([param], **kw)

    def step():
        param.grad = grad.clone()
        opt.step()

    return step


def bench_optimizers(rows, repeat):
    g = torch.Generator().manual_seed(0)
    cases = [
        ("Stiefel(256, 32) x 256, euclidean metric, QR retraction",
         Stiefel(256, 32), lambda: geoopt.EuclideanStiefel()),
        ("Stiefel(256, 32) x 256, canonical metric, Cayley retraction",
         Stiefel(256, 32, metric="canonical", retraction="cayley"), lambda: geoopt.CanonicalStiefel()),
        ("PoincareBall(10) x 50,000", PoincareBall(10), lambda: geoopt.PoincareBall()),
    ]
    for name, man, ref in cases:
        batch = 256 if isinstance(man, Stiefel) else 50_000
        x0 = man.random(batch, generator=g)
        grad = 0.01 * torch.randn(x0.shape, generator=g)
        for opt_name, ours_cls, kw, ref_name in (
            ("RiemannianAdam step", RiemannianAdam, dict(lr=1e-3), "RiemannianAdam"),
            ("RiemannianSGD step (momentum 0.9)", RiemannianSGD, dict(lr=1e-3, momentum=0.9), "RiemannianSGD"),
        ):
            ours = optimizer_step(ManifoldParameter(x0.clone(), man), ours_cls, grad, **kw)
            theirs = None
            if geoopt is not None:
                p = geoopt.ManifoldParameter(x0.clone(), manifold=ref())
                theirs = optimizer_step(p, getattr(geoopt.optim, ref_name), grad, **kw)
            ours, theirs = timeit_pair(ours, theirs, repeat)
            rows.append((f"{opt_name}: {name}", ours, theirs))


def bench_spd(rows, repeat, batch):
    g = torch.Generator().manual_seed(1)
    n = 32
    base = SPD(n)
    x, y = base.random(batch, generator=g), base.random(batch, generator=g)
    m = base.random(generator=g)
    ref = geoopt.SymmetricPositiveDefinite() if geoopt is not None else None
    ref_le = geoopt.SymmetricPositiveDefinite("LEM") if geoopt is not None else None
    for metric in ("affine", "log_euclidean", "bures_wasserstein", "generalized_bw"):
        man = SPD(n, metric=metric, M=m if metric == "generalized_bw" else None)
        u = 0.1 * man.logmap(x, y) / man.norm(x, man.logmap(x, y), keepdim=True)
        ops = {
            "expmap": (lambda: man.expmap(x, u), ref and metric == "affine" and (lambda: ref.expmap(x, u))),
            "logmap": (lambda: man.logmap(x, y), ref and metric == "affine" and (lambda: ref.logmap(x, y))),
            "dist": (lambda: man.dist(x, y),
                     (metric == "affine" and ref and (lambda: ref.dist(x, y)))
                     or (metric == "log_euclidean" and ref_le and (lambda: ref_le.dist(x, y)))),
        }
        for op, (ours_fn, ref_fn) in ops.items():
            ours, theirs = timeit_pair(ours_fn, ref_fn or None, repeat)
            rows.append((f"SPD(32) x {batch} {op}, {metric}", ours, theirs))
        if metric == "log_euclidean" and ref_le:
            ours, theirs = timeit_apart(ops["dist"][0], ops["dist"][1], repeat)
            rows.append((f"SPD(32) x {batch} dist, log_euclidean, each run {repeat} times in a row", ours, theirs))
    # geoopt's matrix functions call torch.linalg.eigh / eigvalsh on the whole batch
    for name, ours_fn, ref_fn in (("eigh", extremo.linalg.eigh, torch.linalg.eigh),
                                  ("eigvalsh", extremo.linalg.eigvalsh, torch.linalg.eigvalsh)):
        ours, theirs = timeit_pair(lambda: ours_fn(x), lambda: ref_fn(x), repeat)
        rows.append((f"SPD(32) x {batch} {name} (reference: torch.linalg.{name}, as in geoopt)", ours, theirs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--spd-batch", type=int, default=256)
    args = ap.parse_args()
    if args.threads is not None:
        # note: with torch 2.13 + MKL, an explicit set_num_threads(2) at start-up made geoopt's
        # batched 512 x 512 torch.linalg.solve (canonical Stiefel) fail with an SLASWP error
        torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    rows: list = []
    with torch.no_grad():
        bench_spd(rows, args.repeat, args.spd_batch)
    bench_optimizers(rows, args.repeat)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, best of {args.repeat} alternating runs; "
          f"geoopt {'%s' % geoopt.__version__ if geoopt else 'not installed'}; "
          f"Geomstats {'importable' if HAVE_GEOMSTATS else 'not importable (skipped)'}\n")
    print("| operation | extremo ms | geoopt ms | ratio (extremo/geoopt) |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in rows:
        ref = f"{theirs:.2f}" if theirs is not None else "-"
        ratio = f"{ours / theirs:.3f}" if theirs is not None else "-"
        print(f"| {name} | {ours:.2f} | {ref} | {ratio} |")


if __name__ == "__main__":
    main()
