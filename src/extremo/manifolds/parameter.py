"""``ManifoldParameter``: an ``nn.Parameter`` that knows its manifold."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Manifold
from .euclidean import Euclidean

__all__ = ["ManifoldParameter"]


def _rebuild(data: Tensor, manifold: Manifold, requires_grad: bool) -> "ManifoldParameter":
    return ManifoldParameter(data, manifold, requires_grad=requires_grad, check=False)


class ManifoldParameter(torch.nn.Parameter):
    """A parameter constrained to ``manifold``; Riemannian optimizers read ``.manifold``.

    ``ManifoldParameter(data, manifold)`` checks that ``data`` lies on the
    manifold (``check=False`` skips it; call ``manifold.projx`` first if needed)
    and raises ``ValueError`` explaining what is wrong.  Without ``data`` it
    starts at ``manifold.origin()``.  Survives ``deepcopy``, pickling and
    ``state_dict`` round-trips.
    """

    manifold: Manifold

    def __new__(cls, data: Tensor | None = None, manifold: Manifold | None = None,
                requires_grad: bool = True, check: bool = True):
        manifold = Euclidean() if manifold is None else manifold
        if not isinstance(manifold, Manifold):
            raise ValueError(f"manifold must be an extremo Manifold instance, got {type(manifold).__name__}")
        if data is None:
            data = manifold.origin()
        if isinstance(data, torch.nn.Parameter):
            data = data.data
        if check:
            manifold.assert_check_point(data)
        instance = torch.Tensor._make_subclass(cls, data, requires_grad)
        instance.manifold = manifold
        return instance

    def __init__(self, *args, **kwargs):
        pass

    def __repr__(self) -> str:
        return f"ManifoldParameter on {self.manifold!r} containing:\n{torch.Tensor.__repr__(self.data)}"

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        import copy

        result = ManifoldParameter(
            self.data.clone(memory_format=torch.preserve_format),
            copy.deepcopy(self.manifold, memo),
            requires_grad=self.requires_grad,
            check=False,
        )
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return _rebuild, (self.data, self.manifold, self.requires_grad)
