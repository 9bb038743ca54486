"""How long does `irmer audit` take on a large log? Seconds, and the ratio to evaluating the same log.

A Parquet log of N incidents (default 1,000,000) is written as an incident
system would export it: the realistic incidents of bench_evaluate.py (every
modality, doses around the thresholds, every fact given), repeated to N rows
with their own ids, discovered over two years (April 2023 to March 2025), with
a cause from a short list and the audit columns filled as a busy department
would: most notifiable incidents notified, some late, a few with other codes
or another authority, reports mostly in time.

Figures, each measured in this run:

- the audit, end to end (read, evaluate on the columnar engine, every check,
  the tables), then the HTML report (charts included);
- the baseline: evaluating the same file alone (`evaluate_table`), so that
  the audit's own cost shows as a ratio.

Run: `make bench` or `python bench/bench_audit.py [N]`. The target: a
million rows in about a minute on this machine (docs/performance.md, Audit).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench_evaluate import incidents  # noqa: E402
from evaluator.engines.columnar import evaluate_table  # noqa: E402
from evaluator.prepared import prepare  # noqa: E402
from evaluator.tools.audit import Options, audit  # noqa: E402
from evaluator.tools.audit_report import html  # noqa: E402

DISTINCT = 50_000
AS_OF = dt.date(2025, 3, 31)
START = dt.date(2023, 4, 1)
CAUSES = ["wrong patient referred", "referral not cancelled", "wrong detector selected", "protocol error",
          "patient moved", "equipment fault", "wrong radiopharmaceutical", "set-up error", "planning error",
          "injection extravasated", "ID check missed", "long screening time"]
AUTHORITIES = {"England": "CQC", "Wales": "HIW", "Scotland": "HIS", "Northern Ireland": "RQIA"}


def write_log(n: int, path: Path, seed: int = 20250331) -> None:
    """The log: realistic incidents repeated to n rows, each with a discovery date, a cause and audit columns."""
    rng = random.Random(seed)
    items = incidents(DISTINCT)
    prepared = prepare("2024")
    outcome = [prepared.document(item) for item in items]  # what the audit columns are made to agree with
    names = [k for k in dict.fromkeys(k for item in items for k in item) if k not in ("id", "discovered_on")]
    columns: dict[str, list] = {name: [] for name in
                                ["id", "discovered_on", *names, "cause", "notified_on", "notified_codes",
                                 "authority_notified", "report_sent_on", "site"]}
    span = (AS_OF - START).days
    for k in range(n):
        item, result = items[k % DISTINCT], outcome[k % DISTINCT]
        found = START + dt.timedelta(days=rng.randrange(span + 1))
        columns["id"].append(f"L-{k:07d}")
        columns["discovered_on"].append(found)
        for name in names:
            value = item.get(name)
            columns[name].append(None if value is None else str(value))
        columns["cause"].append(rng.choice(CAUSES))
        columns["site"].append(rng.choice(["County", "Community", "Cancer Centre"]))
        notified = result["notifiable"] and rng.random() < 0.95
        day = found + dt.timedelta(days=rng.choice([2, 5, 9, 13, 14, 15, 21])) if notified else None
        codes = ";".join(result["codes"]) if notified else None
        if notified and rng.random() < 0.02:
            codes = "2.1"
        authority = AUTHORITIES.get(item.get("jurisdiction")) if notified else None
        if notified and rng.random() < 0.01:
            authority = "CQC" if authority != "CQC" else "HIW"
        report = found + dt.timedelta(days=rng.choice([40, 70, 80, 84, 90])) if notified else None
        columns["notified_on"].append(day)
        columns["notified_codes"].append(codes)
        columns["authority_notified"].append(authority)
        columns["report_sent_on"].append(report if report and report <= AS_OF else None)
    table = pa.table({name: pa.array(values, pa.date32() if name in ("discovered_on", "notified_on", "report_sent_on")
                                     else pa.string()) for name, values in columns.items()})
    pq.write_table(table, path, row_group_size=122_880)


def timed(work):
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        seconds, _ = timed(lambda: write_log(n, path))
        print(f"irmer audit, {n:,} incidents ({path.stat().st_size / 1e6:.0f} MB of Parquet, written in "
              f"{seconds:.0f} s)")
        evaluate_table(str(path))  # warm: the SQL compiled once, as the audit's evaluation finds it
        baseline, _ = timed(lambda: evaluate_table(str(path)))
        seconds, report = timed(lambda: audit(str(path), Options(as_of=AS_OF)))
        page_seconds, page = timed(lambda: html(report))
        items = sum(len(f.items) for f in report.findings)
        print(f"  audit        {seconds:7.1f} s   {n / seconds:10,.0f} incidents/s (read, evaluate on "
              f"{report.method.engine}, every check, the tables)")
        print(f"  HTML report  {page_seconds:7.1f} s   {len(page) / 1e6:.1f} MB, charts included")
        print(f"  end to end   {seconds + page_seconds:7.1f} s   (target: about a minute)")
        print(f"  evaluation   {baseline:7.1f} s   alone, the same file; the audit takes "
              f"{seconds / baseline:.2f}x as long")
        print(f"  findings     {', '.join(f'{f.count:,} {f.kind}' for f in report.findings)} "
              f"({items:,} incident entries)")


if __name__ == "__main__":
    main()
