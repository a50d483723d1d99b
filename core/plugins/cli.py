"""Plugins on the command line: their `uxwizz_cli_commands`, and `uxwizz.py plugins list`."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core.config import ConfigError, load_settings
from core.i18n import _
from core.plugins.manager import PluginManager, plugin_manager


def _config_arg(argv: Sequence[str]) -> str | None:
    """`--config PATH` from a command line not parsed yet (plugins add commands before parsing)."""
    for index, arg in enumerate(argv):
        if arg == "--config" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def cli_manager(argv: Sequence[str]) -> PluginManager:
    """Built-ins plus the enabled plugins of the config the command line names."""
    try:
        settings = load_settings(_config_arg(argv), must_exist=False)
    except ConfigError:
        settings = None  # the command itself reports the bad config; plugins just stay out
    # Quietly: the command that builds the app logs refusals again, and `plugins list` explains
    # them, so every command line would otherwise repeat them.
    with _quiet():
        return plugin_manager(settings)


@contextmanager
def _quiet() -> Iterator[None]:
    plugin_log = logging.getLogger("uxwizz.plugins")
    was_disabled, plugin_log.disabled = plugin_log.disabled, True
    try:
        yield
    finally:
        plugin_log.disabled = was_disabled


def add_plugin_commands(sub: Any, common: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Let every plugin add its commands; one that raises is logged and left out."""
    manager = cli_manager(argv)
    for _info, _result in manager.each("uxwizz_cli_commands", subparsers=sub, common=common):
        pass


def add_plugins_command(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("plugins", parents=[common], help=_("plugins found in plugins.path"))
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", parents=[common], help=_("list plugins, their versions and state")).set_defaults(
        func=list_plugins)


def list_plugins(args: argparse.Namespace) -> int:
    """Every plugin folder with its state; exit 1 when an enabled plugin cannot be loaded."""
    from core.cli import settings_from

    settings = settings_from(args, must_exist=True)
    manager = PluginManager(settings)
    with _quiet():  # the table below says it all
        manager.load()
    print(_("plugins folder: {folder}").format(folder=manager.folder))
    infos = list(manager.infos.values())
    if not infos:
        print(_("no plugins found"))
    for info in infos:
        detail = info.reason or info.description
        print(f"{info.name:<24} {info.version or '-':<10} {info.state:<9} {detail}")
    return 1 if any(info.state in ("refused", "missing") and info.name in settings["plugins.enabled"]
                    for info in infos) else 0
