"""Asking a judge model for a verdict: the prompt, the constraint, the reply parsed.

The judge sees question, gold answer, source excerpt and the answer to grade
through a prompt file in ``judge_prompts/`` and must end with
``<final_answer>1</final_answer>`` (correct) or ``<final_answer>0</final_answer>``.
Reasoning traces (``<think>...</think>``) are stripped before parsing. A reply
with no verdict is followed up once, then recorded as *unparsed*; a call that
failed outright is recorded as *error* (the stage retries it on the next run).
Neither is ever scored as wrong.

We call the judge with the ``openai`` client rather than Lighteval's ``JudgeLM``:
JudgeLM's template cannot carry the source excerpt, and on a failed call it
hands the parser an error string that its YourBench parser scores as 0
(huggingface/lighteval#1296). The client retries 429/5xx with backoff
(honouring ``Retry-After``) and does not retry 401/403.

Used by the judge stage (:mod:`pipeline.verdicts.judge`), the calibration
(:mod:`pipeline.verdicts.calibration`) and generation's gold-answer check.
"""

from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

from pipeline import keys
from pipeline.config import Judge, fingerprint
from pipeline.errors import UserError
from pipeline.progress import Progress
from pipeline.serving.servers import strip_reasoning

# A reply cut off by max_tokens right after the digit ("...<final_answer>1") still counts.
VERDICT = re.compile(r"<final_answer>\s*([01])\s*(?:</final_answer>|$)", re.IGNORECASE)


def parse_verdict(text: str | None) -> int | None:
    """1 or 0 from the judge's reply (a ``<final_answer>`` tag, or a bare 1/0 or yes/no), or None when it gave
    no verdict."""
    answer = strip_reasoning(text)
    found = VERDICT.findall(answer)
    if found:
        return int(found[-1])
    word = answer.strip(" \t\n.!").lower()
    if word in {"0", "1"}:
        return int(word)
    return YES_NO.get(word)


def render_prompt(template: str, question: str, gold: str, chunk: str, answer: str) -> str:
    """Fill the prompt file's placeholders (plain replacement: prompts may contain braces)."""
    values = {"{question}": question, "{gold}": gold, "{chunk}": chunk, "{answer}": answer}
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def judge_fingerprint(judge: Judge) -> str:
    """What a judge's verdicts depend on (:mod:`pipeline.keys`, the same for the judge and a second judge):
    its model, how it is served and asked, its prompt's text, and the code that asks and reads a verdict (this
    module: :data:`pipeline.keys.TEXT_FILES`). The pipeline's verdicts, ``make calibrate``'s and the benches' all
    come from :func:`grade` here, so a verdict and its key always describe the same grading."""
    return fingerprint(keys.settings(judge, keys.VERDICTS, "judge"), judge.prompt_text(), *keys.texts(keys.VERDICTS))


@dataclass(frozen=True)
class Pass:
    """One grading of every answer: by the judge (the verdicts that count) or by a reliability check."""

    label: str  # "judge", or one of CHECKS
    judge: Judge
    temperature: float = 0.0
    seed: int | None = None

    @cached_property  # hashes the prompt file: once per pass, not once per record written
    def key(self) -> str:
        base = judge_fingerprint(self.judge)
        return base if self.label == "judge" else fingerprint(base, self.label, self.temperature)


@dataclass(frozen=True)
class VerdictFormat:
    """How a judge is asked to give its verdict (``judge.verdict``; its prompt file asks for the same)."""

    grammar: str  # llama.cpp GBNF
    regex: str  # vLLM structured outputs
    retry: str  # the follow-up turn when a remote judge's reply has no verdict


FORMATS = {
    # A tag after any reasoning: what a reasoning judge (the paper profile's QwQ-32B) writes last.
    "final_answer": VerdictFormat('root ::= "<final_answer>" [01] "</final_answer>"', r"<final_answer>[01]</final_answer>",
                                  "Your reply did not end with a verdict. Reply now with only "
                                  "<final_answer>1</final_answer> (yes) or <final_answer>0</final_answer> (no)."),
    # One word, the first token of the reply: a small judge's verdict on the question as asked, which also gives
    # P(yes) from the first token's log-probabilities (judge.yes_threshold). On the labelled real answers'
    # held-out documents the 1.5B judge with judge_prompts/small_yes_no_excerpt.txt, the figure rules and
    # P(yes) >= 0.75 agrees with the person 87.7% of the time (kappa 0.75) at 2.9 s a verdict (README, "The
    # judge's levers, chosen on dev, reported on held-out").
    "yes_no": VerdictFormat('root ::= "yes" | "no"', r"(yes|no)", "Reply now with only yes or no."),
}
YES_NO = {"yes": 1, "no": 0}


