"""Ask a server, before any real work, what it serves and whether the agent's tool calls come back.

Three questions, each answered from what the server itself says or does, never guessed:

* :func:`read_facts`: the context of one slot, the number of slots, the model file and names,
  the build and the chat template (and the tool-call syntax it suggests). A server without
  llama.cpp's ``/props`` (MLX, vLLM, a proxy) leaves these None: callers show them as unknown.
* :func:`probe_tool_calls`: one short request offering one tool that the model must call, built
  exactly as the agent builds its requests (the config's sampling, tool naming and schemas, its
  call grammar if it has one). The answer is a *structured* call (the server parsed it), a call the
  agent *recovered* from the text (:func:`agent.syntaxes.parse_content`, naming the syntax), or
  *none*. An HTTP 400/500 here means the chat template cannot render such a request:
  :func:`explain_chat_error` turns it into one line with the fix.
* :func:`warm_up`: the agent's fixed prefix (system prompt, few-shot, tools) once per slot, so the
  first exercise on each slot neither pays a cold start nor prefills that prefix; what the
  server then took from its cache says whether a slot keeps its cache while another one works.

The harness's preflight (``pytest_localcode/preflight.py``) and ``localcode --check`` both use
these; their requests carry :data:`PROBE_MARK` or :data:`WARM_UP_MARK` so that a log (or a test
server) can tell them from an exercise's.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.client import HttpChatClient, chat_template_of, context_of, one_line
from agent.grammar import call_grammar
from agent.metrics import cached_of
from agent.protocols import ChatError
from agent.syntaxes import detect_syntax, parse_content, to_tool_calls
from agent.wire import build_request

PROBE_MARK = "[localcode preflight: tool-call check]"
WARM_UP_MARK = "[localcode preflight: warm-up]"
PROBE_MAX_TOKENS = 256  # a call to a one-argument tool takes tens of tokens; room for a short thought first
_PROBE_TOOLS = ("read", "ls", "glob", "write")  # the tool the probe offers: the first of these the agent has


@dataclass
class ServerFacts:
    """What a server reports about itself; None where it does not say."""

    url: str
    props: str = "absent"  # "ok", "absent" (no /props: not llama.cpp) or "malformed"
    n_ctx_slot: int | None = None  # tokens of context one slot serves
    total_slots: int | None = None
    model_path: str | None = None
    model_names: list[str] = field(default_factory=list)  # /v1/models ids and aliases, /props model_alias
    build: str | None = None
    template_chars: int | None = None
    template_syntax: str | None = None  # agent.syntaxes key the chat template suggests
    template_tools: bool | None = None  # chat_template_caps.supports_tools

    @property
    def llama(self) -> bool:
        """A llama.cpp server: it takes ``id_slot`` and reports per-request timings."""
        return self.props == "ok" and self.total_slots is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def read_facts(client: HttpChatClient) -> ServerFacts:
    """``/props``, ``/slots`` and ``/v1/models``, each optional (see :class:`ServerFacts`)."""
    facts = ServerFacts(client.base_url)
    props = client.fetch_json("/props")
    if isinstance(props, dict):
        facts.props = "ok"
        facts.n_ctx_slot = context_of(props)
        facts.total_slots = _int(props.get("total_slots"))
        facts.model_path = _str(props.get("model_path"))
        facts.build = _str(props.get("build_info"))
        template = chat_template_of(props)  # the one the agent reads the run's syntax from
        if template:
            facts.template_chars = len(template)
            facts.template_syntax = detect_syntax(template)
        caps = props.get("chat_template_caps")
        if isinstance(caps, dict) and isinstance(caps.get("supports_tools"), bool):
            facts.template_tools = caps["supports_tools"]
        if alias := _str(props.get("model_alias")):
            facts.model_names.append(alias)
        if facts.n_ctx_slot is None and facts.total_slots is None:
            facts.props = "malformed"
    elif props is not None:
        facts.props = "malformed"
    slots = client.fetch_json("/slots")  # the context each slot really has (-c is split between slots)
    if isinstance(slots, list):
        sizes = [_int(s.get("n_ctx")) for s in slots if isinstance(s, dict)]
        if sizes and all(sizes):
            facts.n_ctx_slot = min(n for n in sizes if n)
    models = client.fetch_json("/v1/models")
    entries = models.get("data") if isinstance(models, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            names = [entry.get("id"), *(entry.get("aliases") or [])]
            facts.model_names += [n for n in names if isinstance(n, str) and n not in facts.model_names]
    return facts


@dataclass
class ProbeResult:
    """How the model answered the probe."""

    outcome: str  # "structured" | "recovered" | "none"
    tool: str  # the tool it was asked to call
    syntax: str | None = None  # the syntax a recovered call was written in (agent.syntaxes key)
    called: str | None = None  # the tool it called
    arguments_ok: bool = False  # the call's arguments are a JSON object
    finish_reason: str | None = None
    seconds: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    text: str = ""  # the reply's text when no call came back (cut)

    def describe(self) -> str:
        """One line for a terminal or a report header."""
        if self.outcome == "structured":
            what = f"structured tool call (the server parsed it): {self.called}"
        elif self.outcome == "recovered":
            what = f"tool call recovered from the reply's text (syntax {self.syntax}): {self.called}"
        else:
            shown = f": {self.text!r}" if self.text else ""
            return f"no tool call (finish_reason {self.finish_reason}){shown}"
        return what + ("" if self.arguments_ok else " (arguments not a JSON object)")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}


def probe_schema(schemas: list[dict[str, Any]], resolve: Any) -> dict[str, Any]:
    """The one tool the probe offers: the agent's file reader (or lister), as the agent shows it."""
    shown = {s["function"]["name"]: s for s in schemas}
    for canonical in _PROBE_TOOLS:
        name = resolve(canonical)
        if name in shown:
            return shown[name]
    return schemas[0]


