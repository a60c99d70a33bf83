"""Event files → one LazyFrame of canonical events (see ``columns``), lazily and unsorted.

Every column is read as text, so a stray value never changes a column's type; timestamps
are parsed here, in one place, to UTC microseconds.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from journeyctl.columns import EVENT, LINE, SESSION, SOURCE, TS, USER
from journeyctl.config.models import Columns
from journeyctl.errors import InputError

RAW_TS = "_raw_ts"
_ISO_WITH_OFFSET = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z")
_ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_COMMON_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
)


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """Files named directly or by glob pattern, in a stable order, each listed once."""
    files: list[Path] = []
    for source in sources:
        text = str(source)
        path = Path(text)
        if path.is_file():
            matches = [path]
        elif path.is_dir():
            raise InputError(
                "is a directory",
                where=text,
                hint=f"name the files inside it, e.g. '{path / '*.csv'}'",
            )
        elif glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(
                    "no file matches this pattern",
                    where=text,
                    hint="check the path and quote the glob",
                )
        else:
            raise InputError(
                "no such file",
                where=text,
                hint="check the path (globs such as 'events/*.csv' work)",
            )
        files.extend(m for m in matches if m not in files)
    if not files:
        raise InputError("no event files given", hint="pass one or more CSV files or globs")
    return files


def load_events(
    files: Sequence[Path],
    columns: Columns,
    *,
    properties: Sequence[str],
    time_format: str = "auto",
    timezone: str = "UTC",
) -> pl.LazyFrame:
    """Canonical events from ``files``: user_id, ts (UTC µs), event, [session_id], properties.

    Also carries ``_source`` (file index), ``_line`` (line in that file) and ``_raw_ts`` so
    rows that fail to parse can be reported by ``bad_rows``. A file without a mapped column
    raises ``InputError`` listing the columns it does have.
    """
    wanted = {columns.user: USER, columns.time: RAW_TS, columns.event: EVENT}
    if columns.session:
        wanted[columns.session] = SESSION
    for prop in properties:
        wanted.setdefault(prop, prop)
    frames = [
        _scan_one(index, path, wanted, time_format=time_format, timezone=timezone)
        for index, path in enumerate(files)
    ]
    return pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]


def _scan_one(
    index: int, path: Path, wanted: dict[str, str], *, time_format: str, timezone: str
) -> pl.LazyFrame:
    try:
        frame = pl.scan_csv(path, infer_schema=False, row_index_name=LINE, row_index_offset=2, glob=False)
        header = frame.collect_schema().names()
    except pl.exceptions.NoDataError:
        raise InputError(
            "the file is empty", where=str(path), hint="export the events again, with a header row"
        ) from None
    except (pl.exceptions.ComputeError, OSError) as err:
        raise InputError(f"cannot read as CSV: {_first_line(err)}", where=str(path)) from None
    missing = [name for name in wanted if name not in header]
    if missing:
        have = ", ".join(c for c in header if c != LINE)
        raise InputError(
            f"no column {', '.join(map(repr, missing))}; the file has: {have}",
            where=f"{path}:1",
            hint="map the file's column names under `columns:` in the journey YAML",
        )
    if time_format == "auto":
        # one format detected on a sample parses fast; rows it misses get the full
        # auto parser afterwards (repair_timestamps), so mixed files still work
        sample = frame.select(pl.col(next(n for n, r in wanted.items() if r == RAW_TS))).head(256).collect()
        time_format = detect_time_format(sample.to_series()) or "auto"
    raw = pl.col(RAW_TS)
    return frame.select(
        pl.lit(index, dtype=pl.UInt32).alias(SOURCE),
        pl.col(LINE).cast(pl.UInt64),
        *(pl.col(name).alias(role) for name, role in wanted.items()),
    ).with_columns(parse_timestamps_expr(raw, time_format=time_format, timezone=timezone).alias(TS))


def detect_time_format(sample: pl.Series) -> str | None:
    """The first common ISO-8601 layout that parses every non-empty value of ``sample``."""
    values = sample.drop_nulls().str.strip_chars()
    if values.is_empty():
        return None
    for fmt in _COMMON_FORMATS:
        dtype = pl.Datetime("us", "UTC") if fmt.endswith("%#z") else pl.Datetime("us")
        if values.str.strptime(dtype, fmt, strict=False).null_count() == 0:
            return fmt
    return None


def repair_timestamps(frame: pl.DataFrame, *, timezone: str) -> pl.DataFrame:
    """Re-parse, with the full ``auto`` parser, the rows a detected format did not parse."""
    missed = (frame[TS].is_null() & frame[RAW_TS].is_not_null()).arg_true()
    if missed.is_empty():
        return frame
    again = frame[RAW_TS].gather(missed).to_frame()
    fixed = again.select(parse_timestamps_expr(pl.col(RAW_TS), time_format="auto", timezone=timezone))
    return frame.with_columns(frame[TS].scatter(missed, fixed.to_series()))


def parse_timestamps_expr(raw: pl.Expr, *, time_format: str, timezone: str) -> pl.Expr:
    """Text → ``Datetime(us, UTC)``; null where the text does not parse.

    ``auto`` accepts ISO-8601 with ``T`` or a space, seconds to microseconds, with an offset
    or ``Z`` (honoured) or without (read in ``timezone``). An explicit strftime format is
    used as given; with ``%z`` its offsets are honoured.
    """
    utc = pl.Datetime("us", "UTC")
    if time_format != "auto":
        if any(z in time_format for z in ("%z", "%:z", "%#z")):
            return raw.str.strptime(utc, time_format, strict=False)
        return _localize(raw.str.strptime(pl.Datetime("us"), time_format, strict=False), timezone)
    text = (
        raw.str.strip_chars().str.replace(r"^(\d{4}-\d\d-\d\d)[ T]", "${1}T").str.replace(r"[zZ]$", "+00:00")
    )
    aware = pl.coalesce(text.str.strptime(utc, fmt, strict=False) for fmt in _ISO_WITH_OFFSET)
    naive = pl.coalesce(text.str.strptime(pl.Datetime("us"), fmt, strict=False) for fmt in _ISO_NAIVE)
    return pl.coalesce(aware, _localize(naive, timezone))


def _localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def bad_rows_expr() -> pl.Expr:
    """True for rows that cannot be analysed: no user, no event, or a timestamp that did not parse."""
    return pl.col(USER).is_null() | pl.col(EVENT).is_null() | pl.col(TS).is_null()


def describe_bad_rows(bad: pl.DataFrame, files: Sequence[Path], total: int) -> InputError:
    """One error quoting the first bad rows with file and line, and how many there are."""
    quoted = []
    for row in bad.head(3).iter_rows(named=True):
        if row[USER] is None:
            reason = "no user id"
        elif row[EVENT] is None:
            reason = "no event name"
        elif row[RAW_TS] is None:
            reason = "no timestamp"
        else:
            reason = f"timestamp {row[RAW_TS]!r} does not parse"
        quoted.append(f"{files[row[SOURCE]]}:{row[LINE]}: {reason}")
    first = quoted[0]
    more = "".join(f"\n  {q}" for q in quoted[1:])
    return InputError(
        f"{first.split(': ', 1)[1]}{more}\n  ({total:,} bad row{'s' if total != 1 else ''} in all)",
        where=first.split(": ", 1)[0],
        hint="fix or remove these rows; for other timestamp formats set `time_format` (a strftime pattern)",
    )


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
