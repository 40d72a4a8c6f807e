import pytest
import torch
from e3nn import o3

from extremo.equivariant import D_from_matrix, Irrep, Irreps

CASES = ["8x0e+4x1o+2x2e", "0e", "3x1e + 2x0o", "16x0e+16x1o+16x2e+16x3o", "1x2y+5x3y", ""]


@pytest.mark.parametrize("text", CASES)
def test_parse_print_dims_slices_match_e3nn(text):
    ours, ref = Irreps(text), o3.Irreps(text)
    assert str(ours) == str(ref)
    assert Irreps(str(ours)) == ours
    assert ours.dim == ref.dim and ours.num_irreps == ref.num_irreps
    assert ours.slices() == ref.slices()
    assert ours.ls == ref.ls
    if len(ref):
        assert ours.lmax == ref.lmax
        assert str(ours.regroup()) == str(ref.regroup())
        assert ours.sort()[1] == ref.sort().p


def test_operations():
    irreps = Irreps("8x0e + 4x1o + 2x2e")
    assert (irreps.dim, irreps.num_irreps, irreps.lmax) == (30, 14, 2)
    assert irreps[1:] == Irreps("4x1o+2x2e") and irreps.slices()[1] == slice(8, 20)
    assert irreps + "1x0e" == Irreps("8x0e+4x1o+2x2e+1x0e")
    assert (irreps + "3x0e").simplify() == irreps + "3x0e"
    assert Irreps("2x0e+3x0e").simplify() == Irreps("5x0e")
    assert irreps.count("1o") == 4 and "2e" in irreps and "2o" not in irreps
    assert list(Irrep("1o") * Irrep("1o")) == [Irrep(0, 1), Irrep(1, 1), Irrep(2, 1)]
    assert Irreps.spherical_harmonics(3) == Irreps("0e+1o+2e+3o")
    assert Irrep("3y") == Irrep(3, -1) and Irreps([(2, (1, -1))]) == Irreps("2x1o")


@pytest.mark.parametrize("bad", ["8x", "4x1q", "x1o", "1.5x0e", "2x-1e", "1o+"])
def test_bad_strings_raise_clear_error(bad):
    with pytest.raises(ValueError, match="cannot parse"):
        Irreps(bad)


def test_feature_size_checked():
    with pytest.raises(ValueError, match="have dim 4"):
        Irreps("0e+1o").check_features(torch.zeros(2, 5))


def test_D_is_a_representation_of_O3():
    from extremo.equivariant import rand_orthogonal

    irreps = Irreps("2x0o+1x1e+1x2o+1x3e")
    Q1, Q2 = rand_orthogonal(2, dtype=torch.float64).unbind(0)
    def D(Q):
        return D_from_matrix(irreps, Q)

    assert torch.allclose(D(Q1 @ Q2), D(Q1) @ D(Q2), atol=1e-12)
    assert torch.allclose(D(Q1) @ D(Q1).T, torch.eye(irreps.dim, dtype=torch.float64), atol=1e-12)
    ref = o3.Irreps(str(irreps)).D_from_matrix(Q1)
    assert torch.allclose(D(Q1), ref, atol=1e-5)  # e3nn's D is accurate to ~1e-6
