"""A background lab's settings in tests, as its supervisor sees them."""

from breakfix.background import BackgroundLab
from lab.config import LabSettings


def lab_settings(lab: BackgroundLab) -> LabSettings:
    """The lab's settings as its supervisor sees them, from the BREAKFIX_* environment."""
    return lab.settings()
