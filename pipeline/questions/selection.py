"""Which parts of a document question generation reads: bounded by the questions wanted, not the pages.

YourBench 0.9.0 asks the generator for questions from *every* chunk (its
``chunk_sampling`` setting is ignored: ``get_sampling_cfg`` in
``yourbench/utils/chunking_utils.py`` hard-codes mode "all") and summarizes
the whole document. Here the cost is planned from what is kept instead:

* ``overdraw x target / questions_per_chunk`` generator calls, a share of them
  multi-hop (pairs of chunks), the rest single-hop;
* the chunks are taken in a seeded, *nested* order spread over the whole
  document (a rotated van der Corput sequence over chunk positions): any prefix
  of the order covers the document evenly, so the first third, the middle and
  the last third of a long report are all represented, a lower target uses a
  prefix of the chunks a higher one used (nothing is regenerated), and a
  higher target only adds chunks;
* the summary YourBench gives the generator as context is made from a bounded,
  evenly spread excerpt of the document (``summary_excerpt_tokens``), not from
  all of it.

Everything here is pure: text in, plan out. The chunking itself is YourBench's
own ``split_into_token_chunks``, so the plan's chunk indices are the chunks
YourBench's chunking stage makes from the same text.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

ENCODING = "cl100k_base"  # YourBench's default token encoding for chunking and summarization
PASSAGE_BREAK = "\n\n[…]\n\n"


def _encoder():
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def van_der_corput(i: int) -> float:
    """The i-th point of the base-2 van der Corput sequence: 0, 1/2, 1/4, 3/4, 1/8, ..."""
    value, denominator = 0.0, 1.0
    while i:
        denominator *= 2
        i, bit = divmod(i, 2)
        value += bit / denominator
    return value


def spread_order(n: int, seed: int) -> list[int]:
    """All of ``range(n)`` in an order whose every prefix is spread evenly over the range.

    Point i of a van der Corput sequence, rotated by a seeded offset, picks the
    chunk at that relative position; positions already taken are skipped. The
    first k points leave no gap wider than 2/k of the document.
    """
    offset = random.Random(seed).random()
    order: list[int] = []
    seen: set[int] = set()
    i = 0
    while len(order) < n:
        index = min(int(((offset + van_der_corput(i)) % 1.0) * n), n - 1)
        if index not in seen:
            seen.add(index)
            order.append(index)
        i += 1
    return order


def chunk_texts(text: str, chunk_tokens: int) -> list[str]:
    """The chunks YourBench's chunking stage makes of ``text`` (its own function, no overlap)."""
    from yourbench.utils.chunking_utils import split_into_token_chunks

    return split_into_token_chunks(text, chunk_tokens, overlap=0, encoding_name=ENCODING) if text.strip() else []


# Where a sentence or a list item ends: a full stop (not after a lone initial or a number's decimal point) before
# a space and a capital, a digit or an opening quote or bracket; a line that ends with one; a blank line; a newline
# before a list marker.
SENTENCE_END = re.compile(r"(?<=[.!?…:;])[\"'»”)\]]?(?=\s+[\"'«“(\[]?[A-ZÀ-ÖØ-Þ0-9])|(?<=[.!?…])\s*$|\n\s*\n"
                          r"|(?=\n\s*(?:[-•*–]|\d+[.)]|\([a-z0-9]+\))\s)", re.MULTILINE)
MAX_EXTENSION = 400  # characters a chunk may borrow from its neighbours to end on a boundary


def whole_sentences(chunks: list[str], i: int) -> str:
    """Chunk ``i`` extended to whole sentences and list items: back into the previous chunk to the start of the
    sentence it opens in, forward into the next one to the end of the sentence it stops in (at most
    :data:`MAX_EXTENSION` characters each way; a chunk that already starts or ends on a boundary keeps it).

    YourBench cuts chunks by token count, mid-word and mid-list: the generator then copies the cut ("September
    201" for "September 2016", a list that begins mid-way), and the candidates and the judge read it too.
    """
    text = chunks[i]
    if i > 0:  # (a chunk often starts with a space: a token boundary, not a sentence's)
        before = chunks[i - 1][-MAX_EXTENSION:]
        joined = before + text  # boundaries where the text continues ("4." then "3}") are not boundaries
        start = [0] if i == 1 and len(chunks[0]) <= MAX_EXTENSION else []  # the document's start is a boundary
        ends = start + [m.end() for m in SENTENCE_END.finditer(joined) if m.end() <= len(before)]
        if ends and ends[-1] < len(before):
            text = before[ends[-1]:].lstrip() + text
    continues = i + 1 < len(chunks) and re.match(r"[0-9a-zà-ÿ,;:)\]}%]", chunks[i + 1])  # "4." + "2}": cut
    if i + 1 < len(chunks) and (continues or not re.search(r"[.!?…]\s*$", text)):
        after = chunks[i + 1][:MAX_EXTENSION]
        found = SENTENCE_END.search(text[-1:] + after, 1)
        if found:
            text = text + after[:found.end() - 1]
    return text.strip()


