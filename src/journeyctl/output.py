"""Where results go: standard output, or a file written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import polars as pl

from journeyctl.errors import UsageError


def write_output(text: str, path: Path | None, *, inputs: Iterable[Path] = ()) -> None:
    """Print ``text`` to stdout, or replace ``path`` atomically with it.

    The text goes to a temporary file beside ``path`` first and is renamed over it only when
    complete, so a failed run never leaves a half-written file or destroys the old one. An
    output path that is one of the ``inputs`` is refused: an analysis never eats its data.
    """
    if path is None or str(path) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    with replacing(path, inputs=inputs) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_parquet_output(frame: pl.DataFrame, path: Path, *, inputs: Iterable[Path] = ()) -> None:
    """Replace ``path`` atomically with ``frame`` as Parquet (as ``write_output`` does text)."""
    with replacing(path, inputs=inputs) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=True)


@contextlib.contextmanager
def replacing(path: Path, *, inputs: Iterable[Path]) -> Iterator[str]:
    """A temporary file beside ``path`` to write, renamed over ``path`` when the block ends
    without error and removed otherwise; what ``refuse_unwritable`` refuses is refused before
    anything is written."""
    refuse_unwritable(path, inputs=inputs)
    target = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode(target))
        os.replace(tmp, target)
    except OSError as err:
        raise UsageError(f"cannot write: {err.strerror}", where=str(path)) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def refuse_unwritable(path: Path | None, *, inputs: Iterable[Path]) -> None:
    """``UsageError`` when ``path`` cannot take a result: it is one of the ``inputs``, a
    directory, or in a folder that does not exist (None or ``-``, standard output, always can).
    Commands check their outputs with it before the analysis, not after it."""
    if path is None or str(path) == "-":
        return
    target = path.resolve()
    if any(target == Path(p).resolve() for p in inputs):
        raise UsageError(
            "the output file is one of the inputs", where=str(path), hint="choose another -o FILE"
        )
    if target.is_dir():
        raise UsageError(
            "the output path is a directory",
            where=str(path),
            hint="name a file, e.g. -o funnel.json",
        )
    if not target.parent.is_dir():
        raise UsageError("the output folder does not exist", where=str(path), hint="create the folder first")


def _file_mode(target: Path) -> int:
    """The permissions ``target`` has, or those a new file gets under the umask (a temporary
    file is private to its owner, which the result need not be)."""
    if target.exists():
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def refuse_clashes(files: Sequence[tuple[str, Path | None]]) -> None:
    """Each option names its own file: no output replaces the config or another output.

    ``files`` pairs an option with the file it names (None or ``-``: not given); an option
    named twice (several ``--export-users``) is checked where it is parsed.
    """
    seen: dict[Path, str] = {}
    for option, path in files:
        if path is None or str(path) == "-":
            continue
        first = seen.setdefault(path.resolve(), option)
        if first != option:
            raise UsageError(
                f"{first} and {option} name the same file", where=str(path), hint="give each its own file"
            )


def refuse_unappendable(path: Path, *, name: str) -> None:
    """``UsageError`` when ``path`` (the file the environment variable ``name`` gives) is a
    directory or lies in a folder that does not exist, so nothing could be appended to it."""
    if path.is_dir() or not path.parent.is_dir():
        what = "a directory" if path.is_dir() else "in a folder that does not exist"
        raise UsageError(f"{name} is {what}", where=str(path), hint=f"point {name} at a file, or unset it")


def append_output(text: str, path: Path) -> None:
    """Append ``text`` to ``path`` (a log others write to as well, such as the GitHub step
    summary): appending is its contract, so it is not replaced atomically."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise UsageError(f"cannot append: {err.strerror}", where=str(path)) from None


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
