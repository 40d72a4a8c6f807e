import io
import json
import math
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import extremo.problems as P
from extremo.boost import BoostSettings, boost, find_checkpoint, sample, view_of
from extremo.boost.loop import make_network
from extremo.boost.network import NetworkConfig, VelocityNet
from extremo.boost.symmetry import act, d4_matrices, distance, mean_pairwise_distance
from extremo.boost.training import fit, rank_weights
from extremo.cli import app
from extremo.problems import ProblemError
from extremo.store import Store

TINY = BoostSettings(samples=4, ode_steps=3, polish_top=1, local_seconds=0.3, elites=8, min_elites=1,
                     train_steps=3, pretrain_steps=5, train_batch=4, width=16, layers=1)


def equivariance_error(net, x, t, perm=None, g=None):
    """max |f(T x) - T f(x)| for a permutation of the objects and/or a D4 element on positions."""
    v = net(x, t)

    def transform(y):
        if perm is not None:
            y = y[:, perm]
        if g is not None:
            y = torch.cat([y[..., :2] @ g.T, y[..., 2:]], -1)
        return y

    shifted = transform(x - torch.tensor([0.5, 0.5] + [0.0] * (x.shape[-1] - 2), dtype=x.dtype))
    tx = shifted + torch.tensor([0.5, 0.5] + [0.0] * (x.shape[-1] - 2), dtype=x.dtype)
    return (net(tx, t) - transform(v)).abs().max().item()


@pytest.mark.parametrize("square", [False, True])
def test_network_is_permutation_equivariant(square):
    torch.manual_seed(0)
    net = VelocityNet(NetworkConfig(3, ("circles-sum-radii",), square=square, width=16)).double()
    x, t = torch.rand(3, 9, 3, dtype=torch.float64), torch.rand(3, dtype=torch.float64)
    for _ in range(3):
        assert equivariance_error(net, x, t, perm=torch.randperm(9)) < 1e-12


@pytest.mark.parametrize("k", range(8))
def test_network_is_equivariant_to_the_symmetries_of_the_square(k):
    torch.manual_seed(1)
    net = VelocityNet(NetworkConfig(3, ("circles-sum-radii",), square=True, width=16)).double()
    x, t = torch.rand(2, 6, 3, dtype=torch.float64), torch.rand(2, dtype=torch.float64)
    g = d4_matrices()[k]
    assert equivariance_error(net, x, t, g=g) < 1e-12
    assert equivariance_error(net, x, t, perm=torch.randperm(6), g=g) < 1e-12


def test_network_without_symmetrisation_is_not_d4_equivariant():
    torch.manual_seed(2)
    net = VelocityNet(NetworkConfig(3, ("circles-sum-radii",), square=False, width=16)).double()
    x, t = torch.rand(2, 6, 3, dtype=torch.float64), torch.rand(2, dtype=torch.float64)
    assert equivariance_error(net, x, t, g=d4_matrices()[3]) > 1e-6


def test_one_network_serves_several_n():
    net = VelocityNet(NetworkConfig(2, ("points-min-distance",), square=True, width=16))
    for n in (5, 11):
        assert net(torch.rand(2, n, 2), torch.rand(2)).shape == (2, n, 2)
    with pytest.raises(ValueError, match="trained for points-min-distance"):
        net.problem_index("circles-sum-radii")


@pytest.mark.parametrize("name, inst, prox", [("circles-sum-radii", {"n": 7}, 0),
                                              ("circles-sum-radii", {"n": 7}, 3),
                                              ("points-min-distance", {"n": 9, "d": 2}, 2),
                                              ("points-min-distance", {"n": 6, "d": 3}, 0)])
def test_sampler_output_is_verifier_feasible(name, inst, prox):
    problem = P.make(name, **inst)
    view = view_of(problem)
    net = make_network(view, TINY)
    s = sample(net, view, 6, torch.Generator().manual_seed(0), steps=4, noise=0.3, prox_steps=prox)
    assert s.x.shape == (6, problem.dim) and s.objects.shape == (6, view.n, view.features)
    for x, v in zip(s.x, s.values):
        verdict = problem.verify(problem.to_config(x))
        assert verdict.feasible, verdict.reason
        assert verdict.value == v


