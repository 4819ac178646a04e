"""Config rules that once let `lab.validate` say "config ok" while `lab.train` crashed in a
traceback after loading the data and the model (acceptance findings M1, M4, M9, L6):

* hardware: an accelerator this machine lacks (MPS, TPU) or Lightning does not know, and a
  `trainer.devices` Lightning cannot read or this machine cannot give;
* task and data: a head given data of another kind or problem type; a tokenizer without a
  pad token under a head whose batches are padded (GPT-2 classifying text);
* names: an unknown `peft.config` key, attention implementation or `optimized_mode`;
* run length: a run that would never stop.

Each is refused by `lab.validate` and by `lab.train` in the same one line (exit 2), before the
data or any weights load. The lists the rules hold (accelerators, attention implementations,
peft config fields) are checked against the libraries here.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.config.paths import conf_dir
from lab.config.rules import validate_config
from lab.errors import ConfigError

from conftest import FIXTURES, lab_cli

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
cpu_only = pytest.mark.skipif(
    torch.cuda.is_available() or sys.platform == "darwin", reason="needs a CPU-only machine"
)
no_torch_xla = pytest.mark.skipif(
    importlib.util.find_spec("torch_xla") is not None, reason="needs a machine without torch_xla"
)
DEVICES_VALID = "auto, a number of devices >= 1 (-1: every GPU), or GPU indices ([0,1] or '0,1')"

# (overrides after model=tiny_bert data=demo, the refusal): the same words from both tools.
REFUSALS = [
    pytest.param(
        ["trainer.accelerator=mps"],
        "trainer.accelerator=mps needs Apple silicon with Metal (MPS), which this machine does "
        "not have; available here: cpu (trainer.accelerator=auto picks one)",
        marks=cpu_only,
        id="mps",
    ),
    pytest.param(
        ["trainer.accelerator=tpu"],
        "trainer.accelerator=tpu needs a TPU and the torch_xla package (torch_xla is not "
        "installed); available here: cpu (trainer.accelerator=auto picks one)",
        marks=[cpu_only, no_torch_xla],
        id="tpu",
    ),
    pytest.param(
        ["trainer.devices=abc"],
        f"trainer.devices=abc is not a device setting; valid: {DEVICES_VALID}",
        id="devices-text",
    ),
    pytest.param(
        ["trainer.devices=[0,1]"],
        "trainer.devices=[0,1] names GPU indices, and no CUDA GPU is visible on this machine; "
        "on CPU give the number of processes (trainer.devices=2 strategy=ddp) or leave it at "
        "auto (one process)",
        marks=no_cuda,
        id="devices-indices-on-cpu",
    ),
    pytest.param(
        ["task=question_answering"],
        "data=demo is text classification data, and task=question_answering needs question "
        "answering data (data=squad, squad_v2): pick one of those, or set "
        "task=text_classification",
        id="qa-on-classification-data",
    ),
    pytest.param(
        ["data.problem_type=regression"],
        "task=text_classification reads data.problem_type=single_label, and data=demo has "
        "data.problem_type=regression (data for task=text_regression): set "
        "task=text_regression, or data.problem_type=single_label",
        id="regression-labels-under-a-classifier",
    ),
    pytest.param(
        ["peft=lora", "+peft.config.rr=8"],
        "'peft.config.rr' is not a field of peft.LoraConfig. Did you mean peft.config.r? Valid "
        "keys of peft.config: ",
        id="peft-key",
    ),
    pytest.param(
        ["+model.network.attn_implementation=flash_attn"],
        "model.network.attn_implementation=flash_attn is not valid; valid: eager, sdpa, "
        "flex_attention, flash_attention_2, flash_attention_3, flash_attention_4, paged|eager "
        "(or a Hub kernel: org/repo, e.g. kernels-community/flash-attn); did you mean "
        "model.network.attn_implementation=flash_attention_2?",
        id="attention",
    ),
    pytest.param(
        ["optimized_mode=maximum"],
        "optimized_mode=maximum is not valid; valid: min, max (the direction in which "
        "optimized_metric improves); did you mean optimized_mode=max?",
        id="optimized-mode",
    ),
    pytest.param(
        ["trainer.max_epochs=-1", "trainer.max_steps=-1"],
        "trainer.max_epochs=-1 with trainer.max_steps=-1 would train forever (and never test or "
        "export); give trainer.max_epochs=N or trainer.max_steps=N, or end it by time "
        "(+trainer.max_time=00:12:00:00, DD:HH:MM:SS) or by callbacks=early_stopping",
        id="never-stops",
    ),
    pytest.param(
        ["trainer.max_epochs=-1", "trainer.max_steps=-1", "+trainer.max_time=00:01:00:00"],
        "trainer.max_epochs=-1 with trainer.max_steps=-1 ends by time or early stopping, so the "
        "run's length in steps is unknown, and scheduler=linear decays the learning rate over "
        "the run's steps; give trainer.max_steps=N (the schedule's length; time or early "
        "stopping may still end the run first), or scheduler=constant scheduler.warmup_ratio=0 "
        "(scheduler.warmup_steps=N for a warmup), or scheduler=none",
        id="a-schedule-over-an-unknown-length",
    ),
]


def _refusal(compose_cfg: Any, *overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(compose_cfg("model=tiny_bert", "data=demo", *overrides))
    return str(caught.value)


def _matches(message: str, expected: str) -> bool:
    """`expected` whole, or its start where it ends in a list (`Valid keys ...: `)."""
    return message.startswith(expected) if expected.endswith(": ") else message == expected


# ----------------------------------------------------------------------------- the commands
@pytest.mark.parametrize(("overrides", "message"), REFUSALS)
def test_validate_exits_2_with_the_rule_s_one_line(
    tmp_path: Path, overrides: list[str], message: str
) -> None:
    result = lab_cli("validate", "model=tiny_bert", "data=demo", *overrides, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and _matches(line.removeprefix("error: "), message), line
    assert result.stdout == ""


@pytest.mark.parametrize(("overrides", "message"), REFUSALS)
def test_training_refuses_in_the_same_words_before_building_anything(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: list[str],
    message: str,
) -> None:  # fmt: skip
    """`lab.train`'s `run` stops at validation: the data and model step is never reached, and
    the record says why."""
    import lab.train

    def build(*_: Any, **__: Any) -> None:
        raise AssertionError("the data or the model was built before the config was refused")

    monkeypatch.setattr(lab.train, "build", build)
    cfg = compose_cfg("model=tiny_bert", "data=demo", "logger=none", *overrides)
    with pytest.raises(ConfigError) as caught:
        lab.train.run(cfg)
    assert _matches(str(caught.value), message), str(caught.value)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == f"failed: {caught.value}"
    assert "data" not in record


def test_the_train_command_exits_2_with_the_validate_line(tmp_path: Path) -> None:
    args = ["model=tiny_bert", "data=demo", "task=token_classification"]
    refused = lab_cli("validate", *args, cwd=tmp_path)
    trained = lab_cli("train", *args, "logger=csv", "paths.output_root=out", cwd=tmp_path)
    assert (refused.returncode, trained.returncode) == (2, 2), trained.stderr
    line = refused.stderr.strip()
    assert line.startswith("error: data=demo is text classification data, and ")
    assert trained.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in trained.stderr
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "model").exists()


# ----------------------------------------------------------------------------- what passes
@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.devices=2"],
        ["trainer.devices='2'"],
        ["trainer.accelerator=cpu", "trainer.devices=1"],
        ["data=wmt16_ro_en", "task=summarization", "model=tiny_bart"],
        ["data=xsum", "task=translation", "model=tiny_bart"],
        ["data=imdb", "task=masked_lm"],
        ["data=json", f"data.path={FIXTURES / 'ratings'}", "data.problem_type=regression",
         "task=text_regression", "data.label_column=score"],
        ["model=tiny_gpt2"],  # no pad token: lab pads with its end-of-text token
        ["model=tiny_gpt2", "data=conll2003"],
        ["model=tiny_gpt2", "+model.add_special_tokens.pad_token='<|endoftext|>'"],
        ["model=tiny_gpt2", "data=wikitext2"],  # the causal LM data module pads itself
        ["model=tiny_llama"],  # its tokenizer has a pad token
        ["+model.network.attn_implementation=sdpa"],
        ["+model.network.attn_implementation=kernels-community/flash-attn"],
        ["trainer.gradient_clip_algorithm=VALUE"],  # Lightning lowers it
        ["peft=lora", "+peft.config.use_rslora=true", "peft.config.r=4"],
        ["peft=ia3", "+peft.config.init_ia3_weights=false"],
        ["trainer.max_epochs=-1", "trainer.max_steps=-1", "callbacks=early_stopping",
         "scheduler=none"],
        ["trainer.max_epochs=-1", "trainer.max_steps=-1", "+trainer.max_time=00:01:00:00",
         "scheduler=constant", "scheduler.warmup_steps=5"],
        ["trainer.max_epochs=-1", "trainer.max_steps=10"],
    ],
)  # fmt: skip
def test_configs_that_fit_pass(compose_cfg: Any, overrides: list[str]) -> None:
    validate_config(compose_cfg("model=tiny_bert", "data=demo", *overrides))


def test_every_data_option_fits_the_task_it_picks(compose_cfg: Any) -> None:
    """Each data config's own task takes it; the refusal's lists, read from the YAML files
    without Hydra, agree with what Hydra composes."""
    from hydra.core.hydra_config import HydraConfig

    from lab.config.task_fit import check_task_fits_data, data_options, fitting_tasks

    for file in sorted((conf_dir() / "data").glob("*.yaml")):
        cfg = compose_cfg(f"data={file.stem}")
        check_task_fits_data(cfg)
        task = HydraConfig.get().runtime.choices["task"]
        module = cfg.data._target_.rsplit(".", 1)[-1]
        assert task in fitting_tasks(module, cfg.data.get("problem_type")), file.stem
        wants = dict(cfg.task.trains_on)
        assert file.stem in data_options({k: list(v) if k == "data_modules" else v
                                          for k, v in wants.items()})  # fmt: skip


def test_every_task_declares_its_data_or_brings_its_data_module(compose_cfg: Any) -> None:
    for file in sorted((conf_dir() / "task").glob("*.yaml")):
        task = compose_cfg(f"task={file.stem}").task
        assert task.get("data_module") or task.get("trains_on"), file.stem


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=tiny_llama", "task=sft"],
         "data=demo is text classification data, and task=sft needs sft data (data=alpaca, "
         "chat, smoltalk, ultrachat): pick one of those, or set task=text_classification"),
        (["model=tiny_bart", "task=summarization"],
         "data=demo is text classification data, and task=summarization needs summarization "
         "data (data=cnn_dailymail, samsum, wmt16_ro_en, xsum): pick one of those, or set "
         "task=text_classification"),
        (["task=text_regression"],
         "task=text_regression reads data.problem_type=regression, and data=demo has "
         "data.problem_type=single_label (data for task=text_classification): set "
         "task=text_classification, or data.problem_type=regression"),
        (["data=go_emotions", "task=text_classification"],
         "task=text_classification reads data.problem_type=single_label, and data=go_emotions "
         "has data.problem_type=multi_label (data for task=multi_label_classification): set "
         "task=multi_label_classification, or data.problem_type=single_label"),
        (["data=squad", "task=text_regression"],
         "data=squad is question answering data, and task=text_regression needs text regression "
         "data (data=stsb): pick one of those, or set task=question_answering"),
        (["data=csv", f"data.path={FIXTURES / 'ratings'}", "data.problem_type=regression",
          "data.label_column=score", "task=sft"],
         "data=csv (data.problem_type=regression) is text regression data, and task=sft needs "
         "sft data (data=alpaca, chat, smoltalk, ultrachat): pick one of those, or set "
         "task=text_regression"),
        (["trainer.accelerator=cpus"],
         "trainer.accelerator=cpus is not an accelerator Lightning knows. Did you mean "
         "trainer.accelerator=cpu? Valid: auto, cpu, cuda, gpu, mps, tpu (auto picks "
         f"{'cuda' if torch.cuda.is_available() else 'cpu'} here)"),
        (["trainer.devices=[]"],
         f"trainer.devices=[] is not a device setting; valid: {DEVICES_VALID}"),
        (["trainer.devices='0,x'"],
         f"trainer.devices='0,x' is not a device setting; valid: {DEVICES_VALID}"),
        (["trainer.devices=[1,1]"],
         f"trainer.devices=[1,1] is not a device setting; valid: {DEVICES_VALID}"),
        (["callbacks=early_stopping", "callbacks.early_stopping.mode=maxx"],
         "callbacks.early_stopping.mode=maxx is not valid; valid: min, max (the direction in "
         "which the monitored metric improves); did you mean callbacks.early_stopping.mode=max?"),
        (["trainer.gradient_clip_algorithm=nrm"],
         "trainer.gradient_clip_algorithm=nrm is not valid; valid: norm, value (clip the "
         "gradients' norm or values); did you mean trainer.gradient_clip_algorithm=norm?"),
    ],
)  # fmt: skip
def test_more_refusals_name_the_fix(compose_cfg: Any, overrides: list[str], message: str) -> None:
    assert _refusal(compose_cfg, *overrides) == message


@no_cuda
@pytest.mark.parametrize(
    ("overrides", "tail"),
    [
        (["trainer.accelerator=cpu", "trainer.devices=-1"],
         "trainer.devices=-1 means every GPU, and trainer.accelerator=cpu runs on CPU; "),
        (["trainer.devices='0,1'"],
         "trainer.devices='0,1' names GPU indices, and no CUDA GPU is visible on this machine; "),
    ],
)  # fmt: skip
def test_gpu_device_forms_on_cpu(compose_cfg: Any, overrides: list[str], tail: str) -> None:
    assert _refusal(compose_cfg, *overrides).startswith(tail)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_more_cuda_gpus_than_visible_are_refused(compose_cfg: Any) -> None:
    count = torch.cuda.device_count()
    message = _refusal(compose_cfg, "trainer.accelerator=gpu", f"trainer.devices={count + 1}")
    assert message == (
        f"trainer.devices={count + 1} asks for CUDA GPU {count}, and this machine has {count} "
        f"(0..{count - 1}); give trainer.devices={count} or less, or -1 for every one"
    )
    validate_config(
        compose_cfg("model=tiny_bert", "trainer.accelerator=gpu", f"trainer.devices=[{count - 1}]")
    )


def test_gpu_counts_are_held_to_the_visible_gpus(
    compose_cfg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CUDA side of the devices rule, on any machine: two GPUs seen (torch's count faked)."""
    from lab.config.accelerator_rules import check_devices

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for devices in ("2", "[0,1]", "'1,'", "-1", "auto"):
        check_devices(compose_cfg(f"trainer.devices={devices}"), has_cuda=True)
    for devices, gpu in (("3", 2), ("[0,3]", 3), ("'2,0'", 2)):
        with pytest.raises(ConfigError) as caught:
            check_devices(compose_cfg(f"trainer.devices={devices}"), has_cuda=True)
        assert f"asks for CUDA GPU {gpu}, and this machine has 2 (0..1); give " in str(caught.value)
    # trainer.accelerator=cpu on a GPU machine: GPU indices are still no process count.
    with pytest.raises(ConfigError, match=r"names GPU indices, and trainer.accelerator=cpu runs"):
        check_devices(compose_cfg("trainer.accelerator=cpu", "trainer.devices=[0]"), has_cuda=True)


