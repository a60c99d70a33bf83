"""Generate the bundled sample exports: a synthetic online store and a SaaS sign-up flow.

The store simulates visitors arriving from touchpoint channels (ad, search, social, email,
direct, referral) over 13 ISO weeks (2026-08-03 to 2026-11-01). Each user has a persona
(segment) and an A/B variant; visits are sessions hours or days apart, many of them
single-event bounces. Within a visit users move awareness → interest → consideration
(cart) → checkout → purchase, with later visits bringing repeat purchases (loyalty) and
reviews or referrals (advocacy). The `new_checkout` variant converts checkout → purchase
better, email converts best and social worst. Rows are shuffled, as real exports are.

The SaaS file simulates accounts going visit → sign-up → activation (first project) →
subscription → referral (invite), with a session id column and naive local timestamps
(Europe/Berlin).

Run `python sample_data/generate.py` to rewrite both files; the same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
START = datetime(2026, 8, 3, tzinfo=UTC)
END = datetime(2026, 11, 2, tzinfo=UTC)  # exclusive: the last day is 2026-11-01
CHANNELS = {"ad": 0.30, "search": 0.25, "social": 0.18, "email": 0.10, "direct": 0.12, "referral": 0.05}
CHANNEL_LIFT = {"ad": 0.9, "search": 1.1, "social": 0.6, "email": 1.5, "direct": 1.2, "referral": 1.3}
SEGMENTS = {"new_visitor": 0.45, "returning": 0.25, "bargain_hunter": 0.20, "loyal": 0.10}
SEGMENT_LIFT = {"new_visitor": 0.8, "returning": 1.2, "bargain_hunter": 0.9, "loyal": 1.6}
PAGES = ["/", "/search", "/help", "/account", "/deals"]
STORE_COLUMNS = ["user_id", "timestamp", "event", "channel", "segment", "variant", "value", "page", "cart_id"]
SAAS_COLUMNS = ["account", "occurred_at", "action", "session_id", "source", "plan", "variant"]


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class Store:
    """One user's visits, appended as rows."""

    def __init__(self, rng: random.Random, user: int, rows: list[list[str]], carts: list[int]) -> None:
        self.rng, self.rows, self.carts = rng, rows, carts
        self.user = f"u{user:05d}"
        self.segment = pick(rng, SEGMENTS)
        self.variant = rng.choice(["control", "new_checkout"])
        self.purchases = 0

    def emit(self, ts: datetime, event: str, channel: str, **props: str) -> None:
        stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        row = [self.user, stamp, event, channel, self.segment, self.variant]
        row += [props.get("value", ""), props.get("page", ""), props.get("cart_id", "")]
        self.rows.append(row)

    def visit(self, ts: datetime, channel: str, returning: bool) -> None:
        rng = self.rng
        lift = CHANNEL_LIFT[channel] * SEGMENT_LIFT[self.segment]
        landing = "ad_impression" if channel == "ad" and rng.random() < 0.6 else "landing_view"
        self.emit(ts, landing, channel, page="/")
        if rng.random() < (0.42 if not returning else 0.30):
            return  # a bounce: one event, then gone
        step = lambda lo, hi: timedelta(seconds=rng.randint(lo, hi))  # noqa: E731
        for _ in range(rng.randint(0, 2)):
            ts += step(5, 120)
            self.emit(ts, "page_view", channel, page=rng.choice(PAGES))
        if rng.random() < 0.12:
            ts += step(5, 60)
            self.emit(ts, "search", channel, page="/search")
        if rng.random() > min(0.95, 0.62 * lift):
            return
        for _ in range(rng.randint(1, 3)):
            ts += step(10, 240)
            self.emit(ts, "product_view", channel, page="/product")
        if rng.random() > min(0.9, 0.40 * lift):
            if rng.random() < 0.05:
                ts += step(30, 300)
                self.emit(ts, "support_contact", channel, page="/help")
            return
        self.carts[0] += 1
        cart = f"c{self.carts[0]:06d}"
        ts += step(0, 90)  # sometimes the same second as the last view
        self.emit(ts, "add_to_cart", channel, cart_id=cart)
        if rng.random() < 0.25:
            ts += step(0, 60)
            self.emit(ts, "add_to_cart", channel, cart_id=cart)
        if rng.random() > 0.55:
            return
        ts += step(20, 400)
        self.emit(ts, "begin_checkout", channel, cart_id=cart)
        buy = 0.30 * (1.45 if self.variant == "new_checkout" else 1.0) * min(1.4, lift)
        if rng.random() > min(0.95, buy):
            return
        ts += step(30, 600)
        value = f"{rng.uniform(12, 240):.2f}"
        self.emit(ts, "purchase", channel, value=value, cart_id=cart)
        self.purchases += 1
        if rng.random() < 0.05:
            self.emit(ts + timedelta(days=rng.randint(1, 12)), "refund_requested", channel, cart_id=cart)
        if rng.random() < 0.22 * SEGMENT_LIFT[self.segment]:
            later = ts + timedelta(days=rng.uniform(1, 16))
            self.emit(later, rng.choice(["review_submitted", "review_submitted", "referral_sent"]), channel)
        elif rng.random() < 0.04:
            self.emit(ts + timedelta(hours=rng.uniform(1, 48)), "page_view", channel, page="/refer")


