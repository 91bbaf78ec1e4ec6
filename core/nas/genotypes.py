"""Genotypes: a searched cell pair written as data (DARTS, Liu et al. 2019, section 2.4).

A `Genotype` describes a normal cell and a reduction cell. Each cell has N intermediate nodes;
node i (0-based) takes two inputs, so `normal` / `reduce` hold 2N `(op_name, input_index)` pairs:
entries 2i and 2i+1 build node i. Input index 0 is the cell input c_{k-2}, 1 is c_{k-1}, and
index j >= 2 is intermediate node j - 2 (so node i may read indices 0 .. i + 1). The cell output
concatenates the states listed in `normal_concat` / `reduce_concat` along channels.

JSON form (`to_dict` / `to_json`): {"normal": [[op, index], ...], "normal_concat": [...],
"reduce": [[op, index], ...], "reduce_concat": [...]}.

`PUBLISHED_GENOTYPES` holds the four cells of the DARTS authors' repository (quark0/darts,
cnn/genotypes.py): NASNet-A (Zoph et al. 2018), AmoebaNet-A (Real et al. 2019), DARTS_V1 (first
order) and DARTS_V2 (second order). Note that NASNet and AmoebaNet use ops outside the DARTS
search set (sep_conv_7x7, conv_7x1_1x7), five intermediate nodes, and concat lists that are not
2..5 (only the nodes not consumed inside the cell are concatenated).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import SpecError
from core.nas.primitives import OP_NAMES, PRIMITIVES

__all__ = [
    "Genotype",
    "GenotypeError",
    "PRIMITIVES",
    "PUBLISHED_GENOTYPES",
    "PUBLISHED_SOURCE",
    "CELL_KINDS",
]

CELL_KINDS = ("normal", "reduce")
PUBLISHED_SOURCE = (
    "quark0/darts, cnn/genotypes.py (Liu, Simonyan, Yang: DARTS, ICLR 2019); "
    "NASNet-A from Zoph et al. 2018, AmoebaNet-A from Real et al. 2019 as "
    "transcribed there"
)


class GenotypeError(SpecError):
    """A genotype is malformed: unknown op, input index out of range, wrong length, bad concat."""


Pair = tuple[str, int]


def _pairs(value: Any, field: str) -> tuple[Pair, ...]:
    if not isinstance(value, (list, tuple)):
        raise GenotypeError(
            f"genotype.{field} must be a list of [op, input_index] pairs, "
            f"got {type(value).__name__}"
        )
    out = []
    for k, item in enumerate(value):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise GenotypeError(
                f"genotype.{field}[{k}] must be an [op, input_index] pair, got {item!r}"
            )
        op, index = item
        if not isinstance(op, str) or isinstance(index, bool) or not isinstance(index, int):
            raise GenotypeError(f"genotype.{field}[{k}] must be [str, int], got {item!r}")
        out.append((op, index))
    return tuple(out)


def _ints(value: Any, field: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple, range)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise GenotypeError(f"genotype.{field} must be a list of node indices, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Genotype:
    """A normal and a reduction cell: 2 (op, input) pairs per intermediate node, plus concats.

    Construction normalises lists to tuples and validates (`GenotypeError` on a bad cell), so a
    Genotype object is always well formed.
    """

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        for kind in CELL_KINDS:
            object.__setattr__(self, kind, _pairs(getattr(self, kind), kind))
            object.__setattr__(
                self, f"{kind}_concat", _ints(getattr(self, f"{kind}_concat"), f"{kind}_concat")
            )
        self.validate()

    # -- checks --------------------------------------------------------------------------------
    def validate(self) -> Genotype:
        """Raise GenotypeError naming the first problem; returns self when well formed."""
        for kind in CELL_KINDS:
            self._validate_cell(kind, getattr(self, kind), getattr(self, f"{kind}_concat"))
        return self

    @staticmethod
    def _validate_cell(kind: str, pairs: Sequence[Pair], concat: Sequence[int]) -> None:
        if not pairs or len(pairs) % 2:
            raise GenotypeError(
                f"genotype.{kind} has {len(pairs)} entries; it needs two (op, input) pairs per "
                "intermediate node, i.e. an even number >= 2"
            )
        steps = len(pairs) // 2
        for k, (op, index) in enumerate(pairs):
            if op not in OP_NAMES or op == "none":
                known = ", ".join(sorted(n for n in OP_NAMES if n != "none"))
                raise GenotypeError(
                    f"genotype.{kind}[{k}]: unknown operation {op!r}; use one of {known}"
                )
            node = k // 2
            if not 0 <= index < node + 2:
                raise GenotypeError(
                    f"genotype.{kind}[{k}]: input index {index} out of range for node {node + 2}"
                    f" (allowed 0..{node + 1}: 0 = c_{{k-2}}, 1 = c_{{k-1}}, j >= 2 = node j)"
                )
        if not concat:
            raise GenotypeError(f"genotype.{kind}_concat is empty; list the nodes to concatenate")
        if len(set(concat)) != len(concat):
            raise GenotypeError(f"genotype.{kind}_concat {list(concat)} repeats a node")
        for index in concat:
            if not 0 <= index < steps + 2:
                raise GenotypeError(
                    f"genotype.{kind}_concat: node {index} out of range "
                    f"(the cell has states 0..{steps + 1})"
                )

    # -- views ---------------------------------------------------------------------------------
    def cell(self, kind: str) -> tuple[tuple[Pair, ...], tuple[int, ...]]:
        """(pairs, concat) of the 'normal' or 'reduce' cell."""
        if kind not in CELL_KINDS:
            raise GenotypeError(f"cell kind must be one of {CELL_KINDS}, got {kind!r}")
        return getattr(self, kind), getattr(self, f"{kind}_concat")

    def steps(self, kind: str = "normal") -> int:
        """Number of intermediate nodes of a cell."""
        return len(self.cell(kind)[0]) // 2

    def ops(self) -> set[str]:
        """All op names used by either cell."""
        return {op for kind in CELL_KINDS for op, _ in getattr(self, kind)}

    def count(self, op: str, kind: str = "normal") -> int:
        return sum(1 for name, _ in self.cell(kind)[0] if name == op)

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, list]:
        return {
            "normal": [[op, i] for op, i in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, i] for op, i in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, d: Any) -> Genotype:
        """From `to_dict` output (also accepts a {"genotype": {...}} wrapper, as genotype.json)."""
        if isinstance(d, dict) and "genotype" in d and "normal" not in d:
            d = d["genotype"]
        if not isinstance(d, dict):
            raise GenotypeError(f"a genotype must be a JSON object, got {type(d).__name__}")
        missing = [k for k in ("normal", "normal_concat", "reduce", "reduce_concat") if k not in d]
        if missing:
            raise GenotypeError(
                f"genotype is missing {', '.join(missing)}; expected keys normal,"
                " normal_concat, reduce, reduce_concat"
            )
        return cls(d["normal"], d["normal_concat"], d["reduce"], d["reduce_concat"])

    @classmethod
    def from_json(cls, text: str) -> Genotype:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GenotypeError(f"genotype is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def __str__(self) -> str:
        return (
            f"Genotype(normal={list(self.normal)}, normal_concat={list(self.normal_concat)}, "
            f"reduce={list(self.reduce)}, reduce_concat={list(self.reduce_concat)})"
        )


def concat_range(steps: int, multiplier: int | None = None) -> tuple[int, ...]:
    """DARTS's default concat: the last `multiplier` (default all) of the `steps` nodes."""
    multiplier = steps if multiplier is None else multiplier
    return tuple(range(2 + steps - multiplier, steps + 2))


