"""Meta-factorization: matrix decompositions as solutions of two linear matrix equations.

Karpowicz, "A theory of meta-factorization" (arXiv:2111.14385, 2022), and Karpowicz and Strang,
"The pseudoinverse of A = CR is A^+ = R^+ C^+ (?)" (arXiv:2305.01716, 2023).

For ``A`` ``(..., m, n)`` of rank ``r``, pick a left factor ``C`` ``(m, k)`` and a right factor
``R`` ``(l, n)``. Then

* the *projector equation* ``P_C A P_R = A`` with ``P_C = C C^+`` and ``P_R = R^+ R`` (orthogonal
  projectors onto the column space of ``C`` and the row space of ``R``) holds exactly when
  ``range A`` lies in ``range C`` and ``range A^T`` in ``range R^T``;
* the *reconstruction equation* ``C Z R = A`` then has the minimum-norm solution
  ``Z = C^+ A R^+`` (Penrose), unique when ``C`` has independent columns and ``R`` independent
  rows.

SVD, QR and UTV are the choices of ``C`` and ``R`` that make ``Z`` diagonal, the identity or
triangular; any invertible ``G``, ``H`` give the modified factorization
``(C G) (G^{-1} Z H^{-1}) (H R)``, which the equations accept unchanged. With sketches
``C = A X`` and ``R = Y A`` the projector equation becomes the generalized Nystrom identity
``A = A X (Y A X)^+ Y A``, true iff ``rank(Y A X) = rank A``; with ``X``, ``Y`` selecting columns
and rows it is the CUR decomposition. Everything is batched over leading dimensions and
differentiable where the rank is locally constant (``torch.linalg.pinv``/``svd``/``qr``
backward passes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import torch
from torch import Tensor

__all__ = [
    "MetaFactorization",
    "cur",
    "generalized_nystrom",
    "meta_factorize",
    "numerical_rank",
    "pinv_cr",
    "qr_meta",
    "svd_meta",
    "utv_meta",
]


class MetaFactorization(NamedTuple):
    """``A = C Z R`` with the residuals of both equations (Frobenius norm, relative to ``|A|``)."""

    C: Tensor
    Z: Tensor
    R: Tensor
    projector_residual: Tensor
    reconstruction_residual: Tensor


def _check_matrix(a: Tensor, name: str) -> None:
    if not isinstance(a, Tensor) or a.dim() < 2:
        shape = tuple(a.shape) if isinstance(a, Tensor) else type(a).__name__
        raise ValueError(f"{name} must be a tensor of shape (..., m, n), got {shape}")


def _rel(residual: Tensor, a: Tensor) -> Tensor:
    scale = torch.linalg.matrix_norm(a).clamp_min(torch.finfo(a.dtype).tiny)
    return torch.linalg.matrix_norm(residual) / scale


def numerical_rank(a: Tensor, rtol: float | None = None) -> Tensor:
    """Number of singular values above ``rtol * sigma_max`` (default ``max(m, n) * eps``), per matrix."""
    _check_matrix(a, "a")
    return torch.linalg.matrix_rank(a, rtol=rtol)


def meta_factorize(a: Tensor, left: Tensor, right: Tensor, rtol: float | None = None) -> MetaFactorization:
    """Solve the projector and reconstruction equations for ``A = C Z R``.

    ``left`` is ``C`` ``(..., m, k)``, ``right`` is ``R`` ``(..., l, n)``; ``Z = C^+ A R^+`` is the
    minimum-norm solution of ``C Z R = A``. Raises ``ValueError`` when the projector equation
    (checked as ``C C^+ A = A`` and ``A R^+ R = A``, relative residuals above ``sqrt(eps)``), i.e. when the column space
    of ``C`` misses part of ``range A`` or the row space of ``R`` part of ``range A^T``: no ``Z``
    reconstructs ``A`` then. Cost: two pseudoinverses, O(m k^2 + l^2 n) plus products.
    """
    _check_matrix(a, "a")
    _check_matrix(left, "left")
    _check_matrix(right, "right")
    m, n = a.shape[-2:]
    if left.shape[-2] != m or right.shape[-1] != n:
        raise ValueError(
            f"left must be (..., {m}, k) and right (..., l, {n}) for a of shape {tuple(a.shape)}, "
            f"got {tuple(left.shape)} and {tuple(right.shape)}"
        )
    c_pinv = torch.linalg.pinv(left, rtol=rtol)
    r_pinv = torch.linalg.pinv(right, rtol=rtol)
    z = c_pinv @ a @ r_pinv
    proj_res = torch.maximum(_rel(left @ (c_pinv @ a) - a, a), _rel((a @ r_pinv) @ right - a, a))
    tol = torch.finfo(a.dtype).eps ** 0.5
    if bool((proj_res > tol).any()):
        raise ValueError(
            f"projector equation C C^+ A = A = A R^+ R fails (relative residual {float(proj_res.max()):.2e}): "
            "the column space of `left` must contain range(A) and the row space of `right` range(A^T)"
        )
    return MetaFactorization(left, z, right, proj_res, _rel(left @ z @ right - a, a))


def _rank_basis(u: Tensor, s: Tensor, rtol: float | None) -> int:
    """Common numerical rank of a batch, from singular values ``s`` ``(..., p)``."""
    m, n = u.shape[-2], s.shape[-1]
    tol = (max(m, n) * torch.finfo(s.dtype).eps) if rtol is None else rtol
    ranks = (s > tol * s[..., :1]).sum(-1)
    return int(ranks.max()) if ranks.numel() else 0


def svd_meta(a: Tensor, split: str = "sigma", rtol: float | None = None) -> MetaFactorization:
    """SVD from the equations: ``C = U_r`` and ``R = V_r^T`` span ``range A`` and ``range A^T``, so
    ``Z = U_r^T A V_r = Sigma_r`` (diagonal).

    ``split`` picks the modification the equations allow: ``"sigma"`` (``C = U, Z = Sigma, R = V^T``),
    ``"left"`` (``C = U Sigma, Z = I, R = V^T``), ``"balanced"`` (``C = U Sigma^{1/2}, Z = I,
    R = Sigma^{1/2} V^T``). Rank ``r`` is the largest numerical rank in the batch. Cost O(m n min(m, n)).
    """
    _check_matrix(a, "a")
    if split not in ("sigma", "left", "balanced"):
        raise ValueError(f"split must be 'sigma', 'left' or 'balanced', got {split!r}")
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    r = _rank_basis(u, s, rtol)
    u, s, vh = u[..., :r], s[..., :r], vh[..., :r, :]
    if split == "left":
        u = u * s[..., None, :]
    elif split == "balanced":
        root = s.sqrt()
        u, vh = u * root[..., None, :], root[..., :, None] * vh
    return meta_factorize(a, u, vh, rtol)


def qr_meta(a: Tensor, pivoting: bool = False) -> MetaFactorization:
    """QR from the equations: ``C = Q`` (orthonormal, ``range Q = range A`` for full column rank),
    ``R = I`` (or the column permutation ``Pi^T`` with ``pivoting=True``), so ``Z = Q^T A`` (or
    ``Q^T A Pi``) is upper triangular.

    Pivoting orders the columns by the Businger-Golub rule (SciPy's ``qr(pivoting=True)``, per
    matrix, not differentiable in the permutation). Cost O(m n^2).
    """
    _check_matrix(a, "a")
    n = a.shape[-1]
    if pivoting:
        perms = [sla.qr(x, mode="r", pivoting=True)[1] for x in a.detach().reshape(-1, *a.shape[-2:]).cpu().numpy()]
        perm = torch.as_tensor(np.stack(perms), dtype=torch.long, device=a.device).reshape(*a.shape[:-2], n)
        eye = torch.eye(n, dtype=a.dtype, device=a.device)
        right = eye[perm]  # rows of Pi^T: (Pi^T)[i] = e_{perm[i]}
        q, _ = torch.linalg.qr(a @ right.mT)
    else:
        right = torch.eye(n, dtype=a.dtype, device=a.device).expand(*a.shape[:-2], n, n)
        q, _ = torch.linalg.qr(a)
    return meta_factorize(a, q, right)


def utv_meta(a: Tensor) -> MetaFactorization:
    """UTV (ULV) from the equations: ``C = Q_1`` from ``A = Q_1 R_1``, ``R = Q_2^T`` from
    ``R_1^T = Q_2 L^T``; then ``Z = Q_1^T A Q_2 = L`` is lower triangular (Stewart's UTV with
    orthonormal outer factors). Needs ``m >= n``. Cost O(m n^2).
    """
    _check_matrix(a, "a")
    if a.shape[-2] < a.shape[-1]:
        raise ValueError(f"utv_meta needs m >= n, got shape {tuple(a.shape)}; factor a.mT instead")
    q1, r1 = torch.linalg.qr(a)
    q2, _ = torch.linalg.qr(r1.mT)
    return meta_factorize(a, q1, q2.mT)


def generalized_nystrom(a: Tensor, x: Tensor, y: Tensor, rtol: float | None = None) -> Tensor:
    """Generalized Nystrom approximation ``A X (Y A X)^+_rtol Y A``.

    ``x`` ``(..., n, k)`` and ``y`` ``(..., l, m)`` are sketches (``l > k`` oversampling stabilises,
    Nakatsukasa 2020); the core pseudoinverse is truncated at ``rtol * sigma_max``. Equals ``A``
    iff ``rank(Y A X) = rank A`` (the projector equation for ``C = A X``, ``R = Y A``). Cost
    O(m n (k + l)) for the sketches plus O(k l^2) for the core.
    """
    _check_matrix(a, "a")
    m, n = a.shape[-2:]
    if x.dim() < 2 or y.dim() < 2 or x.shape[-2] != n or y.shape[-1] != m:
        raise ValueError(
            f"x must be (..., {n}, k) and y (..., l, {m}) for a of shape {tuple(a.shape)}, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    ax, ya = a @ x, y @ a
    core = y @ ax
    return ax @ torch.linalg.pinv(core, rtol=rtol) @ ya


def _select(a: np.ndarray, k: int) -> np.ndarray:
    return sla.qr(a, mode="r", pivoting=True)[1][:k]


def cur(
    a: Tensor, k: int | None = None, rows: Tensor | None = None, cols: Tensor | None = None, core: str = "optimal"
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """CUR decomposition ``A ~= C U R`` with ``C = A[:, J]``, ``R = A[I, :]``.

    Indices come from ``rows``/``cols`` (``(..., k)`` long tensors) or, if absent, from column-pivoted
    QR of ``A`` and ``A^T`` (first ``k`` pivots; per matrix, SciPy). ``core="optimal"`` takes
    ``U = C^+ A R^+`` (the reconstruction equation; best Frobenius error for the chosen C, R),
    ``core="cross"`` the interpolatory ``U = A[I, J]^+`` (the generalized Nystrom core).
    Returns ``(C, U, R, I, J)``. Exact (``C U R = A``) iff ``rank A[I, J] = rank A`` for ``"cross"``,
    iff C and R span the column and row spaces for ``"optimal"``.
    """
    _check_matrix(a, "a")
    if core not in ("optimal", "cross"):
        raise ValueError(f"core must be 'optimal' or 'cross', got {core!r}")
    m, n = a.shape[-2:]
    batch = a.shape[:-2]
    if rows is None or cols is None:
        if k is None or not 1 <= k <= min(m, n):
            raise ValueError(f"cur needs 1 <= k <= min(m, n) = {min(m, n)} when rows/cols are not given, got k={k}")
        flat = a.detach().reshape(-1, m, n).cpu().numpy()
        if cols is None:
            cols = torch.as_tensor(np.stack([_select(x, k) for x in flat]), device=a.device).reshape(*batch, k)
        if rows is None:
            rows = torch.as_tensor(np.stack([_select(x.T, k) for x in flat]), device=a.device).reshape(*batch, k)
    # int64 indices: gather with expanded int32 indices reads wrong rows on CPU (torch 2.13)
    rows = rows.to(device=a.device, dtype=torch.long).expand(*batch, rows.shape[-1])
    cols = cols.to(device=a.device, dtype=torch.long).expand(*batch, cols.shape[-1])
    c = torch.gather(a, -1, cols[..., None, :].expand(*batch, m, cols.shape[-1]))
    r = torch.gather(a, -2, rows[..., :, None].expand(*batch, rows.shape[-1], n))
    if core == "optimal":
        u = torch.linalg.pinv(c) @ a @ torch.linalg.pinv(r)
    else:
        cross = torch.gather(c, -2, rows[..., :, None].expand(*batch, rows.shape[-1], cols.shape[-1]))
        u = torch.linalg.pinv(cross)
    return c, u, r, rows, cols


def pinv_cr(
    c: Tensor,
    r: Tensor,
    formula: str = "general",
    p: Tensor | None = None,
    q: Tensor | None = None,
    check: bool = True,
    rtol: float | None = None,
) -> Tensor:
    """Pseudoinverse of ``A = C R`` by one of the three formulas of Karpowicz and Strang (2023).

    * ``"reverse_order"``: ``R^+ C^+``; equals ``A^+`` when ``C`` has independent columns and ``R``
      independent rows;
    * ``"general"``: ``(C^+ C R)^+ (C R R^+)^+``, always ``A^+``;
    * ``"randomized"``: ``(P^T A)^+ P^T A Q (A Q)^+`` with sketches ``p`` ``(m, s)``, ``q`` ``(n, t)``;
      equals ``A^+`` iff ``rank(P^T A) = rank(A Q) = rank A``.

    With ``check=True`` a violated rank condition raises ``ValueError``; ``check=False`` returns the
    formula's value anyway (to see it differ from ``A^+``). Batched; differentiable at constant rank.
    """
    _check_matrix(c, "c")
    _check_matrix(r, "r")
    if c.shape[-1] != r.shape[-2]:
        raise ValueError(f"c (m, k) and r (k, n) must share k, got {tuple(c.shape)} and {tuple(r.shape)}")
    pinv = lambda x: torch.linalg.pinv(x, rtol=rtol)  # noqa: E731
    rank = lambda x: numerical_rank(x, rtol)  # noqa: E731
    if formula == "reverse_order":
        k = c.shape[-1]
        if check and bool(((rank(c) < k) | (rank(r) < k)).any()):
            raise ValueError(
                f"reverse_order needs C with {k} independent columns and R with {k} independent rows, "
                f"got rank C = {rank(c).min().item()}, rank R = {rank(r).min().item()}; use formula='general'"
            )
        return pinv(r) @ pinv(c)
    if formula == "general":
        return pinv(pinv(c) @ c @ r) @ pinv(c @ r @ pinv(r))
    if formula == "randomized":
        if p is None or q is None:
            raise ValueError("formula='randomized' needs the sketches p (m, s) and q (n, t)")
        a = c @ r
        pta, aq = p.mT @ a, a @ q
        if check:
            ra = rank(a)
            if bool(((rank(pta) != ra) | (rank(aq) != ra)).any()):
                raise ValueError(
                    f"randomized formula needs rank(P^T A) = rank(A Q) = rank(A) = {ra.min().item()}, got "
                    f"{rank(pta).min().item()} and {rank(aq).min().item()}; enlarge the sketches"
                )
        return pinv(pta) @ pta @ q @ pinv(aq)
    raise ValueError(f"formula must be 'reverse_order', 'general' or 'randomized', got {formula!r}")
