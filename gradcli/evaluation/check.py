"""Gradient checking: every element's analytic gradient against a centered difference.

n = (f(v + h) − f(v − h)) / 2h in float64, compared by the relative error |a − n| / max(|a|, |n|)
and judged with CS231n's bands. The graph is parsed once and re-evaluated for every perturbation.
Where a kink (relu, abs, max, min) lies between v − h and v + h the numeric side is meaningless
there; such an entry is "kink crossed", never "wrong".

`check_direction` checks along one direction t instead (forward mode): the JVP ∂f·t against
(f(v + h·t) − f(v − h·t)) / 2h, one evaluation pair whatever the number of variables, one entry
per element of f, judged the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..base.errors import GradcliError, ValueFormatError, did_you_mean
from ..core.graph import Graph, Node
from ..core.trace import Diagnostic, DisplayMixin
from ..inputs.values import to_array, to_arrays

# Verdicts, best first. The first four are CS231n's bands.
GOOD = "good"
OK = "ok with kinks"
SUSPICIOUS = "suspicious"
WRONG = "wrong"
KINK = "kink crossed"
NON_FINITE = "non-finite"
VERDICTS = (GOOD, OK, SUSPICIOUS, KINK, WRONG, NON_FINITE)
PASSING = frozenset({GOOD, OK, SUSPICIOUS, KINK})

GOOD_UP_TO = 1e-7  # relative error ≤ this: good
OK_BELOW = 1e-4  # below this (and above good): ok with kinks; from here up to rtol: suspicious

DEFAULT_H = 1e-5
DEFAULT_RTOL = 1e-2  # where the "wrong" band starts
# |a − n| at or below this is good whatever the relative error: a zero gradient's centered
# difference is rounding noise (~1e-16·|f|/h), whose relative error against 0 is 1.
DEFAULT_ATOL = 1e-8


@dataclass(frozen=True)
class Tolerances:
    h: float = DEFAULT_H
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL

    def __post_init__(self) -> None:
        for flag, value, default, positive in (("--h", self.h, DEFAULT_H, True),
                                               ("--rtol", self.rtol, DEFAULT_RTOL, True),
                                               ("--atol", self.atol, DEFAULT_ATOL, False)):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueFormatError(f"{flag} must be a number, not {value!r}") from None
            if not math.isfinite(number) or number < 0 or (positive and number == 0):
                need = "a positive" if positive else "a non-negative"
                raise ValueFormatError(f"{flag} must be {need} finite number, not {value!r}",
                                       hint=f"for example {flag} {default:g}")


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|); 0 when both are 0; nan when either is not finite."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def judge(a: float, b: float, tolerances: Tolerances, kink: bool = False) -> tuple[float, str]:
    """The relative error of a against b and its verdict.

    atol first (a tiny absolute difference is good), then rtol (the start of the wrong band),
    then the fixed bands. At a crossed kink a mismatch is expected, so it is not judged.
    """
    error = relative_error(a, b)
    if math.isnan(error):
        return error, NON_FINITE
    if abs(a - b) <= tolerances.atol:
        verdict = GOOD
    elif error >= tolerances.rtol:
        verdict = WRONG
    elif error <= GOOD_UP_TO:
        verdict = GOOD
    elif error < OK_BELOW:
        verdict = OK
    else:
        verdict = SUSPICIOUS
    if kink and verdict in (SUSPICIOUS, WRONG):
        verdict = KINK
    return error, verdict


@dataclass
class Entry:
    """One element of one variable: analytic, numeric and (optionally) the user's expected value."""

    variable: str
    index: tuple[int, ...]  # () for a scalar variable
    analytic: float
    numeric: float
    error: float
    verdict: str
    kinks: tuple[Node, ...] = ()  # gates whose kink lies between v − h and v + h
    expected: float | None = None
    expected_error: float | None = None  # the larger of its errors against analytic and numeric
    expected_verdict: str | None = None

    @property
    def label(self) -> str:
        if not self.index:
            return self.variable
        return f"{self.variable}[{','.join(str(i) for i in self.index)}]"

    @property
    def passed(self) -> bool:
        return self.verdict in PASSING and (self.expected_verdict is None or self.expected_verdict in PASSING)


