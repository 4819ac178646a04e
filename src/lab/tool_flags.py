"""A true/false option of the after-training tools (`lab.eval plots=false`,
`lab.demo share=true`): their `key=value` options are strings, not Hydra values, so each
reads its booleans here, in the same words, and refuses anything else in one line."""

from __future__ import annotations

from lab.errors import LabError

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")


def flag_option(name: str, value: str) -> bool:
    """`value` of option `name` as a bool; a `LabError` naming the option for any other word."""
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise LabError(f"{name} must be true or false, got '{value}'")
