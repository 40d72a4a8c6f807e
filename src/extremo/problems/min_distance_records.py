"""Best known values for ``points-min-distance`` (citations, not configurations).

Every table holds the published figure in the unit the source uses; the problem converts
them to its value, the minimum distance ``D`` of ``n`` points in ``[0, 1]^d``. The two
figures are equivalent: ``n`` equal spheres of radius ``r`` fit in the unit cube exactly when
their centres, scaled from ``[r, 1 - r]^d`` to ``[0, 1]^d``, are ``D = 2r / (1 - 2r)`` apart,
i.e. ``r = D / (2 (1 + D))`` and the sphere diameter is ``2r = D / (1 + D)``.
"""

from __future__ import annotations

import math

#: Packomania, "circles in squares" (E. Specht), column "distance": the largest known minimum
#: distance of n points in the unit square. Closed forms where they are classical (N <= 9,
#: 16, 25, 36); N = 10..49 the table's distance column as parsed to float64 from
#: hydra.nat.uni-magdeburg.de/packing/csq/csq.html (agrees with the 12-decimal printout);
#: N = 50, 60 the 12-decimal printout (packomania.com/csq/txt/distance.txt). Read 2026-11.
#: Optimality is proven for N <= 30 (Nurmela and Oestergard 1997; Markot and Csendes 2005;
#: see Szabo, Markot, Csendes, Specht, Casado, Garcia, "New Approaches to Circle Packing in a
#: Square", Springer 2007) and for N = 36.
SQUARE_DISTANCE: dict[int, float] = {
    2: math.sqrt(2.0),
    3: math.sqrt(6.0) - math.sqrt(2.0),
    4: 1.0,
    5: math.sqrt(2.0) / 2,
    6: math.sqrt(13.0) / 6,
    7: 4.0 - 2.0 * math.sqrt(3.0),
    8: (math.sqrt(6.0) - math.sqrt(2.0)) / 2,
    9: 0.5,
    10: 0.42127954398390344,
    11: 0.3982073102368442,
    12: 0.38873012632302,
    13: 0.3660960076964251,
    14: 0.3489152603740189,
    15: 0.34108137740210887,
    16: 1.0 / 3.0,
    17: 0.30615398530033294,
    18: 0.3004626062886658,
    19: 0.28954199199498165,
    20: 0.28661165235168157,
    21: 0.2718122553593071,
    22: 0.26795840155071676,
    23: 0.25881904510252074,
    24: 0.2543330950302498,
    25: 0.25,
    26: 0.23873475724121662,
    27: 0.2358495283014151,
    28: 0.23053549364266748,
    29: 0.22688290074420908,
    30: 0.22450296453108828,
    31: 0.21754729161912445,
    32: 0.21317456258987652,
    33: 0.21132838414326313,
    34: 0.20560464675956822,
    35: 0.20276360086322706,
    36: 0.2,
    37: 0.196429184629569,
    38: 0.1953423041269059,
    39: 0.19436506316151,
    40: 0.18817552201831544,
    41: 0.18609951184812457,
    42: 0.18427707211709893,
    43: 0.18019113545742596,
    44: 0.1786392456712009,
    45: 0.17571631417558983,
    46: 0.1744593608724132,
    47: 0.17127056382298722,
    48: 0.1694054293702881,
    49: 0.1673860768683254,
    50: 0.166526577344,
    60: 0.149505654049,
}
SQUARE_PROVEN = set(range(2, 31)) | {36}
SQUARE_SOURCE = "Packomania, circles in squares, distance column (E. Specht)"
SQUARE_DATE = "2026-11"

#: Spheres in the unit cube, proven optimal minimum distances: Schaer (1966, Canad. Math.
#: Bull. 9, 265-270, and the companion notes on five and six spheres) for N = 2, 3, 4, 5, 6,
#: 8, 9 (the eight corners; the corners plus the centre).
CUBE_EXACT_DISTANCE: dict[int, float] = {
    2: math.sqrt(3.0),
    3: math.sqrt(2.0),
    4: math.sqrt(2.0),
    5: math.sqrt(5.0) / 2,
    6: 3.0 * math.sqrt(2.0) / 4,
    8: 1.0,
    9: math.sqrt(3.0) / 2,
}
CUBE_EXACT_SOURCE = "Schaer (1966), Canad. Math. Bull. 9; see Gensane (2004), Electron. J. Combin. 11 #R33"

#: Spheres in the unit cube, best known *sphere diameter* 2r as FlowBoost lists it (Berczi,
#: Hashemi, Kluever, "Flow-based Extremal Mathematical Structure Discovery", arXiv 2601.18005,
#: 2026-01, the best known values of Packomania's "spheres in cubes" section). FlowBoost's
#: objective is the common diameter of spheres inside the unit cube (centres at least one
#: radius from the walls), not the centre distance: D = 2r / (1 - 2r). Six digits only.
#: FlowBoost itself reached 0.261231, 0.232539, 0.180671.
CUBE_DIAMETER: dict[int, float] = {
    55: 0.262437,
    83: 0.232570,
    191: 0.180980,
}
CUBE_DIAMETER_SOURCE = "Packomania spheres in cubes (E. Specht), as listed by FlowBoost (arXiv 2601.18005)"
CUBE_DIAMETER_DATE = "2026-01"
