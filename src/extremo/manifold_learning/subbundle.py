r"""Principal subbundles (Akhoj, Benn, Grong, Sommer and Pennec, "Principal subbundles for
dimension reduction").

At every $x \in \mathbb R^d$ a weighted local PCA of the point cloud gives a rank-k
projector $P(x) = U(x) U(x)^\top$ (top-k eigenvectors of the local covariance
$C(x) = \sum_j w_j (x_j - m)(x_j - m)^\top / \sum_j w_j$, $m$ the weighted mean, biweight
$w_j = (1 - |x - x_j|^2 / \rho^2)^2_+$). The subbundle $\mathcal H_x = \operatorname{im}
P(x)$ defines a sub-Riemannian metric: horizontal curves have $\dot\gamma \in \mathcal H$,
length $\int |\dot\gamma|$.

*Geodesics.* Instead of Hamiltonian shooting (a two-point boundary problem, fragile for far
pairs), the solver minimises the discrete path energy of the penalty metric
$g = P + \varepsilon^{-1} (I - P)$ (sub-Riemannian metrics are limits of such Riemannian
metrics as $\varepsilon \to 0$):

$$
E(X) = S \sum_{s=1}^{S} \Delta_s^\top g(\bar x_s) \Delta_s, \qquad
\Delta_s = x_s - x_{s-1}, \quad \bar x_s = (x_{s-1} + x_s) / 2,
$$

with fixed endpoints, by fixed-point iterations: freeze $g$ at the midpoints, solve the
block-tridiagonal normal equations $(g_s + g_{s+1}) x_s = g_s x_{s-1} + g_{s+1} x_{s+1}$
(block Thomas elimination batched over pairs, ``O(B S d^3)``), repeat; with ``trust`` set, a step is kept only if it shortens the path (else it is halved for
that pair) and moves each point at most ``trust`` mean segment lengths. At a horizontal path the derivative of
$g$ drops out of the stationarity condition, so the fixed points are the discrete geodesics.
The start is the shortest path in the k-nearest-neighbour graph (Dijkstra), resampled by arc
length, which also picks the right homotopy class. The reported distance is the path's length
$\sum_s \sqrt{\Delta_s^\top g(\bar x_s) \Delta_s}$.

*Embedding* in $\mathbb R^k$ by metric multidimensional scaling of sub-Riemannian
distances. The paper builds its representation in $\mathbb R^k$ from the sub-Riemannian
geometry of the subbundle. Where the leaf through the data is flat (the swiss roll), that
geometry's distances are Euclidean distances of the unrolled coordinates. MDS then recovers
those coordinates up to a rigid motion. Three steps:

1. *Graph distances.* Each edge $(i, j)$ of the symmetrised ``graph_neighbors``-nearest-
   neighbour graph gets the penalty-metric length of the segment,
   $\ell_{ij} = \sqrt{\Delta^\top g(\bar x) \Delta}$ (``length`` of the one-segment path), so
   edges leaving the subbundle count ``sqrt(penalty)`` times their vertical part. Dijkstra from
   ``landmarks`` points gives $D \in \mathbb R^{L \times n}$. This is ``O(L n log n)``
   time and ``O(L n)`` memory.
2. *Classical / landmark MDS* (Torgerson; de Silva and Tenenbaum, "Sparse multidimensional
   scaling using landmark points", 2004). Double-centre the landmark block,
   $B = -\tfrac12 J D_{LL}^{\circ 2} J$ with $J = I - \tfrac1L 11^\top$, and take its
   top-k eigenpairs $(\lambda_m, v_m)$. Every point is then triangulated from its squared
   distances $\delta$ to the landmarks, $y_m = -\tfrac{1}{2\sqrt{\lambda_m}}
   v_m^\top (\delta - \bar\delta)$, with $\bar\delta$ the landmark block's row mean. With
   all points as landmarks (``L = n``) this is exactly classical MDS. The cost is ``O(L^3)``.
3. *Local stress majorisation* (SMACOF; de Leeuw 1977). Graph distances zigzag: they
   overestimate long geodesics by a few per cent, which scales the embedding. So
   $\sum_{(i,j) \in E} \ell_{ij}^{-2} (|y_i - y_j| - \ell_{ij})^2$ is minimised over the
   graph edges only. The scale-free weights count relative edge errors, and no long distance
   enters. The Guttman transform $V Y^+ = B(Y) Y$ is solved with one sparse LU of the
   weighted graph Laplacian $V$, at ``O(|E|)`` per iteration after the factorisation.

New points are attached to their ``graph_neighbors`` nearest fitted points by the same edge
lengths and triangulated. They are then placed by Guttman updates of the local stress against
the fixed fitted coordinates. Normal coordinates at one base point (the sub-Riemannian logarithm:
each geodesic's initial direction scaled by its length) are the other natural choice, but they
fold far points: a direction error $\delta\theta$ moves a point at distance $r$ by
$r\,\delta\theta$.

*Reconstruction*: moving-least-squares projection. Iterate
$x \leftarrow m(x) + P(x)(x - m(x))$ onto the affine local principal planes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.sparse import coo_matrix, csr_matrix, diags
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import splu
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
    denoise : geodesics, and the edges of the embedding's graph, join the endpoints' projections
        by ``reconstruct`` (for noisy clouds).
    trust : largest move of a path point per iteration, in mean segment lengths, with a
        shortening line search (``None``: full fixed-point steps, fine on convex, gently curved
        clouds such as spheres; needed on rolled-up ones such as the swiss roll).
    landmarks : landmark points of the MDS embedding (all points when ``>= n``: classical MDS).
    stress_iterations : Guttman iterations of the local-stress refinement of ``embed``.
    random_state : seed of the landmark choice.
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
        landmarks: int = 1000,
        stress_iterations: int = 100,
        random_state: int | None = 0,
    ):
        self.landmarks = landmarks
        self.stress_iterations = stress_iterations
        self.random_state = random_state
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
        for name in ("steps", "iterations", "graph_neighbors", "max_neighbors", "landmarks"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.stress_iterations, (int, np.integer)) or self.stress_iterations < 0:
            raise ValueError(f"stress_iterations must be a non-negative integer, got {self.stress_iterations!r}")
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
        for name in ("embedding_", "landmarks_", "landmark_distances_", "_triangulation", "_nodes"):
            self.__dict__.pop(name, None)  # a refit forgets the previous cloud's embedding
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
        return self._length(path, self._segment_metric(path))

    def _segment_metric(self, path: Tensor) -> Tensor:
        """``g`` ``(..., S, d, d)`` at the segment midpoints of ``path`` ``(..., S + 1, d)``."""
        return self._metric(0.5 * (path[..., 1:, :] + path[..., :-1, :]))

    @staticmethod
    def _length(path: Tensor, g: Tensor) -> Tensor:
        delta = path[..., 1:, :] - path[..., :-1, :]
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
        # one metric evaluation (k-d tree query + local PCAs at all B S midpoints) per iteration:
        # the metric of the current path is kept from the line search or recomputed after a full step
        g = self._segment_metric(path)
        length = self._length(path, g)
        step = torch.ones(len(path), 1, 1, dtype=path.dtype)
        for _ in range(self.iterations):
            if g is None:
                g = self._segment_metric(path)
            # the frozen-metric solve is a linearisation: accept a step only if it shortens the
            # path, else halve it for that pair (backtracking)
            move = self._relax(path, g) - path
            if self.trust is not None:
                radius = self.trust * (path[:, 1:] - path[:, :-1]).norm(dim=-1).mean(1)[:, None, None]
                move = move * (radius / move.norm(dim=-1, keepdim=True).clamp_min(1e-300)).clamp(max=1.0)
            candidate = path + step * move
            if self.trust is None:  # full steps, no line search
                path, g = candidate, None
                continue
            new_g = self._segment_metric(candidate)
            new_length = self._length(candidate, new_g)
            better = new_length <= length
            path = torch.where(better[:, None, None], candidate, path)
            g = torch.where(better[:, None, None, None], new_g, g)
            length = torch.where(better, new_length, length)
            step = torch.where(better[:, None, None], (2 * step).clamp(max=1.0), step / 2)
            if (step * move).norm(dim=-1).max() < 1e-10:
                break
        return path

    def _relax(self, path: Tensor, g: Tensor) -> Tensor:
        """One fixed-point step: minimise the energy with ``g`` ``(B, S, d, d)`` frozen at the
        current midpoints.

        Block tridiagonal system ``(g_s + g_{s+1}) x_s - g_s x_{s-1} - g_{s+1} x_{s+1} = 0`` solved
        by block Thomas elimination, ``O(B S d^3)``.
        """
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

    def _edge_lengths(self, x: Tensor, idx: np.ndarray) -> Tensor:
        """Penalty-metric lengths ``(m, K)`` of the segments from ``x`` ``(m, d)`` to the fitted
        points ``idx`` ``(m, K)``: ``length`` of one-segment paths, ``O(m K)`` local PCAs. With
        ``denoise`` both ends are first projected by ``reconstruct``, as in ``distance``."""
        x = self.reconstruct(x) if self.denoise else x
        ends = self._nodes[torch.as_tensor(idx)]
        return self.length(torch.stack([x[:, None].expand_as(ends), ends], -2))

    def _fit_embedding(self) -> None:
        """Landmark MDS of the graph distances, refined by local stress (module docstring)."""
        n, k = len(self.points_), self.k
        m = min(self.graph_neighbors + 1, n)
        idx = self.tree_.query(self.points_.numpy(), k=m)[1][:, 1:]
        self._nodes = nodes = self.reconstruct(self.points_) if self.denoise else self.points_
        rows = np.repeat(np.arange(n), m - 1)
        lo, hi = np.minimum(rows, idx.ravel()), np.maximum(rows, idx.ravel())
        lo, hi = np.unique(np.stack([lo, hi], 1), axis=0).T  # each undirected edge once
        ell = self.length(torch.stack([nodes[lo], nodes[hi]], 1)).numpy()
        ell = np.maximum(ell, 1e-12 * ell.max())  # duplicate points: a tiny edge, not a missing one
        graph = coo_matrix((ell, (lo, hi)), shape=(n, n)).tocsr()
        rng = np.random.default_rng(self.random_state)
        landmarks = np.arange(n) if self.landmarks >= n else np.sort(rng.choice(n, self.landmarks, replace=False))
        dist = dijkstra(graph, directed=False, indices=landmarks)  # (L, n)
        if not np.isfinite(dist).all():
            raise ValueError("the neighbour graph of the points is disconnected; increase graph_neighbors")
        sq = dist[:, landmarks] ** 2
        centred = sq - sq.mean(0) - sq.mean(1)[:, None] + sq.mean()
        value, vector = np.linalg.eigh(-0.5 * centred)
        value, vector = value[::-1][:k], vector[:, ::-1][:, :k]
        if not value[-1] > 0:
            raise ValueError(f"the graph distances do not span {k} dimensions; use more landmarks or a smaller k")
        self._triangulation = (sq.mean(1), vector / np.sqrt(value))
        self.landmarks_, self.landmark_distances_ = landmarks, dist
        y = self._triangulate(dist.T)
        # local stress: Guttman transform V Y = B(Y) Y with node 0 pinned (V is a graph Laplacian)
        weight = np.maximum(ell, 1e-3 * np.median(ell)) ** -2.0  # capped for duplicate points
        sym = lambda w: (lambda a: a + a.T)(coo_matrix((w, (lo, hi)), shape=(n, n)).tocsr())
        adjacency = sym(weight)
        degree = np.asarray(adjacency.sum(1)).ravel()
        solve = splu((diags(degree) - adjacency)[1:, 1:].tocsc()).solve
        for _ in range(self.stress_iterations):
            b = sym(weight * ell / np.linalg.norm(y[lo] - y[hi], axis=1).clip(ell.min()))
            by = np.asarray(b.sum(1)).ravel()[:, None] * y - b @ y
            y = np.concatenate([np.zeros((1, k)), solve(by[1:])])
        self.embedding_ = torch.as_tensor(y - y.mean(0))

    def _triangulate(self, to_landmarks: np.ndarray) -> np.ndarray:
        """Landmark-MDS coordinates ``(m, k)`` from distances ``(m, L)`` to the landmarks."""
        mean, pinv = self._triangulation
        return -0.5 * (to_landmarks**2 - mean) @ pinv

    def embed(self, points) -> Tensor:
        """Coordinates ``(m, k)`` of ``points`` (fitted or new) in ``R^k``: metric MDS of
        sub-Riemannian graph distances (module docstring). The first call fits the embedding of
        the cloud, ``embedding_`` ``(n, k)``. That costs ``O(L n log n + L^3)`` and
        ``stress_iterations`` sparse solves. A fitted point gets its row of ``embedding_``. A new
        point is triangulated from its graph neighbours and placed by local stress, ``O(m K L)``."""
        self._fitted()
        x = self._tensor(points)
        shape = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        if not hasattr(self, "embedding_"):
            self._fit_embedding()
        dist, idx = self.tree_.query(x.numpy(), k=min(self.graph_neighbors, len(self.points_)))
        dist, idx = dist.reshape(len(x), -1), idx.reshape(len(x), -1)
        y = self.embedding_.numpy()[idx[:, 0]]  # fitted points keep their coordinates
        ell_scale = dist.max()
        new = dist[:, 0] > 0
        if new.any():
            idx = idx[new]
            ell = self._edge_lengths(x[torch.as_tensor(new)], idx).numpy().clip(1e-12 * ell_scale)
            z = self._triangulate((ell[..., None] + self.landmark_distances_.T[idx]).min(1))
            anchors, weight = self.embedding_.numpy()[idx], ell**-2.0
            for _ in range(self.stress_iterations):  # Guttman update of each new point, neighbours fixed
                offset = z[:, None] - anchors
                target = anchors + ell[..., None] * offset / np.linalg.norm(offset, axis=-1, keepdims=True).clip(1e-300)
                z = (weight[..., None] * target).sum(1) / weight.sum(1, keepdims=True)
            y[new] = z
        return torch.as_tensor(y).reshape(shape + (self.k,))

    def reconstruct(self, points, iterations: int = 10) -> Tensor:
        """Denoised points ``(..., d)``: moving-least-squares projection on the local principal
        planes, ``x <- m(x) + P(x) (x - m(x))``, ``iterations`` times."""
        x = self._tensor(points)
        for _ in range(iterations):
            mean, frame = self.local_pca(x)
            x = mean + (frame @ (frame.transpose(-1, -2) @ (x - mean)[..., None]))[..., 0]
        return x
