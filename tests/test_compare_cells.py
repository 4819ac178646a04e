"""lab.compare's table shows a column of sampled floats as short as tells them apart."""

from __future__ import annotations

import math

from lab.compare import MISSING
from lab.compare_cells import column_cells


def test_sampled_learning_rates_show_three_significant_digits() -> None:
    values = [1.0789816816471736e-05, 0.0001384498153660551, 3.2034201569725462e-06]
    assert column_cells(values) == ["1.08e-05", "0.000138", "3.2e-06"]


def test_values_that_agree_to_three_digits_get_as_many_more_as_tell_them_apart() -> None:
    assert column_cells([0.00012341, 0.00012349, 0.00012341]) == [
        "0.0001234",
        "0.0001235",
        "0.0001234",
    ]
    # 17 significant digits tell any two float64 apart
    after = math.nextafter(0.1, 1.0)
    assert column_cells([0.1, after]) == ["0.1", "0.10000000000000002"] == ["0.1", repr(after)]


def test_other_columns_print_as_before() -> None:
    assert column_cells([16, 32]) == ["16", "32"]
    assert column_cells([1.0, 2.0]) == ["1.0", "2.0"]  # whole floats keep their `.0`
    assert column_cells([True, False]) == ["True", "False"]
    assert column_cells(["adamw", "sgd"]) == ["adamw", "sgd"]
    assert column_cells([0.25, MISSING]) == ["0.25", "-"]
    assert column_cells([None, 0.5]) == ["None", "0.5"]
    assert column_cells([0, 0.1]) == ["0", "0.1"]
    assert column_cells([0.0, 0.1]) == ["0.0", "0.1"]  # as config.yaml writes them


def test_a_column_with_gaps_still_shortens_its_numbers() -> None:
    """A trial or run without the key (None, `-`) leaves the other cells short."""
    assert column_cells([1.0789816816471736e-05, None, MISSING, 3.2034201569725462e-06]) == [
        "1.08e-05",
        "None",
        "-",
        "3.2e-06",
    ]
