"""One exact integer scale per kind of quantity.

Every threshold of a criteria file, and every value written with up to six
decimals in any accepted unit, is an integer on its kind's scale, so the
compiled engine compares integers: ``3000 uSv`` and ``3 mSv`` are the same
integer, and 66 Gy is 1.1 times 60 Gy because ``66 * 10 >= 60 * 11``.

>>> from evaluator import load_criteria
>>> kind_scales(load_criteria("2024").checked)["effective dose"]
1000000000000
"""

from __future__ import annotations

import math

from ...language import ast
from ...language.check import Checked
from ...language.units import DIMENSIONLESS, KINDS, resolve_unit




def kind_scales(checked: Checked) -> dict[str, int]:
    """One integer scale per kind of quantity: every threshold, and every value written with up to six
    decimals in any accepted unit, is an integer on it."""
    denominators: dict[str, set[int]] = {}
    for name, kind in KINDS.items():
        if kind.dimension:
            denominators[name] = {(resolve_unit(u)[1] / 10**6).denominator for u in kind.units + kind.spellings}
    nodes = [n for root in _roots(checked.criteria) for n in root.walk()]
    nodes += [info.minimum for info in checked.facts.values() if info.minimum is not None]
    for node in nodes:
        if isinstance(node, ast.Number) and node.kind in denominators and node.value is not None:
            denominators[node.kind].add(node.value.denominator)
    scales = {name: math.lcm(*dens) for name, dens in denominators.items()}
    for name in DIMENSIONLESS | {k for k in KINDS if k not in scales}:
        scales[name] = 1
    return scales


def _roots(criteria: ast.Criteria) -> list[ast.Node]:
    roots: list[ast.Node] = [d.body for d in criteria.definitions]
    for row in criteria.rows:
        roots += [x for x in (row.band, row.when, row.unless) if x is not None]
    roots += [x.when for x in (*criteria.complementary, *criteria.exclusions, *criteria.advice, *criteria.routes)
              if x.when is not None]
    return roots

