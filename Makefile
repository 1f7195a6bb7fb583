# Set-up and everyday commands. `make test` and `make demo` work on a fresh clone: they create
# .venv, install torch and rnnlab (editable, with the test extras) into it, then run.

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
PIP := $(VENV_PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed

# torch is installed first, on its own: a bare `torch` requirement makes pip fetch the multi-GB
# CUDA build. Where the CPU wheel of torch 2.13.0 lies in /opt/wheels (this machine and CI; pip's
# find-links points there) pin to it; elsewhere take any torch>=2.4. Override with, e.g.,
#   make test TORCH_SPEC='torch>=2.4'
TORCH_WHEEL := $(wildcard /opt/wheels/torch-2.13.0+cpu*.whl)
TORCH_SPEC ?= $(if $(TORCH_WHEEL),torch==2.13.0,torch>=2.4)

PYTEST_WORKERS ?= 2
PYTEST_ARGS ?= tests

# Keras 3 (optional, for the Keras parity tests) runs on torch here rather than pulling in JAX/TF.
export KERAS_BACKEND ?= torch

.PHONY: venv install test demo bench clean FORCE

venv: $(VENV_PY)

install: $(STAMP)

$(VENV_PY):
	$(PYTHON) -m venv $(VENV)

# Rewritten only when TORCH_SPEC differs from the last install, so a new spec re-runs the install.
$(VENV)/.torch-spec: FORCE | $(VENV_PY)
	@echo '$(TORCH_SPEC)' | cmp -s - $@ || echo '$(TORCH_SPEC)' > $@

$(STAMP): pyproject.toml $(VENV)/.torch-spec | $(VENV_PY)
	$(PIP) install --progress-bar off '$(TORCH_SPEC)'
	$(PIP) install --progress-bar off -e '.[test]'
	@touch $@

# One torch thread per xdist worker: two workers on two cores would otherwise oversubscribe.
test: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(VENV_PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The demo's output is regenerated on every run, so the previous one is removed first.
demo: $(STAMP)
	rm -rf runs/demo
	$(VENV)/bin/rnnlab demo --out runs/demo

bench: $(STAMP)
	$(VENV_PY) benchmarks/layers_cpu.py

clean:
	rm -rf $(VENV) build dist .pytest_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

FORCE:
