"""Per-domain Dagster definitions: one package per source system, plus the dbt transform."""
