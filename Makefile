# Two commands set everything up on a fresh machine: `make build` renders the story,
# `make test` runs the tests. Each installs what is missing: the .venv, the pip packages,
# and (when run as root) the Debian packages.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# festival's voices: the HTS woman, and the two English diphone men casting can compare.
FESTIVAL := festival festvox-us-slt-hts festvox-kallpc16k festvox-kdlpc16k
DEBS_BUILD := flite $(FESTIVAL)
DEBS_TEST := flite $(FESTIVAL) gpodder podget ffmpeg mp3val chromium chromium-driver
# The default run skips the slow end-to-end tests; CI (CI=true) and SLOW=1 run them too.
PYTEST_MARK := $(if $(filter true,$(CI))$(SLOW),,-m "not slow")

.PHONY: build test check serve watch bench lint clean debs-build debs-test

build: $(STAMP) debs-build
	$(BIN)/drama build

test: $(STAMP) debs-test
	$(BIN)/python -m pytest -q $(PYTEST_MARK)

check: $(STAMP)
	$(BIN)/drama check

serve: $(STAMP)
	$(BIN)/drama serve --watch

watch: $(STAMP)
	$(BIN)/drama watch

bench: $(STAMP) debs-build
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff format --check toolkit tests bench
	$(BIN)/ruff check toolkit tests bench

clean:
	rm -rf build/episodes build/*.xml build/*.xsl build/*.jpg build/*.html build/*.css build/*.js .cache

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,deploy,cluster]'
	touch $@

# Debian packages: installed only when running as root and a program is missing (a voice
# package has no program: dpkg says whether it is installed).
debs-build:
	@$(MAKE) --no-print-directory debs DEBS="$(DEBS_BUILD)"

debs-test:
	@$(MAKE) --no-print-directory debs DEBS="$(DEBS_TEST)"

debs:
	@missing=""; for pkg in $(DEBS); do \
	  prog=$$pkg; [ $$pkg = gpodder ] && prog=gpo; [ $$pkg = ffmpeg ] && prog=ffprobe; \
	  [ $$pkg = chromium-driver ] && prog=chromedriver; \
	  case $$pkg in festvox-*) \
	    dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q 'ok installed' \
	      || missing="$$missing $$pkg"; continue;; esac; \
	  command -v $$prog >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "not root: skipping Debian packages$$missing (espeak fallbacks will be used)"; fi; \
	fi
