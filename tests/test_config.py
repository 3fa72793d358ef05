"""The typed config: both profiles load, the paper profile is the published setup, bad keys are named."""

import pytest
import yaml

from pipeline import config
from pipeline.errors import UserError
from pipeline.serving.servers import server_command

PAPER_CANDIDATES = {
    "Qwen3-235B-A22B", "phi-4", "Qwen2.5-72B-Instruct", "Qwen3-32B", "DeepSeek-R1-Distill-Qwen-32B",
    "Llama-3.3-70B-Instruct", "Phi-3-mini-4k-instruct", "c4ai-command-r-plus-08-2024", "Llama-3.1-8B-Instruct",
}


def test_default_profile_is_offline_and_embedded():
    cfg = config.load("default")
    served = [cfg.generator, cfg.judge, *cfg.candidates]
    assert all(m.engine == "llama-cpp" for m in served)
    assert len(cfg.candidates) == 3
    assert len({c.params_b for c in cfg.candidates}) == 3  # three different sizes
    assert cfg.questions.target >= 20 and cfg.questions.min_usable >= 8
    assert "{answer}" in cfg.judge.prompt_text()


def test_paper_profile_is_the_published_setup():
    cfg = config.load("paper")
    assert {c.model.split("/")[-1] for c in cfg.candidates} == PAPER_CANDIDATES
    assert cfg.judge.model == "Qwen/QwQ-32B"
    assert cfg.questions.target == 60
    for prompt in ("{question}", "{gold}", "{chunk}", "{answer}", "<final_answer>"):
        assert prompt in cfg.judge.prompt_text()


@pytest.mark.parametrize("profile", ["default", "paper"])
def test_every_model_resolves_to_a_backend(profile):
    cfg = config.load(profile)
    for model in [cfg.generator, cfg.judge, *cfg.candidates]:
        if model.engine == "openai":
            assert model.base_url.startswith("http") and model.api_key_env
        else:
            cmd = server_command(model, port=8000)
            assert model.name in cmd  # served under the name the pipeline asks for
            if model.engine == "vllm":
                assert cmd[:3] == ["vllm", "serve", model.model]


def _write(tmp_path, data) -> str:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _default_dict():
    return yaml.safe_load((config.CONFIG_DIR / "default.yaml").read_text())


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["candidates"][1].update(engine="tgi"), "candidates.1.engine"),
    (lambda d: d["judge"].update(prompt="missing.txt"), "judge"),
    (lambda d: d["questions"].update(target=0), "questions.target"),
    (lambda d: d.update(candidtes=[]), "candidtes"),
    (lambda d: d.pop("judge"), "judge"),
    (lambda d: d["generator"].update(engine="openai"), "generator"),
    (lambda d: d["candidates"].append(dict(d["candidates"][0])), "candidate names must be unique"),
])
def test_invalid_config_names_the_bad_key(tmp_path, mutate, key):
    data = _default_dict()
    mutate(data)
    with pytest.raises(UserError) as err:
        config.load(_write(tmp_path, data))
    message = str(err.value)
    assert key in message and "\n" not in message


def test_unknown_profile_lists_known_ones():
    with pytest.raises(UserError, match="known profiles: .*default.*paper"):
        config.load("nope")


def test_fingerprint_changes_with_config():
    cfg = config.load("default")
    a = config.fingerprint(cfg.candidates[0])
    b = config.fingerprint(cfg.candidates[0].model_copy(update={"max_new_tokens": 7}))
    assert a != b and a == config.fingerprint(cfg.candidates[0])


@pytest.mark.parametrize("profile", ["default", "paper"])
def test_the_commented_judge_checks_example_is_valid(profile, tmp_path):
    """Each profile shows how to switch the judge reliability checks on; uncommented, it must load."""
    lines = (config.CONFIG_DIR / f"{profile}.yaml").read_text().splitlines()
    start = lines.index("# second_judge:")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    lines[start:end] = [line.removeprefix("# ") for line in lines[start:end]]
    (tmp_path / f"{profile}.yaml").write_text("\n".join(lines))
    cfg = config.load(tmp_path / f"{profile}.yaml")
    assert cfg.second_judge is not None and cfg.second_judge.name != cfg.judge.name
    assert cfg.self_consistency.temperature > 0


def test_a_vllm_model_needs_as_many_devices_as_its_parallelism():
    """It is pinned to `devices` GPUs and measured on those: fewer than tensor x pipeline parallel cannot work."""
    from pipeline.config import Candidate

    with pytest.raises(ValueError, match="devices is 2 but server_args need 4 GPUs"):
        Candidate(name="m", engine="vllm", model="org/m", params_b=70, devices=2,
                  server_args=["--tensor-parallel-size", "2", "--pipeline-parallel-size", "2"])
    for model in [config.load("paper").judge, *config.load("paper").candidates]:  # the published setup pins right
        assert model.devices >= int(dict(zip(model.server_args, model.server_args[1:])).get(
            "--tensor-parallel-size", 1))


def test_the_paper_judge_reasons_before_its_constrained_verdict():
    """A regex constraint without a reasoning parser would forbid QwQ-32B's thinking altogether."""
    judge = config.load("paper").judge
    assert judge.constrained and judge.engine == "vllm"
    assert judge.server_args[judge.server_args.index("--reasoning-parser") + 1] == "deepseek_r1"


def test_more_questions_change_the_questions_key_only():
    """QUESTIONS=n: the questions are redone (reusing every call), the answers and verdicts keep their keys."""
    from pipeline.answers.answer import answers_fingerprint
    from pipeline.questions.generate import generate_key
    from pipeline.verdicts.judge import judge_key

    cfg = config.load("default")
    more, fewer = cfg.with_target(60), cfg.with_target(4)
    assert more.questions.target == 60 and more.questions.min_usable == cfg.questions.min_usable
    assert fewer.questions.min_usable == 4  # never more than the target
    assert generate_key(more) != generate_key(cfg)
    assert answers_fingerprint(more, more.candidates[0]) == answers_fingerprint(cfg, cfg.candidates[0])
    assert judge_key(more) == judge_key(cfg)
