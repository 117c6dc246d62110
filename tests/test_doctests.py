"""The examples in the text package's docstrings are true."""

import doctest
import importlib

import pytest

MODULES = [
    "kokoro_nb.text",
    "kokoro_nb.text.normalize",
    "kokoro_nb.text.numbers",
    "kokoro_nb.text.stress",
    "kokoro_nb.text.phonemes",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
