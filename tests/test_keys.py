"""Every figure is recomputed when what it depends on changes, and only then (pipeline/keys.py).

The walk below changes each profile field and each input file in turn, from the default profile, and checks
that exactly the keys of the stages ``keys.TABLE`` / ``keys.INPUT_FILES`` list for it change: the four Make
stage keys, the key of the judge's verdict records, and the call records' keys (the generator's for its
fields, the gold-answer checks' for the judge's). The named tests after it are the cases of issue 21.
"""

import copy
import json
import shutil
import typing

import pytest
import yaml
from pydantic import BaseModel

from pipeline import config, keys
from pipeline.answers.answer import answers_fingerprint
from pipeline.questions import model_checks, round_trip, validate, yourbench_stages
from pipeline.questions.generate import _served_fingerprint, generate_key
from pipeline.report.report import report_key
from pipeline.verdicts.grading import judge_fingerprint
from pipeline.verdicts.judge import judge_key, passes

GENERATOR_CALLS, GOLD_CHECK_CALLS = "generator calls", "gold-check calls"
OTHER_ANSWERS = "the other candidates' answers"


def stage_keys(cfg: config.Config) -> dict:
    """Every key, as the stages compute it; "answer" is the first candidate's (the one the walk changes)."""
    return {
        keys.GENERATE: generate_key(cfg),
        GENERATOR_CALLS: _served_fingerprint(cfg.generator, "generator"),
        GOLD_CHECK_CALLS: _served_fingerprint(cfg.judge, "judge"),
        keys.ANSWER: answers_fingerprint(cfg, cfg.candidates[0]),
        OTHER_ANSWERS: [answers_fingerprint(cfg, c) for c in cfg.candidates[1:]],
        keys.VERDICTS: [p.key for p in passes(cfg)],
        keys.JUDGE: judge_key(cfg),
        keys.REPORT: report_key(cfg),
    }


def expected(path: str, stages: frozenset) -> set:
    found = set(stages) - {keys.CALLS}
    if keys.CALLS in stages:
        found.add(GENERATOR_CALLS if path.startswith("generator") else GOLD_CHECK_CALLS)
    if keys.ANSWER in stages and not path.startswith("candidates[]"):
        found.add(OTHER_ANSWERS)  # a setting of every candidate's answers
    return found


def changed_keys(before: config.Config, after: config.Config) -> set:
    a, b = stage_keys(before), stage_keys(after)
    return {name for name in a if a[name] != b[name]}


# --------------------------------------------------------------------------- every field is placed


def _models(annotation) -> list[type]:
    args = typing.get_args(annotation) or (annotation,)
    return [t for t in args if isinstance(t, type) and issubclass(t, BaseModel)]


def field_paths(cls: type[BaseModel], at: str = "") -> list[str]:
    """Every field of the profile, as keys.TABLE names it (optional sections also as themselves: on/off)."""
    found = []
    for name, info in cls.model_fields.items():
        path = f"{at}.{name}" if at else name
        inner = _models(info.annotation)
        if path in keys.SECTIONS and inner:
            if type(None) in typing.get_args(info.annotation):
                found.append(path)
            nested = f"{path}[]" if typing.get_origin(info.annotation) is list else path
            found += field_paths(inner[0], nested)
        else:
            found.append(path)
    return found


def test_every_profile_field_is_placed_in_the_table():
    paths = field_paths(config.Config)
    assert len(paths) == len(set(paths)) > 60
    assert set(paths) == set(keys.TABLE), (set(paths) ^ set(keys.TABLE))
    assert all(set(stages) <= set(keys.STAGES) for stages in [*keys.TABLE.values(), *keys.INPUT_FILES.values()])


def test_a_field_missing_from_the_table_stops_the_keys(monkeypatch):
    table = dict(keys.TABLE)
    del table["energy.repeats"]
    monkeypatch.setattr(keys, "TABLE", table)
    with pytest.raises(KeyError, match="energy.repeats is not placed in pipeline/keys.py"):
        answers_fingerprint(config.load("default"), config.load("default").candidates[0])