def example_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Plausible values for the tool's required parameters (what the probe asks the model to send)."""
    params = schema["function"].get("parameters") or {}
    props = params.get("properties") or {}
    out: dict[str, Any] = {}
    for key in params.get("required") or list(props)[:1]:
        kind = (props.get(key) or {}).get("type")
        out[key] = {"integer": 1, "number": 1, "boolean": True}.get(str(kind), "README.md" if "path" in key else ".")
    return out


def probe_tool_calls(agent: Any, *, slot: int | None = None, max_tokens: int = PROBE_MAX_TOKENS) -> ProbeResult:
    """Send the probe (see the module docstring) with ``agent``'s config; raises :class:`ChatError`.

    A call left in the text is read as the run will read it: the agent's own syntax first
    (``agent.syntax``, :func:`agent.config.resolve_syntax`); ``slot``: the llama-server slot to use.
    """
    cfg = agent.cfg
    schema = probe_schema(agent.schemas, agent.resolve)
    name = schema["function"]["name"]
    arguments = example_arguments(schema)
    messages = [
        {"role": "system", "content": f"{PROBE_MARK} Answer with one call to the tool {name} and nothing else."},
        {"role": "user", "content": f"Call the tool {name} with the arguments {json.dumps(arguments)}."},
    ]
    grammar = call_grammar([schema], cfg.call_grammar, cfg.grammar_max_string) if cfg.call_grammar else None
    body = build_request(cfg, messages, [schema], model=agent.model, max_tokens=min(cfg.max_tokens, max_tokens),
                         force_tool=True, grammar=grammar, slot=slot)
    started = time.monotonic()
    resp = agent.client.complete(body)
    usage = resp.usage or {}
    result = ProbeResult("none", name, finish_reason=resp.finish_reason, seconds=round(time.monotonic() - started, 3),
                         prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"))
    if resp.tool_calls:
        result.outcome, call = "structured", resp.tool_calls[0]
    else:
        parsed = parse_content(resp.content, [schema], prefer=agent.syntax, known=agent.known)
        if parsed is None or not parsed.calls:
            result.text = one_line(resp.content, 160)
            return result
        result.outcome, result.syntax, call = "recovered", parsed.syntax, to_tool_calls(parsed)[0]
    result.called = call.name
    try:
        result.arguments_ok = isinstance(json.loads(call.arguments), dict)
    except ValueError:
        result.arguments_ok = False
    return result


@dataclass
class WarmUp:
    """One warm-up request: its seconds, and what the server said it took from its cache."""

    slot: int | None
    seconds: float
    prompt_tokens: int | None
    cached_tokens: int | None


def warm_up(agent: Any, slot: int | None = None) -> WarmUp:
    """One request with the agent's fixed prefix on ``slot`` (one token back)."""
    messages = [*agent.prefix(), {"role": "user", "content": WARM_UP_MARK}]
    body = build_request(agent.cfg, messages, agent.schemas, model=agent.model, max_tokens=1, grammar=agent.grammar,
                         slot=slot)
    started = time.monotonic()
    resp = agent.client.complete(body)
    usage = resp.usage or {}
    return WarmUp(slot, round(time.monotonic() - started, 3), usage.get("prompt_tokens"),
                  cached_of(usage, resp.timings or {}))


def explain_chat_error(error: ChatError, *, timeout: float | None = None) -> str:
    """The probe's failure as what went wrong and what to do, in one line (no URL: callers add it)."""
    if error.kind == "timeout":
        waited = f" within {timeout:g} s" if timeout else ""
        return (f"it answers /health but did not answer a chat request{waited} ({error}): check its log "
                "(a model still loading, a hung or overloaded server), or raise the config's request_timeout")
    if error.kind == "connection":
        return f"no answer to a chat request ({error}): is it still running?"
    if error.kind == "context_overflow":
        return f"a one-line request does not fit its context ({error}): start it with a larger context (-c)"
    if error.status in (400, 500):
        return (f"its chat template cannot render a request with tools ({error}): start llama-server with --jinja, "
                "or give the config a server_config.chat_template_file whose template supports tools")
    return f"a chat request failed ({error})"
