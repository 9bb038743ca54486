"""The compiled engine, measured: ratios against baselines run in the same process, never raw seconds.

Each figure is a ratio to a baseline measured in the same run on the same
incidents, so the numbers mean the same on a fast machine and a slow one. The
baselines (bench/baselines.py):

- a hand-written exact decision of the whole 2024 table: scaled integers,
  fields checked, read and decided from the same dict (`exact_2024`);
- a float if/elif of codes 1 to 2.4 (`float_2_4`), fast and wrong at the
  boundaries;
- `json.loads` of the same incident; for the command line, a plain
  `json.loads` + `json.dumps` loop over the same lines, and `python -c pass`.

Targets (issue 8) are printed beside each ratio. Run `make bench`, or
`python bench/bench_engine.py [--quick]` (--quick: smaller sizes, same measures).
Figures and the machine they were taken on: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from baselines import exact_2024, float_2_4  # noqa: E402
from evaluator import load_criteria  # noqa: E402

MODALITIES = ["diagnostic", "interventional", "nuclear_medicine", "nuclear_medicine_therapy",
              "radiotherapy_imaging", "radiotherapy"]


def incidents(n: int, seed: int = 20241123, complete: bool = True) -> list[dict]:
    """Realistic incidents: every modality, doses around the thresholds; with complete=False some facts
    are left out (the age, the intended dose), as a first report often leaves them."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        modality = rng.choice(MODALITIES)
        incident = {
            "id": f"B-{i:06d}",
            "jurisdiction": rng.choice(["England", "Wales", "Scotland", "Northern Ireland"]),
            "exposure": rng.choice(["accidental", "unintended", "unintended", "unintended"]),
            "modality": modality,
            "age": rng.randint(0, 95),
            "discovered_on": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        }
        intended = rng.choice(["0.01", "0.2", "0.3", "1", "2.5", "4", "10", "12"])
        incident["intended_dose"] = f"{intended} mSv"
        incident["total_dose"] = f"{float(intended) * rng.choice([1, 2, 5, 10, 12, 30]):.3f} mSv"
        if modality == "radiotherapy":
            planned = rng.choice([20, 40, 60])
            incident.update(ptv_intended_dose=f"{planned} Gy",
                            ptv_delivered_dose=f"{planned * rng.choice([0.85, 0.9, 1, 1.1, 1.2]):.2f} Gy",
                            oar_intended_dose="30 Gy", oar_delivered_dose="31 Gy",
                            fraction_intended_dose="2 Gy", fraction_delivered_dose="2.1 Gy")
        if modality == "radiotherapy_imaging":
            incident.update(imaging_cause=rng.choice(["set_up_error", "protocol_failure", "hardware_software_failure"]),
                            intended_images=5, additional_images=rng.randint(0, 4), fraction_images=rng.randint(1, 4))
        if modality == "nuclear_medicine_therapy":
            incident.update(nm_therapy=rng.choice(["sirt", "other"]), prescribed_activity="1.5 GBq",
                            delivered_activity=f"{rng.choice([1.1, 1.2, 1.5, 1.8, 1.9])} GBq")
        if rng.random() < 0.2:
            incident["individuals"] = rng.randint(2, 6)
        if not complete:
            for fact in rng.sample(["age", "intended_dose", "total_dose", "modality", "individuals"], 2):
                incident.pop(fact, None)
        out.append(incident)
    return out


def median_us(work, items: list, repeats: int = 5) -> float:
    """The median over the items of the time one call takes (the best of a few calls, in microseconds)."""
    times = []
    clock = time.perf_counter
    for item in items:
        best = float("inf")
        for _ in range(repeats):
            start = clock()
            work(item)
            best = min(best, clock() - start)
        times.append(best)
    return statistics.median(times) * 1e6


