import pytest
import torch
from e3nn import o3

from extremo.equivariant import ClebschGordanTensorProduct, FullyConnectedTensorProduct
from equivariance_helpers import assert_equivariant

IN1, IN2 = "4x0e+3x1o+2x2e+1x3o", "2x0e+2x1o+1x2e+1x1e"
OUT = {"uvw": "3x0e+2x1o+2x1e+2x2e+1x2o+1x3o", "uvu": "4x0e+3x1o+3x1e+2x2e+2x2o+1x3o+1x3e", "uuu": None}


def _make(mode, dtype=torch.float64):
    if mode == "uuu-mixed":  # unequal multiplicities: the general (unfused) code path
        return ClebschGordanTensorProduct("2x0e+3x1o", "2x0e+3x1o", "2x0e+3x1o+3x1e+3x2e", mode="uuu").to(dtype)
    if mode == "uuu":
        return ClebschGordanTensorProduct("3x0e+3x1o+3x2e", "3x0e+3x1o+3x1e", "3x0e+3x1o+3x1e+3x2e+3x2o", mode="uuu").to(dtype)
    return ClebschGordanTensorProduct(IN1, IN2, OUT[mode], mode=mode).to(dtype)


@pytest.mark.parametrize("mode", ["uvw", "uvu", "uuu", "uuu-mixed"])
def test_matches_e3nn_with_same_weights(mode):
    tp = _make(mode)
    instructions = [(p.i1, p.i2, p.io, tp.mode, True) for p in tp.paths]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # e3nn builds its constant tables in the default dtype
    try:
        ref = o3.TensorProduct(str(tp.irreps_in1), str(tp.irreps_in2), str(tp.irreps_out), instructions)
    finally:
        torch.set_default_dtype(default)
    assert ref.weight_numel == tp.weight_numel
    with torch.no_grad():
        ref.weight.copy_(tp.weight)
    x = torch.randn(9, tp.irreps_in1.dim, dtype=torch.float64)
    y = torch.randn(9, tp.irreps_in2.dim, dtype=torch.float64)
    assert (tp(x, y) - ref(x, y)).abs().max() < 1e-10