# --------------------------------------------------------------------------- the walk


def _default() -> dict:
    return yaml.safe_load((config.CONFIG_DIR / "default.yaml").read_text())


def _at(data: dict, path: str) -> tuple[dict, str]:
    """The mapping holding ``path``'s value, and its key there (candidates[] is the first candidate)."""
    *parents, leaf = path.split(".")
    for part in parents:
        data = data[part.removesuffix("[]")][0] if part.endswith("[]") else data.setdefault(part, {})
    return data, leaf


def _remote(section: dict, **more) -> None:
    section.update(engine="openai", base_url="http://endpoint-a:8000/v1", **more)


def _base(path: str) -> dict:
    """The default profile, with what ``path`` needs to be changeable (a second judge, a remote endpoint), and the
    judge checking gold answers too (``questions.check_gold``, as the paper profile does): :data:`keys.TABLE` lists
    what a judge field can change when it does (the default profile's round trip asks the generator instead), and its
    fit check on (``questions.fit_check``: its prompt is then part of what the questions are)."""
    data = _default()
    data["questions"]["check_gold"] = True
    data["questions"]["fit_check"] = True
    if path.startswith("second_judge."):
        second = {k: v for k, v in data["judge"].items() if k != "yes_threshold"}  # a tag verdict has no P(yes)
        data["second_judge"] = {**second, "name": "second-judge", "prompt": "qwq32b_binary.txt",
                                "verdict": "final_answer"}
        if path == "second_judge.yes_threshold":  # a probability of yes: a yes/no judge
            data["second_judge"].update(prompt="gold_check_yes_no.txt", verdict="yes_no")
    if path == "judge.verdict":  # the other verdict format has no P(yes): compare without one
        data["judge"].pop("yes_threshold", None)
    if path == "self_consistency.temperature":
        data["self_consistency"] = {"temperature": 0.7}
    if path == "generator.base_url":
        _remote(data["generator"], json_schema_decoding=False)
    if path in ("candidates[].base_url", "candidates[].endpoint_hardware"):
        _remote(data["candidates"][0])
    if path in ("judge.base_url", "second_judge.base_url"):
        _remote(data[path.split(".")[0]])
    return data


SPECIAL = {
    "second_judge": lambda data, _: {**data["judge"], "name": "second-judge"},
    # another prompt asking for the same verdict format (a yes/no judge: the gold check's yes/no prompt will do)
    "judge.prompt": lambda data, value: "gold_check_yes_no.txt" if data["judge"].get("verdict") == "yes_no"
    else "small_binary.txt" if value == "qwq32b_binary.txt" else "qwq32b_binary.txt",
    "self_consistency": lambda data, _: {"temperature": 0.7},
    "generator.summarization_prompt": lambda data, _: None,  # YourBench's own prompt
    "candidates[].endpoint_hardware": lambda data, _: {"description": "8x H100 (provider)", "tdp_watts": 700},
    "candidates[].model": lambda data, _: "qwen2.5-coder-1.5b-instruct",
    "questions.min_citation_score": lambda data, value: 50.0 if value is None else None,
    "questions.candidate_context": lambda data, _: "none",
    "questions.language": lambda data, _: "fr",
    "judge.verdict": lambda data, value: "final_answer" if value == "yes_no" else "yes_no",
    "second_judge.verdict": lambda data, value: "final_answer" if value == "yes_no" else "yes_no",
    "energy.country_iso_code": lambda data, _: "DEU",
    "judge.yes_threshold": lambda data, value: 0.6 if value is None else None,
    "second_judge.yes_threshold": lambda data, value: 0.6 if value is None else None,
}


