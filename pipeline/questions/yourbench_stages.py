"""YourBench as the generate stage runs it: its configuration (models, prompts, stages), its stages run in this
process with their logs in one file, its dataset folders, and the document's ingestion.

:mod:`pipeline.questions.generate` decides what YourBench is asked (the plan, the chunks, the rounds); this module is
how it is asked.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import datetime, timezone
from pathlib import Path

import yaml

from pipeline import language as languages
from pipeline.config import ROOT, Config, Generator
from pipeline.errors import UserError
from pipeline.io import atomic_write_text
from pipeline.questions import answer_first, pdf_text, round_trip
from pipeline.questions.document import SUPPORTED_SUFFIXES, content_hash
from pipeline.serving.servers import served_name

# The question types the generator may use. "true-false", "false-premise", "edge-case" and "counterfactual"
# (YourBench's other types) are left out: from small generators they gave yes/no questions whose gold answer
# restates the question, and questions the text cannot answer.
QUESTION_TYPES = ["factual", "analytical", "conceptual", "application-based", "clarification", "open-ended"]
PROMPTS = ROOT / "generator_prompts"
# Our question-generation prompts (YourBench's long default asks for an analysis before the questions and
# says nothing of the language): the rules go in YourBench's additional instructions (the user message), a
# short role in its system prompt; each in the document's language where a translation exists.
QUESTION_RULES, QUESTION_SYSTEM = PROMPTS / "question_rules.md", PROMPTS / "question_system.md"
# Answer-first generation (questions.answer_first, pipeline/questions/answer_first.py): its rules, role and user prompt.
ANSWER_FIRST_RULES, ANSWER_FIRST_SYSTEM = PROMPTS / "answer_first_rules.md", PROMPTS / "answer_first_system.md"
ANSWER_FIRST_USER = PROMPTS / "answer_first_user.md"
KEY_ENV = "EVAL_GENERATOR_API_KEY"  # YourBench expands $VARS: nothing secret lands in its yaml
def question_schema(count: int) -> dict:
    """JSON schema for one generation: exactly ``count`` questions in YourBench's field names."""
    item = {
        "type": "object",
        "properties": {
            "question_type": {"type": "string", "enum": QUESTION_TYPES},
            "question": {"type": "string"},
            "answer": {"type": "string"},
            "estimated_difficulty": {"type": "integer", "minimum": 1, "maximum": 10},
            "citations": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
        },
        "required": ["question_type", "question", "answer", "estimated_difficulty", "citations"],
    }
    return {"type": "array", "items": item, "minItems": count, "maxItems": count}


def _response_format(gen: Generator, count: int, answer_first_reply: bool = False) -> dict:
    schema = answer_first.schema(count) if answer_first_reply else question_schema(count)
    if gen.engine == "llama-cpp":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "questions", "schema": schema}}


def prompt_files(cfg: Config) -> list[Path]:
    """The generator's prompt files, every translation included (the document's language is known only
    once its text is extracted)."""
    named = [QUESTION_RULES, QUESTION_SYSTEM]
    if cfg.questions.answer_first:
        named += [ANSWER_FIRST_RULES, ANSWER_FIRST_SYSTEM, ANSWER_FIRST_USER]
    if cfg.questions.round_trip:
        named.append(round_trip.PROMPT)
    if cfg.generator.summarization_prompt:
        named.append(PROMPTS / cfg.generator.summarization_prompt)
    return [path for name in named for path in languages.translations(name)]


