"""One typed configuration for every profile (``configs/<profile>.yaml``).

A model is described once, by *where it is served*: ``llama-cpp`` (an embedded
GGUF that the pipeline serves itself), ``vllm`` (a Hugging Face model the
pipeline serves with ``vllm serve`` on a GPU) or ``openai`` (an endpoint that
already runs: a remote OpenAI-compatible server or an HF inference provider).
All three end up as an OpenAI-compatible URL, so every stage has one code path.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipeline.errors import UserError
from pipeline.serving.models import EMBEDDED_MODELS

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("EVAL_CONFIG_DIR", ROOT / "configs"))  # tests point this elsewhere

Engine = Literal["llama-cpp", "vllm", "openai"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Served(Strict):
    """How to reach one model."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # also a file name
    engine: Engine
    model: str  # llama-cpp: embedded key; vllm: HF repo id; openai: model id at the endpoint
    base_url: str | None = None  # openai only
    api_key_env: str | None = None  # name of the env var holding the key, never the key
    context_length: int = Field(default=4096, ge=256)
    server_args: list[str] = []  # extra arguments for the server we start (e.g. vLLM parallelism)
    startup_timeout_s: float = Field(default=900, gt=0)
    concurrent_requests: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _engine_fields(self):
        if self.engine == "openai" and not self.base_url:
            raise ValueError("engine 'openai' needs base_url")
        if self.engine != "openai" and self.base_url:
            raise ValueError(f"base_url is only for engine 'openai' (the pipeline serves '{self.engine}' itself)")
        if self.engine == "llama-cpp" and self.model not in EMBEDDED_MODELS:
            raise ValueError(f"unknown embedded model '{self.model}' (known: {', '.join(EMBEDDED_MODELS)})")
        return self


def _parallel_gpus(server_args: list[str]) -> int:
    """GPUs a vLLM server needs for its parallelism flags (tensor x pipeline parallel size)."""
    need = 1
    for flag in ("--tensor-parallel-size", "--pipeline-parallel-size", "-tp", "-pp"):
        if flag in server_args[:-1]:
            need *= int(server_args[server_args.index(flag) + 1])
    return need


def _check_devices(model) -> None:
    if model.engine == "vllm" and model.devices < _parallel_gpus(model.server_args):
        raise ValueError(f"devices is {model.devices} but server_args need {_parallel_gpus(model.server_args)} GPUs: "
                         "the server is pinned to `devices` GPUs, and only those are measured")


class EndpointHardware(Strict):
    """What serves a remote endpoint, when the profile knows it: energy is then TDP x devices x duration."""

    description: str  # e.g. "8x NVIDIA H100 SXM (provider's statement)"
    tdp_watts: float = Field(gt=0)  # per device


class Candidate(Served):
    params_b: float = Field(gt=0)  # billions of parameters, for the table and bubble size
    max_new_tokens: int = Field(default=128, ge=1)
    # vLLM: the GPUs its server is pinned to (and the only ones measured); llama-cpp: CPU packages.
    # Both: the devices of the TDP x devices x duration estimate.
    devices: int = Field(default=1, ge=1)
    endpoint_hardware: EndpointHardware | None = None  # openai only: the hardware behind the endpoint

    @model_validator(mode="after")
    def _remote_hardware(self):
        if self.endpoint_hardware and self.engine != "openai":
            raise ValueError("endpoint_hardware is only for engine 'openai' (served models are measured)")
        _check_devices(self)
        return self


