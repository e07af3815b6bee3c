# The README's two commands: `make demo` serves the explorer, `make test` runs the tests.
# Both create the virtual environment in .venv/ on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5006
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

.PHONY: demo test test-fast load bench install clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: the CPU build (a plain `torch` would pull a CUDA build of several GB).
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,hf,batch,modisco]'
	# the extra 'bpnet' (bpnet-lite models), without its dependencies: macs3 has no wheel for
	# Python 3.11 (it would be compiled), and bam2bw, modisco, seaborn are not needed to load models.
	$(PY) -m pip install -q --no-deps bpnet-lite==1.1.0 h5py
	# the extras 'enformer' and 'borzoi' (Enformer/Borzoi folders): their few pure-Python dependencies and the
	# extra 'hf' above, then the two packages without dependencies (their transformers pins disagree; 4.57 serves both).
	$(PY) -m pip install -q 'einops>=0.5' polars intervaltree
	$(PY) -m pip install -q --no-deps enformer-pytorch==0.8.12 borzoi-pytorch==0.5.1
	$(PY) -m explorer.warmup
	touch $@

install: $(VENV)/.installed

# --warm: the app runs once before the server answers (imports, the sample model, the default
# window's map and motifs, kept by the shared pool), so the first visitor's page opens drawn
demo: install
	$(VENV)/bin/panel serve app.py --warm --address 127.0.0.1 --port $(PORT) --allow-websocket-origin=127.0.0.1:$(PORT) --allow-websocket-origin=localhost:$(PORT) \
		--websocket-max-message-size 300000000

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not browser and not slow and not load"

# 8 browser sessions at once against a served app: times, errors and server memory, written to
# test-artifacts/load.json (run it on a quiet machine: the times are measurements)
load: install
	$(PY) -m pytest -q -s -m load tests/test_load.py

bench: install
	$(PY) benchmarks/run_benchmarks.py

clean:
	rm -rf $(VENV) .cache .pytest_cache test-artifacts
