# Two commands do everything on a fresh Debian machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QT_LIBS := libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1
AUDIO_LIBS := libportaudio2
TEST_TOOLS := jackd2 xvfb
TRAIN_TOOLS := openmpt123 unzip

.PHONY: run test lint screenshot bundle train-default system-deps clean

run: $(VENV)/.runtime
	$(BIN)/musinterp

test: $(VENV)/.dev
	$(BIN)/ruff check musinterp_app tests
	$(BIN)/ruff format --check musinterp_app tests
	QT_QPA_PLATFORM=offscreen .ci/with-audio-device.sh $(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check musinterp_app tests
	$(BIN)/ruff format --check musinterp_app tests

system-deps:
	.ci/system-deps.sh $(QT_LIBS) $(AUDIO_LIBS)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	.ci/system-deps.sh $(QT_LIBS) $(AUDIO_LIBS)
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(VENV)/bin/python
	.ci/system-deps.sh $(QT_LIBS) $(AUDIO_LIBS) $(TEST_TOOLS)
	$(BIN)/python -m pip install -q -e ".[dev,train]"
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
