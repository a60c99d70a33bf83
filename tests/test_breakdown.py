"""Breakdowns: attribution, per-value counts, top/other folding and the tests of each value
against the rest or a control, on tiny logs worked by hand."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from typer.testing import CliRunner

from journeyctl import analyze, api
from journeyctl.aggregate import summarize
from journeyctl.api import funnel_levels
from journeyctl.breakdown import segment_tests
from journeyctl.check import path_problem
from journeyctl.cli import app
from journeyctl.errors import ConfigError, UsageError
from journeyctl.facts import concat_facts, user_facts
from journeyctl.render import Format, render
from journeyctl.render.csv import render_csv
from journeyctl.result import AnalysisResult, Breakdown, rate
from journeyctl.stats import benjamini_hochberg, fisher_exact
from tests import reference
from tests.conftest import Golden
from tests.events import journey, log
from tests.strategies import event_logs
from tests.test_funnel_property import OVERLAPPING

ABC_YAML = """
columns: {properties: [channel, device]}
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
  - {id: c, match: [{events: [c]}]}
"""
ABC = journey(ABC_YAML)
# u1 reaches c (entry email, b on web, c on ad); u2 reaches b (entry web, b without channel);
# u3 only enters (no channel); u4 enters twice, email at 0s and social at 50s, and reaches b at
# 60s from both: the tie goes to the latest entry, so its entry row is the social one; u5
# never enters (b alone) and belongs to no row.
ATTRIBUTION = log(
    ("u1", 0, "a", "email"),
    ("u1", 10, "b", "web"),
    ("u1", 20, "c", "ad"),
    ("u2", 0, "a", "web"),
    ("u2", 5, "b"),
    ("u3", 0, "a"),
    ("u4", 0, "a", "email"),
    ("u4", 50, "a", "social"),
    ("u4", 60, "b", "social"),
    ("u5", 0, "b", "email"),
    properties=("channel", "device"),
)


def rows(breakdown: Breakdown) -> dict[str, list[int]]:
    """value → units per stage, in the breakdown's row order."""
    return {v.value: [s.users for s in v.stages] for v in breakdown.values}


def only(result: AnalysisResult) -> Breakdown:
    assert len(result.breakdowns) == 1
    return result.breakdowns[0]


def test_first_touch_reads_the_entry_row_of_the_reported_path() -> None:
    result = analyze(ATTRIBUTION, ABC, by=["channel"])
    # u1 email, u4 social (latest entry on the tie), u2 web: one each, ties by value; u3 (none)
    assert rows(only(result)) == {
        "email": [1, 1, 1],
        "social": [1, 1, 0],
        "web": [1, 1, 0],
        "(none)": [1, 0, 0],
    }
    assert [s.users for s in result.stages] == [4, 3, 1]


def test_last_touch_reads_the_row_of_the_last_step_reached() -> None:
    result = analyze(ATTRIBUTION, ABC, by=["channel"], attribution="last_touch")
    # u1's c row is ad, u4's b row social; u2's b row and u3's entry row have no channel
    assert rows(only(result)) == {"ad": [1, 1, 1], "social": [1, 1, 0], "(none)": [2, 1, 0]}


def test_stage_attribution_puts_units_that_never_reach_it_in_not_reached() -> None:
    result = analyze(ATTRIBUTION, ABC, by=["channel"], attribution="b")
    # b rows: u1 web, u4 social, u2 empty; u3 never reached b
    assert rows(only(result)) == {
        "social": [1, 1, 0],
        "web": [1, 1, 1],
        "(none)": [1, 1, 0],
        "(not reached)": [1, 0, 0],
    }
    assert only(result).attribution == "b"
    assert "By channel (value at B; ▼/▲" in render(result, Format.table, width=120)


def test_top_folds_the_smaller_values_into_other_but_never_none() -> None:
    breakdown = only(analyze(ATTRIBUTION, ABC, by=["channel"], top=1))
    # email, social, web have one unit each: email wins the tie by name
    assert rows(breakdown) == {"email": [1, 1, 1], "(none)": [1, 0, 0], "(other)": [2, 2, 0]}
    assert breakdown.folded_values == 2


