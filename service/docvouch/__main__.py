"""``python -m docvouch`` is the ``docvouch`` command."""

from __future__ import annotations

import sys

from docvouch.cli import main

sys.exit(main())
