"""``--format json``: the result model as JSON, field for field (the schema is the model)."""

from __future__ import annotations

import json

from journeyctl.check import CheckReport
from journeyctl.result import AnalysisResult


def render_json(result: AnalysisResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def render_report_json(report: CheckReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
