"""Orthogonality benchmark: extremo's adapters and Muon against PEFT, torch.optim.Muon and heavyball, same run.

One table, ratios ours / reference (below 1: ours is faster, smaller or more orthogonal):

  adapter   forward+backward time and saved-activation memory of OFT (Cayley-Neumann, blocks of 32),
            BOFT (blocks of 32, one butterfly factor: PEFT's CPU path) and HRA (r = 8) around a frozen
            nn.Linear(width, width) on a batch of 128 rows, against PEFT's layers with the same parameters;
  muon      one optimizer step on a width x width weight: extremo.optim.Muon against torch.optim.Muon and
            heavyball.Muon (compiled, its default; compile time excluded), Turbo-Muon (4 steps) against
            torch's 5;
  ortho     polar error |X - U V^T|_F / sqrt(n) of 4 Turbo (AOL-preconditioned) Newton-Schulz steps against
            5 plain ones, Gaussian and decaying (1 .. 1e-3) spectra, Jordan's and the convergent
            (15/8, -10/8, 3/8) coefficients;
  nystrom   Frobenius error of the generalized Nystrom approximation A X (Y A X)^+ Y A (Gaussian X: k columns,
            Y: 1.5 k rows) against the best rank-k error (SVD), 400 x 300 matrices with geometric (0.9^i,
            0.7^i) and polynomial (i^-1, i^-2) spectra, median over 5 draws (ratio = the factor);
  digits    optimizer steps until the training cross-entropy of an MLP 64-256-256-10 on scikit-learn's
            digits drops below 0.05: Muon (hidden matrix) + AdamW (rest) against AdamW alone, each with
            the best of three learning rates, median over seeds.

Timings are the best (minimum) of up to ``--repeats`` runs after ``--warmup`` warm-up runs, ours and
the reference alternating run by run (so a change of machine load hits both), stopping early once a
pair has used ``--budget`` seconds (at least two runs each); ``--threads`` torch threads (default 1:
on a shared machine one thread per process is the stable setting). Report ``uptime`` with the numbers.
``--sections`` picks sections, ``--widths`` / ``--muon-sizes`` / ``--ortho-sizes`` the sizes, so the
table runs in slices; ``--markdown`` prints the rows as a Markdown table too.

    python benchmarks/orthogonal.py
    python benchmarks/orthogonal.py --sections adapter --widths 4096 --markdown
    python benchmarks/orthogonal.py --sections muon --muon-sizes 1024 --repeats 3 --no-heavyball
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import time
import warnings

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from extremo.linalg import MUON_COEFFICIENTS, generalized_nystrom, quintic_newton_schulz
from extremo.nn import BOFTLinear, HRALinear, OFTLinear
from extremo.optim import Muon

CONVERGENT = (15 / 8, -10 / 8, 3 / 8)


class Timer:
    """Best-of-k wall times of several callables, run alternately (see the module docstring)."""

    def __init__(self, repeats: int, warmup: int, budget: float):
        self.repeats, self.warmup, self.budget = repeats, warmup, budget

    def best(self, *fns) -> list[float]:
        for fn in fns:
            for _ in range(self.warmup):
                fn()
        best = [math.inf] * len(fns)
        start = time.perf_counter()
        for k in range(self.repeats):
            if k >= 2 and time.perf_counter() - start > self.budget:
                break
            for i, fn in enumerate(fns):
                t = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t)
        return best


def saved_bytes(fn) -> int:
    """Bytes of the distinct tensors autograd saves for the backward pass of ``fn()``."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


