r"""General strategy of the Clebsch-Gordan tensor product: group by group, path by path (every mode).

Paths sharing ``(i1, i2)`` form a group whose Clebsch-Gordan tensors are stacked into one matrix
``C`` ``(d1 d2, sum d3)``.

* ``"uvw"`` / ``"uvu"``: ``y`` meets ``C`` first (cost ``B mul2 d1 d2 sum d3``). ``"uvw"`` then forms
  ``P[b, (k, v), u] = sum_i (yC)[b, i, k, v] x[b, u, i]`` in one batched GEMM whose result is already
  the ``(B d3, mul2 mul1)`` operand of the channel mixing ``P W`` (cost ``B mul1 mul2 mul_out d3`` per
  path); ``"uvu"`` mixes ``v`` first and contracts ``x`` last.
* ``"uuu"``: ``z_u = (x_u (x) y_u) C`` per group (cost ``B mul d1 d2 sum d3``).

Autograd differentiates it; loops run over groups and paths only, never over batch elements.
"""

from __future__ import annotations

import torch

__all__ = ["pathwise_product"]


def pathwise_product(tp, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, shared: bool) -> torch.Tensor:
    """``tp``'s product of ``x`` ``(B, dim1)`` and ``y`` ``(B, dim2)`` with ``weight``
    ``(weight_numel,)`` (``shared``) or ``(B, weight_numel)``: ``(B, dim_out)``."""
    batch, dtype = x.shape[0], x.dtype
    xb = x.split([mi.dim for mi in tp.irreps_in1], dim=-1)
    yb = y.split([mi.dim for mi in tp.irreps_in2], dim=-1)
    outputs = [None] * len(tp.irreps_out)
    for g, (i1, i2, members) in enumerate(tp._groups):
        cg = tp._constant(f"cg_{g}", dtype)
        (mul1, ir1), (mul2, ir2) = tp.irreps_in1[i1], tp.irreps_in2[i2]
        d1, d2, d3 = ir1.dim, ir2.dim, cg.shape[-1]
        xs = xb[i1].reshape(batch, mul1, d1)
        ys = yb[i2].reshape(batch, mul2, d2)
        if tp.mode == "uuu":
            outer = (xs[..., :, None] * ys[..., None, :]).reshape(batch, mul1, d1 * d2)
            z = outer @ cg.reshape(d1 * d2, d3)
        else:
            # y first: (B, v, j) . (j, i, K) -> (B, v, i, K)
            ycg = (ys @ cg.transpose(0, 1).reshape(d2, d1 * d3)).reshape(batch, mul2, d1, d3)
            z = xs @ ycg[:, 0] if tp.mode == "uvu" and mul2 == 1 else None
            if tp.mode == "uvw":
                ycg = ycg.permute(0, 2, 3, 1).contiguous()  # (B, i, K, v), see _mix_uvw
        offset = 0
        for k in members:
            p = tp.paths[k]
            d = tp.irreps_out[p.io].ir.dim
            w = _path_weight(tp, weight, k, shared)
            if tp.mode == "uuu":
                contrib = z[..., offset : offset + d] * w[..., :, None]
            elif z is not None:
                # uvu with mul2 = 1: w is (u, 1) or (B, u, 1).
                contrib = z[..., offset : offset + d] * w
            elif tp.mode == "uvw":
                contrib = _mix_uvw(xs, ycg[:, :, offset : offset + d], w, shared)
            else:
                contrib = _mix_uvu(xs, ycg[..., offset : offset + d], w)
            outputs[p.io] = contrib if outputs[p.io] is None else outputs[p.io] + contrib
            offset += d

    parts = []
    for io, (mul, ir) in enumerate(tp.irreps_out):
        if outputs[io] is None:
            parts.append(x.new_zeros(batch, mul * ir.dim))
        else:
            o = outputs[io].transpose(1, 2) if tp.mode == "uvw" else outputs[io]  # uvw: (B, k, w)
            parts.append(o.reshape(batch, mul * ir.dim))
    return torch.cat(parts, dim=-1)


def _path_weight(tp, weight: torch.Tensor, k: int, shared: bool) -> torch.Tensor:
    a, b = tp._weight_offsets[k], tp._weight_offsets[k + 1]
    shape = tp.weight_shapes[k]
    return weight[a:b].reshape(shape) if shared else weight[:, a:b].reshape((-1,) + shape)


def _mix_uvu(xs: torch.Tensor, ycg: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``xs`` ``(B, u, i)``, ``ycg`` ``(B, v, i, k)``, ``w`` ``([B,] u, v)`` -> ``(B, u, k)``."""
    batch, mul2, d1, d3 = ycg.shape
    # sum_v W_uv ycg_v first: (u, v) @ (B, v, i k) -> (B, u, i, k)
    mixed = (w @ ycg.reshape(batch, mul2, d1 * d3)).reshape(batch, xs.shape[1], d1, d3)
    return (xs[..., None, :] @ mixed).squeeze(-2)


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
