"""Which input changes which stage: every profile field and input file, and the stages whose output it can change.

Make redoes a stage when its key file changes (``runs/…/keys/<stage>.key``, written by
``locate``); a stage whose inputs changed (a newer ``questions.parquet``, newer answers)
is redone through Make's file dependencies. A stage's key therefore holds what can change
that stage's output *given its input files*, and nothing else: a setting missing from a key
leaves a stale figure, a setting in a key it does not affect throws work away.

:data:`TABLE` places every field of :class:`pipeline.config.Config` (``candidates[].x``
for each candidate's ``x``); :data:`INPUT_FILES` every file a key reads. The stage modules
build their keys from it (:func:`settings`), each in its own key function
(:func:`pipeline.questions.generate.generate_key`, :func:`pipeline.answers.answer.answers_fingerprint`,
:func:`pipeline.verdicts.grading.judge_fingerprint` and :func:`pipeline.verdicts.judge.judge_key`,
:func:`pipeline.report.report.report_key`), and ``tests/test_keys.py`` changes each field and
checks that exactly the keys listed for it change. A field that is not in the table stops
:func:`settings` with an error naming it: a new field has to be placed here first.

The stages ("keys"):

- ``generate``: the questions (``generate.key``);
- ``calls``: the record of finished model calls of the generator (``yourbench/calls.jsonl``) or,
  for the judge's fields, of its gold-answer checks (``validation/calls.jsonl``). A recorded
  call is found by its request body (prompt, max tokens, seed, schema, grammar...) and this
  key: only what changes a reply *beyond the request* — the model and how it is served;
- ``answer``: one candidate's answers and their measured energy (``answer-<name>.key``);
- ``verdicts``: the key of each judge pass's verdict records (and of the judge's calibration
  verdicts): what changes a verdict, so a change here re-grades;
- ``judge``: ``judgements.parquet`` (``judge.key``): the verdicts' keys, the candidates
  graded, the calibration set graded with them;
- ``report``: the report (``report.key``): what the report computes from the profile itself.

What is deliberately in no key: the energy of question generation, loading, judging and
calibration (the evaluation's own cost, kept out of the ranking) is reported as its sessions
recorded it — their settings (``idle_s``, a judge's ``devices``) change no verdict, and
re-grading to re-measure a cost would be work thrown away. The answers' energy is the figure
the models are ranked by: how it is measured (``energy.idle_s``, ``repeats``,
``country_iso_code``, a candidate's ``devices``) is in the answers' key.
"""

from __future__ import annotations

from pydantic import BaseModel

GENERATE, CALLS, ANSWER, VERDICTS, JUDGE, REPORT = "generate", "calls", "answer", "verdicts", "judge", "report"
STAGES = (GENERATE, CALLS, ANSWER, VERDICTS, JUDGE, REPORT)

_NONE: frozenset[str] = frozenset()
_GRADED = frozenset({VERDICTS, JUDGE})  # changes a verdict: re-grades, and judgements.parquet is rebuilt


def _stages(*names: str) -> frozenset[str]:
    return frozenset(names)


def _judge_fields(checks_gold: bool) -> dict[str, frozenset[str]]:
    """A judge's settings. The judge whose verdicts count also checks the gold answers during generation
    (``questions.check_gold``): what changes its replies changes the questions too."""
    served = _GRADED | ({GENERATE, CALLS} if checks_gold else _NONE)  # the model and how it is served
    request = _GRADED | ({GENERATE} if checks_gold else _NONE)  # in every request (the call key hashes it)
    return {
        "name": _stages(JUDGE, REPORT),  # a label: in no request, so no verdict is graded again for it
        "engine": served,
        "model": served,
        "base_url": served,
        "api_key_env": _NONE,  # where the key is read from
        "context_length": served,
        "server_args": served,
        "startup_timeout_s": _NONE,
        "concurrent_requests": _NONE,  # greedy decoding, one reply per request: how many at once changes none
        "prompt": _GRADED,  # the grading prompt (its text: INPUT_FILES); not the gold check's
        "devices": _NONE,  # the GPUs its energy is measured on: an evaluation cost, reported as recorded
        "max_new_tokens": request,
        "calibrate": _stages(JUDGE),  # grade the held-out real answers in the judge stage when unmeasured
        "figure_rules": _stages(JUDGE, REPORT),  # verdicts by rule, worked out when the table is built
        "constrained": request,  # the verdict grammar / regex, sent with each request
        "verdict": request,  # the verdict format: the grammar / regex and the gold check's prompt
        "yes_threshold": served,  # the probability that decides a verdict (and --logits_all on the server)
    }


