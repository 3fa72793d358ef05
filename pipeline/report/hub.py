"""Stage 5 (optional): one finished report as a Hugging Face dataset repository, and its upload.

``build_dataset`` writes ``reports/<doc>/hub/``: the questions, the per-question
details, the results table and one row describing the run, each as a Parquet
file under ``data/``, plus a dataset card (``README.md``) whose YAML header
declares one config per file, so ``datasets.load_dataset(path, "results")``
works on the folder as well as on the Hub. Nothing secret is written: every
string (card and columns) goes through ``_scrub``.

``push`` uploads that folder with ``huggingface_hub``; every failure is a
one-line ``UserError`` that never shows the token.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline.errors import UserError
from pipeline.io import atomic_write_parquet, atomic_write_text
from pipeline.report.formatting import format_params, table_markdown

LICENSE = "cc-by-4.0"
CONFIGS = ("questions", "details", "results", "run", "labels")
LIBRARIES = {  # label -> distribution name (importlib.metadata)
    "yourbench": "yourbench",
    "lighteval": "lighteval",
    "codecarbon": "codecarbon",
    "llama_cpp": "llama_cpp_python",
    "datasets": "datasets",
    "huggingface_hub": "huggingface_hub",
    "transformers": "transformers",
    "torch": "torch",
}
TOKEN_ENV_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{20,}")
_REDACTED = "[redacted]"
_MIN_SECRET_LEN = 8  # a shorter env value is not a real token; removing it would mangle ordinary text


# --------------------------------------------------------------------------- secrets


def _scrub(text: str) -> str:
    """``text`` without anything that looks like a Hugging Face token or equals one set in the environment."""
    if not isinstance(text, str):
        return text
    for var in TOKEN_ENV_VARS:
        value = (os.environ.get(var) or "").strip()
        if len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, _REDACTED)
    return _TOKEN_PATTERN.sub(_REDACTED, text)


def _scrub_value(value):
    if isinstance(value, str):
        return _scrub(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_scrub_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    return value


def _scrub_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Every string (also inside list columns) scrubbed; numeric columns untouched."""
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[column] = series.map(_scrub_value, na_action="ignore")
    return out