def test_the_control_stays_a_row_even_beyond_the_top() -> None:
    breakdown = only(analyze(ATTRIBUTION, ABC, by=["channel"], top=1, control="web"))
    assert list(rows(breakdown)) == ["email", "web", "(none)", "(other)"]
    assert (breakdown.against, breakdown.control, breakdown.folded_values) == ("control", "web", 1)
    web = breakdown.values[1]
    assert web.stages[1].significance is None  # the control is not tested against itself


def test_two_columns_make_their_combinations_the_rows() -> None:
    events = log(
        ("u1", 0, "a", "email", "mobile"),
        ("u1", 1, "b"),
        ("u2", 0, "a", "email"),
        ("u3", 0, "a"),
        properties=("channel", "device"),
    )
    breakdown = only(analyze(events, ABC, by=[("channel", "device")]))
    assert breakdown.column == "channel/device" and breakdown.columns == ["channel", "device"]
    # an empty component reads (none); both empty is the (none) row
    assert rows(breakdown) == {"email/(none)": [1, 0, 0], "email/mobile": [1, 1, 0], "(none)": [1, 0, 0]}


def test_a_numeric_property_is_a_text_value() -> None:
    events = pl.DataFrame(
        {"user_id": ["u1", "u2"], "ts": ["2026-03-02T09:00:00"] * 2, "event": ["a", "a"], "channel": [3, 3]}
    ).with_columns(pl.col("ts").str.to_datetime("%Y-%m-%dT%H:%M:%S"))
    assert rows(only(analyze(events, ABC, by=["channel"]))) == {"3": [2, 0, 0]}


def test_config_breakdowns_are_the_default_and_by_replaces_them() -> None:
    config = journey(
        """
columns: {properties: [channel, device]}
breakdowns: [channel, [channel, device]]
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
  - {id: c, match: [{events: [c]}]}
"""
    )
    assert [b.column for b in analyze(ATTRIBUTION, config).breakdowns] == ["channel", "channel/device"]
    assert [b.column for b in analyze(ATTRIBUTION, config, by=["device"]).breakdowns] == ["device"]
    assert analyze(ATTRIBUTION, ABC).breakdowns == []


def test_long_form_sets_attribution_top_and_control() -> None:
    config = journey(
        """
columns: {properties: [channel]}
breakdowns:
  by: [channel]
  attribution: last_touch
  top: 1
  min_sample: 5
  control: {channel: social}
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
  - {id: c, match: [{events: [c]}]}
"""
    )
    breakdown = only(analyze(ATTRIBUTION, config))
    # last touch: ad 1, social 1, (none) 2; top 1 keeps ad (by name), social is the control
    assert list(rows(breakdown)) == ["ad", "social", "(none)"]
    assert (breakdown.attribution, breakdown.top, breakdown.min_sample) == ("last_touch", 1, 5)


# significance


def converting(counts: dict[str, tuple[int, int]]) -> pl.DataFrame:
    """Per value (entered, converted): users entering with that channel, some reaching b."""
    events = []
    for value, (entered, converted) in counts.items():
        for i in range(entered):
            events.append((f"{value}{i}", 0, "a", value))
            if i < converted:
                events.append((f"{value}{i}", 1, "b", value))
    return log(*events, properties=("channel",))


AB = journey(
    """
columns: {properties: [channel]}
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
"""
)


