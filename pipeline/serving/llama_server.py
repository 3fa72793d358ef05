"""llama-cpp-python's OpenAI server, with two workarounds for llama-cpp-python 0.3.36.

Grammar-constrained sampling (JSON schemas for the generator, the judge's
verdict grammar) runs llama.cpp's grammar sampler over the whole vocabulary
before every token: 152k candidate tokens for the Qwen models, each matched
against the grammar. llama.cpp's own tools check only the token the other
samplers chose and fall back to the whole vocabulary when the grammar rejects
it (ggml-org/llama.cpp#4306 and #7424; the slowness is ggml-org/llama.cpp#4218).
llama-cpp-python's ``Llama._init_sampler`` chains penalties -> grammar -> greedy
and has no such path. For greedy decoding (temperature 0, everything this
project sends) :func:`install` swaps in :class:`GrammarFirstCheck`, which does
what llama.cpp's ``common_sampler_sample`` does and picks the same token:

- the greedy token of the penalised logits is the greedy token of the
  grammar-filtered logits whenever the grammar accepts it;
- when it does not, the grammar filters the whole vocabulary and greedy picks
  again, exactly as the chain would.

Any other sampling setting keeps llama-cpp-python's own chain.

The second: log-probabilities need ``--logits_all True`` (llama-cpp-python refuses ``logprobs`` otherwise), and
``Llama.eval`` then has llama.cpp compute the whole vocabulary's logits for *every prompt token* and copies them
into ``Llama.scores`` (152k floats a token for the Qwen judge). A reply's log-probabilities are read only from the
rows of the last prompt token and of the generated tokens (``_create_completion``: ``self._scores[token_offset:]``
without ``echo``), each the last token of its own ``eval``. :func:`last_token_logits` asks llama.cpp for the logits
of each batch's last token only and writes that row: the same log-probabilities, the prompt read as without
``--logits_all`` (a 498-token prompt of the 1.5B judge: 14.5 s with every token's logits, 11.6 s without, in
process, 2026-12-07). No echo is ever asked (the pipeline's requests are chat completions).

``python -m pipeline.serving.llama_server ARGS`` is ``python -m llama_cpp.server ARGS``
with the workarounds installed (pipeline/serving/servers.py starts it).
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

_installed = False
# Set, the server keeps llama-cpp-python's own ``eval`` (every prompt token's logits under ``--logits_all``): for
# bench/judge_logits.py's before/after only.
EVERY_TOKEN_LOGITS = "EVAL_BENCH_EVERY_TOKEN_LOGITS"


class GrammarFirstCheck:
    """Penalties, then greedy, with the grammar consulted only when it rejects the greedy token.

    Exposes ``sample(ctx, idx)``, the one method ``Llama`` calls on its sampler.
    """

    def __init__(self, llama, grammar, penalties: dict):
        import llama_cpp
        from llama_cpp import _internals

        self._api = llama_cpp
        self.n_vocab = llama.n_vocab()
        self.penalties = _internals.LlamaSampler()
        self.penalties.add_penalties(n_vocab=self.n_vocab, **penalties)
        self.grammar = _internals.LlamaSampler()
        self.grammar.add_grammar(llama._model, grammar)
        self.greedy = _internals.LlamaSampler()
        self.greedy.add_greedy()
        self._dtype = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
        assert self._dtype.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)
        self._ids = np.arange(self.n_vocab, dtype=np.int32)
        self._data = np.zeros(self.n_vocab, dtype=self._dtype)
        self._one = np.zeros(1, dtype=self._dtype)

    def _array(self, data: np.ndarray):
        api = self._api
        return api.llama_token_data_array(data=data.ctypes.data_as(api.llama_token_data_p), size=len(data),
                                          selected=-1, sorted=False)

    def sample(self, ctx, idx: int = -1) -> int:
        api = self._api
        logits = np.ctypeslib.as_array(api.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,))
        data = self._data
        data["id"] = self._ids
        data["logit"] = logits
        data["p"] = 0.0
        candidates = self._array(data)
        api.llama_sampler_apply(self.penalties.sampler, ctypes.byref(candidates))
        api.llama_sampler_apply(self.greedy.sampler, ctypes.byref(candidates))
        token = int(data["id"][candidates.selected])
        one = self._one
        one[0] = data[candidates.selected]
        api.llama_sampler_apply(self.grammar.sampler, ctypes.byref(self._array(one)))
        if np.isneginf(one["logit"][0]):  # rejected: what the chain does, on the penalised logits
            candidates = self._array(data)
            api.llama_sampler_apply(self.grammar.sampler, ctypes.byref(candidates))
            api.llama_sampler_apply(self.greedy.sampler, ctypes.byref(candidates))
            token = int(data["id"][candidates.selected])
        api.llama_sampler_accept(self.penalties.sampler, token)
        api.llama_sampler_accept(self.grammar.sampler, token)
        return token


def first_check(chain):
    """``Llama._init_sampler`` with greedy grammar sampling routed through :class:`GrammarFirstCheck`."""

    def _init_sampler(self, *args, **kwargs):
        grammar = kwargs.get("grammar")
        greedy = (not args and grammar is not None and kwargs.get("temp", 0.8) == 0.0
                  and kwargs.get("logits_processor") is None and kwargs.get("mirostat_mode", 0) == 0)
        if not greedy:
            return chain(self, *args, **kwargs)
        return GrammarFirstCheck(self, grammar, {
            "penalty_last_n": self.last_n_tokens_size, "penalty_repeat": kwargs.get("repeat_penalty", 1.0),
            "penalty_freq": kwargs.get("frequency_penalty", 0.0),
            "penalty_present": kwargs.get("presence_penalty", 0.0)})

    return _init_sampler


def last_token_logits(self, tokens) -> None:
    """``Llama.eval`` (llama-cpp-python 0.3.36) with the logits of each batch's last token only, written to its row
    of ``scores`` when the model keeps scores (``logits_all``); the rest as the original does."""
    self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
    for i in range(0, len(tokens), self.n_batch):
        batch = tokens[i:min(len(tokens), i + self.n_batch)]
        n_past, n_tokens = self.n_tokens, len(batch)
        self._batch.set_batch(batch=batch, n_past=n_past, logits_all=False)  # llama.cpp: the last token's only
        self._ctx.decode(self._batch)
        self.input_ids[n_past:n_past + n_tokens] = batch
        if self._logits_all:
            self.scores[n_past + n_tokens - 1, :] = np.ctypeslib.as_array(self._ctx.get_logits_ith(-1),
                                                                          shape=(self._n_vocab,))
        self.n_tokens += n_tokens
        self._requires_eval = False


def install() -> None:
    """Patch ``Llama`` in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from llama_cpp import Llama

    Llama._init_sampler = first_check(Llama._init_sampler)
    if not os.environ.get(EVERY_TOKEN_LOGITS):
        Llama.eval = last_token_logits
    _installed = True


if __name__ == "__main__":
    install()
    from llama_cpp.server.__main__ import main

    main()
