r"""Gate nonlinearity (Weiler et al., NeurIPS 2018; e3nn's ``Gate``).

Input ``scalars + gates + gated``, output ``scalars' + gated'``:

$$
s' = \sigma_s(s), \qquad v'_k = \sigma_g(g_k)\, v_k ,
$$

one even scalar gate ``g_k`` per gated irrep ``v_k`` (any ``l``, any parity). Scalars are even, so
any activation keeps the output equivariant; the norms of ``v_k`` are rescaled by an invariant,
so the directions transform as before.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .irreps import Irrep, Irreps

__all__ = ["Gate"]


class Gate(nn.Module):
    """``Gate(irreps_scalars, irreps_gated)``: input ``irreps_scalars + n x 0e + irreps_gated``.

    ``n = irreps_gated.num_irreps`` gates, one per gated irrep in order. Activations default to
    SiLU on the scalars and the sigmoid on the gates. ``irreps_in`` and ``irreps_out`` say the layout.
    """

    def __init__(
        self,
        irreps_scalars,
        irreps_gated,
        act_scalars: Callable = torch.nn.functional.silu,
        act_gates: Callable = torch.sigmoid,
    ):
        super().__init__()
        self.irreps_scalars, self.irreps_gated = Irreps(irreps_scalars), Irreps(irreps_gated)
        bad = [ir for _, ir in self.irreps_scalars if ir != Irrep(0, 1)]
        if bad:
            raise ValueError(
                f"irreps_scalars = {self.irreps_scalars} must hold only even scalars '0e' (got {bad[0]}); "
                "an odd scalar would need an odd activation, gate it instead"
            )
        self.num_gates = self.irreps_gated.num_irreps
        self.irreps_gates = Irreps(f"{self.num_gates}x0e") if self.num_gates else Irreps()
        self.irreps_in = self.irreps_scalars + self.irreps_gates + self.irreps_gated
        self.irreps_out = self.irreps_scalars + self.irreps_gated
        self.act_scalars, self.act_gates = act_scalars, act_gates
        # which gate multiplies each component of the gated part
        index = [k for k, l in enumerate(self.irreps_gated.ls) for _ in range(2 * l + 1)]
        self.register_buffer("gate_index", torch.tensor(index, dtype=torch.long), persistent=False)

    def __repr__(self) -> str:
        return f"Gate({self.irreps_in} -> {self.irreps_out})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.irreps_in.check_features(x)
        n_s, n_g = self.irreps_scalars.dim, self.num_gates
        s, g, v = x[..., :n_s], x[..., n_s : n_s + n_g], x[..., n_s + n_g :]
        return torch.cat([self.act_scalars(s), self.act_gates(g)[..., self.gate_index] * v], dim=-1)
