"""The examples in the package's docstrings are true."""

import doctest
import importlib
import pkgutil

import pytest

import kokoro_nb

# Every module of the package (the text package's too), so a new one with examples is checked.
# `__main__` is left out: importing it runs the command line.
MODULES = ["kokoro_nb"] + [
    module.name for module in pkgutil.walk_packages(kokoro_nb.__path__, prefix="kokoro_nb.")
    if not module.name.endswith("__main__")
]


def test_the_package_has_examples_where_it_should():
    names = {name for name in MODULES if _examples(importlib.import_module(name))}
    assert {"kokoro_nb.checkpoints", "kokoro_nb.config", "kokoro_nb.losses",
            "kokoro_nb.synthesis", "kokoro_nb.text.phonemes"} <= names


def _examples(module):
    return [example for test in doctest.DocTestFinder().find(module) for example in test.examples]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    # An example that is only a comment runs nothing: write the format in prose instead.
    assert not [e.source for e in _examples(module) if e.source.lstrip().startswith("#")]
    assert doctest.testmod(module).failed == 0
