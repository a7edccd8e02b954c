"""Tool calls written as text in every family's syntax (agent/syntaxes.py).

The fixtures under fixtures/toolcalls/ were rendered from the families' real chat templates by
tests/support/render_toolcalls.py (sources in each family's SOURCE.md); every one must come back
as exactly the calls that went in. Handwritten samples below cover what real models write beside
what their templates render (whitespace, missing closing markers, prose after the call).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

from agent.syntaxes import SYNTAXES, Parsed, ParsedCall, detect_syntax, parse_content, split_reasoning, to_tool_calls
from agent.syntaxes import typed_value
from agent.callreader import END_OF_TURN
from tests.support.render_toolcalls import CASES, CODE, MARKERS, case_tools, reply_like, tool_schemas

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "toolcalls"
MANIFEST = json.loads((FIXTURES / "templates.json").read_text(encoding="utf-8"))
SAMPLES = sorted(FIXTURES.glob("*/*/*.json"))
TOOLS = tool_schemas()


def load(path: Path) -> tuple[str, str, dict[str, Any]]:
    """(family, reply text, expected) of one fixture."""
    text = path.with_suffix(".txt").read_bytes().decode("utf-8")
    return path.parent.parent.name, text, json.loads(path.read_text(encoding="utf-8"))


def calls_of(parsed: Parsed | None) -> list[dict[str, Any]] | None:
    return None if parsed is None else [{"name": c.name, "arguments": c.arguments} for c in parsed.calls]


def same_syntax(a: str, b: str) -> bool:
    """Step writes its calls exactly as Qwen3-Coder does: either name is right for both."""
    return a == b or SYNTAXES[a].forms == SYNTAXES[b].forms


def sample_id(path: Path) -> str:
    return str(path.relative_to(FIXTURES).with_suffix(""))


def read_call(name: str = "read", **args: Any) -> list[dict[str, Any]]:
    return [{"name": name, "arguments": args or {"path": "a.py"}}]


# -- the table ------------------------------------------------------------------------------------
def test_every_family_has_real_samples_of_every_case() -> None:
    """Each family has fixtures, and each case is rendered by one of its templates or every
    template of the family says why it cannot be."""
    for family in SYNTAXES:
        entries = [e for e in MANIFEST if e["family"] == family]
        assert entries, f"{family}: no template renders its samples"
        for case in CASES:
            rendered = [e for e in entries if (FIXTURES / family / Path(e["template"]).stem / f"{case}.txt").exists()]
            skipped = [e for e in entries if case in e.get("skip", {})]
            assert rendered or len(skipped) == len(entries), f"{family}: case {case} neither rendered nor explained"
    for entry in MANIFEST:
        assert entry["repo"] and entry["path"] and len(entry["commit"]) == 40 and len(entry["blob"]) == 40
        assert (FIXTURES / entry["family"] / "SOURCE.md").read_text(encoding="utf-8").count(entry["commit"]) >= 1


@pytest.mark.parametrize("key", list(SYNTAXES))
def test_each_example_in_the_table_parses(key: str) -> None:
    parsed = parse_content(SYNTAXES[key].example, TOOLS, key)
    assert parsed is not None and same_syntax(parsed.syntax, key)
    assert calls_of(parsed) == read_call()


# -- real samples ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_real_sample_recovered_exactly(path: Path) -> None:
    family, text, expected = load(path)
    tools = case_tools(expected["case"])
    for prefer in (family, None):
        parsed = parse_content(text, tools, prefer)
        assert parsed is not None, f"prefer={prefer}: no call found"
        assert calls_of(parsed) == expected["calls"], f"prefer={prefer}"
        assert same_syntax(parsed.syntax, family) and parsed.strict and parsed.incomplete is None
        assert parsed.reasoning == expected.get("reasoning", "")
        assert parsed.text == expected.get("text", "")


@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_real_sample_recovered_whichever_family_is_preferred(path: Path) -> None:
    """A wrong ``prefer`` (a misconfigured or misdetected family) costs nothing but time."""
    family, text, expected = load(path)
    tools = case_tools(expected["case"])
    for prefer in SYNTAXES:
        assert calls_of(parse_content(text, tools, prefer)) == expected["calls"], f"prefer={prefer}"


CLOSERS = (
    "</tool_call>", "<|call|>", "</tool_calls>", "<|tool_calls_section_end|>", "<｜tool▁calls▁end｜>",
    "</minimax:tool_call>", "</｜DSML｜function_calls>",
)


@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_real_sample_variants_servers_produce(path: Path) -> None:
    """The final closing marker cut by a stop word, an end-of-turn token left in by --special,
    prose before the calls and surrounding whitespace change nothing."""
    family, text, expected = load(path)
    tools = case_tools(expected["case"])
    variants = ["\n  " + text + "\n\n", text + "\n<|eot_id|>\n", "I'll do that now.\n\n" + text]
    variants += [text + token for token in END_OF_TURN]
    closer = next((c for c in CLOSERS if text.rstrip().endswith(c)), None)
    if closer:
        variants.append(text.rstrip()[: -len(closer)])
    for variant in variants:
        parsed = parse_content(variant, tools, family)
        assert calls_of(parsed) == expected["calls"], repr(variant[-80:])
        assert parsed is not None and parsed.incomplete is None


# -- no false positives ---------------------------------------------------------------------------
MARKER_SAMPLES = sorted(FIXTURES.glob("*/*/markers_body.json"))


@pytest.mark.parametrize("path", MARKER_SAMPLES, ids=sample_id)
def test_file_body_with_every_familys_markers_round_trips(path: Path) -> None:
    family, text, _ = load(path)
    for prefer in [family, None, *SYNTAXES]:
        parsed = parse_content(text, case_tools("markers_body"), prefer)
        assert parsed is not None and [c.name for c in parsed.calls] == ["write"], f"prefer={prefer}"
        content = parsed.calls[0].arguments["content"]
        assert content.encode("utf-8") == MARKERS.encode("utf-8"), f"prefer={prefer}"


def _replace_body(text: str, body: str) -> str:
    """The markers_body sample with another file body, written as that syntax writes it."""
    if MARKERS in text:
        return text.replace(MARKERS, body)
    escaped = json.dumps(MARKERS, ensure_ascii=False)[1:-1]
    assert text.count(escaped) == 1
    return text.replace(escaped, json.dumps(body, ensure_ascii=False)[1:-1])


@pytest.fixture(scope="module")
def every_sample_as_text() -> str:
    """A file body holding every rendered sample of every family, one after another."""
    parts = [p.read_bytes().decode("utf-8") for p in sorted(FIXTURES.glob("*/*/*.txt")) if p.stem != "markers_body"]
    return "# every family's calls, as text\n" + "\n".join(parts) + "\n" + MARKERS


@pytest.mark.parametrize("path", MARKER_SAMPLES, ids=sample_id)
def test_file_body_holding_every_real_sample_round_trips(path: Path, every_sample_as_text: str) -> None:
    """Including this very family's own complete calls, one after another, inside the body."""
    family, text, _ = load(path)
    reply = _replace_body(text, every_sample_as_text)
    for prefer in (family, None):
        parsed = parse_content(reply, case_tools("markers_body"), prefer)
        assert parsed is not None and [c.name for c in parsed.calls] == ["write"], f"prefer={prefer}"
        assert parsed.calls[0].arguments["content"] == every_sample_as_text


