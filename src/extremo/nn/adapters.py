"""Orthogonal fine-tuning adapters around a frozen ``nn.Linear``: OFT, BOFT and HRA.

Each computes ``y = (x R) W^T + b`` with the orthogonal ``R`` of a module of
`extremo.nn.orthogonal`, never forming ``R``: input-centric (``x R`` row by row; OFTv2, Qiu et
al. 2025) when the input has at most ``out_features`` rows, otherwise ``x (W R^T)^T`` with ``W R^T``
rotated row by row (the cheaper of the two), so a step costs the frozen matmul plus
O(min(rows, out) n b) (OFT/BOFT) or O(min(rows, out) n r) (HRA), never the O(out n^2) of a dense
``W R^T``. BOFT also learns an output scale ``s``:
``y = s * ((x R) W^T) + b``. ``merge()`` returns the equivalent plain ``nn.Linear``. With the same
parameters the outputs are those of PEFT's ``OFTConfig`` / ``BOFTConfig`` / ``HRAConfig`` layers
(PEFT's exact Cayley uses ``-S``; see `extremo.nn.orthogonal`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .orthogonal import Butterfly, Cayley, Householder, _Orthogonal

__all__ = ["BOFTLinear", "HRALinear", "OFTLinear"]


class _OrthogonalAdapter(nn.Module):
    rotation: _Orthogonal

    def __init__(self, base: nn.Linear):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise ValueError(f"the adapter wraps an nn.Linear, got {type(base).__name__}")
        self.base = base
        base.requires_grad_(False)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def _scale(self) -> Tensor | None:
        return None

    def forward(self, x: Tensor) -> Tensor:
        w = self.base.weight
        if x.shape[-1] != w.shape[1]:
            raise ValueError(f"{type(self).__name__} needs inputs of shape (..., {w.shape[1]}), got {tuple(x.shape)}")
        if x.numel() > w.numel():  # more input rows than outputs: rotating W's rows is cheaper
            y = nn.functional.linear(x, self.rotation(w))
        else:
            y = nn.functional.linear(self.rotation.rotate(x), w)
        s = self._scale()
        if s is not None:
            y = y * s.to(y.dtype)
        return y if self.base.bias is None else y + self.base.bias

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        """The plain ``nn.Linear`` with weight ``diag(s) W R^T`` (same outputs, no adapter cost)."""
        w = self.base.weight
        merged = self.rotation(w)
        s = self._scale()
        if s is not None:
            merged = merged * s.to(w.dtype)[:, None]
        out = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None, dtype=w.dtype, device=w.device)
        out.weight.copy_(merged)
        if self.base.bias is not None:
            out.bias.copy_(self.base.bias)
        return out


class OFTLinear(_OrthogonalAdapter):
    """OFT / OFTv2: block-diagonal Cayley (``neumann_terms=None``) or Cayley-Neumann rotation of the inputs.

    Give ``block_size`` or the number of blocks ``r`` (one of them); ``share=True`` uses one block for all.
    """

    def __init__(self, base: nn.Linear, block_size: int | None = None, r: int | None = None,
                 neumann_terms: int | None = 5, share: bool = False):  # fmt: skip
        super().__init__(base)
        n = base.in_features
        if (block_size is None) == (r is None):
            raise ValueError("OFTLinear needs exactly one of block_size and r (number of blocks)")
        if r is not None:
            if not 1 <= r <= n or n % r:
                raise ValueError(f"OFTLinear: r must divide in_features = {n}, got {r}")
            block_size = n // r
        w = base.weight
        self.rotation = Cayley(n, block_size, neumann_terms, share, dtype=w.dtype, device=w.device)


class BOFTLinear(_OrthogonalAdapter):
    """BOFT: butterfly product of ``factors`` block-Cayley rotations and a learned output scale ``s``."""

    def __init__(self, base: nn.Linear, block_size: int, factors: int = 1):
        super().__init__(base)
        w = base.weight
        self.rotation = Butterfly(base.in_features, block_size, factors, dtype=w.dtype, device=w.device)
        self.scale = nn.Parameter(torch.ones(base.out_features, dtype=w.dtype, device=w.device))

    def _scale(self) -> Tensor:
        return self.scale


class HRALinear(_OrthogonalAdapter):
    """HRA: a chain of ``r`` Householder reflections (``gram_schmidt=True``: orthonormalised reflectors)."""

    def __init__(self, base: nn.Linear, r: int, gram_schmidt: bool = False, generator: torch.Generator | None = None):
        super().__init__(base)
        w = base.weight
        self.rotation = Householder(base.in_features, r, gram_schmidt, generator, dtype=w.dtype, device=w.device)