@dataclass
class CheckReport(DisplayMixin):
    graph: Graph
    value: float | np.ndarray  # f at the given values
    tolerances: Tolerances
    entries: list[Entry]
    diagnostics: list[Diagnostic] = field(default_factory=list)  # from the pass at the given values
    # check_direction's: the direction t, {name: float | array} (0 for a variable it left out);
    # None for a gradient check
    direction: dict | None = None

    @property
    def passed(self) -> bool:
        return all(entry.passed for entry in self.entries)

    @property
    def failures(self) -> list[Entry]:
        return [entry for entry in self.entries if not entry.passed]

    @property
    def gradient_of(self) -> str:
        """What was checked: "f" or "sum(f)" (the gradient of), or "jvp" (the directional derivative
        along `direction`, per element of f)."""
        if self.direction is not None:
            return "jvp"
        return "f" if np.ndim(self.value) == 0 else "sum(f)"

    def counts(self, expected: bool = False) -> dict[str, int]:
        """Verdict → number of entries, in VERDICTS order, non-zero only."""
        verdicts = [e.expected_verdict if expected else e.verdict for e in self.entries]
        return {v: verdicts.count(v) for v in VERDICTS if v in verdicts}

    def summary(self) -> str:
        """One line: passed or failed, what failed, and how many entries got each verdict."""
        total = len(self.entries)
        parts = ", ".join(f"{n} {v}" for v, n in self.counts().items())
        if any(e.expected is not None for e in self.entries):
            parts += "; expected: " + ", ".join(f"{n} {v}" for v, n in self.counts(True).items())
        noun = ("directional derivative" if self.direction is not None else "gradient") + ("" if total == 1 else "s")
        if self.passed:
            return f"check passed: {total} {noun} checked ({parts})"
        failed = self.failures
        names = ", ".join(e.label for e in failed[:5]) + (", …" if len(failed) > 5 else "")
        return f"check failed: {len(failed)} of {total} {noun} wrong or non-finite: {names} ({parts})"


def check(graph: Graph, values: Mapping[str, object], *, expected: Mapping[str, object] | None = None,
          h: float = DEFAULT_H, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
          tangent: Mapping[str, object] | None = None) -> CheckReport:
    """Check every gradient of `graph` at `values`; `expected` maps names to hand-derived gradients.
    With `tangent` ({name: direction}), check the directional derivative along it instead
    (`check_direction`; `expected` then maps the output's name to your ∂f·t)."""
    if tangent is not None:
        return check_direction(graph, values, tangent, expected=expected, h=h, rtol=rtol, atol=atol)
    tolerances = Tolerances(h, rtol, atol)
    h = float(h)
    arrays = to_arrays(values)
    kink_gates = [n for n in graph.nodes if n.kind == "gate" and n.op.kink_offset is not None]
    trace = bool(kink_gates)  # node values are needed to see which side of a kink a pass is on
    base = graph.evaluate(arrays, trace=trace)
    if not base.gradients:
        raise GradcliError("nothing to check: the expression has no variables",
                           hint='check an expression of variables, e.g. "x**3" --set x=2')
    wanted = _expected_arrays(expected or {}, base.gradients)

    entries = []
    for name, gradient in base.gradients.items():
        array = arrays[name]
        analytic = np.asarray(gradient, dtype=np.float64)
        for index in np.ndindex(array.shape):
            passes = []
            for step in (h, -h):
                moved = dict(arrays)
                moved[name] = array.copy()
                with np.errstate(all="ignore"):  # v ± h may overflow: the pass then reports it
                    moved[name][index] += step
                passes.append(graph.evaluate(moved, trace=trace))
            plus, minus = passes
            with np.errstate(all="ignore"):
                numeric = float((np.sum(plus.value) - np.sum(minus.value)) / (2 * h))
            crossed = tuple(node for node in kink_gates
                            if _crossed(node, (_traced(minus), _traced(base), _traced(plus))))
            a = float(analytic[index])
            error, verdict = judge(a, numeric, tolerances, kink=bool(crossed))
            entry = Entry(name, index, a, numeric, error, verdict, crossed)
            if name in wanted:
                _judge_expected(entry, float(wanted[name][index]), tolerances)
            entries.append(entry)
    return CheckReport(graph, base.value, tolerances, entries, base.diagnostics)


