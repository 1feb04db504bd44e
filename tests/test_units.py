"""The one table of unit names (equimol.units.UNITS) and the views other modules record."""

from equimol import keys, units
from equimol.data import store


def test_recorded_unit_tables_are_unchanged():
    assert units.CHECKPOINT_UNITS == {
        "length": "Å",
        "energy": "eV",
        "forces": "eV/Å",
        "charge": "e",
        "dipole": "e·Å",
        "polarizability": "Å^3",
    }
    assert units.MD_UNITS == {"length": "Å", "energy": "eV", "mass": "amu", "time": "fs", "temperature": "K"}
    assert keys.TARGET_UNITS == {
        keys.ENERGY: "eV",
        keys.FORCES: "eV/Å",
        keys.DIPOLE: "e·Å",
        keys.DIPOLE_MAGNITUDE: "e·Å",
        keys.POLARIZABILITY: "Å^3",
        keys.SPATIAL_EXTENT: "Å^2",
        keys.PARTIAL_CHARGES: "e",
    }
    assert list(store.UNITS) == [*keys.TARGET_UNITS, keys.POSITIONS, keys.CELL]
    assert store.UNITS[keys.POSITIONS] == store.UNITS[keys.CELL] == "Å"


def test_views_come_from_the_one_table():
    for table in (units.CHECKPOINT_UNITS, units.MD_UNITS, keys.TARGET_UNITS, store.UNITS):
        assert all(units.UNITS[name] == unit for name, unit in table.items())
