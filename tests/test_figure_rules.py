"""Figure rules before the judge (pipeline/verdicts/figure_rules.py): what a comparison of figures settles."""

import pandas as pd
from fakes import FakeJudgeEndpoint

from pipeline.verdicts import judge
from pipeline.verdicts.figure_rules import ANOTHER_FIGURE, GOLD_WORD_FOR_WORD, figure_verdict


def test_another_figure_is_wrong_and_the_gold_word_for_word_right():
    assert figure_verdict("812 mm", "The rainfall was 146 mm.") == (0, ANOTHER_FIGURE)  # a neighbouring figure
    assert figure_verdict("1,480 charging points", "1 480 charging points.") == (1, GOLD_WORD_FOR_WORD)  # one value
    assert figure_verdict("84 euros", "The average price was 84 euros.") == (1, GOLD_WORD_FOR_WORD)
    assert figure_verdict("84 euros", "84 euros, up from 79 euros.") is None  # another figure too: the judge
    assert figure_verdict("Corvo", "It was recorded at Corvo.") == (1, GOLD_WORD_FOR_WORD)
    assert figure_verdict("Corvo", "Bexley") is None  # no figure either side: the judge
    assert figure_verdict("3 000 ménages", "4 500 ménages", "fr") == (0, ANOTHER_FIGURE)


def test_the_judge_stage_grades_by_figure_rule_when_asked(tmp_path, monkeypatch):
    from fakes import answered_run_dir
    from test_judge_controls import _config

    fake = FakeJudgeEndpoint("ok")  # accepts everything
    try:
        cfg = _config(fake.url, monkeypatch, per_question=0)
        cfg = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"figure_rules": True})})
        run_dir = answered_run_dir(tmp_path)
        questions = pd.read_parquet(run_dir / "questions.parquet")
        first = cfg.candidates[0].name
        gold = questions["gold"].iloc[0]
        path = run_dir / "answers" / f"{first}.parquet"
        answers = pd.read_parquet(path)
        answers.loc[answers["question_id"] == questions["question_id"].iloc[0], "prediction"] = f"It is {gold}."
        answers.to_parquet(path)
        judgements = pd.read_parquet(judge.run(run_dir / "questions.parquet", run_dir, cfg))
        ruled = judgements[judgements["graded_by"] == "figure rule"]
        assert len(ruled) >= 1 and (ruled["rule"] == GOLD_WORD_FOR_WORD).any()
        assert fake.calls == len(judgements) - len(ruled)  # the rest went to the judge
    finally:
        fake.close()