# Figure and table debris: the text layer of a chart or a badly extracted table, read line by line (axis ticks,
# legend entries, letter-spaced labels, runs of numbers). Runs of such lines are taken out of an excerpt before
# the generator reads it; a chunk that is mostly debris is not read at all.
DEBRIS_RUN = 3  # consecutive debris lines make a run (a paragraph's short last line is not one)
MOSTLY_DEBRIS = 0.6  # a chunk whose debris runs are more than this share of its text is not read


def is_debris(line: str) -> bool:
    """A line of figure or table debris: no more than three words and no sentence end, or mostly digits and
    symbols, or letter-spaced ("A d dit i o n a l e"). A table row kept as a table ("| a | b |") is not."""
    line = line.strip()
    if not line or (line.startswith("|") and line.endswith("|")):
        return False
    words = line.split()
    letters = sum(c.isalpha() for c in line)
    spaced = len(words) >= 4 and sum(len(w) <= 2 for w in words) / len(words) > 0.6
    return spaced or letters < 0.4 * len(line) or (len(words) <= 3 and not re.search(r"[.!?:;]$", line))


def without_debris(text: str) -> str:
    """``text`` without its runs of :data:`DEBRIS_RUN` or more debris lines (blank lines inside a run count in it)."""
    lines = text.split("\n")
    flags = [is_debris(line) for line in lines]
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        if not flags[i]:
            i += 1
            continue
        j, count = i, 0
        while j < len(lines) and (flags[j] or not lines[j].strip()):
            count += flags[j]
            j += 1
        if count >= DEBRIS_RUN:
            keep[i:j] = [False] * (j - i)
        i = j
    return "\n".join(line for line, kept in zip(lines, keep) if kept).strip()


def mostly_debris(text: str) -> bool:
    return len(without_debris(text)) < (1 - MOSTLY_DEBRIS) * len(text.strip())


def excerpt(chunks: list[str], i: int) -> str:
    """What the generator, the candidates and the judge read of chunk ``i``: whole sentences, no debris runs."""
    return without_debris(whole_sentences(chunks, i))


