"""``--format json``: a result, check or report model as JSON, field for field (the schema is
the model)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from journeyctl.check import CheckReport


def render_json(result: BaseModel) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def render_report_json(report: CheckReport) -> str:
    return render_json(report)
