"""Irreducible representations of O(3) and the ``Irreps`` mini-language.

An irrep of O(3) = SO(3) x {+1, -1} is labelled by its degree ``l >= 0`` and its
parity ``p = +1`` ("e", even) or ``p = -1`` ("o", odd); it has dimension ``2l + 1``.
A feature vector is a direct sum of irreps with multiplicities, written as in e3nn:
``Irreps("8x0e + 4x1o + 2x2e")`` is 8 scalars, 4 vectors and 2 even rank-2 tensors,
laid out one block after the other, each block ``(mul, 2l + 1)`` flattened row-major
(channel-major), so a ``4x1o`` block is ``[u0_m-1, u0_m0, u0_m1, u1_m-1, ...]``.
"""

from __future__ import annotations

import re
from typing import Iterable, Iterator, NamedTuple, Union

import torch

__all__ = ["Irrep", "MulIr", "Irreps"]

_IRREP_RE = re.compile(r"^(\d+)([eoy])$")
_MULIR_RE = re.compile(r"^(?:(\d+)\s*x\s*)?(\d+[eoy])$")


class _LP(NamedTuple):
    l: int
    p: int


class Irrep(_LP):
    """One irrep ``(l, p)`` of O(3); ``Irrep("1o")``, ``Irrep(2, 1)``, ``Irrep("3y")``.

    ``"y"`` means the parity of the spherical harmonics, ``p = (-1)^l``.
    """

    __slots__ = ()

    def __new__(cls, l, p=None):
        if p is None:
            return cls.parse(l)
        l, p = int(l), int(p)
        if l < 0 or p not in (1, -1):
            raise ValueError(f"irrep needs l >= 0 and p in (+1, -1), got l={l}, p={p}")
        return super().__new__(cls, l, p)

    @classmethod
    def parse(cls, ir: Union["Irrep", str, tuple]) -> "Irrep":
        if isinstance(ir, Irrep):
            return ir
        if isinstance(ir, str):
            m = _IRREP_RE.match(ir.strip())
            if m is None:
                raise ValueError(
                    f"cannot parse irrep {ir!r}: expected '<l><parity>' with parity e (even), "
                    "o (odd) or y (spherical-harmonic parity), e.g. '0e', '1o', '2y'"
                )
            l = int(m.group(1))
            p = {"e": 1, "o": -1, "y": (-1) ** l}[m.group(2)]
            return cls(l, p)
        if isinstance(ir, tuple) and len(ir) == 2:
            return cls(ir[0], ir[1])
        raise TypeError(f"cannot interpret {ir!r} as an irrep; use a string like '1o' or a tuple (l, p)")

    @property
    def dim(self) -> int:
        return 2 * self.l + 1

    def __repr__(self) -> str:
        return f"{self.l}{'e' if self.p == 1 else 'o'}"

    __str__ = __repr__

    def __mul__(self, other: "Irrep") -> Iterator["Irrep"]:
        """Irreps in the tensor product: ``|l1 - l2| <= l <= l1 + l2``, parity ``p1 p2``."""
        other = Irrep.parse(other)
        p = self.p * other.p
        for l in range(abs(self.l - other.l), self.l + other.l + 1):
            yield Irrep(l, p)


class MulIr(NamedTuple):
    """``mul`` copies of one irrep."""

    mul: int
    ir: Irrep

    @property
    def dim(self) -> int:
        return self.mul * self.ir.dim

    def __repr__(self) -> str:
        return f"{self.mul}x{self.ir}"


IrrepsLike = Union["Irreps", str, Irrep, Iterable]


