"""What the collector's young-generation threshold costs a web request (apflow.web.settle_heap).

One process with the app built as `apflow serve` builds it (engine worker processes on), Flask's test client, a
bearer token. Requests alternate between Python's default thresholds (700, 10, 10) and settle_heap's
(YOUNG_GENERATION_OBJECTS, 20, 20), so machine noise hits both alike; gc.freeze() is applied to both (it only moves
what start-up made out of the collector's way). Reported: p50 and mean of each, and how many collections of each
generation the run made. `python -m bench.gc_young [--requests 600] [--db sqlite]`.
"""
from __future__ import annotations

import argparse
import gc
import tempfile
import time
from pathlib import Path

from .common import START_DATA, TRIAGE, TRIAGE_ACCEPT, deploy_triage, fresh_database, make_core, make_users, say, summary, table
from .http import _issue_tokens

DEFAULT = (700, 10, 10)


def run(db: str, workdir: Path, requests: int) -> dict:
    from apflow.logs import setup_logging
    from apflow.web import YOUNG_GENERATION_OBJECTS, create_app

    url = fresh_database(db, workdir, "gc_young")
    core = make_core(url, workdir)
    make_users(core, {"coord": ["coordinator"]})
    deploy_triage(core)
    core.db.dispose()
    token = _issue_tokens(url, workdir, ["coord"])["coord"]
    setup_logging(None)
    core = make_core(url, workdir)
    app = create_app(core=core, run_scheduler=False)
    core.steps.warm_up()
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}

    def step() -> None:  # one start and its completion: the two steps of the floor benchmark
        started = client.post(f"/api/v1/processes/{TRIAGE}/instances", json={"data": START_DATA}, headers=headers)
        task = client.get(f"/api/v1/tasks?instance={started.get_json()['id']}", headers=headers).get_json()["tasks"][0]["id"]
        done = client.post(f"/api/v1/tasks/{task}/complete", json={"data": TRIAGE_ACCEPT}, headers=headers)
        assert done.status_code == 200, done.get_data(as_text=True)

    for _ in range(20):
        step()
    gc.collect()
    gc.freeze()
    tuned = (YOUNG_GENERATION_OBJECTS, 20, 20)
    times: dict[str, list[float]] = {"default": [], "settled": []}
    before = [s["collections"] for s in gc.get_stats()]
    try:
        for i in range(requests):
            name = "settled" if i % 2 else "default"
            gc.set_threshold(*(tuned if name == "settled" else DEFAULT))
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    finally:
        gc.set_threshold(*DEFAULT)
        gc.unfreeze()
    after = [s["collections"] for s in gc.get_stats()]
    core.db.dispose()
    out = {"db": db, "requests": requests, "thresholds": {"default": DEFAULT, "settled": tuned},
           "collections_by_generation": [b - a for a, b in zip(before, after)]}
    for name, samples in times.items():
        out[f"{name}_ms"] = summary(samples)
    out["p50_ratio"] = out["settled_ms"]["p50"] / out["default_ms"]["p50"]
    out["mean_ratio"] = out["settled_ms"]["mean"] / out["default_ms"]["mean"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        r = run(args.db, Path(workdir), args.requests)
    rows = [[r["db"], f"{name} thresholds {r['thresholds'][name]}", r[f"{name}_ms"]["p50"], r[f"{name}_ms"]["mean"],
             r[f"{name}_ms"]["p95"], r[f"{name}_ms"]["n"]] for name in ("default", "settled")]
    say(table(["db", "start + look-up + complete over Flask's test client", "p50 ms", "mean ms", "p95 ms", "n"], rows))
    say(f"  settled / default: p50 {r['p50_ratio']:.2f}x, mean {r['mean_ratio']:.2f}x; collections by generation in the "
        f"run: {r['collections_by_generation']}")


if __name__ == "__main__":
    main()
