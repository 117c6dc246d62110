# Two entry points (see README.md):
#   make demo   create .venv when missing, then run the demo on the bundled data
#   make test   create .venv when missing, then run the unit tests and every notebook
#   make screenshots   re-make docs/screenshots/*.png with the browser tests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: demo test venv lint screenshots clean-venv

demo: venv
	$(PY) -m kokoro_nb demo

test: venv
	KOKORO_NB_FAST=1 $(PY) -m pytest tests notebooks --nbmake -p no:cacheprovider

screenshots: venv
	KOKORO_NB_FAST=1 KOKORO_NB_SCREENSHOTS=docs/screenshots $(PY) -m pytest tests/test_browser.py -p no:cacheprovider

lint: venv
	$(PY) -m ruff check kokoro_nb tests scripts

venv: $(VENV)/.installed

# Re-installs when the project's dependency files change.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

clean-venv:
	rm -rf $(VENV)
