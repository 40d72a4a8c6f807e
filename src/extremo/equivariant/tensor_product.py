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

Implementation: paths sharing ``(i1, i2)`` form a group whose Clebsch-Gordan tensors are stacked into
one matrix ``C`` of shape ``(d1 d2, sum d3)``, built once (float64, cast once per dtype).

* ``"uvw"`` / ``"uvu"``: ``y`` meets ``C`` first (cost ``B mul2 d1 d2 sum d3``). ``"uvw"`` then forms
  ``P[b, (k, v), u] = sum_i (yC)[b, i, k, v] x[b, u, i]`` in one batched GEMM whose result is already the
  ``(B d3, mul2 mul1)`` operand of the channel mixing ``P W`` (cost ``B mul1 mul2 mul_out d3`` per path);
  ``"uvu"`` mixes ``v`` first and contracts ``x`` last.
* ``"uuu"``: ``z_u = (x_u (x) y_u) C`` per group (cost ``B mul d1 d2 sum d3``). With one multiplicity ``U``
  everywhere two fused strategies exist and a cost model (GEMM flops, elements moved by memory-bound
  ops, a fixed overhead per op; :meth:`ClebschGordanTensorProduct._dense_is_cheaper`) picks one per call:

  - *dense* (shared weights): all blocks at once, ``z_u = (x_u (x) y_u) M_u`` with
    ``M_u = sum_k W_{ku} T_k``, ``T_k`` path ``k`` written into a dense ``(D1 D2, D_out)`` map; one batched
    GEMM over channels (cost ``B U D1 D2 D_out``), best when many tiny paths make the per-op overhead
    dominate (low degrees);
  - *grouped*: one GEMM per group, each weighted path accumulated into its output block, and a
    hand-written backward: ``G = g_z C^T`` once per group (``g_z`` the weighted output gradients of
    its paths) gives ``dL/dx_u = G_u y_u`` and ``dL/dy_u = G_u^T x_u`` as batched matrix-vector
    products, ``dL/dW_{ku} = <dL/dz_{out, u}, z_{k, u}>``. Under ``create_graph`` it differentiates the
    plain-op forward instead, so higher derivatives exist.