TABLE: dict[str, frozenset[str]] = {
    "profile": _stages(REPORT),  # the report's title and the Hub card
    # --- questions
    "questions.target": _stages(GENERATE),
    "questions.min_usable": _NONE,  # stops a run with too few questions; the questions kept are the same
    "questions.chunk_tokens": _stages(GENERATE),
    "questions.questions_per_chunk": _stages(GENERATE),
    "questions.multi_hop": _stages(GENERATE),
    "questions.overdraw": _stages(GENERATE),
    "questions.top_up_rounds": _stages(GENERATE),
    "questions.multi_hop_share": _stages(GENERATE),
    "questions.summary_excerpt_tokens": _stages(GENERATE),
    "questions.duplicate_similarity": _stages(GENERATE),
    "questions.min_citation_score": _stages(GENERATE),
    "questions.check_gold": _stages(GENERATE),
    "questions.answer_first": _stages(GENERATE),
    "questions.round_trip": _stages(GENERATE),
    "questions.fit_check": _stages(GENERATE),
    "questions.fit_threshold": _stages(GENERATE),
    "questions.seed": _stages(GENERATE, ANSWER),  # the generator's and the candidates' sampling seed
    "questions.candidate_context": _stages(ANSWER),
    # the prompts' language: the questions are written in it (the answers follow questions.parquet)
    "questions.language": _stages(GENERATE),
    # --- the question generator
    "generator.name": _stages(GENERATE),  # a label in questions.parquet; the proxy replaces the alias it sends
    "generator.engine": _stages(GENERATE, CALLS),
    "generator.model": _stages(GENERATE, CALLS),
    "generator.base_url": _stages(GENERATE, CALLS),
    "generator.api_key_env": _NONE,
    "generator.context_length": _stages(GENERATE, CALLS),  # the server's context, and the summary window
    "generator.server_args": _stages(GENERATE, CALLS),
    "generator.startup_timeout_s": _NONE,
    "generator.concurrent_requests": _NONE,
    "generator.json_schema_decoding": _stages(GENERATE),  # in the request (the call key hashes it)
    "generator.max_new_tokens": _stages(GENERATE),
    "generator.summarization_prompt": _stages(GENERATE),  # its text: INPUT_FILES
    "generator.summary_max_tokens": _stages(GENERATE),
    # --- each candidate: its own answers
    "candidates[].name": _stages(ANSWER, JUDGE),  # the answers' label; the candidates graded
    "candidates[].engine": _stages(ANSWER),
    "candidates[].model": _stages(ANSWER),
    "candidates[].base_url": _stages(ANSWER),
    "candidates[].api_key_env": _NONE,
    "candidates[].context_length": _stages(ANSWER),
    "candidates[].server_args": _stages(ANSWER),
    "candidates[].startup_timeout_s": _NONE,
    "candidates[].concurrent_requests": _NONE,
    "candidates[].params_b": _stages(REPORT),  # the table, the bubble size, EcoLogits' estimate
    "candidates[].max_new_tokens": _stages(ANSWER),
    "candidates[].devices": _stages(ANSWER, REPORT),  # vLLM: the GPUs pinned and measured; the TDP estimate
    "candidates[].endpoint_hardware": _stages(REPORT),  # the TDP estimate of a remote endpoint
    # --- the judge and the optional reliability checks
    **{f"judge.{name}": stages for name, stages in _judge_fields(checks_gold=True).items()},
    "second_judge": _GRADED | {REPORT},  # on or off: a pass of its own (and its name, a label, is in the report)
    **{f"second_judge.{name}": stages for name, stages in _judge_fields(checks_gold=False).items()},
    "self_consistency": _GRADED,
    "self_consistency.temperature": _GRADED,
    # --- control answers: graded in the judge stage (each record keyed by its own text); the gate is the report's
    "controls.per_question": _stages(JUDGE),
    "controls.max_false_acceptance": _stages(REPORT),
    "controls.max_false_rejection": _stages(REPORT),
    "controls.min_judged": _stages(REPORT),
    # --- energy: how the answers' energy is measured (answer), and the estimates beside it (report)
    # CO2 = the measured energy x the country's carbon intensity, worked out in the report (and EcoLogits' mix):
    # another country re-measures nothing
    "energy.country_iso_code": _stages(REPORT),
    "energy.tdp_watts": _stages(REPORT),
    "energy.tdp_hardware": _stages(REPORT),
    "energy.idle_s": _stages(ANSWER),
    "energy.repeats": _stages(ANSWER),
    "energy.checkpoint_s": _NONE,  # how often running totals are saved; the totals are the same
    # --- the report
    "report.projection_volume": _stages(REPORT),
    "report.significance_alpha": _stages(REPORT),
    "report.accuracy_tolerance": _stages(REPORT),
}