def test_generic_points_view_samples_are_feasible_and_not_d4_symmetrised():
    problem = P.make("star-discrepancy", n=8, d=2)
    view = view_of(problem)
    assert not view.square and not view.sphere and view.features == 2
    s = sample(make_network(view, TINY), view, 4, torch.Generator().manual_seed(1), steps=3, noise=0.2)
    for x, v in zip(s.x, s.values):
        verdict = problem.verify(problem.to_config(x))
        assert verdict.feasible and verdict.value == v


def test_unsupported_problem_is_refused_on_one_line():
    with pytest.raises(ProblemError, match="boost does not support circles-rect"):
        view_of(P.make("circles-rect", n=5))


def test_rank_weights_favour_the_best():
    w = rank_weights(np.array([1.0, 3.0, 2.0]), "max")
    assert w[1] > w[2] > w[0]
    w = rank_weights(np.array([1.0, 3.0, 2.0]), "min")
    assert w[0] > w[2] > w[1]


def test_diversity_is_zero_modulo_symmetry_and_positive_otherwise():
    g = torch.Generator().manual_seed(3)
    a = torch.rand(1, 8, 3, generator=g, dtype=torch.float64)
    image = act(a, d4_matrices()[5:6])[0][:, torch.randperm(8, generator=g)]
    assert mean_pairwise_distance(torch.cat([a, image]), square=True) < 1e-7
    assert mean_pairwise_distance(torch.cat([a, image]), square=False) > 1e-3
    assert mean_pairwise_distance(torch.rand(4, 8, 3, generator=g), square=True) > 1e-2


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_fine_tuning_moves_the_generator_towards_the_targets(one_thread):
    torch.manual_seed(4)
    problem = P.make("points-min-distance", n=4, d=2)
    view = view_of(problem)
    net = make_network(view, BoostSettings(width=16, layers=1))
    target = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(4)

    def distance_to_target():
        s = sample(net, view, 16, torch.Generator().manual_seed(9), steps=10)
        return distance(s.objects, target.expand_as(s.objects), square=True).mean()

    before = distance_to_target()
    first = np.mean([fit(net, view, target, opt, g, 1, batch=32) for _ in range(5)])
    fit(net, view, target, opt, g, 400, batch=32)
    last = np.mean([fit(net, view, target, opt, g, 1, batch=32) for _ in range(10)])
    assert last < 0.7 * first
    assert distance_to_target() < 0.5 * before


def test_a_resumed_run_continues_from_its_checkpoint(tmp_path, one_thread):
    problem = P.make("circles-sum-radii", n=5)
    with Store(tmp_path / "s.sqlite") as store:
        first = boost(problem, seconds=3, seed=1, out=tmp_path, store=store, settings=TINY)
        assert first.rounds >= 1 and first.success
        run_id, ckpt = find_checkpoint(store, problem)
        assert run_id == first.run_id and ckpt["round"] == first.rounds
        second = boost(problem, seconds=2, seed=1, out=tmp_path, store=store, settings=TINY, resume=True)
        assert second.rounds > first.rounds
        assert not problem.better(first.value, second.value)
        assert store.run(second.run_id).resumed_from == first.run_id
    doc = json.loads((tmp_path / "circles-sum-radii_n5.json").read_text())
    assert doc["value"] == pytest.approx(max(first.value, second.value))
    assert problem.verify(problem.check_shapes(doc)).feasible


