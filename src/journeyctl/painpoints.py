"""Pain points: stage transitions flagged, each with its reasons in words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from journeyctl.config.durations import format_duration
from journeyctl.result import PainKind, PainPoint

if TYPE_CHECKING:
    from journeyctl.aggregate import StageCounts


def find_pain_points(counts: Sequence[StageCounts], *, max_drop_off: float | None) -> list[PainPoint]:
    """Flag transitions whose drop-off exceeds the limit, the biggest leak (most users lost;
    the earliest on a tie; none when nobody is lost) and the slowest transition (highest
    median time to convert, when at least two transitions have one)."""
    kinds: dict[int, list[tuple[PainKind, str]]] = {}
    transitions = list(range(1, len(counts)))
    for k in transitions:
        stage = counts[k]
        if max_drop_off is not None and stage.drop_off is not None and stage.drop_off > max_drop_off:
            kinds.setdefault(k, []).append(
                (
                    "drop_off_limit",
                    f"{stage.drop_off:.1%} drop off, above the {max_drop_off:.0%} limit",
                )
            )
    leak = max(transitions, key=lambda k: (counts[k].lost or 0, -k), default=None)
    if leak is not None and (counts[leak].lost or 0) > 0:
        kinds.setdefault(leak, []).append(
            ("biggest_leak", f"biggest leak: {counts[leak].lost:,} lost, the most of any step")
        )
    timed = [k for k in transitions if counts[k].times["median_time_to_convert_s"] is not None]
    if len(timed) >= 2:
        slowest = max(timed, key=lambda k: (counts[k].times["median_time_to_convert_s"] or 0.0, -k))
        median = counts[slowest].times["median_time_to_convert_s"]
        kinds.setdefault(slowest, []).append(
            ("slowest_transition", f"slowest step: median {format_duration(median)} to convert")
        )
    return [
        PainPoint(
            stage=counts[k].id,
            from_stage=counts[k - 1].id,
            kinds=[kind for kind, _ in flags],
            reasons=[reason for _, reason in flags],
        )
        for k, flags in sorted(kinds.items())
    ]


def merge_pain_points(
    found: list[PainPoint], extra: list[PainPoint], stage_ids: list[str]
) -> list[PainPoint]:
    """One pain point per transition, with the kinds and reasons of both lists, in stage order."""
    merged = {p.stage: p for p in found}
    for pain in extra:
        old = merged.get(pain.stage)
        merged[pain.stage] = (
            pain
            if old is None
            else old.model_copy(
                update={"kinds": old.kinds + pain.kinds, "reasons": old.reasons + pain.reasons}
            )
        )
    return [merged[s] for s in stage_ids if s in merged]
