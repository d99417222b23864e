"""Data-quality checks on the raw layer: suites as plain data, run by Great Expectations behind a thin runner.

Nothing here imports Great Expectations at module import time; `gx_runner` imports it when checks run.
"""
