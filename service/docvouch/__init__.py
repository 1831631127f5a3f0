"""DocVouch: check AI chat answers against real documentation, claim by claim."""

from __future__ import annotations

__version__ = "0.1.0"
