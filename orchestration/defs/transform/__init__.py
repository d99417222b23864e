"""dbt transform: every dbt model as an asset, downstream of the raw tables it reads."""

from orchestration.defs.transform.assets import defs

__all__ = ["defs"]
