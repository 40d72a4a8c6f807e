"""Sharing a round's fresh starts between sources by their improvement rate (a bandit).

Each source ``s`` (random starts, generator samples, ...) has a Beta posterior on the chance that
one of its starts, relaxed and polished, improves the search (enters the elites):
``p_s ~ Beta(1 + S_s, 1 + F_s)``, with successes ``S`` and failures ``F`` discounted by ``gamma``
every round so that the posterior follows a drifting rate (discounted Thompson sampling, Raj and
Kalyani 2017). A round draws ``p_s`` once per source and gives each start to the source of the
largest draw, after a ``floor`` share that every source keeps (so none is starved forever). A
source that never helps thus costs about ``floor`` of the starts.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class StartBandit:
    """Discounted Thompson sampling over named start sources (see the module docstring)."""

    def __init__(self, sources: tuple[str, ...], floor: float = 0.1, discount: float = 0.95) -> None:
        if not sources or len(set(sources)) != len(sources):
            raise ValueError(f"sources must be distinct names, got {sources!r}")
        if not 0 <= floor * len(sources) <= 1:
            raise ValueError(f"floor must be in [0, 1/len(sources)], got {floor}")
        if not 0 < discount <= 1:
            raise ValueError(f"discount must be in (0, 1], got {discount}")
        self.sources, self.floor, self.discount = tuple(sources), floor, discount
        self.successes = torch.zeros(len(sources), dtype=torch.float64)
        self.failures = torch.zeros(len(sources), dtype=torch.float64)

    def allocate(self, n: int, generator: torch.Generator) -> dict[str, int]:
        """Split ``n`` starts: ``ceil(floor * n)`` to every source (while ``n`` allows), the rest one
        Thompson draw each."""
        k = len(self.sources)
        base = min(math.ceil(self.floor * n), n // k)
        counts = torch.full((k,), base, dtype=torch.long)
        rest = n - base * k
        if rest > 0:
            # torch's Beta sampler takes no generator: draw with numpy, seeded from the caller's generator
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
            draws = rng.beta(1.0 + self.successes.numpy(), 1.0 + self.failures.numpy(), size=(rest, k))
            counts += torch.bincount(torch.as_tensor(draws.argmax(-1)), minlength=k)
        return dict(zip(self.sources, counts.tolist()))

    def update(self, source: str, trials: int, successes: int) -> None:
        """Add ``successes`` of ``trials`` (starts that entered the elites) to ``source``."""
        i = self.sources.index(source)
        if not 0 <= successes <= trials:
            raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
        self.successes[i] += successes
        self.failures[i] += trials - successes

    def decay(self) -> None:
        """End of a round: forget a share ``1 - discount`` of every count."""
        self.successes *= self.discount
        self.failures *= self.discount

    def rates(self) -> dict[str, float]:
        """Posterior mean improvement rate of every source."""
        mean = (1.0 + self.successes) / (2.0 + self.successes + self.failures)
        return dict(zip(self.sources, mean.tolist()))
