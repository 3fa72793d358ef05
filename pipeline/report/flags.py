"""Questions a human should look at before trusting the numbers, picked from the per-question details.

Three lists, each a plain function of ``details`` (one row per model x
question) so that the report section and its tests read the same rows:

* questions every candidate failed: a wrong gold answer or an over-strict
  judge is as likely as a hard question;
* questions whose gold answer validation doubted but kept (the ``doubt`` column
  written by :mod:`pipeline.questions.validate`);
* answers where the judge's verdict and the lexical F1 against the gold answer
  disagree sharply: judged correct with almost no word in common, or judged
  wrong while repeating the gold answer nearly word for word.
"""

from __future__ import annotations

import pandas as pd

LOW_F1 = 0.1  # "almost no word in common"
HIGH_F1 = 0.8  # "nearly word for word"


def failed_by_all(details: pd.DataFrame) -> pd.DataFrame:
    """Questions that every candidate with a verdict got wrong (at least two candidates judged)."""
    judged = details[details["status"].eq("judged") & details["verdict"].notna()]
    per_question = judged.groupby("question_id")["verdict"].agg(["sum", "count"])
    ids = per_question[(per_question["sum"] == 0) & (per_question["count"] >= min(2, details["candidate"].nunique()))]
    rows = details[details["question_id"].isin(ids.index)].drop_duplicates("question_id")
    return pd.DataFrame({"Question": rows["question"], "Gold answer": rows["gold"],
                         "Models judged": per_question.loc[rows["question_id"], "count"].to_numpy()})


def doubted_but_kept(details: pd.DataFrame) -> pd.DataFrame:
    if "doubt" not in details:
        return pd.DataFrame(columns=["Question", "Gold answer", "Why"])
    rows = details[details["doubt"].fillna("").ne("")].drop_duplicates("question_id")
    return pd.DataFrame({"Question": rows["question"], "Gold answer": rows["gold"], "Why": rows["doubt"]})


def judge_vs_f1(details: pd.DataFrame) -> pd.DataFrame:
    """Answers whose verdict and lexical F1 disagree sharply."""
    judged = details[details["status"].eq("judged") & details["verdict"].notna() & details["lexical_f1"].notna()]
    lenient = judged[(judged["verdict"] == 1) & (judged["lexical_f1"] < LOW_F1)]
    strict = judged[(judged["verdict"] == 0) & (judged["lexical_f1"] > HIGH_F1)]
    rows = pd.concat([lenient.assign(why="judged correct, F1 below 0.1"),
                      strict.assign(why="judged wrong, F1 above 0.8")])
    return pd.DataFrame({"Model": rows["candidate"], "Question": rows["question"], "Gold answer": rows["gold"],
                         "Answer": rows["prediction"].astype(str).str.replace("\n", " "),
                         "F1": rows["lexical_f1"].map("{:.2f}".format), "Why": rows["why"]})


def flagged(details: pd.DataFrame) -> set[str]:
    """Ids of the questions on any of the three lists (the page's "flagged" filter)."""
    questions = pd.concat([table["Question"] for table in (failed_by_all(details), doubted_but_kept(details),
                                                           judge_vs_f1(details))])
    return set(details.loc[details["question"].isin(questions), "question_id"])
