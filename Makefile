# mfteach: two commands do all set-up on a fresh machine.
#   make lab   -> creates .venv, installs mfteach with [lab,test], opens JupyterLab on lessons/
#   make test  -> creates/updates .venv, runs the unit tests and nbval over every lesson
# Also: make bench / make bench-full (benchmarks/RESULTS.md), make browser-test (JupyterLab in headless Chromium),
#       make test-lowest / make test-colab (version legs: the lowest versions pyproject.toml allows,
#       and Google Colab's; each in a fresh .venv-lowest / .venv-colab, unit tests + every lesson run).
#       make app (the explanation explorer app in Voila on 127.0.0.1; prints its URL).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.mfteach-installed
PORT   ?= 8888

# The real MovieLens 100K sits beside the project in ../shared/data when it is there.
ifneq ($(wildcard ../shared/data/ml-100k/u.data),)
export MFTEACH_DATA ?= $(abspath ../shared/data)
endif
# Jupyter refuses to run as root without this flag.
ifeq ($(shell id -u),0)
LAB_ROOT_FLAG := --allow-root
endif

NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with lessons/nbval-sanitize.cfg
# The lessons are sized for one core (as on Binder): one BLAS thread per kernel keeps the small
# products of the lessons fast while JupyterLab, Chromium or other tests share the machine.
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

.PHONY: lab test unit nbval bench bench-full browser-test app test-lowest test-colab venv clean

venv: $(STAMP)

# uv is used when it is on PATH (10x faster); a bare python3 with venv + pip works too.
$(STAMP): pyproject.toml setup.py
	@if command -v uv >/dev/null 2>&1; then \
	  [ -x $(BIN)/python ] || uv venv --seed --python $(PYTHON) $(VENV); \
	  uv pip install --python $(BIN)/python --compile-bytecode -e '.[lab,test]'; \
	else \
	  [ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV); \
	  $(BIN)/python -m pip install --upgrade --quiet pip; \
	  $(BIN)/python -m pip install --quiet -e '.[lab,test]'; \
	fi
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=lessons $(LAB_ROOT_FLAG)

# The lessons run with a fresh MFTEACH_HOME; afterwards it must hold no attempt and no hint.
test: $(STAMP)
	@home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && \
	MFTEACH_HOME=$$home $(ONE_THREAD) $(BIN)/python -m pytest tests lessons $(NBVAL_ARGS) && \
	MFTEACH_HOME=$$home $(BIN)/python tests/check_lessons_record_nothing.py

unit: $(STAMP)
	$(BIN)/python -m pytest tests

nbval: $(STAMP)
	$(ONE_THREAD) $(BIN)/python -m pytest lessons $(NBVAL_ARGS)

# make bench: the quick set (every speed and widget figure and the accuracy table, under 10 minutes);
# make bench-full: also the long explanation validations (modules with FULL_ONLY = True: FIA Figure 2,
# Table 2, FIA-NCF). Both rebuild benchmarks/RESULTS.md, then fail when a target is missed (exit 1) or a
# topic raised (exit 2, its last figures kept); `make bench BENCH_ARGS=--report-only` only reports
# missed targets. One BLAS thread, as the peers (Surprise, implicit) run on one thread too.
BENCH_ARGS ?=
bench bench-full: $(STAMP)
	@# optional peers (Surprise, implicit); the benchmarks say so in RESULTS.md when they are missing
	-@if command -v uv >/dev/null 2>&1; then uv pip install --python $(BIN)/python --quiet -e '.[bench]'; \
	  else $(BIN)/python -m pip install --quiet -e '.[bench]'; fi || echo "optional bench extras not installed"
	$(ONE_THREAD) $(BIN)/python benchmarks/run.py $(if $(filter bench-full,$@),--full) $(BENCH_ARGS)

browser-test: $(STAMP)
	bash tests/browser/ensure_chromium.sh
	$(ONE_THREAD) $(BIN)/python tests/browser/run_browser_test.py

# The explanation explorer app (apps/explain_recommendations.ipynb) served by Voila on this machine only;
# APP_PORT=NNNN picks the port, else a free one. The first page fits the model (progress bar); later pages
# read it back from ~/.cache/mfteach/app-models.
app: $(STAMP)
	@port=$${APP_PORT:-$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}; \
	echo "Explanation app: http://127.0.0.1:$$port/  (Ctrl+C stops it)"; \
	$(ONE_THREAD) exec $(BIN)/voila apps/explain_recommendations.ipynb --no-browser --port=$$port --Voila.ip=127.0.0.1

# Version legs (uv needed): a fresh venv each time, then the unit tests (not the slow ones) and every
# lesson executed headless without output comparison. See .ci/version-leg.
test-lowest:
	bash .ci/version-leg lowest

test-colab:
	bash .ci/version-leg colab

clean:
	rm -rf $(VENV) .venv-lowest .venv-colab .pytest_cache .hypothesis
