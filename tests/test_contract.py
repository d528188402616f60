"""The floor plan holds: no module keys behaviour on a class name (the layers are
checked by the import contracts of ``make lint``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_behaviour_keys_on_a_class_name():
    pattern = re.compile(r"(__name__|type_name)\s*(==|!=|in|not in)\s*['\"(\[_A-Z]")
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in sorted((ROOT / "bentonb").rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line) and "__main__" not in line]
    assert offenders == []
