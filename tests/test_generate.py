"""Question generation set-up: the YourBench config we write, the schema, and question selection."""

import json

import pandas as pd
import pytest
import yaml

from pipeline import config
from pipeline.questions import generate
from pipeline.questions.yourbench_stages import question_schema, yourbench_config


def test_yourbench_accepts_the_config_we_write(tmp_path, monkeypatch):
    from yourbench.conf.loader import load_config

    cfg = config.load("default")
    path = tmp_path / "yourbench.yaml"
    path.write_text(yaml.safe_dump(yourbench_config(cfg, "http://127.0.0.1:9/v1", tmp_path / "dataset", tmp_path)))
    assert "sk-" not in path.read_text()  # YourBench only ever sees the proxy's placeholder, from the environment
    monkeypatch.setenv("EVAL_GENERATOR_API_KEY", "sk-proxy-local")
    loaded = load_config(path)
    name = cfg.generator.name
    assert loaded.hf_configuration.push_to_hub is False and loaded.hf_configuration.upload_card is False
    assert loaded.hf_configuration.local_dataset_dir == str(tmp_path / "dataset")
    assert loaded.model_roles["summarization"] == [name]
    # answer-first single-hop calls: a reply of {answer, question} objects, up to one per answer offered
    assert cfg.questions.answer_first
    assert loaded.model_roles["single_hop_question_generation"] == [f"{name}-answers"]
    assert loaded.model_roles["multi_hop_question_generation"] == [f"{name}-json"]
    answers_model = next(m for m in loaded.model_list if m.model_name == f"{name}-answers")
    schema = answers_model.extra_parameters["response_format"]["schema"]
    assert schema["minItems"] == schema["maxItems"] == cfg.questions.questions_per_chunk and list(schema["items"]["properties"]) == [
        "answer", "question"]  # the answer first
    assert "{text_chunk}" in loaded.pipeline.single_hop_question_generation.single_hop_user_prompt
    json_model = next(m for m in loaded.model_list if m.model_name == f"{name}-json")
    assert json_model.api_key == "sk-proxy-local" and json_model.base_url == "http://127.0.0.1:9/v1"
    assert json_model.extra_parameters["response_format"]["schema"]["minItems"] == cfg.questions.questions_per_chunk
    question_first = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"answer_first": False})})
    path.write_text(yaml.safe_dump(yourbench_config(question_first, "http://127.0.0.1:9/v1", tmp_path / "dataset",
                                                    tmp_path)))
    assert load_config(path).model_roles["single_hop_question_generation"] == [f"{name}-json"]
    assert loaded.pipeline.chunking.l_max_tokens == cfg.questions.chunk_tokens
    assert loaded.pipeline.multi_hop_question_generation.run
    assert "<final_summary>" in loaded.pipeline.summarization.summarization_user_prompt


@pytest.mark.parametrize("answer_first", [True, False])
@pytest.mark.parametrize("language, expected", [("en", "in English"), ("fr", "en français"), ("de", "in German")])
def test_the_generator_is_asked_in_the_documents_language(tmp_path, monkeypatch, language, expected, answer_first):
    """Our prompts reach YourBench as text (not as file names), in the document's language where a translation
    exists, else in English naming the language; YourBench's own long prompt is not used."""
    from yourbench.conf.loader import load_config

    cfg = config.load("default")
    cfg = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"answer_first": answer_first})})
    path = tmp_path / "yourbench.yaml"
    path.write_text(yaml.safe_dump(yourbench_config(cfg, "http://127.0.0.1:9/v1", tmp_path / "d", tmp_path, language)))
    monkeypatch.setenv("EVAL_GENERATOR_API_KEY", "sk-proxy-local")
    loaded = load_config(path)
    single = loaded.pipeline.single_hop_question_generation
    assert expected in single.additional_instructions and "{" not in single.additional_instructions
    assert single.single_hop_system_prompt.startswith(("You write", "Tu écris"))
    assert expected in single.single_hop_system_prompt
    assert (loaded.pipeline.multi_hop_question_generation.multi_hop_system_prompt == single.single_hop_system_prompt) \
        is not answer_first  # multi-hop calls keep the question-first prompt
    summary = loaded.pipeline.summarization.summarization_user_prompt
    assert "{document}" in summary and "{language}" not in summary


def test_ligatures_of_a_pdf_text_layer_are_spelled_out():
    from pipeline.questions.yourbench_stages import LIGATURES

    assert "\ufb01eld \ufb02ood e\ufb03cient".translate(LIGATURES) == "field flood efficient"


def test_question_schema_asks_for_yourbench_fields():
    schema = question_schema(3)
    assert schema["minItems"] == schema["maxItems"] == 3
    assert set(schema["items"]["required"]) == {"question_type", "question", "answer", "estimated_difficulty",
                                                "citations"}


