"""`resume=<run dir>` / `resume=auto`: continue an interrupted run exactly where it stopped.

A resumed run writes into the run directory it continues (same loggers, same checkpoints).
It refuses, in one line, to resume a run that finished (naming `model.pretrained=<run>/model`
to train its weights on), a run whose config differs from the one given now (the differences
listed), a path that does not exist, is a file or is not a lab run, that another process
trains now or that cannot be written (refused while Hydra resolves the run directory, before
it writes anything: `run_dir_for`, `lab.run_dir.claim`), an unreadable record.json or
config.yaml, and a missing, corrupt or incomplete checkpoint (no optimizer or scheduler
state); weights that do not fit the model are refused once it is built
(`lab.training.resume_fit`). It never silently starts from scratch; a refusal leaves the
run's files as they were (`lab.run_dir.records.RunRecord` writes a resume only once every
check passed); where the best checkpoint is whole, the refusal of `last.ckpt` names it.

A run directory may be moved or copied before it is resumed: the paths its config holds
under its own directory are compared relative to it, so only a real change of config counts.
`resume=auto` passes over (and says why, as each one's record does: `lab.run_dir.no_checkpoint`)
unfinished runs that never wrote a `last.ckpt`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.flatten import flatten
from lab.errors import LabError
from lab.run_dir import config_upgrade
from lab.run_dir.claim import new_folder, refuse
from lab.run_dir.package_paths import restored_line, same_package_files

log = logging.getLogger(__name__)

# Keys that may differ between the original run and the resuming command.
IGNORED_KEYS = {"resume"}
# Where the data is read from: no difference by itself where the resume compares what is read
# (each split's fingerprint, `records.check_same_data`, refuses other rows): a run copied to
# another machine, its data elsewhere, resumes there. Not for streamed data (no fingerprint).
DATA_LOCATION = "data.path"
# A head's declarations, not settings (`task.trains_on`: the data it takes; `task.card_usage`
# / `task.card_onnx_usage`: its card's code): a run recorded before them resumes the same.
DECLARATIONS = ("task.trains_on", "task.card_usage", "task.card_onnx_usage")
# Settings added after runs were recorded, and those every data config has: kept with the
# other changes lab made since a run was recorded (`lab.run_dir.config_upgrade`).
ADDED_SETTINGS = config_upgrade.ADDED_SETTINGS
EVERY_DATA_CONFIG = config_upgrade.EVERY_DATA_CONFIG
# The checkpoint a resume continues from, relative to the run directory.
LAST_CHECKPOINT_PATH = Path("checkpoints") / "last.ckpt"
# The run directories `resume=auto` chose in this process (resolved): one finished before
# the run started was finished by another process in between (`prepare_resume`).
_chosen_by_auto: set[str] = set()


@dataclass
class ResumePoint:
    """Where a resumed run starts: the checkpoint, its step, and the run's record so far."""

    checkpoint: Path
    global_step: int
    record: dict[str, Any]
    moved_from: str | None = None  # the run directory it ran in, when it has moved since


def _overrides_without_resume(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if not o.lstrip("+~").startswith("resume="))


def auto_resume_candidates(
    output_root: str, overrides: list[str]
) -> tuple[list[tuple[str, Path]], list[Path]]:
    """Unfinished runs under `output_root` launched with the same `overrides`: those with a
    checkpoint to continue from (with their start times), and those without one."""
    wanted = _overrides_without_resume(overrides)
    resumable, without_checkpoint = [], []
    for record_path in Path(output_root).glob("runs/*/*/record.json"):
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError):  # unreadable, not JSON, not UTF-8: no run to continue
            continue
        if not isinstance(record, dict):
            continue
        run_dir = record_path.parent
        if (
            record.get("status") == "finished"
            or _overrides_without_resume(record.get("overrides", [])) != wanted
        ):
            continue
        if (run_dir / LAST_CHECKPOINT_PATH).is_file():
            resumable.append((record.get("started", ""), run_dir))
        else:
            without_checkpoint.append(run_dir)
    return resumable, without_checkpoint


