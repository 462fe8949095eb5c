# Two commands: `make run` (set up, index, start the chat) and `make test` (set up, run all tests).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# requirements.lock pins every package `make run` and `make test` need (the test and milvus
# extras included), each with its sha256 hashes, for CPython 3.11 on Linux x86_64. torch is the
# CPU build 2.13.0+cpu that pip finds in /opt/wheels (find-links in pip's config); its hash is
# that file's, so pip can never fall back to PyPI's CUDA build and its nvidia-* packages.
LOCK   := requirements.lock

.PHONY: run test setup lock index eval bench load-test chromium debian-docs redis clean

# Installs exactly the lock, hashes checked (pip, setuptools and torch included), then the
# project itself without dependencies and without build isolation (setuptools comes from the
# lock, so nothing unhashed is fetched). A changed lock or pyproject.toml reinstalls.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/qa serve

# The browser tests drive Debian's chromium through playwright (pip); `playwright install`
# is never used (it downloads its own browser build). Installing needs root (as on CI).
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

# tests/ingest/test_real_manuals.py runs every loader over Debian's Dutch manuals (aptitude's
# DocBook XHTML manual, the Debian FAQ as XHTML, PDF and text), read from /usr/share/doc.
# The LibreOffice help (lists and tables) and the LilyPond learning manual (HTML and PDF) hold
# the own question sets of benchmarks/questions/ and the structure tests of tests/ingest/.
DEBIAN_DOCS := /usr/share/doc/aptitude/html/nl/index.html /usr/share/doc/debian/FAQ/debian-faq.nl.pdf.gz \
               /usr/share/libreoffice/help/nl /usr/share/doc/lilypond/html/Documentation/learning.nl.pdf \
               /usr/share/doc/lilypond/html/Documentation/learning/adding-text.nl.html
DEBIAN_DOC_PACKAGES := aptitude-doc-nl debian-faq-nl libreoffice-help-nl lilypond-doc-html-nl lilypond-doc-pdf-nl
debian-docs:
	@ls $(DEBIAN_DOCS) >/dev/null 2>&1 || (apt-get update && apt-get install -y $(DEBIAN_DOC_PACKAGES))

# Debian's redis-server for the shared-state tests (a pytest fixture starts it on a free port).
redis:
	@command -v redis-server >/dev/null 2>&1 || (apt-get update && apt-get install -y redis-server)

test: $(STAMP) chromium debian-docs redis
	$(PY) -m pytest -q

index: $(STAMP)
	$(VENV)/bin/qa index

bench: $(STAMP)
	$(PY) benchmarks/latency.py

load-test: $(STAMP) chromium
	$(PY) benchmarks/load_test.py

# Regenerates requirements.lock from pyproject.toml with uv (in a throw-away venv under .cache/).
# Versions already in the lock are kept unless pyproject.toml needs others; to move everything
# to the newest allowed versions: make lock LOCK_FLAGS=--upgrade (or --upgrade-package NAME).
# Besides pyproject.toml the lock holds torch's CPU build, pip (the installer) and setuptools
# (the build backend for the editable install). Fails if the lock would hold a CUDA package.
UV_VERSION := 0.13.8
UV_VENV    := .cache/uv
LOCK_FLAGS ?=
lock:
	test -x $(UV_VENV)/bin/uv || ($(PYTHON) -m venv $(UV_VENV) && $(UV_VENV)/bin/pip install --quiet uv==$(UV_VERSION))
	printf 'torch==2.13.0+cpu\npip\nsetuptools\n' | $(UV_VENV)/bin/uv pip compile pyproject.toml - \
	    --extra test --generate-hashes --find-links /opt/wheels \
	    --python $(PYTHON) --python-platform x86_64-manylinux_2_28 \
	    --custom-compile-command 'make lock' --quiet $(LOCK_FLAGS) -o $(LOCK)
	grep -q '^torch==2\.13\.0+cpu ' $(LOCK)
	! grep -E -i '^(nvidia-|triton|cuda-)' $(LOCK)

clean:
	rm -rf $(VENV) index eval-out
