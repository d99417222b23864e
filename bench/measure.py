"""Run one command in its own process and measure it: wall time, CPU time and peak memory.

CPU time comes from `os.wait4` on the child, so it covers the child and every descendant it
waited for (dbt under Dagster), and nothing of this process. Memory is sampled from /proc: each
process's own high-water mark (VmHWM) and the process tree's sum (Dagster and dbt alive at once).
`ru_maxrss` is not used for memory: Linux stamps a freshly started child with its parent's
high-water mark (the address space it forked from), so it would report this process's size.
The machine's other CPU use during the run is recorded, so a disturbed figure shows.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.2
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


@dataclass
class Measurement:
    """What one run cost, as written to the results file."""

    name: str
    command: list[str]
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    user_seconds: float
    sys_seconds: float
    peak_rss_mib: float  # max(sampled process-tree peak, largest single process)
    max_process_rss_mib: float  # the largest single process of the tree (its sampled VmHWM)
    tree_rss_peak_mib: float  # sampled every SAMPLE_SECONDS: sum over the live process tree
    rss_at_peak_mib: dict  # the processes of the tree at that peak: "pid command" -> MiB
    other_cpu_seconds: float  # CPU the rest of the machine used meanwhile (others' work)
    load_average_before: float
    log: str
    waited_for_calm_seconds: float = 0.0
    details: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _describe(pid: int) -> str:
    """`python dbt build` for /usr/bin/python3 /venv/bin/dbt build ...: enough to tell the processes apart."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    return " ".join(Path(a.decode(errors="replace")).name for a in args[:3] if a)


def tree_rss(root: int) -> dict[int, int]:
    """Resident bytes of a process and each of its live descendants."""
    children, sizes, stack = _children_by_parent(), {}, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            sizes[pid] = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
        except (OSError, IndexError, ValueError):
            continue
    return sizes


def high_water_bytes(pid: int) -> int:
    """The most a process has been resident since it started its program (VmHWM), 0 if it ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS


def wait_for_calm(max_busy_cores: float, timeout: float, window: float = 5.0) -> float:
    """Wait until the machine's busy CPU over `window` seconds is at most `max_busy_cores` (or `timeout`
    passed): on a shared machine, start a run when others are quiet. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = busy_cpu_seconds()
        time.sleep(window)
        if (busy_cpu_seconds() - before) / window <= max_busy_cores:
            break
    return time.monotonic() - started


class _TreeSampler(threading.Thread):
    """Samples the tree's resident memory; keeps the peak, which processes made it, and the
    largest single process's high-water mark."""

    def __init__(self, root: int):
        super().__init__(daemon=True)
        self.root, self.peak, self.at_peak, self.done = root, 0, {}, threading.Event()
        self.max_process = 0

    def run(self) -> None:
        while not self.done.is_set():
            sizes = tree_rss(self.root)
            self.max_process = max([self.max_process, *(high_water_bytes(pid) for pid in sizes)])
            if sum(sizes.values()) > self.peak:
                self.peak = sum(sizes.values())
                self.at_peak = {f"{pid} {_describe(pid)}": round(size / MIB) for pid, size in sizes.items()}
            self.done.wait(SAMPLE_SECONDS)


def run_measured(name: str, command: list, log: Path, env: dict[str, str], cwd: Path) -> Measurement:
    """Run `command` to completion with output to `log`; raise nothing, report the exit code."""
    command = [str(part) for part in command]
    log.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    busy_before = busy_cpu_seconds()
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        sampler = _TreeSampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
    cpu = usage.ru_utime + usage.ru_stime
    max_process = sampler.max_process / MIB
    tree_peak = sampler.peak / MIB
    return Measurement(
        name=name,
        command=command,
        returncode=process.returncode,
        wall_seconds=wall,
        cpu_seconds=cpu,
        user_seconds=usage.ru_utime,
        sys_seconds=usage.ru_stime,
        peak_rss_mib=max(tree_peak, max_process),
        max_process_rss_mib=max_process,
        tree_rss_peak_mib=tree_peak,
        rss_at_peak_mib=sampler.at_peak,
        other_cpu_seconds=max(0.0, busy_cpu_seconds() - busy_before - cpu),
        load_average_before=load_before,
        log=str(log),
    )
