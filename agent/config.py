"""Agent configs: one JSON file per model/profile under ``agent/configs/{gguf,mlx}/``.

A config is data the harness also reads (``server_config`` tells it how to start the server), so
loading is strict where a typo would silently change a benchmark (wrong types → :class:`ConfigError`
naming file and key) and lenient where old files carry history (deprecated or unknown keys are
warned about once and ignored). JSON files and ``--key value`` overrides follow one set of typing
rules: the CLI hands every value over as a string, :func:`coerce` turns it into what the key
expects (``--max_turns 30``, ``--tools read,write,finish``, ``--think auto``, ``--top_p none``),
and :func:`kind_error` checks any value against the key's kind.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from agent.syntaxes import GRAMMAR_SYNTAX, SYNTAXES, detect_syntax

AGENT_DIR = Path(__file__).resolve().parent
CONFIG_DIR = AGENT_DIR / "configs"
FAMILIES = ("gguf", "mlx")
DEFAULT_TOOLS = ["read", "write", "edit", "apply_patch", "glob", "grep", "search", "ls"]


def state_dir() -> Path:
    """The project's state: ``$LOCALCODE_HOME``, else ``.localcode/`` in the checkout. Installed
    tools, caches, llama-server and the tiny models live there, and the CLI's sessions and logs."""
    return Path(os.environ.get("LOCALCODE_HOME", AGENT_DIR.parent / ".localcode")).expanduser().resolve()


Kind = Literal["str", "str?", "int", "int?", "float", "float?", "bool", "bool?", "list", "list?", "dict", "auto?"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

_DEPRECATED_PREFIXES = ("task_", "flow", "history_tool_")
_DEPRECATED = {
    "benchmark_output_mode",
    "history_mode",
    "history_keep_first",
    "history_strip_thinking",
    "phase_control",
    "phase_log",
    "progress_injection",
    "progress_max_tokens",
    "read_loop_nudge_threshold",
    "finish_nudge_remaining_turns",
}


def deprecated(key: str) -> bool:
    """Keys older configs carry that no longer do anything (warned about, then ignored)."""
    return key in _DEPRECATED or key.startswith(_DEPRECATED_PREFIXES)


def parse_bool(text: str) -> bool | None:
    low = text.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else None


def coerce(kind: Kind, raw: str) -> Any:
    """Best-effort conversion of a CLI string; a value that does not fit is returned unchanged
    so that :func:`kind_error` reports it with the key's name."""
    text = raw.strip()
    if kind.endswith("?") and text.lower() in ("none", "null"):
        return None
    base = kind.rstrip("?")
    try:
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base in ("bool", "auto"):
            if base == "auto" and text.lower() == "auto":
                return "auto"
            flag = parse_bool(text)
            return raw if flag is None else flag
        if base == "list":
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        if base == "dict":
            return json.loads(text)
    except ValueError:
        return raw
    return raw


def kind_error(kind: Kind, value: Any) -> str | None:
    """Why ``value`` does not fit ``kind`` (a phrase), or None."""
    if value is None:
        return None if kind.endswith("?") else "must not be null"
    base = kind.rstrip("?")
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "auto": isinstance(value, bool) or value == "auto",
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
    }[base]
    if ok:
        return None
    return {
        "str": "must be a string",
        "int": "must be an integer",
        "float": "must be a number",
        "bool": "must be true or false",
        "auto": 'must be true, false or "auto"',
        "list": "must be a list",
        "dict": "must be an object",
    }[base]


class ConfigError(ValueError):
    """A config file or override is wrong; the message is one line naming the file and key."""


class ConfigWarning(UserWarning):
    """A config key is deprecated or unknown and was ignored."""


