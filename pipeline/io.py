"""Small file helpers: writes that are never seen half-done, and the environment for tools."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd


def _tmp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = _tmp_beside(path)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def atomic_write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = _tmp_beside(path)
    df.to_parquet(tmp, index=False)
    tmp.replace(path)


def atomic_save_figure(fig, path: Path) -> None:
    """Save a matplotlib figure as PNG through a temporary file, then close it."""
    tmp = _tmp_beside(path)
    try:
        fig.savefig(tmp, format="png")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    tmp.replace(path)


def read_jsonl(path: Path) -> list[dict]:
    """Records appended one line at a time; a torn last line (from a kill) is ignored."""
    if not path.exists():
        return []
    rows = []
    # split at newlines only: str.splitlines() also splits at characters JSON leaves raw in a string with
    # ensure_ascii=False (U+2028, U+0085, form feeds of a PDF's text), and a record then falls apart
    for line in path.read_text(encoding="utf-8").split("\n"):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def append_jsonl(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def use_tool_env() -> None:
    """Apply :func:`tool_env` to this process (before LiteLLM or huggingface_hub are imported)."""
    env = tool_env()
    os.environ.pop("HF_HUB_OFFLINE", None)
    os.environ.update(env)


def tool_env() -> dict[str, str]:
    """Environment for YourBench / Lighteval / LiteLLM so that nothing reaches for the internet."""
    env = dict(os.environ)
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else LiteLLM fetches a price map at import
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # our own progress lines say what happens
    env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # and transformers' "Loading weights" bar
    env.setdefault("TQDM_DISABLE", "1")  # and Lighteval's request bars (tqdm reads TQDM_* settings from the environment)
    if "TIKTOKEN_CACHE_DIR" not in env:
        # tiktoken downloads cl100k_base at first use; LiteLLM ships that file.
        import importlib.util

        spec = importlib.util.find_spec("litellm")
        if spec and spec.origin:
            env["TIKTOKEN_CACHE_DIR"] = str(Path(spec.origin).parent / "litellm_core_utils" / "tokenizers")
    # HF_HUB_OFFLINE=1 would make huggingface_hub refuse even localhost URLs (YourBench's client).
    env.pop("HF_HUB_OFFLINE", None)
    return env