def stream_us(work, items: list) -> float:
    """The median over the items of one call each, in order: what the engine keeps from one incident
    (three-valued verdicts, the doses and dates it read) serves the next ones only, never the same one
    again, as in a stream of reports (microseconds)."""
    times = []
    clock = time.perf_counter
    for item in items:
        start = clock()
        work(item)
        times.append(clock() - start)
    return statistics.median(times) * 1e6


def interleaved_us(works: dict, items: list, repeats: int = 5) -> dict:
    """The median over the items of the best of a few calls of each work, the works timed back to back for
    each item, so that a change in the machine's load hits them alike (microseconds, by work)."""
    times: dict = {name: [] for name in works}
    clock = time.perf_counter
    for item in items:
        for name, work in works.items():
            best = float("inf")
            for _ in range(repeats):
                start = clock()
                work(item)
                best = min(best, clock() - start)
            times[name].append(best)
    return {name: statistics.median(found) * 1e6 for name, found in times.items()}


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str, str]] = []

    def add(self, name: str, ratio: float, target: float | None, against: str) -> None:
        mark = "" if target is None else (f"<= {target:g}  {'met' if ratio <= target else 'NOT MET'}")
        self.rows.append((name, ratio, mark, against))
        print(f"{name:<52}{ratio:>9.2f}  {mark:<16}{against}", flush=True)


# ------------------------------------------------------------------------ per incident

def per_incident(report: Report, n: int) -> None:
    guidance = load_criteria("2024")
    engine = guidance.compiled
    decided = [i for i in incidents(n) if guidance.evaluate(i).notifiable is not None]
    undetermined = [i for i in incidents(n, seed=7, complete=False) if guidance.evaluate(i).notifiable is None]
    texts = {id(i): json.dumps(i) for i in decided + undetermined}
    for item in decided[:200]:  # the baseline decides what the engine decides (its suffixes are simpler)
        mine, theirs = guidance.evaluate(item), exact_2024(item)
        plain = sorted(c for c in mine.codes if c[0].isdigit())
        assert theirs is None or (theirs["notifiable"], sorted(c for c in theirs["codes"] if c[0].isdigit())) == (
            mine.notifiable, plain), item
    baseline = median_us(exact_2024, decided)
    baseline_undetermined = median_us(exact_2024, undetermined)
    floats = median_us(float_2_4, [i for i in decided if i["modality"] in ("diagnostic", "interventional")])
    loads = median_us(lambda i: json.loads(texts[id(i)]), decided)
    fast = median_us(guidance.evaluate, decided)
    fast_dict = median_us(engine.evaluate, decided)
    slow = median_us(guidance.evaluate, undetermined)
    # With the explanation: each incident once, after others (explain keeps row verdicts by the values their
    # rows read: a second call of the same incident would be explained from its own).
    for incident in incidents(600, seed=17):
        guidance.evaluate(incident, explain=True)
    explained = stream_us(lambda i: guidance.evaluate(i, explain=True), decided[:600])
    print(f"\n{len(decided)} decided and {len(undetermined)} undetermined incidents (2024); medians per incident: "
          f"hand-written exact {baseline:.1f} us, float if/elif {floats:.2f} us, json.loads {loads:.1f} us, "
          f"Guidance.evaluate {fast:.1f} us (undetermined {slow:.1f} us), the engine's dict {fast_dict:.1f} us, "
          f"with the explanation {explained:.0f} us\n")
    # The same, each incident timed by the three back to back: steadier on a machine shared with other work.
    side = interleaved_us({"exact": exact_2024, "dict": engine.evaluate, "evaluate": guidance.evaluate}, decided)
    report.add("Guidance.evaluate(dict), decided", fast / baseline, 2, "hand-written exact whole-table decision")
    report.add("  the same, timed side by side", side["evaluate"] / side["exact"], 2, "the same, per incident")
    report.add("  the engine's dict, timed side by side", side["dict"] / side["exact"], 2, "the same, per incident")
    report.add("compiled engine's result dict, decided", fast_dict / baseline, 2, "hand-written exact decision")
    report.add("Guidance.evaluate(dict), undetermined (+missing)", slow / baseline_undetermined, 5,
               "hand-written exact decision, same incidents")
    report.add("Guidance.evaluate(dict), undetermined", slow / baseline, 5, "hand-written exact, decided ones")
    # Each incident once, after other incidents (another seed) have passed: the best of five calls above lets
    # a call use what the engine kept from the same incident; here nothing kept is the incident's own.
    for incident in incidents(n, seed=11) + incidents(n, seed=13, complete=False):
        guidance.evaluate(incident)
    once = {"decided": (stream_us(exact_2024, decided), stream_us(guidance.evaluate, decided)),
            "undetermined": (stream_us(exact_2024, undetermined), stream_us(guidance.evaluate, undetermined))}
    print(f"each incident once, in a stream: decided {once['decided'][1]:.1f} us (hand-written "
          f"{once['decided'][0]:.1f} us), undetermined {once['undetermined'][1]:.1f} us (hand-written "
          f"{once['undetermined'][0]:.1f} us)\n")
    report.add("  decided, each incident once in a stream", once["decided"][1] / once["decided"][0], 2,
               "hand-written exact, the same way")
    report.add("  undetermined, each once in a stream", once["undetermined"][1] / once["decided"][0], 5,
               "hand-written exact, decided ones, the same way")
    report.add("with the explanation (explain=True)", explained / fast, 10, "Guidance.evaluate (fast path)")
    report.add("Guidance.evaluate(dict), decided", fast / floats, None, "float if/elif of codes 1 to 2.4")
    report.add("Guidance.evaluate(dict), decided", fast / loads, None, "json.loads of the same incident")