class Judge(Served):
    prompt: str  # a file in judge_prompts/
    devices: int = Field(default=1, ge=1)  # vLLM: the GPUs its server is pinned to and measured on
    max_new_tokens: int = Field(default=16, ge=1)
    # measure this judge on the held-out labelled real answers in the judge stage, once per judge configuration,
    # when no measurement of it exists (one ships for the default judge): what corrects each candidate's accuracy
    calibrate: bool = True
    # settle by rule what comparing figures settles, before the judge (pipeline/verdicts/figure_rules.py)
    figure_rules: bool = False
    # yes/no verdicts read as a probability: "yes" when P(yes) / (P(yes) + P(no)) of the first token reaches this
    # (the server then computes logits for every prompt token: llama.cpp's --logits_all); None: the token chosen
    yes_threshold: float | None = Field(default=None, gt=0, lt=1)
    # How the verdict is asked for: "final_answer" (<final_answer>0|1</final_answer>, after any reasoning) or
    # "yes_no" (one word); the prompt file asks for the same (pipeline/verdicts/grading.py).
    verdict: Literal["final_answer", "yes_no"] = "final_answer"
    # Constrain the reply to the verdict on servers the pipeline starts (a llama.cpp grammar, vLLM structured
    # outputs); remote endpoints are parsed instead (pipeline/verdicts/grading.py).
    constrained: bool = True

    @model_validator(mode="after")
    def _prompt_exists(self):
        if not (ROOT / "judge_prompts" / self.prompt).is_file():
            raise ValueError(f"judge prompt judge_prompts/{self.prompt} does not exist")
        if self.yes_threshold is not None and self.verdict != "yes_no":
            raise ValueError("yes_threshold reads the probability of a yes/no verdict: set verdict: yes_no")
        tagged = "<final_answer>" in self.prompt_text()
        if tagged != (self.verdict == "final_answer"):
            raise ValueError(f"judge prompt judge_prompts/{self.prompt} asks for "
                             f"{'a <final_answer> tag' if tagged else 'another verdict'} but verdict is "
                             f"'{self.verdict}'")
        _check_devices(self)
        return self

    def prompt_text(self) -> str:
        return (ROOT / "judge_prompts" / self.prompt).read_text(encoding="utf-8")


class Generator(Served):
    json_schema_decoding: bool = True  # ask the server to constrain question JSON to a schema
    max_new_tokens: int = Field(default=1024, ge=1)
    summarization_prompt: str | None = None  # a file in generator_prompts/; None: YourBench's own
    summary_max_tokens: int = Field(default=1024, ge=16)

    @model_validator(mode="after")
    def _generator_checks(self):
        if self.json_schema_decoding and self.engine == "openai":
            raise ValueError("json_schema_decoding needs a server the pipeline starts (llama-cpp or vllm)")
        if self.summarization_prompt and not (ROOT / "generator_prompts" / self.summarization_prompt).is_file():
            raise ValueError(f"generator_prompts/{self.summarization_prompt} does not exist")
        return self


class SelfConsistency(Strict):
    """Grade every answer twice more with the judge, sampling at ``temperature``, and compare the two."""

    temperature: float = Field(default=0.7, gt=0, le=2)


