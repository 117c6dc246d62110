"""What every notebook's first cell calls: settings and bundled data for the course.

`setup_notebook()` reads ``KOKORO_NB_FAST`` (set by the test run to shrink work, never to
skip it) and reports what it found, so a notebook states its settings in one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources


def fast_mode() -> bool:
    """True when ``KOKORO_NB_FAST=1``: notebooks use fewer sentences, steps and plots."""
    return os.environ.get("KOKORO_NB_FAST", "").strip().lower() in ("1", "true", "yes")


def demo_sentences() -> list[str]:
    """The bundled demo sentences (the texts of the demo corpus), one per item."""
    text = resources.files("kokoro_nb").joinpath("data/demo_sentences.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class CourseSetup:
    fast: bool
    sentences: int

    def __str__(self) -> str:
        mode = "fast (KOKORO_NB_FAST=1)" if self.fast else "full"
        return f"kokoro_nb course: {mode} mode; {self.sentences} demo sentences bundled"


def setup_notebook() -> CourseSetup:
    """Settings for a notebook: fast mode and the bundled data. Prints one line."""
    setup = CourseSetup(fast=fast_mode(), sentences=len(demo_sentences()))
    print(setup)
    return setup
