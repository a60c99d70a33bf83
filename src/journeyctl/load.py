"""Event files → one LazyFrame of canonical events (see ``columns``), lazily and unsorted.

Every column is read as text, so a stray value never changes a column's type; timestamps
are parsed here, in one place, to UTC microseconds.
"""

from __future__ import annotations

import glob
import gzip
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from journeyctl.columns import EVENT, LINE, SESSION, SOURCE, TS, USER
from journeyctl.config.models import Columns, CsvOptions, JourneyConfig
from journeyctl.errors import InputError

RAW_TS = "_raw_ts"
_ISO_WITH_OFFSET = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z")
_ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
# layouts tried on a sample, fastest first: fixed widths without fractions parse about 4×
# faster than ``%.f``/``%#z``; a trailing ``Z`` is read as UTC whatever the configured timezone
_COMMON_FORMATS = (
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
)


CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".json")
COMPRESSED_SUFFIXES = (".gz", ".zst")
STDIN = "-"
_DELIMITERS = (",", ";", "\t", "|")
_UTF8 = {"utf-8", "utf8", "utf-8-sig", "utf_8", "utf_8_sig"}


def file_kind(path: Path) -> str | None:
    """``csv``, ``parquet`` or ``ndjson`` from the file name (``.gz``/``.zst`` CSV is csv)."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        return "csv" if len(suffixes) == 1 or suffixes[0] in CSV_SUFFIXES else None
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet"
    if last in NDJSON_SUFFIXES:
        return "ndjson"
    return "csv" if last in CSV_SUFFIXES else None


def expand_sources(sources: Sequence[str | Path]) -> list[Path]:
    """Files named directly, by glob pattern or by directory (its event files, recursively),
    or ``-`` for standard input; in a stable order, each listed once."""
    files: list[Path] = []
    for source in sources:
        text = str(source)
        path = Path(text)
        if text == STDIN:
            matches = [Path(STDIN)]
        elif path.is_file():
            matches = [path]
        elif path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and file_kind(p) is not None)
            if not matches:
                raise InputError(
                    "no event files in this directory",
                    where=text,
                    hint="journeyctl reads .csv, .csv.gz, .csv.zst, .parquet, .ndjson and .jsonl files",
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
    csv: CsvOptions | None = None,
) -> pl.LazyFrame:
    """Canonical events from ``files``: user_id, ts (UTC µs), event, [session_id], properties.

    Also carries ``_source`` (file index), ``_line`` (line in that file) and ``_raw_ts`` so
    rows that fail to parse can be reported by ``bad_rows``. A file without a mapped column
    raises ``InputError`` listing the columns it does have. Only the mapped columns are read.
    """
    wanted = {columns.user: USER, columns.time: RAW_TS, columns.event: EVENT}
    if columns.session:
        wanted[columns.session] = SESSION
    for prop in properties:
        wanted.setdefault(prop, prop)
    frames = [
        _scan_one(index, path, wanted, time_format=time_format, timezone=timezone, csv=csv or CsvOptions())
        for index, path in enumerate(files)
    ]
    return pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]


def load_journey_events(files: Sequence[Path], journey: JourneyConfig) -> pl.LazyFrame:
    """``load_events`` with the columns, time format, timezone and CSV options of ``journey``."""
    return load_events(
        files,
        journey.columns,
        properties=journey.property_columns,
        time_format=journey.time_format,
        timezone=journey.timezone,
        csv=journey.csv,
    )


def scan_table(path: Path, csv: CsvOptions) -> pl.LazyFrame:
    """Every column of one event file as text (a list or struct value of Parquet or NDJSON as
    JSON), plus ``_line`` (the row's line for CSV, the record number otherwise);
    ``InputError`` for an empty or unreadable file."""
    frame, schema = _scan_stored(path, csv)
    return frame.select(pl.col(LINE), *(_text_expr(n, t) for n, t in schema.items() if n != LINE))


def _text_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if not dtype.is_nested():
        return column.cast(pl.String)
    # nested values do not cast to text; the JSON encoder takes structs only, so wrap one in one
    json = pl.struct(column.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")
    return pl.when(column.is_not_null()).then(json).alias(name)


def _scan_stored(path: Path, csv: CsvOptions) -> tuple[pl.LazyFrame, pl.Schema]:
    """One event file with its columns as stored (text, except what Parquet and NDJSON type),
    plus ``_line``, and its schema: a Parquet footer or a CSV header is read once, here."""
    kind = file_kind(path) or "csv"
    try:
        if str(path) == STDIN:
            frame = _csv_bytes(sys.stdin.buffer.read(), csv, path)
        elif kind != "csv" and path.stat().st_size == 0:  # Polars' own words name no file
            raise InputError("the file is empty", where=str(path), hint="export the events again")
        elif kind == "parquet":
            frame = pl.scan_parquet(path, glob=False).with_row_index(LINE, offset=1)
        elif kind == "ndjson":
            frame = pl.scan_ndjson(path, infer_schema_length=None).with_row_index(LINE, offset=1)
        elif csv.encoding.lower() not in _UTF8:
            frame = _csv_bytes(path.read_bytes(), csv, path)
        else:
            frame = pl.scan_csv(
                path,
                separator=_delimiter(path, csv),
                infer_schema=False,
                row_index_name=LINE,
                row_index_offset=2,
                glob=False,
            )
        return frame, frame.collect_schema()
    except (pl.exceptions.NoDataError, EmptyDataError):
        raise InputError(
            "the file is empty", where=str(path), hint="export the events again, with a header row"
        ) from None
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read as {kind.upper() if kind != 'ndjson' else 'NDJSON'}: {_first_line(err)}",
            where=str(path),
            hint="check the file's format and, for CSV, `csv.delimiter` and `csv.encoding`",
        ) from None


class EmptyDataError(Exception):
    """Standard input or a re-encoded file had no bytes."""


def _csv_bytes(data: bytes, csv: CsvOptions, path: Path) -> pl.LazyFrame:
    if not data.strip():
        raise EmptyDataError
    text = data.decode(csv.encoding).removeprefix("\ufeff")
    separator = csv.delimiter if csv.delimiter != "auto" else sniff_delimiter(text.split("\n", 1)[0])
    frame = pl.read_csv(
        text.encode(),
        separator=separator,
        infer_schema=False,
        row_index_name=LINE,
        row_index_offset=2,
    )
    return frame.lazy()


def _delimiter(path: Path, csv: CsvOptions) -> str:
    if csv.delimiter != "auto":
        return csv.delimiter
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    if path.suffix.lower() == ".zst":
        return ","  # Polars decompresses zstd itself; name `csv.delimiter` for other separators
    with opener(path, "rb") as handle:
        header = handle.readline(65_536)
    return sniff_delimiter(header.decode("utf-8", errors="replace"))


def sniff_delimiter(header: str) -> str:
    """The candidate separator (``,`` ``;`` tab ``|``) seen most often in the header line; ``,``
    when none appears (a one-column file)."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _scan_one(
    index: int, path: Path, wanted: dict[str, str], *, time_format: str, timezone: str, csv: CsvOptions
) -> pl.LazyFrame:
    frame, schema = _scan_stored(path, csv)
    header = schema.names()
    missing = [name for name in wanted if name not in header]
    if missing:
        have = ", ".join(c for c in header if c != LINE)
        raise InputError(
            f"no column {', '.join(map(repr, missing))}; the file has: {have}",
            where=f"{path}:1",
            hint="map the file's column names under `columns:` in the journey YAML",
        )
    time_name = next(n for n, r in wanted.items() if r == RAW_TS)
    stored = schema[time_name]
    kind = file_kind(path)
    typed = stored if kind == "parquet" and isinstance(stored, pl.Datetime) else None
    text = pl.col(time_name).cast(pl.String)
    if typed is not None:
        # timestamps stored as timestamps (``journeyctl convert``): nothing to parse
        moment = pl.col(time_name).cast(pl.Datetime("us", typed.time_zone))
        ts = _localize(moment, timezone) if typed.time_zone is None else moment.dt.convert_time_zone("UTC")
    elif time_format == "auto":
        # one format detected on a sample parses fast; rows it misses get the full
        # auto parser afterwards (repair_timestamps), so mixed files still work
        detected = detect_time_format(frame.select(text).head(256).collect().to_series())
        ts = _detected_format_expr(text, detected, timezone=timezone)
    else:
        ts = parse_timestamps_expr(text, time_format=time_format, timezone=timezone)
    raw_ts = pl.lit(None, pl.String) if typed is not None else text  # parsed timestamps have no text to quote
    if kind in ("csv", None):  # a blank line (every mapped column empty) is no event
        frame = frame.filter(~pl.all_horizontal(pl.col(name).is_null() for name in wanted))
    return frame.select(
        pl.lit(index, dtype=pl.UInt32).alias(SOURCE),
        pl.col(LINE).cast(pl.UInt64),
        *(
            (raw_ts if role == RAW_TS else _text_expr(name, schema[name])).alias(role)
            for name, role in wanted.items()
        ),
        ts.alias(TS),
    )


