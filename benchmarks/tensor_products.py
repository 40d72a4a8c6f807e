"""Tensor products: extremo (Clebsch-Gordan, Gaunt via Fourier, Gaunt via grid) against e3nn, one table.

Every row is one degree ``L``: both inputs are ``C x (0e + 1o + ... + L)`` (spherical-harmonic
parities), batch ``B``, CPU, float32. Columns are e3nn's time divided by ours (> 1: extremo is faster):

* ``CG uuu``: channel-wise weighted full Clebsch-Gordan product, every path ``l1 x l2 -> l3 <= L``
  of both parities; extremo ``ClebschGordanTensorProduct(mode="uuu")`` vs ``e3nn.o3.TensorProduct``
  with the same instructions (the "full" tensor product of the Gaunt papers).
* ``CG uvw``: ``FullyConnectedTensorProduct`` to ``C x (0..L)`` vs e3nn's (up to ``--fc-lmax``; the
  e3nn one is compiled per path and grows as ``L^3 C^3``).
* ``Gaunt fourier`` / ``Gaunt grid``: extremo ``GauntTensorProduct`` (parity-even paths only) vs the
  e3nn full product ``CG uuu``. e3nn 0.6.0's ``o3.experimental`` holds ``FullTensorProductv2`` and
  ``ElementwiseTensorProductv2`` but no Gaunt product, so there is no e3nn Gaunt column.

``fwd`` is the forward pass, ``f+b`` forward plus backward to inputs and weights; each time is the fastest of
at least 5 repetitions (robust against a loaded machine).

    python benchmarks/tensor_products.py                 # the full table (L = 1..8, B = 1024, C = 16)
    python benchmarks/tensor_products.py --lmax 3 --batch 128   # a quick run
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from e3nn import o3

from extremo.equivariant import ClebschGordanTensorProduct, FullyConnectedTensorProduct, GauntTensorProduct, Irreps


def _timeit(fn, min_time: float, min_reps: int = 5) -> float:
    fn()  # warm-up (compilation, caches)
    times, start = [], time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < min_time and len(times) < 50):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)  # the machine may be shared: the fastest repetition is the least disturbed


def _fwd_and_bwd(module, x, y, min_time):
    def fwd():
        with torch.no_grad():
            module(x, y)

    xg, yg = x.clone().requires_grad_(True), y.clone().requires_grad_(True)

    def fwd_bwd():
        module.zero_grad(set_to_none=True)
        module(xg, yg).sum().backward()

    return _timeit(fwd, min_time), _timeit(fwd_bwd, min_time)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lmax", type=int, default=8, help="largest degree L (rows L = 1..lmax)")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--fc-lmax", type=int, default=4, help="largest L for the fully connected (uvw) columns")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds spent timing each cell")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: stable on a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    B, C = args.batch, args.channels

    header = ["L", "CG uuu fwd", "CG uuu f+b", "CG uvw fwd", "CG uvw f+b",
              "Gaunt fourier fwd", "Gaunt fourier f+b", "Gaunt grid fwd", "Gaunt grid f+b", "e3nn uuu fwd ms"]
    print(f"e3nn time / extremo time (> 1: extremo faster); batch {B}, {C} channels, CPU float32, "
          f"{torch.get_num_threads()} threads")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for L in range(1, args.lmax + 1):
        irreps = Irreps([(C, (l, (-1) ** l)) for l in range(L + 1)])
        out_all = Irreps([(C, (l, p)) for l in range(L + 1) for p in (1, -1)])
        x, y = torch.randn(B, irreps.dim), torch.randn(B, irreps.dim)

        ours_uuu = ClebschGordanTensorProduct(irreps, irreps, out_all, mode="uuu")
        instructions = [(p.i1, p.i2, p.io, "uuu", True) for p in ours_uuu.paths]
        e3nn_uuu = o3.TensorProduct(str(irreps), str(irreps), str(out_all), instructions)
        ref_f, ref_fb = _fwd_and_bwd(e3nn_uuu, x, y, args.min_time)
        row = [str(L)]
        f, fb = _fwd_and_bwd(ours_uuu, x, y, args.min_time)
        row += [f"{ref_f / f:.2f}", f"{ref_fb / fb:.2f}"]
        if L <= args.fc_lmax:
            ref_fc_f, ref_fc_fb = _fwd_and_bwd(o3.FullyConnectedTensorProduct(str(irreps), str(irreps), str(irreps)), x, y, args.min_time)
            f, fb = _fwd_and_bwd(FullyConnectedTensorProduct(irreps, irreps, irreps), x, y, args.min_time)
            row += [f"{ref_fc_f / f:.2f}", f"{ref_fc_fb / fb:.2f}"]
        else:
            row += ["-", "-"]
        for method in ("fourier", "grid"):
            f, fb = _fwd_and_bwd(GauntTensorProduct(irreps, irreps, irreps, method=method), x, y, args.min_time)
            row += [f"{ref_f / f:.1f}", f"{ref_fb / fb:.1f}"]
        row.append(f"{ref_f * 1e3:.1f}")
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
