import pytest
import torch
from e3nn import o3

from extremo.equivariant import D_from_matrix, Irrep, rand_matrix, wigner_3j, wigner_D
from extremo.equivariant.clebsch_gordan import _wigner_3j


def test_wigner_D_matches_e3nn_and_is_a_representation():
    torch.manual_seed(0)
    angles = o3.rand_angles(3, dtype=torch.float64)
    R = o3.angles_to_matrix(*angles)
    for l in range(11):
        D = wigner_D(l, R)
        # e3nn builds D from float32-stored generators (error ~1e-6); ours is exact, see below
        assert (D - o3.wigner_D(l, *angles)).abs().max() < 1e-5
        assert torch.allclose(wigner_D(l, R[0] @ R[1]), D[0] @ D[1], atol=1e-10)
        assert torch.allclose(D @ D.transpose(-1, -2), torch.eye(2 * l + 1, dtype=torch.float64).expand_as(D), atol=1e-10)
    assert torch.allclose(wigner_D(1, R), R, atol=1e-12)
    with pytest.raises(ValueError, match="3, 3"):
        wigner_D(1, torch.eye(4))


def test_rand_matrix_is_rotation():
    R = rand_matrix(100, dtype=torch.float64)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(100, 3, 3), atol=1e-12)
    assert torch.allclose(torch.det(R), torch.ones(100, dtype=torch.float64))


TRIPLES = [(l1, l2, l3) for l1 in range(4) for l2 in range(4) for l3 in range(abs(l1 - l2), l1 + l2 + 1)]
TRIPLES += [(5, 4, 3), (6, 6, 6), (2, 7, 8), (8, 8, 2)]  # e3nn's own wigner_3j is slow at high l


def test_wigner_3j_matches_e3nn():
    err = max((wigner_3j(*t, dtype=torch.float64) - o3.wigner_3j(*t, dtype=torch.float64)).abs().max().item() for t in TRIPLES)
    assert err < 1e-6


@pytest.mark.parametrize("l1,l2,l3", [(1, 1, 1), (2, 3, 4), (5, 5, 10), (10, 10, 0)])
def test_wigner_3j_invariant_and_normalised(l1, l2, l3):
    C = wigner_3j(l1, l2, l3, dtype=torch.float64)
    R = rand_matrix(dtype=torch.float64)
    D1, D2, D3 = (wigner_D(l, R) for l in (l1, l2, l3))
    rotated = torch.einsum("ia,jb,kc,abc->ijk", D1, D2, D3, C)
    assert torch.allclose(rotated, C, atol=1e-10)
    assert abs(C.norm().item() - 1) < 1e-14


def test_wigner_3j_cached_once_and_copied():
    _wigner_3j.cache_clear()
    a = wigner_3j(3, 2, 1)
    a.zero_()  # the caller's copy, not the cache
    b = wigner_3j(3, 2, 1)
    assert b.abs().sum() > 0 and _wigner_3j.cache_info().misses == 1 and _wigner_3j.cache_info().hits == 1
    assert wigner_3j(2, 2, 2, dtype=torch.float32).dtype == torch.float32


def test_wigner_3j_selection_rule_error():
    with pytest.raises(ValueError, match="triangle"):
        wigner_3j(1, 1, 3)


def test_irrep_parity_in_D():
    Q = -torch.eye(3, dtype=torch.float64)
    assert torch.allclose(D_from_matrix(Irrep("2o"), Q), -torch.eye(5, dtype=torch.float64))
    assert torch.allclose(D_from_matrix("1o", Q), Q)


def test_D_from_matrix_is_block_diagonal_and_checks_its_input():
    Q = rand_matrix(4, dtype=torch.float64) * -1.0  # reflections
    D = D_from_matrix("2x1o+1x2e", Q)
    assert D.shape == (4, 11, 11)
    for a, b in ((0, 3), (3, 6)):
        assert torch.allclose(D[:, a:b, a:b], Q, atol=1e-12)  # 1o: D(Q) = Q, also for det Q = -1
    assert torch.allclose(D[:, 6:, 6:], wigner_D(2, -Q))  # 2e: D(Q) = D^2(det(Q) Q)
    assert D[:, :6, 6:].abs().max() == 0 and D[:, 0:3, 3:6].abs().max() == 0
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        D_from_matrix("1o", torch.eye(2))
