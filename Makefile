# Two commands do everything on a fresh Debian machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QT_LIBS := libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 \
	libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1
AUDIO_LIBS := libportaudio2
TEST_TOOLS := jackd2 xvfb
TRAIN_TOOLS := openmpt123 unzip sox
MUSIC_PACKAGES := nexuiz-music warzone2100-music singularity-music planetblupi-music-ogg \
	hyperrogue-music asc-music fb-music-high drascula-music supertuxkart-data supertux-data \
	hedgewars-data widelands-data freedroidrpg-data megaglest-data xblast-tnt-musics neverball-data
MUSIC := build/default-music
CACHE := build/default-cache
RUNS := build/runs
# Schedules are in steps, so a run reproduces on any machine (see the model card for timings).
HYBRID_STEPS ?= 12000
# The report's design takes about 1.1 s a step on 2 cores: 800 steps are 15 minutes.
CONV2D_STEPS ?= 800

.PHONY: run test lint layout screenshot bench bundle train-default train-v3 scaling sync-study system-deps clean

run: $(VENV)/.runtime
	$(BIN)/musinterp

test: $(VENV)/.dev
	$(BIN)/ruff check musinterp_app tests
	$(BIN)/ruff format --check musinterp_app tests
	QT_QPA_PLATFORM=offscreen .ci/with-audio-device.sh $(BIN)/python -m pytest

# A PNG of the real window (under Xvfb) with the two example clips loaded.
screenshot: $(VENV)/.dev
	xvfb-run -a -s "-screen 0 1400x1000x24" $(BIN)/python .ci/screenshot.py build/screenshot.png

# A one-folder PyInstaller app (no torch), then its headless self-test.
bundle: $(VENV)/.dev
	$(BIN)/python -m pip install -q -e ".[bundle]"
	$(BIN)/pyinstaller --noconfirm --clean --distpath build/dist --workpath build/pyinstaller build.spec
	du -sh build/dist/musinterp
	.ci/check-bundle.sh build/dist/musinterp/musinterp

# The window at three screen sizes with its side panels shut and open (Xvfb): what fits,
# what grows, what is cut; PNGs in build/layout/.
layout: $(VENV)/.dev
	mkdir -p build/layout
	for size in 1024x700 1366x768 1920x1080; do \
		xvfb-run -a -s "-screen 0 $${size}x24" $(BIN)/python .ci/layout.py $$size build/layout/$$size; \
	done

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

# The default model, reproduced from Debian's packaged game music (about 2 hours on 2 cores).
# Every step resumes where it stopped; run it again after an interruption.
train-default: $(VENV)/.dev
	.ci/system-deps.sh $(MUSIC_PACKAGES) $(TRAIN_TOOLS)
	.ci/stage-default-music.sh $(MUSIC)
	$(BIN)/musinterp-train prepare --audio $(MUSIC)/* --out $(CACHE)
	$(BIN)/musinterp-train train --data $(CACHE) --out $(RUNS)/hybrid --arch hybrid \
		--steps $(HYBRID_STEPS) --resume
	$(BIN)/musinterp-train train --data $(CACHE) --out $(RUNS)/conv2d --arch conv2d \
		--steps $(CONV2D_STEPS) --lr-warmup-steps 20 --warmup-steps 100 --resume
	$(BIN)/musinterp-train export $(RUNS)/conv2d -o build/models/conv2d \
		--data-notes .ci/default-music-sources.md
	.ci/previous-model.sh v1 build/models/conv1d-v1
	$(BIN)/musinterp-train export $(RUNS)/hybrid -o resources/models/default \
		--data-notes .ci/default-music-sources.md \
		--commands "make train-default (HYBRID_STEPS=$(HYBRID_STEPS) CONV2D_STEPS=$(CONV2D_STEPS))"
	$(BIN)/musinterp-train fit-prior resources/models/default --data $(CACHE)
	$(BIN)/musinterp-train evaluate resources/models/default --data $(CACHE) \
		--baseline build/models/conv1d-v1 --baseline build/models/conv2d

# The benchmark (docs/benchmark.md), model v2's decode timed beside the model's, in turns
# (model.decode_vs_v2: a new default may decode at most 1.5x as long). BENCH_ARGS=--json
# gives one JSON object.
bench: $(VENV)/.dev
	.ci/previous-model.sh v2 build/models/hybrid-v2
	$(BIN)/musinterp bench --v2-model build/models/hybrid-v2 $(BENCH_ARGS)

# Model v3's stage 2 (issue Model v3): the shipped model's decoder trained against a
# discriminator and the interpolation critic, its encoder frozen; then exported and evaluated
# beside the shipped model. Resumable: run it again after an interruption. Stage 2 runs at
# about 0.9 s a step on 2 cores (the model card gives the measured figure).
STAGE2_STEPS ?= 12000
train-v3: $(VENV)/.dev
	.ci/system-deps.sh $(MUSIC_PACKAGES) $(TRAIN_TOOLS)
	.ci/stage-default-music.sh $(MUSIC)
	$(BIN)/musinterp-train prepare --audio $(MUSIC)/* --out $(CACHE)
	$(BIN)/musinterp-train adversarial --data $(CACHE) --start resources/models/default \
		--out $(RUNS)/stage2 --steps $(STAGE2_STEPS) --adversarial-weight 0.5 \
		--interpolation-weight 0.2 --resume
	$(BIN)/musinterp-train export $(RUNS)/stage2 -o build/models/v3 \
		--data-notes .ci/default-music-sources.md \
		--commands "make train-v3 (STAGE2_STEPS=$(STAGE2_STEPS))"
	$(BIN)/musinterp-train evaluate build/models/v3 --data $(CACHE) \
		--baseline resources/models/default

# How far the window's tempo and key can be trusted (docs/measurements/sync-study.md): the
# default training music for steadiness, tracker modules (which state their tempo) for accuracy.
SYNC_PACKAGES := tecnoballz-data
sync-study: $(VENV)/.dev
	.ci/system-deps.sh $(MUSIC_PACKAGES) $(SYNC_PACKAGES) $(TRAIN_TOOLS)
	.ci/stage-default-music.sh $(MUSIC)
	$(BIN)/musinterp-train sync-study --audio $(MUSIC)/* -o docs/measurements \
		--modules /usr/share/games/tecnoballz/musics /usr/share/games/frozen-bubble/snd

# The scaling plan's CPU measurements (README, Training at scale): peak memory against corpus
# size, prepare speed, segments/s and bytes read per step for 1 and 2 gloo processes.
scaling: $(VENV)/.dev
	$(BIN)/python -m musinterp_app.training.evaluation.scaling docs/measurements/cpu-ddp-gloo.json

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
