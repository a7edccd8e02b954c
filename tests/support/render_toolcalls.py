"""Render the tool-call fixtures of tests/agent/fixtures/toolcalls/ from the models' real chat templates.

Each template named in ``templates.json`` (its family, source repository, path, commit and git blob
id, and how it takes reasoning) renders a fixed set of assistant messages (:data:`CASES`). What
the model itself would have produced is the *difference* between the conversation rendered with
the assistant message and the same conversation rendered with only the generation prompt, less
the end-of-turn token that stops generation: exactly the text a server whose parser failed hands
back as ``content``. That text goes to ``<family>/<template>/<case>.txt``, and the message that
went in to ``<case>.json``; ``<family>/SOURCE.md`` records where each template came from.

The templates themselves are not committed (they belong to their authors): fetch them, then

    .venv/bin/python tests/support/render_toolcalls.py TEMPLATE.jinja [TEMPLATE.jinja ...] [--check]

``--check`` renders and compares with the committed fixtures instead of writing them. The file
name (or the git blob id) finds a template's entry in the manifest; a blob mismatch is an error,
so a fixture always comes from the revision its SOURCE.md names. Rendering follows Hugging Face
transformers' chat-template environment (sandboxed Jinja, trim_blocks, lstrip_blocks,
loopcontrols, a ``tojson`` that does not escape HTML) with its helpers ``raise_exception`` and
``strftime_now`` (a fixed date, so fixtures are stable), and ``from_json``, which llama.cpp adds.
The sandbox lets templates append to lists, as llama.cpp's engine does (Kimi-K2's templates do).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script, it still imports the agent's code
    sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "agent" / "fixtures" / "toolcalls"
MANIFEST = FIXTURES / "templates.json"
FIXED_NOW = datetime.datetime(2026, 1, 15, 12, 0, 0)

SYSTEM = "You are a coding agent. Solve the exercise in the workspace with the tools."
USER = "Implement space_age.py so that its tests pass."
TOOLS = ("read", "write", "edit", "grep", "batch_read", "finish")

CODE = r'''"""Space age: seconds to years on each planet."""
import re

RATIOS = {"Mercury": 0.2408467, "Venus": 0.61519726, 'Earth': 1.0}
PATTERN = re.compile(r"^(\w+)\s*=\s*\"(.*?)\"$")  # quotes, backslashes: \n \t \\ \"


def on(planet: str, seconds: float) -> float:
    if planet not in RATIOS:
        raise ValueError(f"unknown planet: {planet!r} {{braces}}")
    template = "<parameter=x>\n{value}\n</parameter>"  # looks like a closing tag
    markup = '<arg_key>k</arg_key><arg_value>v</arg_value>'
    return round(seconds / 31557600 / RATIOS[planet], 2)
'''

# Every family's call markers as text inside a file body: writing this file must not create calls.
MARKERS = """# Tool-call markers of every model family, as plain text in a file:
<tool_call>read
<arg_key>path</arg_key>
<arg_value>a.py</arg_value>
</tool_call>
<tool_call>read<arg_key>path</arg_key><arg_value>a.py</arg_value></tool_call>
<tool_call>
<function=read>
<parameter=path>
a.py
</parameter>
</function>
</tool_call>
<tool_call>
{"name": "read", "arguments": {"path": "a.py"}}
</tool_call>
<|start|>assistant to=functions.read<|channel|>commentary json<|message|>{"path": "a.py"}<|call|>
<|channel|>analysis<|message|>thinking<|end|><|start|>assistant<|channel|>commentary to=functions.read \
<|constrain|>json<|message|>{"path": "a.py"}<|call|>
[TOOL_CALLS][{"name": "read", "arguments": {"path": "a.py"}, "id": "abcdefghi"}]
[TOOL_CALLS]read[CALL_ID]abcdefghi[ARGS]{"path": "a.py"}
[TOOL_CALLS]read[ARGS]{"path": "a.py"}
{"name": "read", "parameters": {"path": "a.py"}}
<|python_tag|>brave_search.call(query="a.py")
<minimax:tool_call>
<invoke name="read">
<parameter name="path">a.py</parameter>
</invoke>
</minimax:tool_call>
<|tool_calls_section_begin|><|tool_call_begin|>functions.read:0<|tool_call_argument_begin|>{"path": "a.py"}\
<|tool_call_end|><|tool_calls_section_end|>
<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>read
```json
{"path": "a.py"}
```<｜tool▁call▁end｜><｜tool▁calls▁end｜>
<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>read<｜tool▁sep｜>{"path": "a.py"}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
<｜DSML｜function_calls>
<｜DSML｜invoke name="read">
<｜DSML｜parameter name="path" string="true">a.py</｜DSML｜parameter>
</｜DSML｜invoke>
</｜DSML｜function_calls>
<tool_calls>
[{"name": "read", "arguments": {"path": "a.py"}}]
</tool_calls>
<think>reasoning</think> [THINK]reasoning[/THINK]
unclosed: <tool_call>read<arg_key>path</arg_key><arg_value>a.py
unclosed: <function=read><parameter=path>a.py
<|im_end|> <|eot_id|> <|end|> <|return|> </s> [e~[ <｜end▁of▁sentence｜>
"""

REASONING = "The tests call SpaceAge.on_earth(); the stub is empty.\nI should read it first."

# name → (content, reasoning, calls); a call is (tool, arguments)
CASES: dict[str, dict[str, Any]] = {
    "one_call": {"calls": [("read", {"path": "space_age.py"})]},
    "two_calls": {"calls": [("read", {"path": "space_age.py"}), ("grep", {"pattern": "def on_", "path": "."})]},
    "code_body": {"calls": [("write", {"path": "space_age.py", "content": CODE})]},
    "typed_args": {
        "calls": [("grep", {"pattern": r"class \w+", "path": "src", "literal": False, "ignore_case": True,
                            "max_results": 20})]
    },
    "array_arg": {"calls": [("batch_read", {"paths": ["space_age.py", "space_age_test.py"]})]},
    "edit_typed": {
        "calls": [("edit", {"path": "space_age.py", "old": "    pass\n", "new": "    return 1.0\n", "all": True,
                            "old_start": 3})]
    },
    "reasoning": {"reasoning": REASONING, "calls": [("read", {"path": "space_age.py"})]},
    "markers_body": {"calls": [("write", {"path": "notes/markers.txt", "content": MARKERS})]},
}
# Only for templates that list it: Llama 3.1's built-in tools (<|python_tag|>name.call(...)).
BUILTIN_CASE: dict[str, Any] = {
    "calls": [("brave_search", {"query": "space age on Mercury"})],
    "context": {"builtin_tools": ["brave_search", "wolfram_alpha"]},
}
BRAVE_SEARCH = {
    "type": "function",
    "function": {
        "name": "brave_search",
        "description": "Search the web.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    },
}
# End-of-turn tokens that stop generation: not part of what the server returns.
END_OF_TURN = (
    "<|im_end|>\n", "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|return|>", "</s>", "[e~[\n",
    "<｜end▁of▁sentence｜>", "<|end▁of▁sentence|>", "<end_of_turn>\n",
)


def tool_schemas(names: tuple[str, ...] = TOOLS) -> list[dict[str, Any]]:
    """The project's real tool schemas (OpenAI ``tools`` entries), as the agent sends them."""
    specs = _specs()
    return [specs[name].schema(name) for name in names]


@functools.cache
def _specs() -> dict[str, Any]:
    from agent.tools.specs import default_specs

    return default_specs()[0]


def case_tools(case: str) -> list[dict[str, Any]]:
    return tool_schemas() + ([BRAVE_SEARCH] if case == "builtin_tool" else [])


def _environment() -> Any:
    import jinja2
    import jinja2.ext
    import jinja2.sandbox

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(  # default: Jinja's map() and select() give generators
            value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys, default=list
        )

    env = jinja2.sandbox.SandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.filters["from_json"] = json.loads
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = FIXED_NOW.strftime
    return env


def _message(entry: dict[str, Any], spec: dict[str, Any], calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The assistant message carrying ``calls`` (and the case's reasoning, as the template takes it)."""
    content: Any = spec.get("content", "")
    reasoning = spec.get("reasoning", "")
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        how = entry.get("reasoning")
        if how == "content":  # the template's place for prose before the calls
            message["content"] = reasoning
        elif how == "blocks":
            message["content"] = [{"type": "thinking", "thinking": reasoning}]
        elif how in ("reasoning_content", "thinking"):
            message[how] = reasoning
    if not message["content"] and entry.get("empty_content") == "none":
        message["content"] = None
    message["tool_calls"] = [
        {"id": f"call{i:05d}", "type": "function", "function": {"name": name, "arguments": copy.deepcopy(args)}}
        for i, (name, args) in enumerate(calls, 1)
    ]
    return message


def render_case(template_text: str, entry: dict[str, Any], case: str) -> tuple[str, dict[str, Any]]:
    """(the reply text, the expected result) of one case under one template."""
    spec = BUILTIN_CASE if case == "builtin_tool" else CASES[case]
    env = _environment()
    template = env.from_string(template_text)
    calls = spec["calls"]
    if entry.get("several") == "messages":  # one assistant message per call (Harmony)
        messages = [_message(entry, spec if i == 0 else {}, [call]) for i, call in enumerate(calls)]
    else:
        messages = [_message(entry, spec, calls)]
    context = {
        "tools": case_tools(case),
        "bos_token": entry.get("bos_token", ""),
        "eos_token": entry.get("eos_token", ""),
        **entry.get("context", {}),
        **spec.get("context", {}),
    }
    if entry.get("thinking_flag"):  # thinking on exactly when the case has reasoning
        context[entry["thinking_flag"]] = bool(spec.get("reasoning"))
    history = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    prompt = template.render(messages=history, add_generation_prompt=True, **context)
    full = template.render(messages=history + messages, add_generation_prompt=False, **context)
    if full.startswith(prompt):
        reply = full[len(prompt) :]
    else:
        # The generation prompt prefills what the template does not render for a past message
        # (R1's "<think>\n"), or the template moves text (Mistral-Nemo's system prompt goes into
        # the last user turn): the reply starts after the prompt's last assistant header.
        header = entry.get("reply_after", "")
        count = prompt.count(header) if header else 0
        if not count:
            raise ValueError(f"{entry['template']}: the conversation does not extend its generation prompt")
        cut = -len(header)
        for _ in range(count):
            cut = full.index(header, cut + len(header))
        reply = full[cut + len(header) :]
    for token in END_OF_TURN:
        if reply.endswith(token):
            reply = reply[: -len(token)]
            break
    expected: dict[str, Any] = {
        "template": entry["template"],
        "case": case,
        "calls": [{"name": name, "arguments": args} for name, args in calls],
    }
    reasoning = spec.get("reasoning", "")
    if reasoning and entry.get("reasoning") == "content":
        expected["text"] = reasoning
    elif reasoning:
        expected["reasoning"] = reasoning
    if reasoning and reasoning.splitlines()[0] not in reply:
        raise ValueError(f"{entry['template']}: case {case}: the reasoning is not in the rendered reply")
    return reply, expected


def reply_like(sample: Path, calls: list[tuple[str, dict[str, Any]]]) -> str:
    """The reply of the committed fixture ``sample`` (``<case>.txt``) with ``calls`` in place of its
    own: the same tools with the same argument keys, each string value written where and as the
    sample writes it (verbatim, or as a JSON string), so a test gets a family's real syntax for
    arguments of its own without the template at hand. Values that do not change stay as they are.
    """
    text = sample.read_text(encoding="utf-8")
    expected = json.loads(sample.with_suffix(".json").read_text(encoding="utf-8"))["calls"]
    if [c["name"] for c in expected] != [name for name, _ in calls]:
        raise ValueError(f"{sample}: has calls {[c['name'] for c in expected]}, not {[n for n, _ in calls]}")
    changes: list[tuple[str, str]] = []
    for old_call, (_, args) in zip(expected, calls):
        if set(old_call["arguments"]) != set(args):
            raise ValueError(f"{sample}: {old_call['name']} takes {sorted(old_call['arguments'])}, not {sorted(args)}")
        changes += [(old, args[key]) for key, old in old_call["arguments"].items() if old != args[key]]
    if not all(isinstance(old, str) and isinstance(new, str) for old, new in changes):
        raise ValueError(f"{sample}: only string values can be replaced")

    def as_json(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)[1:-1]

    # How the sample writes strings: the value that reads differently in the two ways says.
    written = {"verbatim": lambda v: v, "json": as_json}
    telling = [old for old, _ in changes if old != as_json(old)]
    ways = [w for w, encode in written.items() if all(text.count(encode(old)) == 1 for old in telling)]
    if telling and len(ways) != 1:
        raise ValueError(f"{sample}: cannot tell how it writes string values")
    encode = written[ways[0]] if telling else lambda v: v
    if not telling and any(new != as_json(new) for _, new in changes):
        raise ValueError(f"{sample}: its values do not show how it writes newlines and quotes")
    spans = []
    for old, new in changes:
        at = text.find(encode(old))
        if at < 0 or text.count(encode(old)) != 1:
            raise ValueError(f"{sample}: {old[:40]!r} does not occur exactly once")
        spans.append((at, at + len(encode(old)), encode(new)))
    spans.sort()
    if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
        raise ValueError(f"{sample}: argument values overlap")
    out, cursor = [], 0
    for start, end, new in spans:
        out += [text[cursor:start], new]
        cursor = end
    return "".join(out) + text[cursor:]


def cases_of(entry: dict[str, Any]) -> list[str]:
    return [c for c in list(CASES) + entry.get("extra_cases", []) if c not in entry.get("skip", {})]


def detect_syntax(template_text: str) -> str | None:
    from agent.syntaxes import detect_syntax as detect

    return detect(template_text)


def equivalent(family: str | None) -> set[str]:
    """The families that write calls exactly as ``family`` does (Step and Qwen3-Coder)."""
    from agent.syntaxes import SYNTAXES

    if family is None:
        return set()
    return {k for k, s in SYNTAXES.items() if s.forms == SYNTAXES[family].forms}


def git_blob(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def load_manifest() -> list[dict[str, Any]]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def find_entry(path: Path, manifest: list[dict[str, Any]]) -> dict[str, Any]:
    blob = git_blob(path.read_bytes())
    for entry in manifest:
        if entry["template"] == path.name or entry["blob"] == blob:
            if entry["blob"] != blob:
                raise SystemExit(
                    f"{path}: git blob {blob} is not the revision templates.json names ({entry['blob']}, "
                    f"{entry['repo']} {entry['path']} @ {entry['commit']}); fetch that revision"
                )
            return entry
    raise SystemExit(f"{path}: no entry in {MANIFEST.relative_to(ROOT)}; add one (family, repo, path, commit, blob)")


def fixture_dir(entry: dict[str, Any]) -> Path:
    return FIXTURES / entry["family"] / Path(entry["template"]).stem


def source_md(family: str, manifest: list[dict[str, Any]]) -> str:
    lines = [
        f"# {family}: tool-call fixtures rendered from real chat templates",
        "",
        "Rendered by `tests/support/render_toolcalls.py` (see its docstring); the templates are not committed.",
        "The commit is the last one of the repository that changed the template; the git blob identifies",
        "the file's exact bytes (the script refuses any other revision).",
        "",
        "| template | source (repository, path @ commit) | git blob | cases | not rendered (why) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in manifest:
        if e["family"] != family:
            continue
        skipped = "; ".join(f"{c}: {why}" for c, why in e.get("skip", {}).items()) or "-"
        lines.append(
            f"| {e['template']} | {e['repo']} `{e['path']}` @ `{e['commit']}` | `{e['blob']}` | "
            f"{', '.join(cases_of(e))} | {skipped} |"
        )
    vias = sorted({e["via"] for e in manifest if e["family"] == family and e.get("via")})
    notes = [f"Read from {via}." for via in vias]
    notes += [e["note"] for e in manifest if e["family"] == family and e.get("note")]
    return "\n".join(lines + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="+", type=Path, help="chat template files (.jinja) named in templates.json")
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures, write nothing")
    args = parser.parse_args(argv)
    manifest = load_manifest()
    problems: list[str] = []
    families: set[str] = set()
    for path in args.templates:
        entry = find_entry(path, manifest)
        families.add(entry["family"])
        out = fixture_dir(entry)
        text = path.read_text(encoding="utf-8")
        detected = detect_syntax(text)
        if detected != entry["family"] and entry["family"] not in equivalent(detected):
            problems.append(f"{path.name}: detect_syntax gives {detected!r}, not {entry['family']!r}")
        for case in cases_of(entry):
            reply, expected = render_case(text, entry, case)
            txt, js = out / f"{case}.txt", out / f"{case}.json"
            rendered_json = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
            if args.check:
                if not txt.exists() or txt.read_bytes() != reply.encode("utf-8"):
                    problems.append(f"{txt.relative_to(ROOT)} differs from the rendering")
                if not js.exists() or js.read_text(encoding="utf-8") != rendered_json:
                    problems.append(f"{js.relative_to(ROOT)} differs from the rendering")
                continue
            out.mkdir(parents=True, exist_ok=True)
            txt.write_bytes(reply.encode("utf-8"))
            js.write_text(rendered_json, encoding="utf-8")
        print(f"{path.name}: {entry['family']}: {len(cases_of(entry))} cases {'checked' if args.check else 'written'}")
    if not args.check:
        for family in sorted(families):
            (FIXTURES / family / "SOURCE.md").write_text(source_md(family, manifest), encoding="utf-8")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
