r"""Clebsch-Gordan tensor products of irreps features with learnable path weights.

A path ``(i1, i2, io)`` couples block ``i1`` of the first input (``mul1 x l1``) and block ``i2`` of
the second (``mul2 x l2``) into block ``io`` of the output (``mul_out x l3``) by

.. math:: z^{(io)}_{w k} \mathrel{+}= \alpha_{path} \sum_{uv} W_{uvw}
          \sum_{ij} C^{l_1 l_2 l_3}_{ijk}\, x_{u i}\, y_{v j}

with the real Clebsch-Gordan tensor ``C`` of :mod:`.clebsch_gordan`. Modes (as e3nn):

* ``"uvw"`` fully connected, weights ``(mul1, mul2, mul_out)`` per path;
* ``"uvu"`` channel-wise, ``z_u = sum_v W_uv x_u (x) y_v``, weights ``(mul1, mul2)``, ``mul_out = mul1``;
  with ``mul2 = 1`` this is the convolution of features with edge harmonics;
* ``"uuu"`` element-wise, ``z_u = W_u x_u (x) y_u``, weights ``(mul1,)``, all multiplicities equal.

Normalisation follows e3nn (``irrep_normalization``, ``path_normalization``) so that unit-variance
inputs and weights give unit-variance outputs; the weights are laid out path after path, each
flattened as above, so parameters can be exchanged with ``e3nn.o3.TensorProduct``.

Implementation: paths sharing ``(i1, i2)`` are fused into one matrix ``(d1 d2, sum d3)`` built once.
``y`` is contracted with it first (cost ``B mul2 d1 d2 sum d3``), so multiplicities of ``x`` only
meet the much smaller ``(d1, sum d3)`` slices; ``"uuu"`` contracts the outer product ``x_u (x) y_u``
(cost ``B mul d1 d2 sum d3``); with one multiplicity everywhere, ``"uuu"`` concatenates the outputs of
all paths, scales them by the weights in one gather and sums them into the output blocks with one
0/1 matmul. All batched GEMMs, no loops over batch elements.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence

import torch
from torch import nn

from .clebsch_gordan import wigner_3j
from .irreps import Irreps

__all__ = ["Path", "ClebschGordanTensorProduct", "FullyConnectedTensorProduct", "all_paths"]

_MODES = ("uvw", "uvu", "uuu")


class Path(NamedTuple):
    """One coupling ``i1 (x) i2 -> io`` (indices of blocks) with its normalisation factor."""

    i1: int
    i2: int
    io: int
    alpha: float


def _compatible(mode: str, mul1: int, mul2: int, mul_out: int) -> bool:
    if mode == "uvw":
        return True
    if mode == "uvu":
        return mul_out == mul1
    return mul1 == mul2 == mul_out


def all_paths(irreps_in1, irreps_in2, irreps_out, mode: str = "uvw") -> list:
    """Every ``(i1, i2, io)`` allowed by the selection rules (triangle, parity) and the mode."""
    irreps_in1, irreps_in2, irreps_out = Irreps(irreps_in1), Irreps(irreps_in2), Irreps(irreps_out)
    out = []
    for i1, (mul1, ir1) in enumerate(irreps_in1):
        for i2, (mul2, ir2) in enumerate(irreps_in2):
            for io, (mul_out, ir_out) in enumerate(irreps_out):
                if ir_out in list(ir1 * ir2) and _compatible(mode, mul1, mul2, mul_out):
                    out.append((i1, i2, io))
    return out


class ClebschGordanTensorProduct(nn.Module):
    """Weighted Clebsch-Gordan tensor product ``(x, y) -> z`` (see module doc).

    Args:
        irreps_in1, irreps_in2, irreps_out: irreps of ``x``, ``y`` and ``z``.
        mode: ``"uvw"``, ``"uvu"`` or ``"uuu"``.
        paths: list of ``(i1, i2, io)``; default :func:`all_paths`.
        irrep_normalization: ``"component"`` (``|z_l|^2 ~ 2l+1``), ``"norm"`` or ``"none"``.
        path_normalization: ``"element"`` (fan-in over all contributing elements) or ``"path"``.
        internal_weights: hold the weights as a parameter (default); if False, pass ``weight`` to
            :meth:`forward`, shape ``(..., weight_numel)`` (e.g. per edge from a radial network).

    Shapes: ``x`` ``(..., irreps_in1.dim)``, ``y`` ``(..., irreps_in2.dim)`` broadcastable,
    ``z`` ``(..., irreps_out.dim)``.
    """

    def __init__(
        self,
        irreps_in1,
        irreps_in2,
        irreps_out,
        mode: str = "uvw",
        paths: Optional[Sequence] = None,
        irrep_normalization: str = "component",
        path_normalization: str = "element",
        internal_weights: bool = True,
    ):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if irrep_normalization not in ("component", "norm", "none"):
            raise ValueError(f"irrep_normalization must be 'component', 'norm' or 'none', got {irrep_normalization!r}")
        if path_normalization not in ("element", "path"):
            raise ValueError(f"path_normalization must be 'element' or 'path', got {path_normalization!r}")
        self.irreps_in1, self.irreps_in2 = Irreps(irreps_in1), Irreps(irreps_in2)
        self.irreps_out, self.mode = Irreps(irreps_out), mode
        triples = all_paths(self.irreps_in1, self.irreps_in2, self.irreps_out, mode) if paths is None else paths
        self.paths = self._normalised_paths([tuple(p) for p in triples], irrep_normalization, path_normalization)

        self.weight_shapes = [self._weight_shape(p) for p in self.paths]
        self.weight_numel = sum(math.prod(s) for s in self.weight_shapes)
        self.internal_weights = internal_weights
        if internal_weights:
            self.weight = nn.Parameter(torch.randn(self.weight_numel))
        else:
            self.register_parameter("weight", None)

        # Fuse all paths of one input pair into a single (d1 * d2, sum d3) matrix.
        self._groups = []
        for i1, i2 in dict.fromkeys((p.i1, p.i2) for p in self.paths):
            members = [k for k, p in enumerate(self.paths) if (p.i1, p.i2) == (i1, i2)]
            l1, l2 = self.irreps_in1[i1].ir.l, self.irreps_in2[i2].ir.l
            blocks = [
                wigner_3j(l1, l2, self.irreps_out[self.paths[k].io].ir.l, dtype=torch.float64) * self.paths[k].alpha
                for k in members
            ]
            self.register_buffer(f"cg_{len(self._groups)}", torch.cat(blocks, dim=-1))  # float64; cast per call
            self._groups.append((i1, i2, members))
        self._weight_offsets = [0]
        for s in self.weight_shapes:
            self._weight_offsets.append(self._weight_offsets[-1] + math.prod(s))
        self._fused = mode == "uuu" and len({mul for mul, _ in self.irreps_in1 + self.irreps_in2 + self.irreps_out}) == 1
        if self._fused:
            self._build_fused()

    def _build_fused(self) -> None:
        """``"uuu"`` with one multiplicity ``U`` everywhere: all paths at once, channel by channel.

        Path outputs of every group are concatenated into ``(B, U, P)``, scaled by the per-channel path
        weights gathered to ``(U, P)``, summed into the output blocks by one 0/1 matrix ``(P, D)``
        (``D`` = output dim per channel) and split into the channel-major irreps layout.
        """
        path_of_component, rows, cols = [], [], []
        out_offsets = [0]
        for _, ir in self.irreps_out:
            out_offsets.append(out_offsets[-1] + ir.dim)
        for _, _, members in self._groups:
            for k in members:
                io = self.paths[k].io
                for m in range(self.irreps_out[io].ir.dim):
                    rows.append(len(path_of_component))
                    cols.append(out_offsets[io] + m)
                    path_of_component.append(k)
        scatter = torch.zeros(len(path_of_component), out_offsets[-1], dtype=torch.float64)
        scatter[rows, cols] = 1.0
        self.register_buffer("path_of_component", torch.tensor(path_of_component, dtype=torch.long), persistent=False)
        self.register_buffer("scatter", scatter, persistent=False)

    def _forward_fused(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, shared: bool) -> torch.Tensor:
        batch, mul, dtype = x.shape[0], self.irreps_out[0].mul, x.dtype
        # split once: per-group slicing would cost a full-size gradient per group in backward
        xb = [b.reshape(batch, mul, -1, 1) for b in x.split([mi.dim for mi in self.irreps_in1], dim=-1)]
        yb = [b.reshape(batch, mul, 1, -1) for b in y.split([mi.dim for mi in self.irreps_in2], dim=-1)]
        zs = []
        for g, (i1, i2, _) in enumerate(self._groups):
            cg = getattr(self, f"cg_{g}").to(dtype)
            d12 = cg.shape[0] * cg.shape[1]
            zs.append((xb[i1] * yb[i2]).reshape(batch, mul, d12) @ cg.reshape(d12, -1))
        z = torch.cat(zs, dim=-1)  # (B, U, P)
        n_paths = len(self.paths)
        w = weight.reshape(n_paths, mul).T if shared else weight.reshape(batch, n_paths, mul).transpose(1, 2)
        z = (z * w[..., self.path_of_component]) @ self.scatter.to(dtype)  # (B, U, D)
        # channel-major blocks; slices and cat keep the backward free of scatter-adds
        return torch.cat([b.reshape(batch, -1) for b in z.split([ir.dim for _, ir in self.irreps_out], dim=-1)], dim=-1)

    def _weight_shape(self, p: Path) -> tuple:
        mul1, mul2, mul_out = self.irreps_in1[p.i1].mul, self.irreps_in2[p.i2].mul, self.irreps_out[p.io].mul
        return {"uvw": (mul1, mul2, mul_out), "uvu": (mul1, mul2), "uuu": (mul1,)}[self.mode]

    def _normalised_paths(self, triples: list, irrep_normalization: str, path_normalization: str) -> list:
        for t in triples:
            if len(t) != 3:
                raise ValueError(f"a path is (i1, i2, io), got {t!r}")
            i1, i2, io = t
            if not (0 <= i1 < len(self.irreps_in1) and 0 <= i2 < len(self.irreps_in2) and 0 <= io < len(self.irreps_out)):
                raise ValueError(
                    f"path {t} indexes a block that does not exist in {self.irreps_in1} / {self.irreps_in2} / "
                    f"{self.irreps_out} (blocks are numbered from 0)"
                )
            (mul1, ir1), (mul2, ir2), (mul_out, ir_out) = self.irreps_in1[i1], self.irreps_in2[i2], self.irreps_out[io]
            if ir_out not in list(ir1 * ir2):
                raise ValueError(f"path {t}: {ir_out} is not in {ir1} x {ir2} (triangle or parity rule)")
            if not _compatible(self.mode, mul1, mul2, mul_out):
                raise ValueError(
                    f"path {t}: multiplicities {mul1}, {mul2} -> {mul_out} do not fit mode {self.mode!r} "
                    "('uvu' needs mul_out == mul1, 'uuu' needs all equal)"
                )

        def fan_in(t) -> int:
            mul1, mul2 = self.irreps_in1[t[0]].mul, self.irreps_in2[t[1]].mul
            return {"uvw": mul1 * mul2, "uvu": mul2, "uuu": 1}[self.mode]

        out = []
        for t in triples:
            i1, i2, io = t
            ir1, ir2, ir_out = self.irreps_in1[i1].ir, self.irreps_in2[i2].ir, self.irreps_out[io].ir
            alpha = {"component": ir_out.dim, "norm": ir1.dim * ir2.dim, "none": 1}[irrep_normalization]
            same_out = [s for s in triples if s[2] == io]
            if path_normalization == "element":
                fan = sum(fan_in(s) for s in same_out)
            else:
                fan = fan_in(t) * len(same_out)
            out.append(Path(i1, i2, io, math.sqrt(alpha / fan) if fan > 0 else 0.0))
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, "
            f"mode={self.mode}, {len(self.paths)} paths, {self.weight_numel} weights)"
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        self.irreps_in1.check_features(x, "x")
        self.irreps_in2.check_features(y, "y")
        if weight is None:
            if self.weight is None:
                raise ValueError(
                    f"this tensor product has internal_weights=False: pass weight of shape (..., {self.weight_numel})"
                )
            weight, shared = self.weight, True
        else:
            if weight.shape[-1] != self.weight_numel:
                raise ValueError(f"weight has last dimension {weight.shape[-1]}, expected {self.weight_numel}")
            shared = weight.dim() == 1
        lead = torch.broadcast_shapes(x.shape[:-1], y.shape[:-1], () if shared else weight.shape[:-1])
        dtype = torch.promote_types(x.dtype, y.dtype)
        x = x.to(dtype).expand(lead + x.shape[-1:]).reshape(-1, x.shape[-1])
        y = y.to(dtype).expand(lead + y.shape[-1:]).reshape(-1, y.shape[-1])
        weight = weight.to(dtype)
        if not shared:
            weight = weight.expand(lead + weight.shape[-1:]).reshape(-1, weight.shape[-1])
        batch = x.shape[0]
        if self._fused and self._groups:
            return self._forward_fused(x, y, weight, shared).reshape(lead + (self.irreps_out.dim,))

        xb = x.split([mi.dim for mi in self.irreps_in1], dim=-1)
        yb = y.split([mi.dim for mi in self.irreps_in2], dim=-1)
        outputs = [None] * len(self.irreps_out)
        for g, (i1, i2, members) in enumerate(self._groups):
            cg = getattr(self, f"cg_{g}").to(dtype)
            (mul1, ir1), (mul2, ir2) = self.irreps_in1[i1], self.irreps_in2[i2]
            d1, d2, d3 = ir1.dim, ir2.dim, cg.shape[-1]
            xs = xb[i1].reshape(batch, mul1, d1)
            ys = yb[i2].reshape(batch, mul2, d2)
            if self.mode == "uuu":
                outer = (xs[..., :, None] * ys[..., None, :]).reshape(batch, mul1, d1 * d2)
                z = outer @ cg.reshape(d1 * d2, d3)
            else:
                # y first: (B, v, j) . (j, i, K) -> (B, v, i, K)
                ycg = (ys @ cg.transpose(0, 1).reshape(d2, d1 * d3)).reshape(batch, mul2, d1, d3)
                if self.mode == "uvu" and mul2 == 1:
                    z = xs @ ycg[:, 0]
                else:
                    z = None
            offset = 0
            for k in members:
                p = self.paths[k]
                d = self.irreps_out[p.io].ir.dim
                w = self._path_weight(weight, k, shared)
                if self.mode == "uuu":
                    contrib = z[..., offset : offset + d] * w[..., :, None]
                elif z is not None:
                    # uvu with mul2 = 1: w is (u, 1) or (B, u, 1).
                    contrib = z[..., offset : offset + d] * w
                else:
                    contrib = self._mix(xs, ycg[..., offset : offset + d], w, shared)
                outputs[p.io] = contrib if outputs[p.io] is None else outputs[p.io] + contrib
                offset += d

        parts = []
        for io, (mul, ir) in enumerate(self.irreps_out):
            if outputs[io] is None:
                parts.append(x.new_zeros(batch, mul * ir.dim))
            else:
                parts.append(outputs[io].reshape(batch, mul * ir.dim))
        return torch.cat(parts, dim=-1).reshape(lead + (self.irreps_out.dim,))

    def _path_weight(self, weight: torch.Tensor, k: int, shared: bool) -> torch.Tensor:
        a, b = self._weight_offsets[k], self._weight_offsets[k + 1]
        shape = self.weight_shapes[k]
        return weight[a:b].reshape(shape) if shared else weight[:, a:b].reshape((-1,) + shape)

    def _mix(self, xs: torch.Tensor, ycg: torch.Tensor, w: torch.Tensor, shared: bool) -> torch.Tensor:
        """``xs`` ``(B, u, i)``, ``ycg`` ``(B, v, i, k)`` -> ``(B, u_or_w, k)`` for modes uvu / uvw."""
        batch, mul2, d1, d3 = ycg.shape
        mul1 = xs.shape[1]
        if self.mode == "uvu":
            # sum_v W_uv ycg_v first: (u, v) @ (B, v, i k) -> (B, u, i, k)
            mixed = (w @ ycg.reshape(batch, mul2, d1 * d3)).reshape(batch, mul1, d1, d3)
            return (xs[..., None, :] @ mixed).squeeze(-2)
        # uvw: P[b, k, u, v] = sum_i x_ui ycg_vik, then (B, k, uv) @ (uv, w)
        pairs = xs @ ycg.permute(0, 2, 1, 3).reshape(batch, d1, mul2 * d3)
        pairs = pairs.reshape(batch, mul1, mul2, d3).permute(0, 3, 1, 2).reshape(batch, d3, mul1 * mul2)
        w = w.reshape(mul1 * mul2, -1) if shared else w.reshape(batch, mul1 * mul2, -1)
        return (pairs @ w).transpose(-1, -2)


class FullyConnectedTensorProduct(ClebschGordanTensorProduct):
    """All allowed paths, mode ``"uvw"`` (every input channel pair feeds every output channel)."""

    def __init__(self, irreps_in1, irreps_in2, irreps_out, **kwargs):
        super().__init__(irreps_in1, irreps_in2, irreps_out, mode="uvw", **kwargs)
