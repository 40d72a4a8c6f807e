"""Cross-instance training data: neighbouring instances, their stored bests, one field for all."""

import numpy as np
import torch

from extremo.boost.network import NetworkConfig, VelocityNet
from extremo.boost.training import fit_across
from extremo.boost.transfer import stored_elites, transfer_groups
from extremo.problems import make
from extremo.store import Store


def _store_random_runs(store, problem, k, seed):
    rng = np.random.default_rng(seed)
    values = []
    for i in range(k):
        x = problem.repair(problem.project(problem.random(1, torch.Generator().manual_seed(seed + i)))[0].numpy())
        verdict = problem.verify(problem.to_config(x))
        run = store.start_run(problem.name, problem.instance, problem.label, int(rng.integers(100)), {})
        store.update_best(run, verdict.value, {f: v.tolist() for f, v in problem.to_config(x).items()}, 1.0, 1)
        store.finish(run, "finished", 1.0, 1)
        values.append(verdict.value)
    return values


def test_stored_elites_are_verified_distinct_and_best_first(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    p = make("circles-sum-radii", n=6)
    values = _store_random_runs(store, p, 5, seed=0)
    xs = stored_elites(p, store, per_instance=3)
    assert xs.shape == (3, p.dim)
    got = [p.verify(p.to_config(x)).value for x in xs]
    assert got == sorted(values, reverse=True)[:3]
    assert stored_elites(make("circles-sum-radii", n=9), store).shape == (0, p.dim + 3 * 3)


def test_one_field_trains_across_neighbouring_instances(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    target = make("circles-sum-radii", n=7)
    for n in (5, 6, 8):
        _store_random_runs(store, make("circles-sum-radii", n=n), 2, seed=n)
    groups = transfer_groups(target, store, radius=3)
    assert sorted(view.n for view, _, _ in groups) == [5, 6, 8]
    net = VelocityNet(NetworkConfig(3, ("circles-sum-radii",), square=True, width=16, layers=1))
    before = [p.detach().clone() for p in net.parameters()]
    loss = fit_across(net, groups, torch.optim.Adam(net.parameters(), 1e-3), torch.Generator().manual_seed(0),
                      steps=6, batch=4)
    assert np.isfinite(loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    # the trained field is still permutation-equivariant on an instance it never saw
    x = torch.rand(2, 7, 3)
    perm = torch.randperm(7)
    t = torch.full((2,), 0.3)
    assert torch.allclose(net(x, t)[:, perm], net(x[:, perm], t), atol=1e-5)