def _g(
    normal: Iterable[Pair],
    normal_concat: Iterable[int],
    reduce: Iterable[Pair],
    reduce_concat: Iterable[int],
) -> Genotype:
    return Genotype(tuple(normal), tuple(normal_concat), tuple(reduce), tuple(reduce_concat))


# Exactly as in quark0/darts cnn/genotypes.py.
NASNet = _g(
    normal=[
        ("sep_conv_5x5", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 0),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 0),
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
    ],
    normal_concat=[2, 3, 4, 5, 6],
    reduce=[
        ("sep_conv_5x5", 1),
        ("sep_conv_7x7", 0),
        ("max_pool_3x3", 1),
        ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1),
        ("sep_conv_5x5", 0),
        ("skip_connect", 3),
        ("avg_pool_3x3", 2),
        ("sep_conv_3x3", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=[4, 5, 6],
)

AmoebaNet = _g(
    normal=[
        ("avg_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 2),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 3),
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 1),
    ],
    normal_concat=[4, 5, 6],
    reduce=[
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("max_pool_3x3", 0),
        ("sep_conv_7x7", 2),
        ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("conv_7x1_1x7", 0),
        ("sep_conv_3x3", 5),
    ],
    reduce_concat=[3, 4, 6],
)

DARTS_V1 = _g(
    normal=[
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("avg_pool_3x3", 0),
    ],
    reduce_concat=[2, 3, 4, 5],
)

DARTS_V2 = _g(
    normal=[
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=[2, 3, 4, 5],
)

DARTS = DARTS_V2  # the repository's alias

PUBLISHED_GENOTYPES: dict[str, Genotype] = {
    "NASNet": NASNet,
    "AmoebaNet": AmoebaNet,
    "DARTS_V1": DARTS_V1,
    "DARTS_V2": DARTS_V2,
}


def published(name: str) -> Genotype:
    """A published genotype by name (case-insensitive; 'DARTS' means DARTS_V2)."""
    table = {k.lower(): v for k, v in PUBLISHED_GENOTYPES.items()}
    table["darts"] = DARTS_V2
    try:
        return table[name.lower()]
    except KeyError:
        raise GenotypeError(
            f"no published genotype {name!r}; known: {', '.join(PUBLISHED_GENOTYPES)}"
        ) from None