def test_each_value_is_tested_against_the_rest_and_worse_is_a_pain_point() -> None:
    result = analyze(converting({"x": (40, 10), "y": (40, 30)}), AB, by=["channel"])
    x, y = only(result).values
    test = x.stages[1].significance
    assert test is not None
    # x 10/40 against the rest, y's 30/40: pooled 0.5, se = sqrt(0.25 × (1/40 + 1/40)) = 0.111803,
    # z = -0.5 / 0.111803 = -4.4721, p = erfc(4.4721 / √2) = 7.74e-6; every expected cell is 20
    assert (test.against, test.test, test.rate, test.other_rate) == ("rest", "z", 0.25, 0.75)
    assert test.p_value == pytest.approx(7.744e-6, rel=1e-3)
    # the family is x's and y's step tests, with equal p: q = p × 2 / 2
    assert test.q_value == pytest.approx(test.p_value)
    assert (test.significant, test.direction) == (True, "worse")
    assert y.stages[1].significance is not None and y.stages[1].significance.direction == "better"
    # with two stages the overall conversion is the one step: the same test, not a second one
    assert x.overall_significance == test
    assert [p.model_dump() for p in result.pain_points if "segment_worse" in p.kinds] == [
        {
            "stage": "b",
            "from_stage": "a",
            "kinds": ["biggest_leak", "segment_worse"],
            "reasons": [
                "biggest leak: 40 lost, the most of any step",
                "channel=x converts significantly worse here (25.0% vs 75.0%, q<0.001)",
            ],
        }
    ]


def test_no_claim_below_the_minimum_sample() -> None:
    events = converting({"x": (29, 5), "y": (40, 30)})
    x, y = only(analyze(events, AB, by=["channel"])).values[::-1]  # y has more users: first
    for value in (x, y):  # x has 29 users; y's rest is x's 29
        test = value.stages[1].significance
        assert test is not None and (test.test, test.p_value, test.significant) == (None, None, False)
        assert test.interval is not None  # the Wilson interval is shown all the same
    config = AB.model_copy(update={"breakdowns": AB.breakdowns.model_copy(update={"min_sample": 20})})
    tested = only(analyze(events, config, by=["channel"])).values[1].stages[1].significance
    assert tested is not None and tested.test == "z"


def test_small_expected_cells_use_fishers_exact_test() -> None:
    x, _ = only(analyze(converting({"x": (30, 0), "y": (30, 8)}), AB, by=["channel"])).values
    test = x.stages[1].significance
    # 8 conversions among 60: expected 4 per group (< 5). Tables with x = 0 and x = 8 are the
    # least likely, each C(30, 8) / C(60, 8) = 5852925 / 2558620845: p = 2 × 0.0022875
    assert test is not None and test.test == "fisher"
    assert test.p_value == pytest.approx(2 * 5852925 / 2558620845)
    assert test.p_value == pytest.approx(fisher_exact(0, 30, 8, 22))


def test_benjamini_hochberg_adjusts_every_test_of_the_breakdown_together() -> None:
    # against control C (50 of 100): v1 30/100: pooled 0.4, se = sqrt(0.24 × 0.02) = 0.069282,
    # z = -2.8868, p = 0.003892; v2 36/100: pooled 0.43, se = 0.070014, z = -1.9996,
    # p = 0.045544; v3 50/100: p = 1. BH over m = 3: q3 = 1, q2 = 0.045544 × 3/2 = 0.068316,
    # q1 = min(0.068316, 0.003892 × 3) = 0.011677
    tests = segment_tests(
        {"C": [100, 50], "v1": [100, 30], "v2": [100, 36], "v3": [100, 50]},
        [400, 166],
        control="C",
    )
    assert sorted(tests) == [("v1", -1), ("v1", 1), ("v2", -1), ("v2", 1), ("v3", -1), ("v3", 1)]
    p = {name: tests[(name, 1)].p_value for name in ("v1", "v2", "v3")}
    q = {name: tests[(name, 1)].q_value for name in ("v1", "v2", "v3")}
    assert p == pytest.approx({"v1": 0.003892, "v2": 0.045544, "v3": 1.0}, abs=2e-6)
    assert q == pytest.approx({"v1": 0.011677, "v2": 0.068316, "v3": 1.0}, abs=5e-6)
    # v2 would pass at p < 0.05 alone, not after the adjustment
    assert [tests[(n, 1)].significant for n in ("v1", "v2", "v3")] == [True, False, False]


def test_stage_attribution_tests_only_the_steps_after_that_stage() -> None:
    tests = segment_tests(
        {"x": [50, 50, 10], "y": [50, 50, 40]}, [100, 100, 50], first_tested=2, overall_tested=False
    )
    assert sorted(tests) == [("x", 2), ("y", 2)]


