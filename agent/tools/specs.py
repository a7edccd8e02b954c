"""Tool specifications: one JSON file per tool next to this module.

A spec holds the tool's canonical ``name``, its ``aliases`` (the first one is the display name
under ``tool_name_style="alias"``), a one-line ``summary`` and a full ``description``, the
OpenAI ``parameters`` JSON schema (``required`` is honoured), ``arg_aliases`` (alternative
argument names → canonical) and an ``example`` call used in error messages. Loading fails on a
malformed spec or on one name/alias claimed by two tools, so a clash never ships.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).parent


@dataclass(frozen=True)
class ToolSpec:
    name: str
    aliases: tuple[str, ...]
    category: str
    summary: str
    description: str
    parameters: dict[str, Any]
    arg_aliases: dict[str, str] = field(default_factory=dict)
    example: dict[str, Any] = field(default_factory=dict)
    minimal: tuple[str, ...] = ()  # the parameters a small model needs (default: the required ones)

    @property
    def properties(self) -> dict[str, dict[str, Any]]:
        return self.parameters.get("properties", {})

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(self.parameters.get("required", ()))

    def schema(self, display: str, *, compact: bool = False, minimal: bool = False) -> dict[str, Any]:
        """The OpenAI ``tools`` entry under ``display``.

        ``compact`` drops parameter descriptions and keeps the one-line summary. ``minimal``
        (for 100M-parameter models) also drops every parameter but :attr:`minimal`, makes those
        required and keeps only their type: each optional parameter shown is one more thing a
        tiny model fills with junk (gemma-3-270m sent ``read`` with all six), and the tool list
        is rendered into every prompt.
        """
        if minimal:
            keep = self.minimal or self.required
            props = {
                p: {k: v for k, v in self.properties[p].items() if k in ("type", "enum")} for p in keep
            }
            params: dict[str, Any] = {"type": "object", "properties": props, "required": list(keep)}
        else:
            params = copy.deepcopy(self.parameters)
            if compact:
                for prop in params.get("properties", {}).values():
                    prop.pop("description", None)
        return {
            "type": "function",
            "function": {
                "name": display,
                "description": self.summary if compact or minimal else self.description,
                "parameters": params,
            },
        }


def normalise_name(name: str) -> str:
    """A spelling-insensitive key: lowercase, ``-``/space → ``_``."""
    return re.sub(r"[\s\-]+", "_", name.strip()).lower()


def _parse(path: Path) -> ToolSpec:
    data = json.loads(path.read_text(encoding="utf-8"))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{path.name}: missing tool name")
    params = data.get("parameters")
    if not isinstance(params, dict) or params.get("type") != "object":
        raise ValueError(f"{path.name}: parameters must be a JSON schema of type object")
    props = params.get("properties", {})
    for req in params.get("required", []):
        if req not in props:
            raise ValueError(f"{path.name}: required parameter {req!r} is not a property")
    arg_aliases = data.get("arg_aliases", {})
    for alias, target in arg_aliases.items():
        if target not in props:
            raise ValueError(f"{path.name}: argument alias {alias!r} points to unknown {target!r}")
    minimal = data.get("minimal", [])
    for prop in minimal:
        if prop not in props:
            raise ValueError(f"{path.name}: minimal parameter {prop!r} is not a property")
    return ToolSpec(
        name=name,
        aliases=tuple(data.get("aliases", [])),
        category=data.get("category", ""),
        summary=data.get("summary") or data.get("description", "").split("\n")[0],
        description=data.get("description", ""),
        parameters=params,
        arg_aliases=dict(arg_aliases),
        example=data.get("example", {}),
        minimal=tuple(minimal),
    )


def load_specs(directory: Path = SPEC_DIR) -> tuple[dict[str, ToolSpec], dict[str, str]]:
    """Every spec in ``directory`` by canonical name, and the index of names/aliases → canonical.

    Raises ValueError when two tools claim the same name or alias (case- and dash-insensitive).
    """
    specs: dict[str, ToolSpec] = {}
    index: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        spec = _parse(path)
        if spec.name in specs:
            raise ValueError(f"{path.name}: tool {spec.name!r} is defined twice")
        specs[spec.name] = spec
        for spelling in (spec.name, *spec.aliases):
            key = normalise_name(spelling)
            owner = index.get(key)
            if owner is not None and owner != spec.name:
                raise ValueError(f"{path.name}: alias {spelling!r} of {spec.name!r} is already used by {owner!r}")
            index[key] = spec.name
    return specs, index


@lru_cache(maxsize=1)
def default_specs() -> tuple[dict[str, ToolSpec], dict[str, str]]:
    return load_specs()