def _other_value(path: str, data: dict, value):
    leaf = path.split(".")[-1]
    if path in SPECIAL:
        return SPECIAL[path](data, value)
    if leaf == "engine":
        return "vllm"
    if leaf == "model":
        return "gemma-3-270m"
    if leaf == "base_url":
        return "http://endpoint-b:8000/v1"
    if leaf == "api_key_env":
        return "ANOTHER_KEY_VARIABLE"
    if leaf == "prompt":
        return "small_binary.txt" if value == "qwq32b_binary.txt" else "qwq32b_binary.txt"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.1 if value else 0.5
    if isinstance(value, list):
        return [*value, "--n_threads", "1"]
    if isinstance(value, str):
        return f"{value}-b"
    raise AssertionError(f"no other value for {path} = {value!r}")


def _current(cfg: config.Config, path: str):
    value = cfg
    for part in path.split("."):
        value = getattr(value, part.removesuffix("[]"))
        value = value[0] if part.endswith("[]") else value
    return value


def variants(path: str) -> tuple[config.Config, config.Config]:
    before = _base(path)
    cfg = config.Config.model_validate(before)
    after = copy.deepcopy(before)
    holder, leaf = _at(after, path)
    holder[leaf] = _other_value(path, before, _current(cfg, path))
    if leaf == "verdict":  # a judge's prompt asks for its verdict format: the two change together
        holder["prompt"] = {"yes_no": "small_yes_no.txt", "final_answer": "small_binary.txt"}[holder[leaf]]
        if holder[leaf] == "final_answer":
            holder.pop("yes_threshold", None)  # a probability of "yes" needs a yes/no verdict
    changed = config.Config.model_validate(after)
    assert changed != cfg, path
    return cfg, changed


@pytest.mark.parametrize("path", sorted(keys.TABLE))
def test_changing_a_field_changes_exactly_the_keys_of_its_stages(path):
    before, after = variants(path)
    assert changed_keys(before, after) == expected(path, keys.TABLE[path])


@pytest.fixture
def prompt_copies(tmp_path, monkeypatch):
    """judge_prompts/ and generator_prompts/ copied, and every key reading them from the copies."""
    for folder in ("judge_prompts", "generator_prompts"):
        shutil.copytree(config.ROOT / folder, tmp_path / folder)
    for path in keys.TEXT_FILES:  # the code and labelled data whose text is in a key
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        if (config.ROOT / path).exists():
            shutil.copy(config.ROOT / path, tmp_path / path)
        else:
            (tmp_path / path).write_text(json.dumps({"id": "x"}) + "\n")
    monkeypatch.setattr(config, "ROOT", tmp_path)
    monkeypatch.setattr(yourbench_stages, "PROMPTS", tmp_path / "generator_prompts")
    for name in ("QUESTION_RULES", "QUESTION_SYSTEM", "ANSWER_FIRST_RULES", "ANSWER_FIRST_SYSTEM", "ANSWER_FIRST_USER"):
        monkeypatch.setattr(yourbench_stages, name,
                            tmp_path / "generator_prompts" / getattr(yourbench_stages, name).name)
    monkeypatch.setattr(round_trip, "PROMPT", tmp_path / "generator_prompts" / round_trip.PROMPT.name)
    monkeypatch.setattr(validate, "GOLD_CHECK_PROMPT", tmp_path / "judge_prompts" / "gold_check.txt")
    monkeypatch.setattr(model_checks, "FIT_PROMPT", tmp_path / "judge_prompts" / "fit_check.txt")
    return tmp_path


def _edit(path) -> None:
    if path.suffix == ".jsonl":  # a copy of one item appended, as a person adding an item would
        last = json.loads(path.read_text().splitlines()[-1])
        with path.open("a") as fh:
            fh.write(json.dumps({**last, "id": f"{last['id']}-copy"}) + "\n")
    else:
        path.write_text(path.read_text() + "\nOne more line.\n")


@pytest.mark.parametrize("pattern", sorted(keys.INPUT_FILES))
def test_editing_an_input_file_changes_exactly_the_keys_of_its_stages(pattern, prompt_copies):
    data = _base("second_judge.prompt")  # the second judge grades with a prompt file of its own
    cfg = config.Config.model_validate(data)
    name = pattern
    if "<" in pattern:
        field = pattern[pattern.index("<") + 1:pattern.index(">")]
        name = pattern.replace(f"<{field}>", _current(cfg, field))
    before = stage_keys(cfg)
    _edit(prompt_copies / name)
    after = stage_keys(cfg)
    assert {k for k in before if before[k] != after[k]} == expected(pattern, keys.INPUT_FILES[pattern])


