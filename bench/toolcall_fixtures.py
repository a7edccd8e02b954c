"""The per-family table of tool-call samples rendered from real chat templates, and how many come back exactly.

For each family of agent/syntaxes.py: the templates its samples were rendered from
(tests/agent/fixtures/toolcalls/templates.json: repository, path, commit), how many samples there
are, and how many ``parse_content`` recovers as exactly the calls that went in (names and typed
arguments, nothing more), with the family preferred, with no family preferred, and with every
other family preferred (each sample counted once, only if all of those attempts were exact).

    .venv/bin/python bench/toolcall_fixtures.py
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.syntaxes import SYNTAXES, parse_content  # noqa: E402
from tests.support.render_toolcalls import FIXTURES, case_tools, load_manifest  # noqa: E402


def exact(text: str, expected: dict, prefer: str | None) -> bool:
    parsed = parse_content(text, case_tools(expected["case"]), prefer)
    return parsed is not None and parsed.incomplete is None and [
        {"name": c.name, "arguments": c.arguments} for c in parsed.calls
    ] == expected["calls"]


def main() -> int:
    manifest = load_manifest()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path in sorted(FIXTURES.glob("*/*/*.json")):
        family = path.parent.parent.name
        expected = json.loads(path.read_text(encoding="utf-8"))
        text = path.with_suffix(".txt").read_bytes().decode("utf-8")
        row = counts[family]
        row[0] += 1
        row[1] += exact(text, expected, family)
        row[2] += exact(text, expected, None)
        row[3] += all(exact(text, expected, other) for other in SYNTAXES)
    print("| family | template source (repository `path` @ commit) | samples | exact, family preferred |"
          " exact, none preferred | exact, any family preferred |")
    print("| --- | --- | --- | --- | --- | --- |")
    total = [0, 0, 0, 0]
    for family in SYNTAXES:
        sources = "<br>".join(
            f"{e['repo']} `{e['path']}` @ {e['commit'][:10]}" for e in manifest if e["family"] == family
        )
        row = counts[family]
        total = [t + r for t, r in zip(total, row)]
        print(f"| {family} | {sources} | {row[0]} | {row[1]}/{row[0]} | {row[2]}/{row[0]} | {row[3]}/{row[0]} |")
    print(f"| all | {len(manifest)} templates | {total[0]} | {total[1]}/{total[0]} | {total[2]}/{total[0]} |"
          f" {total[3]}/{total[0]} |")
    return 0 if total[1] == total[2] == total[3] == total[0] else 1


if __name__ == "__main__":
    sys.exit(main())