class _Net(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.lin = nn.Linear(width, width)

    def forward(self, x):
        return self.lin(x)


def adapters(width: int, timer: Timer):
    import peft

    torch.manual_seed(0)
    x = torch.randn(128, width)
    cases = [
        ("OFT b=32 neumann", peft.OFTConfig(r=0, oft_block_size=32, target_modules=["lin"], init_weights=False),
         lambda base: OFTLinear(base, block_size=32, neumann_terms=5), "oft_R"),
        ("BOFT b=32", peft.BOFTConfig(boft_block_size=32, target_modules=["lin"], init_weights=False),
         lambda base: BOFTLinear(base, 32, 1), "boft_R"),
        ("HRA r=8", peft.HRAConfig(r=8, target_modules=["lin"], init_weights=False),
         lambda base: HRALinear(base, 8), "hra_u"),
    ]  # fmt: skip
    rows = []
    for name, cfg, ours_fn, _ in cases:
        net = _Net(width)
        base = copy.deepcopy(net.lin)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = peft.get_peft_model(net, cfg)
        ours = ours_fn(base)

        def step(model):
            def run():
                model.zero_grad(set_to_none=True)
                model(x).square().mean().backward()

            return run

        t_ours, t_ref = timer.best(step(ours), step(ref))
        m_ours, m_ref = saved_bytes(lambda: ours(x)), saved_bytes(lambda: ref(x))
        rows.append(("adapter", f"{name} fwd+bwd ms", width, 1e3 * t_ours, 1e3 * t_ref, "PEFT"))
        rows.append(("adapter", f"{name} saved MB", width, m_ours / 2**20, m_ref / 2**20, "PEFT"))
    return rows


def muon_steps(size: int, timer: Timer, heavyball: bool):
    torch.manual_seed(0)
    grad = torch.randn(size, size)

    def stepper(make):
        p = nn.Parameter(torch.randn(size, size))
        opt = make([p])

        def run():
            p.grad = grad.clone()
            opt.step()

        return run

    runs = [
        stepper(lambda ps: torch.optim.Muon(ps, lr=0.02)),
        stepper(lambda ps: Muon(ps, lr=0.02)),
        stepper(lambda ps: Muon(ps, lr=0.02, orthogonalizer="turbo")),
    ]
    if heavyball:
        import heavyball as hb

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hb_run = stepper(lambda ps: hb.Muon(ps, lr=0.02))
            hb_run()  # torch.compile happens here, outside the timing
        runs.append(hb_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = timer.best(*runs)
    t_torch, t_ours, t_turbo = times[:3]
    rows = [
        ("muon", "step s (extremo Muon)", size, t_ours, t_torch, "torch.optim.Muon"),
        ("muon", "step s (Turbo-Muon, 4 steps)", size, t_turbo, t_torch, "torch.optim.Muon"),
    ]
    if heavyball:
        rows.append(("muon", "step s (extremo Muon)", size, t_ours, times[3], "heavyball.Muon"))
        rows.append(("muon", "step s (Turbo-Muon, 4 steps)", size, t_turbo, times[3], "heavyball.Muon"))
    return rows


def polar_error(x: torch.Tensor, polar: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(x.double() - polar) / polar.shape[-1] ** 0.5)


def orthogonality(size: int):
    g = torch.Generator().manual_seed(0)
    rows = []
    for spectrum in ("gaussian", "decaying"):
        a = torch.randn(size, size, generator=g)
        if spectrum == "decaying":
            u, _ = torch.linalg.qr(torch.randn(size, size, generator=g))
            v, _ = torch.linalg.qr(torch.randn(size, size, generator=g))
            a = (u * torch.logspace(0, -3, size)) @ v.T
        uu, _, vh = torch.linalg.svd(a.double())
        polar = uu @ vh
        for cname, coef in (("Jordan", MUON_COEFFICIENTS), ("convergent", CONVERGENT)):
            plain = polar_error(quintic_newton_schulz(a, 5, coef, dtype=torch.float32), polar)
            turbo = polar_error(quintic_newton_schulz(a, 4, coef, dtype=torch.float32, precondition=True), polar)
            rows.append(("ortho", f"polar err turbo4 vs plain5 ({spectrum}, {cname})", size, turbo, plain, "plain NS x5"))
    return rows


def nystrom_factors(draws: int = 5, m: int = 400, n: int = 300):
    rows = []
    i = torch.arange(n, dtype=torch.float64)
    for label, spectrum in (("0.9^i", 0.9**i), ("0.7^i", 0.7**i), ("i^-1", (i + 1) ** -1.0), ("i^-2", (i + 1) ** -2.0)):
        for k in (10, 30):
            errs, bests = [], []
            for seed in range(draws):
                g = torch.Generator().manual_seed(seed)
                u, _ = torch.linalg.qr(torch.randn(m, n, dtype=torch.float64, generator=g))
                v, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=g))
                a = (u * spectrum) @ v.T
                x = torch.randn(n, k, dtype=torch.float64, generator=g)
                y = torch.randn(3 * k // 2, m, dtype=torch.float64, generator=g)
                errs.append(float(torch.linalg.matrix_norm(a - generalized_nystrom(a, x, y, rtol=1e-14))))
                bests.append(float(spectrum[k:].square().sum().sqrt()))
            err, best = sorted(zip(errs, bests), key=lambda eb: eb[0] / eb[1])[len(errs) // 2]  # median ratio
            rows.append(("nystrom", f"error vs best rank-{k}, spectrum {label}", k, err, best, "SVD rank-k"))
    return rows


def digits_steps(seeds: int, threshold: float = 0.05, max_steps: int = 3000):
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)

    def run(kind: str, lr: float, seed: int) -> int:
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
        hidden = [model[2].weight]
        rest = [p for p in model.parameters() if all(p is not h for h in hidden)]
        if kind == "muon":
            opts = [Muon(hidden, lr=lr, weight_decay=0.0), torch.optim.AdamW(rest, lr=1e-3, weight_decay=0.0)]
        else:
            opts = [torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)]
        gen = torch.Generator().manual_seed(seed)
        for step in range(1, max_steps + 1):
            idx = torch.randint(0, x.shape[0], (128,), generator=gen)
            for o in opts:
                o.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            for o in opts:
                o.step()
            if step % 10 == 0:
                with torch.no_grad():
                    if float(nn.functional.cross_entropy(model(x), y)) < threshold:
                        return step
        return max_steps

    def best(kind, lrs):
        return min((statistics.median(run(kind, lr, s) for s in range(seeds)), lr) for lr in lrs)

    muon, muon_lr = best("muon", (0.005, 0.02, 0.05))
    adamw, adamw_lr = best("adamw", (3e-4, 1e-3, 3e-3))
    return [("digits", f"steps to CE<{threshold} (Muon lr {muon_lr} vs AdamW lr {adamw_lr})", 0, muon, adamw, "AdamW")]


