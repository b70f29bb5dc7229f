"""Class taxonomies in two levels: leaf classes (what the detector predicts) and groups.

Labels may name a leaf or a group; every dataset and model names the taxonomy it uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coalwatch.errors import InputError
from coalwatch.resources import resolve_config


@dataclass(frozen=True)
class Taxonomy:
    """Leaf classes in detector order (ids from 1; 0 is background) and their groups."""

    name: str
    classes: tuple[str, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.classes:
            raise ValueError(f"taxonomy {self.name!r} declares no classes")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"taxonomy {self.name!r} repeats a class name")
        for group, members in self.groups.items():
            unknown = [m for m in members if m not in self.classes]
            if unknown:
                raise ValueError(f"taxonomy {self.name!r}: group {group!r} names {unknown}")

    @property
    def num_classes(self) -> int:
        """Number of leaf classes (without background)."""
        return len(self.classes)

    def class_id(self, leaf: str) -> int:
        """Detector id (from 1) of a leaf class."""
        return self.classes.index(leaf) + 1

    def class_name(self, class_id: int) -> str:
        """Leaf class name of a detector id (from 1)."""
        return self.classes[class_id - 1]

    def group_of(self, leaf: str) -> str:
        """The group a leaf class belongs to (the leaf itself when no group names it)."""
        for group, members in self.groups.items():
            if leaf in members:
                return group
        return leaf

    @property
    def group_names(self) -> tuple[str, ...]:
        """Group names in declaration order, plus ungrouped leaves."""
        names = list(self.groups)
        names += [c for c in self.classes if self.group_of(c) == c and c not in names]
        return tuple(names)

    def is_known(self, name: str) -> bool:
        """Whether ``name`` is a leaf class or a group."""
        return name in self.classes or name in self.groups

    def is_leaf(self, name: str) -> bool:
        """Whether ``name`` is a leaf class."""
        return name in self.classes

    def to_group(self, name: str) -> str:
        """Map a leaf or a group name to its group."""
        if name in self.groups:
            return name
        if name in self.classes:
            return self.group_of(name)
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain form, as stored in datasets and model metadata."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "groups": {g: list(m) for g, m in self.groups.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Taxonomy:
        """Build from the plain form or the YAML form (classes as names or mappings)."""
        classes = tuple(c["name"] if isinstance(c, Mapping) else str(c) for c in data["classes"])
        groups = {str(g): tuple(m) for g, m in (data.get("groups") or {}).items()}
        return cls(name=str(data["name"]), classes=classes, groups=groups)


def load_taxonomy(name_or_path: str | Path = "default") -> Taxonomy:
    """Load a taxonomy YAML by path or by shipped name (``default``, ``ship``)."""
    path = resolve_config(str(name_or_path), "taxonomy")
    try:
        data = yaml.safe_load(path.read_text())
        return Taxonomy.from_dict(data)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"not a valid taxonomy: {exc}") from exc
