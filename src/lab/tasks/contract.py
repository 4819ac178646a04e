"""What a head's module must implement beyond `lab.tasks.base.TaskModule`, in one place for
the two checks that read it: `TaskModule.__init__` (the class itself, when it is built) and
`lab.config.module_contract` (its source, in `lab.validate` before anything is imported).
Standard library only: `lab.validate` imports this without torch or Lightning."""

from __future__ import annotations

from collections.abc import Callable

# Each method -> the hooks of TaskModule that call it: a subclass overriding every one of those
# hooks (Lightning's own way) does not need the method.
EVALUATION_METHODS = {
    "evaluation_step(batch, stage)": ("validation_step", "test_step"),
    "evaluation_metrics(stage)": ("on_validation_epoch_end", "on_test_epoch_end"),
}


def missing_methods(defines: Callable[[str], bool]) -> list[str]:
    """The signatures of `EVALUATION_METHODS` a module leaves to TaskModule, where
    `defines(name)` says whether the module (or a base below TaskModule) defines `name`."""
    return [
        signature
        for signature, callers in EVALUATION_METHODS.items()
        if not defines(signature.split("(")[0]) and not all(defines(hook) for hook in callers)
    ]


def missing_methods_message(class_name: str, missing: list[str]) -> str:
    """One line: `<class> does not implement <methods>, which every head's module must`."""
    return (
        f"{class_name} does not implement {' and '.join(missing)}, which every head's module "
        'must (see lab.tasks.base.TaskModule, and the README\'s "Writing your own head")'
    )