Loops run over groups and paths only, never over batch elements.
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

    # Cost model of the fused "uuu" forward on CPU (float32, one thread): seconds per GEMM flop, per element
    # moved by a memory-bound op, per op call; calibrated on timings of both strategies (L = 1..5, 4 and
    # 16 channels, batch 64 and 1024). The choice depends only on their ratios.
    _FLOP_TIME, _ELEMENT_TIME, _OP_TIME = 3e-11, 1e-9, 8e-6
    _DENSE_MAX_NUMEL = 1 << 22  # the dense path is not considered when its table (n_paths, D1 D2 D_out) is larger
    _SIMD_WIDTH = 8  # float32 lanes of an AVX2 register

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
        n_paths, mul = len(self.paths), self.irreps_out[0].mul
        # time = per_row * rows + fixed, rows = batch x channels
        dense = (
            self._FLOP_TIME * 2 * d1 * d2 * d_out + self._ELEMENT_TIME * (d1 * d2 + d1 + d2 + 2 * d_out),
            self._FLOP_TIME * 2 * mul * n_paths * d1 * d2 * d_out + self._OP_TIME * 8,
        )
        sizes = [getattr(self, f"cg_{g}").shape for g in range(len(self._groups))]
        grouped = (
            sum(self._FLOP_TIME * 2 * a * b * c + self._ELEMENT_TIME * (a * b + 3 * c) for a, b, c in sizes),
            self._OP_TIME * (3 * len(self._groups) + n_paths),
        )
        self._costs = {"dense": dense, "grouped": grouped}
        self._dense_allowed = n_paths * d1 * d2 * d_out <= self._DENSE_MAX_NUMEL
        self._dense_built = False

    def _dense_is_cheaper(self, rows: int) -> bool:
        """Cost model: one GEMM ``(x_u (x) y_u) M_u`` with the dense ``(D1 D2, D_out)`` map per channel
        (:meth:`_channelwise_dense`) against one small GEMM per ``(l1, l2)`` group plus one accumulation
        per path (:meth:`_channelwise`); each op costs its flops, the elements it moves and a fixed overhead."""
        if not self._dense_allowed:
            return False
        (a_dense, b_dense), (a_grouped, b_grouped) = self._costs["dense"], self._costs["grouped"]
        return a_dense * rows + b_dense < a_grouped * rows + b_grouped

    def _build_dense(self, device: torch.device) -> None:
        """Constants of :meth:`_channelwise_dense`, built on first use: per path ``k`` the map
        ``x_u (x) y_u -> z_u`` of one channel as a dense ``(D1 D2, D_out)`` slice ``T_k``, the 0/1 matrices
        of ``x (x) y = (x E_1) * (y E_2)`` and the permutations between the irreps layout
        ``[block: (u, m)]`` and the channel-major layout ``[u: (block, m)]``."""
        (o1, o2, oo) = self._channel_offsets
        dense = torch.zeros(len(self.paths), o1[-1], o2[-1], oo[-1], dtype=torch.float64)
        for k, p in enumerate(self.paths):
            l1, l2, l3 = self.irreps_in1[p.i1].ir.l, self.irreps_in2[p.i2].ir.l, self.irreps_out[p.io].ir.l
            dense[k, o1[p.i1] : o1[p.i1 + 1], o2[p.i2] : o2[p.i2 + 1], oo[p.io] : oo[p.io + 1]] = (
                wigner_3j(l1, l2, l3, dtype=torch.float64) * p.alpha
            )
        self.register_buffer("dense_cg", dense.reshape(len(self.paths), -1).to(device), persistent=False)
        eye1, eye2 = torch.eye(o1[-1], dtype=torch.float64), torch.eye(o2[-1], dtype=torch.float64)
        self.register_buffer("repeat_x", eye1.repeat_interleave(o2[-1], dim=1).to(device), persistent=False)
        self.register_buffer("tile_y", eye2.repeat(1, o1[-1]).to(device), persistent=False)
        for name, irreps in (("x", self.irreps_in1), ("y", self.irreps_in2), ("out", self.irreps_out)):
            index = torch.arange(irreps.dim)
            channel_major = torch.cat([index[s].view(irreps[0].mul, -1) for s in irreps.slices()], dim=1).reshape(-1)
            self.register_buffer(f"channel_major_{name}", channel_major.to(device), persistent=False)
            self.register_buffer(f"irreps_major_{name}", torch.argsort(channel_major).to(device), persistent=False)
        self._dense_built = True

    def _channelwise_dense(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Fused ``"uuu"`` with shared weights as one batched GEMM over channels: ``z_u = (x_u (x) y_u) M_u``
        with ``M_u = sum_k W_{ku} T_k`` (cost ``B U D1 D2 D_out``, no loop over paths)."""
        if not self._dense_built:
            self._build_dense(x.device)
        batch, mul = x.shape[0], self.irreps_out[0].mul
        d1, d2, d_out = (o[-1] for o in self._channel_offsets)
        xf = _PermuteColumns.apply(x, self.channel_major_x, self.irreps_major_x).view(batch * mul, d1)
        yf = _PermuteColumns.apply(y, self.channel_major_y, self.irreps_major_y).view(batch * mul, d2)
        if d2 < self._SIMD_WIDTH:  # a broadcast product over so short an inner axis runs scalar: two GEMMs instead
            outer = (xf @ self._constant("repeat_x", x.dtype)) * (yf @ self._constant("tile_y", x.dtype))
        else:
            outer = xf[:, :, None] * yf[:, None, :]
        maps = (weight.reshape(len(self.paths), mul).T @ self._constant("dense_cg", x.dtype)).view(mul, d1 * d2, d_out)
        z = torch.bmm(outer.view(batch, mul, d1 * d2).transpose(0, 1), maps)  # (U, B, D_out)
        z = z.transpose(0, 1).reshape(batch, -1)
        return _PermuteColumns.apply(z, self.irreps_major_out, self.channel_major_out)

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

    def _channelwise(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor):
        """Fused ``"uuu"`` forward from plain tensor ops; ``w`` is ``(1 or B, n_paths, U)``.

        Returns the output ``(B, dim_out)`` and every group's unweighted paths ``(B, U, sum d3)``.
        """
        batch, mul = x.shape[0], self.irreps_out[0].mul
        xb, yb = _channel_blocks(x, self.irreps_in1), _channel_blocks(y, self.irreps_in2)
        outputs, per_group = [None] * len(self.irreps_out), []
        for g, (i1, i2, _) in enumerate(self._groups):
            outer = (xb[i1][..., :, None] * yb[i2][..., None, :]).reshape(batch * mul, -1)
            z = (outer @ self._cg(g, x.dtype)).view(batch, mul, -1)
            per_group.append(z)
            for k, io, a, b in self._path_columns[g]:
                wk = w[:, k, :, None]
                outputs[io] = z[..., a:b] * wk if outputs[io] is None else torch.addcmul(outputs[io], z[..., a:b], wk)
        parts = [
            x.new_zeros(batch, mul * ir.dim) if o is None else o.reshape(batch, -1)
            for o, (_, ir) in zip(outputs, self.irreps_out)
        ]
        return torch.cat(parts, dim=-1), per_group

    def _channelwise_backward(self, grad, x, y, w, per_group, needs):
        r"""Gradients of :meth:`_channelwise`, group by group.

        With ``g_z = \sum_{paths} w\, \partial L / \partial z_{out}`` the group's path gradient and
        ``G = g_z C^T`` of shape ``(d1, d2)`` per channel: ``dL/dx_i = \sum_j G_{ij} y_j``,
        ``dL/dy_j = \sum_i x_i G_{ij}``, ``dL/dw_{path,u} = <dL/dz_{out,u}, z_{path,u}>``.
        """
        batch, mul = x.shape[0], self.irreps_out[0].mul
        xb, yb = _channel_blocks(x, self.irreps_in1), _channel_blocks(y, self.irreps_in2)
        gout = _channel_blocks(grad, self.irreps_out)
        gx, gy, gw = [None] * len(xb), [None] * len(yb), [None] * len(self.paths)
        weight_dims = (0, 2) if w.shape[0] == 1 else (2,)
        for g, (i1, i2, _) in enumerate(self._groups):
            cols = self._path_columns[g]
            if needs[0] or needs[1]:
                gz = torch.cat([gout[io] * w[:, k, :, None] for k, io, _, _ in cols], dim=-1)
                cg = self._cg(g, x.dtype)
                G = (gz.view(batch * mul, -1) @ cg.T).view(batch, mul, xb[i1].shape[-1], yb[i2].shape[-1])
                if needs[0]:
                    t = (G @ yb[i2][..., None]).squeeze(-1)
                    gx[i1] = t if gx[i1] is None else gx[i1] + t
                if needs[1]:
                    t = (xb[i1][..., None, :] @ G).squeeze(-2)
                    gy[i2] = t if gy[i2] is None else gy[i2] + t
            if needs[2]:
                z = per_group[g]
                for k, io, a, b in cols:
                    gw[k] = (gout[io] * z[..., a:b]).sum(weight_dims)
        grads = [None, None, None]
        for n, (parts, blocks) in enumerate(((gx, xb), (gy, yb))):
            if needs[n]:
                parts = [torch.zeros_like(b) if p is None else p for p, b in zip(parts, blocks)]
                grads[n] = torch.cat([p.reshape(batch, -1) for p in parts], dim=-1)
        if needs[2]:
            grads[2] = torch.stack(gw, dim=-2).reshape(w.shape)
        return grads

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
            if shared and self._dense_is_cheaper(batch * self.irreps_out[0].mul):
                return self._channelwise_dense(x, y, weight).reshape(lead + (self.irreps_out.dim,))
            w = weight.reshape(1 if shared else batch, len(self.paths), -1)
            return _ChannelwiseProduct.apply(x, y, w, self).reshape(lead + (self.irreps_out.dim,))

        xb = x.split([mi.dim for mi in self.irreps_in1], dim=-1)
        yb = y.split([mi.dim for mi in self.irreps_in2], dim=-1)
        outputs = [None] * len(self.irreps_out)
        for g, (i1, i2, members) in enumerate(self._groups):
            cg = self._constant(f"cg_{g}", dtype)
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
                if self.mode == "uvw":
                    ycg = ycg.permute(0, 2, 3, 1).contiguous()  # (B, i, K, v), see _mix_uvw
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
                elif self.mode == "uvw":
                    contrib = self._mix_uvw(xs, ycg[:, :, offset : offset + d], w, shared)
                else:
                    contrib = self._mix_uvu(xs, ycg[..., offset : offset + d], w)
                outputs[p.io] = contrib if outputs[p.io] is None else outputs[p.io] + contrib
                offset += d

        parts = []
        for io, (mul, ir) in enumerate(self.irreps_out):
            if outputs[io] is None:
                parts.append(x.new_zeros(batch, mul * ir.dim))
            else:
                o = outputs[io].transpose(1, 2) if self.mode == "uvw" else outputs[io]  # uvw: (B, k, w)
                parts.append(o.reshape(batch, mul * ir.dim))
        return torch.cat(parts, dim=-1).reshape(lead + (self.irreps_out.dim,))

    def _path_weight(self, weight: torch.Tensor, k: int, shared: bool) -> torch.Tensor:
        a, b = self._weight_offsets[k], self._weight_offsets[k + 1]
        shape = self.weight_shapes[k]
        return weight[a:b].reshape(shape) if shared else weight[:, a:b].reshape((-1,) + shape)

    @staticmethod
    def _mix_uvu(xs: torch.Tensor, ycg: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``xs`` ``(B, u, i)``, ``ycg`` ``(B, v, i, k)``, ``w`` ``([B,] u, v)`` -> ``(B, u, k)``."""
        batch, mul2, d1, d3 = ycg.shape
        # sum_v W_uv ycg_v first: (u, v) @ (B, v, i k) -> (B, u, i, k)
        mixed = (w @ ycg.reshape(batch, mul2, d1 * d3)).reshape(batch, xs.shape[1], d1, d3)
        return (xs[..., None, :] @ mixed).squeeze(-2)

    @staticmethod
    def _mix_uvw(xs: torch.Tensor, ycg: torch.Tensor, w: torch.Tensor, shared: bool) -> torch.Tensor:
        """``xs`` ``(B, u, i)``, ``ycg`` ``(B, i, k, v)``, ``w`` ``([B,] u, v, w)`` -> ``(B, k, w)``.

        ``P[b, (k v), u] = sum_i ycg[b, i, k, v] x[b, u, i]`` is one batched GEMM whose result is already
        laid out as ``(B k, v u)``, so the channel mixing ``P W`` is one plain GEMM, no transposing copy.
        """
        batch, d1, d3, mul2 = ycg.shape
        mul1 = xs.shape[1]
        pairs = ycg.reshape(batch, d1, d3 * mul2).transpose(1, 2) @ xs.transpose(1, 2)  # (B, k v, u)
        w = w.transpose(-3, -2)  # (v, u, w)
        w = w.reshape(mul2 * mul1, -1) if shared else w.reshape(batch, mul2 * mul1, -1)
        return pairs.reshape(batch, d3, mul2 * mul1) @ w


def _channel_blocks(t: torch.Tensor, irreps) -> list[torch.Tensor]:
    """``(B, irreps.dim)`` features as one ``(B, mul, 2l + 1)`` view per block."""
    return [t[:, s].view(t.shape[0], mul, -1) for s, (mul, _) in zip(irreps.slices(), irreps)]


class _PermuteColumns(torch.autograd.Function):
    """``t[:, perm]`` whose gradient is the inverse gather (autograd's default is a slow scatter-add)."""

    @staticmethod
    def forward(ctx, t, perm, inverse):
        ctx.perms = perm, inverse
        return t.index_select(1, perm)

    @staticmethod
    def backward(ctx, grad):
        perm, inverse = ctx.perms
        return _PermuteColumns.apply(grad, inverse, perm), None, None


class _ChannelwiseProduct(torch.autograd.Function):
    """Fused ``"uuu"`` product with the backward of :meth:`ClebschGordanTensorProduct._channelwise_backward`."""

    @staticmethod
    def forward(ctx, x, y, w, tp):
        z, per_group = tp._channelwise(x, y, w)
        ctx.tp, ctx.per_group = tp, per_group if ctx.needs_input_grad[2] else None
        ctx.save_for_backward(x, y, w)
        return z

    @staticmethod
    def backward(ctx, grad):
        x, y, w = ctx.saved_tensors
        needs = ctx.needs_input_grad[:3]
        if torch.is_grad_enabled():
            # create_graph: differentiate the plain-op forward so that higher derivatives exist
            inputs = [t for t, n in zip((x, y, w), needs) if n]
            z = ctx.tp._channelwise(x, y, w)[0]
            found = iter(torch.autograd.grad(z, inputs, grad, create_graph=True, allow_unused=True))
            return (*(next(found) if n else None for n in needs), None)
        return (*ctx.tp._channelwise_backward(grad, x, y, w, ctx.per_group, needs), None)


class FullyConnectedTensorProduct(ClebschGordanTensorProduct):
    """All allowed paths, mode ``"uvw"`` (every input channel pair feeds every output channel)."""

    def __init__(self, irreps_in1, irreps_in2, irreps_out, **kwargs):
        super().__init__(irreps_in1, irreps_in2, irreps_out, mode="uvw", **kwargs)
