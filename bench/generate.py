"""Seeded, vectorised generator of e-commerce event exports of any size, for benchmarks.

Same columns and event names as sample_data/store_events.csv, so configs/ecommerce.yaml
applies. Users arrive over 91 days in sessions of a few events; each session walks the
journey a random distance (landing → product views → cart → checkout → purchase), later
sessions bring repeat purchases and reviews, and noise events are mixed in. Timestamps
have second precision (so equal timestamps occur) and rows are shuffled.

    python bench/generate.py --events 10_000_000 -o bench/data/events_10m.csv
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

START_S = 1785715200  # 2026-08-03T00:00:00Z
SPAN_S = 91 * 86400
CHANNELS = np.array(["ad", "search", "social", "email", "direct", "referral"])
SEGMENTS = np.array(["new_visitor", "returning", "bargain_hunter", "loyal"])
VARIANTS = np.array(["control", "new_checkout"])
# the walk through one session: event, and the chance to go on to the next one
WALK = [
    ("landing_view", 0.55),
    ("product_view", 0.60),
    ("product_view", 0.55),
    ("add_to_cart", 0.50),
    ("begin_checkout", 0.40),
    ("purchase", 0.30),
    ("review_submitted", 0.0),
]
NOISE = np.array(["page_view", "search", "support_contact", "ad_impression"])
EVENTS_PER_SESSION = 2.6  # the walk's expected length plus noise, measured


def generate(n_events: int, seed: int, *, first_user: int = 0) -> pl.DataFrame:
    """About ``n_events`` shuffled event rows (exactly that many after trimming), of users
    numbered from ``first_user``."""
    rng = np.random.default_rng(seed)
    n_sessions = int(n_events / EVENTS_PER_SESSION) + 1
    n_users = max(1, n_sessions // 3)
    user = first_user + rng.integers(0, n_users, n_sessions)
    start = rng.integers(0, SPAN_S, n_sessions)
    # how far each session walks: geometric steps through WALK
    depth = np.ones(n_sessions, dtype=np.int64)
    going = np.ones(n_sessions, dtype=bool)
    for _, p_next in WALK[:-1]:
        going &= rng.random(n_sessions) < p_next
        depth += going
    rows_session = np.repeat(np.arange(n_sessions), depth)
    step = np.arange(len(rows_session)) - np.repeat(np.cumsum(depth) - depth, depth)
    names = np.array([name for name, _ in WALK])
    event = names[step]
    gap = np.where(step == 0, 0, rng.integers(0, 300, len(step)))  # 0 s gaps give equal timestamps
    running = np.cumsum(gap)
    first_row = np.cumsum(depth) - depth
    ts = start[rows_session] + running - np.repeat(running[first_row], depth)
    n_noise = max(0, n_events - len(ts))
    noise_session = rng.integers(0, n_sessions, n_noise)
    all_session = np.concatenate([rows_session, noise_session])
    all_event = np.concatenate([event, NOISE[rng.integers(0, len(NOISE), n_noise)]])
    all_ts = np.concatenate([ts, start[noise_session] + rng.integers(0, 900, n_noise)])
    order = rng.permutation(len(all_ts))[:n_events]
    session = all_session[order]
    users = user[session]
    user_channel = rng.integers(0, len(CHANNELS), n_sessions)
    value = rng.uniform(10, 250, len(order)).round(2)
    return (
        pl.DataFrame(
            {
                "user_id": pl.Series(users).cast(pl.String).str.pad_start(9, "0").str.replace("^", "u"),
                "timestamp": pl.from_epoch(pl.Series(START_S + all_ts[order]), time_unit="s").dt.strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "event": all_event[order],
                "channel": CHANNELS[user_channel[session]],
                "segment": SEGMENTS[users % len(SEGMENTS)],
                "variant": VARIANTS[users % 2],
                "value": value,
                "cart_id": pl.Series(session).cast(pl.String),
            }
        )
        .with_columns(
            pl.when(pl.col("event") == "purchase").then(pl.col("value")).alias("value"),
            pl.when(pl.col("event") == "page_view").then(pl.lit("/")).alias("page"),
        )
        .select("user_id", "timestamp", "event", "channel", "segment", "variant", "value", "page", "cart_id")
    )


CHUNK = 10_000_000  # events generated at once; larger exports are chunks of disjoint users


def write(n_events: int, seed: int, output: Path) -> int:
    """Write the export in chunks of ``CHUNK`` events (each its own users, so memory stays
    that of one chunk); a ``.parquet`` output is a single file too. Returns the rows written."""
    output.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    writer = None
    with output.open("wb") as handle:
        for index, start in enumerate(range(0, n_events, CHUNK)):
            size = min(CHUNK, n_events - start)
            # chunk 0 is exactly generate(n, seed): exports up to CHUNK are unchanged
            frame = generate(size, seed + index, first_user=start)
            if output.suffix == ".parquet":
                import pyarrow.parquet as pq

                table = frame.to_arrow()
                writer = writer or pq.ParquetWriter(handle, table.schema)
                writer.write_table(table)
            else:
                frame.write_csv(handle, include_header=index == 0)
            written += frame.height
        if writer is not None:
            writer.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=lambda s: int(s.replace("_", "")), default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = write(args.events, args.seed, args.output)
    size = args.output.stat().st_size / 1e6
    print(f"{rows:,} events, {size:,.0f} MB → {args.output} in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