def test_other_is_never_tested() -> None:
    tests = segment_tests({"x": [50, 10], "(other)": [50, 40]}, [100, 50])
    assert sorted(tests) == [("x", -1), ("x", 1)]


# errors


def test_by_an_unmapped_column_lists_the_mapped_ones() -> None:
    with pytest.raises(UsageError) as caught:
        analyze(ATTRIBUTION, ABC, by=["segment"])
    assert str(caught.value) == (
        "--by: 'segment' is not a mapped property column\n"
        "  hint: mapped properties: channel, device (add others to columns.properties)"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": [("channel", "device", "channel")]}, "a breakdown has one or two columns, not 3"),
        ({"by": [("channel", "channel")]}, "--by: 'channel' is combined with itself"),
        ({"by": ["channel"], "attribution": "z"}, "unknown attribution 'z'"),
        ({"by": ["channel"], "top": 0}, "--top 0: keep at least 1 value"),
        ({"control": "web"}, "--control needs exactly one breakdown to apply to"),
        ({"attribution": "last_touch"}, "--attribution has no breakdown to apply to"),
        ({"top": 3}, "--top has no breakdown to apply to"),
    ],
)
def test_impossible_breakdown_requests_are_usage_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        analyze(ATTRIBUTION, ABC, **kwargs)  # type: ignore[arg-type]


def test_a_control_named_on_the_command_line_that_does_not_occur_lists_the_values() -> None:
    with pytest.raises(UsageError) as caught:
        analyze(ATTRIBUTION, ABC, by=["channel"], control="tv")
    assert str(caught.value) == (
        "--control: the control 'tv' is not a value of channel in this data\n"
        "  hint: values present: email, social, web, (none)"
    )


def test_a_configured_control_absent_from_the_data_tests_nothing() -> None:
    # a period or a filter may hold no control unit: the numbers stay, no claim is made
    config = ABC.model_copy(
        update={
            "breakdowns": ABC.breakdowns.model_copy(
                update={"by": [["channel"]], "control": {"channel": "tv"}}
            )
        }
    )
    result = analyze(ATTRIBUTION, config)
    assert (only(result).against, only(result).control) == ("control", "tv")
    assert all(s.significance is None for v in only(result).values for s in v.stages)
    assert "channel=tv does not occur: nothing is tested" in render(result, Format.table, width=120)


