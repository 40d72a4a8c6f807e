"""Orthogonal matrices from unconstrained parameters: Cayley and Cayley-Neumann (OFT, OFTv2), butterfly
products of block rotations (BOFT), Householder chains (HRA) and Givens rotations.

Every module ``m`` holds its own parameters and one orthogonal ``n x n`` matrix ``R = m.matrix()``:

* ``m.rotate(x) = x R`` for ``x`` ``(..., n)``, computed without forming ``R`` (input-centric, OFTv2);
* ``m(W) = W R^T``, so ``torch.nn.utils.parametrize.register_parametrization(linear, "weight", m)``
  turns ``y = x W^T`` into ``y = (x R) W^T`` (orthogonal fine-tuning of a frozen ``W``; with
  ``W = I`` the weight itself is ``R^T``). Parameters start at ``R = I``.

Conventions (one for all): ``S`` skew-symmetric, ``cayley(S) = (I + S)(I - S)^{-1}`` and its
Neumann truncation ``(I + S)(I + S + ... + S^{k-1})`` (Qiu et al., "Orthogonal finetuning made
scalable", 2025); PEFT's exact Cayley is ``(I - S)(I + S)^{-1}``, the same matrix for ``-S``.
References: Qiu et al., "Controlling text-to-image diffusion by orthogonal finetuning" (OFT, 2023);
Liu et al., "Parameter-efficient orthogonal finetuning via butterfly factorization" (BOFT, 2024);
Yuan et al., "Bridging the gap between low-rank and orthogonal adaptation via Householder reflection
adaptation" (HRA, 2024); Schreiber and Van Loan, "A storage-efficient WY representation for products
of Householder transformations" (1989).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["Butterfly", "Cayley", "Givens", "Householder", "butterfly_permutation", "butterfly_shuffle", "cayley", "skew_from_vector"]


def skew_from_vector(v: Tensor, b: int) -> Tensor:
    """``(..., b (b - 1) / 2)`` strict-upper-triangle entries -> skew-symmetric ``(..., b, b)`` (row-major)."""
    i, j = torch.triu_indices(b, b, 1, device=v.device)
    s = v.new_zeros(*v.shape[:-1], b, b)
    s[..., i, j] = v
    return s - s.mT


def cayley(s: Tensor, neumann_terms: int | None = None) -> Tensor:
    """``(I + S)(I - S)^{-1}`` of skew ``(..., b, b)``, or with ``neumann_terms = k`` the truncation
    ``I + 2 S + ... + 2 S^{k-2} + S^{k-1}`` (orthogonal up to O(|S|^k)). Cost O(b^3) (solve) or
    O(k b^3) (products)."""
    eye = torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)
    if neumann_terms is None:
        return torch.linalg.solve(eye - s, eye + s, left=False)
    if neumann_terms < 1:
        raise ValueError(f"neumann_terms must be >= 1 (or None for the exact Cayley map), got {neumann_terms}")
    if neumann_terms == 1:
        return eye.expand_as(s)
    r = eye + (s if neumann_terms == 2 else 2.0 * s)
    power = s
    for k in range(2, neumann_terms):
        power = power @ s
        r = r + (power if k == neumann_terms - 1 else 2.0 * power)
    return r


class _Orthogonal(nn.Module):
    """Shared interface: ``matrix()`` is ``R``, ``rotate(x) = x R`` (``transpose=True``: ``x R^T``),
    ``forward(W) = W R^T``, computed row by row like ``rotate``, never through the dense ``R``."""

    n: int

    def matrix(self) -> Tensor:
        p = next(self.parameters())
        return self.rotate(torch.eye(self.n, dtype=p.dtype, device=p.device))

    def rotate(self, x: Tensor, transpose: bool = False) -> Tensor:
        raise NotImplementedError

    def forward(self, weight: Tensor) -> Tensor:
        if weight.shape[-1] != self.n:
            raise ValueError(f"{type(self).__name__}({self.n}) rotates weights of shape (out, {self.n}), got {tuple(weight.shape)}")
        return self.rotate(weight, transpose=True)

    def _check_input(self, x: Tensor) -> None:
        if x.shape[-1] != self.n:
            raise ValueError(f"{type(self).__name__}({self.n}) needs inputs of shape (..., {self.n}), got {tuple(x.shape)}")


def _blocks(n: int, block_size: int | None, name: str) -> int:
    b = n if block_size is None else block_size
    if not 1 <= b <= n or n % b:
        raise ValueError(f"{name}: block_size must divide n = {n}, got {block_size}")
    return b


class Cayley(_Orthogonal):
    """Block-diagonal ``R = diag(cayley(S_1), ..., cayley(S_{n/b}))`` (OFT; OFTv2 with ``neumann_terms``).

    ``weight`` is ``(n / b, b (b - 1) / 2)`` (one row per block; ``share=True`` keeps one row for all
    blocks), PEFT's ``OFTConfig`` layout. ``rotate`` costs O(n b) per input row plus O(n b^2) for the
    blocks.
    """

    def __init__(self, n: int, block_size: int | None = None, neumann_terms: int | None = None, share: bool = False,
                 dtype=None, device=None):  # fmt: skip
        super().__init__()
        self.n, self.block_size = n, _blocks(n, block_size, "Cayley")
        if neumann_terms is not None and neumann_terms < 1:
            raise ValueError(f"neumann_terms must be >= 1 or None, got {neumann_terms}")
        self.neumann_terms, self.share = neumann_terms, share
        b = self.block_size
        rows = 1 if share else n // b
        self.weight = nn.Parameter(torch.zeros(rows, b * (b - 1) // 2, dtype=dtype, device=device))

    def extra_repr(self) -> str:
        return f"{self.n}, block_size={self.block_size}, neumann_terms={self.neumann_terms}, share={self.share}"

    def blocks(self) -> Tensor:
        """The ``(n / b, b, b)`` diagonal blocks (``(1, b, b)`` when shared)."""
        return cayley(skew_from_vector(self.weight, self.block_size), self.neumann_terms)

    def rotate(self, x: Tensor, transpose: bool = False) -> Tensor:
        self._check_input(x)
        b = self.block_size
        blocks = self.blocks().to(x.dtype)
        if transpose:
            blocks = blocks.mT
        xs = x.reshape(*x.shape[:-1], self.n // b, b)
        if self.share:
            return (xs @ blocks[0]).reshape(x.shape)
        return torch.einsum("...rk,rkc->...rc", xs, blocks).reshape(x.shape)


def butterfly_permutation(n: int, block_size: int, level: int, device=None) -> Tensor:
    """Index ``p`` with ``(P x)_k = x_{p_k}`` for butterfly level ``level >= 1`` (BOFT): inside each chunk of
    ``block_size * 2^level`` coordinates, the groups of ``block_size / 2`` are reordered even-numbered
    first, then odd-numbered; level 0 is the identity. `butterfly_shuffle` applies it as a view."""
    if level == 0:
        return torch.arange(n, device=device)
    _check_level(n, block_size, level)
    half = block_size // 2
    chunk = block_size * 2**level
    groups = torch.arange(chunk // half, device=device)
    order = torch.cat([groups[0::2], groups[1::2]])
    within = (order[:, None] * half + torch.arange(half, device=device)).reshape(-1)
    return (torch.arange(0, n, chunk, device=device)[:, None] + within).reshape(-1)


def _check_level(n: int, block_size: int, level: int) -> None:
    if level and (block_size % 2 or n % (block_size * 2**level)):
        raise ValueError(f"butterfly level {level} needs an even block_size whose chunk {block_size * 2**level} divides n = {n}")


def _shuffle_view(x: Tensor, block_size: int, level: int, inverse: bool) -> Tensor:
    """``x[..., p]`` (``inverse``: ``x[..., p^{-1}]``) as a strided view, ``(..., chunks, 2, 2^level, b / 2)``
    (``inverse``: ``(..., chunks, 2^level, 2, b / 2)``, the blocks of ``b``): in each chunk, half-block
    group ``2 k + s`` goes to position ``s 2^level + k``."""
    half, groups = block_size // 2, 2**level
    if inverse:
        return x.unflatten(-1, (-1, 2, groups, half)).transpose(-3, -2)
    return x.unflatten(-1, (-1, groups, 2, half)).transpose(-3, -2)


def butterfly_shuffle(x: Tensor, block_size: int, level: int, inverse: bool = False) -> Tensor:
    """``x[..., butterfly_permutation(n, block_size, level)]`` (``inverse=True``: by the inverse
    permutation) for ``x`` ``(..., n)``, as one reshape-transpose copy instead of a gather."""
    _check_level(x.shape[-1], block_size, level)
    return _shuffle_view(x, block_size, level, inverse).reshape(x.shape)


class Butterfly(_Orthogonal):
    """``R = M_{F-1} ... M_1 M_0``, ``M_i = P_i B_i P_i^T`` with block-diagonal ``B_i`` of Cayley blocks of
    size ``b`` and the butterfly permutations ``P_i`` of `butterfly_permutation` (BOFT).

    ``weight`` is ``(F, n / b, b, b)`` (``S = (A - A^T) / 2`` per block, PEFT's ``BOFTConfig`` layout);
    ``F = factors`` (1 is OFT). All ``F n / b`` Cayley blocks come from one batched solve; the
    permutations are reshapes (`butterfly_shuffle`). Cost O(F n b) per input row plus O(F n b^2).
    """

    def __init__(self, n: int, block_size: int, factors: int = 1, dtype=None, device=None):
        super().__init__()
        self.n, self.block_size = n, _blocks(n, block_size, "Butterfly")
        if factors < 1:
            raise ValueError(f"Butterfly needs factors >= 1, got {factors}")
        for level in range(factors):
            _check_level(n, self.block_size, level)
        self.factors = factors
        b = self.block_size
        self.weight = nn.Parameter(torch.zeros(factors, n // b, b, b, dtype=dtype, device=device))

    def extra_repr(self) -> str:
        return f"{self.n}, block_size={self.block_size}, factors={self.factors}"

    def blocks(self) -> Tensor:
        return cayley(0.5 * (self.weight - self.weight.mT))

    def rotate(self, x: Tensor, transpose: bool = False) -> Tensor:
        self._check_input(x)
        b, lead = self.block_size, x.shape[:-1]
        blocks = self.blocks().to(x.dtype)
        # x P B P^T = ((x P) blockwise B) P^T, and x P^{-T} = x[p^{-1}] groups each block's two halves;
        # x R = x M_{F-1} ... M_0, x R^T = x M_0^T ... M_{F-1}^T
        if transpose:
            blocks = blocks.mT
        for level in range(self.factors) if transpose else reversed(range(self.factors)):
            y = _shuffle_view(x, b, level, inverse=True).reshape(*lead, self.n // b, b)
            y = torch.einsum("...rk,rkc->...rc", y, blocks[level]).reshape(*lead, self.n)
            x = _shuffle_view(y, b, level, inverse=False).reshape(*lead, self.n)
        return x


class Householder(_Orthogonal):
    """``R = H(u_r) ... H(u_1)``, ``H(u) = I - 2 u u^T / |u|^2`` (HRA; ``W R^T = W H(u_1) ... H(u_r)``).

    ``weight`` is ``U`` ``(n, r)`` (PEFT's ``HRAConfig`` layout), started with equal pairs of columns so
    that ``R = I`` for even ``r`` (odd ``r``: one reflection remains). Compact WY: ``H(u_1) ... H(u_r) = I - Q T Q^T`` with ``Q`` the normalised columns and
    ``T^{-1} = triu(Q^T Q, 1) + I / 2``; ``gram_schmidt=True`` orthonormalises the columns first (then
    ``R = I - 2 Q Q^T``). ``rotate`` costs O(n r) per input row plus O(n r^2).
    """

    def __init__(self, n: int, r: int, gram_schmidt: bool = False, generator: torch.Generator | None = None,
                 dtype=None, device=None):  # fmt: skip
        super().__init__()
        if not 1 <= r <= n:
            raise ValueError(f"Householder needs 1 <= r <= n = {n}, got r={r}")
        self.n, self.r, self.gram_schmidt = n, r, gram_schmidt
        if gram_schmidt:  # I - 2 Q Q^T is never I: start from independent random reflectors
            u = torch.randn(n, r, generator=generator, dtype=dtype, device=device)
        else:
            half = torch.randn(n, (r + 1) // 2, generator=generator, dtype=dtype, device=device)
            u = torch.repeat_interleave(half, 2, dim=1)[:, :r].contiguous()
        self.weight = nn.Parameter(u)

    def extra_repr(self) -> str:
        return f"{self.n}, r={self.r}, gram_schmidt={self.gram_schmidt}"

    def wy(self) -> tuple[Tensor, Tensor]:
        """``(Q, T)`` with ``H(u_1) ... H(u_r) = I - Q T Q^T``."""
        u = self.weight
        if self.gram_schmidt:
            q, _ = torch.linalg.qr(u)
            return q, 2.0 * torch.eye(self.r, dtype=u.dtype, device=u.device)
        q = u / torch.linalg.vector_norm(u, dim=0, keepdim=True)
        eye = torch.eye(self.r, dtype=u.dtype, device=u.device)
        t_inv = torch.triu(q.mT @ q, 1) + 0.5 * eye
        return q, torch.linalg.solve_triangular(t_inv, eye, upper=True)

    def rotate(self, x: Tensor, transpose: bool = False) -> Tensor:
        self._check_input(x)
        q, t = self.wy()
        q, t = q.to(x.dtype), t.to(x.dtype)
        # x R = x (H_1 ... H_r)^T = x - (x Q) T^T Q^T; x R^T = x - (x Q) T Q^T
        return x - ((x @ q) @ (t if transpose else t.mT)) @ q.mT


def _round_robin(n: int) -> tuple[Tensor, Tensor]:
    """Circle-method schedule: ``m - 1`` rounds of ``m / 2`` disjoint pairs covering all pairs of ``m``
    (``m = n`` rounded up to even; pairs touching the padding index ``n`` are dropped later)."""
    m = n + (n % 2)
    ring = list(range(1, m))
    first, second = [], []
    for _ in range(m - 1):
        order = [0] + ring
        first.append([order[k] for k in range(m // 2)])
        second.append([order[m - 1 - k] for k in range(m // 2)])
        ring = ring[-1:] + ring[:-1]
    return torch.tensor(first), torch.tensor(second)


class Givens(_Orthogonal):
    """``R = G_0 G_1 ... G_{k-1}``, each ``G_t`` a product of ``n / 2`` disjoint plane rotations
    (a round of the round-robin schedule, all ``n (n - 1) / 2`` pairs in ``n - 1`` rounds); on a row
    vector a rotation by ``theta`` in plane ``(i, j)`` is ``x_i <- c x_i - s x_j``, ``x_j <- s x_i + c x_j``.

    ``weight`` is the angles ``(rounds, ceil(n / 2))``; ``rounds`` defaults to ``n - 1`` (``n`` for odd
    ``n``). ``rotate`` costs O(rounds n) per input row.
    """

    def __init__(self, n: int, rounds: int | None = None, dtype=None, device=None):
        super().__init__()
        if n < 2:
            raise ValueError(f"Givens needs n >= 2, got {n}")
        first, second = _round_robin(n)
        total = first.shape[0]
        rounds = total if rounds is None else rounds
        if not 1 <= rounds <= total:
            raise ValueError(f"Givens({n}) takes 1 <= rounds <= {total}, got {rounds}")
        self.n, self.rounds = n, rounds
        first, second = first[:rounds], second[:rounds]
        valid = (first < n) & (second < n)
        # padded pairs point at coordinate 0 with a zero angle mask
        self.register_buffer("first", torch.where(valid, first, 0).to(device), persistent=False)
        self.register_buffer("second", torch.where(valid, second, 0).to(device), persistent=False)
        self.register_buffer("mask", valid.to(device), persistent=False)
        self.weight = nn.Parameter(torch.zeros(rounds, first.shape[1], dtype=dtype, device=device))

    def extra_repr(self) -> str:
        return f"{self.n}, rounds={self.rounds}"

    def rotate(self, x: Tensor, transpose: bool = False) -> Tensor:
        self._check_input(x)
        theta = (self.weight * self.mask).to(x.dtype)
        cos, sin = theta.cos(), theta.sin()
        if transpose:  # R^T = G_{k-1}^T ... G_0^T, each round rotated back
            sin = -sin
        for t in (reversed(range(self.rounds)) if transpose else range(self.rounds)):
            i, j, m = self.first[t][self.mask[t]], self.second[t][self.mask[t]], self.mask[t]
            c, s = cos[t][m], sin[t][m]
            xi, xj = x[..., i], x[..., j]
            x = x.index_copy(-1, i, c * xi - s * xj).index_copy(-1, j, s * xi + c * xj)
        return x
