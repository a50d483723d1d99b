"""The plugin manager: finds `plugins/<name>/`, loads the enabled ones, mounts every plugin's hooks.

One manager per app, kept in `ctx.services["plugins"]` (no module-level singleton). Built-in
parts of uxwizz register through the same hooks as third-party plugins; the difference is that
a built-in failing is a bug and stops the app, while a third-party plugin that is incompatible,
malformed, fails to import or raises while mounting is refused with one logged reason, and
the app starts without it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import bottle
import jinja2
import pluggy

from core import __version__
from core.config import Settings
from core.context import AppContext
from core.plugins import PROJECT, hookspecs
from core.plugins.manifest import ManifestError, read_manifest
from core.plugins.routes import Routes
from core.plugins.types import Panel, PluginInfo, RegisteredPanel

log = logging.getLogger("uxwizz.plugins")
MODULE_PREFIX = "uxwizz_plugin_"
SERVICE_KEY = "plugins"  # ctx.services["plugins"]: this app's PluginManager
ENTRY_FILE = "__init__.py"


class PluginRefused(Exception):
    """A plugin cannot be used; the message is the reason shown in logs and `plugins list`."""


def plugins_folder(settings: Settings) -> str:
    """`plugins.path`, relative to the config file's folder like every other path setting."""
    return os.path.join(settings.base_dir, settings["plugins.path"])


@dataclass
class _Staged:
    """What one plugin contributes, checked before any of it is applied."""

    info: PluginInfo
    routes: Routes | None = None
    menu_links: list[Any] = field(default_factory=list)
    site_tabs: list[Any] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    template_vars: dict[str, Any] = field(default_factory=dict)
    jobs: list[Any] = field(default_factory=list)
    enrich_steps: list[Any] = field(default_factory=list)


