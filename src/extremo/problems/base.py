"""The common interface of extremal problems.

A problem instance (e.g. 26 circles in the unit square) is a `Problem`. The search
works on a flat float vector ``x`` of length `Problem.dim` per candidate, batched as
``(batch, dim)``; a *configuration* is the same data with plain named fields (``centers``,
``radii``, ``points``...) as float64 numpy arrays, which is what is verified, drawn and
written to JSON.

Every problem provides

* ``value(x)``: the exact objective of feasible vectors, ``(batch,)``;
* ``relaxed(x, mu)``: a smooth penalty relaxation to *minimise*; ``mu`` weighs the penalty;
* ``project(x)``: a cheap batched projection onto the simple constraints (box, sphere);
* ``polish(x)``: a constrained local optimisation in float64 that ends strictly feasible;
* ``repair(x)``: the smallest change that makes ``x`` strictly feasible;
* ``verify(config)``: the strict float64 verdict, with the reason of a rejection.

and, as class attributes and small methods, everything the rest of extremo needs to know about
it: ``parameters`` (which become the command-line options), ``search_defaults`` (the local
search's settings), ``layout()`` (the vector as a set of objects, their domain and symmetry
group, for the generator of `extremo.boost`), ``record()`` and ``draw(ax, config)``.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from extremo.problems.exact_check import ExactCheck
from extremo.problems.records import Record, find_record, record_table


class ProblemError(ValueError):
    """Bad input: an unknown problem, an instance out of range, a malformed configuration."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of a strict verification: feasible with its value, or rejected with a reason.

    ``reason`` is set on rejections only; ``detail`` optionally says, on success, what attains
    the value (the smallest triangle, the closest pair).
    """

    feasible: bool
    value: float = math.nan
    reason: str = ""
    detail: str = ""

    def __bool__(self) -> bool:
        return self.feasible


@dataclass(frozen=True)
class Parameter:
    """An instance parameter of a problem (``n``, ``d``, ``region``...) with its allowed values."""

    name: str
    help: str
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    default: Any = None


Configuration = dict[str, np.ndarray]


@dataclass(frozen=True)
class Layout:
    """A search vector seen as a set of ``n`` objects with ``features`` numbers each (boost's view).

    The domain of one object is the box ``low <= row <= high`` (one bound per feature), or, with
    ``sphere``, the unit sphere (``low``/``high`` unused). ``symmetry`` names the group of the
    domain acting on the first two features (``"D4"``: the 8 symmetries of the unit square about
    ``(1/2, 1/2)``, see `extremo.boost.symmetry`) when the objective is invariant under it,
    else ``None``. ``fast``: `Problem.objects` and `Problem.vectors` are cheap batched
    tensor maps, so the problem's projection may run after every sampler step.
    """

    n: int
    features: int
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    sphere: bool = False
    symmetry: str | None = None
    fast: bool = False

    def __post_init__(self) -> None:
        if not self.sphere and not (len(self.low) == len(self.high) == self.features):
            raise ValueError(f"Layout: low and high need {self.features} bounds each, got "
                             f"{len(self.low)} and {len(self.high)}")


class Problem(abc.ABC):
    """One instance of an extremal problem.

    Subclasses set ``name``, ``title``, ``sense``, ``parameters`` and implement the abstract
    methods; `extremo.problems.registry.register` makes them available by name.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    sense: ClassVar[Literal["max", "min"]]
    parameters: ClassVar[tuple[Parameter, ...]]
    headline: ClassVar[tuple[dict[str, Any], ...]] = ()
    #: what the objective is called in tables, e.g. "sum of radii"
    value_name: ClassVar[str] = "value"
    #: matplotlib projection of the drawing axis (``"3d"`` for the sphere)
    projection: ClassVar[str | None] = None

    def __init__(self, **instance: Any) -> None:
        self.instance = self.validate(instance)

    @property
    def search_defaults(self) -> dict[str, Any]:
        """Overrides of `extremo.search.local.SearchSettings` suited to this instance."""
        return {}

    # ----------------------------------------------------------------- instance
    @classmethod
    def validate(cls, instance: dict[str, Any]) -> dict[str, Any]:
        """Check the instance parameters against `parameters`, fill defaults."""
        known = {p.name: p for p in cls.parameters}
        unknown = sorted(set(instance) - set(known))
        if unknown:
            raise ProblemError(
                f"{cls.name}: unknown parameter {', '.join(unknown)}; "
                f"it takes {', '.join(known) or 'no parameters'}"
            )
        out: dict[str, Any] = {}
        for p in cls.parameters:
            v = instance.get(p.name)
            if v is None:
                if p.default is None:
                    raise ProblemError(f"{cls.name}: missing --{p.name} ({p.help})")
                v = p.default
            if p.choices:
                if v not in p.choices:
                    raise ProblemError(
                        f"{cls.name}: {p.name}={v!r} is not one of {', '.join(p.choices)}"
                    )
            else:
                if isinstance(v, str) and v.strip().lstrip("+-").isdigit():
                    v = int(v)
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                    raise ProblemError(f"{cls.name}: {p.name} must be an integer, got {v!r}")
                v = int(v)
                if (p.low is not None and v < p.low) or (p.high is not None and v > p.high):
                    raise ProblemError(
                        f"{cls.name}: {p.name}={v} is out of range; supported: {p.low}..{p.high}"
                    )
            out[p.name] = v
        return out

    @property
    def label(self) -> str:
        """Short name of the instance, e.g. ``circles-sum-radii n=26``."""
        return " ".join([self.name] + [f"{k}={v}" for k, v in self.instance.items()])

    @property
    def slug(self) -> str:
        """File-name friendly label, e.g. ``circles-sum-radii_n26``."""
        return "_".join([self.name] + [f"{k}{v}" for k, v in self.instance.items()])

    def record(self) -> Record | None:
        """Best known value of this instance from the problem's record table
        (``records/<name>.tsv``, see `extremo.problems.records`), if one is published."""
        return find_record(self.name, self.instance)

    @classmethod
    def records(cls) -> tuple[tuple[dict[str, Any], Record], ...]:
        """The whole record table of the problem: ``(instance parameters, record)`` rows."""
        return record_table(cls.name)

    #: file formats besides JSON that `read_text` / `write_text` handle, e.g. ``("pck",)``
    file_formats: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def instance_of_text(cls, fmt: str, text: str) -> dict[str, Any]:
        """Instance parameters a file in one of the formats reveals (e.g. ``n``, its line count)."""
        return {}

    def read_text(self, fmt: str, text: str, where: str = "file") -> Configuration:
        """A configuration from a file in one of `file_formats` (checked shapes)."""
        raise ProblemError(f"{self.name} reads no .{fmt} files (formats: {', '.join(self.file_formats) or 'JSON only'})")

    def verify_text(self, fmt: str, text: str, where: str = "file") -> tuple[Verdict, Configuration]:
        """Verdict on a file in one of `file_formats` and its configuration; by default
        the float verifier on `read_text`. A format whose numbers are decimals may
        decide on them exactly instead (converting them to floats can cost the last ulp)."""
        config = self.read_text(fmt, text, where)
        return self.verify(config), config

    def write_text(self, fmt: str, config: Configuration, author: str = "") -> tuple[str, str]:
        """``(file text, note)``: ``config`` in one of `file_formats`; the note says what
        writing changed (e.g. radii shrunk so the rounded file stays feasible)."""
        raise ProblemError(f"{self.name} writes no .{fmt} files (formats: {', '.join(self.file_formats) or 'JSON only'})")

    def exact_check(self, config: Configuration) -> ExactCheck | None:
        """Minimal constraint slacks and the value in exact rational arithmetic (the ground of
        a certificate, `extremo.problems.exact_check`); ``None`` if the problem has none."""
        return None

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b``."""
        if math.isnan(b):
            return not math.isnan(a)
        return a > b if self.sense == "max" else a < b

    def gap(self, value: float) -> float | None:
        """Relative gap to the record, positive when short of it (``None`` without a record)."""
        rec = self.record()
        if rec is None or math.isnan(value):
            return None
        g = (rec.value - value) / abs(rec.value)
        return g if self.sense == "max" else -g

    # ------------------------------------------------------- search representation
    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Length of the flat search vector."""

    @abc.abstractmethod
    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        """``(batch, dim)`` random starts (not necessarily feasible)."""

    @abc.abstractmethod
    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        """``(batch,)`` smooth loss to minimise: minus/plus the objective plus ``mu`` x penalty."""

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Cheap batched projection onto the simple constraints; identity by default."""
        return x

    @abc.abstractmethod
    def value(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` exact objective of (feasible) vectors; float64 for decisions."""

    @abc.abstractmethod
    def repair(self, x: np.ndarray) -> np.ndarray:
        """Return a strictly feasible vector close to ``x`` (float64, shape ``(dim,)``)."""

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """Constrained local optimisation to a (strictly feasible) local optimum."""
        return self.repair(x)

    def screen(self, x: torch.Tensor) -> torch.Tensor | None:
        """``(batch,)`` cheap estimates of the objective that relaxed rows ``x`` will polish to,
        which the local search uses to choose what to polish; ``None`` (the default): it ranks
        them by their relaxed loss."""
        return None

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Perturb a batch of vectors (the escape move of the local search)."""
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        return self.project(x + strength * noise)

    # ------------------------------------------------------------- neighbouring instances
    def size_parameter(self) -> str | None:
        """Name of the instance parameter that counts the objects of the `layout` (``None``:
        the problem has no sizes, so no neighbouring instances)."""
        layout = self.layout()
        if layout is None:
            return None
        for p in self.parameters:
            if not p.choices and self.instance.get(p.name) == layout.n:
                return p.name
        return None

    def neighbours(self, radius: int = 1) -> list[Problem]:
        """The instances of sizes ``n - radius .. n + radius`` (not ``n``) that the problem
        accepts, all other parameters equal."""
        if radius < 0:
            raise ValueError(f"radius must be at least 0, got {radius}")
        name = self.size_parameter()
        if name is None:
            return []
        n = self.instance[name]
        out = []
        for m in range(n - radius, n + radius + 1):
            if m == n:
                continue
            try:
                out.append(type(self)(**{**self.instance, name: m}))
            except ProblemError:
                continue
        return out

    def resize(self, x: np.ndarray, source: Problem) -> np.ndarray | None:
        """A feasible start for this instance made from ``x``, a configuration of ``source``, one of
        its `neighbours` (e.g. the best of ``n - 1`` with one object added where there is most
        room); ``None`` (the default): the problem has no such construction."""
        return None

    # ------------------------------------------------------------- objects (boost)
    def layout(self) -> Layout | None:
        """The vector as a set of objects for the generator of boost; ``None``: not supported."""
        return None

    def _object_field(self) -> str:
        lay, fields = self.layout(), self.fields()
        shape = (lay.n, lay.features) if lay else None
        names = [k for k, s in fields.items() if s == shape]
        if len(fields) != 1 or not names:
            raise NotImplementedError(
                f"{self.name}: objects() and vectors() are generic only for one configuration "
                f"field of shape (n, features); override them")
        return names[0]

    def objects(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, dim)`` vectors to ``(batch, n, features)`` sets (default: through the one
        configuration field, one vector at a time; override with a tensor map and ``fast``)."""
        key = self._object_field()
        rows = [self.to_config(v)[key] for v in x.detach().cpu().double().numpy()]
        return torch.as_tensor(np.stack(rows), dtype=x.dtype, device=x.device)

    def vectors(self, objs: torch.Tensor) -> torch.Tensor:
        """``(batch, n, features)`` sets to ``(batch, dim)`` vectors, derived entries recomputed."""
        key = self._object_field()
        rows = [self.from_config({key: p}) for p in objs.detach().cpu().double().numpy()]
        return torch.as_tensor(np.stack(rows), dtype=objs.dtype, device=objs.device)

    # ------------------------------------------------------------- configurations
    @abc.abstractmethod
    def to_config(self, x: np.ndarray) -> Configuration:
        """Named fields (float64 arrays) of one flat vector."""

    @abc.abstractmethod
    def from_config(self, config: Configuration) -> np.ndarray:
        """Flat vector of a configuration (shapes already checked)."""

    @abc.abstractmethod
    def fields(self) -> dict[str, tuple[int, ...]]:
        """Expected field shapes of a configuration, e.g. ``{"centers": (n, 2), "radii": (n,)}``."""

    def check_shapes(self, config: dict[str, Any]) -> Configuration:
        """Convert a JSON-like mapping to float64 arrays, rejecting wrong shapes and non-finite values."""
        out: Configuration = {}
        for key, shape in self.fields().items():
            if key not in config:
                raise ProblemError(f"{self.label}: configuration has no field {key!r}")
            try:
                a = np.asarray(config[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise ProblemError(f"{self.label}: field {key!r} is not an array of numbers") from None
            if a.shape != shape:
                raise ProblemError(
                    f"{self.label}: field {key!r} has shape {a.shape}, expected {shape}"
                )
            if not np.all(np.isfinite(a)):
                raise ProblemError(f"{self.label}: field {key!r} contains NaN or infinity")
            out[key] = a
        return out

    @abc.abstractmethod
    def verify(self, config: Configuration) -> Verdict:
        """Strict float64 verdict: feasible and its exact value, or the reason of the rejection."""

    def draw(self, ax, config: Configuration) -> None:  # pragma: no cover - drawn in plots tests
        """Draw a configuration on a matplotlib axis."""
        raise NotImplementedError(f"{self.name} has no drawing")


def values_of(problem: Problem, xs: np.ndarray) -> np.ndarray:
    """Exact float64 objective of a stack of flat vectors."""
    with torch.no_grad():
        return problem.value(torch.as_tensor(np.atleast_2d(xs), dtype=torch.float64)).numpy()


def verify_vector(problem: Problem, x: np.ndarray) -> Verdict:
    """Verify a flat vector through its configuration."""
    return problem.verify(problem.to_config(np.asarray(x, dtype=np.float64)))