def store_rows(rng: random.Random, users: int) -> list[list[str]]:
    rows: list[list[str]] = []
    carts = [0]
    span = (END - START).total_seconds()
    for index in range(users):
        shopper = Store(rng, index, rows, carts)
        ts = START + timedelta(seconds=rng.uniform(0, span * 0.92))
        channel = pick(rng, CHANNELS)
        visits = 1 + min(int(rng.expovariate(0.9 / SEGMENT_LIFT[shopper.segment])), 8)
        for number in range(visits):
            if ts >= END:
                break
            shopper.visit(ts, channel, returning=number > 0)
            ts += timedelta(hours=rng.uniform(2, 24 * 12))
            if rng.random() < 0.35:
                channel = pick(rng, CHANNELS)
    return [row for row in rows if row[1] < END.strftime("%Y-%m-%dT%H:%M:%SZ")]


def saas_rows(rng: random.Random, accounts: int) -> list[list[str]]:
    rows: list[list[str]] = []
    span = (END - START).total_seconds()
    sources = {"search": 0.35, "ad": 0.25, "social": 0.15, "referral": 0.10, "newsletter": 0.15}
    session = 0
    for index in range(accounts):
        account = f"acct-{index:05d}"
        source = pick(rng, sources)
        variant = rng.choice(["control", "short_signup"])
        ts = START + timedelta(seconds=rng.uniform(0, span * 0.9))
        stage = 0  # 0 visitor, 1 signed up, 2 activated, 3 subscribed, 4 referred
        for _ in range(rng.randint(1, 6)):
            session += 1
            sid = f"s{session:06d}"

            def emit(action: str, plan: str = "") -> None:
                local = ts.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M:%S")  # noqa: B023 - called at once
                rows.append([account, local, action, sid, source, plan, variant])  # noqa: B023

            emit("site_visit")
            if rng.random() < 0.3:
                ts += timedelta(seconds=rng.randint(5, 200))
                emit(rng.choice(["pricing_view", "docs_view"]))
            signup = 0.30 * (1.3 if variant == "short_signup" else 1.0)
            if stage == 0 and rng.random() < signup:
                ts += timedelta(seconds=rng.randint(20, 600))
                emit("signup")
                stage = 1
            if stage == 1 and rng.random() < 0.55:
                for _ in range(rng.randint(1, 3)):
                    ts += timedelta(seconds=rng.randint(10, 300))
                    emit("onboarding_step")
                if rng.random() < 0.7:
                    ts += timedelta(seconds=rng.randint(30, 900))
                    emit("project_created")
                    stage = 2
            elif stage == 2 and rng.random() < 0.35:
                ts += timedelta(seconds=rng.randint(30, 900))
                emit("subscription_started", plan=pick(rng, {"basic": 0.5, "pro": 0.35, "team": 0.15}))
                stage = 3
            elif stage == 3 and rng.random() < 0.3:
                ts += timedelta(seconds=rng.randint(30, 900))
                emit("invite_sent")
                stage = 4
            ts += timedelta(hours=rng.uniform(3, 24 * 9))
            if ts >= END:
                break
    return rows


def write(path: Path, columns: list[str], rows: list[list[str]], rng: random.Random) -> None:
    rng.shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20261101)
    parser.add_argument("--users", type=int, default=8000, help="store users")
    parser.add_argument("--accounts", type=int, default=3000, help="SaaS accounts")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    write(args.out / "store_events.csv", STORE_COLUMNS, store_rows(rng, args.users), rng)
    write(args.out / "saas_events.csv", SAAS_COLUMNS, saas_rows(rng, args.accounts), rng)


if __name__ == "__main__":
    from zoneinfo import ZoneInfo

    BERLIN = ZoneInfo("Europe/Berlin")
    main()
