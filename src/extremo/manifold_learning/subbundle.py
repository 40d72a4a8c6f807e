r"""Principal subbundles (Akhoj, Benn, Grong, Sommer and Pennec, "Principal subbundles for
dimension reduction").

At every :math:`x \in \mathbb R^d` a weighted local PCA of the point cloud gives a rank-k
projector :math:`P(x) = U(x) U(x)^\top` (top-k eigenvectors of the local covariance
:math:`C(x) = \sum_j w_j (x_j - m)(x_j - m)^\top / \sum_j w_j`, :math:`m` the weighted mean, biweight
:math:`w_j = (1 - |x - x_j|^2 / \rho^2)^2_+`). The subbundle :math:`\mathcal H_x = \operatorname{im}
P(x)` defines a sub-Riemannian metric: horizontal curves have :math:`\dot\gamma \in \mathcal H`,
length :math:`\int |\dot\gamma|`.

*Geodesics.* Instead of Hamiltonian shooting (a two-point boundary problem, fragile for far
pairs), the solver minimises the discrete path energy of the penalty metric
:math:`g = P + \varepsilon^{-1} (I - P)` (sub-Riemannian metrics are limits of such Riemannian
metrics as :math:`\varepsilon \to 0`):

.. math::

    E(X) = S \sum_{s=1}^{S} \Delta_s^\top g(\bar x_s) \Delta_s, \qquad
    \Delta_s = x_s - x_{s-1}, \quad \bar x_s = (x_{s-1} + x_s) / 2,

with fixed endpoints, by fixed-point iterations: freeze :math:`g` at the midpoints, solve the
block-tridiagonal normal equations :math:`(g_s + g_{s+1}) x_s = g_s x_{s-1} + g_{s+1} x_{s+1}`
(block Thomas elimination batched over pairs, ``O(B S d^3)``), repeat; with ``trust`` set, a step is kept only if it shortens the path (else it is halved for
that pair) and moves each point at most ``trust`` mean segment lengths. At a horizontal path the derivative of
:math:`g` drops out of the stationarity condition, so the fixed points are the discrete geodesics.
The start is the shortest path in the k-nearest-neighbour graph (Dijkstra), resampled by arc
length, which also picks the right homotopy class. The reported distance is the path's length
:math:`\sum_s \sqrt{\Delta_s^\top g(\bar x_s) \Delta_s}`.

*Embedding* in :math:`\mathbb R^k`: normal coordinates at a base point, :math:`U(b)^\top v`, with
:math:`v` the initial direction of the geodesic from :math:`b` scaled by its length (the
sub-Riemannian logarithm). *Reconstruction*: moving-least-squares projection, iterate
:math:`x \leftarrow m(x) + P(x)(x - m(x))` onto the affine local principal planes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from torch import Tensor

Frame = Callable[[Tensor], Tensor]


class PrincipalSubbundle:
    """Rank-k principal subbundle of a point cloud in ``R^d``, scikit-learn style.

    Parameters
    ----------
    k : rank (the intrinsic dimension).
    radius : local PCA over the points within ``radius`` (biweight weights), or
    n_neighbors : over the ``n_neighbors`` nearest points (bandwidth: the next neighbour's distance).
    frame : optional ``frame(x (..., d)) -> (..., d, k)`` orthonormal frames of a known subbundle
        (e.g. exact tangent spaces); replaces local PCA.
    penalty : ``1 / epsilon`` of the penalty metric. steps : segments of a discrete geodesic.
    iterations : fixed-point iterations of the geodesic solver. graph_neighbors : of the graph
        giving the initial paths. max_neighbors : cap of the radius queries.
    denoise : geodesics join the endpoints' projections by ``reconstruct`` (for noisy clouds).
    trust : largest move of a path point per iteration, in mean segment lengths, with a
        shortening line search (``None``: full fixed-point steps, fine on convex, gently curved
        clouds such as spheres; needed on rolled-up ones such as the swiss roll).
    """

    def __init__(
        self,
        k: int,
        radius: float | None = None,
        n_neighbors: int | None = None,
        frame: Frame | None = None,
        penalty: float = 100.0,
        steps: int = 32,
        iterations: int = 20,
        graph_neighbors: int = 10,
        max_neighbors: int = 128,
        denoise: bool = True,
        trust: float | None = 0.25,
    ):
        self.trust = trust
        self.denoise = denoise
        self.k = k
        self.radius = radius
        self.n_neighbors = n_neighbors
        self.frame = frame
        self.penalty = penalty
        self.steps = steps
        self.iterations = iterations
        self.graph_neighbors = graph_neighbors
        self.max_neighbors = max_neighbors

    # fitting -------------------------------------------------------------------------------

    def fit(self, points, y=None) -> "PrincipalSubbundle":
        """Store the cloud ``(n, d)``, its k-d tree and its neighbour graph; returns ``self``."""
        x = np.asarray(points.detach().cpu() if isinstance(points, Tensor) else points, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"points must have shape (n, d), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("points contain NaN or infinite values")
        n, d = x.shape
        if not isinstance(self.k, (int, np.integer)) or not 1 <= self.k < d:
            raise ValueError(f"k must be an integer in 1..{d - 1} for points in R^{d}, got {self.k!r}")
        if self.frame is None and (self.radius is None) == (self.n_neighbors is None):
            raise ValueError("give exactly one of radius= or n_neighbors= (or a frame=)")
        if self.radius is not None and not self.radius > 0:
            raise ValueError(f"radius must be positive, got {self.radius!r}")
        if self.n_neighbors is not None and not (isinstance(self.n_neighbors, (int, np.integer)) and self.k < self.n_neighbors < n):
            raise ValueError(f"n_neighbors must be an integer in {self.k + 1}..{n - 1}, got {self.n_neighbors!r}")
        for name in ("steps", "iterations", "graph_neighbors", "max_neighbors"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.steps < 2:
            raise ValueError(f"steps must be at least 2, got {self.steps}")
        if not self.penalty >= 1:
            raise ValueError(f"penalty must be >= 1 (it is 1 / epsilon of the penalty metric), got {self.penalty!r}")
        self.points_ = torch.as_tensor(x)
        self.tree_ = cKDTree(x)
        m = min(self.graph_neighbors + 1, n)
        dist, idx = self.tree_.query(x, k=m)
        rows = np.repeat(np.arange(n), m - 1)
        graph = csr_matrix((dist[:, 1:].ravel(), (rows, idx[:, 1:].ravel())), shape=(n, n))
        self.graph_ = graph.maximum(graph.T).tocsr()
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "points_"):
            raise ValueError("this PrincipalSubbundle is not fitted yet; call fit(points) first")

    def _tensor(self, points, name: str = "points") -> Tensor:
        x = torch.as_tensor(points.detach() if isinstance(points, Tensor) else np.asarray(points)).to(torch.float64)
        d = self.points_.shape[1]
        if x.shape[-1:] != (d,):
            raise ValueError(f"{name} must have shape (..., {d}), got {tuple(x.shape)}")
        return x

    # the subbundle -------------------------------------------------------------------------

    def local_pca(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Weighted mean ``(..., d)`` and frame ``U`` ``(..., d, k)`` at points ``x`` ``(..., d)``.

        ``O(B (K d^2 + d^3))`` for ``B`` points and ``K`` neighbours (k-d tree queries).
        """
        self._fitted()
        shape = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1])
        q = flat.detach().cpu().numpy()
        if self.n_neighbors is not None:
            dist, idx = self.tree_.query(q, k=self.n_neighbors + 1)
            rho = dist[:, -1:] + 1e-12
            dist, idx = dist[:, :-1], idx[:, :-1]
        else:
            dist, idx = self.tree_.query(q, k=min(self.max_neighbors, len(self.points_)), distance_upper_bound=self.radius)
            rho = np.full((len(q), 1), self.radius)
        valid = np.isfinite(dist)
        idx = np.where(valid, idx, 0)
        w = np.where(valid, np.clip(1 - (np.where(valid, dist, 0) / rho) ** 2, 0, None) ** 2, 0.0)
        w = torch.as_tensor(w) + 1e-300
        nb = self.points_[torch.as_tensor(idx)]  # (B, K, d)
        w = w / w.sum(1, keepdim=True)
        mean = (w[..., None] * nb).sum(1)
        centred = nb - mean[:, None]
        cov = torch.einsum("bk,bki,bkj->bij", w, centred, centred)
        if self.frame is not None:
            frame = self.frame(flat)
        else:
            frame = torch.linalg.eigh(cov)[1][..., -self.k :].flip(-1)
        return mean.reshape(shape + mean.shape[-1:]), frame.reshape(shape + frame.shape[-2:])

    def projector(self, x: Tensor) -> Tensor:
        """``P(x) = U U^T`` ``(..., d, d)``: orthogonal projector on the subbundle at ``x``."""
        if self.frame is not None:
            self._fitted()
            u = self.frame(x)
        else:
            u = self.local_pca(x)[1]
        return u @ u.transpose(-1, -2)

    def _metric(self, x: Tensor) -> Tensor:
        p = self.projector(x)
        eye = torch.eye(x.shape[-1], dtype=x.dtype)
        return p + self.penalty * (eye - p)

    # geodesics -----------------------------------------------------------------------------

    def length(self, path: Tensor) -> Tensor:
        """Length ``(...,)`` of polygonal paths ``(..., S + 1, d)`` in the penalty metric."""
        delta = path[..., 1:, :] - path[..., :-1, :]
        g = self._metric(0.5 * (path[..., 1:, :] + path[..., :-1, :]))
        return torch.einsum("...si,...sij,...sj->...s", delta, g, delta).clamp_min(0).sqrt().sum(-1)

    def _initial_paths(self, a: Tensor, b: Tensor) -> Tensor:
        """Graph shortest paths ``a -> nearest -> ... -> nearest -> b`` resampled to S + 1 points."""
        ia = self.tree_.query(a.numpy())[1]
        ib = self.tree_.query(b.numpy())[1]
        sources, inverse = np.unique(ia, return_inverse=True)
        _, pred = dijkstra(self.graph_, indices=sources, return_predecessors=True)
        pred = pred[inverse]  # (B, n)
        rows = np.arange(len(ia))
        chain = [ib]
        node = ib
        while True:  # walk all predecessor chains at once, one hop per pass
            nxt = pred[rows, node]
            nxt = np.where((node == ia) | (nxt < 0), node, nxt)
            if np.array_equal(nxt, node):
                break
            chain.append(nxt)
            node = nxt
        nodes = torch.as_tensor(np.stack(chain[::-1], 1))  # (B, L), padded by repeating the source
        poly = torch.cat([a[:, None], self.points_[nodes], b[:, None]], 1)
        seg = (poly[:, 1:] - poly[:, :-1]).norm(dim=-1)
        cum = torch.cat([torch.zeros(len(a), 1, dtype=a.dtype), seg.cumsum(1)], 1)
        total = cum[:, -1:].clamp_min(1e-300)
        target = torch.linspace(0, 1, self.steps + 1, dtype=a.dtype)[None] * total
        j = torch.searchsorted(cum, target.contiguous()).clamp(1, poly.shape[1] - 1)
        lo, hi = cum.gather(1, j - 1), cum.gather(1, j)
        frac = ((target - lo) / (hi - lo).clamp_min(1e-300))[..., None]
        p0 = poly.gather(1, (j - 1)[..., None].expand(-1, -1, poly.shape[-1]))
        p1 = poly.gather(1, j[..., None].expand(-1, -1, poly.shape[-1]))
        path = p0 + frac * (p1 - p0)
        path[:, 0], path[:, -1] = a, b
        return path

    def geodesic(self, a, b, steps: int | None = None) -> Tensor:
        """Discrete geodesics ``(B, steps + 1, d)`` from ``a`` to ``b`` (each ``(B, d)`` or ``(d,)``)."""
        self._fitted()
        a, b = self._tensor(a, "a"), self._tensor(b, "b")
        if self.denoise:
            a, b = self.reconstruct(a), self.reconstruct(b)
        a, b = torch.broadcast_tensors(a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1]))
        a, b = a.contiguous(), b.contiguous()
        steps = self.steps if steps is None else steps
        if not isinstance(steps, (int, np.integer)) or steps < 2:
            raise ValueError(f"steps must be an integer >= 2, got {steps!r}")
        saved, self.steps = self.steps, steps
        try:
            path = self._initial_paths(a, b)
        finally:
            self.steps = saved
        length = self.length(path)
        step = torch.ones(len(path), 1, 1, dtype=path.dtype)
        for _ in range(self.iterations):
            # the frozen-metric solve is a linearisation: accept a step only if it shortens the
            # path, else halve it for that pair (backtracking)
            move = self._relax(path) - path
            if self.trust is not None:
                radius = self.trust * (path[:, 1:] - path[:, :-1]).norm(dim=-1).mean(1)[:, None, None]
                move = move * (radius / move.norm(dim=-1, keepdim=True).clamp_min(1e-300)).clamp(max=1.0)
            candidate = path + step * move
            if self.trust is None:  # full steps, no line search
                path = candidate
                continue
            new_length = self.length(candidate)
            better = new_length <= length
            path = torch.where(better[:, None, None], candidate, path)
            length = torch.where(better, new_length, length)
            step = torch.where(better[:, None, None], (2 * step).clamp(max=1.0), step / 2)
            if (step * move).norm(dim=-1).max() < 1e-10:
                break
        return path

    def _relax(self, path: Tensor) -> Tensor:
        """One fixed-point step: minimise the energy with ``g`` frozen at the current midpoints.

        Block tridiagonal system ``(g_s + g_{s+1}) x_s - g_s x_{s-1} - g_{s+1} x_{s+1} = 0`` solved
        by block Thomas elimination, ``O(B S d^3)``.
        """
        g = self._metric(0.5 * (path[:, 1:] + path[:, :-1]))  # (B, S, d, d)
        steps = g.shape[1]
        diag = g[:, :-1] + g[:, 1:]  # (B, S - 1, d, d), row s = interior point s + 1
        rhs = torch.zeros_like(path[:, 1:-1])
        rhs[:, 0] = (g[:, 0] @ path[:, 0, :, None])[..., 0]
        rhs[:, -1] = rhs[:, -1] + (g[:, -1] @ path[:, -1, :, None])[..., 0]
        # forward sweep: c'_s = D'_s^-1 g_{s+1} (upper block is -g_{s+1}), r'_s = D'_s^-1 r_s
        upper, right = [], []
        d_prev = c_prev = r_prev = None
        for s in range(steps - 1):
            dm, r = diag[:, s], rhs[:, s]
            if s > 0:
                lower = g[:, s]  # block -g_s couples x_s to x_{s-1}
                dm = dm - lower @ c_prev
                r = r + (lower @ r_prev[..., None])[..., 0]
            if s < steps - 2:
                c_prev = torch.linalg.solve(dm, g[:, s + 1])
                upper.append(c_prev)
            r_prev = torch.linalg.solve(dm, r[..., None])[..., 0]
            right.append(r_prev)
        interior = [right[-1]]
        for s in range(steps - 3, -1, -1):
            interior.append(right[s] + (upper[s] @ interior[-1][..., None])[..., 0])
        return torch.cat([path[:, :1], torch.stack(interior[::-1], 1), path[:, -1:]], 1)

    def distance(self, a, b) -> Tensor:
        """Sub-Riemannian distances ``(B,)`` between rows of ``a`` and ``b`` (broadcast).

        With ``denoise=True`` the endpoints are first projected by ``reconstruct`` (noisy
        observations lie off the horizontal leaves, where the penalty would dominate).
        """
        return self.length(self.geodesic(a, b))

    # embedding and reconstruction ----------------------------------------------------------

    def embed(self, points, base=None) -> Tensor:
        """Normal coordinates ``(m, k)`` of ``points`` at ``base`` (default: the fitted point
        nearest the centroid): ``U(b)^T v`` with ``v`` the geodesic's initial direction times its
        length. ``O(m)`` geodesics."""
        self._fitted()
        x = self._tensor(points)
        if base is None:
            base = self.points_[self.tree_.query(self.points_.mean(0).numpy())[1]]
        base = self._tensor(base, "base").reshape(-1)
        self.base_ = base
        path = self.geodesic(base.expand_as(x), x)
        frame = self.local_pca(base)[1] if self.frame is None else self.frame(base)
        head = (path[:, 1] - path[:, 0]) @ frame  # horizontal part of the first step
        direction = head / head.norm(dim=-1, keepdim=True).clamp_min(1e-300)
        return direction * self.length(path)[:, None]

    def reconstruct(self, points, iterations: int = 10) -> Tensor:
        """Denoised points ``(..., d)``: moving-least-squares projection on the local principal
        planes, ``x <- m(x) + P(x) (x - m(x))``, ``iterations`` times."""
        x = self._tensor(points)
        for _ in range(iterations):
            mean, frame = self.local_pca(x)
            x = mean + (frame @ (frame.transpose(-1, -2) @ (x - mean)[..., None]))[..., 0]
        return x