def _traced(result):
    """A traced Result's node values, as `_crossed` reads them: node -> value."""
    return lambda node: result.trace[node.id].value


def _crossed(node: Node, passes) -> bool:
    """Whether the gate's inputs are not all on one side of its kink in the passes at v − h, v, v + h
    (each pass a function node -> its value there).

    The pass at v also catches a kink crossed twice (|x² − c| with both roots inside the step).
    """
    sides = []
    for value_of in passes:
        inputs = [value_of(i) for i in node.inputs]
        with np.errstate(all="ignore"):
            sides.append(np.sign(node.op.kink_offset(*inputs)))
    first = sides[0]
    finite = np.isfinite(first)
    changed = np.zeros(np.shape(first), dtype=bool)
    for side in sides[1:]:
        finite = finite & np.isfinite(side)
        changed = changed | (side != first)
    return bool(np.any(changed & finite))


def _judge_expected(entry: Entry, expected: float, tolerances: Tolerances) -> None:
    """The user's value is judged against the analytic and the numeric gradient; the worse counts."""
    kink = bool(entry.kinks)
    judged = [judge(expected, entry.analytic, tolerances, kink), judge(expected, entry.numeric, tolerances, kink)]
    rank = {v: i for i, v in enumerate(VERDICTS)}
    error, verdict = max(judged, key=lambda ev: rank[ev[1]])
    entry.expected, entry.expected_error, entry.expected_verdict = expected, error, verdict


def _expected_arrays(expected: Mapping[str, object], gradients: dict) -> dict[str, np.ndarray]:
    out = {}
    for name, value in expected.items():
        if name not in gradients:
            checked = ", ".join(gradients) or "none"
            hint = did_you_mean(name, gradients) or f"the checked variables are: {checked}"
            raise GradcliError(f"an expected gradient is given for {name!r}, which is not a variable "
                               "with a value", hint=hint)
        array = to_array(value, f"expected gradient of {name}")
        shape = np.shape(gradients[name])
        if array.shape not in ((), shape):
            raise ValueFormatError(f"the expected gradient of {name} has shape {array.shape}, "
                                   f"but {name} has shape {shape}",
                                   hint="give one number per element, or one number for all")
        out[name] = np.broadcast_to(array, shape)
    return out


