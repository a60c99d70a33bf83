"""Where the time of ``journeyctl analyze`` goes, step by step, in one process.

    python bench/profile.py /tmp/bench-data/events_10m.csv [-c configs/ecommerce.yaml]

Runs the steps of the in-memory pipeline one after the other (as ``api.analyze`` chains
them) and prints the wall and CPU seconds of each; CPU seconds say more than wall seconds
on a busy machine. The counts printed last must equal the ``journeyctl`` row of run.py.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

started = (time.perf_counter(), time.process_time(), 0.0, 0.0)

import journeyctl.cli  # noqa: E402, F401  (the command's process settings: no huge-page madvise)
from journeyctl.aggregate import summarize  # noqa: E402
from journeyctl.api import focused_facts  # noqa: E402
from journeyctl.columns import SESSION  # noqa: E402
from journeyctl.commerce import basket_facts, buyer_facts  # noqa: E402
from journeyctl.config.loading import load_config  # noqa: E402
from journeyctl.facts import landing_channel_column, micros, prepare_events, user_levels  # noqa: E402
from journeyctl.load import RAW_TS, expand_sources, load_journey_events, repair_timestamps  # noqa: E402
from journeyctl.quality import apply_quality, parse_bad_rows  # noqa: E402
from journeyctl.sessions import session_facts  # noqa: E402

ROOT = Path(__file__).parent.parent


class Clock:
    """Wall, CPU and system seconds and page faults per step (the system time of a step is
    mostly its page faults: the operating system zeroing freshly touched memory)."""

    def __init__(self) -> None:
        self.last = started
        self.rows: list[tuple[str, tuple[float, ...]]] = []

    def tick(self, step: str) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        now = (time.perf_counter(), time.process_time(), usage.ru_stime, float(usage.ru_minflt))
        self.rows.append((step, tuple(b - a for a, b in zip(self.last, now, strict=True))))
        self.last = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", nargs="+")
    parser.add_argument("-c", "--config", default=str(ROOT / "configs" / "ecommerce.yaml"))
    args = parser.parse_args()
    clock = Clock()
    clock.tick("start and imports")
    journey = load_config(args.config)
    files = expand_sources(args.events)
    frame = load_journey_events(files, journey).collect(engine="streaming")
    clock.tick("read and parse (mapped columns)")
    frame = repair_timestamps(frame, timezone=journey.timezone)
    good, _ = apply_quality(frame, files, policy=parse_bad_rows("fail"), dedupe=False)
    good = good.drop(RAW_TS, "_source", "_line")
    clock.tick("quality: bad rows, duplicates")
    events = prepare_events(good, journey)
    clock.tick("user codes, stage masks, order, sessions")
    window_us = micros(journey.funnel.window.total_seconds())
    user_levels(events, n_stages=len(journey.stages), window_us=window_us)
    clock.tick("funnel kernel")
    lazy = events.lazy()
    stage_ids = [s.id for s in journey.stages]
    contiguous = SESSION not in good.columns
    channel = landing_channel_column(journey)
    session_facts(
        lazy, bounce=journey.bounce, stage_ids=stage_ids, channel=channel, contiguous=contiguous
    ).collect()
    clock.tick("session facts")
    basket_facts(lazy, cart=journey.cart, window_us=window_us, contiguous=contiguous).collect()
    buyer_facts(lazy, cart=journey.cart).collect()
    clock.tick("cart and buyer facts")
    facts = focused_facts(good, journey)
    clock.tick("(all facts again, as analyze runs them)")
    result = summarize(facts, journey)
    clock.tick("aggregation")
    total = [sum(spent[i] for step, spent in clock.rows if not step.startswith("(")) for i in range(4)]
    print(f"{good.height:,} events, {facts.users:,} users, {facts.sessions.height:,} sessions")
    print("| step | wall s | CPU s | of which system s | page faults |\n|---|---:|---:|---:|---:|")
    for step, (wall, cpu, system, faults) in clock.rows:
        print(f"| {step} | {wall:.2f} | {cpu:.2f} | {system:.2f} | {faults:,.0f} |")
    print(
        f"| total (without the repeat) | {total[0]:.2f} | {total[1]:.2f} | {total[2]:.2f} | {total[3]:,.0f} |"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB; users per stage {[s.users for s in result.stages]}")


if __name__ == "__main__":
    main()
