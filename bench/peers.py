"""The same e-commerce funnel counts (configs/ecommerce.yaml) written for other engines.

    python bench/peers.py {scan,duckdb,pandas,chdb} FILE.csv

Each prints one JSON list: users reaching awareness, interest, consideration, purchase,
loyalty (a second purchase) and advocacy, ordered, 30-day window from the entry, best over
all entries — the definition of docs/metrics.md. Stage events are disjoint except purchase
and loyalty, so a chain of "earliest next step at or after the previous" joins is exact,
with the second purchase taken as another purchase row at the same second or the next
purchase time. `scan` reads every column and computes nothing (the I/O floor); `chdb`
runs ClickHouse's windowFunnel, whose semantics differ (see bench/README.md).
"""

from __future__ import annotations

import json
import sys

WINDOW_S = 30 * 86400
AWARENESS = ("ad_impression", "landing_view")
ADVOCACY = ("review_submitted", "referral_sent")


def levels_to_users(levels: dict[int, int], stages: int = 6) -> list[int]:
    return [sum(n for level, n in levels.items() if level >= k) for k in range(1, stages + 1)]


def scan(path: str) -> list[int]:
    import polars as pl

    frame = pl.scan_csv(path).collect()
    return [frame.height]


def duckdb_funnel(path: str) -> list[int]:
    import duckdb

    sql = f"""
    WITH ev AS (
        SELECT user_id, epoch(CAST("timestamp" AS TIMESTAMPTZ))::BIGINT AS ts, event, page
        FROM read_csv('{path}', all_varchar = true)
    ),
    s1 AS (SELECT DISTINCT user_id, ts AS t1 FROM ev WHERE event IN {AWARENESS}),
    s2 AS (SELECT DISTINCT user_id, ts FROM ev WHERE event = 'product_view'),
    s3 AS (SELECT DISTINCT user_id, ts FROM ev WHERE event = 'add_to_cart'),
    p AS (
        SELECT user_id, ts, count(*) AS n, lead(ts) OVER (PARTITION BY user_id ORDER BY ts) AS next_ts
        FROM ev WHERE event = 'purchase' GROUP BY user_id, ts
    ),
    s6 AS (
        SELECT DISTINCT user_id, ts FROM ev
        WHERE event IN {ADVOCACY} OR (event = 'page_view' AND page = '/refer')
    ),
    c2 AS (SELECT s1.*, s2.ts AS t2 FROM s1 ASOF LEFT JOIN s2 ON s1.user_id = s2.user_id AND s2.ts >= s1.t1),
    c3 AS (SELECT c2.*, s3.ts AS t3 FROM c2 ASOF LEFT JOIN s3 ON c2.user_id = s3.user_id AND s3.ts >= c2.t2),
    c4 AS (
        SELECT c3.*, p.ts AS t4, CASE WHEN p.n >= 2 THEN p.ts ELSE p.next_ts END AS t5
        FROM c3 ASOF LEFT JOIN p ON c3.user_id = p.user_id AND p.ts >= c3.t3
    ),
    c6 AS (SELECT c4.*, s6.ts AS t6 FROM c4 ASOF LEFT JOIN s6 ON c4.user_id = s6.user_id AND s6.ts >= c4.t5),
    lv AS (
        SELECT user_id, max(
            1 + (t2 - t1 <= {WINDOW_S})::INT * (1 + (t3 - t1 <= {WINDOW_S})::INT * (1
              + (t4 - t1 <= {WINDOW_S})::INT * (1 + (t5 - t1 <= {WINDOW_S})::INT
              * (1 + (t6 - t1 <= {WINDOW_S})::INT))))
        ) AS level
        FROM (SELECT user_id, t1, coalesce(t2, 1e18) t2, coalesce(t3, 1e18) t3, coalesce(t4, 1e18) t4,
                     coalesce(t5, 1e18) t5, coalesce(t6, 1e18) t6 FROM c6)
        GROUP BY user_id
    )
    SELECT level, count(*) FROM lv GROUP BY level
    """
    return levels_to_users(dict(duckdb.sql(sql).fetchall()))


def pandas_funnel(path: str) -> list[int]:
    import numpy as np
    import pandas as pd

    ev = pd.read_csv(path, dtype=str, usecols=["user_id", "timestamp", "event", "page"])
    stamps = pd.to_datetime(ev["timestamp"], utc=True, format="ISO8601")
    ev["ts"] = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    far = np.int64(10**15)

    def steps(mask: pd.Series) -> pd.DataFrame:
        return ev.loc[mask, ["user_id", "ts"]].drop_duplicates().sort_values("ts")

    def chain(left: pd.DataFrame, on: str, right: pd.DataFrame, name: str) -> pd.DataFrame:
        left = left.assign(_key=left[on].fillna(far).astype("int64")).sort_values("_key")
        right = right.rename(columns={"ts": name})
        right["_key"] = right[name]
        out = pd.merge_asof(left, right, on="_key", by="user_id", direction="forward")
        return out.drop(columns="_key")

    entries = steps(ev["event"].isin(AWARENESS)).rename(columns={"ts": "t1"})
    c = chain(entries, "t1", steps(ev["event"] == "product_view"), "t2")
    c = chain(c, "t2", steps(ev["event"] == "add_to_cart"), "t3")
    buys = ev.loc[ev["event"] == "purchase"].groupby(["user_id", "ts"]).size().rename("n").reset_index()
    buys = buys.sort_values(["user_id", "ts"])
    buys["next_ts"] = buys.groupby("user_id")["ts"].shift(-1)
    buys["t5"] = np.where(buys["n"] >= 2, buys["ts"], buys["next_ts"])
    c = chain(c, "t3", buys[["user_id", "ts", "t5"]].sort_values("ts"), "t4")
    advocacy = ev["event"].isin(ADVOCACY) | ((ev["event"] == "page_view") & (ev["page"] == "/refer"))
    c = chain(c, "t5", steps(advocacy), "t6")
    level = pd.Series(1, index=c.index)
    alive = pd.Series(True, index=c.index)
    for column in ("t2", "t3", "t4", "t5", "t6"):
        alive &= c[column].notna() & (c[column] - c["t1"] <= WINDOW_S)
        level += alive
    best = level.groupby(c["user_id"]).max()
    return levels_to_users(best.value_counts().to_dict())


def chdb_funnel(path: str) -> list[int]:
    import chdb

    sql = f"""
    SELECT level, count() FROM (
        SELECT user_id, windowFunnel({WINDOW_S})(
            toDateTime(timestamp),
            event IN {AWARENESS}, event = 'product_view', event = 'add_to_cart',
            event = 'purchase', event = 'purchase',
            event IN {ADVOCACY} OR (event = 'page_view' AND page = '/refer')
        ) AS level
        FROM file('{path}', CSVWithNames)
        GROUP BY user_id
    ) WHERE level > 0 GROUP BY level
    """
    rows = chdb.query(sql, "CSV").data().strip().splitlines()
    return levels_to_users({int(a): int(b) for a, b in (r.split(",") for r in rows)})


PEERS = {"scan": scan, "duckdb": duckdb_funnel, "pandas": pandas_funnel, "chdb": chdb_funnel}

if __name__ == "__main__":
    print(json.dumps(PEERS[sys.argv[1]](sys.argv[2])))
