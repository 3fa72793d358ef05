"""Workarounds for Lighteval 0.13.0, kept in this one visible place.

1. Its task ``Registry`` eagerly imports every built-in task module
   (huggingface/lighteval#1004), and two of them reach the network at import
   (``tiny_benchmarks`` downloads a pickle; ``mt_bench`` builds a judge that
   queries the Hub), so no task loads offline. We register only the project's
   own task module, which is what the Registry does with the built-ins removed.
2. ``LiteLLMClient`` switches on LiteLLM's disk cache at import and sends
   ``caching=True``: a rerun would be answered from the cache with no model
   work, and its energy figure would be meaningless. We switch the cache off
   (its import still creates an empty ``.litellm_cache/`` in the working
   directory, hence the .gitignore entry),
   and give Lighteval's own sample cache a per-run directory.
3. Its details logger calls ``xxhash.xxh64(str)``, which xxhash 4 rejects: that
   one is fixed by pinning ``xxhash<4`` in pyproject.toml.
4. Its sample cache writes a parquet file at the end of the model's request
   loop, which is the energy window: :func:`no_sample_cache` turns it off.
5. Two warnings that do not apply print once per candidate: "Careful, the task
   document_qa is using evaluation data to build the few shot examples" (the
   task has no few-shot examples: ``few_shots_split`` only names a split to
   draw them from) and "You cannot select the number of dataset splits for a
   generative evaluation" (its LiteLLM backend passes a number itself). A
   logging filter drops these two messages and nothing else (:data:`QUIET`).
"""

from __future__ import annotations

import logging
from types import ModuleType

_installed = False
# logger -> the start of the one message of it that is dropped (point 5 above)
QUIET = {"lighteval.tasks.lighteval_task": "Careful, the task document_qa is using evaluation data",
         "lighteval.data": "You cannot select the number of dataset splits"}


class _DropMessage(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def install() -> None:
    global _installed
    if _installed:
        return
    import litellm
    from lighteval.models.endpoints import litellm_model  # noqa: F401  (its import sets the cache)
    from lighteval.tasks.registry import Registry

    def only_custom_tasks(custom_tasks: str | ModuleType | None = None, load_multilingual: bool = False):
        if custom_tasks is None:
            return {}
        module = Registry.create_custom_tasks_module(custom_tasks)
        return Registry._extract_configs(module)

    Registry.load_all_task_configs = staticmethod(only_custom_tasks)
    litellm.cache = None
    for name, start in QUIET.items():
        logging.getLogger(name).addFilter(_DropMessage(start))
    _installed = True


def no_sample_cache(pipeline) -> None:
    """Switch off Lighteval's per-sample cache for one ``Pipeline`` (its ``cached`` decorator skips
    caching when the model's ``_cache`` is None). Answers are resumed from this project's own
    records; the cache would only add a parquet write inside the measured answering window."""
    pipeline.model._cache = None