def generator_prompt(path: Path, language: str, **values) -> str:
    """A prompt file in ``language`` (:func:`pipeline.language.localized`) with its ``{placeholders}`` filled;
    ``{language}`` is the language's name."""
    text = languages.localized(path, language).read_text(encoding="utf-8")
    for name, value in {"language": languages.name(language), **values}.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def summary_window(gen: Generator) -> int:
    """Tokens of document per summarization call (YourBench's ``summarization.max_tokens``)."""
    return max(1024, gen.context_length // 2)


SUMMARY_OVERLAP = 64


def yourbench_config(cfg: Config, base_url: str, dataset_dir: Path, work: Path, language: str = "en") -> dict:
    """YourBench's configuration: every stage we use, models reached through ``base_url``, prompts in
    ``language`` (prompt values with a line break are taken as text by YourBench, not as file names)."""
    gen, q = cfg.generator, cfg.questions
    name = served_name(gen)
    model = {"base_url": base_url, "api_key": f"${KEY_ENV}", "max_concurrent_requests": gen.concurrent_requests}
    decoding = {"max_tokens": gen.max_new_tokens, "temperature": 0.0, "seed": q.seed}  # reproducible questions
    models = [{**model, "model_name": name, "extra_parameters": {**decoding, "max_tokens": gen.summary_max_tokens}}]
    question_model = name
    single_model = question_model
    if gen.json_schema_decoding:
        question_model = single_model = f"{name}-json"
        models.append({**model, "model_name": question_model, "extra_parameters": {
            **decoding, "response_format": _response_format(gen, q.questions_per_chunk)}})
        if q.answer_first:
            single_model = f"{name}-answers"
            models.append({**model, "model_name": single_model, "extra_parameters": {
                **decoding, "response_format": _response_format(gen, q.questions_per_chunk, answer_first_reply=True)}})
    instructions = generator_prompt(QUESTION_RULES, language, count=q.questions_per_chunk)
    system = generator_prompt(QUESTION_SYSTEM, language)
    single_hop = {"additional_instructions": instructions, "single_hop_system_prompt": system}
    if q.answer_first:  # the answers are in the chunk text (answer_first.generator_input)
        single_hop = {"additional_instructions": generator_prompt(ANSWER_FIRST_RULES, language),
                      "single_hop_system_prompt": generator_prompt(ANSWER_FIRST_SYSTEM, language),
                      "single_hop_user_prompt": generator_prompt(ANSWER_FIRST_USER, language)}
    stages = {
        "ingestion": {"source_documents_dir": str(work / "raw"), "output_dir": str(work / "processed"),
                      "supported_file_extensions": list(SUPPORTED_SUFFIXES)},
        "summarization": {"max_tokens": summary_window(gen), "token_overlap": SUMMARY_OVERLAP,
                          **({"summarization_user_prompt": generator_prompt(PROMPTS / gen.summarization_prompt,
                                                                            language)}
                             if gen.summarization_prompt else {})},
        "chunking": {"l_max_tokens": q.chunk_tokens, "token_overlap": 0, "h_min": 2, "h_max": 2},
        "single_hop_question_generation": single_hop,
        "multi_hop_question_generation": {"additional_instructions": instructions,
                                          "multi_hop_system_prompt": system},
        "prepare_lighteval": {},
        "citation_score_filtering": {},  # scores only; the threshold is ours (pipeline/questions/validate.py)
    }
    roles = {"summarization": [name], "single_hop_question_generation": [single_model],
             "multi_hop_question_generation": [question_model], "ingestion": [name]}
    return {
        "hf_configuration": {"hf_dataset_name": "questions", "local_dataset_dir": str(dataset_dir),
                             "local_saving": True, "push_to_hub": False, "upload_card": False},
        "model_list": models,
        "model_roles": roles,
        "pipeline": stages,
    }


# --------------------------------------------------------------------------- running YourBench's stages
class YourBench:
    """YourBench's stages, run in this process; their logs and progress bars go to one log file."""

    def __init__(self, cfg: Config, work: Path, log_path: Path):
        from loguru import logger

        self.cfg, self.work, self.log_path = cfg, work, log_path
        self.language = "en"  # the document's, once its text is extracted
        self.base_url = "http://127.0.0.1:9/v1"  # set to the proxy's before any model stage
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("a", encoding="utf-8")
        logger.remove()
        logger.add(self.log, level="INFO", enqueue=False)

    def close(self) -> None:
        from loguru import logger

        logger.remove()
        self.log.close()

    def config(self, dataset_dir: Path):
        from yourbench.conf.loader import load_config

        path = self.work / f"yourbench-{dataset_dir.name}.yaml"
        atomic_write_text(path, yaml.safe_dump(yourbench_config(self.cfg, self.base_url, dataset_dir, self.work,
                                                                self.language),
                                               sort_keys=False))
        return load_config(path)

    def stage(self, name: str, dataset_dir: Path) -> None:
        from yourbench.pipeline.handler import run_stage

        config = self.config(dataset_dir)
        self.log.write(f"\n=== {datetime.now(timezone.utc).isoformat(timespec='seconds')} {name} ({dataset_dir.name})\n")
        self.log.flush()
        with contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log):
            run_stage(name, config)


