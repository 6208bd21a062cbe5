"""Coding sheets' action-unit cells read into FACS names."""

from mol.data.action_units import parse_action_units
from mol.data.synthetic.dataset import sheet_action_units


def test_casme2_cells_drop_the_side():
    assert parse_action_units("4+L10") == ["AU4", "AU10"]
    assert parse_action_units("1+2") == ["AU1", "AU2"]
    assert parse_action_units("R12") == ["AU12"]


def test_samm_cells_drop_intensity_letters_and_repeats():
    assert parse_action_units("R14+R17") == ["AU14", "AU17"]
    assert parse_action_units("12B+ 12") == ["AU12"]
    assert parse_action_units("AU4, AU7") == ["AU4", "AU7"]


def test_a_sided_code_is_kept_where_it_is_asked_for():
    assert parse_action_units("R14+7", sided=("R14",)) == ["R14", "AU7"]
    assert parse_action_units("L14", sided=("R14",)) == ["AU14"]


def test_cells_without_codes_give_nothing():
    assert parse_action_units("") == []
    assert parse_action_units("?") == []
    assert parse_action_units(None) == []


def test_the_synthetic_sheet_reads_back_to_its_action_units():
    aus = ["AU6", "AU12", "R14"]
    assert parse_action_units(sheet_action_units(aus), sided=("R14",)) == aus
