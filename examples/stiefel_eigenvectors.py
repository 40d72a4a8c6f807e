"""Leading eigenvectors of a symmetric matrix by optimization on Stiefel and Grassmann.

The matrix is the sample covariance ``A`` of data with ``k`` planted factors (a PCA
problem).  Three Riemannian problems recover its top-``k`` eigen-pairs:

* Stiefel, Brockett cost ``min -tr(X^T A X N)``, ``N = diag(k, ..., 1)``: the minimisers
  are the ordered leading eigenvectors themselves (Brockett 1991; Absil, Mahony and
  Sepulchre 2008, Sec. 4.8), for the embedded metric with the QR retraction and for the
  canonical metric with the Cayley retraction;
* Grassmann, ``min -tr(X^T A X)``: the minimiser is the leading subspace; a
  Rayleigh-Ritz step (``eigh`` of the k x k matrix ``X^T A X``) gives the eigen-pairs.

Each is solved in float64 by Riemannian SGD with Nesterov momentum until the
Riemannian gradient norm falls below ``--tol``, then checked against
``torch.linalg.eigh``: subspace error ``||X X^T - V V^T||_F``, eigenvalue error
``max_i |lambda_i - mu_i| / lambda_1`` and (Stiefel) eigenvector error
``max_i min(|x_i - v_i|, |x_i + v_i|)``.

    python examples/stiefel_eigenvectors.py [--n 500] [--k 5] [--samples 2000] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch

from extremo.manifolds import Grassmann, Manifold, ManifoldParameter, Stiefel
from extremo.optim import RiemannianSGD


def planted_covariance(n: int, k: int, samples: int, seed: int = 0) -> torch.Tensor:
    """Sample covariance of ``samples`` points ``z W^T + noise`` with ``k`` factors of decreasing scale."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.linalg.qr(torch.randn(n, k, generator=gen, dtype=torch.float64))[0]
    scales = torch.linspace(3.0, 1.5, k, dtype=torch.float64)
    z = torch.randn(samples, k, generator=gen, dtype=torch.float64) * scales
    data = z @ w.T + 0.3 * torch.randn(samples, n, generator=gen, dtype=torch.float64)
    data = data - data.mean(0)
    return data.T @ data / samples


@dataclass
class EigenResult:
    method: str
    eigenvalues: torch.Tensor
    vectors: torch.Tensor
    iterations: int
    seconds: float


def optimize(a: torch.Tensor, manifold: Manifold, weights: torch.Tensor, max_iter: int, tol: float,
             seed: int) -> tuple[torch.Tensor, int]:
    """Minimise ``-tr(X^T A X diag(weights))`` on ``manifold`` from a random point; ``(X, iterations)``."""
    gen = torch.Generator().manual_seed(seed)
    x = ManifoldParameter(manifold.random(dtype=a.dtype, generator=gen), manifold)
    # the Euclidean Hessian of the cost is bounded by 2 max(weights) ||A||, and ||A||_2 <= ||A||_F
    lr = 0.5 / (float(weights.max()) * float(torch.linalg.matrix_norm(a)))
    opt = RiemannianSGD([x], lr=lr, momentum=0.9, nesterov=True)
    for it in range(1, max_iter + 1):
        opt.zero_grad()
        x.grad = -2.0 * (a @ x.detach()) * weights
        with torch.no_grad():
            if float(manifold.norm(x, manifold.egrad2rgrad(x, x.grad))) <= tol:
                break
        opt.step()
    return x.detach(), it


def leading_eigenpairs(a: torch.Tensor, k: int, method: str, max_iter: int = 20_000, tol: float = 1e-10,
                       seed: int = 0) -> EigenResult:
    """Top-``k`` eigenvalues (descending) and eigenvectors of symmetric ``a`` by Riemannian optimization.

    ``method`` is ``"stiefel"`` (embedded metric, QR), ``"stiefel-canonical"`` (canonical
    metric, Cayley) or ``"grassmann"`` (subspace, then Rayleigh-Ritz).
    """
    n = a.shape[-1]
    t0 = time.perf_counter()
    if method == "grassmann":
        x, it = optimize(a, Grassmann(n, k), torch.ones(k, dtype=a.dtype), max_iter, tol, seed)
        mu, y = torch.linalg.eigh(x.T @ a @ x)
        vectors, values = x @ y.flip(-1), mu.flip(-1)
    elif method in ("stiefel", "stiefel-canonical"):
        man = Stiefel(n, k) if method == "stiefel" else Stiefel(n, k, metric="canonical", retraction="cayley")
        brockett = torch.arange(k, 0, -1, dtype=a.dtype)
        vectors, it = optimize(a, man, brockett, max_iter, tol, seed)
        values = ((a @ vectors) * vectors).sum(0)
    else:
        raise ValueError(f"method must be 'stiefel', 'stiefel-canonical' or 'grassmann', got {method!r}")
    return EigenResult(method, values, vectors, it, time.perf_counter() - t0)


def errors(a: torch.Tensor, res: EigenResult) -> dict[str, float]:
    """Errors of ``res`` against ``torch.linalg.eigh``."""
    k = res.vectors.shape[-1]
    w, v = torch.linalg.eigh(a)
    w, v = w.flip(-1)[:k], v.flip(-1)[:, :k]
    x = res.vectors
    out = {
        "subspace": float(torch.linalg.matrix_norm(x @ x.T - v @ v.T)),
        "eigenvalue": float((res.eigenvalues - w).abs().max() / w[0]),
    }
    diff = torch.minimum((x - v).norm(dim=0), (x + v).norm(dim=0))
    out["eigenvector"] = float(diff.max())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--tol", type=float, default=1e-10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    a = planted_covariance(args.n, args.k, args.samples, args.seed)
    w = torch.linalg.eigvalsh(a).flip(-1)
    print(f"A: {args.n} x {args.n} sample covariance, top eigenvalues "
          f"{', '.join(f'{x:.3f}' for x in w[: args.k + 1])} (gap lambda_k / lambda_k+1 = {w[args.k - 1] / w[args.k]:.2f})")
    for method in ("stiefel", "stiefel-canonical", "grassmann"):  # warm-up: first calls initialise LAPACK
        leading_eigenpairs(a, args.k, method, max_iter=2, seed=args.seed)
    print("\n| method | iterations | seconds | subspace error | eigenvalue error | eigenvector error |")
    print("|---|---:|---:|---:|---:|---:|")
    for method in ("stiefel", "stiefel-canonical", "grassmann"):
        res = leading_eigenpairs(a, args.k, method, tol=args.tol, seed=args.seed)
        e = errors(a, res)
        print(f"| {method} | {res.iterations} | {res.seconds:.2f} | {e['subspace']:.2e} | {e['eigenvalue']:.2e} "
              f"| {e['eigenvector']:.2e} |")


if __name__ == "__main__":
    main()
