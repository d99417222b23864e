"""Publishing the marts to readers (BI tools), after the gate passed."""

import dagster as dg

from orchestration.defs.publish.assets import reader_marts

defs = dg.Definitions(assets=[reader_marts])
