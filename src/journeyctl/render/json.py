"""``--format json``: the result (or report) model as JSON, field for field (the schema is the model)."""

from __future__ import annotations

import json

from pydantic import BaseModel


def render_json(result: BaseModel) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