def find_auto_resume(output_root: str, overrides: list[str]) -> Path | None:
    """The newest unfinished run under `output_root` launched with the same overrides and
    holding a checkpoint to continue from."""
    resumable, _ = auto_resume_candidates(output_root, overrides)
    return max(resumable)[1] if resumable else None


def run_dir_for(resume: str | None, output_root: str, new_run_dir: str) -> str:
    """Resolver behind `hydra.run.dir`: the directory to resume into, or a new one.

    Hydra creates the run directory and writes into it (`.hydra/`, `train.log`) before any
    lab code runs, and answers a path it cannot create or open with a traceback. So what is
    wrong with the directory itself ends the process here, one line on stderr and exit 2,
    before anything is created: a new run's unusable `paths.output_root`; a `resume=` path
    that does not exist, is a file, or is no lab run; a run to resume that another process
    trains now, or that cannot be written (`lab.run_dir.claim.claim_for_resume`).
    """
    from lab.run_dir.claim import claim_for_resume, no_resume

    if no_resume(resume):
        return new_folder(output_root, new_run_dir)
    if resume == "auto":
        from lab.run_dir.records import hydra_overrides

        # as record.json notes them (your --config-dir folders too), to compare with them
        found = find_auto_resume(output_root, hydra_overrides())
        if found is None:
            return new_folder(output_root, new_run_dir)
        # Checked now, before Hydra writes: a run chosen while it still trains is refused as
        # one being trained (checked only once this run starts, it may have finished in
        # between and be refused as finished, which no command line caused).
        claim_for_resume(found)
        _chosen_by_auto.add(str(found.resolve()))
        return str(found)
    run_dir = Path(str(resume)).expanduser().resolve()
    problem = not_a_run_dir(run_dir)
    if problem:
        refuse(problem)
    claim_for_resume(run_dir)
    return str(run_dir)


def not_a_run_dir(run_dir: Path) -> str | None:
    """Why `resume=<run_dir>` names no run to continue (absent, a file, no record), or None."""
    if not run_dir.exists():
        return f"cannot resume: {run_dir} does not exist"
    if not run_dir.is_dir():
        return f"cannot resume: {run_dir} is a file, not a run directory"
    if not (run_dir / "record.json").is_file():
        return f"cannot resume: {run_dir} is not a lab run directory (no record.json)"
    return None


def hydra_subdir_for(run_dir: str, _root_: Any = None) -> str | None:
    """Resolver behind `hydra.output_subdir`: `.hydra`, or `.hydra/resume-<time>` for a resume
    (a refused one must leave the record of the run's first command as it was); see
    `lab.run_dir.claim`. `_root_`: the job's config (OmegaConf passes it)."""
    from lab.run_dir.claim import hydra_subdir

    return hydra_subdir(Path(run_dir), _root_)


def config_differences(
    recorded: dict[str, Any], current: dict[str, Any], moved: tuple[str, str] | None = None
) -> list[str]:
    """Lines `key: recorded -> current` for every differing leaf (ignoring IGNORED_KEYS,
    `data.path` where the data is fingerprinted: see `DATA_LOCATION`, and a key neither config
    reads: `config_upgrade.unread_key`).

    `moved` is `(old run dir, new run dir)` for a run directory that moved: recorded paths
    inside the old directory count as the same paths inside the new one.
    """
    old, new = flatten(recorded), flatten(current)
    if moved:
        old = {key: _relocated(value, *moved) for key, value in old.items()}
    fingerprinted = not (old.get("data.streaming") or new.get("data.streaming"))
    lines = []
    for key in sorted(set(old) | set(new)):
        if key == DATA_LOCATION and fingerprinted and old.get(key) and new.get(key):
            continue
        if key.split(".")[0] in IGNORED_KEYS or key.startswith(
            tuple(f"{d}." for d in DECLARATIONS)
        ):
            continue
        if key in ADDED_SETTINGS and key not in old and new.get(key) == ADDED_SETTINGS[key]:
            continue
        if config_upgrade.unread_key(key, old, new):
            continue
        if old.get(key, "<absent>") != new.get(key, "<absent>"):
            lines.append(f"  {key}: {old.get(key, '<absent>')!r} -> {new.get(key, '<absent>')!r}")
    return lines