# ----------------------------------------------------------------------------- the libraries
def test_accelerator_names_are_lightning_s() -> None:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    from lab.config.accelerator_rules import ACCELERATORS, mps_available, tpu_available

    assert set(ACCELERATORS) == {"auto", "gpu", *AcceleratorRegistry.available_accelerators()}
    assert mps_available() == AcceleratorRegistry.get("mps").is_available()
    assert tpu_available() == AcceleratorRegistry["tpu"]["accelerator"].is_available()


@pytest.mark.parametrize(
    "value", ["auto", 1, 3, "2", -1, "-1", [0], [0, 2], "0,1", "1,", "abc", [], [1, 1], "1.5"]
)
def test_device_forms_are_read_as_lightning_reads_them(value: Any) -> None:
    """What `parse_devices` takes is what Lightning's parsers take (CPU count or GPU ids)."""
    from lightning.fabric.accelerators.cpu import _parse_cpu_cores
    from lightning.fabric.utilities import device_parser

    from lab.config.accelerator_rules import parse_devices

    parsed = parse_devices(value)
    try:
        if value != "auto":
            device_parser._check_data_type(value)
            ids = device_parser._normalize_parse_gpu_string_input(value)
            if isinstance(ids, list):
                assert ids and len(set(ids)) == len(ids)
            else:
                _parse_cpu_cores(ids) if ids != -1 else None
        lightning_reads = True
    except Exception:  # Lightning raises TypeError, ValueError, MisconfigurationException
        lightning_reads = False
    assert (parsed is not None) == lightning_reads, (value, parsed)


