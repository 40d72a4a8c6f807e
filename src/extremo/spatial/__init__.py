"""Spatial data structures below the problems: neighbour lists for pair terms at large n."""

from extremo.spatial.neighbors import NeighborList, all_pairs, build, closest_pair, pairs_within
from extremo.spatial.pairs import DENSE_BELOW, PairIndex, Pairs, squared_distance

__all__ = ["DENSE_BELOW", "NeighborList", "PairIndex", "Pairs", "all_pairs", "build", "closest_pair", "pairs_within",
           "squared_distance"]
