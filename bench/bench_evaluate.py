"""The realistic incidents the benches share: every modality, doses around the thresholds, some facts
missing. They are made by bench/bench_engine.py (`incidents(n, seed, complete=True)`); this name is kept
for the benches that import them from here. The measures that were here are in bench_engine.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import MODALITIES, incidents  # noqa: E402,F401

if __name__ == "__main__":
    print("the measures moved to bench/bench_engine.py (make bench runs it)")