@dataclass
class AgentConfig:
    """Everything that shapes one agent run. Field docs say what the key does on the wire."""

    name: str = ""
    path: str = ""  # the file it came from
    description: str = ""
    prompt: str = ""  # system prompt file (required); {{TOOLS}} / {{tool:X}} expanded
    # {key: file}: appended to the prompt when the caller names that key (the harness: the
    # exercise, e.g. "javascript/react"; the CLI: --overlay KEY)
    prompt_overlays: dict[str, str] = field(default_factory=dict)
    few_shot: str | None = None  # JSON list of example messages inserted after the system prompt
    model: str = ""  # request "model"; llama-server ignores it, mlx_lm.server loads it
    url: str = "http://127.0.0.1:1235/v1/chat/completions"
    stream: bool = True
    request_timeout: float = 600.0  # max seconds between streamed bytes (per-read timeout)
    # sampling (None → omitted, the server's default applies)
    max_tokens: int = 16000
    temperature: float | None = 0.0
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repeat_penalty: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    # tools
    tools: list[str] = field(default_factory=lambda: list(DEFAULT_TOOLS))
    tool_name_style: str | None = None  # "canonical" | "alias"
    tool_aliases: dict[str, str] = field(default_factory=dict)  # {canonical: display name}
    tool_choice: str | None = None  # "auto" | "required" | "none": only strings reach llama.cpp
    max_batch_tool_calls: int | None = None
    # "section" | "tag" | "json": send a GBNF grammar forcing one call in that syntax instead of
    # ``tools`` (see agent/grammar.py); grammar_max_string bounds its string arguments (chars)
    call_grammar: str | None = None
    grammar_max_string: int | None = None
    # the model family's tool-call syntax (a key of agent.syntaxes.SYNTAXES): calls the server
    # leaves in the text are read in it first; unset → resolve_syntax() works it out
    tool_syntax: str | None = None
    max_output_chars: int | None = None
    shell_timeout: float | None = None
    read_style: str | None = None
    compact_schemas: bool | None = None
    minimal_schemas: bool | None = None  # each tool's essential parameters only, all required
    workspace_aliases: list[str] | None = None
    send_tool_categories: bool = False  # accepted for old configs; never sent
    # loop control
    max_turns: int = 20
    min_tool_calls: int = 0
    max_format_retries: int = 0
    auto_tool_call_on_failure: bool = False
    require_code_change: bool = False
    noop_guard_turns: int = 3  # identical or no-op turns in a row before the run is stopped
    history_max_messages: int = 0  # 0: unlimited
    # reasoning and caching
    think: bool | str | None = None  # bool → chat_template_kwargs.enable_thinking; "auto" → unset
    think_level: str | None = None  # → reasoning_effort
    thinking_level: str | None = None  # synonym of think_level
    native_thinking: bool = False  # keep reasoning_content in history
    thinking_visibility: str = "show"  # terminal only: "show" | "hidden"
    cache: bool | str | None = None  # → llama.cpp cache_prompt ("auto" → unset)
    request_overrides: dict[str, Any] = field(default_factory=dict)
    server_config: dict[str, Any] = field(default_factory=dict)  # for the harness: model_path, context_window, …
    warnings: list[str] = field(default_factory=list)  # what was ignored while loading

    @property
    def reasoning_effort(self) -> str | None:
        return self.think_level or self.thinking_level

    def resolve(self, rel: str) -> Path:
        """A path named in the config: absolute, next to the config file, or under ``agent/``."""
        p = Path(rel).expanduser()
        if p.is_absolute():
            return p
        for base in (Path(self.path).parent if self.path else None, AGENT_DIR, CONFIG_DIR):
            if base is not None and (base / p).exists():
                return base / p
        return AGENT_DIR / p

    def chat_template_path(self) -> Path | None:
        """``server_config.chat_template_file`` resolved (relative to ``agent/configs/``)."""
        rel = self.server_config.get("chat_template_file")
        if not rel:
            return None
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (CONFIG_DIR / p if (CONFIG_DIR / p).exists() else self.resolve(rel))

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "warnings"}


