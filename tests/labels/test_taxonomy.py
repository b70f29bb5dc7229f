from __future__ import annotations

import pytest

from coalwatch.errors import InputError
from coalwatch.labels.taxonomy import Taxonomy, load_taxonomy


def test_default_taxonomy_has_leaves_and_groups() -> None:
    tax = load_taxonomy("default")
    assert tax.classes == ("ore_car", "other_railcar", "bulk_carrier", "other_vessel", "coal_heap")
    assert tax.class_id("ore_car") == 1 and tax.class_name(5) == "coal_heap"
    assert tax.group_of("other_railcar") == "railcar"
    assert tax.to_group("vessel") == "vessel" and tax.to_group("bulk_carrier") == "vessel"
    assert tax.group_names == ("railcar", "vessel", "coal_heap")


def test_ship_taxonomy_is_single_class() -> None:
    tax = load_taxonomy("ship")
    assert tax.classes == ("ship",) and tax.group_of("ship") == "vessel"


def test_round_trip_through_dict() -> None:
    tax = load_taxonomy("default")
    assert Taxonomy.from_dict(tax.to_dict()) == tax


def test_group_naming_unknown_leaf_is_rejected() -> None:
    with pytest.raises(ValueError, match="group"):
        Taxonomy("bad", ("a",), {"g": ("b",)})


def test_bad_taxonomy_file_names_the_file(tmp_path) -> None:
    path = tmp_path / "tax.yaml"
    path.write_text("name: x\n")
    with pytest.raises(InputError, match=r"tax\.yaml"):
        load_taxonomy(path)
