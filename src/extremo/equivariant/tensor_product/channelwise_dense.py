r"""Dense strategy of the fused element-wise (``"uuu"``) product with shared weights.

All blocks at once: ``z_u = (x_u (x) y_u) M_u`` with $M_u = \sum_k W_{ku} T_k$, ``T_k`` path
``k`` written into a dense ``(D1 D2, D_out)`` map; one batched GEMM over channels (cost
``B U D1 D2 D_out``), best when many tiny paths make the per-op overhead dominate (low degrees).
Autograd differentiates it.
"""

from __future__ import annotations

import torch

from ..clebsch_gordan import wigner_3j

__all__ = ["channelwise_dense", "SIMD_WIDTH"]

#: float32 lanes of an AVX2 register
SIMD_WIDTH = 8


def _build_dense(tp, device: torch.device) -> None:
    """Constants of `channelwise_dense`, built on first use as non-persistent buffers of
    ``tp``: per path ``k`` the map ``x_u (x) y_u -> z_u`` of one channel as a dense
    ``(D1 D2, D_out)`` slice ``T_k``, the 0/1 matrices of ``x (x) y = (x E_1) * (y E_2)`` and the
    permutations between the irreps layout ``[block: (u, m)]`` and the channel-major layout
    ``[u: (block, m)]``."""
    (o1, o2, oo) = tp._channel_offsets
    dense = torch.zeros(len(tp.paths), o1[-1], o2[-1], oo[-1], dtype=torch.float64)
    for k, p in enumerate(tp.paths):
        l1, l2, l3 = tp.irreps_in1[p.i1].ir.l, tp.irreps_in2[p.i2].ir.l, tp.irreps_out[p.io].ir.l
        dense[k, o1[p.i1] : o1[p.i1 + 1], o2[p.i2] : o2[p.i2 + 1], oo[p.io] : oo[p.io + 1]] = (
            wigner_3j(l1, l2, l3, dtype=torch.float64) * p.alpha
        )
    tp.register_buffer("dense_cg", dense.reshape(len(tp.paths), -1).to(device), persistent=False)
    eye1, eye2 = torch.eye(o1[-1], dtype=torch.float64), torch.eye(o2[-1], dtype=torch.float64)
    tp.register_buffer("repeat_x", eye1.repeat_interleave(o2[-1], dim=1).to(device), persistent=False)
    tp.register_buffer("tile_y", eye2.repeat(1, o1[-1]).to(device), persistent=False)
    for name, irreps in (("x", tp.irreps_in1), ("y", tp.irreps_in2), ("out", tp.irreps_out)):
        index = torch.arange(irreps.dim)
        channel_major = torch.cat([index[s].view(irreps[0].mul, -1) for s in irreps.slices()], dim=1).reshape(-1)
        tp.register_buffer(f"channel_major_{name}", channel_major.to(device), persistent=False)
        tp.register_buffer(f"irreps_major_{name}", torch.argsort(channel_major).to(device), persistent=False)
    tp._dense_built = True


def channelwise_dense(tp, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``tp``'s fused ``"uuu"`` product of ``x`` ``(B, D1 U)``, ``y`` ``(B, D2 U)`` with shared
    ``weight`` ``(n_paths U,)`` as one batched GEMM over channels: ``(B, D_out U)``."""
    if not tp._dense_built:
        _build_dense(tp, x.device)
    batch, mul = x.shape[0], tp.irreps_out[0].mul
    d1, d2, d_out = (o[-1] for o in tp._channel_offsets)
    xf = _PermuteColumns.apply(x, tp.channel_major_x, tp.irreps_major_x).view(batch * mul, d1)
    yf = _PermuteColumns.apply(y, tp.channel_major_y, tp.irreps_major_y).view(batch * mul, d2)
    if d2 < SIMD_WIDTH:  # a broadcast product over so short an inner axis runs scalar: two GEMMs instead
        outer = (xf @ tp._constant("repeat_x", x.dtype)) * (yf @ tp._constant("tile_y", x.dtype))
    else:
        outer = xf[:, :, None] * yf[:, None, :]
    maps = (weight.reshape(len(tp.paths), mul).T @ tp._constant("dense_cg", x.dtype)).view(mul, d1 * d2, d_out)
    z = torch.bmm(outer.view(batch, mul, d1 * d2).transpose(0, 1), maps)  # (U, B, D_out)
    z = z.transpose(0, 1).reshape(batch, -1)
    return _PermuteColumns.apply(z, tp.irreps_major_out, tp.channel_major_out)


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
