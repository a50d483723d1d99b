"""Reading `plugins/<name>/plugin.ini` and checking the uxwizz version range it declares."""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

MANIFEST_NAME = "plugin.ini"
# Names appear in URLs (/p/<name>/), template prefixes and module names: keep them plain.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
# Folder names under templates/ (a plugin's templates are "<name>/…") and words of built-in paths.
RESERVED = frozenset({"dashboard", "errors", "installer", "partials", "static", "builtin"})


class ManifestError(ValueError):
    """The manifest is missing or malformed; the message says what to fix."""


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    description: str
    requires: str  # a version range, e.g. ">=0.1,<1"

    def compatible_with(self, version: str) -> bool:
        return Version(version) in SpecifierSet(self.requires, prereleases=True)


def read_manifest(folder: str) -> Manifest:
    """Parse and validate the manifest of one plugin folder (whose name must match)."""
    path = os.path.join(folder, MANIFEST_NAME)
    if not os.path.isfile(path):
        raise ManifestError(f"no {MANIFEST_NAME} in {folder}")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} cannot be read: {exc}".replace("\n", " ")) from None
    if not parser.has_section("plugin"):
        raise ManifestError(f"{path} has no [plugin] section")
    section = parser["plugin"]
    missing = [key for key in ("name", "version", "uxwizz") if not section.get(key, "").strip()]
    if missing:
        raise ManifestError(f"{path}: [plugin] lacks {', '.join(missing)}")
    name = section["name"].strip()
    folder_name = os.path.basename(os.path.normpath(folder))
    if not NAME_RE.match(name):
        raise ManifestError(f"{path}: name {name!r} must be lower-case letters, digits and _ (at most 64)")
    if name in RESERVED:
        raise ManifestError(f"{path}: name {name!r} is reserved by uxwizz; choose another")
    if name != folder_name:
        raise ManifestError(f"{path}: name {name!r} differs from its folder name {folder_name!r}")
    version = section["version"].strip()
    try:
        Version(version)
    except InvalidVersion:
        raise ManifestError(f"{path}: version {version!r} is not a version number like 1.2.0") from None
    requires = section["uxwizz"].strip()
    try:
        SpecifierSet(requires)
    except InvalidSpecifier:
        raise ManifestError(f"{path}: uxwizz = {requires!r} is not a version range like >=0.1,<1") from None
    return Manifest(name, version, section.get("description", "").strip(), requires)
