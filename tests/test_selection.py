"""Which chunks generation reads: bounded by the questions wanted, spread over the document, nested."""

import pytest

from pipeline.questions import selection


def test_van_der_corput_points():
    assert [selection.van_der_corput(i) for i in range(6)] == [0, 0.5, 0.25, 0.75, 0.125, 0.625]


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000])
def test_spread_order_is_a_seeded_permutation(n):
    order = selection.spread_order(n, seed=3)
    assert sorted(order) == list(range(n))
    assert order == selection.spread_order(n, seed=3)
    if n == 1000:  # the seed rotates the order (two seeds in the same 1/n of a turn give the same one)
        assert order != selection.spread_order(n, seed=4)


@pytest.mark.parametrize("k", [3, 6, 9, 12, 30])
def test_every_prefix_of_the_order_covers_the_document(k):
    n = 1000
    prefix = sorted(selection.spread_order(n, seed=42)[:k])
    gaps = [b - a for a, b in zip(prefix, prefix[1:])] + [prefix[0] + n - prefix[-1]]  # circular
    assert max(gaps) <= 2 * n / k + 1  # no stretch of the document wider than 2/k is left unread
    thirds = [sum(1 for i in prefix if third * n / 3 <= i < (third + 1) * n / 3) for third in range(3)]
    assert min(thirds) >= 1


def test_calls_follow_the_target_not_the_document():
    # 24 questions x 1.5 overdraw / 3 per call = 12 calls, a quarter of them multi-hop pairs
    single, pairs = selection.choose(500, selection.question_calls_wanted(24, 3, 1.5), 0.25, seed=42)
    assert len(single) == 9 and len(pairs) == 3
    assert all(a in single and b in single and a < b for a, b in pairs)
    single_small, pairs_small = selection.choose(4, 12, 0.25, seed=42)  # a short document: every chunk
    assert sorted(single_small) == [0, 1, 2, 3] and len(pairs_small) == 2


def test_a_lower_target_reads_a_subset_and_a_higher_one_only_adds():
    low = selection.choose(300, 6, 0.25, seed=7)
    mid = selection.choose(300, 12, 0.25, seed=7)
    high = selection.choose(300, 20, 0.25, seed=7)
    assert set(low[0]) <= set(mid[0]) <= set(high[0])
    assert set(low[1]) <= set(mid[1]) <= set(high[1])


def test_summary_excerpt_is_bounded_and_spread():
    text = " ".join(f"w{i}" for i in range(20000))
    excerpt, coverage = selection.summary_excerpt(text, 1000, passages=4)
    tokens = len(selection._encoder().encode(excerpt))
    assert tokens <= 1000 + 40 and excerpt.count(selection.PASSAGE_BREAK.strip()) == 3
    passages = excerpt.split(selection.PASSAGE_BREAK)
    assert passages[0].startswith("w0 ") and passages[-1].endswith("w19999")  # the start and the end are read
    assert 0 < coverage < 0.1
    short, full = selection.summary_excerpt("A short report.", 1000)
    assert short == "A short report." and full == 1.0


