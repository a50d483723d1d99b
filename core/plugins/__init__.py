"""Plugins: pluggy hook specifications, the manager that loads `plugins/<name>/`, and built-ins.

Plugin authors import from `core.plugins.api`; this module only holds the pluggy markers, so it
can be imported from anywhere without pulling in Bottle or the dashboard.
"""

from __future__ import annotations

import pluggy

PROJECT = "uxwizz"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
