"""The problem contract, checked for every registered problem and its headline instances.

What each problem file may rely on the rest of extremo for, and what the rest of extremo relies
on it for: a configuration survives JSON, repair ends verifier-feasible, ``value`` is the
verifier's value, the relaxation is finite with finite gradients, the projection is idempotent,
objects outside the domain and NaN fields are rejected with a reason, boost's layout converts
both ways, a neighbouring instance's configuration resizes to a feasible start (where
the problem can), and every instance parameter is an option of the commands that take an instance.
"""

import json
import math

import numpy as np
import pytest
import torch
import typer

from extremo.cli import app
from extremo.problems import Problem, ProblemError, problem_classes
from extremo.problems.base import values_of
from extremo.problems.registry import BUILTINS
from extremo.search.local import SearchSettings

INSTANCES = [pytest.param(cls, inst, id=cls(**inst).label) for cls in problem_classes() for inst in cls.headline]
SEEDS = (0, 1, 2)


def starts(prob: Problem, seed: int, batch: int = 3) -> torch.Tensor:
    return prob.project(prob.random(batch, torch.Generator().manual_seed(seed)))


def feasible(prob: Problem, seed: int) -> np.ndarray:
    return prob.repair(starts(prob, seed, 1)[0].numpy())


def test_every_builtin_module_registers_problems_with_headline_instances():
    modules = {cls.__module__ for cls in problem_classes()}
    assert set(BUILTINS) <= modules
    assert all(cls.headline for cls in problem_classes())


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_configuration_survives_json(cls, inst):
    prob = cls(**inst)
    x = feasible(prob, 0)
    config = prob.to_config(x)
    assert set(config) == set(prob.fields())
    doc = json.loads(json.dumps({k: np.asarray(v).tolist() for k, v in config.items()}))
    again = prob.to_config(prob.from_config(prob.check_shapes(doc)))
    for key, value in config.items():  # exact but for renormalised unit rows (the sphere)
        np.testing.assert_allclose(again[key], value, rtol=0, atol=4e-16)


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_repair_is_feasible_and_value_is_the_verifiers(cls, inst):
    prob = cls(**inst)
    wide = prob.random(1, torch.Generator().manual_seed(9))[0].numpy() * 1.1 - 0.05  # partly outside
    for x in [feasible(prob, seed) for seed in SEEDS] + [prob.repair(wide)]:
        assert x.shape == (prob.dim,) and x.dtype == np.float64
        verdict = prob.verify(prob.to_config(x))
        assert verdict.feasible, verdict.reason
        assert verdict.reason == ""
        assert math.isclose(float(values_of(prob, x)[0]), verdict.value, rel_tol=1e-12, abs_tol=1e-300)


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_relaxation_is_finite_and_differentiable(cls, inst):
    prob = cls(**inst)
    mus = SearchSettings(**prob.search_defaults).mu
    x = starts(prob, 3).requires_grad_(True)
    for mu in (mus[0], mus[-1]):
        loss = prob.relaxed(x, mu)
        assert loss.shape == (x.shape[0],) and torch.isfinite(loss).all()
        (grad,) = torch.autograd.grad(loss.sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_projection_is_idempotent(cls, inst):
    prob = cls(**inst)
    x = prob.random(4, torch.Generator().manual_seed(4)) * 1.5  # also out of the domain
    once = prob.project(x)
    torch.testing.assert_close(prob.project(once), once, rtol=1e-12, atol=1e-12)


def outside(prob: Problem, x: np.ndarray):
    """A configuration with object 0 moved out of the domain the problem's layout states (off
    the sphere, or beyond the box's upper end of feature 0); without a layout, reflected."""
    lay, config = prob.layout(), prob.to_config(x)
    shape = (lay.n, lay.features) if lay else None
    key = next((k for k, s in prob.fields().items() if s == shape), None)
    if lay is None:
        key = next(k for k, s in prob.fields().items() if len(s) == 2)
        config[key][0] = -1.0 - config[key][0]
    elif lay.sphere:
        config[key][0] *= 1.5
    elif key is not None:
        config[key][0, 0] = lay.high[0] + 0.25 * (lay.high[0] - lay.low[0]) + 1e-3
    else:
        objs = prob.objects(torch.as_tensor(x)[None])
        objs[0, 0, 0] = lay.high[0] + 0.25 * (lay.high[0] - lay.low[0]) + 1e-3
        config = prob.to_config(prob.vectors(objs)[0].numpy())
    return config


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_objects_out_of_the_domain_and_nan_are_rejected_with_a_reason(cls, inst):
    prob = cls(**inst)
    x = feasible(prob, 5)
    verdict = prob.verify(prob.check_shapes(outside(prob, x)))
    assert not verdict.feasible and verdict.reason and math.isnan(verdict.value)
    config = prob.to_config(x)
    key = next(iter(config))
    bad = np.array(config[key], dtype=np.float64)
    bad.flat[0] = math.nan
    with pytest.raises(ProblemError, match="NaN"):
        prob.check_shapes({**config, key: bad})


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_a_resized_neighbour_is_none_or_a_feasible_start(cls, inst):
    prob = cls(**inst)
    for other in prob.neighbours(1):
        z = prob.resize(feasible(other, 0), other)
        if z is not None:
            assert z.shape == (prob.dim,)
            assert prob.verify(prob.to_config(z)).feasible


@pytest.mark.parametrize("cls, inst", INSTANCES)
def test_layout_converts_both_ways(cls, inst):
    prob = cls(**inst)
    lay = prob.layout()
    if lay is None:
        with pytest.raises(ProblemError, match="boost does not support"):
            from extremo.boost.views import view_of

            view_of(prob)
        return
    x = torch.as_tensor(np.stack([feasible(prob, s) for s in SEEDS]))
    objs = prob.objects(x)
    assert objs.shape == (len(SEEDS), lay.n, lay.features)
    torch.testing.assert_close(prob.objects(prob.vectors(objs)), objs, rtol=0, atol=1e-12)
    if lay.sphere:
        torch.testing.assert_close(objs.norm(dim=-1), torch.ones(objs.shape[:2], dtype=objs.dtype))
    else:
        assert (objs >= torch.tensor(lay.low) - 1e-12).all() and (objs <= torch.tensor(lay.high) + 1e-12).all()


INSTANCE_COMMANDS = ("discover", "boost", "verify", "show", "sweep")


@pytest.mark.parametrize("cls", problem_classes(), ids=lambda c: c.name)
def test_every_parameter_is_an_option_of_the_instance_commands(cls):
    group = typer.main.get_command(app)
    commands = [group.commands[c] for c in INSTANCE_COMMANDS if c in group.commands]
    assert len(commands) >= 4
    for command in commands:
        options = {opt for p in command.params for opt in p.opts}
        for p in cls.parameters:
            assert f"--{p.name}" in options, (command.name, p.name)