def save_dataset(dataset_dir: Path, subsets: dict[str, list[dict]]) -> None:
    """Write a YourBench dataset folder (a DatasetDict) from plain rows, replacing what was there."""
    from datasets import Dataset, DatasetDict

    shutil.rmtree(dataset_dir, ignore_errors=True)
    DatasetDict({name: Dataset.from_list(rows) for name, rows in subsets.items()}).save_to_disk(str(dataset_dir))


def load_subset(dataset_dir: Path, subset: str) -> list[dict]:
    from datasets import load_from_disk

    return load_from_disk(str(dataset_dir))[subset].to_list()


# Typographic ligatures as PDF text layers often give them ("ﬁeld", "ﬂood"): YourBench's ingestion
# (MarkItDown) passes them through, and questions, excerpts and gold answers would carry them.
LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                           "\ufb05": "st", "\ufb06": "st"})


def ingested(dataset_dir: Path) -> dict:
    row = load_subset(dataset_dir, "ingested")[0]
    return {**row, "document_text": row["document_text"].translate(LIGATURES)}


def _fresh_input(work: Path, dataset_dir: Path) -> Path:
    """An empty ``raw/`` input folder, with the previous ingestion's output removed; returns ``raw/``."""
    for stale in (work / "raw", work / "processed", dataset_dir):
        shutil.rmtree(stale, ignore_errors=True)
    (work / "raw").mkdir(parents=True)
    return work / "raw"


def ingest(doc: Path, work: Path, yb: YourBench, console) -> dict:
    """YourBench's ingestion of ``doc``, done once per document (``ingested.key`` says for which)."""
    done_key, dataset_dir = work / "ingested.key", work / "ingested"
    key = f"{content_hash(doc)} {pdf_text.VERSION}"
    if done_key.is_file() and done_key.read_text().strip() == key and dataset_dir.is_dir():
        with contextlib.suppress(Exception):
            return ingested(dataset_dir)
    console.write(f"generate: extracting the text of {doc.name} (YourBench ingestion)\n")
    console.flush()
    raw = _fresh_input(work, dataset_dir)
    # A multi-column PDF goes in as its text in reading order (MarkItDown reads across the columns: pdf_text.py)
    columns = pdf_text.column_text(doc) if doc.suffix.lower() == ".pdf" else None
    if columns:
        console.write("generate: the PDF is set in columns; its text is read column by column\n")
        atomic_write_text(raw / "document.md", columns)
    else:
        shutil.copyfile(doc, raw / f"document{doc.suffix.lower()}")
    yb.stage("ingestion", dataset_dir)
    processed = work / "processed" / "document.md"
    if (not columns and doc.suffix.lower() == ".pdf" and processed.is_file()
            and pdf_text.runs_words_together(processed.read_text(encoding="utf-8"))):
        console.write("generate: MarkItDown reads this PDF's words run together; its text is taken from PyMuPDF\n")
        console.flush()
        atomic_write_text(_fresh_input(work, dataset_dir) / "document.md", pdf_text.column_text(doc, always=True) or "")
        yb.stage("ingestion", dataset_dir)
    if not processed.is_file() or not processed.read_text(encoding="utf-8").strip() or not dataset_dir.is_dir():
        raise UserError(f"YourBench could not extract any text from {doc.name} "
                        f"(a scanned/image-only PDF needs OCR first); see {yb.log_path}")
    atomic_write_text(done_key, key + "\n")
    return ingested(dataset_dir)
