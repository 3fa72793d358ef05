"""The speed work changes no answer and no verdict (real llama.cpp servers, embedded models).

Two things make the default run faster without touching a prompt: the judge's
requests are grouped by question so that llama.cpp reuses the shared prefix of
consecutive prompts, and the server no longer computes the logits of every
prompt token (``--logits_all False``). Greedy decoding must give the same text
either way: here the same prompts are sent grouped to today's server and
interleaved to a server that computes every logit, as before.
"""

from __future__ import annotations

import openai
import pytest

from pipeline import config
from pipeline.io import read_jsonl
from pipeline.serving.servers import serve
from pipeline.verdicts.calibration import CALIBRATION_SET
from pipeline.verdicts.grading import render_prompt, verdict_constraint
from tasks.document_qa import STOP_SEQUENCES, prompt_text

pytestmark = pytest.mark.e2e


def _replies(model, log_dir, prompts: list[str], max_tokens: int, **extra) -> tuple[list[str], int]:
    """The replies in the order sent, and the prompt tokens the server took from its prefix cache."""
    with serve(model, log_dir) as endpoint:
        client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key)
        replies = [client.chat.completions.create(
            model=endpoint.model, messages=[{"role": "user", "content": p}], max_tokens=max_tokens,
            temperature=0, **extra).choices[0].message.content for p in prompts]
    return replies, endpoint.prefix_hit_tokens


def _interleaved(groups: list[list[str]]) -> list[str]:
    return [p for row in zip(*groups) for p in row]


def _compare(model, tmp_path, groups: list[list[str]], max_tokens: int, **extra) -> None:
    grouped_prompts = [p for group in groups for p in group]
    grouped, grouped_hits = _replies(model, tmp_path / "new", grouped_prompts, max_tokens, **extra)
    before = model.model_copy(update={"server_args": [*model.server_args, "--logits_all", "True"]})
    mixed, mixed_hits = _replies(before, tmp_path / "old", _interleaved(groups), max_tokens, **extra)
    by_prompt = dict(zip(_interleaved(groups), mixed))
    assert grouped == [by_prompt[p] for p in grouped_prompts]
    assert grouped_hits > mixed_hits  # grouping is what lets the cache serve the shared prefix


def test_verdicts_are_the_same_grouped_or_interleaved_with_or_without_all_logits(tmp_path):
    judge = config.load("default").judge
    template = judge.prompt_text()
    items = read_jsonl(CALIBRATION_SET)[:2]
    # Per question, three answers to grade: the prompts share everything up to the answer.
    groups = [[render_prompt(template, it["question"], it["gold"], it["chunk"], answer)
               for answer in (it["answer"], it["gold"], "I do not know.")] for it in items]
    _compare(judge, tmp_path, groups, judge.max_new_tokens, extra_body=verdict_constraint(judge))


def test_answers_are_the_same_grouped_or_interleaved_with_or_without_all_logits(tmp_path):
    candidate = next(c for c in config.load("default").candidates if c.model == "smollm2-135m-instruct")
    items = read_jsonl(CALIBRATION_SET)[:2]
    # Two questions per excerpt, as YourBench asks several questions of one chunk.
    groups = [[prompt_text(it["question"], it["chunk"]), prompt_text(f"What does the excerpt say? {it['question']}",
                                                                     it["chunk"])] for it in items]
    _compare(candidate, tmp_path, groups, candidate.max_new_tokens, stop=STOP_SEQUENCES)


def test_grammar_first_check_picks_the_tokens_llama_cpp_pythons_grammar_chain_picks(monkeypatch):
    """pipeline/serving/llama_server.py: the generator's JSON schema and the judge's verdict grammar, greedy,
    decoded with llama-cpp-python's own sampler chain and with the grammar consulted only on rejection."""
    from llama_cpp import Llama, LlamaGrammar

    from pipeline.questions.yourbench_stages import question_schema
    from pipeline.serving import llama_server
    from pipeline.serving.models import gguf_path

    item = read_jsonl(CALIBRATION_SET)[0]
    judge = config.load("default").judge
    verdict_prompt = render_prompt(judge.prompt_text(), item["question"], item["gold"], item["chunk"], item["answer"])
    requests = [
        {"messages": [{"role": "user", "content": f"Excerpt:\n{item['chunk']}\n\nWrite 2 questions about it."}],
         "response_format": {"type": "json_object", "schema": question_schema(2)}, "max_tokens": 160},
        {"messages": [{"role": "user", "content": verdict_prompt}],
         "grammar": LlamaGrammar.from_string(verdict_constraint(judge)["grammar"], verbose=False),
         "max_tokens": judge.max_new_tokens},
    ]
    chain = Llama._init_sampler
    used = []

    def decode(patched: bool) -> list[str]:
        if patched:
            def counting(self, *args, **kwargs):
                sampler = llama_server.first_check(chain)(self, *args, **kwargs)
                used.append(type(sampler).__name__)
                return sampler
            monkeypatch.setattr(Llama, "_init_sampler", counting)
        # A fresh model per mode: llama.cpp's output depends on how the prompt was batched.
        llm = Llama(model_path=str(gguf_path("qwen2.5-coder-0.5b-instruct")), n_ctx=2048, n_threads=2,
                    logits_all=False, verbose=False)
        return [llm.create_chat_completion(temperature=0.0, repeat_penalty=1.1, **request)["choices"][0]
                ["message"]["content"] for request in requests]

    assert decode(patched=False) == decode(patched=True)
    assert used == ["GrammarFirstCheck", "GrammarFirstCheck"]  # the fast path was the one taken


def test_last_token_logits_gives_the_log_probabilities_every_token_logits_give(monkeypatch):
    """pipeline/serving/llama_server.py's second workaround: with ``logits_all`` (log-probabilities), llama.cpp
    computes only each batch's last-token logits, and a verdict's top log-probabilities are the same, for a fresh
    prompt and for one that hits the prefix cache."""
    from llama_cpp import Llama

    from pipeline.serving import llama_server
    from pipeline.serving.models import gguf_path

    item = read_jsonl(CALIBRATION_SET)[0]
    judge = config.load("default").judge
    prompts = [render_prompt(judge.prompt_text(), item["question"], item["gold"], item["chunk"], answer)
               for answer in (item["answer"], item["gold"])]  # the second shares the first's prefix

    def top_logprobs(patched: bool) -> list[list[tuple[str, float]]]:
        if patched:
            monkeypatch.setattr(Llama, "eval", llama_server.last_token_logits)
        llm = Llama(model_path=str(gguf_path("qwen2.5-coder-0.5b-instruct")), n_ctx=2048, n_threads=2,
                    logits_all=True, verbose=False)
        found = []
        for prompt in prompts:
            reply = llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=2, temperature=0.0,
                                               logprobs=True, top_logprobs=5)
            found += [[(t["token"], float(t["logprob"])) for t in token["top_logprobs"]]
                      for token in reply["choices"][0]["logprobs"]["content"]]
        return found

    before, after = top_logprobs(patched=False), top_logprobs(patched=True)
    assert [[t for t, _ in row] for row in after] == [[t for t, _ in row] for row in before]
    assert [lp for row in after for _, lp in row] == pytest.approx([lp for row in before for _, lp in row], abs=1e-3)
