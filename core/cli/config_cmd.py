"""`config check|example`: validate the effective settings, or print config.example.ini."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli import settings_from
from core.config import REGISTRY, example_ini


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("config", parents=[common], help="check or print configuration")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("check", parents=[common], help="validate and show effective settings").set_defaults(func=check)
    actions.add_parser("example", parents=[common], help="print config.example.ini").set_defaults(func=example)


def check(args: argparse.Namespace) -> int:
    settings = settings_from(args)  # raises ConfigError (exit 1) naming the key and source
    for spec in REGISTRY:
        value = settings[spec.name]
        shown = ("(set)" if value else "(not set)") if spec.secret else spec.format(value)
        print(f"{spec.name} = {shown}    [{settings.source(spec.name)}]")
    print("configuration is valid" + ("" if settings.installed else "; not installed yet"))
    return 0


def example(args: argparse.Namespace) -> int:
    print(example_ini(), end="")
    return 0
