"""`python -m bench.tick intraday_refresh --report F`: one tick of a schedule, as the daemon makes it, and its run.

The schedule is evaluated on the instance of DAGSTER_HOME with the definitions' resources; the run it
requests (its asset selection, its tags and the schedule's name, as the daemon tags it) is executed
in this process, as `dagster job execute` does. A tick that requests no run ends there. `--report`
gets what the tick decided: its skip reason, or the run's id, selection size and tags.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import dagster as dg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schedule")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)

    from orchestration.definitions import defs

    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def(args.schedule)
    report: dict = {"schedule": args.schedule}
    with dg.DagsterInstance.get() as instance:
        resources = repo.get_top_level_resources()  # the ones the schedule asks for, as the daemon builds them
        with dg.build_schedule_context(  # in a `with`, as the daemon: its instance is closed after the tick
            instance=instance,
            repository_def=repo,
            resources={key: resources[key] for key in schedule.required_resource_keys},
        ) as context:
            data = schedule.evaluate_tick(context)
        if not data.run_requests:
            report["skip_reason"] = data.skip_message
            print(f"{args.schedule}: no run. {data.skip_message}")
        job = repo.get_job(schedule.job_name)
        ok = True
        for request in data.run_requests:
            tags = {**request.tags, "dagster/schedule_name": args.schedule}
            result = job.execute_in_process(
                instance=instance, asset_selection=list(request.asset_selection or []), tags=tags, raise_on_error=False
            )
            ok = ok and result.success
            report.setdefault("runs", []).append(
                {"run_id": result.run_id, "assets": len(request.asset_selection or []), "tags": request.tags}
            )
            print(
                f"{args.schedule}: run {result.run_id} of {len(request.asset_selection or [])} asset(s): {request.tags}"
            )
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
