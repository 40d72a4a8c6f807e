"""Orthogonal parametrizations and OFT/BOFT/HRA adapters against PEFT (same parameters, same outputs)."""

import copy
import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import parametrize

from extremo.nn import BOFTLinear, Butterfly, Cayley, Givens, HRALinear, Householder, OFTLinear
from extremo.nn.orthogonal import butterfly_permutation, butterfly_shuffle, cayley, skew_from_vector

peft = pytest.importorskip("peft")
from peft.tuners.boft.layer import BOFTLayer  # noqa: E402

D = torch.float64
prop = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def randomize(module, seed, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, dtype=p.dtype, generator=g))
    return module


def modules(n=16):
    return [
        Cayley(n, 4, None, dtype=D),
        Cayley(n, 8, None, share=True, dtype=D),
        Butterfly(n, 4, 3, dtype=D),
        Householder(n, 6, dtype=D),
        Householder(n, 4, gram_schmidt=True, dtype=D),
        Givens(n, dtype=D),
        Givens(n - 1, rounds=4, dtype=D),
    ]


@prop
@given(seed=st.integers(0, 10_000))
def test_matrices_are_orthogonal_and_rotate_is_x_times_r(seed):
    for m in modules():
        randomize(m, seed)
        r = m.matrix()
        eye = torch.eye(m.n, dtype=D)
        torch.testing.assert_close(r.mT @ r, eye, atol=1e-12, rtol=0)
        x = torch.randn(3, 2, m.n, dtype=D, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(m.rotate(x), x @ r, atol=1e-12, rtol=0)
        torch.testing.assert_close(m.rotate(x, transpose=True), x @ r.mT, atol=1e-12, rtol=0)
        torch.testing.assert_close(m(x[0]), x[0] @ r.mT, atol=1e-12, rtol=0)


@pytest.mark.parametrize("n,b,level", [(16, 4, 0), (16, 4, 1), (16, 4, 2), (32, 2, 3), (24, 6, 1)])
def test_butterfly_shuffle_is_indexing_by_the_permutation(n, b, level):
    x = torch.randn(3, n, dtype=D)
    p = butterfly_permutation(n, b, level)
    assert torch.equal(butterfly_shuffle(x, b, level), x[..., p])
    assert torch.equal(butterfly_shuffle(x, b, level, inverse=True), x[..., p.argsort()])


def test_parameters_start_at_the_identity():
    for m in modules():
        if not getattr(m, "gram_schmidt", False):  # I - 2 Q Q^T is a reflection, never I
            torch.testing.assert_close(m.matrix(), torch.eye(m.n, dtype=D), atol=1e-12, rtol=0)


def test_cayley_neumann_is_orthogonal_to_order_k():
    s = 0.01 * skew_from_vector(torch.randn(3, 28, dtype=D, generator=torch.Generator().manual_seed(0)), 8)
    exact = cayley(s)
    errs = [float((cayley(s, k) - exact).abs().max()) for k in (2, 4, 6)]
    assert errs[0] > 100 * errs[1] > 1e4 * errs[2]
    torch.testing.assert_close(cayley(s, 40), exact, atol=1e-13, rtol=0)


def test_parametrize_registers_and_trains():
    lin = nn.Linear(16, 6).double()
    w0 = lin.weight.detach().clone()
    lin.weight.requires_grad_(False)
    rot = randomize(Householder(16, 4, dtype=D), 0)
    parametrize.register_parametrization(lin, "weight", rot)
    x = torch.randn(5, 16, dtype=D)
    torch.testing.assert_close(lin(x), rot.rotate(x) @ w0.mT + lin.bias, atol=1e-12, rtol=0)
    lin(x).square().sum().backward()
    assert rot.weight.grad is not None and lin.parametrizations.weight.original.grad is None
    # an identity weight becomes R^T itself: an orthogonal layer
    sq = nn.Linear(16, 16, bias=False).double()
    with torch.no_grad():
        sq.weight.copy_(torch.eye(16, dtype=D))
    parametrize.register_parametrization(sq, "weight", randomize(Givens(16, dtype=D), 1))
    torch.testing.assert_close(sq.weight @ sq.weight.mT, torch.eye(16, dtype=D), atol=1e-12, rtol=0)


def test_givens_matches_dense_plane_rotations():
    m = randomize(Givens(5, dtype=D), 3)
    r = torch.eye(5, dtype=D)
    for t in range(m.rounds):
        g = torch.eye(5, dtype=D)
        for i, j, ok, th in zip(m.first[t], m.second[t], m.mask[t], m.weight[t].detach()):
            if ok:
                c, s = math.cos(th), math.sin(th)
                g[i, i], g[i, j], g[j, i], g[j, j] = c, s, -s, c
        r = r @ g
    torch.testing.assert_close(m.matrix(), r, atol=1e-12, rtol=0)
    pairs = {tuple(sorted((int(i), int(j)))) for t in range(m.rounds) for i, j, ok in zip(m.first[t], m.second[t], m.mask[t]) if ok}
    assert len(pairs) == 10  # every pair of 5 coordinates once


def test_gradients_match_finite_differences():
    for m in (Cayley(6, 3, 4, dtype=D), Butterfly(8, 2, 3, dtype=D), Householder(6, 3, dtype=D), Givens(6, 2, dtype=D)):
        randomize(m, 5)
        x = torch.randn(2, m.n, dtype=D)
        w = m.weight.detach().clone().requires_grad_(True)
        # functional_call swaps in w; forward(x) = x R^T exercises the same parameter path as rotate
        assert torch.autograd.gradcheck(lambda w, m=m, x=x: torch.func.functional_call(m, {"weight": w}, (x,)), (w,))


def _peft(cfg, n=32, out=24, seed=0):
    torch.manual_seed(seed)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(n, out)

        def forward(self, x):
            return self.lin(x)

    net = Net().double()
    base = copy.deepcopy(net.lin)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = peft.get_peft_model(net, cfg)
    return model, model.base_model.model.lin, base


@pytest.mark.parametrize("neumann", [True, False])
@pytest.mark.parametrize("share", [False, True])
def test_oft_equals_peft(neumann, share):
    model, layer, base = _peft(
        peft.OFTConfig(r=0, oft_block_size=8, target_modules=["lin"], use_cayley_neumann=neumann,
                       num_cayley_neumann_terms=5, block_share=share, init_weights=False)  # fmt: skip
    )
    ours = OFTLinear(base, block_size=8, neumann_terms=5 if neumann else None, share=share)
    w = layer.oft_R["default"].weight
    with torch.no_grad():
        ours.rotation.weight.copy_(w if neumann else -w)  # PEFT's exact Cayley is (I - S)(I + S)^{-1}
    for x in (torch.randn(4, 3, 32, dtype=D), torch.randn(40, 32, dtype=D)):  # input-side and weight-side paths
        torch.testing.assert_close(ours(x), model(x), atol=1e-12, rtol=0)
        torch.testing.assert_close(ours.merge()(x), model(x), atol=1e-12, rtol=0)


def test_boft_equals_peft():
    model, layer, base = _peft(peft.BOFTConfig(boft_block_size=8, target_modules=["lin"], init_weights=False))
    ours = BOFTLinear(base, 8, 1)
    with torch.no_grad():
        ours.rotation.weight.copy_(-layer.boft_R["default"])
        ours.scale.copy_(layer.boft_s["default"][:, 0])
    for x in (torch.randn(7, 32, dtype=D), torch.randn(40, 32, dtype=D)):  # input-side and weight-side paths
        torch.testing.assert_close(ours(x), model(x), atol=1e-12, rtol=0)
        torch.testing.assert_close(ours.merge()(x), model(x), atol=1e-12, rtol=0)


@pytest.mark.parametrize("n,b,factors", [(32, 4, 3), (64, 8, 3), (16, 2, 4)])
def test_butterfly_matches_peft_permutations_and_product(n, b, factors):
    # PEFT runs only one butterfly factor without its CUDA kernel: compare with its formula directly
    blocks = n // b
    perms = [BOFTLayer.block_butterfly_perm(None, n, blocks // 2**i, b // 2, factors - 1) for i in range(factors)]
    for i in range(1, factors):
        assert torch.equal(perms[i], butterfly_permutation(n, b, i))
    m = randomize(Butterfly(n, b, factors, dtype=D), 2)
    ref = None
    for i in range(factors):
        q = BOFTLayer.cayley_batch(None, -m.weight[i].detach())
        p = BOFTLayer.perm2mat(None, perms[i]).to(D)
        mi = p @ torch.block_diag(*q) @ p.T
        ref = mi if ref is None else mi @ ref
    torch.testing.assert_close(m.matrix(), ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("gram_schmidt", [False, True])
def test_hra_equals_peft(gram_schmidt):
    model, layer, base = _peft(peft.HRAConfig(r=6, target_modules=["lin"], init_weights=False, apply_GS=gram_schmidt))
    ours = HRALinear(base, 6, gram_schmidt=gram_schmidt)
    with torch.no_grad():
        ours.rotation.weight.copy_(layer.hra_u["default"])
    for x in (torch.randn(7, 32, dtype=D), torch.randn(40, 32, dtype=D)):  # input-side and weight-side paths
        torch.testing.assert_close(ours(x), model(x), atol=1e-12, rtol=0)
        torch.testing.assert_close(ours.merge()(x), model(x), atol=1e-12, rtol=0)


def test_weight_side_path_equals_the_input_side_path():
    # 40 rows > 24 outputs: the adapters rotate W's rows; compare with (x R) W^T, values and gradients
    base = nn.Linear(32, 24).double()
    for layer in (OFTLinear(base, block_size=8), BOFTLinear(base, 4, 3), HRALinear(base, 6)):
        randomize(layer.rotation, 3)
        x = torch.randn(5, 8, 32, dtype=D)
        y = layer(x)
        s = layer._scale()
        ref = nn.functional.linear(layer.rotation.rotate(x), base.weight) * (1.0 if s is None else s) + base.bias
        torch.testing.assert_close(y, ref, atol=1e-12, rtol=0)
        (g,) = torch.autograd.grad(y.square().sum(), layer.rotation.weight)
        (g_ref,) = torch.autograd.grad(ref.square().sum(), layer.rotation.weight)
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-10)


def test_adapters_freeze_the_base_and_train_the_rotation():
    base = nn.Linear(16, 4).double()
    layer = HRALinear(base, 4)
    layer(torch.randn(3, 16, dtype=D)).sum().backward()
    assert base.weight.grad is None and layer.rotation.weight.grad is not None


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="block_size must divide"):
        Cayley(10, 3)
    with pytest.raises(ValueError, match="exactly one"):
        OFTLinear(nn.Linear(8, 8), block_size=4, r=2)
    with pytest.raises(ValueError, match="1 <= r"):
        Householder(4, 5)
    with pytest.raises(ValueError, match="rounds"):
        Givens(4, rounds=9)
    with pytest.raises(ValueError, match="butterfly level"):
        Butterfly(12, 4, 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\)"):
        Cayley(8, 4).rotate(torch.randn(3, 6))
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\)"):
        HRALinear(nn.Linear(8, 4), 2)(torch.randn(3, 6))
    with pytest.raises(ValueError, match="nn.Linear"):
        HRALinear(nn.Conv1d(2, 2, 1), 1)
