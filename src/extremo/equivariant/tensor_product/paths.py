"""Paths of a Clebsch-Gordan tensor product: which blocks couple, their weight shapes and their
normalisation (e3nn's conventions).

A path ``(i1, i2, io)`` couples block ``i1`` of the first input (``mul1 x l1``) and block ``i2`` of
the second (``mul2 x l2``) into block ``io`` of the output (``mul_out x l3``); it is allowed when
``l3`` is in ``|l1 - l2|..l1 + l2`` with parity ``p1 p2`` and the multiplicities fit the mode.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..irreps import Irreps

__all__ = ["MODES", "Path", "all_paths", "normalised_paths", "weight_shape"]

#: ``"uvw"`` fully connected, ``"uvu"`` channel-wise over the first input, ``"uuu"`` element-wise
MODES = ("uvw", "uvu", "uuu")


class Path(NamedTuple):
    """One coupling ``i1 (x) i2 -> io`` (indices of blocks) with its normalisation factor."""

    i1: int
    i2: int
    io: int
    alpha: float


def _compatible(mode: str, mul1: int, mul2: int, mul_out: int) -> bool:
    if mode == "uvw":
        return True
    if mode == "uvu":
        return mul_out == mul1
    return mul1 == mul2 == mul_out


def all_paths(irreps_in1, irreps_in2, irreps_out, mode: str = "uvw") -> list:
    """Every ``(i1, i2, io)`` allowed by the selection rules (triangle, parity) and the mode."""
    irreps_in1, irreps_in2, irreps_out = Irreps(irreps_in1), Irreps(irreps_in2), Irreps(irreps_out)
    out = []
    for i1, (mul1, ir1) in enumerate(irreps_in1):
        for i2, (mul2, ir2) in enumerate(irreps_in2):
            for io, (mul_out, ir_out) in enumerate(irreps_out):
                if ir_out in list(ir1 * ir2) and _compatible(mode, mul1, mul2, mul_out):
                    out.append((i1, i2, io))
    return out


def weight_shape(irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, mode: str, p: Path) -> tuple:
    """Weights of path ``p``: ``(mul1, mul2, mul_out)`` (uvw), ``(mul1, mul2)`` (uvu), ``(mul1,)`` (uuu)."""
    mul1, mul2, mul_out = irreps_in1[p.i1].mul, irreps_in2[p.i2].mul, irreps_out[p.io].mul
    return {"uvw": (mul1, mul2, mul_out), "uvu": (mul1, mul2), "uuu": (mul1,)}[mode]


def normalised_paths(irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, mode: str, triples: list,
                     irrep_normalization: str, path_normalization: str) -> list:
    r"""Check the triples ``(i1, i2, io)`` and give each its factor
    $\alpha = \sqrt{a / \mathrm{fan}}$ (e3nn): ``a = 2 l_3 + 1`` ("component"),
    ``(2 l_1 + 1)(2 l_2 + 1)`` ("norm") or 1 ("none"); ``fan`` the fan-in of the output block over
    all its paths ("element") or the path's own fan-in times their number ("path"), so that
    unit-variance inputs and weights give unit-variance outputs. Raises ``ValueError`` naming the
    path that does not exist, breaks a selection rule or does not fit the mode."""
    for t in triples:
        if len(t) != 3:
            raise ValueError(f"a path is (i1, i2, io), got {t!r}")
        i1, i2, io = t
        if not (0 <= i1 < len(irreps_in1) and 0 <= i2 < len(irreps_in2) and 0 <= io < len(irreps_out)):
            raise ValueError(
                f"path {t} indexes a block that does not exist in {irreps_in1} / {irreps_in2} / "
                f"{irreps_out} (blocks are numbered from 0)"
            )
        (mul1, ir1), (mul2, ir2), (mul_out, ir_out) = irreps_in1[i1], irreps_in2[i2], irreps_out[io]
        if ir_out not in list(ir1 * ir2):
            raise ValueError(f"path {t}: {ir_out} is not in {ir1} x {ir2} (triangle or parity rule)")
        if not _compatible(mode, mul1, mul2, mul_out):
            raise ValueError(
                f"path {t}: multiplicities {mul1}, {mul2} -> {mul_out} do not fit mode {mode!r} "
                "('uvu' needs mul_out == mul1, 'uuu' needs all equal)"
            )

    def fan_in(t) -> int:
        mul1, mul2 = irreps_in1[t[0]].mul, irreps_in2[t[1]].mul
        return {"uvw": mul1 * mul2, "uvu": mul2, "uuu": 1}[mode]

    out = []
    for t in triples:
        i1, i2, io = t
        ir1, ir2, ir_out = irreps_in1[i1].ir, irreps_in2[i2].ir, irreps_out[io].ir
        alpha = {"component": ir_out.dim, "norm": ir1.dim * ir2.dim, "none": 1}[irrep_normalization]
        same_out = [s for s in triples if s[2] == io]
        if path_normalization == "element":
            fan = sum(fan_in(s) for s in same_out)
        else:
            fan = fan_in(t) * len(same_out)
        out.append(Path(i1, i2, io, math.sqrt(alpha / fan) if fan > 0 else 0.0))
    return out
