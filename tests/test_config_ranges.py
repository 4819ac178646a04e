"""Every numeric config value has a valid range, checked before anything loads (issue 19).

The ranges live in one table (`lab.config.ranges`); `validate_config` applies them for both
`lab.train` and `lab.validate`. Options are discovered from the file system as in
`tests/test_configs.py`: a new YAML with a new numeric key fails here until the key has a
rule or is listed as free, with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.config.flatten import flatten
from lab.config.ranges import FREE, RANGES, check_ranges, free_reason, parse_rule, rule_for
from lab.config.rules import validate_config
from lab.errors import ConfigError
from test_configs import OPTIONS

from conftest import TINY_FIXTURE_RUN, lab_cli


def _numeric_leaves(cfg: Any) -> dict[str, float]:
    """Every numeric leaf of a composed config (list items as `key[i]`), interpolations
    resolved; booleans are not numbers."""
    raw = flatten(OmegaConf.to_container(cfg, resolve=False), lists="index")
    found = {}
    for key, value in raw.items():
        if isinstance(value, str) and "${" in value:
            value = OmegaConf.select(cfg, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found[key] = value
    return found


# ----------------------------------------------------------------------------- the table
def test_options_were_discovered() -> None:
    groups = {option.split("=")[0] for option in OPTIONS}
    assert {"model", "data", "task", "trainer", "optimizer", "scheduler", "experiment"} <= groups


@pytest.mark.parametrize("option", ["<defaults>", *OPTIONS])
def test_every_numeric_key_has_a_range_and_its_default_is_in_it(
    option: str, composed_option: Any
) -> None:
    cfg = composed_option(option)
    leaves = _numeric_leaves(cfg)
    assert leaves, "every config has numbers"
    unruled = sorted(key for key in leaves if rule_for(key) is None and free_reason(key) is None)
    assert not unruled, (
        f"{option}: numeric keys with neither a rule in lab.config.ranges.RANGES nor a reason "
        f"in FREE: {unruled}"
    )
    check_ranges(cfg)  # every shipped default is valid by its own rule


def _boolean_leaves(cfg: Any) -> list[str]:
    """Every boolean leaf of a composed config (interpolations resolved, except lab's own
    resolvers, whose values `check_ranges` takes as they come)."""
    raw = flatten(OmegaConf.to_container(cfg, resolve=False), lists="index")
    found = []
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("${") and not value.startswith("${lab."):
            value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or value == "${lab.no_cuda:}":
            found.append(key)
    return found


@pytest.mark.parametrize("option", ["<defaults>", *OPTIONS])
def test_every_boolean_key_takes_true_or_false(option: str, composed_option: Any) -> None:
    """s27c H4: a key whose value in lab's configs is a boolean has a rule taking booleans
    (`bool`), so a string (`no`, truthy) is refused instead of read as true."""
    cfg = composed_option(option)
    unruled = sorted(
        key
        for key in _boolean_leaves(cfg)
        if (rule := rule_for(key)) is None or rule.problem(True) or rule.problem(False)
    )
    assert not unruled, f"{option}: boolean keys with no `bool` rule in RANGES: {unruled}"
    assert all(rule_for(key).problem("no") for key in _boolean_leaves(cfg))  # type: ignore[union-attr]


def test_every_rule_parses_and_every_free_key_says_why() -> None:
    for pattern, text in RANGES.items():
        rule = parse_rule(pattern, text)
        assert rule.alternatives and rule.valid(), pattern
    assert all(reason.strip() for reason in FREE.values())
    assert not set(FREE) & set(RANGES), "a key is either ruled or free"


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ("> 0", [1e-5, 3], [0, -1, 0.0, True, "1", None, float("inf"), float("nan")]),
        ("in [-1e6, 1e6]", [0, -5.5], [float("-inf"), float("nan")]),
        ("bool", [True, False], ["no", "true", 0, 1, None]),
        ("null or bool or 'warn'", [None, True, "warn"], ["Warn", "no", 0]),
        ("int >= 1", [1, 64], [0, 1.0, 8.5, True, None]),
        ("in [0, 1)", [0, 0.0, 0.5], [1, 1.0, -0.1]),
        ("in (0, 1]", [1, 0.5], [0, 1.5]),
        ("int in [0, 3]", [0, 3], [4, -1, 2.0]),
        ("null or int >= -1", [None, -1, 0, 7], [-2, 0.5]),
        ("int >= 0 or in [0, 1]", [0, 5, 0.25, 1.0], [-1, 1.5]),
        ("-1 or int >= 1 or text", [-1, 2, "auto", "0,1"], [0, -2, None]),
        ("bool or int >= 0", [True, False, 3], [-1, None]),
    ],
)
def test_a_rule_accepts_exactly_its_range(spec: str, good: list[Any], bad: list[Any]) -> None:
    rule = parse_rule("key", spec)
    assert [rule.problem(v) for v in good] == [None] * len(good)
    assert all(rule.problem(v) for v in bad), [v for v in bad if rule.problem(v) is None]


def test_the_first_matching_pattern_is_the_rule() -> None:
    assert rule_for("task.module.sample_max_new_tokens") is rule_for("task.module.max_new_tokens")
    assert rule_for("model.network.config.hidden_dropout_prob").spec == "in [0, 1)"  # type: ignore[union-attr]
    assert rule_for("optimizer.betas[1]").pattern == "optimizer.betas[]"  # type: ignore[union-attr]
    assert rule_for("callbacks.my_checkpoint.save_top_k") is not None
    assert rule_for("optimizer.momentum_decay") is None


# ----------------------------------------------------------------------------- refusals
# (overrides, the one line the user reads). Defects 1-4 of issue 19 first.
REFUSALS = [
    pytest.param(["optimizer.lr=-1"], "optimizer.lr=-1 is out of range; valid: a number > 0",
                 id="defect1-negative-lr"),
    pytest.param(["data.batch_size=0"],
                 "data.batch_size=0 is out of range; valid: an integer >= 1",
                 id="defect2-zero-batch-size"),
    pytest.param(["data.max_length=0"],
                 "data.max_length=0 is out of range; valid: an integer >= 1",
                 id="defect3-zero-max-length"),
    pytest.param(["trainer.max_epochs=0"],
                 "trainer.max_epochs=0 would train zero steps (and test and export the "
                 "untrained model); give trainer.max_epochs >= 1",
                 id="defect4-zero-epochs"),
    pytest.param(["trainer.max_steps=0"],
                 "trainer.max_steps=0 would train zero steps (and test and export the "
                 "untrained model); give trainer.max_steps >= 1, or -1 to let "
                 "trainer.max_epochs decide",
                 id="zero-steps"),
    pytest.param(["+trainer.limit_train_batches=0.0"],
                 "trainer.limit_train_batches=0.0 would train zero steps (and test and export "
                 "the untrained model); give a number of batches >= 1, or a share of them in "
                 "(0, 1]",
                 id="zero-train-batches"),
    pytest.param(["trainer.max_steps=-5"],
                 "trainer.max_steps=-5 is out of range; valid: an integer >= -1 (-1: no limit, "
                 "max_epochs decides)",
                 id="steps-below-minus-one"),
    pytest.param(["data.batch_size=8.5"],
                 "data.batch_size=8.5 is not an integer; valid: an integer >= 1",
                 id="fractional-batch"),
    pytest.param(["optimizer.lr=fast"],
                 "optimizer.lr='fast' is not a number; valid: a number > 0", id="text-lr"),
    pytest.param(["data.batch_size=null"],
                 "data.batch_size=null is not allowed; valid: an integer >= 1", id="null-batch"),
    pytest.param(["data.batch_size=[8,16]"],
                 "data.batch_size is a list; valid: an integer >= 1", id="list-batch"),
    pytest.param(["optimizer.betas=[0.9,1.0]"],
                 "optimizer.betas[1]=1.0 is out of range; valid: a number in [0, 1)",
                 id="beta-one"),
    pytest.param(["scheduler.warmup_ratio=1.5"],
                 "scheduler.warmup_ratio=1.5 is out of range; valid: a number in [0, 1]",
                 id="warmup-ratio"),
    pytest.param(["data.val_fraction=1"],
                 "data.val_fraction=1 is out of range; valid: a number in (0, 1)",
                 id="fraction"),
    pytest.param(["data=xsum", "task.module.num_beams=0"],
                 "task.module.num_beams=0 is out of range; valid: an integer >= 1 (1: greedy "
                 "decoding)",
                 id="beams"),
    pytest.param(["data=go_emotions", "task.module.threshold=[0.5,1.5]"],
                 "task.module.threshold[1]=1.5 is out of range; valid: a number in [0, 1]",
                 id="threshold-per-class"),
    pytest.param(["peft=lora", "peft.config.lora_dropout=1.0"],
                 "peft.config.lora_dropout=1.0 is out of range; valid: a number in [0, 1)",
                 id="dropout"),
    pytest.param(["seed=-1"],
                 "seed=-1 is out of range; valid: an integer in [0, 4294967295]", id="seed"),
    pytest.param(["trainer.devices=0"],
                 "trainer.devices=0 is out of range; valid: -1 or an integer >= 1 or a string "
                 "(-1: all; text: auto, 0,1)",
                 id="zero-devices"),
    pytest.param(["data=squad", "data.doc_stride=384"],
                 "data.doc_stride=384 must be < data.max_length=384 (it is the overlap of "
                 "consecutive windows)",
                 id="stride-vs-length"),
    pytest.param(["optimizer.lr=${nowhere}"],
                 "optimizer.lr=${nowhere} cannot be resolved: Interpolation key 'nowhere' not "
                 "found",
                 id="bad-interpolation"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "message"), REFUSALS)
def test_a_value_out_of_range_is_refused_in_one_line(
    compose_cfg: Any, overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(compose_cfg("model=tiny_bert", *overrides))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.max_epochs=0", "+trainer.fast_dev_run=true"],  # fast_dev_run sets its limits
        ["+trainer.limit_train_batches=0", "+trainer.overfit_batches=2"],
        ["trainer.max_epochs=-1", "trainer.max_steps=5"],
        ["trainer.devices=[0,1]", "trainer.accelerator=cpu"],
        ["data.eval_batch_size=null", "data.max_train_samples=10"],
    ],
)
def test_valid_edge_values_pass(compose_cfg: Any, overrides: list[str]) -> None:
    cfg = compose_cfg("model=tiny_bert", *overrides)
    check_ranges(cfg)
    from lab.config.rules import check_trains_something

    check_trains_something(cfg)


def test_run_refuses_before_building_anything(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 1 in process: `run` stops at validation; the build step is never reached."""
    import lab.train

    def build(*_: Any) -> None:
        raise AssertionError("the model was built before the config was validated")

    monkeypatch.setattr(lab.train, "build", build)
    cfg = compose_cfg("model=tiny_bert", "logger=none", "optimizer.lr=-1")
    with pytest.raises(ConfigError, match=r"^optimizer.lr=-1 is out of range"):
        lab.train.run(cfg)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "failed: optimizer.lr=-1 is out of range; valid: a number > 0"


