r"""Learned eigenbases of a sampled manifold (Velich, Piven, Bensaid, Cremers, Dages and Kimmel,
"Learning Eigenstructures of Unstructured Data Manifolds", CVPR 2026).

A network $\Phi_\theta : \mathbb R^D \to \mathbb R^k$ is trained so that random *probe
functions* $f$ are well reconstructed by their projection on its span, under the empirical
measure $\mu_n = \frac1n\sum_i \delta_{x_i}$ of the samples:

$$
L(\theta) = \mathbb E_f \sum_{j=1}^{k} \big\| f - Q_{:j} Q_{:j}^\top f \big\|^2_{\mu_n},
\qquad \Phi_\theta(X) / \sqrt n = Q R \;\text{(thin QR)}.
$$

For probes with covariance $\mathbb E f(x) f(y) = K(x, y)$ the minimiser of the one-term
loss is the top-k eigenspace of the integral operator $T f = \int K(\cdot, y) f(y)\,d\mu(y)$
(optimal approximation, Karhunen-Loeve / Eckart-Young); the nested sum over truncations
$j$ weights the $j$-th direction by $k - j + 1$ and orders the basis by
decreasing eigenvalue. No mesh, operator matrix or eigensolver over the n points is built.

The default probes are random Fourier features $\sqrt 2 \cos \omega^\top x$ and
$\sqrt 2 \sin \omega^\top x$, $\omega \sim N(0, s^{-2} I)$ (Rahimi and Recht 2007),
whose covariance is the Gaussian kernel $e^{-|x-y|^2 / 2s^2}$. On an m-manifold this kernel is the
heat kernel at time $t = s^2/2$ up to $O(s^2)$ (Belkin and Niyogi 2008), so its
eigenfunctions approximate the Laplace-Beltrami ones and

$$
\lambda_j \approx -\frac{1}{t} \log \frac{\mu_j}{\mu_0}, \qquad
\mu_j = \mathbb E_f \langle f, \phi_j \rangle^2_{\mu_n}
$$

(on the unit sphere the map is linear in $\lambda$ to $O(s^4)$, so ratios are exact to
that order and the scale is $1 + s^2/2$).

*Sampling density.* The measure in the loss is the volume measure, estimated from the samples by
importance weights $w_i \propto 1 / \hat p(x_i)$, with $\hat p$ a Gaussian kernel
density estimate from neighbour lists (bandwidth: median distance to the ``density_neighbors``-th
neighbour); without it the basis would be that of the sampling-weighted operator (diffusion maps
with $\alpha = 1$, Coifman and Lafon 2006). The density then comes out of the learned
eigenstructure and extends to new points: with $\phi_j$ orthonormal under the volume
measure $\nu$ (normalised to mass 1), $\langle p, \phi_j \rangle_\nu = \mathbb
E_{x \sim p} \phi_j(x)$, so $p \approx \sum_j \big(\tfrac1n \sum_i \phi_j(x_i)\big) \phi_j$.

After training, a Rayleigh-Ritz step in the learned span (the ``k x k`` covariance of the probe
coefficients on a subsample, not an operator on the points) fixes the order inside
near-degenerate eigenspaces and gives the $\mu_j$.
Cost per step: ``O(b (P D + k^2 + network))`` for ``b`` points and ``P`` probes; a fit is
``O(steps)`` in the number of points once ``b`` is capped by ``batch_size``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor, nn

Probes = Callable[[Tensor, torch.Generator], Tensor]

PROBES = ("heat",)


class EigenNetwork(nn.Module):
    """MLP ``(..., D) -> (..., k)`` followed by a fixed linear map (the fitted orthonormalisation)."""

    def __init__(self, dim: int, k: int, width: int, depth: int, shift: Tensor, scale: float):
        super().__init__()
        layers: list[nn.Module] = []
        size = dim
        for _ in range(depth):
            layers += [nn.Linear(size, width), nn.SiLU()]
            size = width
        layers.append(nn.Linear(size, k))
        self.mlp = nn.Sequential(*layers)
        self.register_buffer("shift", shift)
        self.register_buffer("scale", torch.tensor(float(scale), dtype=shift.dtype))
        self.register_buffer("coef", torch.eye(k, dtype=shift.dtype))

    def raw(self, x: Tensor) -> Tensor:
        return self.mlp((x - self.shift) / self.scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.raw(x) @ self.coef


def kernel_density(points: np.ndarray, neighbors: int) -> tuple[np.ndarray, float]:
    """Gaussian kernel density (unnormalised) at ``points`` ``(n, D)`` and its bandwidth ``h``.

    ``h`` = median distance to the ``neighbors``-th neighbour; sums over pairs closer than ``3 h``
    from a k-d tree, ``O(n neighbors)`` pairs for a sampled manifold.
    """
    tree = cKDTree(points)
    h = float(np.median(tree.query(points, k=min(neighbors + 1, len(points)))[0][:, -1]))
    pairs = tree.sparse_distance_matrix(tree, 3 * h, output_type="coo_matrix")
    kde = np.bincount(pairs.row, np.exp(-0.5 * (pairs.data / h) ** 2), minlength=len(points)) + 1.0
    return kde, h


class LearnedEigenbasis:
    """Learned Laplace-Beltrami-like basis of a point cloud, scikit-learn style.

    Parameters
    ----------
    k : number of basis functions.
    probes : ``"heat"`` (Gaussian random field of bandwidth ``bandwidth``; eigenvalues estimate the
        Laplace-Beltrami ones) or a callable ``probes(points (b, D), generator) -> (b, P)`` giving
        ``P`` probe functions at the points (the same functions within one call); eigenvalues then
        are ``-log(mu_j / mu_0)``.
    bandwidth : probe length scale ``s``; default ``0.4`` times the RMS distance of the points from
        their centroid (scale-free).
    density_neighbors : neighbours setting the density bandwidth; ``0`` keeps the sampling measure.
    n_probes : probes per step ``P``. steps, lr : Adam steps and learning rate (cosine decay).
    width, depth : MLP size. batch_size : points per step (all points when fewer).
    ritz_points : subsample of the final Rayleigh-Ritz step (``O(ritz_points^2)``: the heat probes'
        covariance is the Gaussian kernel in closed form). ritz_probes : Monte Carlo probes for a
        callable ``probes`` instead.
    seed : seeds the network and the probes. dtype : of the network (float32 trains twice as fast;
        the final orthonormalisation runs in float64).

    Attributes after ``fit``: ``eigenvalues_`` ``(k,)``, ``operator_eigenvalues_`` (the ``mu_j``),
    ``measure_`` (the weights ``w_i``, sum 1, under which the basis is orthonormal at the fitted
    points), ``sample_density_`` (the kernel estimate at the fitted points, same normalisation as
    ``density``), ``network_`` (a differentiable ``nn.Module``: points -> the k functions),
    ``loss_``, ``n_iter_``, ``fit_time_``.
    """

    def __init__(
        self,
        k: int,
        probes: str | Probes = "heat",
        bandwidth: float | None = None,
        density_neighbors: int = 8,
        n_probes: int = 256,
        steps: int = 2000,
        lr: float = 3e-3,
        width: int = 64,
        depth: int = 2,
        batch_size: int = 4096,
        ritz_probes: int = 65536,
        ritz_points: int = 2048,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        self.ritz_probes = ritz_probes
        self.ritz_points = ritz_points
        self.k = k
        self.probes = probes
        self.bandwidth = bandwidth
        self.density_neighbors = density_neighbors
        self.n_probes = n_probes
        self.steps = steps
        self.lr = lr
        self.width = width
        self.depth = depth
        self.batch_size = batch_size
        self.seed = seed
        self.dtype = dtype

    # parameters ----------------------------------------------------------------------------

    def _check(self, points) -> Tensor:
        for name in ("k", "n_probes", "steps", "width", "depth", "batch_size", "ritz_probes", "ritz_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.density_neighbors, (int, np.integer)) or self.density_neighbors < 0:
            raise ValueError(f"density_neighbors must be a non-negative integer, got {self.density_neighbors!r}")
        if isinstance(self.probes, str) and self.probes not in PROBES:
            raise ValueError(f"unknown probes {self.probes!r}; use one of {', '.join(PROBES)} or a callable")
        if not isinstance(self.probes, str) and not callable(self.probes):
            raise ValueError("probes must be 'heat' or a callable (points, generator) -> (n, P)")
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ValueError(f"bandwidth must be positive, got {self.bandwidth!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        x = torch.as_tensor(points.detach() if isinstance(points, Tensor) else np.asarray(points))
        x = x.to(torch.float64)
        if x.dim() != 2:
            raise ValueError(f"points must have shape (n, D), got {tuple(x.shape)}")
        if x.shape[0] <= self.k:
            raise ValueError(f"need more points than basis functions: n = {x.shape[0]}, k = {self.k}")
        if not torch.isfinite(x).all():
            raise ValueError("points contain NaN or infinite values")
        return x

    # probes --------------------------------------------------------------------------------

    def _probe_values(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``(b, P)`` probe functions at ``x``: random Fourier features of the Gaussian kernel."""
        if callable(self.probes):
            return torch.as_tensor(self.probes(x, generator)).to(x.dtype)
        half = max(self.n_probes // 2, 1)
        angle = x @ (torch.randn(x.shape[1], half, generator=generator, dtype=x.dtype) / self.bandwidth_)
        return math.sqrt(2.0) * torch.cat([torch.cos(angle), torch.sin(angle)], 1)

    # fitting -------------------------------------------------------------------------------

    def fit(self, points, y=None) -> "LearnedEigenbasis":
        """Train the network on ``points`` ``(n, D)``; returns ``self``."""
        x64 = self._check(points)
        start = time.perf_counter()
        n, dim = x64.shape
        if self.density_neighbors > 0:
            kde, self.density_bandwidth_ = kernel_density(x64.numpy(), self.density_neighbors)
            weights = torch.as_tensor(1.0 / kde)
        else:
            weights, self.density_bandwidth_ = torch.ones(n, dtype=torch.float64), float("nan")
        weights = weights / weights.sum()
        centre = x64.mean(0)
        radius = float((x64 - centre).square().sum(1).mean().sqrt())
        self.bandwidth_ = float(self.bandwidth) if self.bandwidth is not None else 0.4 * radius
        torch.manual_seed(self.seed)
        net = EigenNetwork(dim, self.k, self.width, self.depth, centre.to(self.dtype), radius).to(self.dtype)
        gen = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(net.mlp.parameters(), lr=self.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.steps)
        nested = torch.arange(self.k, 0, -1, dtype=self.dtype)  # weight k - j + 1 of direction j
        x = x64.to(self.dtype)
        batch = min(self.batch_size, n)
        for _ in range(self.steps):
            if batch == n:
                xb, wb = x, weights.to(self.dtype)
            else:
                idx = torch.randperm(n, generator=gen)[:batch]
                xb, wb = x[idx], weights[idx].to(self.dtype)
                wb = wb / wb.sum()
            f = self._probe_values(xb, gen)
            root = wb.sqrt()[:, None]
            q, _ = torch.linalg.qr(root * net.raw(xb))
            captured = (q.T @ (root * f)).square().mean(1)  # E_f <f, phi_j>^2 under the weighted measure
            energy = (wb[:, None] * f.square()).sum(0).mean()
            loss = energy - (nested * captured).sum() / self.k  # (1/k) sum_j ||f - P_j f||^2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        self.loss_ = float(loss.detach())
        self.n_iter_ = self.steps
        with torch.no_grad():
            self._finalise(net, x64, weights, gen)
        self.fit_time_ = time.perf_counter() - start
        return self

    def _finalise(self, net: EigenNetwork, x: Tensor, weights: Tensor, gen: torch.Generator) -> None:
        """Orthonormalise (float64), Rayleigh-Ritz on fresh probes, eigenvalues and density."""
        raw = torch.cat([net.raw(x[i : i + 65536].to(self.dtype)) for i in range(0, len(x), 65536)]).double()
        root = weights.sqrt()[:, None]
        q, r = torch.linalg.qr(root * raw)
        # Rayleigh-Ritz on a subsample: the k x k covariance E <f, q_i> <f, q_j> of the probes
        sub = torch.randperm(len(x), generator=gen)[: self.ritz_points]
        qs, xs, ws = q[sub] / root[sub], x[sub], weights[sub] / weights[sub].sum()
        qs = qs * ws.sqrt()[:, None]
        qs = qs @ torch.linalg.inv(torch.linalg.cholesky(qs.T @ qs)).T  # orthonormal on the subsample
        if callable(self.probes):
            cov = torch.zeros(self.k, self.k, dtype=torch.float64)
            rounds = max(self.ritz_probes // self.n_probes, 1)
            for _ in range(rounds):
                coeff = qs.T @ (ws.sqrt()[:, None] * self._probe_values(xs, gen))  # <f, q_j>
                cov += coeff @ coeff.T / (coeff.shape[1] * rounds)
        else:  # the heat probes' covariance in closed form: E f(x) f(y) = exp(-|x - y|^2 / 2 s^2)
            kernel = torch.exp(-0.5 * torch.cdist(xs, xs).square() / self.bandwidth_**2)
            cov = qs.T @ (ws.sqrt()[:, None] * kernel * ws.sqrt()[None, :]) @ qs
        mu, rot = torch.linalg.eigh(cov)
        mu, rot = mu.flip(0), rot.flip(1)
        coef = torch.linalg.solve_triangular(r, rot, upper=True)  # phi = raw R^-1 rot, orthonormal
        phi = raw @ coef
        sign = torch.where(phi.mean(0) < 0, -1.0, 1.0).double()  # phi_0 > 0, others mean >= 0
        coef, phi = coef * sign, phi * sign
        self.network_ = net
        net.coef.copy_(coef.to(self.dtype))
        mu = mu.clamp_min(torch.finfo(torch.float64).tiny)
        self.operator_eigenvalues_ = mu.numpy()
        heat_time = self.bandwidth_**2 / 2 if self.probes == "heat" else 1.0
        self.eigenvalues_ = (-(mu / mu[0]).log() / heat_time).numpy()
        self._density_coef = phi.mean(0)  # <p, phi_j>_nu = E_{x ~ p} phi_j(x)
        self.measure_ = weights.numpy()
        self.sample_density_ = (1.0 / (weights * len(weights))).numpy()

    # evaluation ----------------------------------------------------------------------------

    def _fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ValueError("this LearnedEigenbasis is not fitted yet; call fit(points) first")

    def _as_tensor(self, points) -> tuple[Tensor, bool]:
        is_tensor = isinstance(points, Tensor)
        x = torch.as_tensor(points.detach() if is_tensor else np.asarray(points)).to(self.dtype)
        dim = self.network_.shift.shape[0]
        if x.dim() != 2 or x.shape[1] != dim:
            raise ValueError(f"points must have shape (m, {dim}), got {tuple(x.shape)}")
        return x, is_tensor

    def transform(self, points):
        """The k basis functions at ``points`` ``(m, D)`` -> ``(m, k)`` (same array type as input).

        Orthonormal under the (density-weighted) empirical measure of the fitted points.
        ``O(m)`` network evaluations; for gradients use ``network_`` directly.
        """
        self._fitted()
        x, is_tensor = self._as_tensor(points)
        with torch.no_grad():
            phi = torch.cat([self.network_(x[i : i + 65536]) for i in range(0, len(x), 65536)])
        return phi if is_tensor else phi.numpy()

    def fit_transform(self, points, y=None):
        return self.fit(points).transform(points)

    def density(self, points):
        """Sampling density at ``points`` w.r.t. the volume measure normalised to mass 1.

        ``p(x) = sum_j <p, phi_j> phi_j(x)`` (projection on the learned basis); uniform sampling
        gives ``p = 1``.
        """
        phi = torch.as_tensor(self.transform(points)).double()
        p = phi @ self._density_coef
        return p.to(self.dtype) if isinstance(points, Tensor) else p.numpy()
