"""Where lab reaches past a library's public API: one small module per library.

Each function here wraps one private attribute that lab needs and no public API provides; the
module says why. Anything patched is restored when its scope ends. `tests/test_compat.py`
checks every reach against the installed version, so a library upgrade that moves one fails
there, by name, instead of somewhere deep in a training run.
"""
