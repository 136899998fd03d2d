"""Category rules: the documented head-position rule, and coverage on the real catalogs."""

from __future__ import annotations

import itertools

import pytest

from indexer.categorize import HOMEDEPOT_RULES, ICECAT_RULES, OTHER, categorize, split_path
from indexer.presets import homedepot_items, icecat_items


@pytest.mark.parametrize(
    ("title", "brand", "expected"),
    [
        (
            "Xerox 006R90321 toner cartridge Original Black 6 pc(s)",
            "Xerox",
            "Printing/Supplies/Toner",
        ),
        # head-first: the notebook, not the HDD listed among its specifications
        (
            "HP Pavilion dv7-1211ea Notebook Silver 43.2 cm 250 GB HDD",
            "HP",
            "Computers/Laptops/Notebook",
        ),
        # a longer phrase at the same position wins ("notebook case" over "notebook")
        ("Targus 15.6in notebook case Black", "Targus", "Computers/Laptops/Bag & case"),
        ("C2G 10m Cat5e Patch Cable networking cable Green", "C2G", "Cables/Network/Patch cable"),
        # "pc(s)" (pieces) is not a PC
        ("HP 49A Original Black 1 pc(s)", "HP", "Printing/Supplies/Cartridge"),
        ("Acme Frobnicator 3000", "Acme", OTHER),
    ],
)
def test_icecat_rules(title: str, brand: str, expected: str) -> None:
    assert categorize(title, ICECAT_RULES, brand) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # head-last, cut at " in ": the faucet trim kit, not the valve in the parenthesis
        (
            "Delta Vero 1-Handle Shower Only Faucet Trim Kit in Chrome (Valve Not Included)",
            "Bath/Faucets/Faucet",
        ),
        (
            "Whirlpool 1.9 cu. ft. Over the Range Convection Microwave in Stainless Steel",
            "Appliances/Cooking/Range & oven",
        ),
        (
            "Toro Personal Pace Recycler 22 in. Self-Propelled Gas Lawn Mower with Engine",
            "Outdoor/Power equipment/Mower & trimmer",
        ),
        # an early "(" leaves no head: the whole title is used
        (
            "EcoSmart 120W Equivalent Daylight (5000K) PAR38 LED Flood Light Bulb",
            "Lighting/Bulbs/Light bulb",
        ),
    ],
)
def test_homedepot_rules(title: str, expected: str) -> None:
    assert categorize(title, HOMEDEPOT_RULES) == expected


def test_brand_prefix_never_matches_a_rule() -> None:
    # "Printer" as a brand-like prefix must not make everything a printer
    assert categorize("Printer Corp widget", ICECAT_RULES, "Printer Corp") == OTHER


def test_split_path() -> None:
    assert split_path("A/B//C/") == ["A", "B", "C"]


def test_coverage_on_real_catalogs() -> None:
    ice = [i.category for i in itertools.islice(icecat_items(), 4000)]
    hd = [i.category for i in itertools.islice(homedepot_items(), 4000)]
    ice_cov = sum(c != OTHER for c in ice) / len(ice)
    hd_cov = sum(c != OTHER for c in hd) / len(hd)
    assert ice_cov > 0.8, ice_cov
    assert hd_cov > 0.8, hd_cov
    assert all(len(split_path(c)) in (1, 3) for c in ice + hd if c)
