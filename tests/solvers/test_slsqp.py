import numpy as np
import pytest
import torch

from extremo.solvers.slsqp import slsqp


def test_slsqp_solves_a_small_constrained_problem():
    res = slsqp(lambda z: z.square().sum(), lambda z: (z.sum() - 1.0)[None], np.array([2.0, -1.0]))
    assert res.success
    assert res.z == pytest.approx([0.5, 0.5], abs=1e-8)


def test_slsqp_uses_reverse_mode_when_constraints_are_few():
    # one constraint, many variables: the reverse-mode branch
    n = 20
    res = slsqp(lambda z: (z - 1).square().sum(), lambda z: (3.0 - z.sum())[None], np.zeros(n))
    assert res.z.sum() == pytest.approx(3.0, abs=1e-8)


def test_slsqp_respects_bounds():
    res = slsqp(lambda z: -z.sum(), lambda z: torch.ones(1, dtype=z.dtype) + 0 * z[:1], np.zeros(2),
                bounds=[(0, 1), (0, 2)])
    assert res.z == pytest.approx([1.0, 2.0])


def test_a_hand_written_jacobian_gives_the_same_solution():
    # max x + y on the unit disc: the optimum is (1, 1) / sqrt(2)
    fun = lambda z: -(z[0] + z[1])  # noqa: E731
    cons = lambda z: (1 - z.square().sum()).reshape(1)  # noqa: E731
    auto = slsqp(fun, cons, np.array([0.1, 0.0]))
    hand = slsqp(fun, cons, np.array([0.1, 0.0]), jacobian=lambda z: -2 * z[None, :])
    np.testing.assert_allclose(hand.z, auto.z, atol=1e-9)
    np.testing.assert_allclose(hand.z, [2**-0.5, 2**-0.5], atol=1e-9)
