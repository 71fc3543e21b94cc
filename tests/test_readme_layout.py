"""The README's table of rooms and the tree agree: every top-level module or package of oracle/
and models/ has one line, and every line names something that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `((?:oracle|models)/[^`]+)` \| (.+) \|$")


def _table() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Rooms", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for line in section.splitlines() if (m := ROW.match(line))}


def _tree() -> set[str]:
    rooms = set()
    for package in ("oracle", "models"):
        for entry in (ROOT / package).iterdir():
            if entry.is_dir() and (entry / "__init__.py").exists():
                rooms.add(f"{package}/{entry.name}/")
            elif entry.suffix == ".py" and entry.name != "__init__.py":
                rooms.add(f"{package}/{entry.name}")
    return rooms


def test_every_room_has_one_line_and_every_line_a_room() -> None:
    table = _table()
    tree = _tree()
    assert sorted(tree - set(table)) == [], "rooms missing from the README table"
    assert sorted(set(table) - tree) == [], "README rows naming nothing in the tree"


def test_each_line_says_what_the_room_holds() -> None:
    for room, holds in _table().items():
        assert len(holds.split()) >= 3, f"{room}: say what it holds"
