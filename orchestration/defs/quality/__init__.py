"""Raw-layer data quality: a Great Expectations suite per raw table, as blocking/warning asset checks."""

import dagster as dg

from orchestration.defs.quality.checks import RawQualityConfig, build_raw_quality_checks

defs = dg.Definitions(
    asset_checks=build_raw_quality_checks(),
    resources={"raw_quality": RawQualityConfig()},
)
