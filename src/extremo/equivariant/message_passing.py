r"""A compact equivariant message-passing layer: point cloud in, irreps features out.

For points $x_i$ with features $h_i$ (default: one scalar 1 per point),

$$
z_i = \mathrm{Lin}\Big(\frac{1}{\sqrt{n-1}} \sum_{j \ne i}
\mathrm{TP}_{uvu}\big(h_j,\, Y(x_j - x_i);\, W(\|x_j - x_i\|)\big)\Big),
$$

with the spherical harmonics ``Y`` up to ``lmax`` ("component" normalisation), a channel-wise
Clebsch-Gordan product (`.ClebschGordanTensorProduct`, mode ``"uvu"``) whose path weights
come per edge from an MLP of a Gaussian radial basis times the smooth envelope
$(1 - (r/r_c)^2)^2$ that vanishes with its derivative at the cutoff $r_c$, and an
equivariant `.Linear` to ``irreps_out`` (Thomas et al. 2018, "Tensor field networks"; the
e3nn point convolution). Invariant to translations, equivariant to O(3) and to permutations of the
points. Dense over pairs: cost ``O(n^2)`` edges per cloud, for small clouds (``n`` up to a few hundred).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .irreps import Irreps
from .linear import Linear
from .spherical_harmonics import spherical_harmonics
from .tensor_product import ClebschGordanTensorProduct

__all__ = ["PointConvolution"]


class PointConvolution(nn.Module):
    """Equivariant convolution of a point cloud (see module doc).

    Args:
        irreps_out: irreps of the output features, e.g. ``"8x0e+4x1o+2x2e"``.
        irreps_node: irreps of the input features ``h``; default ``"1x0e"`` (no features, ``h = 1``).
        lmax: degree of the edge spherical harmonics.
        cutoff: interaction radius $r_c$.
        num_basis: size of the radial basis.
        hidden: width of the radial MLP.

    ``forward(pos, h=None)``: ``pos`` ``(..., n, 3)``, ``h`` ``(..., n, irreps_node.dim)``
    -> ``(..., n, irreps_out.dim)``.
    """

    def __init__(
        self,
        irreps_out,
        irreps_node="1x0e",
        lmax: int = 2,
        cutoff: float = 1.0,
        num_basis: int = 8,
        hidden: int = 32,
    ):
        super().__init__()
        if cutoff <= 0 or num_basis < 1 or lmax < 0:
            raise ValueError(f"need cutoff > 0, num_basis >= 1, lmax >= 0; got {cutoff}, {num_basis}, {lmax}")
        self.irreps_out, self.irreps_node = Irreps(irreps_out), Irreps(irreps_node)
        self.irreps_sh = Irreps.spherical_harmonics(lmax)
        self.lmax, self.cutoff = lmax, float(cutoff)
        wanted = {ir for _, ir in self.irreps_out}
        mid, paths = [], []
        for i1, (mul, ir1) in enumerate(self.irreps_node):
            for i2, (_, ir2) in enumerate(self.irreps_sh):
                for ir in ir1 * ir2:
                    if ir in wanted:
                        paths.append((i1, i2, len(mid)))
                        mid.append((mul, ir))
        if not paths:
            raise ValueError(
                f"no irrep of {self.irreps_out} can be reached from {self.irreps_node} x Y^(0..{lmax}); "
                "raise lmax or add matching parities"
            )
        self.irreps_mid = Irreps(mid)
        self.tp = ClebschGordanTensorProduct(
            self.irreps_node, self.irreps_sh, self.irreps_mid, mode="uvu", paths=paths, internal_weights=False
        )
        self.register_buffer("centers", torch.linspace(0.0, self.cutoff, num_basis), persistent=False)
        self.width = self.cutoff / num_basis
        self.radial = nn.Sequential(
            nn.Linear(num_basis, hidden), nn.SiLU(), nn.Linear(hidden, self.tp.weight_numel)
        )
        self.linear = Linear(self.irreps_mid, self.irreps_out)

    def __repr__(self) -> str:
        return f"PointConvolution({self.irreps_node} -> {self.irreps_out}, lmax={self.lmax}, cutoff={self.cutoff})"

    def forward(self, pos: torch.Tensor, h: Optional[torch.Tensor] = None) -> torch.Tensor:
        if pos.dim() < 2 or pos.shape[-1] != 3:
            raise ValueError(f"pos must have shape (..., n, 3), got {tuple(pos.shape)}")
        n = pos.shape[-2]
        if h is None:
            if self.irreps_node != Irreps("1x0e"):
                raise ValueError(f"pass node features h of shape (..., {n}, {self.irreps_node.dim})")
            h = pos.new_ones(pos.shape[:-1] + (1,))
        self.irreps_node.check_features(h, "h")
        if h.shape[-2] != n:
            raise ValueError(f"h has {h.shape[-2]} points but pos has {n}")
        rel = pos[..., None, :, :] - pos[..., :, None, :]  # (..., i, j, 3): x_j - x_i
        self_pair = torch.eye(n, dtype=torch.bool, device=pos.device)
        # the diagonal is masked out below; shifting it keeps the norm differentiable
        rel = rel + self_pair[..., None].to(rel.dtype)
        r = rel.norm(dim=-1)
        u = (r / self.cutoff).clamp(max=1.0)
        envelope = ((1 - u * u) ** 2) * (~self_pair).to(r.dtype)
        basis = torch.exp(-(((r[..., None] - self.centers.to(r.dtype)) / self.width) ** 2))
        weight = self.radial(basis) * envelope[..., None]
        sh = spherical_harmonics(list(range(self.lmax + 1)), rel, normalization="component")
        messages = self.tp(h[..., None, :, :], sh, weight)  # (..., i, j, mid)
        z = messages.sum(dim=-2) / math.sqrt(max(n - 1, 1))
        return self.linear(z)
