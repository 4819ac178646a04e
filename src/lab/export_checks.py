"""What `lab.export` checks before it writes anything.

- The folder it re-exports as it is (`model/`, `adapter/`): a truncated `model.safetensors`
  was copied, given a fresh model card and reported `Exported to ...` (exit 0), where every
  other tool refused to load it. Each weights file's header is read and its size checked
  against it (safetensors does both when it opens a file; a `.bin` is opened as its zip
  archive, mapped, not read), and every JSON file parsed: cheap, where loading the model
  would take minutes for a large one.
- A run another process trains now (its run lock held), exported without `output=`: every
  default place is in the run, where the run's own export replaces it when it ends, and
  `lab.eval` meanwhile evaluates it as the run's model (s26 M2). Refused, with the command
  that exports the run's latest weights outside it (`check_not_training`).
- An upload (`push_to_hub=`): the repository name, the token, offline mode and whether the
  Hub answers at all are checked first, so a refused upload leaves the run as it was (it
  rewrote the model card, then failed on the missing token).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lab.errors import ConfigError, LabError

#: seconds to wait for the Hub's first answer before an upload
HUB_TIMEOUT_S = 10.0


def check_loadable(folder: Path, what: str = "exported model") -> None:
    """Refuse, in one line, a `folder` whose weights or JSON files cannot be read as they
    are: `the exported model in <folder> cannot be loaded (<error>)`, as lab.eval and
    lab.predict say when loading it fails."""
    try:
        weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        for index in sorted(folder.glob("*.index.json")):  # sharded: every shard is there
            shards = set(json.loads(index.read_text()).get("weight_map", {}).values())
            missing = sorted(s for s in shards if not (folder / s).is_file())
            if missing:
                raise FileNotFoundError(f"{index.name} names missing shards: {', '.join(missing)}")
        if not weights:
            raise FileNotFoundError("no weights file (*.safetensors or *.bin)")
        for file in sorted(folder.glob("*.json")):
            json.loads(file.read_text(encoding="utf-8"))
        for file in weights:
            _open_weights(file)
    except Exception as err:
        raise LabError(
            f"the {what} in {folder} cannot be loaded ({type(err).__name__}: {err})"
        ) from err


def _open_weights(file: Path) -> None:
    """Open one weights file as loading it would, without reading its tensors."""
    if file.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(file), framework="pt") as opened:  # header and file size checked
            opened.keys()
        return
    import torch

    torch.load(file, map_location="meta", mmap=True, weights_only=True)


def check_not_training(
    run_dir: Path, output: Path | None, form: str = "merged", checkpoint: str | None = None
) -> None:
    """Refuse (`LabError`, one line) an export into `run_dir` (no `output`, or an `output`
    inside the run: `<run>/model`, s26c M1) while another process trains it; an export with
    an `output` outside the run goes on (nothing clashes there)."""
    from lab.run_dir.run_lock import being_trained_advice, held_elsewhere

    inside = output is None or output.resolve().is_relative_to(run_dir.resolve())
    if inside and held_elsewhere(run_dir):
        advice = being_trained_advice(run_dir, checkpoint or "last", form)
        raise LabError(f"cannot export into {run_dir}: it is {advice}")


def hub_token(repo_id: str) -> str:
    """The token an upload to `repo_id` uses, once the repository name is valid, a token is
    there, the Hub is not switched off (`HF_HUB_OFFLINE=1`) and answers; else one line."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_token, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except Exception as err:  # HFValidationError: says which characters are allowed
        raise ConfigError(f"push_to_hub={repo_id} is not a Hub repository id: {err}") from None
    if "/" not in repo_id:
        raise ConfigError(f"push_to_hub={repo_id}: give the repository as <user or org>/<name>")
    token = os.environ.get("HF_TOKEN") or get_token()
    if not token:
        raise LabError(
            "push_to_hub needs a Hub token: set HF_TOKEN in the environment (or run "
            "`hf auth login`); lab never stores it"
        )
    if constants.HF_HUB_OFFLINE:
        raise LabError("push_to_hub needs the Hub, and HF_HUB_OFFLINE=1 is set: unset it")
    endpoint = hub_endpoint()
    reason = _unreachable(endpoint)
    if reason:
        raise LabError(f"the Hub at {endpoint} cannot be reached ({reason}); nothing was written")
    return token


def hub_endpoint() -> str:
    """The Hub server uploads go to (`HF_ENDPOINT`, else huggingface.co)."""
    from huggingface_hub import constants

    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def _unreachable(endpoint: str) -> str | None:
    """Why `endpoint` gives no HTTP answer (any status is an answer), or None."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(
            urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_TIMEOUT_S
        ):
            return None
    except urllib.error.HTTPError:  # 404, 405...: the server is there
        return None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err  # URLError wraps the socket's error
        named = isinstance(reason, Exception)
        return f"{type(reason).__name__}: {reason}" if named else str(reason)
