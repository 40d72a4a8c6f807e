"""CPU cost model that picks the execution strategy of the fused element-wise (``"uuu"``) product.

Each strategy's time is modelled as ``per_row * rows + fixed`` (``rows`` = batch x channels): its
GEMM flops, the elements its memory-bound ops move and a fixed overhead per op call. The
constants are for float32 on one CPU thread, calibrated on timings of both strategies
(``L = 1..5``, 4 and 16 channels, batch 64 and 1024); the choice depends only on their ratios.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

__all__ = ["ChannelwiseCost", "FLOP_TIME", "ELEMENT_TIME", "OP_TIME", "DENSE_MAX_NUMEL"]

#: seconds per GEMM flop, per element moved by a memory-bound op, per op call
FLOP_TIME, ELEMENT_TIME, OP_TIME = 3e-11, 1e-9, 8e-6
#: the dense strategy is not considered when its table ``(n_paths, D1 D2 D_out)`` is larger
DENSE_MAX_NUMEL = 1 << 22


class ChannelwiseCost(NamedTuple):
    """``(per_row, fixed)`` seconds of the dense and the grouped strategy, and whether the dense
    table is small enough to be built."""

    dense: tuple[float, float]
    grouped: tuple[float, float]
    dense_allowed: bool

    @classmethod
    def of(cls, d1: int, d2: int, d_out: int, mul: int, n_paths: int,
           group_shapes: Sequence[tuple[int, int, int]]) -> "ChannelwiseCost":
        """Costs of a product with one multiplicity ``mul``, feature dimensions ``d1, d2, d_out`` per
        channel, ``n_paths`` paths and Clebsch-Gordan groups of shapes ``(d1_g, d2_g, sum d3)``.

        Dense: per row one GEMM ``(D1 D2) x D_out`` and the outer product's traffic, fixed the
        weighted map ``sum_k W_ku T_k`` and 8 op calls. Grouped: per row one small GEMM and its
        traffic per group, fixed 3 op calls per group and one per path."""
        dense = (
            FLOP_TIME * 2 * d1 * d2 * d_out + ELEMENT_TIME * (d1 * d2 + d1 + d2 + 2 * d_out),
            FLOP_TIME * 2 * mul * n_paths * d1 * d2 * d_out + OP_TIME * 8,
        )
        grouped = (
            sum(FLOP_TIME * 2 * a * b * c + ELEMENT_TIME * (a * b + 3 * c) for a, b, c in group_shapes),
            OP_TIME * (3 * len(group_shapes) + n_paths),
        )
        return cls(dense, grouped, n_paths * d1 * d2 * d_out <= DENSE_MAX_NUMEL)

    def dense_is_cheaper(self, rows: int) -> bool:
        """Whether one GEMM with the dense ``(D1 D2, D_out)`` map per channel beats one small GEMM
        per ``(l1, l2)`` group plus one accumulation per path, at ``rows`` rows."""
        if not self.dense_allowed:
            return False
        (a_dense, b_dense), (a_grouped, b_grouped) = self.dense, self.grouped
        return a_dense * rows + b_dense < a_grouped * rows + b_grouped
