"""17. The new screens over HTTP at size (issue 18, point 4): the registers Today grid, whereabouts, trends and the
governors' report, as a signed-in browser gets them, with 100 and 10,000 placements.

Each size N has two databases: the registers world of bench/registers.py (N running placements of one school, two
sessions a weekday, four weeks of marked registers; the measured provider teaches 100 of them at every size, so its
grid is the same size everywhere) and the governors world of bench/governors.py (N placements with a year of registers,
lesson reports, assessments, reviews, incidents, exams and destinations). The app (create_app) runs in this process;
each page is requested with Flask's test client, signed in through the /login form, so the time covers the whole
request: the session and user look-up, the queries, the template, and for /whereabouts the read log (R111).
Measured in turn, size after size, round after round:
- registers: GET /registers for the provider's tutor (the Today grid: 200 session rows at every size);
- whereabouts: GET /whereabouts for the school's coordinator (every one of the N pupils worked out, counted and
  filterable; the first page of them shown and logged), per pupil on the list;
- pupil: GET /pupils/<ref>/whereabouts (one pupil);
- trends: GET /trends for the coordinator (every figure over all N placements);
- governors: GET /governors for the coordinator (the spring term's report over all N placements).
Two ratios, largest size over smallest: per request (flat for the screens of a fixed size: registers, pupil) and per row
(the screens that show or sum every placement: whereabouts, trends, governors). Goal: <= 1.3x.
`python -m bench --only screens` (or `python -m bench.screens --sizes 100,10000 --rounds 5`).
"""
from __future__ import annotations

import re
from pathlib import Path

from apflow.clock import clock

from . import governors as governors_bench
from . import registers as registers_bench
from . import trends as trends_bench
from .common import PASSWORD, fresh_database, interleaved, make_core, per_row, say, table

GRID_PUPILS = 100
SCREENS = [("registers", "GET /registers (provider's Today grid)", "per request"),
           ("whereabouts", "GET /whereabouts (all the school's pupils worked out, page 1 shown)", "per row"),
           ("pupil", "GET /pupils/<ref>/whereabouts (one pupil)", "per request"),
           ("trends", "GET /trends (every figure, no filter)", "per row"),
           ("governors", "GET /governors (spring term)", "per row")]


def _signed_in(app, username: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {username} failed: HTTP {response.status_code}")
    return client


def _page(client, path: str, now):
    """A call that freezes the world's clock (each world has its own day) and gets the page, which must be a 200."""
    def call():
        clock.freeze(now)
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: HTTP {response.status_code}: {response.get_data(as_text=True)[:300]}")
        return response
    return call


def run(db: str, workdir: Path, sizes: list[int], rounds: int = 10) -> dict:
    from apflow.web import create_app

    cores, calls, rows = [], {}, {}
    try:
        for n in sizes:
            core = make_core(fresh_database(db, workdir, f"screens_reg_{n}", schema=f"bench_screens_reg_{n}"), workdir)
            cores.append(core)
            world = registers_bench._load(core, n, provider_pupils=GRID_PUPILS)
            app = create_app(core=core, run_scheduler=False)
            tutor, coord = _signed_in(app, "tutor"), _signed_in(app, "coord")
            grid_rows = 2 * world["provider_pupils"]
            calls[n] = {"registers": (_page(tutor, "/registers", registers_bench.NOW), grid_rows),
                        "whereabouts": (_page(coord, "/whereabouts", registers_bench.NOW), n),
                        "pupil": (_page(coord, "/pupils/B-00000/whereabouts", registers_bench.NOW), 1)}
            core = make_core(fresh_database(db, workdir, f"screens_gov_{n}", schema=f"bench_screens_gov_{n}"), workdir)
            cores.append(core)
            governors_bench._load(core, n)
            app = create_app(core=core, run_scheduler=False)
            coord = _signed_in(app, "coord")
            calls[n]["trends"] = (_page(coord, "/trends", trends_bench.NOW), n)
            calls[n]["governors"] = (_page(coord, "/governors?term=Spring+2026", trends_bench.NOW), n)
            for call, _ in calls[n].values():
                call()  # warm: statements, templates, calendars
            rows[n] = {"grid_rows": grid_rows, "bytes": {key: len(call().get_data()) for key, (call, _) in calls[n].items()}}
            say(f"  {db}: {n:,} placements loaded")
        samples = interleaved(calls, rounds)
    finally:
        clock.reset()
        for core in cores:
            core.db.dispose()
    result = per_row(db, calls, samples)
    small, large = min(sizes), max(sizes)
    result["request_ratios"] = {key: result["sizes"][large][key]["p50"] / result["sizes"][small][key]["p50"] for key in calls[small]}
    for n in sizes:
        result["sizes"][n]["page_bytes"] = rows[n]["bytes"]
    return result


def report(results: list[dict]) -> None:
    for r in results:
        sizes = sorted(k for k in r["sizes"])
        out = []
        for key, words, measure in SCREENS:
            cells = [f"{r['sizes'][n][key]['p50']:.1f} ms ({r['sizes'][n][key]['rows']:,} rows, {r['sizes'][n]['page_bytes'][key] / 1024:.0f} kB)"
                     for n in sizes]
            out.append([words] + cells + [f"{r['request_ratios'][key]:.2f}x", f"{r['ratios'][key]:.2f}x", measure])
        say(f"\n{r['db']}:")
        say(table(["p50 per request"] + [f"{n:,} placements" for n in sizes]
                  + [f"ratio per request {r['ratio_label']}", "ratio per row", "flat means"], out))


if __name__ == "__main__":
    from .common import standalone

    standalone("screens", __doc__, run, report, sizes="100,10000", rounds=5)