@pytest.mark.parametrize(
    ("yaml", "where", "message"),
    [
        ("breakdowns: [channel, segment]", "test.yaml:2", "breakdowns[1]: 'segment' is not a mapped"),
        ("breakdowns: {by: [[channel, seg]]}", "test.yaml:2", "breakdowns.by[0][1]: 'seg' is not a mapped"),
        ("breakdowns: {attribution: middle}", "test.yaml:2", "breakdowns.attribution: unknown attribution"),
        ("breakdowns: {control: {variant: A}}", "test.yaml:2", "breakdowns.control.variant: 'variant' is"),
        (
            "breakdowns: {by: [[a, b, c]]}",
            "test.yaml:2",
            "breakdowns.by[0]: Value should have at most 2 items",
        ),
        (
            "breakdowns: [[channel, channel]]",
            "test.yaml:2",
            "breakdowns[0]: 'channel' is combined with itself",
        ),
        ("breakdowns: {top: 0}", "test.yaml:2", "breakdowns.top: Input should be greater than or equal to 1"),
    ],
)
def test_breakdown_config_errors_name_their_yaml_path(yaml: str, where: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        journey(f"columns: {{properties: [channel]}}\n{yaml}\nstages: [{{id: a, match: [{{events: [a]}}]}}]")
    assert caught.value.where == where
    assert caught.value.message.startswith(message)


@pytest.mark.parametrize(
    ("yaml", "kwargs"),
    [
        ("breakdowns: {by: [channel], attribution: middle}", {"by": ["channel"], "attribution": "middle"}),
        ("breakdowns: [segment]", {"by": ["segment"]}),
        ("breakdowns: [[channel, channel]]", {"by": [("channel", "channel")]}),
    ],
)
def test_config_and_command_line_word_a_breakdown_problem_alike(yaml: str, kwargs: dict[str, object]) -> None:
    # one check serves both: only where it points differs (the YAML path, or the option)
    with pytest.raises(ConfigError) as from_config:
        journey(f"{ABC_YAML}{yaml}")
    with pytest.raises(UsageError) as from_option:
        analyze(ATTRIBUTION, ABC, **kwargs)  # type: ignore[arg-type]
    message = from_config.value.message.split(": ", 1)[1]  # after the YAML path
    assert (message, from_config.value.hint) == (from_option.value.message, from_option.value.hint)
    if "attribution" in kwargs:
        assert from_option.value.hint == "use first_touch, last_touch or a stage id (a, b, c)"


# the definition, on random logs

PROPERTY = OVERLAPPING  # a row may match two stages; p decides one of them


@pytest.mark.parametrize("attribution", ["first_touch", "last_touch", "s2"])
@given(events=event_logs(max_users=4, max_events=12))
def test_breakdown_counts_sum_to_the_funnel_and_follow_the_definition(
    attribution: str, events: pl.DataFrame
) -> None:
    result = analyze(events, PROPERTY, by=["p"], attribution=attribution, top=1)
    overall = [s.users for s in result.stages]
    per_value = rows(only(result))
    sums = [sum(column) for column in zip(*per_value.values(), strict=True)] or [0] * len(overall)
    assert sums == overall
    assert all(n > 0 for n in (v.users for v in only(result).values))  # no empty rows
    first = 1 if attribution != "s2" else 2  # a stage attribution tests only the steps after it
    for name, counts in per_value.items():
        for k in range(first, len(overall)):
            test = next(v for v in only(result).values if v.value == name).stages[k].significance
            if name == "(other)":
                assert test is None
                continue
            # against the rest: everyone else, never a total containing the value
            assert test is not None and test.rate == rate(counts[k], counts[k - 1])
            assert test.other_rate == rate(overall[k] - counts[k], overall[k - 1] - counts[k - 1])

    # every unit's value is one the definition allows (rows sharing a timestamp may fill a
    # path in several ways), and grouping the reference levels by it gives the same counts
    configured = PROPERTY.model_copy(
        update={
            "breakdowns": PROPERTY.breakdowns.model_copy(update={"by": [["p"]], "attribution": attribution})
        }
    )
    levels = funnel_levels(events, configured)
    chosen = dict(zip(levels["user_id"], levels["by:p"], strict=True))
    brute: Counter[tuple[str, int]] = Counter()
    for user, user_rows in reference.by_user(events.rows(named=True)).items():
        allowed = reference.attributed(user_rows, PROPERTY, "p", attribution)
        level = reference.best_path(user_rows, PROPERTY)[0]
        if not level:
            assert not allowed
            continue
        value = chosen[user]
        label = "(not reached)" if attribution == "s2" and level < 2 else value or "(none)"
        assert label in allowed
        for k in range(level):
            brute[(label, k)] += 1
    kept = {v for v in per_value if v != "(other)"}
    folded: Counter[tuple[str, int]] = Counter()
    for (v, k), n in brute.items():
        folded[(v if v in kept else "(other)", k)] += n
    assert {(v, k): n for v, counts in per_value.items() for k, n in enumerate(counts) if n} == dict(folded)


# output, check and the command line

DATA = Path(__file__).parent / "data"
TINY = str(DATA / "tiny_store.csv")  # first touch: u1 email reaches purchase, u2 social interest, u3 ad
TINY_YAML = str(DATA / "tiny_store.yaml")
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_tiny_store_by_channel_renders_as_before(fmt: str, golden: Golden) -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, "--by", "channel", "-f", fmt, "--width", "100")
    assert (code, err) == (0, "")
    golden.check(f"tiny_store.by_channel.{fmt}", out)


