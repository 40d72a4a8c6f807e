r"""Gaunt tensor products: multiply the spherical functions that two features describe.

Read the channel ``u`` of a feature as the function $f_u = \sum_{lm} x_{u,lm} Y_{lm}$ on the
sphere (``Y`` orthonormal). The Gaunt tensor product returns the harmonic coefficients of the
pointwise product, up to degree ``L_out`` and scaled by $\sqrt{4\pi}$ (so scalar times
scalar is the ordinary product):

$$
z_{u, l_3 m_3} = \sqrt{4\pi} \sum G^{l_3 m_3}_{l_1 m_1, l_2 m_2} x_{u, l_1 m_1} y_{u, l_2 m_2},
\qquad G = \int_{S^2} Y_{l_1 m_1} Y_{l_2 m_2} Y_{l_3 m_3} \, d\Omega .
$$

Since $G^{l_1 l_2 l_3} = g_{l_1 l_2 l_3} C^{l_1 l_2 l_3}$ with the Clebsch-Gordan tensor ``C``
and $g = \sqrt{(2l_1+1)(2l_2+1)(2l_3+1)/4\pi}\,\begin{pmatrix}l_1&l_2&l_3\\0&0&0\end{pmatrix}$
(up to the sign convention of ``C``), this is a Clebsch-Gordan tensor product with fixed path
weights. The 3j symbol with zero ``m`` vanishes for odd $l_1+l_2+l_3$: **only the
parity-even paths exist**; e.g. the cross product ``1o x 1o -> 1e`` cannot be expressed.

Learnable weights act per channel and per degree on both inputs and the output (Luo et al.,
ICLR 2024), ``z = w_3 * Gaunt(w_1 * x, w_2 * y)``, initialised to one.

Two exact evaluations, for band limits ``L1``, ``L2``, ``L_out``:

* ``method="grid"`` (Xie et al., "The Price of Freedom", ICML 2025): evaluate both functions on
  the product quadrature of `.s2grid` of degree ``L1 + L2 + L_out``, multiply, project back
  with the quadrature weights. Two dense GEMMs per input, cost ``O(L^4)`` per channel, which on
  CPU for ``L <= 10`` beats the asymptotically cheaper transforms.
* ``method="fourier"`` (Luo et al., "Enabling Efficient Equivariant Operations in the Fourier Basis
  via Gaunt Tensor Products", ICLR 2024): write $Y_{lm}(\theta,\varphi)$ in the 2-D Fourier
  basis $e^{i(u\theta + v\varphi)}$, one sparse (per ``|m|``) change of basis ``O(L^3)``,
  multiply by FFT convolution ``O(L^2 \log L)``, and project back with the exact integrals
  $\int_0^\pi e^{ik\theta} g_{lm}(\theta) \sin\theta \, d\theta$ ``O(L^3)``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import torch
from torch import nn

from .irreps import Irreps
from .s2grid import s2_quadrature
from .spherical_harmonics import legendre_table, sh_index, spherical_harmonics

__all__ = ["GauntTensorProduct", "gaunt_coefficients"]

_METHODS = ("grid", "fourier")


@lru_cache(maxsize=None)
def _gaunt(l1: int, l2: int, l3: int) -> torch.Tensor:
    grid = s2_quadrature(l1 + l2 + l3)
    pts, w = grid.points.reshape(-1, 3), grid.weights.reshape(-1)
    y1, y2, y3 = (spherical_harmonics(l, pts) for l in (l1, l2, l3))
    return torch.einsum("p,pi,pj,pk->ijk", w, y1, y2, y3)


def gaunt_coefficients(l1: int, l2: int, l3: int, dtype=None, device=None) -> torch.Tensor:
    r"""Real Gaunt coefficients $\int Y_{l_1 m_1} Y_{l_2 m_2} Y_{l_3 m_3}$ ``(2l1+1, 2l2+1, 2l3+1)``.

    Computed once by exact quadrature (float64) and cached.
    """
    return _gaunt(l1, l2, l3).to(dtype=dtype or torch.get_default_dtype(), device=device, copy=True)


def _fft_size(n: int) -> int:
    """Smallest ``>= n`` with only factors 2, 3, 5 (fast FFT sizes)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _check_irreps(irreps: Irreps, name: str):
    """``(mul, parity, degrees)`` of a Gaunt input: one block per degree, one multiplicity, parity ``p (-1)^l``."""
    if len(irreps) == 0:
        raise ValueError(f"{name} is empty")
    muls = {mul for mul, _ in irreps}
    ls = [ir.l for _, ir in irreps]
    ps = {ir.p * (-1) ** ir.l for _, ir in irreps}
    if len(muls) != 1 or len(set(ls)) != len(ls) or len(ps) != 1:
        raise ValueError(
            f"{name} = {irreps} does not describe functions on the sphere: the Gaunt product needs one block "
            "per degree, the same multiplicity (channels) for every degree and parity p*(-1)^l for a fixed p, "
            "e.g. '16x0e+16x1o+16x2e' (p=+1) or '16x0o+16x1e' (p=-1)"
        )
    return muls.pop(), ps.pop(), ls


