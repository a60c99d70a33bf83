"""Run the whole comparison: journeyctl against the Polars scan floor and the peers.

    python bench/run.py --events 1m 10m --repeat 5 --data /tmp/bench-data

For each size it generates the export once (``--data``, seeded), then runs every tool as a
whole process: one warm-up round, then ``--repeat`` rounds, the tools taking turns in each
round so that a busy machine slows them alike. It prints, per tool, the median wall time,
the CPU time (user + system) and peak resident memory of the median run, the ratio to the
Polars scan, and whether the funnel counts equal journeyctl's; then journeyctl's time
against each peer, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
ANALYZE = [sys.executable, "-m", "journeyctl", "analyze", "{file}", "-c", "{config}", "-f", "json", "-q"]
TOOLS = {
    "polars scan (floor)": [sys.executable, str(HERE / "peers.py"), "scan", "{file}"],
    "journeyctl": ANALYZE,
    "journeyctl --memory-limit 3GiB": [*ANALYZE, "--memory-limit", "3GiB"],
    "journeyctl on Parquet (convert)": [*ANALYZE[:4], "{parquet}", *ANALYZE[5:]],
    "duckdb SQL": [sys.executable, str(HERE / "peers.py"), "duckdb", "{file}"],
    "pandas": [sys.executable, str(HERE / "peers.py"), "pandas", "{file}"],
    "chdb windowFunnel": [sys.executable, str(HERE / "peers.py"), "chdb", "{file}"],
}
DEFAULT_TOOLS = [t for t in TOOLS if t != "journeyctl on Parquet (convert)"]
Run = tuple[float, float, float, str]


def size(text: str) -> int:
    text = text.lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * scale)


def measure(command: list[str]) -> Run:
    """(wall s, CPU s, peak RSS MB, stdout) of one whole-process run, from the kernel's
    accounting of that child (wait4), so memory is the process's own peak."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed with exit code {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def counts(tool: str, out: str) -> list[int] | None:
    if tool.startswith("polars"):
        return None
    data = json.loads(out)
    return [stage["users"] for stage in data["stages"]] if tool.startswith("journeyctl") else list(data)


def spread(walls: dict[str, list[float]]) -> str:
    """The spread (standard deviation) of each name's wall times, as one line."""
    return "wall-time spread (stdev, s): " + ", ".join(
        f"{name} {statistics.pstdev(times):.2f}" for name, times in walls.items()
    )


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def prepare(label: str, data: Path, config: str, tools: list[str]) -> tuple[Path, Path]:
    """The CSV export of ``label`` events (generated once) and, when a tool needs it, its
    Parquet conversion."""
    file = data / f"events_{label}.csv"
    if not file.exists():
        generate = [sys.executable, str(HERE / "generate.py"), "--events", str(size(label)), "-o", str(file)]
        subprocess.run(generate, check=True)
    parquet = data / f"events_{label}.parquet"
    if "journeyctl on Parquet (convert)" in tools and not parquet.exists():
        convert = [sys.executable, "-m", "journeyctl", "convert", str(file), "-c", config, "-o", str(parquet)]
        subprocess.run(convert, check=True)
    return file, parquet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", nargs="+", default=["1m"], help="sizes such as 1m 10m 100m")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=HERE / "data", help="where exports are kept")
    parser.add_argument("--config", default=str(ROOT / "configs" / "ecommerce.yaml"))
    parser.add_argument("--tools", nargs="+", default=DEFAULT_TOOLS, choices=list(TOOLS))
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    print(f"# {platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}")
    for label in args.events:
        file, parquet = prepare(label, args.data, args.config, args.tools)
        commands = {
            tool: [
                p.replace("{file}", str(file))
                .replace("{parquet}", str(parquet))
                .replace("{config}", args.config)
                for p in TOOLS[tool]
            ]
            for tool in args.tools
        }
        print(f"\n## {size(label):,} events ({file.stat().st_size / 1e6:,.0f} MB CSV)\n")
        print(f"load average before: {load_average()}\n")
        runs: dict[str, list[Run]] = {tool: [] for tool in args.tools}
        for round_ in range(args.repeat + 1):  # round 0 warms caches and compiled kernels
            for tool, command in commands.items():
                run = measure(command)
                if round_:
                    runs[tool].append(run)
        print("| tool | wall s (median) | CPU s | peak RSS MB | × scan | counts |")
        print("|---|---:|---:|---:|---:|---|")
        medians = {tool: sorted(r, key=lambda x: x[0])[len(r) // 2] for tool, r in runs.items()}
        floor = next((m[0] for t, m in medians.items() if t.startswith("polars")), None)
        reference = counts("journeyctl", next(m[3] for t, m in medians.items() if t.startswith("journeyctl")))
        for tool, (wall, cpu, rss, out) in medians.items():
            found = counts(tool, out)
            same = "" if found is None else ("= journeyctl" if found == reference else f"differ: {found}")
            ratio = f"{wall / floor:.2f}" if floor else ""
            print(f"| {tool} | {wall:.2f} | {cpu:.2f} | {rss:,.0f} | {ratio} | {same} |")
        print(f"\njourneyctl users per stage: {reference}")
        ours = [t for t in medians if t.startswith("journeyctl")]
        for tool in medians:
            if tool not in ours and not tool.startswith("polars"):
                faster = ", ".join(f"{t}: {medians[tool][0] / medians[t][0]:.2f}×" for t in ours)
                print(f"{tool} time / journeyctl time: {faster}")
        print(spread({tool: [run[0] for run in tool_runs] for tool, tool_runs in runs.items()}))
        print(f"load average after: {load_average()}")
    print(f"\nmedian of {args.repeat} whole-process runs after one warm-up round, tools interleaved")


if __name__ == "__main__":
    main()