class Questions(Strict):
    """How many questions, and how much of the document generation reads (see pipeline/questions/selection.py)."""

    target: int = Field(default=30, ge=1)  # questions kept per document
    min_usable: int = Field(default=20, ge=1)  # fewer usable questions than this is an error
    chunk_tokens: int = Field(default=256, ge=32)
    questions_per_chunk: int = Field(default=4, ge=1)
    multi_hop: bool = True
    # Generator calls = overdraw x target / questions_per_chunk: the extra covers questions lost to parsing,
    # duplicates and validation. When fewer than `target` survive, up to `top_up_rounds` more rounds read
    # further chunks of the same spread order.
    overdraw: float = Field(default=1.5, ge=1.0, le=10.0)
    top_up_rounds: int = Field(default=2, ge=0, le=10)
    multi_hop_share: float = Field(default=0.25, ge=0.0, le=0.5)  # of the question-generation calls
    # The summary YourBench gives the generator is made from this many tokens of the document,
    # spread evenly over it (all of it when it is shorter).
    summary_excerpt_tokens: int = Field(default=1800, ge=256)
    # Validation before any candidate answers (pipeline/questions/validate.py): duplicates by meaning, YourBench's
    # citation score (None: not used) and a check of each gold answer by the judge model. Two questions are
    # duplicates when their MiniLM cosine reaches duplicate_similarity and their gold answers agree; 0.7 misses
    # 1 of 39 labelled duplicates and merges none of 41 distinct pairs (labelled/duplicates.jsonl; 0.9 misses 24).
    duplicate_similarity: float = Field(default=0.7, gt=0, le=1)
    min_citation_score: float | None = Field(default=60.0, ge=0, le=100)
    check_gold: bool = True
    # Answer-first generation (pipeline/questions/answer_first.py): answers are spans of the excerpt chosen by rules,
    # the generator writes the question for each (single-hop calls; multi-hop calls keep the question-first prompt).
    answer_first: bool = False
    # The round-trip check (pipeline/questions/round_trip.py): the generator model answers each question from the
    # excerpt, without the gold; the question is kept when that answer states the gold (after the gold check, when
    # both are on).
    round_trip: bool = False
    # The fit check (pipeline/questions/model_checks.py, FitCheck): the judge model reads the gold answer's sentence,
    # the question and the gold, and the question is kept when P(yes) reaches fit_threshold (after the round trip).
    # It asks for yes or no whatever judge.verdict says, and reads P(yes) where the judge's server gives
    # log-probabilities (else the word it chose).
    fit_check: bool = False
    fit_threshold: float = Field(default=0.85, gt=0.0, lt=1.0)  # chosen on dev labels (README, point 10)
    seed: int = 42
    candidate_context: Literal["chunk", "none"] = "chunk"  # what candidates see besides the question
    # The language of questions, answers and prompts: "auto" (detected from the document's text) or an
    # ISO 639-1 code such as "fr" (pipeline/language.py).
    language: str = Field(default="auto", pattern=r"^(auto|[a-z]{2}(-[a-z]{2})?)$")

    @model_validator(mode="after")
    def _minimum_within_target(self):
        if self.min_usable > self.target:
            raise ValueError(f"min_usable ({self.min_usable}) cannot exceed target ({self.target})")
        return self


class Controls(Strict):
    """Control answers of known truth, graded by the judge with every run (pipeline/verdicts/controls.py).

    A gate, not evidence of accuracy: a judge that accepts more than ``max_false_acceptance`` of the
    known-wrong ones, or rejects more than ``max_false_rejection`` of the known-right ones, cannot support a
    pick, and the card says so. Only the controls the judge graded count (those a rule settled test the rule),
    and at least ``min_judged`` of each truth must reach it. One control per question would be the reworded gold
    alone, with nothing wrong to accept: refused (0 switches the controls off, which the card says).
    """

    # one reworded gold answer, the rest wrong ones; 0: none. Two a question: 24 wrong ones on a 24-question run gate
    # the judge (more than 20% accepted is 5 or more), at a third less judging time than three (issue 28).
    per_question: int = Field(default=2, ge=0, le=7)
    max_false_acceptance: float = Field(default=0.2, ge=0, le=1)
    max_false_rejection: float = Field(default=0.2, ge=0, le=1)
    # The gate counts the controls the judge graded (a rule settles some): at least this many right ones and this
    # many wrong ones must reach the judge for it to pass the gate (issue 33).
    min_judged: int = Field(default=5, ge=1)

    @field_validator("per_question")
    @classmethod
    def _has_a_wrong_kind(cls, value: int) -> int:
        if value == 1:
            raise ValueError("1 control per question is the reworded gold answer alone: nothing wrong for the judge "
                             "to reject; use 0 (no controls) or 2 and more")
        return value