class GauntTensorProduct(nn.Module):
    """Channel-wise Gaunt tensor product ``(x, y) -> z`` (see module doc for the math).

    Args:
        irreps_in1: ``U x`` each degree, parity ``p1 (-1)^l``, e.g. ``"16x0e+16x1o+16x2e"``.
        irreps_in2: as ``irreps_in1`` with ``U`` or 1 channel (1: broadcast to every channel).
        irreps_out: ``U x`` each wanted degree with parity ``p1 p2 (-1)^l``; default: degrees
            ``0..max(L1, L2)``.
        method: ``"grid"`` or ``"fourier"``; both exact, same result to rounding.
        internal_weights: learnable per-channel per-degree weights (default); if False, pass
            ``weight`` ``(..., weight_numel)`` to `forward`.
        weighted: if False, no weights at all (the bare Gaunt product).

    Shapes: ``x`` ``(..., irreps_in1.dim)``, ``y`` ``(..., irreps_in2.dim)``, ``z`` ``(..., irreps_out.dim)``.
    """

    def __init__(
        self,
        irreps_in1,
        irreps_in2,
        irreps_out=None,
        method: str = "grid",
        internal_weights: bool = True,
        weighted: bool = True,
    ):
        super().__init__()
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
        self.irreps_in1, self.irreps_in2 = Irreps(irreps_in1), Irreps(irreps_in2)
        mul, p1, ls1 = _check_irreps(self.irreps_in1, "irreps_in1")
        mul2, p2, ls2 = _check_irreps(self.irreps_in2, "irreps_in2")
        if mul2 not in (1, mul):
            raise ValueError(f"irreps_in2 needs {mul} channels (as irreps_in1) or 1, got {mul2} in {self.irreps_in2}")
        if irreps_out is None:
            irreps_out = Irreps([(mul, (l, p1 * p2 * (-1) ** l)) for l in range(max(max(ls1), max(ls2)) + 1)])
        self.irreps_out = Irreps(irreps_out)
        mul_out, p_out, ls_out = _check_irreps(self.irreps_out, "irreps_out")
        if mul_out != mul or p_out != p1 * p2:
            want = "+".join(f"{mul}x{l}{'e' if p1 * p2 * (-1) ** l == 1 else 'o'}" for l in sorted(ls_out))
            raise ValueError(
                f"irreps_out = {self.irreps_out} is not reachable: the Gaunt product keeps the {mul} channels and "
                f"has parity p1*p2*(-1)^l; use e.g. '{want}'"
            )
        self.method, self.mul, self.mul2 = method, mul, mul2
        self.ls1, self.ls2, self.ls_out = ls1, ls2, ls_out
        self.L1, self.L2, self.L_out = max(ls1), max(ls2), max(ls_out)

        self.weighted = weighted
        n1, n2, n3 = (self.L1 + 1) * mul, (self.L2 + 1) * mul2, (self.L_out + 1) * mul
        self._weight_sizes = (n1, n2, n3)
        self.weight_numel = n1 + n2 + n3 if weighted else 0
        if weighted and internal_weights:
            self.weight = nn.Parameter(torch.ones(self.weight_numel))
        else:
            self.register_parameter("weight", None)
        self.internal_weights = internal_weights

        dtype = torch.float64  # exact tables; cast to the input dtype per call
        for name, L in (("deg1", self.L1), ("deg2", self.L2), ("deg_out", self.L_out)):
            self.register_buffer(name, torch.tensor([l for l in range(L + 1) for _ in range(2 * l + 1)]), persistent=False)
        if method == "grid":
            grid = s2_quadrature(self.L1 + self.L2 + self.L_out)
            pts, w = grid.points.reshape(-1, 3), grid.weights.reshape(-1)
            sh = {L: spherical_harmonics(list(range(L + 1)), pts) for L in {self.L1, self.L2, self.L_out}}
            self.register_buffer("to_grid1", sh[self.L1].T.contiguous().to(dtype), persistent=False)
            self.register_buffer("to_grid2", sh[self.L2].T.contiguous().to(dtype), persistent=False)
            from_grid = sh[self.L_out] * (w[:, None] * math.sqrt(4 * math.pi))
            self.register_buffer("from_grid", from_grid.contiguous().to(dtype), persistent=False)
        else:
            self._build_fourier(dtype)

    def _build_fourier(self, dtype) -> None:
        L1, L2, Lo = self.L1, self.L2, self.L_out
        self.n_theta = _fft_size(2 * (L1 + L2) + 1)
        self.n_phi = _fft_size(L1 + L2 + Lo + 1)
        self.n_phi_half = self.n_phi // 2 + 1
        lmax = max(L1, L2, Lo) + 1
        # Fourier coefficients in theta of g_lm(theta) and of g_lm(theta) sin(theta), exact by FFT.
        m_samples = 2 * lmax + 2
        theta = torch.arange(m_samples, dtype=torch.float64) * (2 * math.pi / m_samples)
        g = legendre_table(lmax, theta)  # (M, l, m)
        coef = torch.fft.fft(g.to(torch.complex128), dim=0) / m_samples  # u mod M
        coef_sin = torch.fft.fft((g * torch.sin(theta)[:, None, None]).to(torch.complex128), dim=0) / m_samples

        def freq(u: int, M: int) -> int:
            return u % M

        n_t = self.n_theta
        for name, L in (("fwd1", L1), ("fwd2", L2)):
            # per m >= 0: [x_{l,m} (l=0..L), x_{l,-m} (l=0..L)] -> [Re F(u), Im F(u)] with u in FFT layout
            A = torch.zeros(L + 1, 2 * (L + 1), 2 * n_t, dtype=torch.float64)
            for m in range(L + 1):
                for l in range(m, L + 1):
                    for u in range(-l, l + 1):
                        c = coef[freq(u, m_samples), l, m]
                        col = u % n_t
                        if m == 0:
                            A[m, l, col] += c.real
                            A[m, l, n_t + col] += c.imag
                        else:
                            A[m, l, col] += c.real / 2
                            A[m, L + 1 + l, col] += c.imag / 2
                            A[m, l, n_t + col] += c.imag / 2
                            A[m, L + 1 + l, n_t + col] += -c.real / 2
            self.register_buffer(name, A.to(dtype), persistent=False)
            self.register_buffer(name + "_index", self._sh_gather_index(L), persistent=False)

        # Back: z'_{l,+-m} = 2 pi (Re, -Im) sum_u H(u, m) K_lm(u), K_lm(u) = sum_u' d_lmu' I(u + u'),
        # I(k) = int_0^pi e^{ik theta} = pi (k = 0), 2i/k (k odd), 0 (k even).
        span = L1 + L2 + 1 + lmax
        ks = torch.arange(-2 * span, 2 * span + 1)
        integral = torch.zeros(ks.shape, dtype=torch.complex128)
        integral[ks == 0] = math.pi
        odd = ks % 2 == 1
        integral[odd] = 2j / ks[odd].to(torch.complex128)
        scale = 2 * math.pi * math.sqrt(4 * math.pi)
        B = torch.zeros(Lo + 1, 2 * n_t, 2 * (Lo + 1), dtype=torch.float64)
        for m in range(Lo + 1):
            for l in range(m, Lo + 1):
                for u in range(-(L1 + L2), L1 + L2 + 1):
                    K = 0j
                    for up in range(-(l + 1), l + 2):
                        K += complex(coef_sin[freq(up, m_samples), l, m]) * complex(integral[u + up + 2 * span])
                    row = u % n_t
                    B[m, row, l] += scale * K.real
                    B[m, n_t + row, l] += -scale * K.imag
                    if m > 0:
                        B[m, row, Lo + 1 + l] += -scale * K.imag
                        B[m, n_t + row, Lo + 1 + l] += -scale * K.real
        self.register_buffer("bwd", B.to(dtype), persistent=False)
        # position of each (l, m) of the output in the flattened (m, [+m | -m], l) layout
        out_index = torch.zeros((Lo + 1) ** 2, dtype=torch.long)
        for l in range(Lo + 1):
            for m in range(-l, l + 1):
                out_index[sh_index(l, m)] = abs(m) * 2 * (Lo + 1) + (Lo + 1 if m < 0 else 0) + l
        self.register_buffer("bwd_index", out_index, persistent=False)

    @staticmethod
    def _sh_gather_index(L: int) -> torch.Tensor:
        """``(L+1, 2(L+1))`` positions in the SH vector (``(L+1)^2`` = a zero slot) for the per-m layout."""
        zero = (L + 1) ** 2
        idx = torch.full((L + 1, 2 * (L + 1)), zero, dtype=torch.long)
        for m in range(L + 1):
            for l in range(m, L + 1):
                idx[m, l] = sh_index(l, m)
                if m > 0:
                    idx[m, L + 1 + l] = sh_index(l, -m)
        return idx

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.irreps_in1} x {self.irreps_in2} -> {self.irreps_out}, method={self.method})"

    def _to_channels(self, x: torch.Tensor, irreps: Irreps, mul: int, L: int) -> torch.Tensor:
        """``(B, irreps.dim)`` -> ``(B, mul, (L+1)^2)``, missing degrees zero."""
        blocks = {ir.l: x[:, sl].reshape(x.shape[0], mul, ir.dim) for (_, ir), sl in zip(irreps, irreps.slices())}
        parts = [blocks[l] if l in blocks else x.new_zeros(x.shape[0], mul, 2 * l + 1) for l in range(L + 1)]
        return torch.cat(parts, dim=-1)

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        self.irreps_in1.check_features(x, "x")
        self.irreps_in2.check_features(y, "y")
        if self.weighted and weight is None:
            if self.weight is None:
                raise ValueError(f"internal_weights=False: pass weight of shape (..., {self.weight_numel})")
            weight = self.weight
        lead = torch.broadcast_shapes(
            x.shape[:-1], y.shape[:-1], () if weight is None or weight.dim() == 1 else weight.shape[:-1]
        )
        dtype = torch.promote_types(x.dtype, y.dtype)
        x = x.to(dtype).expand(lead + x.shape[-1:]).reshape(-1, x.shape[-1])
        y = y.to(dtype).expand(lead + y.shape[-1:]).reshape(-1, y.shape[-1])
        batch = x.shape[0]
        xs = self._to_channels(x, self.irreps_in1, self.mul, self.L1)
        ys = self._to_channels(y, self.irreps_in2, self.mul2, self.L2)
        w3 = None
        if self.weighted:
            if weight.shape[-1] != self.weight_numel:
                raise ValueError(f"weight has last dimension {weight.shape[-1]}, expected {self.weight_numel}")
            weight = weight.to(dtype)
            if weight.dim() > 1:
                weight = weight.expand(lead + weight.shape[-1:]).reshape(batch, -1)
            w1, w2, w3 = torch.split(weight, self._weight_sizes, dim=-1)
            w1 = w1.reshape(w1.shape[:-1] + (self.mul, self.L1 + 1))
            w2 = w2.reshape(w2.shape[:-1] + (self.mul2, self.L2 + 1))
            w3 = w3.reshape(w3.shape[:-1] + (self.mul, self.L_out + 1))
            xs = xs * w1[..., self.deg1]
            ys = ys * w2[..., self.deg2]
        z = self._grid(xs, ys) if self.method == "grid" else self._fourier(xs, ys)
        if w3 is not None:
            z = z * w3[..., self.deg_out]
        parts = [z[..., l * l : (l + 1) ** 2].reshape(batch, -1) for l in self.ls_out]
        return torch.cat(parts, dim=-1).reshape(lead + (self.irreps_out.dim,))

    def _grid(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        dtype = xs.dtype
        fx = xs @ self.to_grid1.to(dtype)
        fy = ys @ self.to_grid2.to(dtype)
        return (fx * fy) @ self.from_grid.to(dtype)

    def _spectrum(self, s: torch.Tensor, A: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """SH coefficients ``(B, U, (L+1)^2)`` -> half 2-D spectrum ``(B, U, n_theta, n_phi_half)``."""
        padded = torch.nn.functional.pad(s, (0, 1))
        per_m = padded[..., index]  # (B, U, m, 2(L+1))
        f = torch.einsum("bumj,mjk->bumk", per_m, A.to(s.dtype))  # (B, U, m, 2 n_theta)
        re, im = f.split(self.n_theta, dim=-1)
        spec = torch.complex(re, im).transpose(-1, -2)  # (B, U, n_theta, m)
        return torch.nn.functional.pad(spec, (0, self.n_phi_half - spec.shape[-1]))

    def _fourier(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        size = (self.n_theta, self.n_phi)
        gx = torch.fft.irfft2(self._spectrum(xs, self.fwd1, self.fwd1_index), s=size, norm="forward")
        gy = torch.fft.irfft2(self._spectrum(ys, self.fwd2, self.fwd2_index), s=size, norm="forward")
        h = torch.fft.rfft2(gx * gy, norm="forward")[..., : self.L_out + 1]  # (B, U, n_theta, m)
        h = torch.cat([h.real, h.imag], dim=-2).transpose(-1, -2)  # (B, U, m, 2 n_theta)
        z = torch.einsum("bumk,mkj->bumj", h, self.bwd.to(h.dtype))  # (B, U, m, 2(Lo+1))
        return z.flatten(-2)[..., self.bwd_index]
