"""apflow's benchmark suite: `python -m bench` (everything) or `python -m bench --quick --json FILE`.

One module per benchmark (overhead, scaling, timers, http, size), shared set-up in common.
Benchmarks measure and print; they never assert time limits. Results: docs/performance.md.
"""