def test_file_bodies_of_random_marker_fragments_round_trip(every_sample_as_text: str) -> None:
    """Bodies stitched at random (seeded) from fragments of every family's real samples, cut at tag
    boundaries so that openers, closers and values come apart, written in each family's syntax
    and read with any family preferred."""
    rng = random.Random(13)
    fragments = [f for f in re.split(r"(?<=>)|(?=<)|(?<=\])|(?=\[)|\n", every_sample_as_text) if f.strip()]
    samples = [load(p) for p in MARKER_SAMPLES]
    for _ in range(300):
        body = "".join(rng.choice(fragments) + rng.choice(["", "\n", " "]) for _ in range(rng.randint(2, 40)))
        family, text, _ = rng.choice(samples)
        prefer = rng.choice([family, None, *SYNTAXES])
        parsed = parse_content(_replace_body(text, body), case_tools("markers_body"), prefer)
        assert parsed is not None and [c.name for c in parsed.calls] == ["write"], (family, prefer, body)
        assert parsed.calls[0].arguments["content"] == body, (family, prefer, body)


# Bodies that hold what ends a value or a call, in every family, and what opens one.
CLOSING = "\n".join([
    "</arg_value>", "</parameter>", "</function>", "</tool_call>", "</invoke>", "</minimax:tool_call>",
    "<|tool_call_end|>", "<|tool_calls_section_end|>", "<｜tool▁call▁end｜>", "<｜tool▁calls▁end｜>",
    "</｜DSML｜parameter>", "</｜DSML｜invoke>", "<|call|>", "<|end|>", "</tool_calls>", '"}}', "]", "```",
    "<|im_end|>", "</think>",
]) + "\n"
OPENING = "<think>\n" + "\n".join([
    "<arg_key>all</arg_key><arg_value>", "<parameter=all>", '<parameter name="all">', "<tool_call>",
    "[TOOL_CALLS]", "<|python_tag|>", "<|tool_call_begin|>", "to=functions.edit<|message|>",
]) + "\n"
BODIES = {"markers": MARKERS, "code": CODE, "closing": CLOSING, "opening": OPENING,
          "both": OPENING + CLOSING + "tail", "blank_lines": "\n\n\nx\n\n\n", "crlf": "a\r\nb\r\n"}


