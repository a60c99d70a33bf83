"""The bundled sample data through the real command, and against the brute-force reference."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from journeyctl import analyze, load_config
from journeyctl.api import read_events
from journeyctl.cli import app
from tests import reference
from tests.conftest import Golden

ROOT = Path(__file__).parent.parent
STORE = str(ROOT / "sample_data" / "store_events.csv")
STORE_YAML = ROOT / "configs" / "ecommerce.yaml"
SAAS = str(ROOT / "sample_data" / "saas_events.csv")
SAAS_YAML = ROOT / "configs" / "saas.yaml"


def test_quick_start_command_renders_as_before(golden: Golden) -> None:
    result = CliRunner().invoke(app, ["analyze", STORE, "-c", str(STORE_YAML), "--width", "120"])
    assert (result.exit_code, result.stderr) == (0, "")
    golden.check("store.table", result.stdout)


def test_store_funnel_agrees_with_the_reference() -> None:
    journey = load_config(STORE_YAML)
    rows = read_events([STORE], journey).rows(named=True)
    assert [s.users for s in analyze([STORE], journey).stages] == reference.users_per_stage(rows, journey)


def test_saas_export_with_session_column_and_local_times() -> None:
    journey = load_config(SAAS_YAML)
    frame = read_events([SAAS], journey)
    result = analyze([SAAS], journey)
    assert [s.users for s in result.stages] == reference.users_per_stage(frame.rows(named=True), journey)
    assert result.sessions == frame["session_id"].n_unique()
    assert "engaged session" in result.bounce_rule
