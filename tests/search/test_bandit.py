"""The start bandit moves the budget to the source that improves, and keeps a floor for the others."""

import pytest
import torch

from extremo.search.bandit import StartBandit


def _simulate(rates: dict[str, float], rounds: int = 60, n: int = 20, seed: int = 0) -> dict[str, int]:
    bandit = StartBandit(tuple(rates), floor=0.1)
    gen = torch.Generator().manual_seed(seed)
    total = dict.fromkeys(rates, 0)
    for r in range(rounds):
        counts = bandit.allocate(n, gen)
        assert sum(counts.values()) == n
        for name, c in counts.items():
            hits = int(torch.binomial(torch.tensor(float(c)), torch.tensor(rates[name]), generator=gen))
            bandit.update(name, c, hits)
            if r >= rounds // 2:
                total[name] += c
        bandit.decay()
    return total


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_budget_moves_to_the_source_that_improves(seed):
    total = _simulate({"random": 0.02, "generator": 0.3}, seed=seed)
    assert total["generator"] > 0.7 * sum(total.values())
    total = _simulate({"random": 0.3, "generator": 0.0}, seed=seed)
    # a generator that never helps keeps only about its floor share
    assert total["generator"] <= 0.15 * sum(total.values())
    assert total["generator"] >= 0.1 * sum(total.values())


def test_rates_and_bad_arguments():
    b = StartBandit(("a", "b"))
    b.update("a", 10, 9)
    assert b.rates()["a"] > b.rates()["b"]
    with pytest.raises(ValueError, match="distinct"):
        StartBandit(("a", "a"))
    with pytest.raises(ValueError, match="floor"):
        StartBandit(("a", "b"), floor=0.6)
    with pytest.raises(ValueError, match="successes"):
        b.update("b", 1, 2)