def test_parallel_workers_are_recorded_in_one_run_and_resume_from_their_checkpoints(tmp_path):
    from extremo.boost.loop import find_checkpoints

    problem = P.make("circles-sum-radii", n=5)
    path = tmp_path / "circles-sum-radii_n5.json"
    with Store(tmp_path / "s.sqlite") as store:
        first = boost(problem, seconds=3, seed=1, out=tmp_path, store=store, settings=TINY, workers=2)
        assert first.success and first.status == "finished" and first.rounds >= 2
        # every worker delivered at least its first round and left its checkpoint
        run_id, blobs = find_checkpoints(store, problem)
        assert run_id == first.run_id and len(blobs) == 2
        rounds = [torch.load(io.BytesIO(b), weights_only=True)["round"] for b in blobs]
        assert min(rounds) >= 1 and sum(rounds) == first.rounds
        row = store.run(first.run_id)
        assert row.value == first.value and row.settings["workers"] == 2
        doc = json.loads(path.read_text())
        assert doc["value"] == first.value and problem.verify(problem.check_shapes(doc)).feasible
        second = boost(problem, seconds=2, seed=1, out=tmp_path, store=store, settings=TINY, workers=2,
                       resume=True)
        assert store.run(second.run_id).resumed_from == first.run_id
        assert second.rounds >= first.rounds + 2 and not problem.better(first.value, second.value)
        # a one-process run resumes the first worker's checkpoint of a parallel run
        third = boost(problem, seconds=1, seed=1, out=tmp_path, store=store, settings=TINY, resume=True)
        assert store.run(third.run_id).resumed_from == second.run_id
    assert json.loads(path.read_text())["value"] == max(first.value, second.value, third.value)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_parallel_run_keeps_its_best(tmp_path, sig):
    db = tmp_path / "runs.sqlite"
    cmd = [sys.executable, "-m", "extremo", "boost", "circles-sum-radii", "--n", "8", "--time", "120",
           "--workers", "2", "--out", str(tmp_path), "--store", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    target = tmp_path / "circles-sum-radii_n8.json"
    deadline = time.time() + 90
    while not target.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert target.exists(), proc.communicate()[0]
    proc.send_signal(sig)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 128 + sig and "Traceback" not in output
    problem = P.make("circles-sum-radii", n=8)
    doc = json.loads(target.read_text())
    assert problem.verify(problem.check_shapes(doc)).feasible
    with Store(db) as store:
        (row,) = store.runs()
        assert row.status == "interrupted" and row.value == doc["value"]


def test_workers_are_checked():
    problem = P.make("circles-sum-radii", n=5)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ProblemError, match="workers"):
            boost(problem, seconds=1, workers=bad)


def test_resume_without_anything_stored_is_refused(tmp_path):
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(ProblemError, match="nothing to resume"):
        boost(P.make("circles-sum-radii", n=5), seconds=1, out=tmp_path, store=store, resume=True)


def test_bad_arguments_are_refused():
    problem = P.make("circles-sum-radii", n=5)
    with pytest.raises(ProblemError, match="mode must be one of closed, open"):
        boost(problem, seconds=1, mode="half-open")
    with pytest.raises(ProblemError, match="seconds must be a positive"):
        boost(problem, seconds=0)
    with pytest.raises(ProblemError, match="--method"):
        boost(problem, seconds=1, settings=BoostSettings(method="rk4"))


runner = CliRunner()


def one_line_error(result, code):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:")
    return " ".join(lines)


