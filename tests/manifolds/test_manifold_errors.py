"""Bad constructor arguments are refused with one clear ValueError."""

import pytest
import torch

from extremo.manifolds import SPD, Grassmann, Lorentz, ManifoldParameter, PoincareBall, Product, Sphere, Stiefel


@pytest.mark.parametrize("make,match", [
    (lambda: Sphere(0), "n >= 1"),
    (lambda: Stiefel(2, 3), "p <= n"),
    (lambda: Stiefel(4, 2, metric="frobenius"), "metric must be one of"),
    (lambda: Stiefel(4, 2, retraction="svd"), "retraction must be one of"),
    (lambda: Grassmann(2, 3), "p <= n"),
    (lambda: SPD(3, metric="stein"), "unknown SPD metric"),
    (lambda: SPD(3, metric="generalized_bw", M=torch.eye(2)), r"M must be a \(3, 3\) tensor"),
    (lambda: SPD(3, metric="generalized_bw", M=-torch.eye(3)), "M must be symmetric positive definite"),
    (lambda: PoincareBall(3, c=0.0), "curvature"),
    (lambda: Lorentz(1), "n >= 2"),
    (lambda: Product(), "at least one"),
    (lambda: Product(Sphere(3), 3), "factor 1 must be a Manifold"),
    (lambda: ManifoldParameter(torch.zeros(3), "sphere"), "Manifold instance"),
    (lambda: ManifoldParameter(torch.ones(3), Sphere(3)), r"\|\|x\|\| != 1"),
], ids=["sphere", "stiefel-p", "stiefel-metric", "stiefel-retraction", "grassmann", "spd-metric", "gbw-shape",
        "gbw-not-spd", "poincare-c", "lorentz-n", "product-empty", "product-factor", "parameter-manifold",
        "parameter-off-manifold"])
def test_bad_arguments_raise_a_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
