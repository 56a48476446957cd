"""10. Exports at size (issue 16, part 4): the school census's AP return and registers as files across a school.

Each size N is the registers benchmark's world (bench/registers.py): N running placements of one school, two sessions
a weekday and four weeks of marked registers, min(N, 200) of them at the measured provider. Measured at each size:
- census: census.census_return for the school's coordinator (GET /exports/census): one row per placement, checked;
- week: exports.register_export of the whole school's last week as CSV (GET /exports/registers.csv): N x 10 rows,
  the read log written for every pupil;
- provider: the provider's four weeks as XLSX (GET /exports/registers.xlsx?provider=...), as its tutor.
Flat means the cost per row stays within 1.3x from the smallest to the largest size.
`python -m bench.exports --sizes 100,10000 --db sqlite`.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from apflow.clock import clock
from apflow.services import census, exports

from .common import fresh_database, interleaved, make_core, per_row, say, table
from .registers import HISTORY_DAYS, TODAY, _load

METRICS = [("census", "census return, per placement"), ("week", "whole school, one week, CSV, per row"),
           ("provider", "one provider, four weeks, XLSX, per row")]


def _work(core, world: dict) -> dict:
    coord, tutor = world["coord"], world["tutor"]
    week = exports.Scope()
    provider = exports.Scope(provider_id=1)
    rows = {"census": len(census.census_return(core, coord, "summer-2026")["rows"]),
            "week": len(exports.register_rows(core, coord, week, TODAY - timedelta(days=6), TODAY)["rows"]),
            "provider": len(exports.register_rows(core, tutor, provider, TODAY - timedelta(days=HISTORY_DAYS), TODAY)["rows"])}
    return {"census": (lambda: census.census_return(core, coord, "summer-2026"), rows["census"]),
            "week": (lambda: exports.register_export(core, coord, "csv", week, TODAY - timedelta(days=6), TODAY), rows["week"]),
            "provider": (lambda: exports.register_export(core, tutor, "xlsx", provider, TODAY - timedelta(days=HISTORY_DAYS), TODAY), rows["provider"])}


def run(db: str, workdir: Path, sizes: list[int], rounds: int = 5) -> dict:
    cores, work = {}, {}
    try:
        for n in sizes:
            cores[n] = make_core(fresh_database(db, workdir, f"exports_{n}", schema=f"bench_exports_{n}"), workdir)
            world = _load(cores[n], n)
            work[n] = _work(cores[n], world)
            for fn, _ in work[n].values():
                fn()
        samples = interleaved(work, rounds)
    finally:
        clock.reset()
        for core in cores.values():
            core.db.dispose()
    return per_row(db, work, samples)


def report(results: list[dict]) -> None:
    for r in results:
        sizes = sorted(r["sizes"])
        rows = [[words] + [f"{r['sizes'][n][k]['p50']:.1f} ms, {r['sizes'][n][k]['rows']:,} rows ({r['sizes'][n][k]['per_row_ms']:.4f}/row)"
                           for n in sizes] + [f"{r['ratios'][k]:.2f}x"] for k, words in METRICS]
        say(f"\n{r['db']}:")
        say(table(["p50"] + [f"{n:,} placements" for n in sizes] + [f"ratio per row {max(sizes):,}/{min(sizes):,}"], rows))


if __name__ == "__main__":
    from .common import standalone

    standalone("exports", __doc__, run, report, sizes="100,2000", rounds=5)
