"""The journey config: pydantic models and their loading from YAML."""

from journeyctl.config.loading import load_config
from journeyctl.config.models import JourneyConfig

__all__ = ["JourneyConfig", "load_config"]
