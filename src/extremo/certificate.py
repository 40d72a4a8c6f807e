"""Certified new records: an exact rational check before anything is called a record.

`certify` takes a configuration that the float64 verifier accepts and asks its problem
for an exact check (`extremo.problems.base.Problem.exact_check`): the minimal slack of
every constraint family and the value, all in `fractions.Fraction`, without tolerance.
It *beats* the stored record only if the configuration is exactly feasible and its exact value
is better than every number that rounds to the published one: for a maximum,

    value > printed + resolution        (resolution: one unit in the last printed digit,
                                         as tables round or truncate),

and for a minimum ``value < printed - resolution``; an exact closed form counts with 1e-12
relative. For a distance (the value is ``sqrt(q)``) the comparison is ``q`` against the
squared bound. `write_certificate` writes ``<name>.certificate.json`` next to the
configuration: the exact slacks and value (as ``p/q`` strings, and rounded once to float64),
the record with its source and date, the exact margin, and the verdict.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from extremo.io import read_configuration, replace_atomically
from extremo.problems import Problem, ProblemError
from extremo.problems.base import Configuration, Record
from extremo.problems.exact_check import ExactCheck, sqrt_rounded


@dataclass(frozen=True)
class Certificate:
    """The exact verdict on one configuration against the stored record."""

    problem: Problem
    check: ExactCheck
    record: Record | None
    #: exact ``value - bound`` (max) or ``bound - value`` (min), in the checked quantity
    #: (squared for distances); ``None`` without a record
    margin: Fraction | None

    @property
    def feasible(self) -> bool:
        return self.check.feasible

    @property
    def beats(self) -> bool:
        """Exactly feasible and strictly better than every value that rounds to the record."""
        return self.feasible and self.margin is not None and self.margin > 0

    def document(self) -> dict[str, Any]:
        c, rec = self.check, self.record
        return {
            "problem": self.problem.name,
            "instance": self.problem.instance,
            "label": self.problem.label,
            "exactly_feasible": c.feasible,
            "minimal_slacks": {k: {"exact": str(v), "float": float(v),
                                   "required": "> 0" if k in c.strict else ">= 0"} for k, v in c.slacks.items()},
            "value": {"exact": f"sqrt({c.value})" if c.squared else str(c.value), "rounded_once": c.rounded,
                      "name": self.problem.value_name},
            "record": None if rec is None else {
                "value": rec.value, "source": rec.source, "date": rec.date, "proven_optimal": rec.proven_optimal,
                "closed_form": rec.exact, "rounding_allowance": rec.tolerance},
            "margin": None if self.margin is None else {
                "exact": str(self.margin), "float": float(self.margin),
                "of": ("squared value - squared bound" if c.squared else "value - bound")
                if self.problem.sense == "max" else "bound - value"},
            "beats_record": self.beats,
            "method": "exact rational arithmetic (fractions.Fraction) on the float64 coordinates, zero "
                      "tolerance; bound = published value -/+ one unit in its last digit",
        }


def record_bound(problem: Problem, record: Record) -> Fraction:
    """The value a configuration must beat: the far end of the record's rounding interval."""
    printed, allowance = Fraction(repr(record.value)), Fraction(repr(record.tolerance))
    return printed + allowance if problem.sense == "max" else printed - allowance


def certify(problem: Problem, config: Configuration) -> Certificate | None:
    """The exact check of ``config`` against ``problem``'s record; ``None`` if the problem has
    no exact check. Raises `ProblemError` if the float verifier rejects ``config``."""
    verdict = problem.verify(config)
    if not verdict.feasible:
        raise ProblemError(f"{problem.label}: infeasible: {verdict.reason}")
    check = problem.exact_check(config)
    if check is None:
        return None
    record = problem.record()
    margin = None
    if record is not None:
        bound = record_bound(problem, record)
        if check.squared:
            bound = bound * abs(bound)
        margin = check.value - bound if problem.sense == "max" else bound - check.value
    return Certificate(problem, check, record, margin)


def certificate_path(json_path: str | os.PathLike) -> Path:
    """``x/name.json`` -> ``x/name.certificate.json``."""
    p = Path(json_path)
    return p.with_name(p.stem + ".certificate.json")


def write_certificate(cert: Certificate, json_path: str | os.PathLike) -> Path:
    path = certificate_path(json_path)
    body = (json.dumps(cert.document(), indent=1) + "\n").encode()
    return replace_atomically(path, lambda f: f.write(body))


def certify_file(json_path: str | os.PathLike) -> Certificate | None:
    """Certify the configuration in ``json_path`` and, if it beats its record exactly, write
    the certificate next to it. ``None`` when the problem has no exact check."""
    problem, config = read_configuration(json_path)
    cert = certify(problem, config)
    if cert is not None and cert.beats:
        write_certificate(cert, json_path)
    return cert


def describe(cert: Certificate) -> str:
    """One line: certified new record, or why not."""
    p, c = cert.problem, cert.check
    if not c.feasible:
        bad = ", ".join(k for k, v in c.slacks.items() if not (v > 0 if k in c.strict else v >= 0))
        return f"{p.label}: not exactly feasible ({bad} slack negative in rational arithmetic)"
    if cert.record is None:
        return f"{p.label}: exactly feasible, {p.value_name} {c.rounded!r}; no record to compare"
    if cert.beats:
        return (f"{p.label}: certified new record: {p.value_name} {c.rounded!r} beats {cert.record.value!r} "
                f"({cert.record.source}, {cert.record.date}) exactly, margin {float(cert.margin):.3e}")
    return (f"{p.label}: exactly feasible, {p.value_name} {c.rounded!r}; does not beat {cert.record.value!r} "
            f"beyond its rounding ({cert.record.source})")


__all__ = ["Certificate", "certificate_path", "certify", "certify_file", "describe", "record_bound",
           "sqrt_rounded", "write_certificate"]
