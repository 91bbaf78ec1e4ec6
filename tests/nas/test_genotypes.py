"""Genotype: JSON round trip, validation errors, the published cells as in quark0/darts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.nas.genotypes import PUBLISHED_GENOTYPES, Genotype, GenotypeError, published

# A copy of ../shared/reference/published_genotypes.json (the team's reference), kept in the repo
# so the check runs wherever the repository is cloned.
REFERENCE = Path(__file__).resolve().parent / "fixtures" / "published_genotypes.json"
G = PUBLISHED_GENOTYPES["DARTS_V2"]


@pytest.mark.parametrize("name", sorted(PUBLISHED_GENOTYPES))
def test_round_trip(name):
    g = PUBLISHED_GENOTYPES[name]
    assert Genotype.from_json(g.to_json()) == g
    assert Genotype.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    assert Genotype.from_dict({"genotype": g.to_dict()}) == g


def test_published_match_reference():
    ref = json.loads(REFERENCE.read_text())["genotypes"]
    assert set(ref) == set(PUBLISHED_GENOTYPES)
    for name, g in PUBLISHED_GENOTYPES.items():
        assert g.to_dict() == ref[name], name


def test_published_quirks():
    nasnet, amoeba = PUBLISHED_GENOTYPES["NASNet"], PUBLISHED_GENOTYPES["AmoebaNet"]
    assert nasnet.steps("normal") == 5 and nasnet.normal_concat == (2, 3, 4, 5, 6)
    assert amoeba.reduce_concat == (3, 4, 6)
    assert "sep_conv_7x7" in nasnet.ops() and "conv_7x1_1x7" in amoeba.ops()
    assert published("darts") == G and published("dArTs_v1") == PUBLISHED_GENOTYPES["DARTS_V1"]


def _with(**changes):
    d = G.to_dict()
    d.update(changes)
    return d


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"normal": [["sep_conv_9x9", 0]] + G.to_dict()["normal"][1:]},
            "unknown operation 'sep_conv_9x9'",
        ),
        ({"normal": [["none", 0]] + G.to_dict()["normal"][1:]}, "unknown operation 'none'"),
        (
            {
                "reduce": G.to_dict()["reduce"][:2]
                + [["max_pool_3x3", 3]]
                + G.to_dict()["reduce"][3:]
            },
            r"reduce\[2\]: input index 3 out of range for node 3",
        ),
        ({"normal": [["sep_conv_3x3", -1]] + G.to_dict()["normal"][1:]}, "input index -1"),
        ({"normal": G.to_dict()["normal"][:3]}, "has 3 entries"),
        ({"normal": []}, "has 0 entries"),
        ({"normal_concat": [2, 3, 9]}, "normal_concat: node 9 out of range"),
        ({"reduce_concat": []}, "reduce_concat is empty"),
        ({"normal_concat": [2, 2]}, "repeats a node"),
        ({"normal": [["sep_conv_3x3", "0"]] + G.to_dict()["normal"][1:]}, r"must be \[str, int\]"),
    ],
)
def test_validation_errors(changes, message):
    with pytest.raises(GenotypeError, match=message):
        Genotype.from_dict(_with(**changes))


def test_missing_keys_and_bad_json():
    with pytest.raises(GenotypeError, match="missing reduce, reduce_concat"):
        Genotype.from_dict({"normal": [], "normal_concat": []})
    with pytest.raises(GenotypeError, match="not valid JSON"):
        Genotype.from_json("{normal")
    with pytest.raises(GenotypeError, match="no published genotype 'ENAS'"):
        published("ENAS")
