"""The 766 facts as bits (scalar and vectorised twins agree) and the general scoring rule (index766.md)."""

import numpy as np
import pytest

from sla.core import index766 as ix

FORMULA = ix.Formula("4.2", "766-4.2-v1", "4", "x", 4.0, 0.8, "full", "")


def test_flags_array_is_dossier_flags_vectorised():
    rng = np.random.default_rng(7)
    n = 2000
    known = {name: rng.random(n) < 0.7 for name in ("kind", "electronic", "components", "vneid")}
    value = {
        name: rng.random(n) < 0.5
        for name in (
            "paper",
            "electronic",
            "digitised",
            "reused",
            "store",
            "national",
            "vneid",
            "population",
            "fee",
            "paid",
        )
    }
    vectorised = ix.flags_array(
        result_paper=value["paper"], result_kind_known=known["kind"],
        electronic_result=value["electronic"], electronic_result_known=known["electronic"],
        components_known=known["components"], all_digitised=value["digitised"], reused=value["reused"],
        citizen_store=value["store"], national_db=value["national"],
        vneid=value["vneid"], vneid_known=known["vneid"], population_ref=value["population"],
        fee=value["fee"], paid_online=value["fee"] & value["paid"],
    )  # fmt: skip
    for i in range(n):
        component = (
            [{"digitised": bool(value["digitised"][i]), "reused": bool(value["reused"][i]),
              "from_citizen_store": bool(value["store"][i]), "from_national_db": bool(value["national"][i])}]
            if known["components"][i] else []
        )  # fmt: skip
        fees = []
        if value["fee"][i]:
            paid = bool(value["paid"][i])
            fees = [
                {"amount_vnd": 1000, "payment_channel": "dvcqg" if paid else "cash", "paid_at": "x" if paid else None}
            ]
        scalar = ix.dossier_flags(
            result_kind=("paper" if value["paper"][i] else "electronic") if known["kind"][i] else None,
            electronic_result=bool(value["electronic"][i]) if known["electronic"][i] else None,
            components=component,
            vneid_verified=bool(value["vneid"][i]) if known["vneid"][i] else None,
            population_ref="DC1" if value["population"][i] else None,
            fees=fees,
        )
        assert scalar == int(vectorised[i]), i


def test_component_flags_summarised():
    both = [{"digitised": True, "reused": None}, {"digitised": True, "reused": True}]
    flags = ix.dossier_flags(result_kind=None, electronic_result=None, components=both)
    assert flags & ix.ALL_DIGITISED and flags & ix.REUSED and flags & ix.COMPONENTS_KNOWN
    one_paper = [{"digitised": True}, {"digitised": False}]
    assert not ix.dossier_flags(result_kind=None, electronic_result=None, components=one_paper) & ix.ALL_DIGITISED
    assert ix.dossier_flags(result_kind=None, electronic_result=None, components=[{"digitised": None}]) == 0
    unpaid = [{"amount_vnd": 5000, "payment_channel": None, "paid_at": None}]
    assert ix.dossier_flags(result_kind=None, electronic_result=None, fees=unpaid) == ix.FEE
    free = [{"amount_vnd": 0, "payment_channel": "gateway", "paid_at": "x"}]
    assert ix.dossier_flags(result_kind=None, electronic_result=None, fees=free) == ix.PAID_ONLINE


@pytest.mark.parametrize(
    ("rate", "points"),
    [(None, 4.0), (1.0, 4.0), (0.8, 4.0), (0.4, 2.0), (0.0, 0.0)],
)
def test_full_at_the_threshold_else_proportional_to_it(rate, points):
    assert ix.points(FORMULA, rate) == pytest.approx(points)


def test_without_threshold_proportional_and_unrecorded_left_unscored():
    plain = ix.Formula("4.1", "766-4.1-v1", "4", "x", 6.0, None, "full", "")
    assert ix.score(plain, ix.Figures(1, 3))["points"] == pytest.approx(2.0)
    line = ix.score(plain, ix.Figures(None, None, recorded=False))
    assert line["points"] is None and line["points_lost"] is None and line["formula"] == "766-4.1-v1"
    with pytest.raises(ValueError, match="add up"):
        ix.check_formulas([plain])


def test_a_rules_numbers_are_parameters_of_its_formula():
    assert ix.parse_parameters("province=5; ministry=20") == (("province", 5.0), ("ministry", 20.0))
    assert ix.parse_parameters("") == ()
    for broken in ("province", "province=five", "province=5;province=6", "=5"):
        with pytest.raises(ValueError):
            ix.parse_parameters(broken)
    published = ix.Formula("1.1", "766-1.1-v1", "1", "x", 6.0, None, "full", "", ix.parse_parameters("province=5"))
    assert published.parameter("province") == 5.0
    with pytest.raises(ValueError, match="ministry"):
        published.parameter("ministry")
    rest = ix.Formula("2.1", "766-2.1-v1", "2", "x", 94.0, None, "full", "")
    with pytest.raises(ValueError, match="no parameter 'ministry'"):  # 1.1 must say both authorities' days
        ix.check_formulas([published, rest])
