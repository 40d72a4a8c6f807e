import math

import pytest
import torch

from extremo.equivariant import ClebschGordanTensorProduct, GauntTensorProduct, Irreps, gaunt_coefficients, wigner_3j
from equivariance_helpers import assert_equivariant

IN1, IN2 = "3x0e+3x1o+3x2e+3x3o+3x4e", "3x0e+3x1o+3x2e"


def _inputs(g, n=5, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, g.irreps_in1.dim, dtype=dtype, generator=gen),
            torch.randn(n, g.irreps_in2.dim, dtype=dtype, generator=gen))


@pytest.mark.parametrize("method", ["grid", "fourier"])
def test_equals_cg_product_on_even_paths_with_gaunt_weights(method):
    g = GauntTensorProduct(IN1, IN2, "3x0e+3x1o+3x2e+3x3o+3x4e+3x5o", method=method, weighted=False).double()
    even = [(i1, i2, io) for i1, (_, a) in enumerate(g.irreps_in1) for i2, (_, b) in enumerate(g.irreps_in2)
            for io, (_, c) in enumerate(g.irreps_out) if abs(a.l - b.l) <= c.l <= a.l + b.l and (a.l + b.l + c.l) % 2 == 0]
    cg = ClebschGordanTensorProduct(g.irreps_in1, g.irreps_in2, g.irreps_out, mode="uuu", paths=even).double()
    weights = []
    for p in cg.paths:
        l1, l2, l3 = g.irreps_in1[p.i1].ir.l, g.irreps_in2[p.i2].ir.l, g.irreps_out[p.io].ir.l
        G = gaunt_coefficients(l1, l2, l3, dtype=torch.float64)
        coupling = (G * wigner_3j(l1, l2, l3, dtype=torch.float64)).sum()  # G = coupling * C
        assert torch.allclose(G, coupling * wigner_3j(l1, l2, l3, dtype=torch.float64), atol=1e-13)
        weights.append(torch.full((3,), math.sqrt(4 * math.pi) * coupling.item() / p.alpha, dtype=torch.float64))
    with torch.no_grad():
        cg.weight.copy_(torch.cat(weights))
    x, y = _inputs(g)
    assert (g(x, y) - cg(x, y)).abs().max() < 1e-10


def test_gaunt_coefficients_vanish_on_odd_paths():
    assert gaunt_coefficients(1, 1, 1, dtype=torch.float64).abs().max() < 1e-15
    assert gaunt_coefficients(2, 3, 2, dtype=torch.float64).abs().max() < 1e-15


def test_is_the_product_of_spherical_functions():
    from extremo.equivariant import spherical_harmonics

    g = GauntTensorProduct("1x0e+1x1o+1x2e", "1x0e+1x1o", "1x0e+1x1o+1x2e+1x3o", weighted=False).double()
    x, y = _inputs(g, n=1)
    z = g(x, y)
    pts = torch.randn(20, 3, dtype=torch.float64)
    f = lambda c, L: spherical_harmonics(list(range(L + 1)), pts) @ c[0]
    assert torch.allclose(f(x, 2) * f(y, 1), f(z, 3) / math.sqrt(4 * math.pi), atol=1e-12)


@pytest.mark.parametrize("L", [1, 3, 6, 8])
def test_grid_and_fourier_agree(L):
    irreps = "+".join(f"2x{l}y" for l in range(L + 1))
    a = GauntTensorProduct(irreps, irreps, method="grid").double()
    b = GauntTensorProduct(irreps, irreps, method="fourier").double()
    with torch.no_grad():
        a.weight.normal_()
        b.weight.copy_(a.weight)
    x, y = _inputs(a, n=3)
    assert (a(x, y) - b(x, y)).abs().max() < 1e-10 * max(1.0, a(x, y).abs().max().item())


@pytest.mark.parametrize("method", ["grid", "fourier"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equivariance(method, dtype):
    g = GauntTensorProduct("2x0o+2x1e+2x2o+2x3e", "1x0e+1x1o+1x2e", method=method).to(dtype)
    with torch.no_grad():
        g.weight.normal_()
    x, y = _inputs(g, dtype=dtype)
    assert g.irreps_out == Irreps("2x0o+2x1e+2x2o+2x3e")
    assert_equivariant(g, [x, y], [g.irreps_in1, g.irreps_in2], g.irreps_out)


def test_external_weights_and_gradients():
    g = GauntTensorProduct("2x0e+2x1o", "2x0e+2x1o", method="fourier", internal_weights=False).double()
    x, y = _inputs(g, n=4)
    w = torch.randn(4, g.weight_numel, dtype=torch.float64, requires_grad=True)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: g(a, y, b), (x, w))


def test_bad_irreps():
    with pytest.raises(ValueError, match="one block per degree"):
        GauntTensorProduct("2x0e+3x1o", "1x0e")
    with pytest.raises(ValueError, match="not reachable"):
        GauntTensorProduct("2x0e+2x1o", "1x0e+1x1o", "2x0o+2x1e")
    with pytest.raises(ValueError, match="method"):
        GauntTensorProduct("1x0e", "1x0e", method="fft")
