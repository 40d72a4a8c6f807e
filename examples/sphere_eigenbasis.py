"""Learned eigenbasis of 2,000 uniform samples of S^2 (no mesh, operator or eigensolver).

    python examples/sphere_eigenbasis.py [--out docs/img/spectral_sphere_basis.png]

Prints the eigenvalues and the largest principal angle to the degree <= 2 spherical harmonics and
draws the first 9 learned functions.
"""

from __future__ import annotations

import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from extremo.equivariant import spherical_harmonics
from extremo.spectral import LearnedEigenbasis


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", default="docs/img/spectral_sphere_basis.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x = torch.randn(args.n, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    basis = LearnedEigenbasis(9).fit(x)
    phi = torch.as_tensor(basis.transform(x)).double()
    root = torch.as_tensor(basis.measure_).sqrt()[:, None]
    q1 = torch.linalg.qr(root * phi)[0]
    q2 = torch.linalg.qr(root * spherical_harmonics([0, 1, 2], x))[0]
    angle = math.degrees(math.acos(min(1.0, float(torch.linalg.svdvals(q1.T @ q2).min()))))
    lam = basis.eigenvalues_
    print(f"fit {basis.fit_time_:.1f} s; eigenvalues {', '.join(f'{v:.2f}' for v in lam)}")
    print(f"largest principal angle to Y_l, l <= 2: {angle:.2f} deg; mean(l=2)/mean(l=1) = {lam[4:9].mean() / lam[1:4].mean():.3f}")
    fig = plt.figure(figsize=(12, 4.2))
    for j in range(9):
        ax = fig.add_subplot(1, 9, j + 1, projection="3d")
        front = x[:, 0] > -0.2
        ax.scatter(*x[front].T.numpy(), c=phi[front, j].numpy(), cmap="coolwarm", s=4)
        ax.set_title(f"$\\phi_{j}$, $\\lambda$={lam[j]:.2f}", fontsize=8)
        ax.set_axis_off()
        ax.view_init(elev=20, azim=0)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