@pytest.mark.parametrize("sample_dir", sorted(FIXTURES.glob("*/*/")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bodies_in_any_argument_position_round_trip(sample_dir: Path) -> None:
    """A body holding closing and opening markers, as the last argument (write's content) and as
    one followed by more typed arguments (edit's old and new), written in the family's syntax
    (the sample's own, with these values in place) and read with any family preferred."""
    family = sample_dir.parent.name
    tools = tool_schemas()
    for body in BODIES.values():
        for case, calls in (
            ("code_body", [("write", {"path": "wordy.py", "content": body})]),
            ("edit_typed", [("edit", {"path": "wordy.py", "old": body, "new": body + "!", "all": True,
                                      "old_start": 3})]),
        ):
            reply = reply_like(sample_dir / f"{case}.txt", calls)
            for prefer in (family, None, *SYNTAXES):
                parsed = parse_content(reply, tools, prefer)
                assert calls_of(parsed) == [{"name": n, "arguments": a} for n, a in calls], (case, body, prefer)
                assert parsed is not None and parsed.incomplete is None


@pytest.mark.parametrize(
    "text",
    [
        "The answer is 42.",
        "Use a <b>bold</b> tag and a <function> element in the docs.",
        'An example config:\n```json\n{"name": "my-app", "arguments": ["--fast"]}\n```',  # not a tool: stays text
        "def f(x):\n    return {'name': x}  # <tool_call> is just a word here\n",
        "Set the channel to=stdout and retry [TOOL_CALLS are logged].",
        "<think>I could call read, but the answer is already known.</think>The planet is Mercury.",
        'Call it as {"name": "read", "arguments": {"path": "a.py"}} and carry on.',  # shown in prose
        "",
    ],
)
def test_prose_and_code_are_not_calls(text: str) -> None:
    for prefer in (None, *SYNTAXES):
        assert parse_content(text, TOOLS, prefer) is None


# -- truncated and malformed calls ------------------------------------------------------------------
def _first_sample_of_each_family(case: str) -> list[Path]:
    seen: dict[str, Path] = {}
    for path in sorted(FIXTURES.glob(f"*/*/{case}.json")):
        seen.setdefault(path.parent.parent.name, path)
    return list(seen.values())


@pytest.mark.parametrize(
    "path", _first_sample_of_each_family("code_body") + _first_sample_of_each_family("two_calls"), ids=sample_id
)
def test_reply_cut_anywhere_gives_only_complete_calls(path: Path) -> None:
    """Documented behaviour: a call the end of the reply cut off (max_tokens) is never returned
    as a call (it would write half a file); the calls before it that completed are. A call closed
    only by the end of the reply counts when it has every required argument (a stop word on the
    closing tag gives that), so a cut right after a complete argument may drop optional ones that
    were to follow; and a cut inside the next call's opening marker cannot be told from the end."""
    family, text, expected = load(path)
    tools = case_tools(expected["case"])
    step = max(1, len(text) // 160)
    for end in range(0, len(text), step):
        parsed = parse_content(text[:end], tools, family)
        if parsed is None:
            continue
        got = calls_of(parsed) or []
        assert got[:-1] == expected["calls"][: max(0, len(got) - 1)], f"cut at {end}: {text[:end][-60:]!r}"
        if got:  # the last call may lack optional arguments cut off after it, never half a value
            last, want = got[-1], expected["calls"][len(got) - 1]
            assert last["name"] == want["name"] and last["arguments"].items() <= want["arguments"].items()


@pytest.mark.parametrize("path", _first_sample_of_each_family("code_body"), ids=sample_id)
def test_write_cut_inside_its_body_is_reported_incomplete(path: Path) -> None:
    family, text, expected = load(path)
    body = expected["calls"][0]["arguments"]["content"]
    cut = text.index("RATIOS")  # well inside the file body, in every syntax
    assert body.index("RATIOS") > 0
    parsed = parse_content(text[:cut], case_tools("code_body"), family)
    assert parsed is not None and parsed.calls == [] and parsed.incomplete == "write"


@pytest.mark.parametrize(
    ("text", "name", "raw"),
    [
        ('<tool_call>\n{"name": "read", "arguments": {"path": "a.py",}}\n</tool_call>', "read", '{"path": "a.py",}'),
        ("<|tool_calls_section_begin|><|tool_call_begin|>functions.read:0<|tool_call_argument_begin|>"
         "{'path': 'a.py'}<|tool_call_end|><|tool_calls_section_end|>", "read", "{'path': 'a.py'}"),
        ("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>read<｜tool▁sep｜>{path: \"a.py\"}"
         "<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "read", '{path: "a.py"}'),
    ],
)
def test_broken_json_between_complete_markers_is_handed_on_as_text(text: str, name: str, raw: str) -> None:
    """Documented behaviour: arguments that are not JSON, inside a call whose markers are complete,
    come back as the raw text (``ToolBox.execute`` accepts a string and repairs or rejects it)."""
    parsed = parse_content(text, TOOLS)
    assert parsed is not None and not parsed.strict
    assert parsed.calls == [ParsedCall(name, raw)]


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>",
        "<tool_call>\n{not json at all}\n</tool_call>",
        "<tool_call>\n<function=read>\n<parameter=path>",
        "[TOOL_CALLS]",
        "<|tool_calls_section_begin|><|tool_call_begin|>",
        "<minimax:tool_call>\n<invoke name=",
    ],
)
def test_malformed_calls_do_not_crash(text: str) -> None:
    for prefer in (None, *SYNTAXES):
        parsed = parse_content(text, TOOLS, prefer)
        assert parsed is None or parsed.calls == []


# -- what real models write beside what templates render ----------------------------------------
VARIANTS: list[tuple[str, str, list[dict[str, Any]]]] = [
    # GLM: with and without newlines between pairs, spaces around keys, no-argument calls
    ("glm", "<tool_call>read<arg_key>path</arg_key><arg_value>a.py</arg_value></tool_call>", read_call()),
    ("glm", "<tool_call>read\n<arg_key> path </arg_key>\n\n<arg_value>a.py</arg_value>\n</tool_call>\n", read_call()),
    ("glm", "<tool_call>finish</tool_call>", [{"name": "finish", "arguments": {}}]),
    ("glm", "<tool_call>finish\n</tool_call>", [{"name": "finish", "arguments": {}}]),
    ("glm", "Let me look.\n<tool_call>grep<arg_key>pattern</arg_key><arg_value>x</arg_value>"
     "<arg_key>max_results</arg_key><arg_value>5</arg_value><arg_key>literal</arg_key><arg_value>true</arg_value></tool_call>",
     [{"name": "grep", "arguments": {"pattern": "x", "max_results": 5, "literal": True}}]),
    # a stop word ate </tool_call>
    ("glm", "<tool_call>read<arg_key>path</arg_key><arg_value>a.py</arg_value>", read_call()),
    # Qwen3-Coder XML: values with or without padding newlines, no <tool_call> wrapper, Python spellings
    ("qwen3_coder", "<tool_call>\n<function=read>\n<parameter=path>a.py</parameter>\n</function>\n</tool_call>",
     read_call()),
    ("qwen3_coder", "<function=read>\n<parameter=path>\na.py\n</parameter>\n</function>", read_call()),
    ("qwen3_coder", "<tool_call><function=write><parameter=path>a.py</parameter>"
     "<parameter=content>\n\nx = 1\n\n</parameter></function></tool_call>",
     [{"name": "write", "arguments": {"path": "a.py", "content": "\nx = 1\n"}}]),
    ("qwen3_coder", "<tool_call>\n<function=edit>\n<parameter=path>\na.py\n</parameter>\n"
     "<parameter=new>\ny\n</parameter>\n<parameter=all>\nTrue\n</parameter>\n"
     "<parameter=old_start>\n 3 \n</parameter>\n</function>\n</tool_call>",
     [{"name": "edit", "arguments": {"path": "a.py", "new": "y", "all": True, "old_start": 3}}]),
    ("qwen3_coder", "I'll read it.\n\n<tool_call>\n<function=read>\n<parameter=path>\na.py\n</parameter>\n"
     "</function>\n</tool_call>\n<tool_call>\n<function=finish>\n</function>\n</tool_call>",
     read_call() + [{"name": "finish", "arguments": {}}]),
    # Hermes JSON: arguments as a string, a list in one tag, trailing prose
    ("hermes", '<tool_call>\n{"name": "read", "arguments": "{\\"path\\": \\"a.py\\"}"}\n</tool_call>', read_call()),
    ("hermes", '<tool_call>{"name":"read","arguments":{"path":"a.py"}}</tool_call>', read_call()),
    ("hermes", '<tool_call>\n{"name": "read", "arguments": {"path": "a.py"}}\n</tool_call>\n'
     "I will wait for the result.", read_call()),
    # Harmony: model form, template form, no <|call|> (it stops generation), analysis first
    ("harmony", '<|channel|>commentary to=functions.read <|constrain|>json<|message|>{"path": "a.py"}', read_call()),
    ("harmony", '<|start|>assistant<|channel|>commentary to=functions.read json<|message|>{"path":"a.py"}<|call|>',
     read_call()),
    ("harmony", '<|channel|>analysis<|message|>Need the file.<|end|><|start|>assistant<|channel|>commentary to=read '
     '<|constrain|>json<|message|>{"path": "a.py"}<|call|>', read_call()),
    ("hermes", '<tool_call>\n{"name": "read", "arguments": {"path": "a.py"}} (reading first)\n</tool_call>',
     read_call()),
    ("harmony", '<|channel|>analysis to=functions.read code<|message|>{"path": "a.py"}<|call|>', read_call()),
    # Mistral: v3 list with spaces, v11 with and without [ARGS], several
    ("mistral", '[TOOL_CALLS] [{"name": "read", "arguments": {"path": "a.py"}}]', read_call()),
    ("mistral", '[TOOL_CALLS]read{"path": "a.py"}', read_call()),
    ("mistral", '[TOOL_CALLS]read[ARGS]{"path": "a.py"}[TOOL_CALLS]finish[ARGS]{}',
     read_call() + [{"name": "finish", "arguments": {}}]),
    # Llama 3.x: bare, python_tag JSON, ';'-separated, fenced
    ("llama3", '{"name": "read", "parameters": {"path": "a.py"}}', read_call()),
    ("llama3", '<|python_tag|>{"name": "read", "parameters": {"path": "a.py"}}', read_call()),
    ("llama3", '{"name": "read", "parameters": {"path": "a.py"}}; {"name": "finish", "parameters": {}}',
     read_call() + [{"name": "finish", "arguments": {}}]),
    ("llama3", '```json\n{"name": "read", "arguments": {"path": "a.py"}}\n```', read_call()),
    # MiniMax: single quotes, newlines, typed values
    ("minimax", "<minimax:tool_call><invoke name='read'><parameter name='path'>a.py</parameter></invoke>"
     "</minimax:tool_call>", read_call()),
    ("minimax", '<think>\nplan\n</think>\n\n<minimax:tool_call>\n<invoke name="batch_read">\n'
     '<parameter name="paths">["a.py", "b.py"]</parameter>\n</invoke>\n</minimax:tool_call>',
     [{"name": "batch_read", "arguments": {"paths": ["a.py", "b.py"]}}]),
    # Kimi: newlines between tokens (llama.cpp's own test sample), ids without "functions."
    ("kimi", '<|tool_calls_section_begin|>\n<|tool_call_begin|>\nfunctions.read:0<|tool_call_argument_begin|>\n'
     '{"path": "a.py"}\n<|tool_call_end|>\n<|tool_calls_section_end|>', read_call()),
    ("kimi", '<|tool_calls_section_begin|><|tool_call_begin|>read:3<|tool_call_argument_begin|>{"path": "a.py"}'
     "<|tool_call_end|>", read_call()),
    ("kimi", '<|tool_call_begin|>functions.read:0<|tool_call_argument_begin|>{"path": "a.py"}<|tool_call_end|>',
     read_call()),
    # DeepSeek: ASCII bars, V3.1 and R1 forms, DSML typed by its own flag
    ("deepseek", '<|tool▁calls▁begin|><|tool▁call▁begin|>read<|tool▁sep|>{"path": "a.py"}<|tool▁call▁end|>'
     "<|tool▁calls▁end|>", read_call()),
    ("deepseek", '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>read\n```json\n{"path": "a.py"}\n```'
     "<｜tool▁call▁end｜><｜tool▁calls▁end｜>", read_call()),
    ("deepseek", '<｜DSML｜function_calls>\n<｜DSML｜invoke name="grep">\n'
     '<｜DSML｜parameter name="pattern" string="true">42</｜DSML｜parameter>\n'
     '<｜DSML｜parameter name="max_results" string="false">7</｜DSML｜parameter>\n</｜DSML｜invoke>\n'
     "</｜DSML｜function_calls>",
     [{"name": "grep", "arguments": {"pattern": "42", "max_results": 7}}]),
    # Step: reasoning whose opening tag was in the generation prompt, calls with no separator
    ("step", "plan it\n</think>\n<tool_call>\n<function=read>\n<parameter=path>\na.py\n</parameter>\n</function>\n"
     "</tool_call><tool_call>\n<function=finish>\n</function>\n</tool_call>",
     read_call() + [{"name": "finish", "arguments": {}}]),
    # the project's own section
    ("tool_calls", '<tool_calls>\n[{"name": "read", "arguments": {"path": "a.py"}}]\n</tool_calls>', read_call()),
    ("tool_calls", '<tool_calls>[{"name": "read", "arguments": {"path": "a.py"}}]', read_call()),
]


@pytest.mark.parametrize(
    ("family", "text", "expected"), VARIANTS, ids=lambda v: v if isinstance(v, str) and len(v) < 12 else ""
)
def test_what_models_write(family: str, text: str, expected: list[dict[str, Any]]) -> None:
    for prefer in (family, None):
        parsed = parse_content(text, TOOLS, prefer)
        assert calls_of(parsed) == expected, f"prefer={prefer}"
        assert parsed is not None and same_syntax(parsed.syntax, family)


def test_reasoning_and_text_are_kept_apart() -> None:
    parsed = parse_content(
        "<think>The stub is empty.</think>\nReading it now.\n"
        "<tool_call>read<arg_key>path</arg_key><arg_value>a.py</arg_value></tool_call>",
        TOOLS,
        "glm",
    )
    assert parsed is not None and parsed.reasoning == "The stub is empty." and parsed.text == "Reading it now."
    assert split_reasoning("[THINK]hmm[/THINK][TOOL_CALLS]x[ARGS]{}", "mistral") == ("hmm", "[TOOL_CALLS]x[ARGS]{}")
    assert split_reasoning("no reasoning here") == ("", "no reasoning here")


def test_a_think_tag_inside_a_body_is_not_reasoning() -> None:
    text = ("<tool_call>\n<function=write>\n<parameter=path>\nt.md\n</parameter>\n"
            "<parameter=content>\nclose with </think>\n</parameter>\n</function>\n</tool_call>")
    parsed = parse_content(text, TOOLS, "qwen3_coder")
    assert parsed is not None and parsed.reasoning == ""
    assert calls_of(parsed) == [{"name": "write", "arguments": {"path": "t.md", "content": "close with </think>"}}]


# -- argument typing --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "schema", "flag", "expected"),
    [
        ("42", {"type": "integer"}, None, 42),
        (" -7\n", {"type": "integer"}, None, -7),
        ("4.5", {"type": "number"}, None, 4.5),
        ("4", {"type": "number"}, None, 4),
        ("true", {"type": "boolean"}, None, True),
        ("False", {"type": "boolean"}, None, False),  # a template's |string of a Python bool
        ("null", {"type": ["integer", "null"]}, None, None),
        ("None", {"type": "null"}, None, None),
        ('["a", "b"]', {"type": "array"}, None, ["a", "b"]),
        ("['a', 'b']", {"type": "array"}, None, ["a", "b"]),  # Python's repr
        ('{"k": 1}', {"type": "object"}, None, {"k": 1}),
        ("7", {"anyOf": [{"type": "integer"}, {"type": "null"}]}, None, 7),
        ("2", {"enum": [1, 2, 3]}, None, 2),
        ("  keep me  \n", {"type": "string"}, None, "  keep me  \n"),
        ("42", {"type": ["string", "integer"]}, None, "42"),  # a string is allowed: stays verbatim
        ("42", None, None, "42"),  # no schema: stays a string
        ("forty", {"type": "integer"}, None, "forty"),  # the tool's validation reports it
        ("[1, 2", {"type": "array"}, None, "[1, 2"),
        ("7", {"type": "string"}, "false", 7),  # DSML says it is not a string
        ("7", {"type": "integer"}, "true", "7"),
    ],
)
def test_typed_value(raw: str, schema: dict[str, Any] | None, flag: str | None, expected: Any) -> None:
    value = typed_value(raw, schema, flag)
    assert value == expected and type(value) is type(expected)


# -- detection ----------------------------------------------------------------------------------------
CONFIG_FAMILIES = {
    "glm-4.7-flash.json": "glm",
    "gpt-oss-120b-mxfp4.json": "harmony",
    "jan-v3-4b.json": "hermes",
    "kimi-k2.5.json": "kimi",
    "minimax-m2.1-q8.json": "minimax",
    "qwen3-coder-next-mxfp4.json": "qwen3_coder",
    "qwen3-coder-next-q4km.json": "qwen3_coder",
    "qwen3-next-80b-q8.json": "hermes",
    "step-3.5-flash-q4km.json": "step",
}


@pytest.mark.parametrize("config", sorted(CONFIG_FAMILIES))
def test_detect_from_the_names_in_the_shipped_configs(config: str) -> None:
    data = json.loads((ROOT / "agent" / "configs" / "gguf" / config).read_text(encoding="utf-8"))
    server = data.get("server_config", {})
    for name in (data["model"], server.get("model_path"), server.get("hf_model")):
        if name:
            assert detect_syntax(None, name) == CONFIG_FAMILIES[config], name


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("zai-org/GLM-4.5-Air", "glm"),
        ("GLM-4.6-Q4_K_M.gguf", "glm"),
        ("Qwen3-Coder-30B-A3B-Instruct", "qwen3_coder"),
        ("Qwen3.5-4B", "qwen3_coder"),
        ("Qwen2.5-7B-Instruct", "hermes"),
        ("NousResearch/Hermes-3-Llama-3.1-8B", "hermes"),
        ("openai/gpt-oss-20b", "harmony"),
        ("mistralai/Devstral-Small-2507", "mistral"),
        ("Ministral-3-14B-Reasoning-2512", "mistral"),
        ("meta-llama/Llama-3.3-70B-Instruct", "llama3"),
        ("MiniMax-M2", "minimax"),
        ("moonshotai/Kimi-K2-Instruct", "kimi"),
        ("deepseek-ai/DeepSeek-V3.1", "deepseek"),
        ("DeepSeek-R1-Distill-Qwen-32B", "deepseek"),
        ("stepfun-ai/Step-3.5-Flash", "step"),
        ("gemma3-270m", None),
        ("smollm2-135m", None),
        (None, None),
    ],
)
def test_detect_from_model_names(name: str | None, family: str | None) -> None:
    assert detect_syntax(None, name) == family


