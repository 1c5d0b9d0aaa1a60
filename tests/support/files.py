"""Files the tests lay out: folders the testbed's login user may write, group configs."""

from __future__ import annotations

from pathlib import Path


def writable_folder(parent: Path, name: str) -> Path:
    """``parent/name``, created open to every user (the testbed logs in as another one)."""
    path = parent / name
    path.mkdir()
    path.chmod(0o777)
    return path


def group_config(folder: Path, yaml_text: str) -> Path:
    """A groups.conf in ``folder`` whose default source "local" reads ``yaml_text``."""
    (folder / "groups.d").mkdir()
    (folder / "groups.d" / "groups.yaml").write_text(yaml_text)
    conf = folder / "groups.conf"
    conf.write_text(f"[Main]\ndefault: local\nautodir: {folder}/groups.d\n")
    return conf