def compiling(report: Report) -> None:
    from evaluator.catalogue import find_criteria
    from evaluator.engines.compiled.table import build_table
    from evaluator.language.parse import parse_text
    from evaluator.load import compile_text
    path = find_criteria("2024")
    source = path.read_text(encoding="utf-8")
    parse_only = best_of(5, lambda: parse_text(source, path.name))
    checking = best_of(5, lambda: compile_text(source, path.name, path.parent))
    guidance = compile_text(source, path.name, path.parent)
    generating = best_of(5, lambda: build_table(guidance.checked, guidance.vocabulary.facts))
    total = checking + generating
    print(f"\ncompiling the 2024 file: parse {parse_only * 1e3:.1f} ms, parse+check {checking * 1e3:.1f} ms, "
          f"generate the engine {generating * 1e3:.1f} ms: {total * 1e3:.1f} ms in all (target: under 50 ms)\n")
    report.add("compile a criteria file (parse, check, generate)", total * 1e3 / 50, 1, "50 ms")
    report.add("compile a criteria file", total / parse_only, None, "parsing the file alone")


# ------------------------------------------------------------------------ command line

def _write_lines(path: Path, n: int) -> None:
    pool = incidents(5000)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            incident = dict(pool[i % len(pool)], id=f"L-{i:07d}")
            out.write(json.dumps(incident) + "\n")


LOOP = """
import json, sys
with open(sys.argv[1], encoding="utf-8") as lines, open(sys.argv[2], "w", encoding="utf-8") as out:
    for line in lines:
        out.write(json.dumps(json.loads(line)) + "\\n")
"""