KINDS: dict[str, Kind] = {
    "name": "str",
    "path": "str",
    "description": "str",
    "prompt": "str",
    "prompt_overlays": "dict",
    "few_shot": "str?",
    "model": "str",
    "url": "str",
    "stream": "bool",
    "request_timeout": "float",
    "max_tokens": "int",
    "temperature": "float?",
    "top_p": "float?",
    "top_k": "int?",
    "min_p": "float?",
    "presence_penalty": "float?",
    "frequency_penalty": "float?",
    "repeat_penalty": "float?",
    "seed": "int?",
    "stop": "list?",
    "tools": "list",
    "tool_name_style": "str?",
    "tool_aliases": "dict",
    "tool_choice": "str?",
    "max_batch_tool_calls": "int?",
    "max_output_chars": "int?",
    "shell_timeout": "float?",
    "read_style": "str?",
    "compact_schemas": "bool?",
    "minimal_schemas": "bool?",
    "call_grammar": "str?",
    "grammar_max_string": "int?",
    "tool_syntax": "str?",
    "workspace_aliases": "list?",
    "send_tool_categories": "bool",
    "max_turns": "int",
    "min_tool_calls": "int",
    "max_format_retries": "int",
    "auto_tool_call_on_failure": "bool",
    "require_code_change": "bool",
    "noop_guard_turns": "int",
    "history_max_messages": "int",
    "think": "auto?",
    "think_level": "str?",
    "thinking_level": "str?",
    "native_thinking": "bool",
    "thinking_visibility": "str",
    "cache": "auto?",
    "request_overrides": "dict",
    "server_config": "dict",
}
_CHOICES = {
    "tool_choice": ("auto", "required", "none"),
    "thinking_visibility": ("show", "hidden"),
    "tool_name_style": ("canonical", "alias"),
    "call_grammar": ("section", "tag", "json"),
    "tool_syntax": tuple(SYNTAXES),
}
_MINIMUM = {
    "max_turns": 1,
    "max_tokens": 1,
    "min_tool_calls": 0,
    "max_format_retries": 0,
    "history_max_messages": 0,
    "max_batch_tool_calls": 1,
    "noop_guard_turns": 1,
    "grammar_max_string": 16,
}
_warned: set[tuple[str, str]] = set()


def _warn(cfg_file: str, message: str, sink: list[str]) -> None:
    sink.append(message)
    if (cfg_file, message) not in _warned:  # once per process, not once per exercise
        _warned.add((cfg_file, message))
        warnings.warn(message, ConfigWarning, stacklevel=3)


def _check(cfg_file: str, key: str, value: Any) -> Any:
    """Validate (and normalise) one value; raise ConfigError naming file and key."""
    problem = kind_error(KINDS[key], value)
    if problem is None and value is not None:
        if key in _CHOICES and value not in _CHOICES[key]:
            problem = f"must be one of {', '.join(_CHOICES[key])}"
        elif key in _MINIMUM and value < _MINIMUM[key]:
            problem = f"must be ≥ {_MINIMUM[key]}"
    if problem:
        raise ConfigError(f"{cfg_file}: key '{key}' {problem}, got {json.dumps(value)[:80]}")
    if KINDS[key] in ("float", "float?") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def list_configs() -> list[str]:
    """Every shipped config as ``gguf/<name>`` / ``mlx/<name>``, sorted."""
    return sorted(f"{fam}/{p.stem}" for fam in FAMILIES for p in (CONFIG_DIR / fam).glob("*.json"))


def find_config(name: str | Path) -> Path:
    """A path, a ``family/name`` or a bare name (gguf first, then mlx) → the config file."""
    p = Path(name).expanduser()
    if isinstance(name, Path) or p.suffix == ".json" or p.is_file():
        if p.is_file():
            return p
        raise ConfigError(f"{name}: config file not found")
    text = str(name).removesuffix(".json")
    candidates = (
        [CONFIG_DIR / f"{text}.json"] if "/" in text else [CONFIG_DIR / fam / f"{text}.json" for fam in FAMILIES]
    )
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f"unknown agent config '{name}'; available: {', '.join(list_configs())}")