def verdict_constraint(judge: Judge) -> dict:
    """Request fields that make the reply a verdict, on the servers the pipeline starts.

    llama.cpp gets a grammar, vLLM a structured-output regex; a reply without a
    verdict then cannot happen. vLLM applies the regex after the reasoning when
    the server runs with ``--reasoning-parser`` (the paper profile's QwQ-32B: it
    thinks first, then its verdict is constrained). Remote endpoints get nothing:
    their support for constraints varies, so their reply is parsed.
    """
    if not judge.constrained or judge.engine == "openai":
        return {}
    if judge.engine == "llama-cpp":
        return {"grammar": FORMATS[judge.verdict].grammar}
    return {"structured_outputs": {"regex": FORMATS[judge.verdict].regex}}


def p_yes(logprobs) -> float | None:
    """P(yes) / (P(yes) + P(no)) of the reply's first token, from its top log-probabilities ("yes", "Yes", " yes"
    count as yes; likewise no), or None when neither is among them (or the endpoint gave none)."""
    content = getattr(logprobs, "content", None)
    if not content:
        return None
    yes = no = 0.0
    for candidate in content[0].top_logprobs or []:
        word = candidate.token.strip().casefold()
        if word == "yes":
            yes += math.exp(candidate.logprob)
        elif word == "no":
            no += math.exp(candidate.logprob)
    return yes / (yes + no) if yes + no else None


def _ask(client, model: str, messages: list[dict], judge_pass: Pass) -> tuple[str, dict]:
    import openai

    started = time.monotonic()
    seed = {} if judge_pass.seed is None else {"seed": judge_pass.seed}
    # a yes/no verdict read as a probability (judge.yes_threshold): the first token's top log-probabilities
    scored = {"logprobs": True, "top_logprobs": 20} if judge_pass.judge.yes_threshold is not None else {}
    try:
        response = client.chat.completions.create(
            model=model, messages=messages, temperature=judge_pass.temperature,
            max_tokens=judge_pass.judge.max_new_tokens, extra_body=verdict_constraint(judge_pass.judge) or None,
            **seed, **scored)
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise UserError(f"the judge endpoint refused the API key ({exc.status_code}): check the token") from None
    usage = response.usage
    return response.choices[0].message.content or "", {
        "judge_latency_s": round(time.monotonic() - started, 3),
        "judge_input_tokens": getattr(usage, "prompt_tokens", None),
        "judge_output_tokens": getattr(usage, "completion_tokens", None),
        **({"p_yes": p_yes(response.choices[0].logprobs)} if scored else {}),
    }


def read_at_threshold(verdict: int, p_yes: float | None, threshold: float | None) -> int:
    """The verdict as ``judge.yes_threshold`` reads it: "yes" when P(yes) reaches the threshold (the probability
    decides, not the token the sampler chose); the token's verdict without a threshold or a probability."""
    return verdict if threshold is None or p_yes is None else int(p_yes >= threshold)


def grade(client, model: str, judge_pass: Pass, template: str, item: dict) -> dict:
    """One verdict on ``item`` (question, gold, chunk_text, prediction) with the prompt ``template``.

    A reply without a verdict is followed up once with a short request for the
    verdict alone (a new request: resending the same one at temperature 0 would
    give the same reply); a call that fails outright is retried once as it was.
    """
    prompt = render_prompt(template, item["question"], item["gold"], item["chunk_text"], item["prediction"])
    messages = [{"role": "user", "content": prompt}]
    raw, stats = "", {}
    for _attempt in range(2):
        try:
            raw, stats = _ask(client, model, messages, judge_pass)
        except UserError:
            raise
        except Exception as exc:  # the client already retried transient errors
            raw, stats = f"ERROR: {type(exc).__name__}: {exc}", {}
            continue
        if parse_verdict(raw) is not None:
            break
        messages = [*messages, {"role": "assistant", "content": raw},
                    {"role": "user", "content": FORMATS[judge_pass.judge.verdict].retry}]
    verdict = parse_verdict(raw)
    # the threshold was chosen for grading answers: the gold-answer check keeps the token the judge chose
    threshold = judge_pass.judge.yes_threshold if judge_pass.label != "gold_check" else None
    if verdict is not None and judge_pass.temperature == 0:
        verdict = read_at_threshold(verdict, stats.get("p_yes"), threshold)
    status = "judged" if verdict is not None else "error" if raw.startswith("ERROR: ") else "unparsed"
    return {"verdict": verdict, "status": status,
            "raw_judge_output": raw, **stats}


def grade_all(client, model: str, judge_pass: Pass, items: list[dict], write, desc: str) -> None:
    template = judge_pass.judge.prompt_text()  # read once: the fingerprint was taken of this text
    label = "grading" if desc == "judge" else desc.replace("_", " ")  # "judge: grading 3/24 answers"
    progress = Progress("judge", label, len(items), unit="items" if desc == "calibration" else "answers")
    with ThreadPoolExecutor(judge_pass.judge.concurrent_requests) as pool:
        grade_one = lambda item: (item, grade(client, model, judge_pass, template, item))  # noqa: E731
        try:
            for item, result in pool.map(grade_one, items):
                write(item, result)
                progress.advance(seconds=result.get("judge_latency_s"))
        except BaseException:  # a refused token, Ctrl-C: do not send the queued calls
            pool.shutdown(wait=False, cancel_futures=True)
            raise