class PluginManager:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.menu_links: list[Any] = []

    # -- finding and loading -------------------------------------------------------------------

    @property
    def folder(self) -> str | None:
        return plugins_folder(self.settings) if self.settings is not None else None

    def add_builtin(self, name: str, plugin: object) -> None:
        """Register one of uxwizz's own parts (errors in it propagate: they are bugs)."""
        self.pm.register(plugin, name=name)
        summary = (type(plugin).__doc__ or plugin.__doc__ or "").strip().split("\n")[0]
        self.infos[name] = PluginInfo(name, version=__version__, description=summary, state="builtin",
                                      builtin=True, module=plugin)

    def discover(self) -> list[PluginInfo]:
        """Every folder in plugins.path with what its manifest says (nothing is imported here)."""
        found: list[PluginInfo] = []
        folder = self.folder
        if folder is None or not os.path.isdir(folder):
            return found
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if entry.startswith((".", "_")) or not os.path.isdir(path):
                continue
            info = PluginInfo(entry, path=path)
            try:
                manifest = read_manifest(path)
            except ManifestError as exc:
                info.state, info.reason = "refused", str(exc)
            else:
                info.version, info.description, info.requires = (manifest.version, manifest.description,
                                                                  manifest.requires)
                info.state = "disabled"
                if not manifest.compatible_with(__version__):
                    info.state = "refused"
                    info.reason = f"needs uxwizz {manifest.requires}; this is {__version__}"
            found.append(info)
        return found

    def load(self) -> None:
        """Import and register the plugins named in `plugins.enabled`, in that order."""
        if self.settings is None:
            return
        found = {info.name: info for info in self.discover()}
        enabled = list(dict.fromkeys(self.settings["plugins.enabled"]))
        for spare in found.values():
            if spare.name not in enabled and spare.state != "refused":
                spare.state, spare.reason = "disabled", "not in plugins.enabled"
            if spare.name not in enabled:
                self.infos.setdefault(spare.name, spare)
        for name in enabled:
            info = found.get(name)
            if info is None:
                reason = f"no folder {name!r} in {self.folder}"
                self.infos[name] = PluginInfo(name, state="missing", reason=reason)
                log.error("plugin %s: refused: %s", name, reason)
                continue
            self.infos[name] = info
            if info.state == "refused":
                log.error("plugin %s: refused: %s", name, info.reason)
                continue
            try:
                self._import_and_register(info)
            except PluginRefused as exc:
                info.state, info.reason = "refused", str(exc)
                log.error("plugin %s: refused: %s", name, exc)
                continue
            info.state, info.reason = "loaded", ""
            log.info("plugin %s %s loaded from %s", name, info.version, info.path)

    def _import_and_register(self, info: PluginInfo) -> None:
        entry = os.path.join(info.path, ENTRY_FILE)
        if not os.path.isfile(entry):
            raise PluginRefused(f"no {ENTRY_FILE} in {info.path}")
        try:
            module = _import_folder(info.name, info.path)
        except (Exception, SystemExit) as exc:  # a plugin's bug must not stop the app
            log.debug("plugin %s import traceback", info.name, exc_info=True)
            raise PluginRefused(f"import failed: {type(exc).__name__}: {exc}") from None
        unknown = [attr for attr in dir(module) if attr.startswith("uxwizz_")
                   and self.pm.parse_hookimpl_opts(module, attr) is not None
                   and not hasattr(self.pm.hook, attr)]
        if unknown:
            raise PluginRefused(f"unknown hook(s) {', '.join(sorted(unknown))} (see plugins/README.md)")
        try:
            self.pm.register(module, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginRefused(f"invalid hook: {exc}") from None
        # Hooks are called one plugin at a time (for isolation), so pluggy's wrappers have nothing to wrap.
        wrappers = [caller.name for caller in self.pm.get_hookcallers(module) or []
                    for impl in caller.get_hookimpls() if impl.plugin is module and (impl.hookwrapper or impl.wrapper)]
        if wrappers:
            self.pm.unregister(module)
            raise PluginRefused(f"hook wrappers are not supported: {', '.join(wrappers)}")
        info.module = module
        template_dir = os.path.join(info.path, "templates")
        static_dir = os.path.join(info.path, "static")
        info.template_dir = template_dir if os.path.isdir(template_dir) else None
        info.static_dir = static_dir if os.path.isdir(static_dir) else None

    # -- asking plugins ----------------------------------------------------------------------------

    def active(self) -> list[PluginInfo]:
        """Built-ins and loaded plugins, in load order."""
        return [info for info in self.infos.values() if info.state in ("builtin", "loaded")]

    def call(self, info: PluginInfo, hook: str, **kwargs: Any) -> Any:
        """Call one plugin's implementation of `hook` (None when it has none)."""
        plugin = self.pm.get_plugin(info.name)
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            if impl.plugin is plugin:
                return impl.function(*[kwargs[name] for name in impl.argnames])
        return None

    def each(self, hook: str, **kwargs: Any) -> Iterator[tuple[PluginInfo, Any]]:
        """(plugin, result) for every active plugin implementing `hook`; third-party errors are logged."""
        for info in self.active():
            try:
                yield info, self.call(info, hook, **kwargs)
            except Exception:
                if info.builtin:
                    raise
                log.exception("plugin %s: %s failed", info.name, hook)

    def template_dirs(self) -> dict[str, str]:
        return {info.name: info.template_dir for info in self.active() if info.template_dir}

    def _set_loader(self, ctx: AppContext, base: Any) -> None:
        """The app's templates first; then plugins/<name>/templates/ answering for "<name>/…" only,
        so two plugins' templates never shadow each other or the built-in ones."""
        folders = {name: jinja2.FileSystemLoader(path) for name, path in self.template_dirs().items()}
        ctx.templates.loader = jinja2.ChoiceLoader([base, jinja2.PrefixLoader(folders)]) if folders else base

    # -- mounting ----------------------------------------------------------------------------------

    def mount(self, app: bottle.Bottle, ctx: AppContext) -> None:
        """Start every active plugin and mount what it contributes, one plugin at a time."""
        ctx.services[SERVICE_KEY] = self
        base_loader = ctx.templates.loader
        self._set_loader(ctx, base_loader)
        for info in self.active():
            before = len(app.routes)  # built-ins add routes while staged, plugins when applied
            if info.builtin:
                self._apply(self._stage(info, app, ctx), ctx)
            else:
                try:
                    staged = self._stage(info, app, ctx)
                except Exception as exc:
                    self._fail(info, ctx, exc)
                    continue
                self._apply(staged, ctx)
            info.routes = [(route.method, route.rule, str(route.config.get("permission", "")))
                           for route in app.routes[before:]]
        self._set_loader(ctx, base_loader)  # failed plugins' templates must not stay reachable
        from core.dashboard.menu import build_menu

        ctx.services["menu"] = build_menu(self.menu_links + list(ctx.services.get("extra_menu_links", [])))
        ctx.shutdown_hooks.append(lambda: self.shutdown(ctx))

    def _stage(self, info: PluginInfo, app: bottle.Bottle, ctx: AppContext) -> _Staged:
        from core.dashboard.menu import MenuLink, SiteNavLink
        from core.enrich.pipeline import Step
        from core.tasks import Job, job_table

        staged = _Staged(info)
        try:
            self.call(info, "uxwizz_startup", ctx=ctx)
        except Exception as exc:
            raise PluginRefused(f"startup failed: {type(exc).__name__}: {exc}") from exc
        info.started = True
        prefix = "" if info.builtin else f"/p/{info.name}"
        staged.routes = Routes(app, info.name, prefix, isolate=not info.builtin)
        self.call(info, "uxwizz_routes", routes=staged.routes, ctx=ctx)
        staged.menu_links = _items(self.call(info, "uxwizz_menu_links", ctx=ctx), MenuLink, "uxwizz_menu_links")
        staged.site_tabs = _items(self.call(info, "uxwizz_site_tabs", ctx=ctx), SiteNavLink, "uxwizz_site_tabs")
        staged.panels = _items(self.call(info, "uxwizz_panels", ctx=ctx), Panel, "uxwizz_panels")
        staged.jobs = _items(self.call(info, "uxwizz_jobs", ctx=ctx), Job, "uxwizz_jobs")
        staged.enrich_steps = _items(self.call(info, "uxwizz_enrich_steps", ctx=ctx), Step, "uxwizz_enrich_steps")
        variables = self.call(info, "uxwizz_template_vars", ctx=ctx) or {}
        if not isinstance(variables, dict) or not all(isinstance(k, str) for k in variables):
            raise PluginRefused("uxwizz_template_vars must return a dict with string keys")
        staged.template_vars = variables
        _check(staged, ctx, job_table(ctx))
        return staged

    def _apply(self, staged: _Staged, ctx: AppContext) -> None:
        from core.tasks import add_jobs

        info = staged.info
        if staged.routes is not None:
            staged.routes.mount()
        if info.static_dir and staged.routes is not None:
            _mount_static(staged.routes.app, info)
        self.menu_links.extend(staged.menu_links)
        ctx.services.setdefault("site_nav", []).extend(staged.site_tabs)
        info.menu_links, info.site_tabs = list(staged.menu_links), list(staged.site_tabs)
        panels = ctx.services.setdefault("panels", [])
        panels.extend(RegisteredPanel(info.name, panel) for panel in staged.panels)
        panels.sort(key=lambda entry: entry.panel.order)
        add_jobs(ctx, *staged.jobs)
        if staged.enrich_steps:
            steps = ctx.services.get("enrich_steps")
            if steps is None:
                from core.enrich.pipeline import DEFAULT_STEPS

                steps = ctx.services["enrich_steps"] = list(DEFAULT_STEPS)
            steps.extend(staged.enrich_steps if info.builtin else
                         [_guarded_step(info.name, step) for step in staged.enrich_steps])
        ctx.templates.globals.update(staged.template_vars)

    def _fail(self, info: PluginInfo, ctx: AppContext, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, PluginRefused) else f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__ if isinstance(exc, PluginRefused) else exc  # no traceback for plain refusals
        log.error("plugin %s: disabled: %s", info.name, reason, exc_info=cause)
        if info.started:
            self._shutdown_one(info, ctx)
        info.state, info.reason = "failed", reason
        self.pm.unregister(name=info.name)

    def shutdown(self, ctx: AppContext) -> None:
        """Each mounted plugin's shutdown hook, last mounted first; errors are logged, not raised."""
        for info in reversed(self.active()):
            self._shutdown_one(info, ctx)

    def _shutdown_one(self, info: PluginInfo, ctx: AppContext) -> None:
        try:
            self.call(info, "uxwizz_shutdown", ctx=ctx)
        except Exception:
            if info.builtin:
                raise
            log.exception("plugin %s: shutdown failed", info.name)


# -- helpers ---------------------------------------------------------------------------------------

def _import_folder(name: str, path: str) -> ModuleType:
    """Import plugins/<name>/__init__.py as a package, so the plugin may use relative imports."""
    module_name = MODULE_PREFIX + name
    for loaded in [m for m in sys.modules if m == module_name or m.startswith(module_name + ".")]:
        del sys.modules[loaded]  # a fresh copy per app: tests build many apps in one process
    spec = importlib.util.spec_from_file_location(
        module_name, os.path.join(path, ENTRY_FILE), submodule_search_locations=[path])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _items(value: Any, kind: type, hook: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, kind) for item in value):
        raise PluginRefused(f"{hook} must return a list of {kind.__name__}, got {value!r:.200}")
    return list(value)