def check_direction(graph: Graph, values: Mapping[str, object], tangent: Mapping[str, object], *,
                    expected: Mapping[str, object] | None = None, h: float = DEFAULT_H, rtol: float = DEFAULT_RTOL,
                    atol: float = DEFAULT_ATOL, name: str | None = None) -> CheckReport:
    """Check the directional derivative of `graph` at `values` along `tangent` (forward mode).

    The analytic side is the JVP ∂f·t (gradcli.evaluation.forward.jvp: one forward pass); the
    numeric side is the centered difference (f(v + h·t) − f(v − h·t)) / 2h, every variable moved
    at once along t: one evaluation pair, whatever the number of variables (the cheap check of a
    function of many variables; a wrong gradient element shows unless t is orthogonal to its
    error, so a random t finds one almost surely). Each element of f is an entry (`f`, or `f[2]`
    for an array f), named `name` (by default the output's statement name, else "f"), judged with
    `judge` and the same Tolerances as `check`. A kink crossed between v − h·t and v + h·t (the
    passes at v − h·t, v and v + h·t put a kink gate's input on both sides) makes every entry's
    mismatch "kink crossed"; the crossing gates are every entry's `kinks`.

    `tangent` maps variable names to directions (a number, or an array of the variable's shape;
    0 for those left out). `expected` maps the output's name to your own ∂f·t (a number, or an
    array of f's shape), judged against both sides as --expect is.

    Raises GradcliError (no variables; a tangent name that is not a variable with a value; a
    direction that is 0 everywhere; an expected name that is not the output's), ShapeError (a
    tangent not of its variable's shape), ValueFormatError (a tangent that is not numbers or not
    finite; a bad h, rtol, atol; an expected value not of f's shape).
    """
    from .forward import jvp
    from .outputs import output_name

    tolerances = Tolerances(h, rtol, atol)
    h = float(h)
    arrays = to_arrays(values)
    name = name or output_name(graph)  # (evaluation.outputs: a statement's name, else "f")
    kink_gates = [n for n in graph.nodes if n.kind == "gate" and n.op.kink_offset is not None]
    trace = bool(kink_gates)  # node values are needed to see which side of a kink a pass is on
    # (the JVP's pass is the pass at v: its records give the kink gates' inputs there)
    result = jvp(graph, arrays, tangent, trace=trace)
    seeds = result.seeds
    if not seeds:
        raise GradcliError("nothing to check: the expression has no variables",
                           hint='check an expression of variables, e.g. "x**3" x=2 --tangent x=1')
    if not any(np.any(np.asarray(t) != 0) for t in seeds.values()):
        raise GradcliError("the direction is 0 for every variable: there is nothing to check along it",
                           hint="give a --tangent that is not all zeros, e.g. --tangent "
                                f"{next(iter(seeds))}=1")
    passes = []
    for step in (h, -h):
        moved = dict(arrays)
        for variable, t in seeds.items():
            with np.errstate(all="ignore"):  # v ± h·t may overflow: the pass then reports it
                moved[variable] = arrays[variable] + step * np.asarray(t, dtype=np.float64)
        passes.append(graph.evaluate(moved, trace=trace))
    plus, minus = passes
    crossed: tuple = ()
    if trace:
        at_v = {record.node: record.value for record in result.records}

        def base(node):
            if node in at_v:
                return at_v[node]
            return arrays[node.name] if node.kind == "var" and node.name in arrays else np.float64(node.default)

        crossed = tuple(node for node in kink_gates if _crossed(node, (_traced(minus), base, _traced(plus))))
    with np.errstate(all="ignore"):
        numeric = (np.asarray(plus.value, dtype=np.float64) - np.asarray(minus.value, dtype=np.float64)) / (2 * h)
    analytic = np.broadcast_to(np.asarray(result.tangent, dtype=np.float64), numeric.shape)
    wanted = _expected_direction(expected or {}, name, numeric.shape)
    entries = []
    for index in np.ndindex(numeric.shape):
        a, n = float(analytic[index]), float(numeric[index])
        error, verdict = judge(a, n, tolerances, kink=bool(crossed))
        entry = Entry(name, index, a, n, error, verdict, crossed)
        if wanted is not None:
            _judge_expected(entry, float(wanted[index]), tolerances)
        entries.append(entry)
    return CheckReport(graph, result.value, tolerances, entries, list(result.diagnostics), direction=dict(seeds))


def _expected_direction(expected: Mapping[str, object], name: str, shape: tuple) -> np.ndarray | None:
    """Your ∂f·t for the output `name`, broadcast to f's shape; None when none is given."""
    for key in expected:
        if key != name:
            raise GradcliError(f"an expected value is given for {key!r}; along a --tangent, --expect gives "
                               f"your own directional derivative of the output {name!r}",
                               hint=f"write --expect {name}=VALUE (∂{name}·t, a number or an array of {name}'s shape)")
    if name not in expected:
        return None
    array = to_array(expected[name], f"expected directional derivative of {name}")
    if array.shape not in ((), shape):
        raise ValueFormatError(f"the expected directional derivative of {name} has shape {array.shape}, "
                               f"but {name} has shape {shape}",
                               hint="give one number per element of f, or one number for all")
    return np.broadcast_to(array, shape)
