"""The ``Manifold`` interface shared by every manifold in extremo.

A point is a tensor of shape ``(..., *point_shape)``: the last ``ndim`` dimensions
hold one point, leading dimensions are a batch and broadcast.  Tangent vectors
are stored in the same ambient coordinates as points.  Every method is batched,
and dtype/device follow the inputs.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

__all__ = ["Manifold", "default_tolerance"]


def default_tolerance(dtype: torch.dtype) -> tuple[float, float]:
    """``(atol, rtol)`` used by ``check_point`` / ``check_vector`` for ``dtype``."""
    if dtype == torch.float64:
        return 1e-8, 1e-8
    return 1e-4, 1e-4


def _batch_shape(batch: Sequence) -> tuple[int, ...]:
    if len(batch) == 1 and isinstance(batch[0], (tuple, list, torch.Size)):
        return tuple(batch[0])
    return tuple(int(b) for b in batch)


class Manifold:
    """Base class: a Riemannian manifold embedded in ``R^{point_shape}``.

    Subclasses implement ``projx``, ``proju``, ``inner``, ``expmap``, ``logmap``,
    ``random``, ``_check_point`` and ``_check_vector``; the rest has defaults:
    ``egrad2rgrad = proju`` (embedded metric), ``retr = expmap``,
    ``transp = proju(y, .)`` (vector transport by projection),
    ``dist = ||logmap(x, y)||_x``.
    """

    name: str = "Manifold"
    #: True when ``transp`` is parallel transport along the minimizing geodesic.
    parallel_transport: bool = False

    def __init__(self, point_shape: Sequence[int], dim: int):
        self.point_shape = tuple(int(s) for s in point_shape)
        self.ndim = len(self.point_shape)
        self.dim = int(dim)

    def __repr__(self) -> str:
        extra = self.extra_repr()
        return f"{self.name}({extra})"

    def extra_repr(self) -> str:
        return ", ".join(str(s) for s in self.point_shape)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    # reductions over the point dimensions -------------------------------------------------

    def _point_dims(self) -> tuple[int, ...]:
        return tuple(range(-self.ndim, 0))

    def _sum(self, t: Tensor, keepdim: bool = False) -> Tensor:
        if self.ndim == 0:
            return t
        return t.sum(dim=self._point_dims(), keepdim=keepdim)

    # interface ----------------------------------------------------------------------------

    def projx(self, x: Tensor) -> Tensor:
        """Closest point on the manifold (or a cheap projection onto it)."""
        raise NotImplementedError

    def proju(self, x: Tensor, u: Tensor) -> Tensor:
        """Orthogonal projection of an ambient vector ``u`` onto ``T_x M``."""
        raise NotImplementedError

    def egrad2rgrad(self, x: Tensor, g: Tensor) -> Tensor:
        """Riemannian gradient ``grad f(x)`` from the Euclidean gradient ``g``: the
        tangent vector with ``<grad f, v>_x = <g, v>_F`` for every ``v`` in ``T_x M``."""
        return self.proju(x, g)

    def inner(self, x: Tensor, u: Tensor, v: Tensor | None = None, keepdim: bool = False) -> Tensor:
        """Riemannian metric ``<u, v>_x``; ``v = u`` when omitted.  Shape ``(...)``."""
        raise NotImplementedError

    def component_inner(self, x: Tensor, u: Tensor, v: Tensor | None = None) -> Tensor:
        """``inner(..., keepdim=True)``; per factor for products (used for Adam's adaptivity)."""
        return self.inner(x, u, v, keepdim=True)

    def norm(self, x: Tensor, u: Tensor, keepdim: bool = False) -> Tensor:
        """``||u||_x = sqrt(<u, u>_x)``."""
        return self.inner(x, u, keepdim=keepdim).clamp_min(0).sqrt()

    def retr(self, x: Tensor, u: Tensor) -> Tensor:
        """A retraction ``R_x(u)``: first-order agreement with ``expmap``."""
        return self.expmap(x, u)

    def expmap(self, x: Tensor, u: Tensor) -> Tensor:
        """Riemannian exponential ``exp_x(u)``."""
        raise NotImplementedError

    def logmap(self, x: Tensor, y: Tensor) -> Tensor:
        """Riemannian logarithm ``log_x(y)``, the inverse of ``expmap`` within the injectivity radius."""
        raise NotImplementedError

    def transp(self, x: Tensor, y: Tensor, v: Tensor) -> Tensor:
        """Transport of ``v`` in ``T_x M`` to ``T_y M`` (parallel when ``parallel_transport``)."""
        return self.proju(y, v)

    def retr_transp(self, x: Tensor, u: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """``y = retr(x, u)`` and ``transp(x, y, v)`` (what the optimizers need)."""
        y = self.retr(x, u)
        return y, self.transp(x, y, v)

    def dist(self, x: Tensor, y: Tensor, keepdim: bool = False) -> Tensor:
        """Geodesic distance ``d(x, y) = ||log_x(y)||_x``."""
        return self.norm(x, self.logmap(x, y), keepdim=keepdim)

    def random(self, *batch, dtype=None, device=None, generator=None) -> Tensor:
        """Random points of shape ``(*batch, *point_shape)``."""
        raise NotImplementedError

    def origin(self, *batch, dtype=None, device=None) -> Tensor:
        """A reference point (identity, north pole, ...) of shape ``(*batch, *point_shape)``."""
        raise NotImplementedError

    def random_tangent(self, x: Tensor, generator=None) -> Tensor:
        """A standard normal ambient vector projected onto ``T_x M``."""
        g = torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        return self.proju(x, g)

    # helpers for subclasses ---------------------------------------------------------------

    def _randn(self, batch, dtype, device, generator, shape=None) -> Tensor:
        shape = _batch_shape(batch) + (self.point_shape if shape is None else tuple(shape))
        dtype = torch.get_default_dtype() if dtype is None else dtype
        return torch.randn(shape, dtype=dtype, device=device, generator=generator)

    def _full_shape(self, batch) -> tuple[int, ...]:
        return _batch_shape(batch) + self.point_shape

    # checks -------------------------------------------------------------------------------

    def _check_shape(self, x: Tensor, name: str) -> tuple[bool, str | None]:
        if not isinstance(x, Tensor):
            return False, f"`{name}` must be a torch.Tensor, got {type(x).__name__}"
        if not (x.is_floating_point() or x.is_complex()):
            return False, f"`{name}` must have a floating dtype, got {x.dtype}"
        if x.dim() < self.ndim or tuple(x.shape[x.dim() - self.ndim :]) != self.point_shape:
            return False, (
                f"`{name}` has shape {tuple(x.shape)}, expected (..., "
                f"{', '.join(map(str, self.point_shape))}) for {self!r}"
            )
        if not bool(torch.isfinite(x).all()):
            return False, f"`{name}` has NaN or infinite entries"
        return True, None

    def _tol(self, x: Tensor, atol: float | None, rtol: float | None) -> tuple[float, float]:
        da, dr = default_tolerance(x.dtype)
        return (da if atol is None else atol), (dr if rtol is None else rtol)

    def check_point(self, x: Tensor, atol: float | None = None, rtol: float | None = None) -> tuple[bool, str | None]:
        """``(True, None)`` if every ``x`` in the batch is on the manifold, else ``(False, reason)``."""
        ok, reason = self._check_shape(x, "x")
        if not ok:
            return ok, reason
        return self._check_point(x, *self._tol(x, atol, rtol))

    def check_vector(
        self, x: Tensor, u: Tensor, atol: float | None = None, rtol: float | None = None
    ) -> tuple[bool, str | None]:
        """``(True, None)`` if ``u`` lies in ``T_x M`` (``x`` is assumed on the manifold)."""
        for t, name in ((x, "x"), (u, "u")):
            ok, reason = self._check_shape(t, name)
            if not ok:
                return ok, reason
        return self._check_vector(x, u, *self._tol(u, atol, rtol))

    def assert_check_point(self, x: Tensor, atol: float | None = None, rtol: float | None = None) -> None:
        """Raise ``ValueError`` with the reason if ``x`` is not on the manifold."""
        ok, reason = self.check_point(x, atol, rtol)
        if not ok:
            raise ValueError(f"{self!r}: point check failed: {reason}")

    def assert_check_vector(
        self, x: Tensor, u: Tensor, atol: float | None = None, rtol: float | None = None
    ) -> None:
        """Raise ``ValueError`` with the reason if ``u`` is not tangent at ``x``."""
        ok, reason = self.check_vector(x, u, atol, rtol)
        if not ok:
            raise ValueError(f"{self!r}: tangent vector check failed: {reason}")

    def _check_point(self, x: Tensor, atol: float, rtol: float) -> tuple[bool, str | None]:
        return True, None

    def _check_vector(self, x: Tensor, u: Tensor, atol: float, rtol: float) -> tuple[bool, str | None]:
        return True, None


def _allclose_reason(a: Tensor, b: Tensor, atol: float, rtol: float, what: str) -> tuple[bool, str | None]:
    """``(ok, reason)`` for ``|a - b| <= atol + rtol |b|`` elementwise, naming the worst error."""
    err = (a - b).abs()
    bound = atol + rtol * b.abs()
    if bool((err <= bound).all()):
        return True, None
    worst = float(err.max())
    return False, f"{what} (max abs error {worst:.3g}, atol={atol:g}, rtol={rtol:g})"


def _sqrt_eps(dtype: torch.dtype) -> float:
    return math.sqrt(torch.finfo(dtype).eps)
