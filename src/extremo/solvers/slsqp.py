"""Constrained polishing: SLSQP with exact derivatives from torch autograd.

``minimize f(z)  subject to  c(z) >= 0,  lo <= z <= hi``, solved by sequential least squares
quadratic programming (Kraft 1988, ``scipy.optimize.minimize(method="SLSQP")``). ``f`` and
``c`` are written once in torch and differentiated in float64 by autograd; the problem only
states its constraints.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize

TorchFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class PolishResult:
    z: np.ndarray
    fun: float
    success: bool
    message: str
    nit: int


def slsqp(
    fun: TorchFn,
    constraints: TorchFn,
    z0: np.ndarray,
    bounds: list[tuple[float | None, float | None]] | None = None,
    maxiter: int = 300,
    ftol: float = 1e-15,
    jacobian: Callable[[np.ndarray], np.ndarray] | None = None,
) -> PolishResult:
    """Minimise ``fun(z)`` s.t. ``constraints(z) >= 0`` from ``z0`` (all float64).

    ``jacobian(z) -> (m, dim)``: the constraints' Jacobian written by hand, when it is cheaper
    than autograd's (e.g. sparse structure); by default autograd computes it.
    """
    cache: dict[str, object] = {}

    def eval_fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        key = z.tobytes()
        if cache.get("fun_key") != key:
            t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
            f = fun(t)
            (g,) = torch.autograd.grad(f, t)
            cache["fun_key"], cache["fun"] = key, (float(f), g.numpy().copy())
        return cache["fun"]  # type: ignore[return-value]

    def eval_con(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = z.tobytes()
        if cache.get("con_key") != key:
            t = torch.tensor(z, dtype=torch.float64)
            c = constraints(t).detach().numpy().copy()
            if jacobian is not None:
                cache["con_key"], cache["con"] = key, (c, np.asarray(jacobian(z), dtype=np.float64))
                return cache["con"]  # type: ignore[return-value]
            # forward mode when there are fewer variables than constraints (the usual case)
            strategy = "forward-mode" if t.numel() < c.size else "reverse-mode"
            jac = torch.autograd.functional.jacobian(constraints, t, vectorize=True, strategy=strategy)
            jac = jac.numpy().copy()
            cache["con_key"], cache["con"] = key, (c, jac)
        return cache["con"]  # type: ignore[return-value]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = minimize(
            lambda z: eval_fun(z)[0],
            np.asarray(z0, dtype=np.float64),
            jac=lambda z: eval_fun(z)[1],
            method="SLSQP",
            bounds=bounds,
            constraints=[
                {"type": "ineq", "fun": lambda z: eval_con(z)[0], "jac": lambda z: eval_con(z)[1]}
            ],
            options={"maxiter": maxiter, "ftol": ftol},
        )
    return PolishResult(res.x, float(res.fun), bool(res.success), str(res.message), int(res.nit))
