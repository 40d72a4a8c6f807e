r"""Real Clebsch-Gordan coefficients (Wigner 3j symbols in the real basis), exact and cached.

For $|l_1 - l_2| \le l_3 \le l_1 + l_2$, $C^{l_1 l_2 l_3}$ of shape
``(2l1+1, 2l2+1, 2l3+1)`` is the invariant tensor, unique up to sign,

$$
C_{ijk} = \sum D^{l_1}_{ii'}(R)\, D^{l_2}_{jj'}(R)\, D^{l_3}_{kk'}(R)\, C_{i'j'k'},
\qquad \sum_{ijk} C_{ijk}^2 = 1,
$$

for the real Wigner matrices of `.wigner`. Construction: the Racah formula gives the
complex Clebsch-Gordan coefficients as ``sign * sqrt(rational)``, evaluated in exact integer
arithmetic; they give the 3j symbol $\begin{pmatrix}l_1&l_2&l_3\\m_1&m_2&m_3\end{pmatrix}$,
which is rotated into the real basis $Y^{\mathbb R} = U Y^{\mathbb C}$:

$$
C = \operatorname{Re}\big[(-i)^{l_1+l_2+l_3} (U_1\otimes U_2\otimes U_3)\, (3j)\big] / \|\cdot\|.
$$

The phase $(-i)^{l_1+l_2+l_3}$ makes the tensor real; with it the signs coincide with
``e3nn.o3.wigner_3j``. Each tensor is computed once (float64) and cached.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

__all__ = ["wigner_3j", "clebsch_gordan_complex", "real_to_complex"]


def _check_triangle(l1: int, l2: int, l3: int) -> None:
    if min(l1, l2, l3) < 0 or not abs(l1 - l2) <= l3 <= l1 + l2:
        raise ValueError(
            f"degrees ({l1}, {l2}, {l3}) violate the triangle rule |l1 - l2| <= l3 <= l1 + l2; "
            "no invariant coupling exists"
        )


@lru_cache(maxsize=None)
def clebsch_gordan_complex(j1: int, m1: int, j2: int, m2: int, J: int, M: int) -> float:
    r"""Condon-Shortley $\langle j_1 m_1 j_2 m_2 | J M\rangle$ by the Racah formula, exact then rounded."""
    if m1 + m2 != M or abs(m1) > j1 or abs(m2) > j2 or abs(M) > J or not abs(j1 - j2) <= J <= j1 + j2:
        return 0.0
    f = math.factorial
    a_num = (2 * J + 1) * f(J + j1 - j2) * f(J - j1 + j2) * f(j1 + j2 - J)
    a_num *= f(J + M) * f(J - M) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)
    a_den = f(j1 + j2 + J + 1)
    dens, signs = [], []
    for k in range(j1 + j2 - J + 1):
        den = (k, j1 + j2 - J - k, j1 - m1 - k, j2 + m2 - k, J - j2 + m1 + k, J - j1 - m2 + k)
        if min(den) >= 0:
            dens.append(math.prod(f(d) for d in den))
            signs.append((-1) ** k)
    if not dens:
        return 0.0
    common = math.lcm(*dens)
    s = sum(sign * (common // den) for sign, den in zip(signs, dens))
    if s == 0:
        return 0.0
    # sqrt(a) s / common = sign(s) sqrt(a s^2 / common^2); integer true division rounds once.
    return math.copysign(math.sqrt((a_num * s * s) / (a_den * common * common)), s)


@lru_cache(maxsize=None)
def real_to_complex(l: int) -> np.ndarray:
    r"""``U`` ``(2l+1, 2l+1)`` with $Y^{\mathbb R}_{m} = \sum_{m'} U_{mm'} Y^{\mathbb C}_{m'}$ (indices ``m + l``).

    From $Y_{l,\pm m}^{\mathbb R} = \sqrt 2 (-1)^m (\operatorname{Re}, \operatorname{Im}) Y_l^m$
    and $Y_l^{-m} = (-1)^m \overline{Y_l^m}$ (Condon-Shortley phase).
    """
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=np.complex128)
    u[l, l] = 1.0
    r = 1 / math.sqrt(2)
    for m in range(1, l + 1):
        u[l + m, l + m], u[l + m, l - m] = (-1) ** m * r, r
        u[l - m, l - m], u[l - m, l + m] = 1j * r, -1j * (-1) ** m * r
    return u


@lru_cache(maxsize=None)
def _wigner_3j(l1: int, l2: int, l3: int) -> torch.Tensor:
    three_j = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * l3 + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(max(-l2, -l3 - m1), min(l2, l3 - m1) + 1):
            m3 = -m1 - m2
            three_j[l1 + m1, l2 + m2, l3 + m3] = (
                (-1) ** (l1 - l2 - m3) / math.sqrt(2 * l3 + 1) * clebsch_gordan_complex(l1, m1, l2, m2, l3, -m3)
            )
    c = np.einsum("kc,abc->abk", real_to_complex(l3), three_j)
    c = np.einsum("jb,abk->ajk", real_to_complex(l2), c)
    c = np.einsum("ia,ajk->ijk", real_to_complex(l1), c)
    c = ((-1j) ** (l1 + l2 + l3) * c).real
    c /= np.linalg.norm(c)
    out = torch.from_numpy(c)
    out.requires_grad_(False)
    return out


def wigner_3j(l1: int, l2: int, l3: int, dtype=None, device=None) -> torch.Tensor:
    """Real Clebsch-Gordan tensor ``(2l1+1, 2l2+1, 2l3+1)`` (a fresh copy of the cached float64 table)."""
    _check_triangle(l1, l2, l3)
    return _wigner_3j(l1, l2, l3).to(dtype=dtype or torch.get_default_dtype(), device=device, copy=True)