@pytest.mark.parametrize("mode", ["uvw", "uvu", "uuu", "uuu-mixed"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equivariance(mode, dtype):
    tp = _make(mode, dtype)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, tp.irreps_in1.dim, dtype=dtype, generator=gen)
    y = torch.randn(6, tp.irreps_in2.dim, dtype=dtype, generator=gen)
    assert_equivariant(tp, [x, y], [tp.irreps_in1, tp.irreps_in2], tp.irreps_out)


def test_external_weights_broadcast_and_gradients():
    tp = ClebschGordanTensorProduct("4x0e+4x1o", "1x0e+1x1o+1x2e", "4x0e+4x1o+4x1e+4x2e", mode="uvu", internal_weights=False)
    tp = tp.to(torch.float64)
    x = torch.randn(5, 1, tp.irreps_in1.dim, dtype=torch.float64, requires_grad=True)
    y = torch.randn(5, 7, tp.irreps_in2.dim, dtype=torch.float64)
    w = torch.randn(5, 7, tp.weight_numel, dtype=torch.float64, requires_grad=True)
    z = tp(x, y, w)
    assert z.shape == (5, 7, tp.irreps_out.dim)
    # per-edge weights equal the shared result edge by edge
    shared = ClebschGordanTensorProduct("4x0e+4x1o", "1x0e+1x1o+1x2e", "4x0e+4x1o+4x1e+4x2e", mode="uvu").to(torch.float64)
    with torch.no_grad():
        shared.weight.copy_(w[2, 3])
    assert torch.allclose(z[2, 3], shared(x[2, 0], y[2, 3]), atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: tp(a, y[:, :2], b[:, :2]), (x, w))
    with pytest.raises(ValueError, match="internal_weights=False"):
        tp(x, y)


def test_normalisation_gives_unit_variance():
    torch.manual_seed(0)
    tp = FullyConnectedTensorProduct("8x0e+8x1o+8x2e", "8x0e+8x1o+8x2e", "8x0e+8x1o+8x2e")
    x, y = torch.randn(4000, tp.irreps_in1.dim), torch.randn(4000, tp.irreps_in2.dim)
    var = tp(x, y).pow(2).mean().item()
    assert 0.5 < var < 2.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        ClebschGordanTensorProduct("1x0e", "1x0e", "1x0e", mode="uvv")
    with pytest.raises(ValueError, match="triangle or parity"):
        ClebschGordanTensorProduct("1x1o", "1x1o", "1x1o", paths=[(0, 0, 0)])
    with pytest.raises(ValueError, match="do not fit mode"):
        ClebschGordanTensorProduct("2x0e", "1x0e", "3x0e", mode="uvu", paths=[(0, 0, 0)])
    with pytest.raises(ValueError, match="does not exist"):
        ClebschGordanTensorProduct("1x0e", "1x0e", "1x0e", paths=[(0, 0, 1)])
    tp = ClebschGordanTensorProduct("1x0e", "1x1o", "1x1o")
    with pytest.raises(ValueError, match="have dim 3"):
        tp(torch.zeros(1), torch.zeros(4))


def _channelwise(strategy, internal_weights=True):
    """Fused "uuu" product (one multiplicity everywhere) with its strategy forced."""
    irreps = ("2x0e+2x1o+2x2e", "2x0e+2x1o+2x1e", "2x0e+2x1o+2x1e+2x2e+2x2o+2x3o")
    tp = ClebschGordanTensorProduct(*irreps, mode="uuu", internal_weights=internal_weights).double()
    tp._dense_is_cheaper = lambda rows: strategy == "dense"
    return tp


@pytest.mark.parametrize("strategy", ["dense", "grouped"])
def test_channelwise_strategies_match_e3nn(strategy):
    tp = _channelwise(strategy)
    instructions = [(p.i1, p.i2, p.io, "uuu", True) for p in tp.paths]
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        ref = o3.TensorProduct(str(tp.irreps_in1), str(tp.irreps_in2), str(tp.irreps_out), instructions)
    finally:
        torch.set_default_dtype(default)
    with torch.no_grad():
        ref.weight.copy_(tp.weight)
    x = torch.randn(7, tp.irreps_in1.dim, dtype=torch.float64, requires_grad=True)
    y = torch.randn(7, tp.irreps_in2.dim, dtype=torch.float64, requires_grad=True)
    z, z_ref = tp(x, y), ref(x, y)
    assert (z - z_ref).abs().max() < 1e-10
    g = torch.randn_like(z)
    grads = torch.autograd.grad(z, (x, y, tp.weight), g)
    grads_ref = torch.autograd.grad(z_ref, (x, y, ref.weight), g)
    for a, b in zip(grads, grads_ref):
        assert (a - b).abs().max() < 1e-10


@pytest.mark.parametrize("strategy", ["dense", "grouped"])
def test_channelwise_first_and_second_derivatives(strategy):
    tp = _channelwise(strategy, internal_weights=False)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, tp.irreps_in1.dim, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randn(2, tp.irreps_in2.dim, dtype=torch.float64, generator=gen, requires_grad=True)
    shared = torch.randn(tp.weight_numel, dtype=torch.float64, generator=gen, requires_grad=True)
    per_sample = torch.randn(2, tp.weight_numel, dtype=torch.float64, generator=gen, requires_grad=True)
    # per-sample weights always take the grouped path
    for w in (shared,) if strategy == "dense" else (shared, per_sample):
        assert torch.autograd.gradcheck(tp, (x, y, w))
        assert torch.autograd.gradgradcheck(tp, (x, y, w))
    # the hand-written backward when only some inputs need a gradient
    assert torch.autograd.gradcheck(lambda b: tp(x.detach(), b, shared.detach()), (y,))


def test_channelwise_cost_model_choice():
    def product(lmax, mul):
        irreps = [(mul, (l, (-1) ** l)) for l in range(lmax + 1)]
        out = [(mul, (l, p)) for l in range(lmax + 1) for p in (1, -1)]
        return ClebschGordanTensorProduct(irreps, irreps, out, mode="uuu")

    assert product(1, 16)._dense_is_cheaper(1024 * 16)  # few tiny paths: one GEMM beats per-op overhead
    assert not product(5, 16)._dense_is_cheaper(1024 * 16)  # the dense map wastes too many flops


def test_uvw_per_sample_weights_equal_shared_weights():
    tp = FullyConnectedTensorProduct("3x0e+2x1o+2x2e", "2x0e+1x1o", "2x0e+3x1o+1x2e", internal_weights=False).double()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, tp.irreps_in1.dim, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randn(4, tp.irreps_in2.dim, dtype=torch.float64, generator=gen)
    w = torch.randn(4, tp.weight_numel, dtype=torch.float64, generator=gen, requires_grad=True)
    z = tp(x, y, w)
    for b in range(4):
        assert torch.allclose(z[b], tp(x[b], y[b], w[b]), atol=1e-12)
    assert torch.autograd.gradcheck(tp, (x, y, w))
