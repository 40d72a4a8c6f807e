r"""Clebsch-Gordan tensor products of irreps features with learnable path weights.

A path ``(i1, i2, io)`` couples block ``i1`` of the first input (``mul1 x l1``) and block ``i2`` of
the second (``mul2 x l2``) into block ``io`` of the output (``mul_out x l3``) by

$$
z^{(io)}_{w k} \mathrel{+}= \alpha_{path} \sum_{uv} W_{uvw}
\sum_{ij} C^{l_1 l_2 l_3}_{ijk}\, x_{u i}\, y_{v j}
$$

with the real Clebsch-Gordan tensor ``C`` of `.clebsch_gordan`. Modes (as e3nn):

* ``"uvw"`` fully connected, weights ``(mul1, mul2, mul_out)`` per path;
* ``"uvu"`` channel-wise, ``z_u = sum_v W_uv x_u (x) y_v``, weights ``(mul1, mul2)``, ``mul_out = mul1``;
  with ``mul2 = 1`` this is the convolution of features with edge harmonics;
* ``"uuu"`` element-wise, ``z_u = W_u x_u (x) y_u``, weights ``(mul1,)``, all multiplicities equal.

Normalisation follows e3nn (``irrep_normalization``, ``path_normalization``) so that unit-variance
inputs and weights give unit-variance outputs; the weights are laid out path after path, each
flattened as above, so parameters can be exchanged with ``e3nn.o3.TensorProduct``.

Execution: paths sharing ``(i1, i2)`` form a group whose Clebsch-Gordan tensors are stacked into
one matrix, built once (float64, cast once per dtype). Every mode runs group by group
(`.pathwise`); ``"uuu"`` with one multiplicity everywhere is fused, either as one dense GEMM
over channels (`.channelwise_dense`) or one GEMM per group with a hand-written backward
(`.channelwise_grouped`), whichever a CPU cost model (`.cost_model`) predicts faster.
The module itself is in `.product`.
"""

from .paths import Path, all_paths
from .product import ClebschGordanTensorProduct, FullyConnectedTensorProduct

__all__ = ["Path", "ClebschGordanTensorProduct", "FullyConnectedTensorProduct", "all_paths"]