def test_summary_calls_match_yourbench_windows():
    assert selection.summary_calls("short text", 2048, 64) == 1
    long = " ".join(f"w{i}" for i in range(3000))  # ~6,000 tokens: 3 windows + 1 combine call
    windows = -(-len(selection._encoder().encode(long)) // (2048 - 64))
    assert selection.summary_calls(long, 2048, 64) == windows + 1


def test_first_read_is_the_call_count_at_which_the_plan_first_reads_a_chunk_or_pair():
    order = selection.spread_order(300, seed=7)
    found = selection.first_read(300, 3, 0.25, seed=7)
    # 1 call: one chunk; 2 calls: round(0.5) = 0 pairs, two chunks; 3 calls: round(0.75) = 1 pair of those two
    assert found == {order[0]: 1, order[1]: 2, tuple(sorted(order[:2])): 3}


def test_first_read_covers_the_plan_and_each_step_adds_what_it_names():
    found = selection.first_read(300, 12, 0.25, seed=7)
    single, pairs = selection.choose(300, 12, 0.25, seed=7)
    assert set(found) == {*single, *pairs}
    for read, step in found.items():
        at, before = selection.choose(300, step, 0.25, seed=7), selection.choose(300, step - 1, 0.25, seed=7)
        assert read in (*at[0], *at[1]) and read not in (*before[0], *before[1])


def test_an_excerpt_ends_on_whole_sentences_and_list_items():
    """Issue 28: chunks cut by token count gave golds such as "September 201" and lists read from mid-way."""
    chunks = ["The guide was published in Sept", "ember 2016 by the county team. It covers three", " settings.\n"
              "- hospitals;\n- clinics;\n- care homes.\nTraining is yearly."]
    assert selection.whole_sentences(chunks, 1) == "The guide was published in September 2016 by the county team. " \
                                                   "It covers three settings."
    # a decimal number cut at the seam ("4." + "3}") is no sentence end
    cut = ["Glaciers lost 42% {WGI 4.1, 4.", "3}\nIce volume fell by 48%. More"]
    assert selection.whole_sentences(cut, 0) == "Glaciers lost 42% {WGI 4.1, 4.3}\nIce volume fell by 48%."
    assert selection.whole_sentences(cut, 1).startswith("Glaciers lost 42%")
    assert selection.whole_sentences(["Only one chunk, cut mid"], 0) == "Only one chunk, cut mid"


def test_figure_debris_is_taken_out_and_a_chunk_of_debris_is_not_read():
    figure = "140\n120\n100\n80\nKelder\nMorrow\n²mk\nA d dit i o n a l e"
    prose = "Ice volume has declined by an estimated 48% since 1973, the assessment finds."
    assert selection.without_debris(f"{prose}\n\n{figure}\n\nSnow cover has shortened by 19 days.") == \
        f"{prose}\n\nSnow cover has shortened by 19 days."
    table = "| Scenario | 2050 |\n|---|---|\n| Low | 9 |"  # a table kept as a table is not debris
    assert selection.without_debris(table) == table
    assert selection.mostly_debris(f"{figure}\n{figure}\nA caption line.") and not selection.mostly_debris(prose)
    # the plan never reads a chunk of debris
    single, _ = selection.choose(8, 8, 0.0, seed=1, skip=[2, 5])
    assert set(single) == {0, 1, 3, 4, 6, 7}
    assert set(selection.first_read(8, 8, 0.0, seed=1, skip=[2, 5])) == {0, 1, 3, 4, 6, 7}


def test_a_chunk_with_nothing_to_ask_about_is_never_read(monkeypatch):
    """Answer-first generation: a chunk whose excerpt offers no answer (a reference list, links) is skipped."""
    chunks = ["In 2025 the basin received 812 millimetres of rainfall, 14 percent below the long-term average.",
              "Smith, J. et al. (2019). Rainfall trends. Journal of Hydrology 12, pp. 4-9.",
              "The new pumping station at Bexley cut the electricity bill of the Authority by 22 percent."]
    monkeypatch.setattr(selection, "chunk_texts", lambda text, size: chunks)
    monkeypatch.setattr(selection, "summary_excerpt", lambda text, budget: (text, 1.0))
    monkeypatch.setattr(selection, "summary_calls", lambda excerpt, window, overlap: 1)
    from pipeline.questions.answer_spans import choose

    settings = dict(target=6, questions_per_chunk=3, overdraw=1.5, chunk_tokens=256, multi_hop=False,
                    multi_hop_share=0.0, seed=1, summary_budget=1000, summary_window=1000, summary_overlap=0)
    text = "\n\n".join(chunks)
    plan = selection.plan(text, None, askable=lambda excerpt: bool(choose(excerpt, 1)), **settings)
    assert plan.skipped == [1] and sorted(plan.single_hop) == [0, 2]
    assert selection.plan(text, None, **settings).skipped == []  # question-first generation reads it
