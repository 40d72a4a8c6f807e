import pytest
import torch

from extremo.equivariant import Gate, Irreps, Linear, PointConvolution
from equivariance_helpers import assert_equivariant


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_equivariant_and_mixes_only_equal_irreps(dtype):
    lin = Linear("4x0e+3x1o+2x1e+1x1o", "5x0e+2x1o+3x2e", bias=True).to(dtype)
    x = torch.randn(7, lin.irreps_in.dim, dtype=dtype)
    assert_equivariant(lin, [x], [lin.irreps_in], lin.irreps_out)
    z = lin(x)
    assert z[:, -15:].abs().max() == 0  # 2e is not in the input
    x2 = x.clone()
    x2[:, 4 + 9 : 4 + 15] = 0  # the 1e block does not feed any output
    assert torch.equal(lin(x2), z)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gate_equivariant(dtype):
    gate = Gate("3x0e", "2x1o+1x2e+1x1e")
    assert gate.irreps_in == Irreps("3x0e+4x0e+2x1o+1x2e+1x1e") and gate.irreps_out == Irreps("3x0e+2x1o+1x2e+1x1e")
    x = torch.randn(6, gate.irreps_in.dim, dtype=dtype)
    assert_equivariant(gate, [x], [gate.irreps_in], gate.irreps_out)
    z = gate(x)
    assert torch.allclose(z[:, 3:6], torch.sigmoid(x[:, 3:4]) * x[:, 7:10])
    with pytest.raises(ValueError, match="even scalars"):
        Gate("1x0o", "1x1o")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_point_convolution_equivariant(dtype):
    torch.manual_seed(0)
    conv = PointConvolution("4x0e+3x1o+2x2e+1x1e", irreps_node="2x0e+1x1o", lmax=3, cutoff=2.5).to(dtype)
    pos = torch.randn(2, 9, 3, dtype=dtype)
    h = torch.randn(2, 9, conv.irreps_node.dim, dtype=dtype)
    assert_equivariant(lambda p, f: conv(p, f), [pos, h], ["1o", conv.irreps_node], conv.irreps_out)


def test_point_convolution_invariances_and_gradients():
    torch.manual_seed(1)
    conv = PointConvolution("4x0e+2x1o", lmax=2, cutoff=2.0).double()
    pos = torch.randn(8, 3, dtype=torch.float64)
    z = conv(pos)
    assert z.shape == (8, conv.irreps_out.dim)
    assert torch.allclose(conv(pos + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)), z, atol=1e-12)
    perm = torch.randperm(8)
    assert torch.allclose(conv(pos[perm]), z[perm], atol=1e-12)
    far = torch.cat([pos, torch.tensor([[50.0, 0, 0]], dtype=torch.float64)])  # beyond the cutoff
    assert torch.allclose(conv(far)[:8] * (8 / 7) ** 0.5, z, atol=1e-12)
    pos.requires_grad_(True)
    conv(pos).pow(2).sum().backward()
    assert torch.isfinite(pos.grad).all()
    with pytest.raises(ValueError, match=r"\(\.\.\., n, 3\)"):
        conv(torch.zeros(5, 2))
    with pytest.raises(ValueError, match="can be reached"):
        PointConvolution("1x1e", lmax=2)
