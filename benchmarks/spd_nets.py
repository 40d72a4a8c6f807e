"""SPD network benchmark: SPDNet with and without each batch normalization, against pyriemann's MDM, same run.

Synthetic SPD classification with condition numbers spread over [1e1, 1e4]: class ``c`` has a mixing
matrix ``A_c`` (``I + 0.35 G`` with Gaussian ``G``); a sample is ``D A_c (W W^T / T) A_c^T D`` with ``W`` a
``n x T`` Gaussian, ``T = 2n`` and ``D`` a random diagonal scale ``10^{U(0, 1)}`` per coordinate, whose
log-spectrum is then stretched about its mean (eigenvectors and determinant kept) to a condition number
drawn log-uniformly from ``[1e1, 1e4]`` (the title prints the median and maximum over all samples).
Test samples come from another session: every test matrix is congruent by one fixed ``S = 2 exp(K)``
(``K`` a random skew matrix, ``|K| ~ 0.4``: a rotation and a scale, so condition numbers are kept),
the shift a batch normalization is meant to absorb (its running statistics are recomputed on the test
session in train mode without gradient, "domain-specific" SPDBN).

Models: pyriemann's ``MDM`` (affine-invariant minimum distance to mean); SPDNet
``BiMap(n, n/2) [BN] ReEig BiMap(n/2, n/4) LogEig Linear`` trained with RiemannianAdam (lr 1e-2,
batches of 32, float64), with no BN, extremo's ``SPDBatchNorm`` (affine, log-Euclidean, Bures-Wasserstein,
generalized BW with learnable M, generalized BW with power 0.5) or spd-learn's ``SPDBatchNormMeanVar``;
Karcher flows of 5 iterations for every BN (extremo: the last 2 differentiable, its default). Columns: test accuracy (median over seeds, [min, max]),
training wall time (median), and their ratios to SPDNet without BN.

    python benchmarks/spd_nets.py
    python benchmarks/spd_nets.py --n 12 --epochs 10 --seeds 2
    python benchmarks/spd_nets.py --kinds affine spd-learn --markdown   # a slice: no-BN and MDM always run
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from extremo.nn import BiMap, LogEig, ReEig, SPDBatchNorm
from extremo.optim import RiemannianAdam

D = torch.float64


def make_data(n: int, classes: int, per_class: int, seed: int, cond_range=(1e1, 1e4)):
    g = torch.Generator().manual_seed(seed)
    mix = torch.eye(n, dtype=D) + 0.35 * torch.randn(classes, n, n, dtype=D, generator=g)
    k = torch.randn(n, n, dtype=D, generator=g)
    session = 2.0 * torch.linalg.matrix_exp(0.4 * (k - k.mT) / n**0.5)
    lo, hi = (math.log(c) for c in cond_range)

    def draw(count):
        labels = torch.arange(classes).repeat_interleave(count)
        w = torch.randn(labels.shape[0], n, 2 * n, dtype=D, generator=g)
        scale = 10 ** torch.rand(labels.shape[0], n, dtype=D, generator=g)
        a = scale[..., :, None] * mix[labels]
        evals, vecs = torch.linalg.eigh(a @ (w @ w.mT / (2 * n)) @ a.mT)
        log_ev = evals.log()
        centre = log_ev.mean(-1, keepdim=True)
        log_cond = lo + (hi - lo) * torch.rand(labels.shape[0], 1, dtype=D, generator=g)
        log_ev = centre + (log_ev - centre) * log_cond / (log_ev[..., -1:] - log_ev[..., :1])
        return (vecs * log_ev.exp()[..., None, :]) @ vecs.mT, labels

    xtr, ytr = draw(per_class)
    xte, yte = draw(per_class)
    xte = session @ xte @ session.mT
    return xtr, ytr, xte, yte


class SPDNet(nn.Module):
    def __init__(self, n: int, classes: int, norm: nn.Module | None, generator):
        super().__init__()
        self.bimap1 = BiMap(n, n // 2, generator=generator, dtype=D)
        self.norm = norm
        self.reeig = ReEig(1e-4)
        self.bimap2 = BiMap(n // 2, n // 4, generator=generator, dtype=D)
        self.logeig = LogEig(vectorize=True)
        m = n // 4
        self.head = nn.Linear(m * (m + 1) // 2, classes, dtype=D)

    def forward(self, x):
        x = self.bimap1(x)
        if self.norm is not None:
            x = self.norm(x[:, None])[:, 0] if getattr(self.norm, "_channel_axis", False) else self.norm(x)
        return self.head(self.logeig(self.bimap2(self.reeig(x))))


def make_norm(kind: str, m: int):
    if kind == "none":
        return None
    if kind == "spd-learn":
        from spd_learn.modules import SPDBatchNormMeanVar

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            norm = SPDBatchNormMeanVar(m, n_iter=5, dtype=D)
        norm._channel_axis = True
        return norm
    metric, kw = {
        "affine": ("affine", {}),
        "log_euclidean": ("log_euclidean", {}),
        "bures_wasserstein": ("bures_wasserstein", {}),
        "generalized_bw": ("generalized_bw", {}),
        "generalized_bw power 0.5": ("generalized_bw", {"power": 0.5}),
    }[kind]
    return SPDBatchNorm(m, metric, max_iter=5, dtype=D, **kw)


def run_spdnet(kind: str, data, n: int, classes: int, epochs: int, seed: int):
    xtr, ytr, xte, yte = data
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = SPDNet(n, classes, make_norm(kind, n // 2), g)
    opt = RiemannianAdam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(xtr.shape[0], generator=g).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        if model.norm is not None:  # domain-specific statistics: one pass over the test session
            model.norm.momentum = 1.0
            model(xte)
        model.eval()
        acc = float((model(xte).argmax(-1) == yte).double().mean())
    return acc, elapsed


def run_mdm(data):
    from pyriemann.classification import MDM

    xtr, ytr, xte, yte = data
    start = time.perf_counter()
    clf = MDM(metric="riemann").fit(xtr.numpy(), ytr.numpy())
    acc = float((clf.predict(xte.numpy()) == yte.numpy()).mean())
    return acc, time.perf_counter() - start


KINDS = ["none", "affine", "log_euclidean", "bures_wasserstein", "generalized_bw", "generalized_bw power 0.5", "spd-learn"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=KINDS, help="SPDNet variants (no-BN always runs)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    kinds = ["none"] + [k for k in args.kinds if k != "none"]
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in ["MDM (pyriemann)"] + kinds}
    conds = []
    for seed in range(args.seeds):
        data = make_data(args.n, args.classes, args.per_class, seed)
        conds.append(torch.linalg.cond(torch.cat([data[0], data[2]])).numpy())
        results["MDM (pyriemann)"].append(run_mdm(data))
        for kind in kinds:
            results[kind].append(run_spdnet(kind, data, args.n, args.classes, args.epochs, seed))
    conds = np.concatenate(conds)
    base_acc = statistics.median(a for a, _ in results["none"])
    base_time = statistics.median(t for _, t in results["none"])
    title = (f"SPDNet + batch norm vs MDM: n={args.n}, {args.classes} classes, {args.per_class}/class, "
             f"cond median {np.median(conds):.3g} max {conds.max():.3g}, {args.seeds} seeds, {args.threads} thread(s)")  # fmt: skip
    cols = ("model", "test acc (median)", "[min, max]", "train s", "acc / no-BN", "time / no-BN")
    cells = []
    for name, rs in results.items():
        accs, times = [a for a, _ in rs], [t for _, t in rs]
        acc, t = statistics.median(accs), statistics.median(times)
        label = name if name.startswith("MDM") else f"SPDNet + {name}" if name != "none" else "SPDNet (no BN)"
        cells.append((label, f"{acc:.3f}", f"[{min(accs):.3f}, {max(accs):.3f}]", f"{t:.2f}",
                      f"{acc / base_acc:.3f}", f"{t / base_time:.3f}"))  # fmt: skip
    table = Table(title=title)
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in cells:
        table.add_row(*row)
    Console(width=150).print(table)
    if args.markdown:
        print(title + "\n\n| " + " | ".join(cols) + " |\n| " + " | ".join("---" for _ in cols) + " |")
        for row in cells:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