# Code and data that give verdicts or the rates the report uses, though no profile field names them: their text
# (not their path) is in the key (:func:`texts`).
TEXT_FILES: dict[str, frozenset[str]] = {
    "pipeline/answers/qa_prompt.py": _stages(ANSWER),  # the candidates' prompt
    "tasks/document_qa.py": _stages(ANSWER),  # the Lighteval task: its prompt function and the lexical F1
    "pipeline/verdicts/non_answers.py": _stages(JUDGE),  # an answer wrong by rule is a verdict
    # so is one a figure settles (judge.figure_rules); the held-out rates the report uses count them too
    "pipeline/verdicts/figure_rules.py": _stages(JUDGE, REPORT),
    "pipeline/verdicts/controls.py": _stages(JUDGE),  # how the control answers are built
    # how a verdict is asked for and read (prompt filling, constraint, P(yes) and its threshold, parsing): in every
    # verdict's key, the shipped real-answer measurements' included, so that no verdict outlives the code it came from
    "pipeline/verdicts/grading.py": _GRADED,
    # what each held-out document was also used to choose: the card says it
    "labelled/answers/heldout_use.json": _stages(REPORT),
    # held-out real answers: graded in the judge stage when unmeasured; their rates correct the report
    "labelled/answers/items.jsonl": _stages(JUDGE, REPORT),
    "labelled/non_answers.jsonl": _stages(REPORT),  # the non-answer rule's rates
    # the kept questions labelled blind: the report says how many of this generation's were unsound
    "labelled/kept_questions.jsonl": _stages(REPORT),
    "labelled/fit_check.jsonl": _stages(REPORT),  # the fit check's held-out decisions, labelled blind
    # answer-first generation: the rules that choose the answers, how a reply is matched to them, and the round
    # trip's agreement rules
    "pipeline/questions/answer_spans.py": _stages(GENERATE),
    "pipeline/questions/answer_first.py": _stages(GENERATE),
    "pipeline/questions/round_trip.py": _stages(GENERATE),
    # the text of a multi-column PDF (its reading order, running heads left out)
    "pipeline/questions/pdf_text.py": _stages(GENERATE),
    # which generated questions are kept: the checks, and the one that reads the whole document
    "pipeline/questions/validate.py": _stages(GENERATE),
    "pipeline/questions/question_form.py": _stages(GENERATE),
    "pipeline/questions/uniqueness.py": _stages(GENERATE),
}