# ----------------------------------------------------------------------------- the commands
@pytest.mark.parametrize(("overrides", "message"), REFUSALS[:4])
def test_validate_exits_2_with_one_line(tmp_path: Path, overrides: list[str], message: str) -> None:
    result = lab_cli("validate", "model=tiny_bert", *overrides, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: {message}"]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("sweep", "code", "last_line"),
    [
        ("optimizer.lr=1e-5,1e-4", 0, "config ok: no rule broken"),
        ("optimizer.lr=1e-5,-1", 2, "error: optimizer.lr=-1 is out of range"),
        ("trainer.max_epochs=range(0,3)", 2, "error: trainer.max_epochs=0 would train zero"),
    ],
)
def test_validate_checks_every_value_of_a_multirun(
    tmp_path: Path, sweep: str, code: int, last_line: str
) -> None:
    """`lab.validate -m` takes the overrides of `lab.train -m`: a `key=a,b` sweep was an
    error before (Hydra's "Ambiguous value"); now each value is checked against its range."""
    result = lab_cli("validate", "-m", "model=tiny_bert", sweep, cwd=tmp_path, timeout=120)
    assert result.returncode == code, result.stderr
    assert (result.stdout + result.stderr).strip().splitlines()[-1].startswith(last_line)


@pytest.mark.parametrize(
    ("arguments", "code", "last_line"),
    [
        (("sweep=demo_lr",), 0, "config ok: no rule broken"),
        (
            ("sweep=imdb_lr", "hydra/sweeper/sampler=grid"),
            2,
            "error: the grid sampler needs a discrete space, but optimizer.lr is continuous",
        ),
        (
            ("sweep=demo_lr", "optimizer.lr=interval(1e-3,1e-5)"),
            2,
            "error: optimizer.lr: interval(0.001, 1e-05) has low > high",
        ),
    ],
)
def test_validate_parses_the_optuna_search_space(
    tmp_path: Path, arguments: tuple[str, ...], code: int, last_line: str
) -> None:
    """`lab.train -m` refuses a grid over a continuous parameter or an empty interval before
    the study exists; `lab.validate -m` passed both."""
    result = lab_cli("validate", "-m", *arguments, cwd=tmp_path, timeout=120)
    assert result.returncode == code, result.stderr
    assert (result.stdout + result.stderr).strip().splitlines()[-1].startswith(last_line)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=-1", "optimizer.lr=-1 is out of range; valid: a number > 0"),
        ("trainer.max_epochs=0", REFUSALS[3].values[1]),
    ],
    ids=["defect1-negative-lr", "defect4-zero-epochs"],
)
def test_train_stops_before_data_or_weights_load(
    tmp_path: Path, override: str, message: str
) -> None:
    """Through `python -m lab.train`: exit 2 and one line, not a traceback from inside
    `trainer.fit` (defect 1) or an exit 0 with an untrained model exported (defect 4)."""
    result = lab_cli("train", *TINY_FIXTURE_RUN, override, "paths.output_root=out", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert "Traceback" not in result.stderr
    assert "Final metrics" not in result.stdout
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == f"failed: {message}"
    assert "data" not in record and "parameters" not in record, "refused before data and model"
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "model").exists()


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_optimizer_fused_takes_true_false_or_null(compose_cfg: Any, value: str) -> None:
    from lab.config.rules import validate_config

    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg("model=tiny_bert", f"optimizer.fused={value}"))
    shown = repr(value) if value == "maybe" else value
    assert str(refused.value) == (
        f"optimizer.fused={shown}: use true, false or null (the fused kernel where it can run)"
    )