def _check(staged: _Staged, ctx: AppContext, jobs: dict[str, Any]) -> None:
    """Reject what would fail later (unknown permissions, clashing names) while nothing is applied."""
    from core.permissions import PERMISSIONS

    for item in [*staged.menu_links, *staged.site_tabs, *staged.panels]:
        if item.permission not in PERMISSIONS:
            raise PluginRefused(f"{type(item).__name__} {getattr(item, 'label', getattr(item, 'title', ''))!r}: "
                                f"unknown permission {item.permission!r}")
    for panel in staged.panels:
        if not callable(panel.data):
            raise PluginRefused(f"panel {panel.title!r}: data is not callable")
        try:
            ctx.templates.get_template(panel.template)
        except Exception as exc:
            raise PluginRefused(f"panel {panel.title!r}: template {panel.template!r}: "
                                f"{type(exc).__name__}: {exc}") from None
    seen: set[str] = set()
    for job in staged.jobs:
        if job.name in jobs or job.name in seen:
            raise PluginRefused(f"job {job.name!r} already exists")
        seen.add(job.name)
    for step in staged.enrich_steps:
        if step.stage not in ("request", "flush") or not callable(step.func):
            raise PluginRefused(f"enrich step {step.name!r}: stage must be request or flush and func callable")
    taken = [name for name in staged.template_vars if name in ctx.templates.globals]
    if taken:
        raise PluginRefused(f"template variable(s) {', '.join(taken)} already exist")


