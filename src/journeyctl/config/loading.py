"""YAML text → ``JourneyConfig``, with errors that name the file, line, YAML path and a fix."""

from __future__ import annotations

import difflib
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from journeyctl.config.models import JourneyConfig, breakdown_problems
from journeyctl.errors import ConfigError

Loc = tuple[str | int, ...]
MAX_NODES = 100_000  # a journey needs a few hundred; more means an alias bomb or the wrong file


def load_config(source: Path | str) -> JourneyConfig:
    """Read and validate a journey YAML file (``-`` reads standard input).

    YAML is loaded with the safe loader (no tags that build objects), and alias expansion is
    bounded, so a hostile file fails fast with a ``ConfigError`` instead of hanging.
    """
    path = str(source)
    text = _read_text(path)
    return parse_config(text, path)


def parse_config(text: str, path: str = "<config>") -> JourneyConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            _check_size(root, path)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.constructor.ConstructorError as err:
        mark = err.problem_mark
        raise ConfigError(
            f"YAML tag not allowed: {err.problem}",
            where=f"{path}:{mark.line + 1}" if mark else path,
            hint="a journey is plain YAML: remove tags such as !!python/object",
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(
            f"not valid YAML: {err.problem or err.context}",
            where=f"{path}{line}",
            hint="check indentation and quoting near that line",
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", where=path) from None
    except RecursionError:
        raise ConfigError(
            "the YAML nests too deeply to read",
            where=path,
            hint="a journey nests a few levels deep; check the brackets or pass the right file",
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(
            f"the config is {kind}, not a mapping of keys",
            where=path,
            hint="start from configs/ecommerce.yaml: it needs at least `stages:`",
        )
    lines = _line_map(root)
    try:
        config = JourneyConfig.model_validate(data)
    except ValidationError as err:
        # a typo explains a missing key, so report unknown keys first
        problem = min(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
        loc = _as_written(tuple(problem["loc"]), lines)
        message = problem["msg"].removeprefix("Value error, ")
        hint = _suggest(loc) if problem["type"] == "extra_forbidden" else _hint_for(loc)
        raise ConfigError(
            f"{yaml_path(loc)}: {message}", where=f"{path}:{_line_of(loc, lines)}", hint=hint
        ) from None
    for loc, message, hint in _reference_problems(config):
        loc = _as_written(loc, lines)
        raise ConfigError(f"{yaml_path(loc)}: {message}", where=f"{path}:{_line_of(loc, lines)}", hint=hint)
    return config


def _as_written(loc: Loc, lines: dict[Loc, int]) -> Loc:
    """The path as the YAML spells it: ``breakdowns: [a, b]`` is the short form of
    ``breakdowns: {by: [a, b]}``, so ``breakdowns.by[1]`` is ``breakdowns[1]`` there."""
    if loc[:2] == ("breakdowns", "by") and ("breakdowns", "by") not in lines:
        return ("breakdowns", *loc[2:])
    return loc


def yaml_path(loc: Loc) -> str:
    """``('stages', 1, 'match')`` → ``stages[1].match``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    file = Path(path)
    if not file.exists():
        raise ConfigError("config file not found", where=path, hint="pass the journey YAML with -c FILE")
    if file.is_dir():
        raise ConfigError("is a directory, not a config file", where=path, hint="pass the YAML file itself")
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"not UTF-8 text (byte {err.start})", where=path, hint="save the YAML as UTF-8"
        ) from None
    except OSError as err:
        raise ConfigError(f"cannot read: {err.strerror}", where=path) from None


def _check_size(root: yaml.Node, path: str) -> None:
    """Refuse documents whose aliases expand past ``MAX_NODES`` (a "billion laughs" file)."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = MAX_NODES + 1  # a cycle counts as too large
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        sizes[id(node)] = min(total, MAX_NODES + 1)
        return sizes[id(node)]

    if size(root) > MAX_NODES:
        raise ConfigError(
            f"the YAML expands to more than {MAX_NODES:,} values",
            where=path,
            hint="anchors and aliases are allowed, but not ones that multiply the document",
        )


def _line_map(root: yaml.Node | None) -> dict[Loc, int]:
    """The 1-based line where each YAML path starts."""
    lines: dict[Loc, int] = {}
    seen: set[int] = set()

    def walk(node: yaml.Node, loc: Loc) -> None:
        lines.setdefault(loc, node.start_mark.line + 1)
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*loc, str(key.value))
                lines.setdefault(child, key.start_mark.line + 1)
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*loc, index))

    if root is not None:
        walk(root, ())
    return lines


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    # pydantic adds union/validator names to loc; fall back to the nearest known parent
    return next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The config model that owns the last key of ``loc`` (for suggestions)."""
    model: type[BaseModel] = JourneyConfig
    parts = list(loc[:-1])
    while parts:
        part = parts.pop(0)
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        inner, keyed = _inner_model(field.annotation)
        if inner is None:
            return None
        if keyed and parts:
            parts.pop(0)  # a dict key (a column name), not a field
        model = inner
    return model


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    keyed = origin is dict
    for arg in typing.get_args(annotation):
        found, inner_keyed = _inner_model(arg)
        if found is not None:
            return found, keyed or inner_keyed
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return None, False
    return None, False


def _suggest(loc: Loc) -> str:
    model = _model_at(loc)
    if model is None:
        return "remove this key"
    names = [f.alias or name for name, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.5)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"valid keys here: {', '.join(names)}"


def _hint_for(loc: Loc) -> str | None:
    if "regex" in loc or (len(loc) > 1 and loc[-2] == "where"):
        return "a condition is a value or {in, not, not_in, gt, gte, lt, lte, regex}; regex: no look-around"
    if "window" in loc or "timeout" in loc or "within" in loc or "after" in loc:
        return "durations look like 90s, 30m, 2h, 14d or 1w"
    if loc and loc[0] == "stages":
        return "each stage needs an `id` and a `match:` list of {events: [...]}"
    return None


def _reference_problems(config: JourneyConfig) -> typing.Iterator[tuple[Loc, str, str]]:
    """Checks across keys: stage ids unique, properties and steps that exist."""
    ids = [stage.id for stage in config.stages]
    for index, stage in enumerate(config.stages):
        if stage.id in ids[:index]:
            yield (
                ("stages", index, "id"),
                f"stage id {stage.id!r} is used twice",
                "give every stage its own id",
            )
    properties = config.columns.properties
    mapped = (
        f"columns.properties lists: {', '.join(properties)}" if properties else "columns.properties is empty"
    )
    for index, stage in enumerate(config.stages):
        for m_index, matcher in enumerate(stage.match):
            for column in matcher.where:
                if column not in properties:
                    yield (
                        ("stages", index, "match", m_index, "where", column),
                        f"property {column!r} is not a mapped column",
                        f"add it to columns.properties ({mapped})",
                    )
    for index, rule in enumerate(config.funnel.exclude):
        for column in rule.where:
            if column not in properties:
                yield (
                    ("funnel", "exclude", index, "where", column),
                    f"property {column!r} is not a mapped column",
                    f"add it to columns.properties ({mapped})",
                )
        for step in rule.between:
            if step not in ids:
                yield (
                    ("funnel", "exclude", index, "between"),
                    f"{step!r} is not a stage id",
                    f"stage ids are: {', '.join(ids)}",
                )
        first, second = rule.between
        if first in ids and second in ids and ids.index(first) >= ids.index(second):
            yield (
                ("funnel", "exclude", index, "between"),
                f"{first!r} does not come before {second!r} in the stages",
                "name two steps in journey order, e.g. between: [purchase, loyalty]",
            )
    if config.funnel.hold and config.funnel.count != "users":
        yield (
            ("funnel", "hold"),
            f"hold counts user × value and cannot be combined with count: {config.funnel.count}",
            "remove `count:` (or set it to users) when using `hold:`",
        )
    for key in ("within", "after"):
        if getattr(config.stages[0], key) is not None:
            yield (
                ("stages", 0, key),
                f"the first stage has no previous step for `{key}` to measure from",
                "put the gap on a later stage; the window bounds the whole path",
            )
    for index, stage in enumerate(config.stages):
        if stage.within is not None and stage.after is not None and stage.after > stage.within:
            yield (
                ("stages", index, "after"),
                "`after` is longer than `within`, so no step can satisfy both",
                "the gap from the previous step must lie in [after, within]",
            )
    for index, column in enumerate(config.funnel.hold):
        if column not in properties:
            yield (
                ("funnel", "hold", index),
                f"property {column!r} is not a mapped column",
                f"add it to columns.properties ({mapped})",
            )
    for loc, message, hint in breakdown_problems(config.breakdowns, config):
        yield (("breakdowns", *loc), message, hint)
    from journeyctl.check import path_problem  # the metric catalogue lives with the verdicts

    for index, kpi in enumerate(config.kpis):
        problem = path_problem(kpi.metric, config)
        if problem is not None:
            yield (("kpis", index, "metric"), *problem)
