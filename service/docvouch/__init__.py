"""DocVouch: check AI chat answers against real documentation, claim by claim."""

from __future__ import annotations

__version__ = "0.1.0"

# Before any engine module is imported: a fresh mypyc build of them, when there is one,
# is found ahead of the sources (accel.py says when a build counts as fresh).
from docvouch import accel as _accel

_accel.activate(__path__)
