"""journeyctl: funnel and drop-off analysis of customer-journey event exports."""

__version__ = "0.1.0"

from journeyctl.api import analyze, check, report
from journeyctl.check import CheckReport
from journeyctl.config import JourneyConfig, load_config
from journeyctl.errors import ConfigError, InputError, JourneyctlError, UsageError
from journeyctl.report import Report
from journeyctl.result import AnalysisResult

__all__ = [
    "AnalysisResult",
    "CheckReport",
    "ConfigError",
    "InputError",
    "JourneyConfig",
    "JourneyctlError",
    "Report",
    "UsageError",
    "__version__",
    "analyze",
    "check",
    "load_config",
    "report",
]
