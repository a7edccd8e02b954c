"""Tool calls by source in the reports (summary.json, text, HTML), on hand-made results: calls the
server structured and calls the agent read from the text, by syntax, kept apart at every level."""

from __future__ import annotations

from pytest_localcode.report.html import details_html, summary_html
from pytest_localcode.report.summary import summarize
from pytest_localcode.report.text import render
from tests.support.synthetic_results import make_result


def test_tool_calls_by_source_per_exercise_language_and_run() -> None:
    """Calls structured by the server and calls the agent read from the text (by syntax) are kept
    apart in summary.json, the text and the HTML, so a result that rests on recovery shows it."""
    served = make_result("python/a", ["pass"])
    recovered = make_result("python/b", ["fail", "pass"])
    epochs = [make_result("go/c", ["pass"], epoch=k, epochs=2) for k in (1, 2)]
    served.tries[0].agent.update(server_calls=4, recovered_calls=0)
    recovered.tries[0].agent.update(server_calls=1, recovered_calls=3, recovered_by_syntax={"glm": 3})
    recovered.tries[1].agent.update(server_calls=0, recovered_calls=2, recovered_by_syntax={"glm": 1, "hermes": 1})
    for k, result in enumerate(epochs, start=1):
        result.tries[0].agent.update(server_calls=0, recovered_calls=k, recovered_by_syntax={"kimi": k})
    summary = summarize([served, recovered])
    exercises = summary["exercises"]
    assert exercises["python/a"]["tool_call_sources"] == {
        "server_calls": 4, "recovered_calls": 0, "recovered_by_syntax": {}, "recovered_share": 0.0}
    assert exercises["python/b"]["tool_call_sources"] == {
        "server_calls": 1, "recovered_calls": 5, "recovered_by_syntax": {"glm": 4, "hermes": 1},
        "recovered_share": 83.3}
    assert summary["total"]["tool_call_sources"] == summary["languages"]["python"]["tool_call_sources"] == {
        "server_calls": 5, "recovered_calls": 5, "recovered_by_syntax": {"glm": 4, "hermes": 1},
        "recovered_share": 50.0}
    text = render(summary, {"model": "m", "tries": 2, "run_dir": "/r"})
    assert ("Tool calls by source: 5 structured by the server, 5 read by the agent from the text "
            "(50.0%: glm 4, hermes 1)") in text
    assert "  read from the text in 1 of 2 exercises (calls read / all calls): python/b 5/6" in text
    html_text = details_html(recovered)
    assert 'data-server="1" data-recovered="5"' in html_text and "glm 4, hermes 1" in html_text
    with_epochs = summarize([served, *epochs])
    assert with_epochs["exercises"]["go/c"]["tool_call_sources"]["recovered_by_syntax"] == {"kimi": 3}
    assert with_epochs["total"]["tool_call_sources"]["recovered_calls"] == 3
    page = "".join(summary_html(with_epochs, {"model": "m"}))
    assert '<p class="lc-call-sources">Tool calls by source: 4 structured by the server, 3 read' in page
