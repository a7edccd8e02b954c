"""What reading tool calls out of a reply's content costs (agent/syntaxes.py), per reply.

The parser runs on every reply that came back without structured ``tool_calls``, so its cost on
a typical reply matters: about 2 KB of prose and code with no call (the common case, which must
be nearly free), and the same with one call at its end, in the configured family's syntax
(``prefer``) and with no family configured. A third figure is the worst case the false-positive
rules pay for: a ``write`` whose 2 KB file body holds every family's call markers. Each figure is
the median of ``--repeat`` timings of ``--number`` parses, in microseconds per parse.

    .venv/bin/python bench/syntax_parse.py [--number 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.syntaxes import parse_content  # noqa: E402
from agent.tools.specs import default_specs  # noqa: E402

PROSE = (
    "The tests call `SpaceAge(seconds).on_earth()` and expect the age rounded to two decimals.\n"
    "```python\n"
    "RATIOS = {'Mercury': 0.2408467, 'Venus': 0.61519726, 'Earth': 1.0, 'Mars': 1.8808158}\n\n"
    "class SpaceAge:\n"
    "    def __init__(self, seconds: float) -> None:\n"
    "        self.seconds = seconds\n\n"
    "    def on(self, planet: str) -> float:\n"
    "        return round(self.seconds / 31557600 / RATIOS[planet], 2)\n"
    "```\n"
    "Each `on_<planet>` method divides by the orbital period; a missing planet raises KeyError.\n"
)
CALL = "\n<tool_call>\n<function=read>\n<parameter=path>\nspace_age.py\n</parameter>\n</function>\n</tool_call>"
MARKERS = (
    "<tool_call>read<arg_key>path</arg_key><arg_value>a.py</arg_value></tool_call>\n"
    '<tool_call>\n{"name": "read", "arguments": {"path": "a.py"}}\n</tool_call>\n'
    "<tool_call>\n<function=read>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>\n"
    '<|channel|>commentary to=functions.read <|constrain|>json<|message|>{"path": "a.py"}<|call|>\n'
    '[TOOL_CALLS]read[ARGS]{"path": "a.py"}\n{"name": "read", "parameters": {"path": "a.py"}}\n'
    '<minimax:tool_call>\n<invoke name="read">\n<parameter name="path">a.py</parameter>\n</invoke>\n'
    "</minimax:tool_call>\n"
    '<|tool_calls_section_begin|><|tool_call_begin|>functions.read:0<|tool_call_argument_begin|>{"path": "a.py"}'
    "<|tool_call_end|><|tool_calls_section_end|>\n"
    '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>read<｜tool▁sep｜>{"path": "a.py"}'
    "<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n"
    '<tool_calls>\n[{"name": "read", "arguments": {"path": "a.py"}}]\n</tool_calls>\n'
)


def reply(size: int = 2048) -> str:
    return (PROSE * (size // len(PROSE) + 1))[:size]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=2000, help="parses per timing")
    parser.add_argument("--repeat", type=int, default=7, help="timings; the median is reported")
    args = parser.parse_args(argv)
    specs, _ = default_specs()
    schemas = [specs[n].schema(n) for n in ("ls", "read", "write", "edit", "glob", "grep", "apply_patch", "finish")]
    prose = reply()
    one_call = reply(2048 - len(CALL)) + CALL
    body = (MARKERS * (2048 // len(MARKERS) + 1))[:2048]
    markers = (f"<tool_call>\n<function=write>\n<parameter=path>\nnotes.txt\n</parameter>\n"
               f"<parameter=content>\n{body}\n</parameter>\n</function>\n</tool_call>")
    assert parse_content(prose, schemas, "qwen3_coder") is None
    read = parse_content(one_call, schemas, "qwen3_coder")
    assert read is not None and [c.name for c in read.calls] == ["read"]
    found = parse_content(markers, schemas, "qwen3_coder")
    assert found is not None and [c.arguments for c in found.calls] == [{"path": "notes.txt", "content": body}]
    cases = [
        ("2 KB, no call", prose, "qwen3_coder"),
        ("2 KB, no call, no family configured", prose, None),
        ("2 KB, one call (qwen3_coder, preferred)", one_call, "qwen3_coder"),
        ("2 KB, one call, no family configured", one_call, None),
        ("write of a 2 KB body holding every family's markers", markers, "qwen3_coder"),
        ("the same, no family configured", markers, None),
    ]
    print(f"median of {args.repeat} x {args.number} parses, microseconds per parse:")
    for label, text, prefer in cases:
        parse = functools.partial(parse_content, text, schemas, prefer)
        times = timeit.repeat(parse, number=args.number, repeat=args.repeat)
        per_parse = [t / args.number * 1e6 for t in times]
        print(f"  {label:<55} {statistics.median(per_parse):8.1f} us  "
              f"(min {min(per_parse):.1f}, max {max(per_parse):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
