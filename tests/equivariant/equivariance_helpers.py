"""One generic check used by every equivariance test: rotate the inputs, rotate the output."""

import torch

from extremo.equivariant import D_from_matrix, rand_orthogonal

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def assert_equivariant(fn, inputs, irreps_in, irreps_out, trials: int = 3, scale_tol: bool = True):
    """``fn(*[x D_i(Q)^T]) == fn(*inputs) D_out(Q)^T`` for random ``Q`` in O(3) (rotations and reflections).

    The tolerance is 1e-5 (float32) or 1e-10 (float64) relative to the largest output entry (at least 1).
    """
    dtype = inputs[0].dtype
    gen = torch.Generator().manual_seed(1234)
    out = fn(*inputs)
    scale = max(1.0, out.abs().max().item()) if scale_tol else 1.0
    for trial in range(trials):
        Q = rand_orthogonal(dtype=dtype, generator=gen)
        if trial == 0:  # make sure a reflection is among the trials
            Q = -Q if torch.det(Q) > 0 else Q
        rotated = [x @ D_from_matrix(ir, Q).T for x, ir in zip(inputs, irreps_in)]
        expected = out @ D_from_matrix(irreps_out, Q).T
        err = (fn(*rotated) - expected).abs().max().item()
        assert err <= TOL[dtype] * scale, f"equivariance error {err:.3e} (det Q = {torch.det(Q).item():+.0f})"