def _rows(questions: list[str], gold: str = "an answer") -> list[dict]:
    # each question its own gold answer (two questions with one gold answer: one of them is rejected)
    return [{"question": q, "ground_truth_answer": f"{gold} {k}", "kind": "single_hop", "question_category": "factual",
             "estimated_difficulty": 3, "citations": ["x"], "chunk_ids": ["c0"], "chunks": ["text"],
             "document_summary": "s", "document_id": "d", "question_generating_model": "g", "citation_score": 90.0}
            for k, q in enumerate(questions)]


def _kept_and_rejected(questions: list[str], cfg):
    import numpy as np

    from pipeline.questions.generate import candidates
    from pipeline.questions.validate import validate

    def embed(texts):  # every question its own direction: no duplicates by meaning here
        return np.eye(len(texts))

    return validate(candidates(pd.DataFrame(_rows(questions))), cfg, embed=embed,
                    ask_support=lambda row: (True, "<final_answer>1</final_answer>"))


def test_selection_drops_unusable_and_duplicates_and_caps_the_count():
    cfg = config.load("default")
    questions = [f"What is the value of item {i}?" for i in range(40)]
    questions += [questions[0], "Why?", "The value of item 3 is high."]
    kept, rejected = _kept_and_rejected(questions, cfg)
    assert len(kept) == cfg.questions.target and kept["question_id"].is_unique
    assert sorted(rejected["rejection"]) == ["duplicate", "not a question", "not a question"]
    again, _ = _kept_and_rejected(questions, cfg)
    assert kept["question_id"].tolist() == again["question_id"].tolist()  # same seed, same questions


def _yourbench_dataset(path, questions: list[str]):
    """A YourBench output folder in miniature: 2 chunks (2 single-hop calls) of which one gave questions."""
    from datasets import Dataset, DatasetDict

    DatasetDict({
        "chunked": Dataset.from_list([{"chunks": [{"chunk_id": "c0"}, {"chunk_id": "c1"}], "multihop_chunks": []}]),
        "single_hop_questions": Dataset.from_list([{"raw_response": "one reply", "question": q} for q in questions]),
        "prepared_lighteval": Dataset.from_list(_rows(questions)),
    }).save_to_disk(str(path))


def test_fewer_usable_questions_than_the_minimum_stops_with_the_reasons(tmp_path):
    from pipeline.errors import UserError
    from pipeline.questions.generate import _generation_stats, write_questions

    cfg = config.load("default")  # min_usable 8
    questions = [f"What is the value of item {i}?" for i in range(5)] + ["What is the value of item 0?", "Why?"]
    _yourbench_dataset(tmp_path / "dataset", questions)
    kept, rejected = _kept_and_rejected(questions, cfg)
    with pytest.raises(UserError) as err:
        write_questions(kept, rejected, _generation_stats(tmp_path / "dataset"), "report.pdf", tmp_path, cfg)
    message = str(err.value)
    assert f"only 5 usable questions from report.pdf (need {cfg.questions.min_usable})" in message
    assert "1 of 2 generation calls gave no parseable questions" in message
    assert "of 7 generated, validation rejected 2 (1 duplicate, 1 not a question)" in message
    assert "generation.json" in message and "rejected.parquet" in message
    assert not (tmp_path / "questions.parquet").exists()  # nothing that looks finished
    stats = json.loads((tmp_path / "generation.json").read_text())
    assert stats["usable"] == 5 and stats["generated"] == 7 and stats["rejected_by_reason"]["duplicate"] == 1
    assert len(pd.read_parquet(tmp_path / "rejected.parquet")) == 2


def test_enough_usable_questions_are_kept(tmp_path):
    from pipeline.questions.generate import _generation_stats, write_questions

    cfg = config.load("default")
    questions = [f"What is the value of item {i}?" for i in range(30)]
    _yourbench_dataset(tmp_path / "dataset", questions)
    kept, rejected = _kept_and_rejected(questions, cfg)
    out = write_questions(kept, rejected, _generation_stats(tmp_path / "dataset"), "report.pdf", tmp_path, cfg)
    assert len(pd.read_parquet(out)) == cfg.questions.target