def test_template_text_decides_before_the_name() -> None:
    template = "{{- '<tool_call>' + tc.name }}<arg_key>{{ k }}</arg_key><arg_value>{{ v }}</arg_value>"
    assert detect_syntax(template, "qwen3-coder-next") == "glm"


@pytest.mark.parametrize("name", ["chatml-tools.jinja", "gemma3-tools.jinja"])
def test_detect_the_projects_own_templates(name: str) -> None:
    text = (ROOT / "agent" / "configs" / "templates" / name).read_text(encoding="utf-8")
    assert detect_syntax(text) == "tool_calls"


TEMPLATES = os.environ.get("LOCALCODE_CHAT_TEMPLATES")


@pytest.mark.skipif(
    not TEMPLATES, reason="set LOCALCODE_CHAT_TEMPLATES to a directory of the templates in templates.json"
)
@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: e["template"])
def test_detect_and_render_from_the_real_templates(entry: dict[str, Any]) -> None:
    """With the fetched templates at hand: each is the revision SOURCE.md names, is detected as
    its family, and still renders exactly the committed samples."""
    from tests.support import render_toolcalls

    path = Path(TEMPLATES or ".") / entry["template"]
    if not path.exists():
        path = ROOT / entry["path"]
    assert render_toolcalls.git_blob(path.read_bytes()) == entry["blob"]
    text = path.read_text(encoding="utf-8")
    detected = detect_syntax(text)
    assert detected is not None and same_syntax(detected, entry["family"])
    for case in render_toolcalls.cases_of(entry):
        reply, expected = render_toolcalls.render_case(text, entry, case)
        sample = render_toolcalls.fixture_dir(entry) / f"{case}.txt"
        assert sample.read_bytes() == reply.encode("utf-8")
        assert json.loads(sample.with_suffix(".json").read_text(encoding="utf-8")) == expected


# -- API ------------------------------------------------------------------------------------------------
def test_unknown_family_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown tool-call syntax 'glm5'"):
        parse_content("x", TOOLS, "glm5")


def test_bare_json_needs_a_known_tool_name() -> None:
    text = '{"name": "read_file", "parameters": {"path": "a.py"}}'
    assert parse_content(text, TOOLS) is None
    assert calls_of(parse_content(text, TOOLS, known={"read_file"})) == read_call("read_file")


def test_to_tool_calls_gives_json_arguments() -> None:
    text = "<tool_call>read<arg_key>path</arg_key><arg_value>a.py</arg_value></tool_call>"
    parsed = parse_content(text, TOOLS, "glm")
    assert parsed is not None
    (call,) = to_tool_calls(parsed)
    assert call.name == "read" and json.loads(call.arguments) == {"path": "a.py"} and call.id == ""