def test_json_carries_every_stage_metric_per_value() -> None:
    code, out, _ = run("analyze", TINY, "-c", TINY_YAML, "--by", "channel", "-f", "json")
    (breakdown,) = json.loads(out)["breakdowns"]
    assert code == 0 and (breakdown["column"], breakdown["attribution"]) == ("channel", "first_touch")
    email = breakdown["values"][1]
    assert (email["value"], email["users"], email["share"], email["overall_conversion"]) == (
        "email",
        1,
        1 / 3,
        1.0,
    )
    assert [s["users"] for s in email["stages"]] == [1, 1, 1, 1]
    assert email["stages"][1]["median_time_to_convert_s"] == 300  # 10:00 → 10:05
    assert email["stages"][1]["significance"]["test"] is None  # 1 user against 2: no claim


def test_csv_values_are_formula_guarded() -> None:
    events = log(("u1", 0, "a", "=cmd|' /C calc'!A0"), ("u1", 1, "b"), properties=("channel",))
    out = render_csv(analyze(events, AB, by=["channel"]))
    values = [row["value"] for row in csv.DictReader(io.StringIO(out)) if row["breakdown"]]
    assert values == ["'=cmd|' /C calc'!A0"] * 2


def test_table_values_cannot_escape_the_terminal() -> None:
    events = log(("u1", 0, "a", "\x1b]0;pwned\x07x"), properties=("channel",))
    text = render(analyze(events, AB, by=["channel"]), Format.table, width=100)
    assert "\x1b" not in text and "]0;pwnedx" in text


def test_cli_by_an_unmapped_column_exits_2_listing_the_mapped_ones() -> None:
    assert run("analyze", TINY, "-c", TINY_YAML, "--by", "segment") == (
        2,
        "",
        "error: --by: 'segment' is not a mapped property column\n"
        "  hint: mapped properties: channel (add others to columns.properties)\n",
    )


def test_cli_three_by_columns_exit_2() -> None:
    code, out, err = run("analyze", TINY, "-c", TINY_YAML, *["--by", "channel"] * 3)
    assert (code, out) == (2, "") and err.startswith("error: --by: a breakdown has one or two columns, not 3")


def test_check_asks_the_analysis_for_the_breakdowns_its_kpis_name() -> None:
    report = api.check(
        ATTRIBUTION,
        ABC,
        kpis=[
            "by.channel.email.overall_conversion>=0.5",  # u1: 1 of 1
            "by.channel/device.web/(none).stages.b.users==1",  # u2
            "by.channel.tv.stages.b.users>=1",
        ],
    )
    assert [(v.status.value, v.actual) for v in report.verdicts[:2]] == [("PASS", 1.0), ("PASS", 1.0)]
    assert report.verdicts[2].message == (
        "no user has channel 'tv' in this data; values present: email, social, web, (none)"
    )


def test_breakdown_kpi_paths_check_each_column_of_a_combination() -> None:
    assert path_problem("by.channel/segment.a/b.users", ABC) == (
        "'segment' is not a mapped property column",
        "breakdown columns: channel, device",
    )
    assert path_problem("by.channel.email.share", ABC) is None


def test_table_marks_significant_steps_and_names_the_segment_pain_point() -> None:
    result = analyze(converting({"x": (40, 10), "y": (40, 30)}), AB, by=["channel"])
    text = render(result, Format.table, width=200)
    assert re.search(r"\nx +40 +10 25\.0%▼\n", text) and re.search(r"\ny +40 +30 75\.0%▲\n", text)
    assert re.search(r"\noverall +80 +40 50\.0%\n", text)
    assert "biggest leak, segment worse" in text
    assert "channel=x converts significantly worse here (25.0% vs 75.0%, q<0.001)" in text


def test_check_sees_values_beyond_the_configured_top() -> None:
    config = ABC.model_copy(update={"breakdowns": ABC.breakdowns.model_copy(update={"top": 1})})
    report = api.check(ATTRIBUTION, config, kpis=["by.channel.web.users==1"])  # web ranks third
    assert (report.verdicts[0].status.value, report.verdicts[0].actual) == ("PASS", 1.0)


