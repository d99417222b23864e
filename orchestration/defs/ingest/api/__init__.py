"""Ingest from the source systems' APIs (INGEST_SOURCE=api): one dlt connector per system (sources.py), the
multi-asset per system that lands, checks and merges its objects (assets.py), schema drift (drift.py) and the
resources read from the environment (resources.py)."""
