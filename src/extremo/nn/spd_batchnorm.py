"""Riemannian batch normalization of SPD matrices under four metrics, with power deformation.

``SPDBatchNorm(n, metric)`` normalizes a batch ``{X_i}`` so that its Frechet mean is the learnable
bias ``B`` and its dispersion (mean squared distance to the mean) is ``s^2 v / (v + eps)`` with the
batch dispersion ``v`` and the learnable ``s`` (``std``): centre at the batch mean ``G``, scale the
tangent vectors by ``s / sqrt(v + eps)``, re-bias at ``B`` (Kobler et al., "SPD domain-specific batch
normalization", NeurIPS 2022; Chen et al., "A Lie group approach to Riemannian batch normalization",
ICLR 2024; Wang et al., "Learning to normalize on the SPD manifold under Bures-Wasserstein geometry",
CVPR 2025). Per metric (``P`` is the power deformation ``X -> X^theta``, whose pulled-back metric is
scaled by ``1 / theta^2``; ``theta = 1`` is none):

* ``"affine"``: ``Z = B^{1/2} (G^{-1/2} X G^{-1/2})^{f} B^{1/2}`` with ``f = s / sqrt(v + eps)``;
  ``lie=True`` uses the Cholesky translations ``L_B (L_G^{-1} X L_G^{-T})^f L_B^T`` (LieBN-AIM);
* ``"log_euclidean"``: ``Z = exp(f (log X - mean_i log X_i) + log B)`` (also the Lie-group form);
* ``"bures_wasserstein"``: ``Z = Exp_B(Gamma_{I->B} f Gamma_{G->I} Log_G X)`` with the BW
  isometries ``Gamma_{G->I}[V] = Q ((Q^T V Q) o sqrt(2 / (g_i + g_j))) Q^T`` (``G = Q diag(g) Q^T``)
  and ``Gamma_{I->B}`` the inverse form at ``B`` (GBWBN);
* ``"generalized_bw"``: the BW normalization conjugated by ``phi(X) = M^{-1/2} X M^{-1/2}`` (an
  isometry from GBW_M onto BW) with the SPD metric parameter ``M``, learnable by default.

The Frechet mean is `frechet_mean` (Karcher flow ``G <- Exp_G(mean_i Log_G X_i)``,
which for BW is the Alvarez-Esteban fixed point; closed form for log-Euclidean), started at the
arithmetic mean and run without an autograd graph, followed by ``grad_steps`` differentiable steps:
the gradient through ``G`` is then the implicit-function gradient of the fixed point
(``dG = (I - J)^{-1} dT``, ``J`` the step's Jacobian in ``G`` at the mean) truncated after
``grad_steps`` terms of its Neumann series, exact where ``J = 0`` (commuting batches, zero dispersion)
and off by O(|J|^k) otherwise (one-step differentiation: Bolte, Pauwels and Vaiter, NeurIPS 2023);
``grad_steps=0`` treats the mean as a constant, as spd-learn does. The dispersion uses the last
step's tangent vectors. Running mean (geodesic step of size ``momentum``) and dispersion are kept in
the deformed space and used in eval mode. ``B`` and ``M`` are `ManifoldParameter`
on SPD (train with `RiemannianAdam`). Cost per call: O(N n^3)
(eigendecompositions) per Karcher iteration, with the backward pass of ``grad_steps`` of them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..linalg import eigh, sym, sym_expm, sym_invsqrtm, sym_logm, sym_powm, sym_sqrtm, sym_sqrtm_invsqrtm
from ..manifolds import SPD, ManifoldParameter

__all__ = ["SPDBatchNorm"]

_METRICS = ("affine", "log_euclidean", "bures_wasserstein", "generalized_bw")


class _BWTransport(torch.autograd.Function):
    """``Q ((Q^T V Q) o H) Q^T`` with ``H_ij = h(a_i, a_j)``, ``A = Q diag(a) Q^T``; ``h = s^{-1}`` (to I) or ``s``
    (from I), ``s(x, y) = sqrt((x + y) / 2)``. The backward pass uses the divided differences of ``h`` in
    closed form, so it stays finite at repeated eigenvalues (e.g. ``A = I``), where eigh's own
    backward divides by ``a_i - a_j``."""

    @staticmethod
    def forward(ctx, v, a, to_identity):
        w, q = eigh(a)
        s = (0.5 * (w[..., :, None] + w[..., None, :])).sqrt()
        h = 1.0 / s if to_identity else s
        vq = q.mT @ v @ q
        ctx.save_for_backward(q, s, h, vq)
        ctx.to_identity = to_identity
        return q @ (vq * h) @ q.mT

    @staticmethod
    def backward(ctx, grad):
        q, s, h, vq = ctx.saved_tensors
        gq = q.mT @ sym(grad) @ q
        grad_v = q @ (gq * h) @ q.mT
        # T[a, b, c] = (h(w_a, w_c) - h(w_b, w_c)) / (w_a - w_b), symmetric in a, b
        sa, sb = s[..., :, None, :], s[..., None, :, :]
        t = 0.5 / (sa + sb)
        if ctx.to_identity:
            t = -t / (sa * sb)
        inner = torch.einsum("...abc,...ac,...cb->...ab", t, gq, vq) + torch.einsum("...abc,...ac,...cb->...ab", t, vq, gq)
        grad_a = q @ sym(inner) @ q.mT
        return grad_v, grad_a, None


def _bw_transport(v: Tensor, at: Tensor, to_identity: bool) -> Tensor:
    """BW isometry between ``T_at`` and ``T_I``: eigenbasis entries times ``sqrt(2 / (a_i + a_j))`` (to I)
    or ``sqrt((a_i + a_j) / 2)`` (from I)."""
    return sym(_BWTransport.apply(v, at.expand_as(v).contiguous(), to_identity))


class SPDBatchNorm(nn.Module):
    """Batch normalization for ``(..., n, n)`` SPD inputs (all leading dimensions form the batch).

    Arguments: ``metric`` (see module docstring), ``momentum`` of the running statistics, ``eps``
    added to the dispersion, ``power`` (``theta``), ``lie`` (Cholesky translations, affine only),
    ``M`` (initial GBW metric parameter, SPD) and ``learn_metric``, ``std`` (initial ``s``),
    ``max_iter`` / ``tol`` of the Karcher flow, of which the last ``grad_steps`` are differentiable.
    """

    def __init__(
        self,
        n: int,
        metric: str = "affine",
        momentum: float = 0.1,
        eps: float = 1e-5,
        power: float = 1.0,
        lie: bool = False,
        M: Tensor | None = None,
        learn_metric: bool = True,
        std: float = 1.0,
        max_iter: int = 50,
        tol: float | None = None,
        grad_steps: int = 2,
        dtype=None,
        device=None,
    ):
        super().__init__()
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
        if lie and metric not in ("affine", "log_euclidean"):
            raise ValueError(f"lie=True needs metric 'affine' or 'log_euclidean' (the SPD Lie groups), got {metric!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        if not eps >= 0:
            raise ValueError(f"eps must be >= 0, got {eps}")
        if power == 0 or not math.isfinite(power):
            raise ValueError(f"power must be a nonzero finite number, got {power}")
        if not std > 0:
            raise ValueError(f"std must be positive, got {std}")
        if not 0 <= grad_steps <= max_iter:
            raise ValueError(f"grad_steps must be in [0, max_iter = {max_iter}], got {grad_steps}")
        if M is not None and metric != "generalized_bw":
            raise ValueError(f"M is the generalized_bw metric parameter; metric is {metric!r}")
        self.n, self.metric, self.momentum, self.eps = n, metric, momentum, float(eps)
        self.power, self.lie, self.max_iter, self.tol, self.grad_steps = float(power), lie, max_iter, tol, grad_steps
        dtype = dtype or torch.get_default_dtype()
        spd = SPD(n, "affine")
        eye = torch.eye(n, dtype=dtype, device=device)
        self.bias = ManifoldParameter(eye.clone(), spd)
        self.log_std = nn.Parameter(torch.tensor(math.log(std), dtype=dtype, device=device))
        if metric == "generalized_bw":
            if M is None:
                M = eye.clone()
            if not isinstance(M, Tensor) or tuple(M.shape) != (n, n):
                raise ValueError(f"M must be a ({n}, {n}) tensor, got {getattr(M, 'shape', type(M).__name__)}")
            ok, reason = spd.check_point(M.detach().to(dtype=torch.float64))
            if not ok:
                raise ValueError(f"M must be symmetric positive definite: {reason}")
            M = M.detach().to(dtype=dtype, device=device).clone()
            if learn_metric:
                self.metric_matrix = ManifoldParameter(M, spd, check=False)
            else:
                self.register_buffer("metric_matrix", M)
        base = "bures_wasserstein" if metric == "generalized_bw" else metric
        self._manifold = SPD(n, base)
        self.register_buffer("running_mean", eye.clone())
        self.register_buffer("running_var", torch.ones((), dtype=dtype, device=device))

    def extra_repr(self) -> str:
        return f"{self.n}, metric={self.metric!r}, power={self.power:g}, lie={self.lie}, momentum={self.momentum:g}"

    @property
    def std(self) -> Tensor:
        """The target standard deviation ``s`` (dispersion ``s^2`` as ``eps -> 0``)."""
        return self.log_std.exp()

    def deform(self, x: Tensor) -> Tensor:
        """``phi(X^theta)``: the map to the space where the base metric (AI, LE or BW) acts."""
        if self.power != 1.0:
            x = sym_powm(x, self.power)
        if self.metric == "generalized_bw":
            m_inv_half = sym_invsqrtm(sym(self.metric_matrix.to(x.dtype)))
            x = sym(m_inv_half @ x @ m_inv_half)
        return x

    def undeform(self, y: Tensor) -> Tensor:
        """Inverse of `deform`."""
        if self.metric == "generalized_bw":
            m_half = sym_sqrtm(sym(self.metric_matrix.to(y.dtype)))
            y = sym(m_half @ y @ m_half)
        if self.power != 1.0:
            y = sym_powm(y, 1.0 / self.power)
        return y

    def batch_statistics(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Frechet mean and dispersion ``mean_i d(G, Y_i)^2 / theta^2`` of deformed ``(N, n, n)``."""
        if self.metric == "log_euclidean":
            logs = sym_logm(y)
            centre = logs.mean(0)
            return sym_expm(centre), (logs - centre).square().sum((-2, -1)).mean() / self.power**2
        tol = torch.finfo(y.dtype).eps ** 0.5 if self.tol is None else self.tol
        mean = y.detach().mean(0)
        with torch.no_grad():
            for _ in range(self.max_iter - self.grad_steps):
                logs, exp_at, norm = self._tangent_frame(mean, y.detach())
                step = logs.mean(0)
                if float(norm(step)) <= tol:
                    break
                mean = exp_at(step)
        logs, exp_at, norm = self._tangent_frame(mean, y)
        for k in range(self.grad_steps):
            mean = exp_at(logs.mean(0))
            if k + 1 < self.grad_steps:
                logs, exp_at, norm = self._tangent_frame(mean, y)
        return mean, norm(logs).square().mean() / self.power**2

    def _tangent_frame(self, base: Tensor, y: Tensor):
        """``(Log_base Y_i, v -> Exp_base v, |.|_base)`` in a frame at ``base``. Affine-invariant: the frame
        of ``base^{1/2}`` (one eigendecomposition gives both roots), ``Log = log(base^{-1/2} Y base^{-1/2})``,
        ``Exp v = base^{1/2} exp(v) base^{1/2}``, the Frobenius norm."""
        m = self._manifold
        if self.metric == "affine":
            half, inv_half = sym_sqrtm_invsqrtm(base)
            logs = sym_logm(sym(inv_half @ y @ inv_half))
            return logs, lambda v: sym(half @ sym_expm(v) @ half), lambda v: torch.linalg.matrix_norm(v)
        logs = m.logmap(base.expand_as(y), y)
        return logs, lambda v: m.expmap(base, v), lambda v: m.norm(base.expand_as(v), v)

    def _normalize(self, y: Tensor, mean: Tensor, var: Tensor, bias: Tensor) -> Tensor:
        factor = self.std.to(y.dtype) / (var + self.eps).sqrt()
        power = lambda c: sym_expm(factor * sym_logm(c))  # noqa: E731  C^f, differentiable in f too
        if self.metric == "log_euclidean":
            return sym_expm(factor * (sym_logm(y) - sym_logm(mean)) + sym_logm(bias))
        if self.metric == "affine":
            if self.lie:
                chol_g, chol_b = torch.linalg.cholesky(mean), torch.linalg.cholesky(bias)
                left = torch.linalg.solve_triangular(chol_g, torch.eye(self.n, dtype=y.dtype, device=y.device), upper=False)
                centred = sym(left @ y @ left.mT)
                return sym(chol_b @ power(centred) @ chol_b.mT)
            g_inv_half, b_half = sym_invsqrtm(mean), sym_sqrtm(bias)
            return sym(b_half @ power(sym(g_inv_half @ y @ g_inv_half)) @ b_half)
        tangent = _bw_transport(self._manifold.logmap(mean.expand_as(y), y), mean, to_identity=True)
        # Exp_B(Gamma_{I->B} U) = (I + L) B (I + L) with L = L_B[Gamma_{I->B} U] = Gamma_{I->B}^{-1} U / 2
        lyap = 0.5 * _bw_transport(factor * tangent, bias, to_identity=True)
        eye = torch.eye(self.n, dtype=y.dtype, device=y.device)
        return sym((eye + lyap) @ bias @ (eye + lyap))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 3 or x.shape[-2:] != (self.n, self.n):
            raise ValueError(f"SPDBatchNorm({self.n}) expects a batch of shape (..., N, {self.n}, {self.n}), got {tuple(x.shape)}")
        shape = x.shape
        y = self.deform(x.reshape(-1, self.n, self.n))
        bias = self.deform(self.bias.to(y.dtype)[None])[0]
        if self.training:
            mean, var = self.batch_statistics(y)
            with torch.no_grad():
                rm, m = self.running_mean.to(y.dtype), self.momentum
                step = self._manifold.logmap(rm, mean.detach())
                self.running_mean.copy_(self._manifold.expmap(rm, m * step))
                self.running_var.mul_(1 - m).add_(m * var.detach())
        else:
            mean, var = self.running_mean.to(y.dtype), self.running_var.to(y.dtype)
        return self.undeform(self._normalize(y, mean, var, bias)).reshape(shape)
