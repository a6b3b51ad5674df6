# The two commands a new user needs: `make run` and `make test`.
# Both create .venv when it is missing and install what they need into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test test-slow test-all install install-dev bench clean package package-test package-tarball

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The stamp files make a second `make` start at once; pyproject.toml changes reinstall.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	QT_QPA_PLATFORM= $(BIN)/inspector demo

test: install-dev
	$(BIN)/python -m pytest

test-slow: install-dev
	$(BIN)/python -m pytest -m slow

test-all: install-dev
	$(BIN)/python -m pytest -m ''

# Packaging (packaging/README.md): PyInstaller comes with the `package` extra, never with dev,
# so `make test` does not install it. package: dist/inspector/; package-test: builds it and runs
# its --self-test offline (the slow test in tests/e2e/test_packaging.py).
$(VENV)/.installed-package: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[package]'
	touch $@ $(VENV)/.installed

package: $(VENV)/.installed-package
	$(BIN)/python -m PyInstaller --noconfirm --distpath dist --workpath build packaging/inspector.spec

package-test: install-dev $(VENV)/.installed-package
	INSPECTOR_PACKAGE_TEST=1 $(BIN)/python -m pytest -m slow tests/e2e/test_packaging.py

package-tarball: package
	bash packaging/linux/make_tarball.sh

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache artifacts
