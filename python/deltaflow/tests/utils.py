"""Re-export of ``deltaflow.testing`` under Pathway's module name."""

from deltaflow.testing import *  # noqa: F401,F403
from deltaflow.testing import __all__  # noqa: F401