# --------------------------------------------------------------------------- versions


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries the results depend on ("not installed" when missing)."""
    versions = {}
    for label, dist in LIBRARIES.items():
        found = "not installed"
        for name in dict.fromkeys([dist, label, dist.replace("_", "-")]):
            try:
                found = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
        versions[label] = found
    return versions


# --------------------------------------------------------------------------- building


def _run_row(run_info: dict) -> pd.DataFrame:
    """One row; lists and dicts as JSON strings, so that every config has a flat schema."""
    row = {}
    for key, value in run_info.items():
        if isinstance(value, (list, tuple, dict)):
            row[str(key)] = json.dumps(value, default=str, sort_keys=isinstance(value, dict))
        elif value is None or isinstance(value, (str, bool, int, float)):
            row[str(key)] = value
        else:
            row[str(key)] = str(value)
    return pd.DataFrame([row])


def _card(cfg, document: str, run_info: dict, frames: dict[str, pd.DataFrame]) -> str:
    results = frames["results"]
    rows = {name: len(df) for name, df in frames.items()}
    header = {
        "license": LICENSE,
        "pretty_name": f"LLM evaluation on {document} ({cfg.profile} profile)",
        "tags": ["llm-evaluation", "question-answering", "llm-as-a-judge", "energy", "yourbench", "lighteval"],
        "task_categories": ["question-answering"],
        "size_categories": ["n<1K" if max(rows.values(), default=0) < 1000 else "1K<n<10K"],
        "configs": [
            {"config_name": name, "data_files": [{"split": "train", "path": f"data/{name}.parquet"}]}
            for name in CONFIGS
        ],
    }
    versions = run_info.get("library_versions") or run_info.get("libraries") or library_versions()
    if isinstance(versions, str):
        try:
            versions = json.loads(versions)
        except json.JSONDecodeError:
            versions = {"libraries": versions}
    methods = sorted({str(m) for m in results.get("energy_method", pd.Series(dtype=object)).dropna()})
    hardware = sorted({str(h) for h in results.get("hardware", pd.Series(dtype=object)).dropna() if str(h)})
    configured = {c.name: c for c in cfg.candidates}
    lines = []
    for model, params in zip(results["model"], results["params_b"]):  # the models that were evaluated
        c = configured.get(str(model))
        where = f"`{c.model}`, {c.engine}, " if c is not None else ""
        lines.append(f"  - `{model}` ({where}{format_params(float(params))} parameters)")
    candidates = "\n".join(lines)
    when = ", ".join(f"{k} {run_info[k]}" for k in ("started", "finished") if run_info.get(k))
    body = [
        f"# LLM evaluation on `{document}`",
        "",
        f"Questions generated from the document `{document}`, answered by {len(results)} candidate "
        "models and graded by an LLM judge, with the energy each candidate used to answer. "
        f"Produced by the evaluation pipeline, profile `{cfg.profile}`"
        + (f", config hash `{run_info['config_hash']}`" if run_info.get("config_hash") else "") + ".",
        "",
        "## Results",
        "",
        table_markdown(results, ["Model", "# Params", "Duration (s)", "Accuracy",
                                 "Judge-corrected accuracy (95% CI)", "Energy (Wh)", "Method"]),
        "",
        "## How the data was produced",
        "",
        f"- Document: `{document}`.",
        (f"- Questions: {rows['questions']}, generated with YourBench by `{cfg.generator.name}` "
        f"(`{cfg.generator.model}`, {cfg.generator.engine})."),
        f"- Candidates:\n{candidates}",
        (f"- Judge: `{cfg.judge.name}` (`{cfg.judge.model}`, {cfg.judge.engine}) with the prompt file "
        f"`judge_prompts/{cfg.judge.prompt}`; accuracy = correct / judged, answers without a parseable "
        "verdict are counted as unparsed, not scored."),
        *([f"- Second judge (a check; its verdicts are in `details`, they do not count): `{cfg.second_judge.name}` "
           f"(`{cfg.second_judge.model}`, {cfg.second_judge.engine})."] if cfg.second_judge else []),
        *([f"- Self-consistency check: the judge graded every answer twice more at temperature "
           f"{cfg.self_consistency.temperature:g} (seeds 1 and 2), in `details`."] if cfg.self_consistency else []),
        f"- Energy: {', '.join(methods) or 'not measured'}; net of an idle baseline, answering window only "
        "(CodeCarbon, the model's own GPUs" + (f"; hardware: {', '.join(hardware)}" if hardware else "") + ").",
        "- Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
    ]
    if when:
        body.append(f"- Run: {when}" + (f", on {run_info['machine']}" if run_info.get("machine") else "") + ".")
    elif run_info.get("machine"):
        body.append(f"- Machine: {run_info['machine']}.")
    body += [
        "",
        "## Configs",
        "",
        "| Config | Rows | Content |",
        "|---|---|---|",
        f"| `questions` | {rows['questions']} | the generated questions, gold answers and source chunks |",
        (f"| `details` | {rows['details']} | one row per (candidate, question): prediction, verdict, "
        "raw judge output, tokens, latency, energy share |"),
        f"| `results` | {rows['results']} | one row per candidate: accuracy (judged and judge-corrected, with "
        "95% intervals), duration, energy, CO2 |",
        f"| `run` | {rows['run']} | the run's identity: profile, models, library versions, times |",
        (f"| `labels` | {rows['labels']} | one row per answer, with a person's label where given (`make review`): "
         "correct, wrong, gold is wrong or question unclear, keyed by the question's and the answer's hashes |"),
        "",
        "## How to load it",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        "path = \"<this repository id or a local copy of it>\"",
        "results = load_dataset(path, \"results\")[\"train\"]",
        "details = load_dataset(path, \"details\")[\"train\"]",
        "```",
        "",
        f"License: {LICENSE}.",
        "",
    ]
    text = "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)
    return _scrub(text)


def _replace_dir(new: Path, target: Path) -> None:
    """Put ``new`` where ``target`` is; the old folder is moved aside first, then removed."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
        old.rmdir()
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _labels(run_dir: Path, details: pd.DataFrame) -> pd.DataFrame:
    """The person's current labels of this run (``make review``): one row per answer of the run, with its label
    where there is one (``label``, ``label_value``, ``source``, ``labelled_at``; empty where not labelled). One row
    per answer rather than per label, so that the config is never empty: ``datasets.load_dataset`` refuses a split
    with no rows ("Instruction 'train' corresponds to no data", and "BatchSize must be greater than 0" on an empty
    Parquet file), and a report before any label must load too."""
    from pipeline.review.labels import KEY, LABEL_COLUMNS, current_labels
    from pipeline.verdicts.judge import answer_hash, question_hash

    unique = details.drop_duplicates(KEY)
    answers = pd.DataFrame({
        "question_id": unique["question_id"].astype(str).to_numpy(), "candidate": unique["candidate"].to_numpy(),
        "question_hash": [question_hash(q, g, c) for q, g, c in zip(unique["question"], unique["gold"],
                                                                    unique["chunk_text"])],
        "answer_hash": [answer_hash(p) for p in unique["prediction"]]})
    found = answers.merge(current_labels(run_dir), on=KEY, how="left").reset_index(drop=True)
    for column in LABEL_COLUMNS:
        if column not in KEY:
            found[column] = found[column].astype("float64" if column == "label_value" else "string")
    return found


