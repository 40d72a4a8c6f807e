r"""Grouped strategy of the fused element-wise (``"uuu"``) product, with a hand-written backward.

One GEMM ``z_u = (x_u (x) y_u) C`` per ``(l1, l2)`` group (cost ``B U d1 d2 sum d3``), each
weighted path accumulated into its output block. Backward: $G = g_z C^T$ once per group
(``g_z`` the weighted output gradients of its paths) gives ``dL/dx_u = G_u y_u`` and
``dL/dy_u = G_u^T x_u`` as batched matrix-vector products, and
``dL/dW_{ku} = <dL/dz_{out, u}, z_{k, u}>``. Under ``create_graph`` the plain-op forward is
differentiated instead, so higher derivatives exist. Loops run over groups and paths only.
"""

from __future__ import annotations

import torch

__all__ = ["ChannelwiseProduct", "channel_blocks"]


def channel_blocks(t: torch.Tensor, irreps) -> list[torch.Tensor]:
    """``(B, irreps.dim)`` features as one ``(B, mul, 2l + 1)`` view per block."""
    return [t[:, s].view(t.shape[0], mul, -1) for s, (mul, _) in zip(irreps.slices(), irreps)]


def channelwise_forward(tp, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor):
    """``tp``'s fused ``"uuu"`` forward from plain tensor ops; ``w`` is ``(1 or B, n_paths, U)``.

    Returns the output ``(B, dim_out)`` and every group's unweighted paths ``(B, U, sum d3)``.
    """
    batch, mul = x.shape[0], tp.irreps_out[0].mul
    xb, yb = channel_blocks(x, tp.irreps_in1), channel_blocks(y, tp.irreps_in2)
    outputs, per_group = [None] * len(tp.irreps_out), []
    for g, (i1, i2, _) in enumerate(tp._groups):
        outer = (xb[i1][..., :, None] * yb[i2][..., None, :]).reshape(batch * mul, -1)
        z = (outer @ tp._cg(g, x.dtype)).view(batch, mul, -1)
        per_group.append(z)
        for k, io, a, b in tp._path_columns[g]:
            wk = w[:, k, :, None]
            outputs[io] = z[..., a:b] * wk if outputs[io] is None else torch.addcmul(outputs[io], z[..., a:b], wk)
    parts = [
        x.new_zeros(batch, mul * ir.dim) if o is None else o.reshape(batch, -1)
        for o, (_, ir) in zip(outputs, tp.irreps_out)
    ]
    return torch.cat(parts, dim=-1), per_group


def channelwise_backward(tp, grad, x, y, w, per_group, needs):
    r"""Gradients of `channelwise_forward`, group by group.

    With ``g_z = \sum_{paths} w\, \partial L / \partial z_{out}`` the group's path gradient and
    ``G = g_z C^T`` of shape ``(d1, d2)`` per channel: ``dL/dx_i = \sum_j G_{ij} y_j``,
    ``dL/dy_j = \sum_i x_i G_{ij}``, ``dL/dw_{path,u} = <dL/dz_{out,u}, z_{path,u}>``.
    """
    batch, mul = x.shape[0], tp.irreps_out[0].mul
    xb, yb = channel_blocks(x, tp.irreps_in1), channel_blocks(y, tp.irreps_in2)
    gout = channel_blocks(grad, tp.irreps_out)
    gx, gy, gw = [None] * len(xb), [None] * len(yb), [None] * len(tp.paths)
    weight_dims = (0, 2) if w.shape[0] == 1 else (2,)
    for g, (i1, i2, _) in enumerate(tp._groups):
        cols = tp._path_columns[g]
        if needs[0] or needs[1]:
            gz = torch.cat([gout[io] * w[:, k, :, None] for k, io, _, _ in cols], dim=-1)
            cg = tp._cg(g, x.dtype)
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


class ChannelwiseProduct(torch.autograd.Function):
    """Fused ``"uuu"`` product ``(x, y, w, tp) -> z`` with the backward of `channelwise_backward`."""

    @staticmethod
    def forward(ctx, x, y, w, tp):
        z, per_group = channelwise_forward(tp, x, y, w)
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
            z = channelwise_forward(ctx.tp, x, y, w)[0]
            found = iter(torch.autograd.grad(z, inputs, grad, create_graph=True, allow_unused=True))
            return (*(next(found) if n else None for n in needs), None)
        return (*channelwise_backward(ctx.tp, grad, x, y, w, ctx.per_group, needs), None)