# --------------------------------------------------------------------------- the cases of issue 21


def _with(cfg: config.Config, section: str, **update) -> config.Config:
    return cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=update)})


def test_energy_settings_are_in_the_answers_key():
    """Stale: energy.repeats 1 -> 3 (or another idle baseline) rebuilt only the report, which then said
    "measured 3 times" of windows measured once."""
    cfg = config.load("default")
    for update in ({"repeats": 3}, {"idle_s": 2.0}):
        changed = _with(cfg, "energy", **update)
        assert answers_fingerprint(changed, changed.candidates[0]) != answers_fingerprint(cfg, cfg.candidates[0])
    vllm = cfg.candidates[0].model_copy(update={"engine": "vllm", "model": "org/m"})
    assert answers_fingerprint(cfg, vllm) != answers_fingerprint(cfg, vllm.model_copy(update={"devices": 2}))


def test_what_gives_verdicts_without_a_field_is_in_the_judge_key(prompt_copies):
    """Stale (issue 26): the non-answer rules, the control builder and the held-out labelled answers changed
    verdicts or the correction, and no key held them. Their text is in the key, not their path."""
    cfg = config.load("default")
    for path in ("pipeline/verdicts/non_answers.py", "pipeline/verdicts/controls.py", "labelled/answers/items.jsonl"):
        before = judge_key(cfg)
        _edit(prompt_copies / path)
        assert judge_key(cfg) != before, path
    assert judge_fingerprint(cfg.judge) == judge_fingerprint(cfg.judge)  # the answers are not regraded for it


def test_a_country_or_a_judge_name_changes_no_measurement():
    """Wasted (issue 26): energy.country_iso_code re-answered every candidate to change a CO2 figure that is the
    energy times the country's carbon intensity; judge.name, a label, re-graded every answer."""
    cfg = config.load("default")
    country = _with(cfg, "energy", country_iso_code="DEU")
    assert answers_fingerprint(country, cfg.candidates[0]) == answers_fingerprint(cfg, cfg.candidates[0])
    assert report_key(country) != report_key(cfg)
    renamed = _with(cfg, "judge", name="another-name")
    assert judge_fingerprint(renamed.judge) == judge_fingerprint(cfg.judge)
    assert [p.key for p in passes(renamed)] == [p.key for p in passes(cfg)]


@pytest.mark.parametrize("section", ["generator", "judge", "candidates"])
def test_concurrent_requests_and_startup_timeout_are_in_no_key(section):
    """Wasted: concurrent_requests threw away every recorded generator call and regraded the judge;
    startup_timeout_s regenerated the questions."""
    cfg = config.load("default")
    for update in ({"concurrent_requests": 4}, {"startup_timeout_s": 60.0}):
        if section == "candidates":
            changed = cfg.model_copy(update={"candidates": [c.model_copy(update=update) for c in cfg.candidates]})
        else:
            changed = _with(cfg, section, **update)
        assert stage_keys(changed) == stage_keys(cfg), update
        assert judge_fingerprint(changed.judge) == judge_fingerprint(cfg.judge)


def test_a_generator_call_is_found_whatever_alias_the_client_used(tmp_path):
    """The proxy replaces the model alias with the upstream's id: renaming the generator replays its calls."""
    from pipeline.questions.call_cache import CallRecord

    record = CallRecord(tmp_path / "calls.jsonl", "served")
    body = {"messages": [{"role": "user", "content": "chunk"}], "max_tokens": 8}
    named = record.key("/chat/completions", json.dumps({**body, "model": "gen"}).encode())
    renamed = record.key("/chat/completions", json.dumps({"model": "gen-2", **body}).encode())
    assert named == renamed
    assert named != record.key("/chat/completions", json.dumps({**body, "max_tokens": 9}).encode())
