"""Every error journeyctl reports on purpose, and the exit code it maps to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # warnings allowed
    KPI_FAILED = 1  # a KPI missed its threshold
    INVALID = 2  # the input, the config or the command line
    INTERNAL = 3  # a bug: say so, and how to see the traceback (--debug)


class JourneyctlError(Exception):
    """An error the user can fix; ``str(err)`` is ``where: message`` plus an indented hint."""

    exit_code = ExitCode.INVALID

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class ConfigError(JourneyctlError):
    """The journey YAML is unreadable or does not describe a valid journey."""


class InputError(JourneyctlError):
    """An event file is missing, unreadable or does not fit the config's column mapping."""


class UsageError(JourneyctlError):
    """The command line asks for something impossible."""
