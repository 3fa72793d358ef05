"""The review app: one answer at a time, labelled with one key (``make review``).

Shown: the progress ("12 of 40 labelled"), the question, the excerpt with the gold answer's words
highlighted where they are found in it, the gold answer and the model's answer. Never shown: the judge's
verdict and the model's name (the sample carries neither to the screen; :mod:`pipeline.review.labels`).
Keys: c correct, w wrong, g the gold answer is wrong, u the question is unclear, s skip, q quit.

Each label is written to ``labels.jsonl`` (flushed to disk) before the next answer shows, so quitting or a
kill loses nothing, and the next review continues at the first answer neither labelled nor skipped. After
each label one line says what the labels so far have bought (``pipeline.measure.labelled.bought``, when
it exists), the models' names masked by letters drawn again for each question (a seeded shuffle): which model is
"model A" changes from one question to the next, so the line never tells which named model is ahead.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import ClassVar

import pandas as pd
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Static

from pipeline.config import Config
from pipeline.review import labels

_NUMBER_SEP = r"[\s,.'\u00a0\u202f\u2009]?"  # 1200 ~ 1,200 ~ 1 200 ~ 1.200; 3.5 ~ 3,5
_SEPARATORS = ",.'\u00a0\u202f\u2009"


def _gold_pattern(gold: str) -> str | None:
    """A regular expression for ``gold`` as it may be written in the excerpt: any whitespace between
    words, digits with or without thousands separators, either decimal mark, "42 %" for "42%"."""
    words = str(gold or "").strip().rstrip(".;:!?").split()
    if not words:
        return None
    parts = []
    for word in words:
        out = []
        for i, ch in enumerate(word):
            before, after = word[i - 1] if i else "", word[i + 1] if i + 1 < len(word) else ""
            if ch.isdigit():
                out.append(ch + (_NUMBER_SEP if after.isdigit() else ""))
            elif ch in _SEPARATORS and before.isdigit() and after.isdigit():
                out.append(_NUMBER_SEP)
            elif ch == "%":
                out.append(r"\s?%")
            else:
                out.append(re.escape(ch))
        parts.append("".join(out))
    text = " ".join(words)
    return ((r"(?<!\w)" if text[0].isalnum() else "") + r"\s+".join(parts)
            + (r"(?!\w)" if text[-1].isalnum() else ""))


def gold_span(excerpt: str, gold: str) -> tuple[int, int] | None:
    """Where the gold answer is written in the excerpt (case aside), or None."""
    pattern = _gold_pattern(gold)
    found = re.search(pattern, str(excerpt or ""), re.IGNORECASE) if pattern else None
    return found.span() if found else None


def highlighted(excerpt: str, gold: str) -> Content:
    """The excerpt, with the gold answer's span highlighted where it is found."""
    text = str(excerpt or "")
    span = gold_span(text, gold)
    content = Content(text)
    return content.stylize("bold reverse", *span) if span else content


def _bought(answers: pd.DataFrame) -> list[str]:
    """What the labels so far have bought (:func:`pipeline.measure.labelled.bought`); nothing until that
    function exists, and nothing when it fails (the label is written already)."""
    try:
        from pipeline.measure.labelled import bought
    except ImportError:
        return []
    try:
        return [str(line) for line in bought(answers)]
    except Exception:  # noqa: BLE001 - a summary line must never stop a review
        return []


class Review:
    """The review's state, without a screen: the sample in order, where it stands, what to show."""

    def __init__(self, run_dir: Path, cfg: Config, n: int = labels.DEFAULT_N):
        self.run_dir, self.cfg = Path(run_dir), cfg
        self.items = labels.sample(self.run_dir, cfg, n).to_dict("records")
        self.position = self._next(0)
        self.answers = self._answers()
        judged = set(self.answers["candidate"])
        self.names = [c.name for c in cfg.candidates if c.name in judged] + sorted(
            judged - {c.name for c in cfg.candidates})
        self.question = self.item["question_id"] if self.item else ""  # the masks' shuffle follows the question

    def _answers(self) -> pd.DataFrame:
        return labels.labelled_answers(self.run_dir, self.cfg)[
            ["question_id", "candidate", "verdict", "graded_by", "label", "label_value", "sampled"]]

    def _next(self, start: int) -> int:
        return next((i for i in range(start, len(self.items)) if not self.items[i]["done"]), len(self.items))

    @property
    def item(self) -> dict | None:
        """The answer to label now; None when the sample is done."""
        return self.items[self.position] if self.position < len(self.items) else None

    @property
    def labelled(self) -> int:
        return sum(bool(i["labelled"]) for i in self.items)

    @property
    def skipped(self) -> int:
        return sum(i["done"] and not i["labelled"] for i in self.items)

    def progress(self) -> str:
        line = f"{self.labelled} of {len(self.items)} labelled"
        return line + (f" ({self.skipped} skipped)" if self.skipped else "")

    def label(self, label: str) -> dict | None:
        """Write ``label`` for the current answer (on disk before this returns) and move to the next."""
        item = self.item
        if item is None:
            return None
        written = labels.append_label(self.run_dir, item, label, source="review")
        item.update(label=label, done=True, labelled=label != "skip")
        self.answers = self._answers()  # the label, and the random sample it extends
        self.question = item["question_id"]
        self.position = self._next(self.position + 1)
        return written

    def masks(self, question: str | None = None) -> list[str]:
        """The models in the order their masks follow ("model A" first) for ``question`` (the latest labelled
        one): a seeded shuffle drawn again for each question."""
        seed = labels._seed(self.run_dir, self.cfg)
        return sorted(self.names, key=lambda name: labels._draw(seed, "mask", question or self.question, name))

    def bought(self, answers: pd.DataFrame | None = None, question: str | None = None) -> str:
        """One line of what the labels so far (or those of ``answers``, a copy of :attr:`answers`) have
        bought ("" when there is nothing to say), with the models' names masked ("model A", "model B", shuffled
        for each question, :meth:`masks`): the review stays blind to the model."""
        found = _bought(self.answers.copy() if answers is None else answers)
        return mask_names(found[0], self.masks(question)) if found else ""


