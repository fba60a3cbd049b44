# visionlab: every user-facing command. The first target that needs Python builds .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Optional arguments become flags only when set, so the CLI defaults stay the single source.
opt = $(if $($(1)),$(2) $($(1)))
# A required variable, named as the user types it (not as the flag it becomes), checked before
# the program starts.
need = test -n "$($(1))" || { echo "make $@: $(1)=$(2) is required" >&2; exit 2; }

# User commands run without make echoing them first: their output starts with their own lines.
.PHONY: help venv test lint format retinopathy evaluate predict stylize train-style train-arbitrary \
        stylize-video lab bench clean

help:
	@echo "make retinopathy ARCH=resnet50   train + evaluate + report a DR grader"
	@echo "make stylize STYLE=starry        stylise a photo"
	@echo "make test                        the whole test suite"
	@echo "see README.md for every command and its options"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install torch==2.14.1 torchvision==0.29.1 -e '.[dev]'
	touch $@

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

retinopathy: $(STAMP)
	@$(PY) -m retinopathy train $(DATA) $(call opt,ARCH,--arch) $(call opt,TASK,--task) \
		$(call opt,EPOCHS,--epochs) $(call opt,IMAGE_SIZE,--image-size) $(call opt,BATCH,--batch-size) \
		$(call opt,PRETRAINED,--pretrained) $(call opt,RUN,--run-dir) $(call opt,RESUME,--resume) $(ARGS)

evaluate: $(STAMP)
	@$(call need,RUN,<run folder>); $(PY) -m retinopathy evaluate --run-dir $(RUN) \
		$(call opt,DATA,--data) $(call opt,FORMAT,--format) $(call opt,NAME,--name) $(ARGS)

predict: $(STAMP)
	@$(call need,RUN,<run folder>); $(call need,IMAGES,<photo or folder>); \
		$(PY) -m retinopathy predict --run-dir $(RUN) $(IMAGES) $(ARGS)

STYLE ?= starry
stylize: $(STAMP)
	@$(PY) -m style_transfer stylize --style $(STYLE) $(call opt,STYLE_IMAGE,--style-image) \
		$(call opt,CONTENT,--content) $(call opt,OUT,--out) $(call opt,METHOD,--method) \
		$(call opt,SIZE,--size) $(call opt,ITERS,--iters) $(call opt,ALPHA,--alpha) $(ARGS)

train-style: $(STAMP)
	@$(PY) -m style_transfer train --style $(STYLE) $(call opt,STYLE_IMAGE,--style-image) \
		$(call opt,DATA,--data) $(ARGS)

train-arbitrary: $(STAMP)
	@$(PY) -m style_transfer train-arbitrary $(call opt,PHOTOS,--photos) \
		$(call opt,STYLES,--styles) $(ARGS)

stylize-video: $(STAMP)
	@$(call need,VIDEO,<video file>); \
		$(PY) -m style_transfer video --style $(STYLE) $(VIDEO) $(call opt,OUT,--out) $(ARGS)

lab: $(STAMP)
	@$(PY) -m labs $(LAB) $(ARGS)

bench: $(STAMP)
	@$(PY) -m labs.bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
