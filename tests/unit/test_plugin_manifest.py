"""plugin.ini parsing and the uxwizz version range check."""

from __future__ import annotations

import pytest

from core.plugins.manifest import ManifestError, read_manifest


def write(tmp_path, name, text):  # type: ignore[no-untyped-def]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "plugin.ini").write_text(text)
    return str(folder)


def test_a_complete_manifest(tmp_path):
    folder = write(tmp_path, "polls_2", "[plugin]\nname = polls_2\nversion = 2.1.0\n"
                   "description = Polls.\nuxwizz = >=0.1, <1\n")
    manifest = read_manifest(folder)
    assert (manifest.name, manifest.version, manifest.description) == ("polls_2", "2.1.0", "Polls.")
    assert manifest.compatible_with("0.1.0") and manifest.compatible_with("0.9.3")
    assert not manifest.compatible_with("1.0.0") and not manifest.compatible_with("0.0.9")


@pytest.mark.parametrize("spec, version, ok", [
    ("~=0.1", "0.9.5", True), ("~=0.1", "1.0.0", False), ("~=0.1.0", "0.2.0", False),
    ("==0.1.*", "0.1.9", True), ("==0.1.*", "0.2.0", False), (">=0.2", "0.2.0rc1", False),
    (">=0.1", "0.2.0rc1", True), ("!=0.1.0", "0.1.0", False),
])
def test_version_ranges(tmp_path, spec, version, ok):
    folder = write(tmp_path, "p", f"[plugin]\nname = p\nversion = 1\nuxwizz = {spec}\n")
    assert read_manifest(folder).compatible_with(version) is ok


@pytest.mark.parametrize("name", ["Upper", "has-dash", "has space", "_private", "x" * 65, "dashboard"])
def test_bad_names_are_refused(tmp_path, name):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "plugin.ini").write_text(f"[plugin]\nname = {name}\nversion = 1\nuxwizz = >=0.1\n")
    with pytest.raises(ManifestError, match="name"):
        read_manifest(str(folder))


def test_an_unreadable_manifest_names_the_file(tmp_path):
    folder = write(tmp_path, "p", "[plugin]\nname = p\nname = q\n")
    with pytest.raises(ManifestError, match="plugin.ini cannot be read"):
        read_manifest(folder)
    (tmp_path / "p" / "plugin.ini").write_bytes(b"\xff\xfe[plugin]")
    with pytest.raises(ManifestError, match="cannot be read"):
        read_manifest(folder)