def test_attention_names_are_transformers_s() -> None:
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    from lab.config.choices import ATTENTION

    assert set(ATTENTION) == {"eager", *ALL_ATTENTION_FUNCTIONS.valid_keys()}


def test_modes_are_lightning_s() -> None:
    from lightning.pytorch.callbacks import EarlyStopping
    from lightning.pytorch.utilities.enums import GradClipAlgorithmType

    from lab.config.choices import CHOICES

    assert set(CHOICES["optimized_mode"][0]) == set(EarlyStopping.mode_dict)
    assert set(CHOICES["callbacks.*.mode"][0]) == set(EarlyStopping.mode_dict)
    assert set(CHOICES["trainer.gradient_clip_algorithm"][0]) == {
        str(t.value) for t in GradClipAlgorithmType
    }


def test_peft_fields_read_from_source_are_the_classes_arguments() -> None:
    """Every config class peft exports: the fields read with `ast` (peft is not imported by
    the rule) are its `__init__` arguments."""
    import dataclasses

    import peft

    from lab.config.peft_rules import dataclass_fields

    checked = 0
    for name in peft.__all__:
        cls = getattr(peft, name)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and name.endswith("Config"):
            arguments = set(inspect.signature(cls).parameters)
            assert set(dataclass_fields(f"peft.{name}") or ()) == arguments, name
            checked += 1
    assert checked >= 10