class Irreps(tuple):
    """Direct sum of irreps: parses, prints, slices and counts.

    >>> irreps = Irreps("8x0e + 4x1o + 2x2e")
    >>> irreps.dim, irreps.num_irreps, irreps.lmax
    (30, 14, 2)
    >>> irreps[1:], irreps.slices()[1]
    (4x1o+2x2e, slice(8, 20, None))
    """

    def __new__(cls, irreps: IrrepsLike = ()) -> "Irreps":
        if isinstance(irreps, Irreps):
            return super().__new__(cls, irreps)
        if isinstance(irreps, Irrep):
            return super().__new__(cls, [MulIr(1, irreps)])
        if isinstance(irreps, str):
            return super().__new__(cls, _parse(irreps))
        out = []
        for item in irreps:
            if isinstance(item, MulIr):
                out.append(item)
            elif isinstance(item, (str, Irrep)):
                out.append(MulIr(1, Irrep.parse(item)))
            elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], int) and not isinstance(
                item[1], int
            ):
                mul, ir = item
                if mul < 0:
                    raise ValueError(f"multiplicity must be >= 0, got {mul} in {item!r}")
                out.append(MulIr(mul, Irrep.parse(ir)))
            elif isinstance(item, tuple) and len(item) == 2:
                out.append(MulIr(1, Irrep.parse(item)))
            else:
                raise TypeError(f"cannot interpret {item!r} as '(mul, irrep)'; e.g. (4, '1o') or (4, (1, -1))")
        return super().__new__(cls, out)

    @staticmethod
    def spherical_harmonics(lmax: int, p: int = -1) -> "Irreps":
        """``1x0e + 1x1o + ... + 1xlmax`` with parity ``p^l`` (``p=-1``: true spherical harmonics)."""
        return Irreps([(1, (l, p**l)) for l in range(lmax + 1)])

    @property
    def dim(self) -> int:
        return sum(mi.dim for mi in self)

    @property
    def num_irreps(self) -> int:
        return sum(mi.mul for mi in self)

    @property
    def ls(self) -> list:
        """Degree of every copy, e.g. ``[0, 0, 1]`` for ``2x0e+1x1o``."""
        return [mi.ir.l for mi in self for _ in range(mi.mul)]

    @property
    def lmax(self) -> int:
        if len(self) == 0:
            raise ValueError("empty Irreps has no lmax")
        return max(mi.ir.l for mi in self)

    def slices(self) -> list:
        """Slice of each block in the flat feature vector."""
        out, start = [], 0
        for mi in self:
            out.append(slice(start, start + mi.dim))
            start += mi.dim
        return out

    def count(self, ir) -> int:
        """Total multiplicity of ``ir`` (an irrep); ``tuple.count`` is not meaningful here."""
        ir = Irrep.parse(ir)
        return sum(mi.mul for mi in self if mi.ir == ir)

    def __contains__(self, ir) -> bool:
        ir = Irrep.parse(ir)
        return any(mi.ir == ir for mi in self)

    def __getitem__(self, i):
        out = super().__getitem__(i)
        return Irreps(out) if isinstance(i, slice) else out

    def __add__(self, other: IrrepsLike) -> "Irreps":
        return Irreps(tuple(self) + tuple(Irreps(other)))

    def __radd__(self, other: IrrepsLike) -> "Irreps":
        return Irreps(other) + self

    def __mul__(self, n: int) -> "Irreps":
        if not isinstance(n, int):
            raise TypeError("Irreps * n repeats the irreps n times; for tensor products use Irrep * Irrep")
        return Irreps(tuple(self) * n)

    def __eq__(self, other) -> bool:
        try:
            other = Irreps(other)
        except (TypeError, ValueError):
            return False
        return tuple(self) == tuple(other)

    def __ne__(self, other) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return "+".join(repr(mi) for mi in self)

    __str__ = __repr__

    def simplify(self) -> "Irreps":
        """Merge consecutive blocks of the same irrep and drop zero multiplicities (layout unchanged)."""
        out = []
        for mul, ir in self:
            if mul == 0:
                continue
            if out and out[-1].ir == ir:
                out[-1] = MulIr(out[-1].mul + mul, ir)
            else:
                out.append(MulIr(mul, ir))
        return Irreps(out)

    def sort(self):
        """Blocks sorted by ``(l, p)`` (0o, 0e, 1o, 1e, ...), stably, as e3nn.

        Returns ``(irreps, perm, inv)``: block ``i`` moves to position ``perm[i]``; ``inv`` undoes it.
        """
        order = sorted(range(len(self)), key=lambda i: (self[i].ir, i))
        inv = tuple(order)
        perm = [0] * len(order)
        for new, old in enumerate(order):
            perm[old] = new
        return Irreps([self[i] for i in order]), tuple(perm), inv

    def regroup(self) -> "Irreps":
        """Sorted and simplified."""
        return self.sort()[0].simplify()

    def check_features(self, x: torch.Tensor, name: str = "input") -> None:
        """Raise a ``ValueError`` that says how to fix it when ``x.shape[-1] != self.dim``."""
        if x.shape[-1] != self.dim:
            raise ValueError(
                f"{name} has last dimension {x.shape[-1]} but irreps {self} have dim {self.dim}; "
                f"pass a tensor of shape (..., {self.dim})"
            )


def _parse(text: str) -> list:
    text = text.strip()
    if text == "":
        return []
    out = []
    for term in text.split("+"):
        term = term.strip()
        m = _MULIR_RE.match(term.replace(" ", ""))
        if m is None:
            raise ValueError(
                f"cannot parse {term!r} in irreps {text!r}: each term must look like '<mul>x<l><parity>' "
                "with parity e, o or y, e.g. '8x0e + 4x1o + 2x2e'"
            )
        mul = int(m.group(1)) if m.group(1) is not None else 1
        out.append(MulIr(mul, Irrep.parse(m.group(2))))
    return out
