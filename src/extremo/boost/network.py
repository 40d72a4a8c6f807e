"""The generator's velocity field: a permutation-equivariant set transformer, D4-symmetrised.

For a set ``X = (x_1, ..., x_n)`` of objects (rows of ``f`` features) at flow time ``t``,

    h_i^0 = MLP([x_i, tau(t), c]),   h^{l+1} = h^l + MHA(LN h^l),  h^{l+1} += MLP(LN h^{l+1}),
    v_i   = W h_i^L,

with multi-head self-attention without positional encoding (Lee et al. 2019, "Set
Transformer"), so ``v(P X) = P v(X)`` for every permutation ``P``. ``tau(t)`` is a fixed sinusoidal
embedding ``(sin(2^k pi t), cos(2^k pi t))`` (no random Fourier features: nothing to re-draw on a
checkpoint load), ``c`` an embedding of the instance: the problem (a learned vector per problem
name), ``log n`` and the dimension, so one model serves several ``n``.

On the unit square the field is made exactly equivariant to the 8 symmetries ``g`` of D4 by
frame averaging (Puny et al. 2022): ``v(X) = 1/8 sum_g g^{-1} v_0(g X)`` on the position features,
the remaining features (radii) averaged as invariants. Cost: 8 forward passes, batched as one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from extremo.boost.symmetry import act, d4_matrices


@dataclass
class NetworkConfig:
    """Architecture of `VelocityNet` (saved with checkpoints)."""

    features: int
    problems: tuple[str, ...]
    square: bool = False
    width: int = 64
    layers: int = 2
    heads: int = 4
    frequencies: int = 8

    def as_dict(self) -> dict:
        return {**asdict(self), "problems": list(self.problems)}


def time_embedding(t: Tensor, frequencies: int) -> Tensor:
    """``(batch, 2 K)`` features ``sin(2^k pi t), cos(2^k pi t)``, ``k < K``."""
    scales = math.pi * 2.0 ** torch.arange(frequencies, dtype=t.dtype, device=t.device)
    angles = t[:, None] * scales
    return torch.cat([angles.sin(), angles.cos()], -1)


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.SiLU(), nn.Linear(2 * width, width))

    def forward(self, h: Tensor) -> Tensor:
        a = self.norm1(h)
        h = h + self.attn(a, a, a, need_weights=False)[0]
        return h + self.mlp(self.norm2(h))


class VelocityNet(nn.Module):
    """``v_theta(X, t | problem, n)``: ``(batch, n, f)``, ``(batch,)`` -> ``(batch, n, f)``."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        if config.square and config.features < 2:
            raise ValueError("a D4-equivariant field needs at least two position features")
        self.config = config
        w = config.width
        self.problem_embedding = nn.Embedding(len(config.problems), w)
        self.instance = nn.Linear(2, w)
        self.encode = nn.Sequential(nn.Linear(config.features + 2 * config.frequencies, w), nn.SiLU(),
                                    nn.Linear(w, w))
        self.blocks = nn.ModuleList(_Block(w, config.heads) for _ in range(config.layers))
        self.norm = nn.LayerNorm(w)
        self.head = nn.Linear(w, config.features)
        self.register_buffer("group", d4_matrices(torch.float32), persistent=False)

    def problem_index(self, name: str) -> int:
        try:
            return self.config.problems.index(name)
        except ValueError:
            raise ValueError(f"this generator was trained for {', '.join(self.config.problems)}, not {name}") from None

    def _field(self, x: Tensor, t: Tensor, problem: int) -> Tensor:
        batch, n, _ = x.shape
        c = self.problem_embedding.weight[problem] + self.instance(
            x.new_tensor([math.log(n), self.config.features / 4.0]))
        tau = time_embedding(t, self.config.frequencies)
        h = self.encode(torch.cat([x, tau[:, None, :].expand(batch, n, -1)], -1)) + c
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h))

    def forward(self, x: Tensor, t: Tensor, problem: int = 0) -> Tensor:
        if not self.config.square:
            return self._field(x, t, problem)
        g = self.group.to(x)
        images = act(x, g)  # (8, batch, n, f)
        out = self._field(images.flatten(0, 1), t.repeat(len(g)), problem).unflatten(0, (len(g), x.shape[0]))
        # g^{-1} = g^T on row vectors: v @ g
        xy = (out[..., :2] @ g[:, None]).mean(0)
        return torch.cat([xy, out[..., 2:].mean(0)], -1)
