"""The Clebsch-Gordan tensor product module: paths, constants and the choice of strategy."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from ..clebsch_gordan import wigner_3j
from ..irreps import Irreps
from .channelwise_dense import channelwise_dense
from .channelwise_grouped import ChannelwiseProduct
from .cost_model import ChannelwiseCost
from .paths import MODES, all_paths, normalised_paths, weight_shape
from .pathwise import pathwise_product

__all__ = ["ClebschGordanTensorProduct", "FullyConnectedTensorProduct"]


class ClebschGordanTensorProduct(nn.Module):
    """Weighted Clebsch-Gordan tensor product ``(x, y) -> z`` (see `extremo.equivariant.tensor_product`).

    Args:
        irreps_in1: irreps of ``x``.
        irreps_in2: irreps of ``y``.
        irreps_out: irreps of ``z``.
        mode: ``"uvw"``, ``"uvu"`` or ``"uuu"``.
        paths: list of ``(i1, i2, io)``; default `.all_paths`.
        irrep_normalization: ``"component"`` (``|z_l|^2 ~ 2l+1``), ``"norm"`` or ``"none"``.
        path_normalization: ``"element"`` (fan-in over all contributing elements) or ``"path"``.
        internal_weights: hold the weights as a parameter (default); if False, pass ``weight`` to
            `forward`, shape ``(..., weight_numel)`` (e.g. per edge from a radial network).

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
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if irrep_normalization not in ("component", "norm", "none"):
            raise ValueError(f"irrep_normalization must be 'component', 'norm' or 'none', got {irrep_normalization!r}")
        if path_normalization not in ("element", "path"):
            raise ValueError(f"path_normalization must be 'element' or 'path', got {path_normalization!r}")
        self.irreps_in1, self.irreps_in2 = Irreps(irreps_in1), Irreps(irreps_in2)
        self.irreps_out, self.mode = Irreps(irreps_out), mode
        irreps = (self.irreps_in1, self.irreps_in2, self.irreps_out)
        triples = all_paths(*irreps, mode) if paths is None else paths
        self.paths = normalised_paths(*irreps, mode, [tuple(p) for p in triples],
                                      irrep_normalization, path_normalization)

        self.weight_shapes = [weight_shape(*irreps, mode, p) for p in self.paths]
        self.weight_numel = sum(math.prod(s) for s in self.weight_shapes)
        self.internal_weights = internal_weights
        if internal_weights:
            self.weight = nn.Parameter(torch.randn(self.weight_numel))
        else:
            self.register_parameter("weight", None)

        self._casts = {}
        # Fuse all paths of one input pair into a single (d1 * d2, sum d3) matrix.
        self._groups = []
        for i1, i2 in dict.fromkeys((p.i1, p.i2) for p in self.paths):
            members = [k for k, p in enumerate(self.paths) if (p.i1, p.i2) == (i1, i2)]
            l1, l2 = self.irreps_in1[i1].ir.l, self.irreps_in2[i2].ir.l
            blocks = [
                wigner_3j(l1, l2, self.irreps_out[self.paths[k].io].ir.l, dtype=torch.float64) * self.paths[k].alpha
                for k in members
            ]
            self.register_buffer(f"cg_{len(self._groups)}", torch.cat(blocks, dim=-1))  # float64, see _constant
            self._groups.append((i1, i2, members))
        self._weight_offsets = [0]
        for s in self.weight_shapes:
            self._weight_offsets.append(self._weight_offsets[-1] + math.prod(s))
        self._fused = mode == "uuu" and len({mul for mul, _ in self.irreps_in1 + self.irreps_in2 + self.irreps_out}) == 1
        if self._fused:
            self._build_fused()

    def _build_fused(self) -> None:
        """``"uuu"`` with one multiplicity ``U`` everywhere: column range of every path in its group's output,
        per-channel offsets of the blocks and the cost model of both strategies."""
        self._path_columns = []
        for _, _, members in self._groups:
            cols, start = [], 0
            for k in members:
                d = self.irreps_out[self.paths[k].io].ir.dim
                cols.append((k, self.paths[k].io, start, start + d))
                start += d
            self._path_columns.append(cols)
        self._channel_offsets = []
        for irreps in (self.irreps_in1, self.irreps_in2, self.irreps_out):
            starts = [0]
            for _, ir in irreps:
                starts.append(starts[-1] + ir.dim)
            self._channel_offsets.append(starts)
        d1, d2, d_out = (o[-1] for o in self._channel_offsets)
        shapes = [tuple(getattr(self, f"cg_{g}").shape) for g in range(len(self._groups))]
        self._cost = ChannelwiseCost.of(d1, d2, d_out, self.irreps_out[0].mul, len(self.paths), shapes)
        self._dense_built = False

    def _dense_is_cheaper(self, rows: int) -> bool:
        """The cost model's choice (`.ChannelwiseCost`) at ``rows`` = batch x channels."""
        return self._cost.dense_is_cheaper(rows)

    def _constant(self, name: str, dtype: torch.dtype) -> torch.Tensor:
        """Buffer ``name`` (kept in float64) cast to ``dtype`` once, not on every call."""
        buffer = getattr(self, name)
        key = (name, dtype, buffer.device, buffer.data_ptr())
        if key not in self._casts:
            self._casts = {k: v for k, v in self._casts.items() if k[0] != name} | {key: buffer.to(dtype)}
        return self._casts[key]

    def _cg(self, g: int, dtype: torch.dtype) -> torch.Tensor:
        """Fused Clebsch-Gordan matrix of group ``g`` as ``(d1 d2, sum d3)``."""
        cg = self._constant(f"cg_{g}", dtype)
        return cg.reshape(-1, cg.shape[-1])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, "
            f"mode={self.mode}, {len(self.paths)} paths, {self.weight_numel} weights)"
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``z`` ``(..., irreps_out.dim)``; ``weight`` only with ``internal_weights=False``, shape
        ``(weight_numel,)`` (shared) or ``(..., weight_numel)`` (per sample)."""
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
            if shared and self._dense_is_cheaper(batch * self.irreps_out[0].mul):
                z = channelwise_dense(self, x, y, weight)
            else:
                z = ChannelwiseProduct.apply(x, y, weight.reshape(1 if shared else batch, len(self.paths), -1), self)
        else:
            z = pathwise_product(self, x, y, weight, shared)
        return z.reshape(lead + (self.irreps_out.dim,))


class FullyConnectedTensorProduct(ClebschGordanTensorProduct):
    """All allowed paths, mode ``"uvw"`` (every input channel pair feeds every output channel)."""

    def __init__(self, irreps_in1, irreps_in2, irreps_out, **kwargs):
        super().__init__(irreps_in1, irreps_in2, irreps_out, mode="uvw", **kwargs)
