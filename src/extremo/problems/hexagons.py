"""Unit regular hexagons packed without overlap in the smallest regular hexagon.

``hexagons``: ``n`` regular hexagons of side 1, freely placed and rotated, with disjoint
interiors inside a regular hexagon of side ``L``; minimise ``L``. By scaling, the search keeps the
container fixed (side 1, centred at 0, vertices at angles ``k pi / 3``) and maximises the side
``r`` of the inner hexagons (centres ``c_i``, angles ``theta_i``): ``L = 1 / r``.

Constraints, written with `extremo.problems.declarative`: every vertex inside every edge of
the container (``min_e sqrt(3)/2 - N_e . v >= 0``), and for every pair a separating axis among the six
edge normals ``a`` of the two hexagons (separating axis theorem):
``max_a |a . (c_j - c_i)| - h_i(a) - h_j(a) >= 0``, ``h(a)`` the support of a centred hexagon. The
verifier's hexagons are the polygons of the float64 vertices
``c_i + r (cos(theta_i + k pi/3), sin(theta_i + k pi/3))``; borderline pairs and vertices are
decided in rationals (`Hexagons.exact_reject`). O(n^2) per candidate.

Search: starts are patches of the hexagonal tiling (`Hexagons.random`); the relaxation is the
declarative one; the polish (`Hexagons.polish`) replaces the pair constraints by a free
separating line per close pair, so SLSQP sees smooth constraints whatever the contact.
Records: AlphaEvolve (Novikov et al. 2025), results B.7.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch

from extremo.problems.base import Parameter
from extremo.problems.declarative import DeclarativeProblem, Variable
from extremo.problems.registry import register
from extremo.solvers.slsqp import slsqp

_K = np.arange(6) * (math.pi / 3)


def vertices(centers, angles, r, lib=np):
    """``(..., n, 6, 2)`` vertices ``c + r (cos(theta + k pi/3), sin(theta + k pi/3))`` of hexagons
    of side ``r`` (numpy arrays, or torch tensors with ``lib=torch``; batched)."""
    k = torch.as_tensor(_K, dtype=angles.dtype) if lib is torch else _K
    phi = angles[..., None] + k
    ring = lib.stack([lib.cos(phi), lib.sin(phi)], -1)
    return centers[..., None, :] + np.asarray(r)[..., None, None, None] * ring if lib is np else \
        centers[..., None, :] + r[..., None, None, None] * ring


#: the container: counterclockwise vertices of the regular hexagon of side 1
CONTAINER = vertices(np.zeros((1, 2)), np.zeros(1), 1.0)[0]


@register
class Hexagons(DeclarativeProblem):
    name = "hexagons"
    title = "n unit regular hexagons (free rotations) in the smallest regular hexagon"
    sense = "min"
    value_name = "outer side"
    parameters = (Parameter("n", "number of hexagons", 1, 30, default=11),)
    headline = ({"n": 11}, {"n": 12})
    scale = 4.0

    @property
    def search_defaults(self):
        """Few, well-relaxed starts: one SLSQP polish (dense, O(n^2) constraints) dominates a round."""
        return {"batch": 16, "steps": 200, "polish_top": 2, "polish_fresh": 1}

    def __init__(self, **instance) -> None:
        super().__init__(**instance)
        self.n = self.instance["n"]
        self._i, self._j = torch.triu_indices(self.n, self.n, 1)
        e = _K + math.pi / 6
        self._normals = torch.as_tensor(np.stack([np.cos(e), np.sin(e)], 1))

    def variables(self):
        n = self.instance["n"]
        return {"centers": Variable((n, 2), low=-1.0, high=1.0, shrink=1.0),
                "angles": Variable((n,), low=-10.0, high=10.0),
                "side": Variable((1,), low=0.0, high=1.0, shrink=2.0)}

    def objective(self, v, ops):
        return 1.0 / v["side"][..., 0]

    def constraints(self, v, ops):
        """Per vertex its tightest container edge; per pair its best separating axis."""
        c, th, r = v["centers"], v["angles"], v["side"][..., 0]
        vert = vertices(c, th, r, torch)  # (B, n, 6, 2)
        inside = ops.min(math.sqrt(3) / 2 - vert @ self._normals.to(vert).T)  # (B, n, 6)
        i, j = self._i, self._j
        k = torch.arange(6, dtype=th.dtype) * (math.pi / 3)
        phi = torch.cat([th[:, i, None] + k[:3], th[:, j, None] + k[:3]], -1) + math.pi / 6  # (B, P, 6)
        # support of hexagon i along the axis at angle phi: r max_k cos(theta_i + k pi/3 - phi)
        support = sum(ops.max(r[:, None, None, None] * torch.cos(th[:, a, None, None] + k - phi[..., None]))
                      for a in (i, j))
        axes = torch.stack([phi.cos(), phi.sin()], -1)
        gap = ((c[:, j] - c[:, i])[:, :, None, :] * axes).sum(-1).abs() - support
        return torch.cat([inside.flatten(1), ops.max(gap)], -1)

    # ------------------------------------------------------------------ starts
    def random(self, batch, generator, dtype=torch.float64):
        """Patches of the hexagonal lattice: the ``n`` sites nearest a random point of the
        edge-to-edge tiling (spacing ``sqrt(3) r``, one common orientation: random, or for a third
        of them one of the container's, 0 or 30 degrees), a random share of the
        hexagons turned by a random angle, all jittered by ``0.1 r``, at ``r`` with the area of
        the hexagons ``0.7`` to ``0.8`` of the container's; a quarter of the rows uniform."""
        n = self.n
        g = lambda *shape: torch.rand(shape, generator=generator, dtype=dtype)  # noqa: E731
        r = torch.sqrt((0.7 + 0.1 * g(batch)) / n)  # n r^2 = density * 1
        # a third of the patches aligned with the container (edges parallel, or turned by 30 degrees)
        aligned = (math.pi / 6) * torch.randint(0, 2, (batch,), generator=generator).to(dtype)
        theta = torch.where(g(batch) < 1 / 3, aligned, g(batch) * (math.pi / 3))
        k = math.ceil(math.sqrt(n)) + 2
        a, b = torch.meshgrid(torch.arange(-k, k + 1, dtype=dtype), torch.arange(-k, k + 1, dtype=dtype), indexing="ij")
        lattice = torch.stack([a.flatten() + b.flatten() / 2, b.flatten() * math.sqrt(3) / 2], -1)  # unit spacing
        offset = g(batch, 1, 2) - 0.5
        near = (lattice - offset).square().sum(-1).argsort(-1)[:, :n]  # (B, n)
        sites = lattice[near] - offset
        sites = sites - sites.mean(1, keepdim=True)
        phi = theta[:, None] + math.pi / 6
        rot = torch.stack([torch.stack([phi.cos(), -phi.sin()], -1), torch.stack([phi.sin(), phi.cos()], -1)], -2)
        centers = (rot @ sites[..., None])[..., 0] * (math.sqrt(3) * r[:, None, None])
        centers = centers + 0.1 * r[:, None, None] * torch.randn(centers.shape, generator=generator, dtype=dtype)
        turned = g(batch, n) < g(batch, 1) * 0.5
        angles = theta[:, None] + turned * g(batch, n) * (math.pi / 3)
        x = torch.cat([centers.flatten(1), angles, r[:, None]], -1)
        uniform = super().random(batch, generator, dtype)
        return torch.where((g(batch) < 0.25)[:, None], uniform, x)

    # ------------------------------------------------------------------ polish
    def polish(self, x, effort=1):
        """SLSQP on ``max r`` with a free separating line per close pair: unit normal
        ``u = (cos psi, sin psi)`` and offset ``d``, every vertex of one hexagon with ``u . v <= d``,
        every vertex of the other with ``u . v >= d`` (smooth, and every separating line is
        reachable, not only the edge normals); every vertex inside every container edge. The
        lines start on the best separating axis (`_separating_lines`). The close pairs are
        those with centres nearer than ``2.5 r``; a pair that comes nearer than ``2 r`` in the
        solution joins them and SLSQP resumes from there (at most four passes). Then
        `repair`, kept if better. ``O(n^2)`` constraints (12 a close pair, 36 a hexagon),
        dense Jacobian (forward mode)."""
        z0 = self.repair(x)
        n, dim = self.n, self.dim
        i, j = (t.numpy() for t in torch.triu_indices(n, n, 1))
        close = np.zeros(len(i), dtype=bool)
        z = z0
        for _ in range(4):
            v = self.to_config(z)
            dist = np.linalg.norm(v["centers"][j] - v["centers"][i], axis=1)
            new = ~close & (dist < (2.5 if not close.any() else 2.0) * float(v["side"][0]))
            if close.any() and not new.any():
                break
            close |= new
            z = self._polish_lines(z, i[close], j[close], 100 * effort)
        z = self.repair(z)
        better, start = self.verify(self.to_config(z)), self.verify(self.to_config(z0))
        if better.feasible and (not start.feasible or better.value < start.value):
            return z
        return z0

    def _polish_lines(self, z0, pi, pj, maxiter):
        """One SLSQP pass of `polish` with separating lines for the pairs ``(pi, pj)``; the
        unrepaired result."""
        dim, pairs, normals = self.dim, len(pi), self._normals
        v0 = self.to_config(z0)
        psi0, d0 = _separating_lines(vertices(v0["centers"], v0["angles"], float(v0["side"][0])), pi, pj)
        pi, pj = torch.as_tensor(pi), torch.as_tensor(pj)

        def cons(z):
            v = self.split(z[None, :dim])
            vert = vertices(v["centers"], v["angles"], v["side"][..., 0], torch)[0]  # (n, 6, 2)
            inside = (math.sqrt(3) / 2 - vert @ normals.to(vert).T).flatten()
            psi, d = z[dim:dim + pairs], z[dim + pairs:]
            u = torch.stack([psi.cos(), psi.sin()], -1)[:, None, :]
            below = d[:, None] - (vert[pi] * u).sum(-1)
            above = (vert[pj] * u).sum(-1) - d[:, None]
            return torch.cat([inside, below.flatten(), above.flatten()])

        def jacobian(z):
            return torch.func.jacfwd(cons)(torch.as_tensor(z)).numpy()

        bounds = []
        for var in self.vars.values():
            bounds += [(var.low, var.high)] * var.size
        bounds += [(None, None)] * (2 * pairs)
        res = slsqp(lambda w: -w[dim - 1], cons, np.concatenate([z0, psi0, d0]), bounds=bounds,
                    maxiter=maxiter, jacobian=jacobian)
        return res.z[:dim]

    def exact_reject(self, config):
        """The separating axis test and the containment in rationals, on the float64 vertices."""
        vert = vertices(config["centers"], config["angles"], config["side"][0])
        q = [[tuple(map(Fraction, p)) for p in hexagon] for hexagon in vert.tolist()]
        box = [tuple(map(Fraction, p)) for p in CONTAINER.tolist()]
        for h, poly in enumerate(q):
            for k in range(6):
                (ax, ay), (bx, by) = box[k], box[(k + 1) % 6]
                if any((bx - ax) * (py - ay) - (by - ay) * (px - ax) < 0 for px, py in poly):
                    return f"hexagon {h} sticks out of container edge {k}"
        for a in range(self.n):
            for b in range(a + 1, self.n):
                if not _separated(q[a], q[b]):
                    return f"hexagons {a} and {b} overlap"
        return None

    def draw(self, ax, config) -> None:  # pragma: no cover - drawn in plots tests
        from matplotlib.patches import Polygon

        ax.add_patch(Polygon(CONTAINER, closed=True, fill=False, lw=1.5, color="black"))
        for poly in vertices(config["centers"], config["angles"], config["side"][0]):
            ax.add_patch(Polygon(poly, closed=True, alpha=0.6, fc="tab:blue", ec="navy"))
        ax.set_xlim(-1.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_aspect("equal")


def _separated(p, q) -> bool:
    """Exact separating axis test of two convex polygons (rational vertices): the interiors are
    disjoint iff the projections on some edge normal do not overlap (touching allowed)."""
    for poly in (p, q):
        for k in range(len(poly)):
            (ax, ay), (bx, by) = poly[k], poly[(k + 1) % len(poly)]
            nx, ny = ay - by, bx - ax
            sp = [nx * x + ny * y for x, y in p]
            sq = [nx * x + ny * y for x, y in q]
            if max(sp) <= min(sq) or max(sq) <= min(sp):
                return True
    return False


def _separating_lines(vert: np.ndarray, pi: np.ndarray, pj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pair ``(pi, pj)`` of hexagons (vertices ``(n, 6, 2)``) the edge normal ``psi`` of either
    along which hexagon ``pi`` lies most below hexagon ``pj``, and the offset ``d`` halfway
    between their projections; O(pairs)."""
    edge = np.arctan2(vert[:, 1, 1] - vert[:, 0, 1], vert[:, 1, 0] - vert[:, 0, 0]) - math.pi / 2
    psi = (np.stack([edge[pi], edge[pj]], 1)[:, :, None] + _K).reshape(len(pi), 12)
    axes = np.stack([np.cos(psi), np.sin(psi)], -1)  # (P, 12, 2)
    top = np.einsum("pkd,pvd->pkv", axes, vert[pi]).max(-1)
    bottom = np.einsum("pkd,pvd->pkv", axes, vert[pj]).min(-1)
    best = (bottom - top).argmax(-1)
    rows = np.arange(len(pi))
    return psi[rows, best], (top + bottom)[rows, best] / 2