def detect_time_format(sample: pl.Series) -> str | None:
    """The first common ISO-8601 layout that parses every non-empty value of ``sample``."""
    values = sample.drop_nulls().str.strip_chars()
    if values.is_empty():
        return None
    for fmt in _COMMON_FORMATS:
        parsed = values.to_frame("raw").select(_detected_format_expr(pl.col("raw"), fmt, timezone="UTC"))
        if parsed.to_series().null_count() == 0:
            return fmt
    return None


def _detected_format_expr(raw: pl.Expr, fmt: str | None, *, timezone: str) -> pl.Expr:
    """Text in a layout of ``_COMMON_FORMATS`` → ``Datetime(us, UTC)`` (null elsewhere); the
    full ``auto`` parser when no layout was detected."""
    if fmt is None:
        return parse_timestamps_expr(raw, time_format="auto", timezone=timezone)
    if fmt.endswith("Z"):
        naive = raw.str.strptime(pl.Datetime("us"), fmt, strict=False)
        return naive.dt.replace_time_zone("UTC")
    return parse_timestamps_expr(raw, time_format=fmt, timezone=timezone)


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
    or ``Z`` (honoured, so mixed offsets all become UTC) or without (read in ``timezone``),
    and Unix epoch seconds, milliseconds, microseconds or nanoseconds. An explicit strftime format is
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
    return pl.coalesce(aware, _localize(naive, timezone), epoch_expr(raw.str.strip_chars()))


