"""The benchmark (`make bench`): the pipeline against the single-connection DuckDB limit and a pandas peer.

`python -m bench --scale medium` generates the demo firm, times each run in its own process and
writes `bench/results/<scale>.json`; docs/performance.md reports the figures.
"""
