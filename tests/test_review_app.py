"""The review app (make review): one key per label, written at once, blind to the verdict and the model,
resuming where it stopped, even after a kill."""

import asyncio
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from test_review_labels import CANDIDATES, JUDGE_OUTPUT, make_run

from pipeline.review import labels
from pipeline.review.app import Review, ReviewApp, gold_span, highlighted, mask_names

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"c": "correct", "w": "wrong", "g": "gold_wrong", "u": "unclear", "s": "skip"}


def test_the_gold_answer_is_found_in_the_excerpt_where_it_is_written():
    excerpt = ("The plant runs 12   pumps\naround the clock. Built in 1,998; budget 4,5 million euros (12 %). "
               "Audited by the Regional Court in the courtyard.")
    for gold, found in (("12 pumps", "12   pumps"), ("1998", "1,998"), ("4.5 million euros.", "4,5 million euros"),
                        ("the regional court", "the Regional Court"), ("12%", "12 %"),
                        ("pumps around", "pumps\naround")):
        span = gold_span(excerpt, gold)
        assert span and excerpt[span[0]:span[1]] == found, gold
    assert gold_span(excerpt, "Regional Courthouse") is None  # not a part of a word
    assert gold_span(excerpt, "unrelated words") is None and gold_span(excerpt, "") is None
    assert gold_span(excerpt, "3 pumps") is None  # a number is not a part of another one
    content = highlighted(excerpt, "12 pumps")
    assert content.plain == excerpt and [(s.start, s.end) for s in content.spans] == [(15, 25)]
    assert highlighted(excerpt, "nowhere").spans == []


def test_model_names_are_masked_in_what_the_labels_bought():
    line = "alpha-model is now told apart from alpha-model-2 (better by 12 points); beta-model: not yet"
    assert mask_names(line, ["alpha-model", "beta-model", "alpha-model-2"]) == \
        "model A is now told apart from model C (better by 12 points); model B: not yet"


def screen_text(app, bought: bool = True) -> str:
    """What is on the screen now, and everything the widgets hold (scrolled out of view included); without
    the line of what the labels bought (someone else's words) unless ``bought``."""
    from textual.widgets import Static

    skip = set() if bought else set(range(app.query_one("#bought").region.y,
                                          app.query_one("#bought").region.bottom))
    shown = "\n".join(s.text for y, s in enumerate(app.screen._compositor.render_strips()) if y not in skip)
    return shown + "\n" + "\n".join(str(w.visual) for w in app.query(Static) if bought or w.id != "bought")


def label_lines(run_dir: Path) -> list[dict]:
    path = labels.labels_path(run_dir)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_each_key_writes_its_label_at_once_blind_and_a_new_review_continues(tmp_path):
    run_dir, cfg, _ = make_run(tmp_path)
    items = labels.sample(run_dir, cfg, 9).to_dict("records")

    def check_screen(texts: tuple[str, str], item: dict | None, labelled: int) -> None:
        text, without_bought = texts
        assert f"{labelled} of {len(items)} labelled" in text
        for name in CANDIDATES:  # nowhere, the line of what the labels bought included
            assert name not in text
        assert JUDGE_OUTPUT not in text and "by rule" not in text
        assert "verdict" not in without_bought.lower() and "judge" not in without_bought.lower()
        if item:
            assert item["question"] in text and item["prediction"] in text and item["gold"] in text

    async def review(keys: str) -> list[str]:
        app = ReviewApp(run_dir, cfg, 9, done_hint="See the report.")
        seen = []
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.pause()
            seen.append((screen_text(app), screen_text(app, bought=False)))
            for key in keys:
                before = len(label_lines(run_dir))
                await pilot.press(key)
                assert len(label_lines(run_dir)) == before + 1  # on disk before the next answer shows
                for _ in range(400):  # what the labels bought, worked out in a thread
                    await pilot.pause(0.05)
                    if app.bought_shown == app.bought_asked:
                        break
                seen.append((screen_text(app), screen_text(app, bought=False)))
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code in (None, 0)
        return seen

    seen = asyncio.run(review("cwgs"))
    for i, text in enumerate(seen):
        check_screen(text, items[i], labelled=min(i, 3))
    assert "(1 skipped)" in seen[-1][0]
    written = label_lines(run_dir)
    assert [(r["question_id"], r["candidate"], r["label"], r["source"]) for r in written] == [
        (items[i]["question_id"], items[i]["candidate"], KEYS[k], "review") for i, k in enumerate("cwgs")]
    # a new review starts at the next answer neither labelled nor skipped, and goes to the end
    assert Review(run_dir, cfg, 9).item["prediction"] == items[4]["prediction"]
    seen = asyncio.run(review("cccu"))
    for i, text in enumerate(seen[:-1]):
        check_screen(text, items[4 + i], labelled=3 + i)
    check_screen(seen[-1], None, labelled=len(items) - 1)
    assert "The sample is done: 7 of 8 answers labelled, 1 skipped." in seen[-1][0] and "See the report." in seen[-1][0]
    assert len(label_lines(run_dir)) == 8
    current = labels.current_labels(run_dir)
    assert len(current) == 7 and current["label_value"].notna().sum() == 5