def build_dataset(run_dir: Path, report_dir: Path, cfg, document: str, run_info: dict) -> Path:
    """Write ``report_dir/hub/`` (data/*.parquet + README.md) from a finished run and report."""
    run_dir, report_dir = Path(run_dir), Path(report_dir)
    sources = {
        "questions": run_dir / "questions.parquet",
        "details": report_dir / "details.parquet",
        "results": report_dir / "results.csv",
    }
    for name, path in sources.items():
        if not path.is_file():
            raise UserError(f"cannot build the dataset for {document}: {path} is missing (run the report first)")
    frames = {
        "questions": pd.read_parquet(sources["questions"]),
        "details": pd.read_parquet(sources["details"]),
        "results": pd.read_csv(sources["results"]),
        "run": _run_row(run_info),
        "labels": _labels(run_dir, pd.read_parquet(sources["details"])),
    }
    frames = {name: _scrub_frame(df) for name, df in frames.items()}

    target = report_dir / "hub"
    report_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=report_dir, prefix=".hub.tmp."))
    try:
        for name in CONFIGS:
            atomic_write_parquet(frames[name], tmp / "data" / f"{name}.parquet")
        atomic_write_text(tmp / "README.md", _card(cfg, document, run_info, frames))
        _replace_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"dataset: {target}", flush=True)
    return target


# --------------------------------------------------------------------------- pushing


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level exceptions of whichever HTTP client this huggingface_hub uses."""
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                          ("requests.exceptions", ("ConnectionError", "Timeout"))):
        try:
            mod = __import__(module, fromlist=list(names))
        except ImportError:
            continue
        errors += [getattr(mod, n) for n in names if hasattr(mod, n)]
    return tuple(errors)


def push(folder: Path, repo_id: str, private: bool = False, token: str | None = None,
         endpoint: str | None = None) -> str:
    """Upload ``folder`` as the dataset repository ``repo_id``; return the repository's URL."""
    import huggingface_hub
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise UserError(f"nothing to push: {folder} is not a built dataset (build it first)")
    token = token or huggingface_hub.get_token()
    if not token:
        raise UserError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then rerun make push")
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    endpoint = _scrub(endpoint)
    intact = f"the local results in {folder} are intact; rerun make push when it is reachable"
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                          commit_message="Upload evaluation results")
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise UserError(f"push to {repo_id} refused ({status}): the Hugging Face token lacks write permission "
                            f"for dataset {repo_id} (or is invalid); use a token with write access; "
                            "local results are intact") from None
        raise UserError(f"push to {repo_id} failed: {endpoint} answered HTTP {status or 'error'}; "
                        "local results are intact, the command can be rerun") from None
    except ValueError as exc:
        if "metadata" not in str(exc).lower():
            raise
        raise UserError(f"push to {repo_id} failed: {endpoint} rejected the dataset card's YAML header; "
                        "local results are intact") from None
    except OfflineModeIsEnabled:
        raise UserError(f"cannot push to {endpoint}: HF_HUB_OFFLINE is set; unset it, then rerun make push "
                        f"({intact})") from None
    except _transport_errors() as exc:
        raise UserError(f"cannot reach {endpoint} ({type(exc).__name__}); {intact}") from None
    url = f"{endpoint}/datasets/{repo_id}"
    print(f"pushed: {url}", flush=True)
    return url