def _mount_static(app: bottle.Bottle, info: PluginInfo) -> None:
    root = info.static_dir

    def static(path: str) -> Any:
        response = bottle.static_file(path, root=root)
        response.set_header("Cache-Control", "public, max-age=3600")
        return response

    app.route(f"/p/{info.name}/static/<path:path>", "GET", static, permission="public", plugin=info.name)


def _guarded_step(plugin: str, step: Any) -> Any:
    """A plugin's enrich step that raises is logged (first time, then every 1000th) and skipped."""
    from dataclasses import replace

    failures = [0]
    func: Callable[..., Any] = step.func

    def guarded(hit: Any, env: Any) -> Any:
        try:
            return func(hit, env)
        except Exception:
            failures[0] += 1
            if failures[0] % 1000 == 1:
                log.exception("plugin %s: enrich step %s failed (%d time(s))", plugin, step.name, failures[0])
            return None

    return replace(step, name=f"{plugin}:{step.name}", func=guarded)




def plugin_manager(settings: Settings | None) -> PluginManager:
    """Built-in parts plus the enabled plugins of these settings, loaded (not mounted yet)."""
    from core.plugins.builtin import builtin_plugins

    manager = PluginManager(settings)
    for name, plugin in builtin_plugins():
        manager.add_builtin(name, plugin)
    manager.load()
    return manager