def mask_names(line: str, names: list[str]) -> str:
    """``line`` with each of ``names`` replaced by "model A", "model B"... (in the order given)."""
    masks = {name: f"model {chr(ord('A') + i) if i < 26 else i + 1}" for i, name in enumerate(names)}
    for name in sorted(masks, key=len, reverse=True):  # "qwen-2" before "qwen"
        line = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])", masks[name], line)
    return line


class ReviewApp(App):
    """Label the sample of a run, one answer at a time."""

    TITLE = "review"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #progress { padding: 0 1; background: $boost; text-style: bold; }
    #item { height: 1fr; padding: 0 1; }
    .heading { margin-top: 1; text-style: bold; color: $text-muted; }
    #bought { padding: 0 1; color: $success; }
    """
    BINDINGS: ClassVar = [
        Binding("c", "label('correct')", "correct"),
        Binding("w", "label('wrong')", "wrong"),
        Binding("g", "label('gold_wrong')", "gold is wrong"),
        Binding("u", "label('unclear')", "question unclear"),
        Binding("s", "label('skip')", "skip"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, run_dir: Path, cfg: Config, n: int = labels.DEFAULT_N, done_hint: str = ""):
        super().__init__()
        self.review = Review(run_dir, cfg, n)
        self.done_hint = done_hint
        self.bought_asked = self.bought_shown = 0  # the latest "bought" line asked for, and shown

    def compose(self) -> ComposeResult:
        yield Static(id="progress", markup=False)
        with VerticalScroll(id="item"):
            yield Static("Question", classes="heading")
            yield Static(id="question", markup=False)
            yield Static("Excerpt (the gold answer highlighted where it is found)", classes="heading",
                         id="excerpt-heading")
            yield Static(id="excerpt", markup=False)
            yield Static("Gold answer", classes="heading")
            yield Static(id="gold", markup=False)
            yield Static("The model's answer", classes="heading")
            yield Static(id="answer", markup=False)
        yield Static(id="bought", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.show()

    def show(self) -> None:
        """Put the current answer (or the end of the sample) on the screen."""
        review, item = self.review, self.review.item
        self.query_one("#progress", Static).update(review.progress())
        if item is None:
            done = (f"The sample is done: {review.labelled} of {len(review.items)} answers labelled"
                    + (f", {review.skipped} skipped." if review.skipped else ".") if review.items
                    else "Nothing to label: no answer of this run's sample was graded by the judge.")
            for name, text in (("question", done), ("excerpt", self.done_hint), ("gold", ""), ("answer", "")):
                self.query_one(f"#{name}", Static).update(text)
            for heading in self.query(".heading"):
                heading.display = False
            return
        self.query_one("#question", Static).update(str(item["question"]))
        self.query_one("#excerpt", Static).update(highlighted(item["chunk_text"], item["gold"]))
        self.query_one("#gold", Static).update(str(item["gold"]))
        answer = str(item["prediction"] or "")
        self.query_one("#answer", Static).update(answer if answer.strip() else "(empty)")
        self.query_one("#item", VerticalScroll).scroll_home(animate=False)

    def action_label(self, label: str) -> None:
        if self.review.label(label) is None:
            self.bell()
            return
        self.show()
        self._ask_bought()

    def _ask_bought(self) -> None:
        """Work out the "bought" line in a thread (it can take seconds on a large run; the label is on disk
        already, and quitting does not wait for it); only the latest one asked for is shown."""
        self.bought_asked += 1
        asked, answers, question = self.bought_asked, self.review.answers.copy(), self.review.question

        def work() -> None:
            line = self.review.bought(answers, question)
            try:
                self.call_from_thread(self._show_bought, asked, line)
            except RuntimeError:  # the app has quit meanwhile
                pass

        threading.Thread(target=work, name="review-bought", daemon=True).start()

    def _show_bought(self, asked: int, line: str) -> None:
        if asked == self.bought_asked:
            self.query_one("#bought", Static).update(line)
            self.bought_shown = asked