def test_against_a_control_the_reason_names_it() -> None:
    result = analyze(converting({"x": (40, 10), "y": (40, 30)}), AB, by=["channel"], control="y")
    x, y = only(result).values
    test = x.stages[1].significance
    # x 10/40 against y 30/40: the same counts as against the rest here (y is all the rest)
    assert test is not None and (test.against, test.p_value) == ("control", pytest.approx(7.744e-6, rel=1e-3))
    assert y.stages[1].significance is None and y.overall_significance is None
    assert result.pain_points[0].reasons[-1] == (
        "channel=x converts significantly worse here than channel=y (25.0% vs 75.0%, q<0.001)"
    )


def test_the_family_is_every_step_and_overall_test_of_the_breakdown() -> None:
    tests = segment_tests({"x": [50, 40, 20], "y": [50, 30, 10]}, [100, 70, 30])
    keys = [("x", 1), ("x", 2), ("x", -1), ("y", 1), ("y", 2), ("y", -1)]
    assert sorted(tests) == sorted(keys)
    # x against the rest (= y here): 40/50 vs 30/50, 20/40 vs 10/30, overall 20/50 vs 10/50
    assert [tests[k].rate for k in keys[:3]] == [0.8, 0.5, 0.4]
    assert [tests[k].other_rate for k in keys[:3]] == [0.6, 1 / 3, 0.2]
    q = benjamini_hochberg([tests[k].p_value for k in keys])
    assert [tests[k].q_value for k in keys] == q


def test_csv_rows_carry_the_test_of_each_step() -> None:
    out = render_csv(analyze(converting({"x": (40, 10), "y": (40, 30)}), AB, by=["channel"]))
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["breakdown"] == "channel" and r["id"] == "b"]
    assert [(r["value"], r["users"], r["against"], r["test"], r["significant"]) for r in rows] == [
        ("x", "10", "rest", "z", "True"),
        ("y", "30", "rest", "z", "True"),
    ]
    # Wilson, 10/40: centre (0.25 + 1.96²/80) / (1 + 1.96²/40) = 0.27190, half-width
    # 1.96 × sqrt(0.25 × 0.75/40 + 1.96²/6400) / 1.09604 = 0.13004
    interval = (float(rows[0]["conversion_low"]), float(rows[0]["conversion_high"]))
    assert interval == pytest.approx((0.14187, 0.40194), abs=5e-5)


def test_breakdowns_from_user_partitions_equal_the_whole() -> None:
    config = ABC.model_copy(update={"breakdowns": ABC.breakdowns.model_copy(update={"by": [["channel"]]})})
    whole = summarize(user_facts(ATTRIBUTION, config), config)
    parts = [
        ATTRIBUTION.filter(pl.col("user_id").is_in(users)) for users in (["u1", "u4"], ["u2", "u3", "u5"])
    ]
    merged = summarize(concat_facts([user_facts(part, config) for part in parts]), config)
    assert merged.breakdowns == whole.breakdowns and rows(only(merged))["email"] == [1, 1, 1]


def test_exclude_pending_leaves_pending_units_out_of_each_group() -> None:
    config = journey(
        """
funnel: {window: 50s}
columns: {properties: [channel]}
stages:
  - {id: a, match: [{events: [a]}]}
  - {id: b, match: [{events: [b]}]}
"""
    )
    # x: u1 converts, u2 is lost (its window closed at 50s), u3 enters at 100s, the end of
    # the data, so is pending; y: v1 is lost. Without u3: x 1 of 2, y (the rest) 0 of 1
    events = log(
        ("u1", 0, "a", "x"),
        ("u1", 1, "b"),
        ("u2", 0, "a", "x"),
        ("u3", 100, "a", "x"),
        ("v1", 0, "a", "y"),
        properties=("channel",),
    )
    x = only(analyze(events, config, by=["channel"], exclude_pending=True)).values[0]
    test = x.stages[1].significance
    assert test is not None and (test.rate, test.other_rate) == (0.5, 0.0)
    assert (x.stages[1].conversion, x.overall_conversion, x.stages[1].pending) == (0.5, 0.5, 1)
    counted = only(analyze(events, config, by=["channel"])).values[0]
    assert counted.stages[1].significance is not None and counted.stages[1].significance.rate == 1 / 3