def summary_excerpt(text: str, budget_tokens: int, passages: int = 8) -> tuple[str, float]:
    """At most ``budget_tokens`` of ``text``: all of it, or ``passages`` evenly spaced passages.

    Returns the excerpt and the share of the document's tokens it holds.
    """
    encoder = _encoder()
    tokens = encoder.encode(text, disallowed_special=())
    if len(tokens) <= budget_tokens:
        return text, 1.0
    passages = max(1, min(passages, budget_tokens // 64))
    size = budget_tokens // passages
    step = (len(tokens) - size) / max(passages - 1, 1)  # the first passage opens the text, the last one ends it
    parts = [encoder.decode(tokens[round(k * step):round(k * step) + size]).strip() for k in range(passages)]
    return PASSAGE_BREAK.join(parts), passages * size / len(tokens)


def summary_calls(excerpt: str, window_tokens: int, overlap: int) -> int:
    """How many calls YourBench's summarization makes for ``excerpt`` (its ``_build_calls``), plus the combine call."""
    from yourbench.utils.chunking_utils import split_into_token_chunks

    if len(_encoder().encode(excerpt, disallowed_special=())) <= window_tokens:
        return 1
    windows = len(split_into_token_chunks(excerpt, window_tokens, overlap, ENCODING))
    return windows + (1 if windows > 1 else 0)


@dataclass(frozen=True)
class Plan:
    """What generation will read and how many generator calls it will make."""

    pages: int | None  # PDF pages; None for text formats
    tokens: int  # of the whole extracted text
    chunks: int  # chunks of the whole text
    summary_calls: int
    summary_coverage: float  # share of the document the summary reads
    single_hop: list[int] = field(default_factory=list)  # chunk indices, in selection order
    multi_hop: list[tuple[int, int]] = field(default_factory=list)  # chunk index pairs, each in document order
    # chunks never read: mostly figure or table debris, or (answer-first) nothing to ask about
    skipped: list[int] = field(default_factory=list)

    @property
    def question_calls(self) -> int:
        return len(self.single_hop) + len(self.multi_hop)

    @property
    def calls(self) -> int:
        return self.summary_calls + self.question_calls

    def thirds(self) -> tuple[int, int, int]:
        """How many selected chunks lie in the first, middle and last third of the document."""
        counts = [0, 0, 0]
        for index in self.single_hop:
            counts[min(3 * index // max(self.chunks, 1), 2)] += 1
        return counts[0], counts[1], counts[2]


def question_calls_wanted(target: int, questions_per_chunk: int, overdraw: float) -> int:
    return max(1, math.ceil(overdraw * target / questions_per_chunk))


def reading_order(n_chunks: int, seed: int, skip=()) -> list[int]:
    """The spread order of the chunks, less those never read (:func:`mostly_debris`)."""
    skip = set(skip)
    return [i for i in spread_order(n_chunks, seed) if i not in skip]


def choose(n_chunks: int, calls: int, multi_hop_share: float, seed: int,
           skip=()) -> tuple[list[int], list[tuple[int, int]]]:
    """Single-hop chunks and multi-hop pairs for ``calls`` question-generation calls over ``n_chunks`` chunks.

    Multi-hop pairs are consecutive elements of the spread order (two distant
    parts of the document), taken from the chunks single-hop already reads, so
    that every chunk a question cites is one YourBench keeps.
    """
    return _choose(reading_order(n_chunks, seed, skip), calls, multi_hop_share)


def _choose(order: list[int], calls: int, multi_hop_share: float) -> tuple[list[int], list[tuple[int, int]]]:
    multi = round(multi_hop_share * calls)
    single = order[:min(calls - multi, len(order))]
    multi = min(multi, len(single) // 2)
    pairs = [tuple(sorted((order[2 * j], order[2 * j + 1]))) for j in range(multi)]
    return single, pairs


def first_read(n_chunks: int, calls: int, multi_hop_share: float, seed: int,
               skip=()) -> dict[int | tuple[int, int], int]:
    """For each single-hop chunk and multi-hop pair that :func:`choose` reads with ``calls`` calls, the
    smallest number of calls whose plan reads it too.

    Plans are nested (a plan with more calls reads everything a smaller one reads), so ordering questions by
    this step orders them by the generator call they came from in a way that does not change when the target
    is raised: the questions a smaller plan produced come first, in the same order, and the new calls' after.
    """
    order = reading_order(n_chunks, seed, skip)
    found: dict[int | tuple[int, int], int] = {}
    for step in range(1, calls + 1):
        single, pairs = _choose(order, step, multi_hop_share)
        for read in (*single, *pairs):
            found.setdefault(read, step)
    return found


def plan(text: str, pages: int | None, *, target: int, questions_per_chunk: int, overdraw: float,
         chunk_tokens: int, multi_hop: bool, multi_hop_share: float, seed: int,
         summary_budget: int, summary_window: int, summary_overlap: int, calls: int | None = None,
         askable: Callable[[str], bool] | None = None) -> Plan:
    """The plan for ``target`` questions (or for ``calls`` question-generation calls, when given).

    ``askable(excerpt)``: whether a chunk's excerpt (:func:`excerpt`) can yield a question at all; a chunk that
    cannot (answer-first generation: no sentence of prose with an answer in it — a cover page, a reference
    list, a list of links) is skipped like one of figure debris, and never sent to the generator.
    """
    chunks = chunk_texts(text, chunk_tokens)
    skipped = [i for i, chunk in enumerate(chunks)
               if mostly_debris(chunk) or (askable is not None and not askable(excerpt(chunks, i)))]
    calls = calls or question_calls_wanted(target, questions_per_chunk, overdraw)
    single, pairs = choose(len(chunks), calls, multi_hop_share if multi_hop else 0.0, seed, skipped)
    summarized, coverage = summary_excerpt(text, summary_budget)
    return Plan(pages=pages, tokens=len(_encoder().encode(text, disallowed_special=())), chunks=len(chunks),
                summary_calls=summary_calls(summarized, summary_window, summary_overlap), summary_coverage=coverage,
                single_hop=single, multi_hop=pairs, skipped=skipped)