@pytest.mark.parametrize(
    "value",
    [
        "00:12:00:00",
        "1:0:0:30",
        "1:00:00:30",
        " 00:00:10:00 ",
        "abc",
        "3600",
        "1:2:3",
        "00:-1:00:00",
        "a:b:c:d",
    ],
)
def test_max_time_is_checked_as_lightnings_timer_reads_it(compose_cfg: Any, value: str) -> None:
    """s34k M4: `+trainer.max_time=abc` was a Lightning traceback after data and model loaded.
    lab's rule refuses exactly what Lightning's Timer refuses (the oracle), before anything."""
    from lightning.pytorch.callbacks import Timer

    from lab.config.rules import check_max_time

    cfg = compose_cfg("model=tiny_bert", f"+trainer.max_time='{value}'")
    try:
        Timer(duration=value)
        lightning_takes = True
    except Exception:
        lightning_takes = False
    if lightning_takes:
        check_max_time(cfg)
        return
    with pytest.raises(ConfigError, match=r"is not a duration: give DD:HH:MM:SS"):
        check_max_time(cfg)


def test_max_time_as_a_mapping_takes_timedeltas_keys(compose_cfg: Any) -> None:
    from lab.config.rules import check_max_time

    check_max_time(compose_cfg("model=tiny_bert", "+trainer.max_time={hours: 1, minutes: 30}"))
    for bad in ("{hourz: 1}", "{hours: true}", "{}"):
        with pytest.raises(ConfigError) as caught:
            check_max_time(compose_cfg("model=tiny_bert", f"+trainer.max_time={bad}"))
        assert "or a mapping of weeks, days, hours, minutes, seconds" in str(caught.value)