def differences_message(
    run_dir: Path, record: dict[str, Any], differences: list[str], note: str | None
) -> str:
    """Why a resume is refused: the `differences` (`key: recorded -> now`), and the way out.
    A command other than the run's: the run's own (`resume_command`). The run's own command:
    that would only be refused again, so where other code recorded the run its `note` (that
    code, and how to use it), else the config files the command composes changed since."""
    from lab.config.optimized_mode import recorded_direction_note
    from lab.run_dir.records import hydra_overrides, resume_command

    overrides = [str(o) for o in record.get("overrides") or []]
    listed = "\n".join(differences)
    if any(line.startswith("  optimized_mode:") for line in differences):
        direction = recorded_direction_note(_read_config(run_dir))  # s32d G3
        listed = f"{listed}\n{direction}" if direction else listed
    if _overrides_without_resume(overrides) != _overrides_without_resume(hydra_overrides()):
        advice = f"resume it with the overrides it ran with: {resume_command(overrides, run_dir)}"
        return (
            f"cannot resume {run_dir}: the config differs from the one it ran with:\n{listed}\n"
            + (f"{note}\n{advice}" if note else advice)
        )
    if note:
        return (
            f"cannot resume {run_dir}: this lab builds another config from the command it ran "
            f"with:\n{listed}\n{note}"
        )
    return (
        f"cannot resume {run_dir}: the command it ran with builds another config now:\n"
        f"{listed}\nthe config files it composes (conf/, experiments/, your --config-dir "
        "folders) changed since it ran: restore them to resume it, or start a new run"
    )


def adopt_added_settings(cfg: DictConfig, recorded: dict[str, Any]) -> None:
    """Give `cfg` (the resuming command's) the recorded value of each of `ADDED_SETTINGS`
    that the record lacks or leaves null, so a run recorded before a setting existed resumes
    as it ran (its carved splits, hence its data fingerprints, stay the same)."""
    from omegaconf import open_dict

    flat = flatten(recorded)
    for key, then in ADDED_SETTINGS.items():
        if flat.get(key, then) == then and OmegaConf.select(cfg, key) is not None:
            with open_dict(cfg):
                OmegaConf.update(cfg, key, then, force_add=True)


def _relocated(value: Any, old_dir: str, new_dir: str) -> Any:
    if isinstance(value, str) and (value == old_dir or value.startswith(old_dir + "/")):
        return new_dir + value[len(old_dir) :]
    if isinstance(value, list):
        return [_relocated(item, old_dir, new_dir) for item in value]
    return value


def prepare_resume(run_dir: Path, cfg: DictConfig) -> ResumePoint | None:
    """Check that `run_dir` can be resumed with `cfg`; None for `resume=auto` with no run.

    Reads only: a refusal (`LabError`) leaves the run directory as it was. What needs the
    built model (that the checkpoint's weights fit it) is checked later, before the resume
    writes anything (`lab.training.resume_fit`)."""
    if cfg.resume == "auto" and not (run_dir / "record.json").is_file():
        _say_why_nothing_resumes(cfg)
        return None
    problem = not_a_run_dir(run_dir)
    if problem:
        raise LabError(problem)
    record = _read_record(run_dir)
    if record.get("status") == "finished":
        if cfg.resume == "auto" and str(run_dir.resolve()) in _chosen_by_auto:
            # unfinished when `run_dir_for` chose it: another process finished it since
            raise LabError(
                f"cannot resume: the run in {run_dir} finished ({record.get('finished')}) "
                "while this command was starting; run the same command again: resume=auto "
                "starts a new run where no unfinished one is left"
            )
        weights = run_dir / "model"  # training on is a new run from its weights (s24a M2)
        further = f"; model.pretrained={weights} trains its weights on, with a fresh optimizer"
        further = f"{further} and schedule" if weights.is_dir() else ""
        raise LabError(
            f"cannot resume: the run in {run_dir} already finished ({record.get('finished')}); "
            f"start a new run instead{further}"
        )
    from lab.run_dir.records import hydra_overrides

    recorded_config = _read_config(run_dir)
    adopt_added_settings(cfg, recorded_config)
    current_config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    ran_in = str(OmegaConf.select(OmegaConf.create(recorded_config), "paths.output_dir") or "")
    now_in = str(cfg.paths.output_dir)
    moved = (ran_in, now_in) if ran_in and ran_in != now_in else None
    # As this lab would have written it for the same command: a rename or a key lab added
    # since is no difference, but for the keys this command sets.
    chosen = config_upgrade.chosen_keys(hydra_overrides())
    note = config_upgrade.upgrade(recorded_config, record, run_dir, lambda: current_config, chosen)
    packaged = same_package_files(recorded_config, current_config, record)  # s24e M2
    differences = config_differences(recorded_config, current_config, moved)
    if differences:
        raise LabError(differences_message(run_dir, record, differences, note))
    from lab.training.checkpointing import load_resume_meta

    checkpoint = run_dir / LAST_CHECKPOINT_PATH
    if not checkpoint.exists():  # lost, or never written: as the record says
        from lab.run_dir.no_checkpoint import refuse_without_last_checkpoint

        refuse_without_last_checkpoint(run_dir, record)
    try:
        meta = load_resume_meta(checkpoint)
    except LabError as err:
        raise LabError(  # prefixed as every other refusal of a resume (s33d F5)
            f"cannot resume {run_dir}: {err}; restore it from a copy to continue"
            f"{other_checkpoint(run_dir)}, or start the run again without resume="
        ) from err
    if moved:
        log.info("The run directory has moved from %s; its paths follow it", moved[0])
    if packaged:
        log.info(restored_line(packaged))
    return ResumePoint(
        checkpoint=checkpoint,
        global_step=meta["global_step"],
        record=record,
        moved_from=moved[0] if moved else None,
    )