def load_config(name: str | Path, overrides: dict[str, Any] | None = None) -> AgentConfig:
    """Load, validate and apply overrides (typed values, or strings coerced as on the CLI)."""
    path = find_config(name)
    try:
        shown = str(path.resolve().relative_to(CONFIG_DIR))
    except ValueError:
        shown = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{shown}: cannot read: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{shown}: invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: top level must be a JSON object")
    default_name = shown.removesuffix(".json") if not Path(shown).is_absolute() else path.stem
    values: dict[str, Any] = {"name": default_name, "path": str(path)}
    sink: list[str] = []
    for key, value in data.items():
        if key in ("path", "warnings"):
            continue
        if deprecated(key):
            _warn(shown, f"{shown}: deprecated key '{key}' ignored", sink)
        elif key not in KINDS:
            _warn(shown, f"{shown}: unknown key '{key}' ignored", sink)
        else:
            values[key] = _check(shown, key, value)
    for key, raw in (overrides or {}).items():
        key = key.replace("-", "_")
        if key not in KINDS:
            raise ConfigError(f"override '{key}': not a config key (see agent/config.py)")
        values[key] = _check(f"override {key}", key, coerce(KINDS[key], raw) if isinstance(raw, str) else raw)
    if not data.get("prompt"):
        raise ConfigError(f"{shown}: key 'prompt' is required")
    cfg = AgentConfig(**values)
    cfg.warnings = sink
    _check_syntax(shown, cfg)
    return cfg


def with_overrides(cfg: AgentConfig, overrides: dict[str, Any]) -> AgentConfig:
    """A copy of ``cfg`` with more overrides applied (same rules as :func:`load_config`)."""
    changes = {}
    for key, raw in overrides.items():
        key = key.replace("-", "_")
        if key not in KINDS:
            raise ConfigError(f"override '{key}': not a config key (see agent/config.py)")
        changes[key] = _check(f"override {key}", key, coerce(KINDS[key], raw) if isinstance(raw, str) else raw)
    changed = replace(cfg, **changes)
    _check_syntax("overrides", changed)
    return changed


def _check_syntax(source: str, cfg: AgentConfig) -> None:
    """A ``tool_syntax`` other than the one ``call_grammar`` makes the model write is a mistake."""
    written = GRAMMAR_SYNTAX.get(cfg.call_grammar or "")
    if cfg.tool_syntax and written and cfg.tool_syntax != written:
        raise ConfigError(f"{source}: key 'tool_syntax' is {cfg.tool_syntax!r} but call_grammar {cfg.call_grammar!r} "
                          f"makes the model write {written!r} calls; set tool_syntax to {written!r} or leave it out")


def declared_syntax(cfg: AgentConfig) -> str | None:
    """The tool-call syntax the config itself fixes: ``tool_syntax``, else the one its
    ``call_grammar`` makes the model write; None when it fixes none."""
    return cfg.tool_syntax or GRAMMAR_SYNTAX.get(cfg.call_grammar or "")


def resolve_syntax(cfg: AgentConfig, chat_template: str | None = None, model_name: str | None = None) -> str | None:
    """The run's tool-call syntax (a key of :data:`agent.syntaxes.SYNTAXES`), or None when nothing tells.

    In order: :func:`declared_syntax`; the family of the chat template (``chat_template``, the
    server's own from ``/props``, else the config's ``chat_template_file``); the family of a model
    name (``model_name``, then the config's ``model``, ``model_path``, ``hf_model`` and name,
    each by its last path component). Recovery reads that family first and the others after.
    """
    declared = declared_syntax(cfg)
    if declared:
        return declared
    template = chat_template
    path = cfg.chat_template_path() if not template else None
    if path is not None:
        try:
            template = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            template = None
    found = detect_syntax(template) if template else None
    server = cfg.server_config or {}
    names = (model_name, cfg.model, server.get("model_path"), server.get("hf_model"), cfg.name)
    for name in names:
        if found is None and isinstance(name, str) and name:
            found = detect_syntax(None, name.rstrip("/").rsplit("/", 1)[-1])
    return found