def test_cli_boost_short_run(tmp_path):
    result = runner.invoke(app, ["boost", "points-min-distance", "--n", "5", "--d", "2", "--time", "6",
                                 "--out", str(tmp_path), "--mode", "open", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "minimum distance" in result.output and "best known" in result.output
    assert (tmp_path / "points-min-distance_n5_d2.json").exists()
    assert (tmp_path / "points-min-distance_n5_d2.png").exists()


@pytest.mark.parametrize("args, words", [
    (["circles-sum-radii", "--n", "5", "--mode", "half"], "--mode must be one of closed, open"),
    (["circles-sum-radii", "--n", "5", "--time", "-1"], "--time must be a positive"),
    (["circles-sum-radi", "--n", "5"], "did you mean 'circles-sum-radii'"),
    (["circles-sum-radii", "--n", "1000000"], "out of range"),
    (["circles-rect", "--n", "5"], "boost does not support circles-rect"),
    (["circles-sum-radii", "--n", "5", "--resume"], "nothing to resume"),
    (["circles-sum-radii", "--n", "5", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["circles-sum-radii", "--n", "5", "--workers", "two"], "Invalid value for '--workers'"),
])
def test_cli_boost_bad_input_is_one_line(tmp_path, args, words):
    text = one_line_error(runner.invoke(app, ["boost", *args, "--out", str(tmp_path)]), 2)
    assert words in text


class _SpherePoints(P.Problem):
    """A tiny test problem: n points on the unit sphere S^2, maximise the minimum distance."""

    name = "test-sphere-points"
    title = "test"
    sense = "max"
    parameters = (P.Parameter("n", "points", 2, 20, default=6),)

    @property
    def dim(self):
        return 3 * self.instance["n"]

    def random(self, batch, generator, dtype=torch.float64):
        return torch.randn(batch, self.dim, generator=generator, dtype=dtype)

    def project(self, x):
        p = x.reshape(x.shape[0], -1, 3)
        return (p / p.norm(dim=-1, keepdim=True)).flatten(1)

    def relaxed(self, x, mu):
        return -self.value(x)

    def value(self, x):
        p = x.reshape(x.shape[0], -1, 3)
        d = torch.cdist(p, p) + 10 * torch.eye(p.shape[1], dtype=p.dtype)
        return d.flatten(1).min(-1).values

    def repair(self, x):
        return self.project(torch.as_tensor(x)[None])[0].numpy()

    def to_config(self, x):
        return {"points": np.asarray(x, dtype=np.float64).reshape(-1, 3).copy()}

    def from_config(self, config):
        return config["points"].ravel()

    def fields(self):
        return {"points": (self.instance["n"], 3)}

    def layout(self):
        return P.Layout(self.instance["n"], 3, sphere=True)

    def verify(self, config):
        p = config["points"]
        if not np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-12):
            return P.Verdict(False, reason="a point is off the sphere")
        return P.Verdict(True, float(self.value(torch.as_tensor(p.ravel())[None])[0]))


def test_sphere_view_uses_riemannian_flow_matching_and_stays_on_the_sphere(one_thread):
    problem = _SpherePoints(n=6)
    view = view_of(problem)
    assert view.sphere and not view.square and view.manifold is not None
    net = make_network(view, TINY)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(6)
    assert math.isfinite(fit(net, view, view.source(4, g), opt, g, 5, batch=4))
    s = sample(net, view, 5, g, steps=4, noise=0.2)
    assert np.allclose(np.linalg.norm(s.x.reshape(5, -1, 3), axis=-1), 1.0, atol=1e-12)
    assert all(problem.verify(problem.to_config(x)).feasible for x in s.x)


@pytest.mark.parametrize("finetune", ["rwr", "policy"])
def test_both_fine_tuning_options_run_and_sample_the_generator(tmp_path, one_thread, finetune):
    from dataclasses import replace

    problem = P.make("circles-sum-radii", n=5)
    with Store(tmp_path / "s.sqlite") as store:
        result = boost(problem, seconds=4, seed=2, out=tmp_path, store=store,
                       settings=replace(TINY, finetune=finetune))
        assert result.success and result.rounds >= 2
        assert problem.verify(problem.check_shapes(json.loads((tmp_path / "circles-sum-radii_n5.json")
                                                              .read_text()))).feasible
        # the trained generator joined the local search as a source of fresh starts
        _, ckpt = find_checkpoint(store, problem)
        assert ckpt["round"] == result.rounds


def test_transfer_pre_trains_on_neighbouring_instances(tmp_path, one_thread, monkeypatch):
    from dataclasses import replace

    import extremo.boost.loop as loop

    seen = []
    original = loop.fit_across

    def spy(net, groups, *args, **kwargs):
        seen.append(sorted(view.n for view, _, _ in groups))
        return original(net, groups, *args, **kwargs)

    with Store(tmp_path / "s.sqlite") as store:
        for n in (4, 6):
            boost(P.make("circles-sum-radii", n=n), seconds=1.5, out=tmp_path, store=store, settings=TINY)
        monkeypatch.setattr(loop, "fit_across", spy)
        boost(P.make("circles-sum-radii", n=5), seconds=1.5, out=tmp_path, store=store,
              settings=replace(TINY, transfer=1))
    assert seen and seen[0] == [4, 6]


def test_boost_settings_are_checked():
    from dataclasses import replace

    for bad, words in ((dict(finetune="ppo"), "finetune"), (dict(transfer=-1), "transfer"),
                       (dict(train_share=0.0), "train_share"), (dict(finetune="policy", noise=0.0), "noise")):
        with pytest.raises(ProblemError, match=words):
            replace(TINY, **bad).check()