class Energy(Strict):
    country_iso_code: str = Field(default="FRA", min_length=3, max_length=3)
    # The study's estimate: TDP x devices x duration. Set it to the TDP of the hardware you run on.
    tdp_watts: float = Field(default=45.0, gt=0)
    tdp_hardware: str = "CPU package (assumed)"
    # The idle baseline: seconds measured with nothing running, before each model is loaded (0: none).
    idle_s: float = Field(default=5.0, ge=0)
    # Answering windows measured per candidate: answers come from the first, the table shows mean ± spread.
    repeats: int = Field(default=1, ge=1)
    # Running totals are written this often, so that a killed session keeps its energy up to then.
    checkpoint_s: float = Field(default=10.0, gt=0)


class Report(Strict):
    projection_volume: int = Field(default=1_000_000, ge=1)  # queries, for the "at scale" table
    significance_alpha: float = Field(default=0.05, gt=0, lt=1)
    # The decision card recommends the most efficient model within this much accuracy of the best
    # (0.05: 5 points) that is not significantly worse than it.
    accuracy_tolerance: float = Field(default=0.05, ge=0, le=1)


class Config(Strict):
    profile: str
    questions: Questions = Questions()
    generator: Generator
    candidates: list[Candidate] = Field(min_length=1)
    judge: Judge
    # Optional reliability checks; they are reported beside the ranking and never change a verdict.
    second_judge: Judge | None = None  # grades every answer too: agreement and disagreements with the judge
    self_consistency: SelfConsistency | None = None
    controls: Controls = Controls()
    energy: Energy = Energy()
    report: Report = Report()

    @model_validator(mode="after")
    def _unique_names(self):
        names = [c.name for c in self.candidates]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"candidate names must be unique: {', '.join(dupes)}")
        if self.second_judge and self.second_judge.name == self.judge.name:
            raise ValueError("second_judge needs a name of its own (it is a different judge)")
        return self

    def candidate(self, name: str) -> Candidate:
        for c in self.candidates:
            if c.name == name:
                return c
        raise UserError(f"no candidate named '{name}' in profile '{self.profile}'")

    def only(self, names: str) -> "Config":
        """This profile with only the candidates named in ``names`` ("a,b"), in the profile's order."""
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        known = [c.name for c in self.candidates]
        unknown = [n for n in wanted if n not in known]
        if unknown or not wanted:
            raise UserError(f"CANDIDATES: no candidate named {', '.join(unknown) or '(none given)'} in profile "
                            f"'{self.profile}' (known: {', '.join(known)})")
        return self.model_copy(update={"candidates": [c for c in self.candidates if c.name in wanted]})

    def with_target(self, target: int) -> "Config":
        """This profile asking for ``target`` questions (``make report QUESTIONS=n``): a higher target reads
        further chunks and keeps every question already kept (:mod:`pipeline.questions.selection`, ``validate``)."""
        questions = self.questions.model_copy(update={"target": target,
                                                      "min_usable": min(self.questions.min_usable, target)})
        return self.model_copy(update={"questions": questions})

    def embedded_models(self) -> list[str]:
        served = [self.generator, self.judge, *self.candidates, *filter(None, [self.second_judge])]
        return sorted({m.model for m in served if m.engine == "llama-cpp"})


def fingerprint(*parts: BaseModel | str | dict) -> str:
    """A short stable hash of config pieces: what a stage's output depends on."""
    blob = json.dumps([p.model_dump(mode="json") if isinstance(p, BaseModel) else p for p in parts],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"invalid config {source}: {key}: {message}{more}"


def load(profile: str | Path = "default") -> Config:
    """Load ``configs/<profile>.yaml`` (or a path); one clear line naming the bad key on error."""
    path = Path(profile)
    if path.suffix not in {".yaml", ".yml"}:
        path = CONFIG_DIR / f"{profile}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise UserError(f"no profile '{profile}': {path} does not exist (known profiles: {known})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"invalid config {path.name}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise UserError(f"invalid config {path.name}: expected a mapping at the top level")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise UserError(_describe(exc, path.name)) from None
