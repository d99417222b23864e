"""Publishing the marts to readers (BI tools), after the gate passed, and again after a run that rebuilt marts
without publishing them (sensor `publish_changed_marts`)."""

import dagster as dg

from orchestration.defs.publish.assets import publish_changed_marts, reader_marts

defs = dg.Definitions(assets=[reader_marts], sensors=[publish_changed_marts])
