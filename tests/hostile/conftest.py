"""Hostile-input tests reuse the service fixtures (``service_home``, ``shared``, ``make_client``).

The service conftest is loaded under its own module name, so its fixtures are registered here
too without copying them; ``service_support`` and ``deploy_support`` become importable for
the helpers.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SERVICE_TESTS = Path(__file__).resolve().parents[1] / "service"
DEPLOY_TESTS = Path(__file__).resolve().parents[1] / "deploy"  # deploy_support: Dockerfile, need
for helpers in (SERVICE_TESTS, DEPLOY_TESTS):
    if str(helpers) not in sys.path:
        sys.path.insert(0, str(helpers))

_spec = importlib.util.spec_from_file_location("docvouch_service_fixtures",
                                               SERVICE_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

service_home = _fixtures.service_home
shared = _fixtures.shared
make_client = _fixtures.make_client
empty_home = _fixtures.empty_home