SECTIONS = ("adapter", "muon", "ortho", "nystrom", "digits")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--widths", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--muon-sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--ortho-sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per timed row before stopping early")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-heavyball", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if args.repeats < 1 or args.warmup < 0 or args.threads < 1:
        ap.error("--repeats and --threads must be >= 1, --warmup >= 0")
    torch.set_num_threads(args.threads)
    timer = Timer(args.repeats, args.warmup, args.budget)
    rows = []
    if "adapter" in args.sections:
        for w in args.widths:
            rows += adapters(w, timer)
    if "muon" in args.sections:
        for s in args.muon_sizes:
            rows += muon_steps(s, timer, not args.no_heavyball)
    if "ortho" in args.sections:
        for s in args.ortho_sizes:
            rows += orthogonality(s)
    if "nystrom" in args.sections:
        rows += nystrom_factors()
    if "digits" in args.sections:
        rows += digits_steps(args.seeds)
    cols = ("section", "measure", "size", "ours", "reference", "against", "ratio")
    cells = [(sec, measure, str(size or "-"), f"{ours:.4g}", f"{ref:.4g}", against, f"{ours / ref:.3f}")
             for sec, measure, size, ours, ref, against in rows]  # fmt: skip
    table = Table(title=f"extremo orthogonality vs references (ratio = ours / reference), {args.threads} thread(s)")
    for col in cols:
        table.add_column(col, justify="right" if col in ("size", "ours", "reference", "ratio") else "left")
    for row in cells:
        table.add_row(*row)
    Console(width=160).print(table)
    if args.markdown:
        print("| " + " | ".join(cols) + " |\n| " + " | ".join("---" for _ in cols) + " |")
        for row in cells:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