def test_new_rules_import_no_heavy_library(tmp_path: Path) -> None:
    """The rules stay cheap: `lab.validate` of a misspelt optimized_mode, an unknown peft key
    and a device list imports none of torch, Lightning, transformers, peft."""
    import subprocess

    script = (
        "import sys; from lab.validate import main; codes = [main(a.split()) for a in "
        "sys.argv[1:]]; heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'lightning', 'transformers', 'datasets', 'peft'}); print(codes, heavy)"
    )
    cases = ["optimized_mode=maximum", "peft=lora +peft.config.rr=8", "trainer.devices=[0,1]",
             "data=demo task=sft"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", script, *cases], cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    heavy = "[]" if not torch.cuda.is_available() else "['torch']"
    assert result.stdout.strip().splitlines()[-1] == f"[2, 2, 2, 2] {heavy}"


def test_a_tokenizer_with_nothing_to_pad_with_is_refused(tmp_path: Path) -> None:
    """Neither a pad token nor an end-of-text token: lab cannot pad the batches itself."""
    import json

    from lab.validate import main

    folder = tmp_path / "tokenizer"
    folder.mkdir()
    source = Path(__file__).resolve().parents[1] / "src/lab/assets/tiny_gpt2"
    (folder / "tokenizer.json").write_text((source / "tokenizer.json").read_text())
    settings = json.loads((source / "tokenizer_config.json").read_text())
    settings.update(eos_token=None, bos_token=None)
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    overrides = ["model=tiny_gpt2", f"model.tokenizer.pretrained_model_name_or_path={folder}"]
    assert main(overrides) == 2
    assert main([*overrides, "+model.add_special_tokens.pad_token='<pad>'"]) == 0


def test_gpt2_classifies_with_its_end_of_text_token_as_pad(compose_cfg: Any) -> None:
    """GPT-2's tokenizer has no pad token: the classifier pads with its end-of-text token and
    its config gets that id (the head finds each row's last token by it), as Hugging Face's
    recipes set by hand; a batch of rows of different lengths runs."""
    from lab.build import build_datamodule, build_model
    from lab.training.tokenizers import build_tokenizer

    cfg: Any = compose_cfg("model=tiny_gpt2", "data=demo", "data.max_train_samples=64")
    tokenizer = build_tokenizer(cfg)
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    datamodule = build_datamodule(cfg, tokenizer)
    model = build_model(cfg, datamodule, tokenizer)
    assert model.config.pad_token_id == tokenizer.eos_token_id
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["attention_mask"].min() == 0  # rows of different lengths, padded
    assert model(**batch).logits.shape == (batch["input_ids"].shape[0], 2)


def test_a_run_ended_by_time_trains_with_the_schedule_the_refusal_offers(compose_cfg: Any) -> None:
    """The way out the rule gives works: a constant rate after a warmup of steps, the run
    ended by `max_time` (its length in steps infinite to Lightning: it crashed in
    `configure_optimizers` before)."""
    from lab.train import run

    cfg: Any = compose_cfg(
        "model=tiny_bert", "trainer.max_epochs=-1", "trainer.max_steps=-1",
        "+trainer.max_time=00:00:00:02", "scheduler=constant", "scheduler.warmup_steps=2",
        "logger=csv", "callbacks.model_checkpoint.save_top_k=0",
    )  # fmt: skip
    metrics = run(cfg)
    assert "test/acc" in metrics


def test_a_run_directory_given_as_the_model_names_its_export(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s30d F2: `model.pretrained=<mlm run>` (not `<mlm run>/model`) failed in the tokenizer,
    whose words blamed a missing sentencepiece install."""
    run = tmp_path / "outputs" / "runs" / "r1"
    (run / "model").mkdir(parents=True)
    (run / "record.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    relative = "outputs/runs/r1"
    assert _refusal(compose_cfg, f"model.pretrained={relative}") == (
        f"model.pretrained={relative} is a lab run directory, not a saved model: it has no "
        f"exported model yet (python -m lab.export run={relative} checkpoint=best, or last, "
        "writes it from a checkpoint)"
    )
    (run / "model" / "config.json").write_text("{}")
    assert _refusal(compose_cfg, f"model.pretrained={relative}") == (
        f"model.pretrained={relative} is a lab run directory, not a saved model: its exported "
        f"model is {relative}/model (model.pretrained={relative}/model)"
    )


def test_a_callback_of_yours_may_have_a_mode_of_its_own(compose_cfg: Any) -> None:
    """`mode` is a monitored metric's direction only on a callback with a `monitor` (s33b F4:
    `+callbacks.rowlog.mode=lm` was refused as `valid: min, max`)."""
    from lab.config.choices import check_choices

    cfg = compose_cfg(
        "+callbacks.rowlog._target_=lightning.pytorch.callbacks.Callback",
        "+callbacks.rowlog.mode=lm",
    )
    check_choices(cfg)
    own_monitor = ["+callbacks.mine._target_=x.Mine", "+callbacks.mine.monitor=val/acc"]
    with pytest.raises(ConfigError, match=r"^callbacks.mine.mode=up is not valid; valid: min, max"):
        check_choices(compose_cfg(*own_monitor, "+callbacks.mine.mode=up"))
