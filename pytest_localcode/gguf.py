"""What a GGUF file says about its model: name, architecture, size label, quantization, parameters.

Read from the file's header (metadata key/values, then the tensor table; no tensor data), so a
leaderboard row can say "Q4_K_M, 270M" from the file itself rather than from its name. Only the
GGUF container format is parsed (versions 2 and 3, little-endian); nothing is loaded.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"GGUF"
# llama.cpp's llama_ftype (include/llama.h): the value of general.file_type
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M",
    13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS",
    21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4",
    40: "Q1_0",
}
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
KEEP = ("general.name", "general.architecture", "general.size_label", "general.file_type", "general.basename",
        "general.finetune", "general.quantization_version")


class GGUFError(ValueError):
    """Not a GGUF file, or a damaged one."""


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise GGUFError("file ends inside its header")
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    length = _read(fh, "<Q")
    if length > 1 << 24:
        raise GGUFError(f"implausible string length {length}")
    return fh.read(length).decode("utf-8", errors="replace")


def _value(fh: BinaryIO, kind: int, keep: bool) -> Any:
    if kind in SCALARS:
        return _read(fh, SCALARS[kind])
    if kind == STRING:
        return _string(fh)
    if kind == ARRAY:
        item_kind, count = _read(fh, "<I"), _read(fh, "<Q")
        if item_kind in SCALARS and not keep:  # e.g. token scores: skip without decoding
            fh.seek(struct.calcsize(SCALARS[item_kind]) * count, 1)
            return None
        if item_kind == STRING and not keep:  # e.g. the vocabulary
            for _ in range(count):
                fh.seek(_read(fh, "<Q"), 1)
            return None
        items = [_value(fh, item_kind, keep) for _ in range(count)]
        return items if keep else None
    raise GGUFError(f"unknown metadata value type {kind}")


def read_metadata(path: Path) -> dict[str, Any]:
    """The model's description from a GGUF header; raises :class:`GGUFError` or ``OSError``."""
    with open(path, "rb") as fh:
        if fh.read(4) != MAGIC:
            raise GGUFError(f"{path}: not a GGUF file")
        version = _read(fh, "<I")
        if version not in (2, 3):
            raise GGUFError(f"{path}: GGUF version {version} is not supported")
        tensors, kv_count = _read(fh, "<Q"), _read(fh, "<Q")
        meta: dict[str, Any] = {}
        for _ in range(kv_count):
            key = _string(fh)
            kind = _read(fh, "<I")
            value = _value(fh, kind, key in KEEP)
            if key in KEEP:
                meta[key] = value
        parameters = 0
        for _ in range(tensors):
            _string(fh)
            dims = [_read(fh, "<Q") for _ in range(_read(fh, "<I"))]
            _read(fh, "<I")  # tensor type
            _read(fh, "<Q")  # offset
            count = 1
            for d in dims:
                count *= d
            parameters += count
    file_type = meta.get("general.file_type")
    return {
        "name": meta.get("general.name"),
        "architecture": meta.get("general.architecture"),
        "size_label": meta.get("general.size_label") or size_label(parameters),
        "parameters": parameters,
        "quantization": FILE_TYPES.get(file_type, f"type {file_type}") if file_type is not None else None,
        "gguf_version": version,
    }


def size_label(parameters: int) -> str:
    """``268098176`` → ``268M`` (the convention of GGUF's own ``general.size_label``)."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if parameters >= scale:
            value = parameters / scale
            return f"{value:.0f}{suffix}" if value >= 10 else f"{value:.1f}{suffix}".replace(".0", "")
    return str(parameters)


def describe(path: str | Path | None) -> dict[str, Any] | None:
    """:func:`read_metadata` for a provenance record: None for no path or a non-GGUF file, an
    ``error`` entry when the file cannot be read."""
    if not path or not str(path).endswith(".gguf"):
        return None
    try:
        return read_metadata(Path(path))
    except (OSError, GGUFError) as exc:
        return {"error": str(exc)}
