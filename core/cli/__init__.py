"""The command line: one argparse tree, one module per command family.

Exit codes: 0 ok, 1 failure (one-line reason on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from core.config import ConfigError, Settings, load_settings


class CommandError(Exception):
    """A command failed for a reason worth one line on stderr (exit 1)."""


def settings_from(args: argparse.Namespace, cli: dict | None = None, must_exist: bool = True) -> Settings:
    return load_settings(args.config, cli=cli, must_exist=must_exist)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The command tree; plugins enabled in the config `argv` names add their commands too."""
    from core.cli import accounts_cmd, config_cmd, install_cmd, jobs_cmd, migrate_cmd, seed_cmd, serve_cmd

    parser = argparse.ArgumentParser(
        prog="uxwizz.py", description="Self-hosted web analytics and UX insight server."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="config file (default: $UXWIZZ_CONFIG, else ./config.ini)")
    parser.add_argument("--config", metavar="PATH", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (serve_cmd, install_cmd, migrate_cmd, accounts_cmd, jobs_cmd, config_cmd, seed_cmd):
        module.add_commands(sub, common)
    from core.plugins.cli import add_plugin_commands

    add_plugin_commands(sub, common, argv)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["serve", *argv]  # `python uxwizz.py [--port 9000]` means serve
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except (CommandError, ConfigError) as exc:
        print(f"uxwizz: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 1
    return int(result or 0)
