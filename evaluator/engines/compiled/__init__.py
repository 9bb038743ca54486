"""Stage 4, the compiled engine: the checked AST turned into Python code, once, when criteria load.

The interpreter walks the AST for every incident, writing the reason for every
comparison; this engine decides at close to hand-written speed and explains
nothing (the interpreter stays as the explaining engine, and the two are
tested against each other on hundreds of thousands of incidents). When a
criteria file is compiled:

- every threshold is normalised to an exact integer (or, where the unit makes
  one impossible, a fraction) on one scale per kind of quantity (picosievert
  for effective dose, and so on), and incidents are read onto the same scales,
  so a comparison is one integer comparison: ``3000 uSv`` and ``3 mSv`` are the
  same integer, and 66 Gy is 1.1 times 60 Gy because ``66 * 10 >= 60 * 11``;
- each row becomes a Python function (generated source, compiled with
  ``compile``) that decides it with two-valued logic while every fact it
  touches is known; it gives up, by raising, the moment it touches an unknown
  one, and only that row is then decided by the three-valued engine below;
- rows are dispatched by exposure, modality and jurisdiction: a diagnostic
  incident never runs the radiotherapy rows;
- the three-valued side (exact intervals, Kleene logic: the rules of
  engines/logic.py) is generated too (codegen3.py), and the case split over
  unknown facts takes its facts, values and regions from the plan worked out
  at load time (engines/plan.py). Inside a region, a fact compared only with constants
  is represented by one point of the region, so most cases of a split run the
  generated two-valued code too;
- a row's three-valued verdict, and each answer of the verdict's split, is a
  function of the values of the facts its generated code reads (worked out
  from that code when the Table is built: table.facts_read); the engine keeps
  them by those values, bounded, since the same reports come back (a therapy
  without its PTV doses); the reader keeps what each dose and date text reads as;
- what the engine needs at run time is a Table (table.py) of generated code
  and plain data, which the cache keeps (evaluator/cache.py): a new process
  decides its first incident without parsing or checking anything, whether
  or not the incident gives every fact.

Modules: runtime (the Table, what generated code calls), scales, reader,
codegen (two-valued Python source), codegen3 (three-valued Python source),
threevalued (verdicts and splits at run time), table (compiling), engine
(deciding and composing a result).

>>> from evaluator import load_criteria
>>> engine = load_criteria("2024").compiled  # Guidance.evaluate uses it
>>> result = engine.evaluate({"jurisdiction": "England", "exposure": "unintended", "modality": "diagnostic",
...                           "age": 40, "intended_dose": "2 mSv", "total_dose": "20 mSv"})
>>> result["notifiable"], result["codes"], str(result["notify_by"])  # a plain dict: Guidance makes it a Result
(True, ['2.2'], 'None')
>>> engine.scales["effective dose"]  # integers per sievert: 3000 uSv and 3 mSv are both 3 * 10**9
1000000000000
>>> print(engine.source.splitlines()[19])  # the band of row 2.1: intended_dose < 0.3 mSv
    if not (v['intended_dose'] < 300000000): return BAND_OUT
"""

from .engine import FIELDS, CompiledEngine, error_document

__all__ = ["FIELDS", "CompiledEngine", "error_document"]
