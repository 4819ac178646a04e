"""What a split lacking the preference-pair columns holds instead: chat data, which SFT trains.

Said by the data module (`PreferenceDataModule.check_split`) and, before any model loads, by
`lab.validate`'s check of local files (`hint:` in `conf/data/base/inspect/dpo.yaml`, read by
`lab.data.inspection_hooks.columns_hint`), in the same words. Imports no torch: the pre-flight
check runs before anything heavy is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

from lab.tasks.sft.chat import ChatError, detect_format


def sft_hint(columns: Iterable[str]) -> str:
    """Where a split lacking the pair columns fits an SFT format instead (chat data given to
    DPO): the data config that trains it; else ""."""
    try:
        form = detect_format(columns)
    except ChatError:
        return ""
    return f"these columns are chat data (data.format={form}): train them with SFT (data=chat)"
