"""Values plugins hand to uxwizz (panels) and what the manager records about each plugin."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from markupsafe import Markup

# Loaded: mounted and running. Disabled: found but not in plugins.enabled. Refused: bad manifest,
# incompatible version or import error. Failed: a hook raised while mounting (startup included).
# Missing: named in plugins.enabled, no such folder. Builtin: part of uxwizz itself.
STATES = ("loaded", "disabled", "refused", "failed", "missing", "builtin")


@dataclass(frozen=True)
class Panel:
    """A box on the site overview. `data(query)` computes; `template` shows what it returned."""

    title: str
    data: Callable[[Any], Any]
    template: str
    key: str = ""  # unique within the plugin; default: derived from the title
    permission: str = "view"
    order: int = 100

    @property
    def slug(self) -> str:
        return self.key or re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "panel"


@dataclass(frozen=True)
class RegisteredPanel:
    plugin: str
    panel: Panel

    @property
    def id(self) -> str:
        return f"{self.plugin}-{self.panel.slug}".replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class RenderedPanel:
    """One panel, ready for templates/partials/_panels.html: its HTML, or an error to show."""

    id: str
    plugin: str
    title: str
    html: Markup | None = None
    error: str | None = None


@dataclass
class PluginInfo:
    name: str
    path: str = ""
    version: str = ""
    description: str = ""
    requires: str = ""  # compatible uxwizz versions, e.g. ">=0.1,<1"
    state: str = "disabled"
    reason: str = ""
    module: ModuleType | Any = None
    builtin: bool = False
    template_dir: str | None = None
    static_dir: str | None = None
    started: bool = False  # its startup hook ran, so shutdown is owed
    # What it contributed once mounted (for the Plugins page and GET /api/v1/plugins).
    routes: list[tuple[str, str, str]] = field(default_factory=list)  # (method, rule, permission)
    menu_links: list[Any] = field(default_factory=list)
    site_tabs: list[Any] = field(default_factory=list)