def _run(command: list[str]) -> tuple[float, int]:
    """Wall time, and the peak resident memory (KiB) of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(after, before)


def command_line(report: Report, n: int) -> None:
    irmer = [sys.executable, "-m", "evaluator.cli"]
    with tempfile.TemporaryDirectory() as folder:
        lines, out = Path(folder) / "incidents.jsonl", Path(folder) / "results.jsonl"
        one = Path(folder) / "one.json"
        one.write_text(json.dumps(incidents(1)[0]), encoding="utf-8")
        _write_lines(lines, n)
        loop, _ = _run([sys.executable, "-c", LOOP, str(lines), str(out)])
        # Peak memory: each measured in a fresh child (getrusage keeps the largest child so far).
        single, rss = _measure([*irmer, "evaluate", "--criteria", "2024", str(lines), "-o", str(out)])
        workers, _ = _measure([*irmer, "evaluate", "--criteria", "2024", "--workers", "2", str(lines), "-o",
                               str(out)])
        assert sum(1 for _ in open(out, encoding="utf-8")) == n
        subprocess.run([*irmer, "evaluate", str(one)], check=True, capture_output=True)  # warm the cache
        start_up = statistics.median(_run([*irmer, "evaluate", str(one)])[0] for _ in range(9))
        bare = statistics.median(_run([sys.executable, "-c", "pass"])[0] for _ in range(9))
    print(f"\nirmer evaluate on {n:,} JSON Lines: {n / single:,.0f} incidents/s, {n / workers:,.0f}/s with 2 workers "
          f"(json.loads+dumps loop: {n / loop:,.0f}/s); peak memory {rss / 1024:.0f} MiB; "
          f"start-up {start_up * 1e3:.0f} ms (python -c pass: {bare * 1e3:.0f} ms)\n")
    report.add("irmer evaluate FILE: throughput", (n / single) / (n / loop), None, "json.loads+dumps loop (>= 0.1)")
    report.add("irmer evaluate FILE: loop time / irmer time", loop / single, None, "(target >= 0.1)")
    report.add("irmer evaluate FILE --workers 2: loop / irmer", loop / workers, None, "(target >= 0.1)")
    report.add(f"peak memory for {n:,} incidents, MiB / 250", rss / 1024 / 250, 1, "250 MiB")
    report.add("start-up: irmer evaluate one.json", start_up / bare, 15, "python -c pass")


def _measure(command: list[str]) -> tuple[float, int]:
    """Wall time and peak memory of one command, in a child of its own (so its peak is its own)."""
    probe = ("import resource, subprocess, sys, time; start = time.perf_counter(); "
             "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
             "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", probe, *command], check=True, capture_output=True, text=True,
                          cwd=ROOT)
    wall, rss = done.stdout.split()
    return float(wall), int(rss)


# ------------------------------------------------------------------------ differential

def _disagreements(args: tuple[str, int, int]) -> tuple[int, list[str]]:
    from differential import incidents as random_incidents
    version, n, seed = args
    guidance = load_criteria(version)
    found = []
    for incident in random_incidents(n, seed):
        explained = guidance.interpret(incident)
        if guidance.evaluate(incident) != explained.model_copy(update={"explanation": []}):
            found.append(str(incident))
    return n, found


def differential(n: int) -> bool:
    """The compiled engine against the interpreter on n random incidents per version (all cores)."""
    chunk = 5000
    jobs = [(version, min(chunk, n - start), 1_000_003 * start + hash(version) % 1000)
            for version in ("2023", "2024") for start in range(0, n, chunk)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(_disagreements, jobs))
    total, found = sum(r[0] for r in results), [f for r in results for f in r[1]]
    print(f"\ndifferential: {total:,} random incidents ({n:,} per version), compiled engine against the interpreter: "
          f"{len(found)} disagree ({time.perf_counter() - start:.0f} s)")
    for line in found[:5]:
        print("  ", line)
    return not found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, the same measures")
    args = parser.parse_args()
    quick = args.quick
    print(f"{'measure':<52}{'ratio':>9}  {'target':<16}baseline")
    report = Report()
    per_incident(report, 600 if quick else 3000)
    compiling(report)
    command_line(report, 20_000 if quick else 1_000_000)
    agree = differential(2_000 if quick else 200_000)
    missed = [name for name, ratio, mark, _ in report.rows if "NOT MET" in mark]
    print(f"\n{len(report.rows) - len(missed)} of {len(report.rows)} rows within target; engines agree: {agree}")
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
