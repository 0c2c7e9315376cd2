# The two commands a new user needs (see README.md):
#   make demo   set everything up, then run the demo (camera, edge and controller nodes as processes)
#   make test   set everything up, then run the test suite
VENV ?= .venv
CLIPS ?= 12

.PHONY: setup demo test

setup:
	STAE_VENV=$(VENV) bash scripts/setup_env.sh

demo: setup
	$(VENV)/bin/stae demo --clips $(CLIPS) --viz out/demo.png

test: setup
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider test
