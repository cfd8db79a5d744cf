"""Prints where the trace view test left its page and screenshot, for a
person to open, at the end of the run."""

from pathlib import Path
from typing import Callable, List

import pytest

_ARTIFACTS: List[str] = []


@pytest.fixture
def record_artifact() -> Callable[[str, Path], None]:
    return lambda what, path: _ARTIFACTS.append(f"{what}: {path}")


def pytest_terminal_summary(terminalreporter) -> None:
    for line in _ARTIFACTS:
        terminalreporter.write_line(line)
