r"""Equivariant linear layer: mix the channels of equal irreps, never the components.

For every output block ``mul_out x ir`` and the input blocks with the same irrep ``ir``
(``mul_in`` channels in total),

$$
z_{w, m} = \frac{1}{\sqrt{\mathrm{mul}_{in}}} \sum_u W_{uw}\, x_{u, m} \; (+\, b_w \text{ if } ir = 0e),
$$

which commutes with every ``D(Q)`` (Schur's lemma: the only equivariant maps between copies of an
irrep are multiples of the identity). Unit-variance inputs and weights give unit-variance outputs.
Output blocks whose irrep does not occur in the input are zero. Cost ``O(B mul_in mul_out dim)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .irreps import Irrep, Irreps

__all__ = ["Linear"]


class Linear(nn.Module):
    """Equivariant linear map ``(..., irreps_in.dim) -> (..., irreps_out.dim)`` (see module doc).

    ``bias=True`` adds a learnable bias to the ``0e`` outputs (the only irrep a constant may have).
    """

    def __init__(self, irreps_in, irreps_out, bias: bool = False):
        super().__init__()
        self.irreps_in, self.irreps_out = Irreps(irreps_in), Irreps(irreps_out)
        slices_in = self.irreps_in.slices()
        self._plan = []
        self.weights = nn.ParameterList()
        for mul_out, ir in self.irreps_out:
            sources = [(sl, mul) for (mul, ir_in), sl in zip(self.irreps_in, slices_in) if ir_in == ir and mul > 0]
            mul_in = sum(mul for _, mul in sources)
            if mul_in == 0 or mul_out == 0:
                self._plan.append(None)
                continue
            self._plan.append((len(self.weights), [sl for sl, _ in sources], mul_in))
            self.weights.append(nn.Parameter(torch.randn(mul_in, mul_out)))
        n_scalar = self.irreps_out.count(Irrep(0, 1))
        self.bias = nn.Parameter(torch.zeros(n_scalar)) if bias and n_scalar > 0 else None

    def __repr__(self) -> str:
        return f"Linear({self.irreps_in} -> {self.irreps_out}, bias={self.bias is not None})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.irreps_in.check_features(x)
        lead = x.shape[:-1]
        parts, bias_at = [], 0
        for (mul_out, ir), plan in zip(self.irreps_out, self._plan):
            if plan is None:
                z = x.new_zeros(lead + (mul_out, ir.dim))
            else:
                k, slices, mul_in = plan
                xs = torch.cat([x[..., sl].reshape(lead + (-1, ir.dim)) for sl in slices], dim=-2)
                w = self.weights[k].to(x.dtype) / math.sqrt(mul_in)
                z = torch.einsum("...um,uw->...wm", xs, w)
            if ir == Irrep(0, 1) and self.bias is not None:
                z = z + self.bias[bias_at : bias_at + mul_out].to(x.dtype)[:, None]
            if ir == Irrep(0, 1):
                bias_at += mul_out
            parts.append(z.reshape(lead + (mul_out * ir.dim,)))
        return torch.cat(parts, dim=-1) if parts else x.new_zeros(lead + (0,))