def epoch_expr(text: pl.Expr) -> pl.Expr:
    """Unix epoch text → ``Datetime(us, UTC)``: 9-10 digits (optionally with a fraction) are
    seconds, 12-13 digits milliseconds, 15-16 microseconds (GA4's ``event_timestamp``), 18-19
    nanoseconds (cut to the microsecond); anything else is null."""
    seconds = pl.when(text.str.contains(r"^\d{9,10}(\.\d{1,6})?$")).then(
        text.cast(pl.Float64, strict=False) * 1e6
    )
    whole = text.cast(pl.Int64, strict=False)
    millis = pl.when(text.str.contains(r"^\d{12,13}$")).then(whole * 1000)
    micros = pl.when(text.str.contains(r"^\d{15,16}$")).then(whole)
    nanos = pl.when(text.str.contains(r"^\d{18,19}$")).then(whole // 1000)
    found = pl.coalesce(seconds.round(0).cast(pl.Int64), millis, micros, nanos)
    return found.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _localize(naive: pl.Expr, timezone: str) -> pl.Expr:
    local = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC")


def bad_rows_expr() -> pl.Expr:
    """True for rows that cannot be analysed: no user, no event, or a timestamp that did not parse."""
    return pl.col(USER).is_null() | pl.col(EVENT).is_null() | pl.col(TS).is_null()


def reason_expr() -> pl.Expr:
    """Why a bad row is bad, in words (the first problem found)."""
    return (
        pl.when(pl.col(USER).is_null())
        .then(pl.lit("no user id"))
        .when(pl.col(EVENT).is_null())
        .then(pl.lit("no event name"))
        .when(pl.col(RAW_TS).is_null())
        .then(pl.lit("no timestamp"))
        .otherwise(pl.lit("timestamp does not parse"))
    )


def describe_bad_rows(bad: pl.DataFrame, files: Sequence[Path], total: int) -> InputError:
    """One error quoting the first bad rows with file and line, and how many there are."""
    quoted = []
    for source, line, reason, raw_ts in bad.head(3).select(SOURCE, LINE, reason_expr(), RAW_TS).iter_rows():
        if reason == "timestamp does not parse":
            reason = f"timestamp {raw_ts!r} does not parse"
        quoted.append(f"{files[source]}:{line}: {reason}")
    first = quoted[0]
    more = "".join(f"\n  {q}" for q in quoted[1:])
    return InputError(
        f"{first.split(': ', 1)[1]}{more}\n  ({total:,} bad row{'s' if total != 1 else ''} in all)",
        where=first.split(": ", 1)[0],
        hint="fix or remove these rows; for other timestamp formats set `time_format` (a strftime pattern)",
    )


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
