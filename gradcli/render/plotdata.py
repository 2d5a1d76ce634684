"""`gradcli plot --format csv|json`: the sampled points of gradcli.evaluation.sampling, for
scripts. Every number is written to its last digit (Python's repr); nan and inf are written
nan/inf in CSV and "NaN"/"Infinity"/"-Infinity" in JSON, as the other commands write them."""

from __future__ import annotations

import json

import numpy as np

from ..evaluation.sampling import Field, Samples, key
from .jsondoc import jsonable


def _cells(column: np.ndarray) -> list[str]:
    return [repr(v + 0.0) for v in column.tolist()]  # + 0.0: -0.0 reads 0.0


def render_csv(data: Samples | Field) -> str:
    """A header (the variable(s), f, df/dx, ...), then one line per point (grid points row by row)."""
    if isinstance(data, Field):
        names = data.names
        grid_x, grid_y = np.meshgrid(data.x, data.y)
        header = [names[0], names[1], "f", key(names[0], 1), key(names[1], 1)]
        columns = [grid_x.ravel(), grid_y.ravel(), data.f.ravel(), data.gradient[0].ravel(), data.gradient[1].ravel()]
    else:
        header = [data.wrt] + [curve.key for curve in data.curves]
        columns = [data.x] + [curve.values for curve in data.curves]
    cells = [_cells(column) for column in columns]
    lines = [",".join(header)]
    lines.extend(",".join(row) for row in zip(*cells))
    return "\n".join(lines) + "\n"


def document(data: Samples | Field, source: str) -> dict:
    """The points as one JSON-ready dict: the expression, the variable(s) (`wrt`), the values held,
    the points (`at`) and each curve by its key (f, df/dx, d2f/dx2), the kinks; for a field the
    two axes (`axes`: x's values, y's values) and f and the gradient as arrays, row i at y[i],
    column j at x[j]. Keys never clash with a variable's name."""
    held = {name: jsonable(value) for name, value in data.held.items()}
    if isinstance(data, Field):
        x, y = data.names
        return {"expression": source, "wrt": [x, y], "held": held, "axes": [jsonable(data.x), jsonable(data.y)],
                "f": jsonable(data.f), key(x, 1): jsonable(data.gradient[0]), key(y, 1): jsonable(data.gradient[1]),
                "warnings": list(data.warnings)}
    doc = {"expression": source, "wrt": [data.wrt], "held": held, "order": data.order,
           "points": len(data.x), "at": jsonable(data.x)}
    for curve in data.curves:
        doc[curve.key] = jsonable(curve.values)
    doc["kinks"] = [{"x": jsonable(k.x), "gate": k.gate, "rule": k.rule, "exact": k.exact} for k in data.kinks]
    doc["warnings"] = list(data.warnings)
    return doc


def render_json(data: Samples | Field, source: str) -> str:
    return json.dumps(document(data, source), allow_nan=False, indent=2) + "\n"
