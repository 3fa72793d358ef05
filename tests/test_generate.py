"""Question generation set-up: the YourBench config we write, the schema, and question selection."""

import json

import pandas as pd
import pytest
import yaml

from pipeline import config
from pipeline.generate import _select, question_schema, yourbench_config
from pipeline.serving import Endpoint


def test_yourbench_accepts_the_config_we_write(tmp_path, monkeypatch):
    from yourbench.conf.loader import load_config

    cfg = config.load("default")
    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", model="gen", api_key="sk-local", local=True)
    path = tmp_path / "yourbench.yaml"
    path.write_text(yaml.safe_dump(yourbench_config(cfg, endpoint, tmp_path)))
    assert "sk-local" not in path.read_text()  # the key travels in the environment only
    monkeypatch.setenv("EVAL_GENERATOR_API_KEY", "sk-local")
    loaded = load_config(path)
    assert loaded.hf_configuration.push_to_hub is False and loaded.hf_configuration.upload_card is False
    assert loaded.model_roles["summarization"] == ["gen"]
    assert loaded.model_roles["single_hop_question_generation"] == ["gen-json"]
    json_model = next(m for m in loaded.model_list if m.model_name == "gen-json")
    assert json_model.api_key == "sk-local"
    assert json_model.extra_parameters["response_format"]["schema"]["minItems"] == cfg.questions.questions_per_chunk
    assert loaded.pipeline.chunking.l_max_tokens == cfg.questions.chunk_tokens
    assert loaded.pipeline.multi_hop_question_generation.run
    assert "<final_summary>" in loaded.pipeline.summarization.summarization_user_prompt


def test_question_schema_asks_for_yourbench_fields():
    schema = question_schema(3)
    assert schema["minItems"] == schema["maxItems"] == 3
    assert set(schema["items"]["required"]) == {"question_type", "question", "answer", "estimated_difficulty",
                                                "citations"}


def test_selection_drops_unusable_and_duplicates_and_caps_the_count():
    cfg = config.load("default")
    rows = [{"question": f"What is the value of item {i}?", "ground_truth_answer": f"{i}", "kind": "single_hop",
             "question_category": "factual", "estimated_difficulty": 3, "citations": ["x"], "chunk_ids": ["c"],
             "chunks": ["text"], "document_summary": "s", "document_id": "d",
             "question_generating_model": "g"} for i in range(40)]
    rows += [dict(rows[0]), dict(rows[1], ground_truth_answer=" "), dict(rows[2], question="Why?")]
    kept = _select(pd.DataFrame(rows), cfg)
    assert len(kept) == cfg.questions.target
    assert kept["question_id"].is_unique
    assert (kept["gold"].str.len() > 0).all()
    again = _select(pd.DataFrame(rows), cfg)
    assert kept["question_id"].tolist() == again["question_id"].tolist()  # same seed, same questions


def _yourbench_dataset(path, questions: list[str]):
    """A YourBench output folder in miniature: 2 chunks (2 single-hop calls) of which one gave questions."""
    from datasets import Dataset, DatasetDict

    rows = [{"question": q, "ground_truth_answer": "an answer", "kind": "single_hop", "question_category": "factual",
             "estimated_difficulty": 3, "citations": ["x"], "chunk_ids": ["c0"], "chunks": ["text"],
             "document_summary": "s", "document_id": "d", "question_generating_model": "g"} for q in questions]
    DatasetDict({
        "chunked": Dataset.from_list([{"chunks": [{"chunk_id": "c0"}, {"chunk_id": "c1"}], "multihop_chunks": []}]),
        "single_hop_questions": Dataset.from_list([{"raw_response": "one reply", "question": q} for q in questions]),
        "prepared_lighteval": Dataset.from_list(rows),
    }).save_to_disk(str(path))


def test_fewer_usable_questions_than_the_minimum_stops_with_the_reasons(tmp_path):
    from pipeline.errors import UserError
    from pipeline.generate import keep_usable

    cfg = config.load("default")  # min_usable 12
    questions = [f"What is the value of item {i}?" for i in range(5)] + ["What is the value of item 0?", "Why?"]
    _yourbench_dataset(tmp_path / "dataset", questions)
    with pytest.raises(UserError) as err:
        keep_usable(tmp_path / "dataset", "report.pdf", tmp_path, cfg)
    message = str(err.value)
    assert f"only 5 usable questions from report.pdf (need {cfg.questions.min_usable})" in message
    assert "1 of 2 generation calls gave no parseable questions" in message
    assert "2 of 7 generated were empty or duplicates" in message and "generation.json" in message
    assert not (tmp_path / "questions.parquet").exists()  # nothing that looks finished
    stats = json.loads((tmp_path / "generation.json").read_text())
    assert stats["usable"] == 5 and stats["generated"] == 7


def test_enough_usable_questions_are_kept(tmp_path):
    from pipeline.generate import keep_usable

    cfg = config.load("default")
    _yourbench_dataset(tmp_path / "dataset", [f"What is the value of item {i}?" for i in range(30)])
    kept = pd.read_parquet(keep_usable(tmp_path / "dataset", "report.pdf", tmp_path, cfg))
    assert len(kept) == cfg.questions.target
