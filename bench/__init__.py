"""Softbrik's benchmarks: `make bench` (= `python -m bench`) runs them all.

A benchmark is a module of this package, `bench/<name>.py`, that defines `main()` or `run()`
(plain or `async`; it may take one argument, the command-line arguments after its name).
`python -m bench` imports every module here and runs each one that has either, in name order;
`python -m bench NAME [ARGS...]` runs one (`python -m bench graphql_overhead --seconds 1`);
`python -m bench --list` lists them. Modules without `main()`/`run()` (like `harness`) are
shared helpers, not benchmarks.

Every benchmark prints its figures as ratios against a baseline measured in the same run (never
against a number from another machine or day), and its results go in the README section of its
area. `bench.harness` has what they share: a temporary Softbrik database, a real uvicorn server
in a subprocess, and a load generator in another process that measures requests per second and
latency percentiles over loopback, with the two sides of a comparison interleaved.
"""