def _spawn(run_dir: Path, profile: Path):
    """``python -m pipeline review`` on a pseudo-terminal of 120x40; a thread reads what it shows."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    python = ROOT / ".venv" / "bin" / "python"
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    env.pop("MAKELEVEL", None)
    proc = subprocess.Popen([str(python if python.exists() else sys.executable), "-m", "pipeline", "review",
                             "--run-dir", str(run_dir), "--profile", str(profile), "--n", "9"],
                            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, start_new_session=True)
    os.close(slave)
    shown = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            shown.extend(chunk)

    threading.Thread(target=read, daemon=True).start()
    return proc, master, shown


def _wait(condition, what: str, shown: bytearray, timeout: float = 15) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}; the screen ended with {bytes(shown[-600:])!r}")
        time.sleep(0.05)


def test_a_killed_review_keeps_every_label_sent_and_a_rerun_resumes(tmp_path):
    run_dir, cfg, profile = make_run(tmp_path)
    items = labels.sample(run_dir, cfg, 9).to_dict("records")
    proc, master, shown = _spawn(run_dir, profile)
    try:
        _wait(lambda: b"0 of 8 labelled" in shown, "the first answer", shown)
        assert items[0]["prediction"].encode() in shown
        for n, key in enumerate("cw", 1):
            os.write(master, key.encode())
            _wait(lambda n=n: len(label_lines(run_dir)) == n, f"label {n} on disk", shown)
        _wait(lambda: b"2 of 8 labelled" in shown, "the third answer", shown)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert [(r["question_id"], r["candidate"], r["label"]) for r in label_lines(run_dir)] == [
        (items[0]["question_id"], items[0]["candidate"], "correct"),
        (items[1]["question_id"], items[1]["candidate"], "wrong")]
    assert len(labels.current_labels(run_dir)) == 2

    proc, master, shown = _spawn(run_dir, profile)
    try:
        _wait(lambda: b"2 of 8 labelled" in shown, "the review to resume", shown)
        _wait(lambda: items[2]["prediction"].encode() in shown, "the third answer", shown)
        assert items[0]["prediction"].encode() not in shown and items[1]["prediction"].encode() not in shown
        os.write(master, b"q")
        assert proc.wait(timeout=15) == 0
        _wait(lambda: b"review: 2 of 8 labelled" in shown, "the closing line", shown, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert len(label_lines(run_dir)) == 2


def test_the_masks_are_drawn_again_for_each_question(tmp_path):
    """Issue 33, 4: "model A/B/C" followed the profile's order, so "model A is now told apart from model B" told a
    reader of the profile which named model was ahead. The letters are a seeded shuffle drawn again per question."""
    from test_review_labels import QUESTIONS

    run_dir, cfg, _ = make_run(tmp_path)
    review = Review(run_dir, cfg, 9)
    drawn = {q: review.masks(q) for q in QUESTIONS}
    assert all(sorted(m) == sorted(CANDIDATES) for m in drawn.values())
    assert review.masks("q-one") == drawn["q-one"]  # seeded: the same question, the same letters
    more = [review.masks(f"q-{i}") for i in range(12)]
    assert len({tuple(m) for m in more}) > 1 and any(m != CANDIDATES for m in more)
    line = "alpha-model is now told apart from beta-model (better by 40 points, 10 to 70)."
    masked = {mask_names(line, m) for m in more}
    assert len(masked) > 1 and not any(name in text for text in masked for name in CANDIDATES)