# Files the keys read (``<a.b>``: the file the profile field names). The document itself is in no key:
# its content hash names its run folder (runs/<profile>/<hash>), so another document has its own stages.
INPUT_FILES: dict[str, frozenset[str]] = {
    # the generator's prompts, in every language (which one a document gets is known once its text is read)
    "generator_prompts/<generator.summarization_prompt>": _stages(GENERATE),
    "generator_prompts/summarization_short.fr.md": _stages(GENERATE),
    "generator_prompts/question_rules.md": _stages(GENERATE),
    "generator_prompts/question_rules.fr.md": _stages(GENERATE),
    "generator_prompts/question_system.md": _stages(GENERATE),
    "generator_prompts/question_system.fr.md": _stages(GENERATE),
    "generator_prompts/answer_first_rules.md": _stages(GENERATE),  # when questions.answer_first
    "generator_prompts/answer_first_rules.fr.md": _stages(GENERATE),
    "generator_prompts/answer_first_system.md": _stages(GENERATE),
    "generator_prompts/answer_first_system.fr.md": _stages(GENERATE),
    "generator_prompts/answer_first_user.md": _stages(GENERATE),
    "generator_prompts/round_trip.md": _stages(GENERATE),  # when questions.round_trip
    "generator_prompts/round_trip.fr.md": _stages(GENERATE),
    "judge_prompts/gold_check.txt": _stages(GENERATE),  # when questions.check_gold
    "judge_prompts/fit_check.txt": _stages(GENERATE),  # when questions.fit_check
    "judge_prompts/gold_check.fr.txt": _stages(GENERATE),
    "judge_prompts/gold_check_yes_no.txt": _stages(GENERATE),
    "judge_prompts/gold_check_yes_no.fr.txt": _stages(GENERATE),
    "judge_prompts/<judge.prompt>": _GRADED,
    "judge_prompts/<second_judge.prompt>": _GRADED,
    **TEXT_FILES,
}

# Sections walked field by field; "candidates" is a list, each item at "candidates[]".
SECTIONS = ("questions", "generator", "candidates", "judge", "second_judge", "self_consistency", "controls",
            "energy", "report")


def texts(stage: str) -> list[str]:
    """The text of every file of :data:`TEXT_FILES` that can change ``stage``'s output (empty for a missing file)."""
    from pipeline import config

    return [(config.ROOT / path).read_text(encoding="utf-8") if (config.ROOT / path).exists() else ""
            for path, stages in TEXT_FILES.items() if stage in stages]


def _value(value):
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def settings(model: BaseModel, stage: str, at: str = "", skip: tuple[str, ...] = ()) -> dict:
    """The settings of ``model`` that can change ``stage``'s output, by their path in the profile.

    ``model`` sits at ``at`` in the profile ("" for the whole :class:`~pipeline.config.Config`,
    "judge", "candidates[]" ...). Sections are walked (an optional one that is set also counts as
    "on"); ``skip`` leaves sections out (e.g. the candidates, whose keys are taken one at a time).
    A field that :data:`TABLE` does not place is an error.
    """
    found: dict = {}
    for name, value in model:
        path = f"{at}.{name}" if at else name
        if path in skip:
            continue
        if path in SECTIONS:
            if path in TABLE and stage in TABLE[path]:
                found[path] = value is not None
            if isinstance(value, BaseModel):
                found.update(settings(value, stage, path, skip))
            elif isinstance(value, list):
                items = [settings(item, stage, f"{path}[]", skip) for item in value]
                if any(items):
                    found[f"{path}[]"] = items
            continue
        if path not in TABLE:
            raise KeyError(f"profile field {path} is not placed in pipeline/keys.py (TABLE): say which stages' "
                           "output it can change")
        if stage in TABLE[path]:
            found[path] = _value(value)
    return found