def _read_record(run_dir: Path) -> dict[str, Any]:
    try:
        record = json.loads((run_dir / "record.json").read_text())
    except (OSError, ValueError) as err:  # not JSON (cut short, overwritten), not UTF-8
        raise LabError(
            f"cannot resume {run_dir}: its record.json cannot be read ({err}); restore it "
            "from a copy to continue, or start the run again without resume="
        ) from err
    if not isinstance(record, dict):
        raise LabError(
            f"cannot resume {run_dir}: its record.json holds no run record (a JSON "
            f"{type(record).__name__}); restore it from a copy to continue, or start the run "
            "again without resume="
        )
    return record


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    try:
        config = OmegaConf.load(path)
    except Exception as err:  # missing, not YAML, not UTF-8
        why = " ".join(f"{type(err).__name__}: {err}".split())  # YAML's errors span lines
        raise LabError(
            f"cannot resume {run_dir}: its config.yaml cannot be read ({why}); restore it from "
            "a copy to continue, or start the run again without resume="
        ) from err
    if not isinstance(config, DictConfig):
        raise LabError(f"cannot resume {run_dir}: its config.yaml holds no lab config")
    return OmegaConf.to_container(config)  # type: ignore[return-value]


def other_checkpoint(run_dir: Path, usable: Callable[[Path], bool] | None = None) -> str:
    """`, or copy checkpoints/best-....ckpt (step N) to checkpoints/last.ckpt to continue from
    there` for the newest best checkpoint a resume could continue from (and `usable` takes);
    "" when there is none (then without importing Lightning: a run stopped as it starts)."""
    found = sorted((run_dir / "checkpoints").glob("best-*.ckpt"), key=_modified, reverse=True)
    if not found:
        return ""
    from lab.training.checkpointing import load_resume_meta

    for path in found:
        try:
            step = load_resume_meta(path)["global_step"]
        except LabError:
            continue
        if usable is None or usable(path):
            name, last = Path(path.parent.name) / path.name, LAST_CHECKPOINT_PATH
            return f", or copy {name} (step {step}) to {last} to continue from there"
    return ""


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _say_why_nothing_resumes(cfg: DictConfig) -> None:
    from lab.run_dir.records import hydra_overrides

    root = str(cfg.paths.get("output_root") or "")
    _, without_checkpoint = auto_resume_candidates(root, hydra_overrides()) if root else ([], [])
    from lab.run_dir.no_checkpoint import passing_over_line

    for run_dir in without_checkpoint:  # why each is passed over, as its record says
        log.info(passing_over_line(run_dir.resolve()))
    log.info("resume=auto: no unfinished run with these overrides; starting a new run")
