# NASDet Studio: `make run` starts the app, `make test` runs every test. Both set up .venv first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOME_DIR ?= nasdet_data
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test lint screenshots install chromium bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch/torchvision first and exactly pinned: this machine holds them locally.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the Playwright browser tests (playwright cannot download browsers here).
chromium:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))) || \
	  echo "warning: /usr/bin/chromium missing; browser tests will be skipped"

run: $(STAMP)
	$(BIN)/python app.py --home $(HOME_DIR) --host $(HOST) --port $(PORT)

test: $(STAMP) chromium lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not alone"
	$(BIN)/python -m pytest -m alone

# ruff with the project's settings (pyproject.toml): lint and format, checked, never rewritten
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Refresh the tracked tab screenshots (docs/screenshots); make test writes its own under tmp/.
screenshots: $(STAMP) chromium
	NASDET_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest tests/gui/test_tabs_browser.py

bench: $(STAMP)
	$(BIN)/python bench/store.py

clean:
	rm -rf $(VENV) .pytest_cache