def test_generation_is_planned_by_questions_wanted_not_by_pages(tmp_path):
    """PDFs of 3, 40 and 300 pages, ingested by YourBench: about the same number of generator calls."""
    from documents import make_pdf

    from pipeline.progress import SpeedLog
    from pipeline.questions.generate import plan_document, plan_line

    cfg = config.load("default")
    plans = {}
    for pages in (3, 40, 300):
        doc = make_pdf(tmp_path / f"report-{pages}.pdf", pages, seed=pages)
        plans[pages] = plan_document(doc, tmp_path / f"run-{pages}", cfg)
    calls = [p.calls for p in plans.values()]
    assert max(calls) <= 1.2 * min(calls), calls
    for pages, plan in plans.items():
        assert plan.pages == pages and plan.chunks >= 9
        wanted = -(-cfg.questions.target * cfg.questions.overdraw // cfg.questions.questions_per_chunk)
        readable = plan.chunks - len(plan.skipped)  # single-hop calls read one chunk each
        assert plan.question_calls == (wanted if cfg.questions.multi_hop else min(wanted, readable)), (pages, plan)
        assert min(plan.thirds()) >= 2, (pages, plan.thirds())  # first, middle and last third all read
        assert plan.summary_calls == 1
    assert plans[300].chunks > 60 * plans[3].chunks
    assert plans[300].summary_coverage < 0.02 and plans[3].summary_coverage > 0.5
    line = plan_line(plans[300], cfg, SpeedLog(tmp_path / "speed.json"))
    assert line.startswith(f"generate: 300 pages, {plans[300].tokens:,} tokens, {plans[300].chunks} chunks")
    assert f"{plans[300].calls} generator calls planned" in line and "no time estimate yet" in line
    speed = SpeedLog(tmp_path / "speed.json")
    speed.record(cfg.generator.name, "single_hop", 600.0, 10)  # 60 s per call measured earlier
    assert "about " in plan_line(plans[300], cfg, speed)


def test_questions_depend_on_the_judge_model_but_not_on_its_grading_prompt():
    """The gold-answer check uses the judge model: a new model regenerates, a new grading prompt does not; the
    round trip asks the generator, so without the gold and fit checks the judge changes no question."""
    default = config.load("default")
    default = default.model_copy(update={"questions": default.questions.model_copy(update={"fit_check": False})})
    assert generate.generate_key(default.model_copy(update={"judge": default.judge.model_copy(
        update={"model": "gemma-3-270m"})})) == generate.generate_key(default)
    cfg = default.model_copy(update={"questions": default.questions.model_copy(update={"check_gold": True})})
    stricter = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"prompt": "qwq32b_binary.txt"})})
    other_model = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"model": "gemma-3-270m"})})
    assert generate.generate_key(stricter) == generate.generate_key(cfg)
    assert generate.generate_key(other_model) != generate.generate_key(cfg)


def test_each_question_gets_the_plan_step_of_the_call_it_came_from():
    """YourBench names chunk i of a document <document_id>_<i>; a multi-hop question cites its pair's two chunks."""
    import math

    from pipeline.questions.generate import candidates

    rows = _rows(["From chunk 7?", "From the pair 3 and 7?", "From a chunk of unknown name?"])
    rows[0]["chunk_ids"], rows[1]["chunk_ids"] = ["my_doc_7"], ["my_doc_3", "my_doc_7"]
    steps = candidates(pd.DataFrame(rows), {7: 1, 3: 2, (3, 7): 3})["plan_step"].tolist()
    assert steps[:2] == [1.0, 3.0] and math.isnan(steps[2])


def test_a_top_up_is_planned_from_what_the_run_kept_so_far():
    q = config.load("default").questions.model_copy(update={"questions_per_chunk": 3, "overdraw": 1.5})
    # 19 kept from 12 calls (1.58 a call): 5 missing need ceil(1.5 x 5 / 1.583) = 5 calls, not the nominal 3
    assert generate.top_up_calls(5, 19, 12, q) == 5
    assert generate.top_up_calls(2, 22, 15, q) == 3  # ceil(1.5 x 2 / 1.467)
    assert generate.top_up_calls(5, 0, 12, q) == 3  # nothing kept yet: the nominal 3 a call, ceil(1.5 x 5 / 3)
    assert generate.top_up_calls(1, 100, 10, q) == 1  # never planned above the questions a call asks for


def test_a_plan_that_grows_far_past_its_first_estimate_says_so_with_the_choices(tmp_path):
    """Issue 28: a French 40-page report kept 5 questions of 36 and the plan asked for 61 more calls (ETA 1h43)."""
    from pipeline.progress import SpeedLog
    from pipeline.questions import selection
    from pipeline.questions.generate import longer_than_planned

    cfg = config.load("default")
    first = selection.Plan(pages=40, tokens=1, chunks=200, summary_calls=1, summary_coverage=0.1,
                           single_hop=list(range(9)), multi_hop=[(0, 1), (2, 3), (4, 5)])
    more = selection.Plan(pages=40, tokens=1, chunks=200, summary_calls=1, summary_coverage=0.1,
                          single_hop=list(range(55)), multi_hop=[(0, 1)] * 18)
    speed = SpeedLog(tmp_path / "speed.json")
    assert longer_than_planned(first, first, 5, speed, cfg, "rapport.pdf") is None
    warning = longer_than_planned(first, more, 5, speed, cfg, "rapport annuel.pdf")
    assert "only 5 questions have passed so far" in warning and "6.1x the 12 first planned" in warning
    assert "`make report DOC='rapport annuel.pdf' QUESTIONS=8`" in warning  # no fewer than min_usable
