"""finish, and the model-call tools through a fake ModelCaller."""

from __future__ import annotations

import pytest

from .conftest import FakeCaller


@pytest.mark.parametrize(
    ("status", "expected"),
    [(None, "done"), ("done", "done"), ("complete", "done"), ("SUCCESS", "done"), ("partial", "incomplete"),
     ("todo", "incomplete"), ("blocked", "blocked"), ("stuck", "blocked"), ("whatever", "done")],
)
def test_finish_normalises_status(box, status, expected):
    args = {"summary": "did it"} if status is None else {"status": status, "summary": "did it"}
    outcome = box.execute("finish", args)
    assert not outcome.is_error
    assert outcome.finish is True and outcome.finish_status == expected
    assert outcome.text.startswith(f"ok: finish recorded ({expected})")
    assert bool(outcome.repairs) == (status not in (None, expected))


def test_finish_via_alias_with_no_arguments(box):
    outcome = box.execute("done", "")
    assert outcome.tool == "finish" and outcome.finish and outcome.finish_status == "done"


def test_other_tools_do_not_finish(box):
    assert box.execute("read", {"path": "README.md"}).finish is False


def test_model_tools_without_caller_are_unavailable(box):
    for tool, args in [
        ("plan_solution", {"prompt": "plan"}),
        ("ask_questions", {"questions": ["q"]}),
        ("ask_agent", {"prompt": "p"}),
    ]:
        outcome = box.execute(tool, args)
        assert outcome.is_error and outcome.error_kind == "unavailable", tool


def test_plan_solution_sends_a_fresh_short_conversation(make_box):
    caller = FakeCaller(["1. do it"])
    outcome = make_box(model_caller=caller).execute("plan_solution", {"question": "How to score bowling?"})
    assert outcome.text == "1. do it" and not outcome.is_error
    (call,) = caller.calls
    assert [m["role"] for m in call["messages"]] == ["system", "user"]
    assert "How to score bowling?" in call["messages"][1]["content"]
    assert call["max_tokens"] == 4000 and call["temperature"] == 0.3


def test_ask_questions_asks_each_separately(make_box):
    caller = FakeCaller(["A1", "A2"])
    outcome = make_box(model_caller=caller).execute("ask_questions", {"questions": ["Q1?", "Q2?"]})
    assert len(caller.calls) == 2
    assert caller.calls[1]["messages"][1]["content"] == "Q2?"
    assert outcome.text == "## Question 1: Q1?\nA1\n\n---\n\n## Question 2: Q2?\nA2"


def test_ask_questions_limits_and_single_string(make_box):
    box = make_box(model_caller=FakeCaller())
    assert box.execute("ask_questions", {"questions": ["a", "b", "c", "d", "e"]}).error_kind == "invalid_args"
    single = box.execute("ask_questions", {"question": "just one?"})
    assert not single.is_error and "## Question 1: just one?" in single.text


def test_model_call_failure_is_an_outcome(make_box):
    box = make_box(model_caller=FakeCaller(fail=True))
    outcome = box.execute("plan_solution", {"prompt": "x"})
    assert outcome.error_kind == "model_call_failed" and "server down" in outcome.text
    questions = box.execute("ask_questions", {"questions": ["a", "b"]})
    assert questions.error_kind == "model_call_failed"


def test_ask_agent_sends_confined_files_and_records_refusals(make_box):
    caller = FakeCaller(["looks fine"])
    box = make_box(model_caller=caller)
    files = ["src/util.py", "/etc/passwd", ".meta/example.py", "nope.py"]
    outcome = box.execute("ask_agent", {"prompt": "Review", "files": files})
    assert outcome.text == "looks fine" and not outcome.is_error
    assert outcome.refused_paths == ["/etc/passwd", ".meta/example.py"]
    user = caller.calls[0]["messages"][1]["content"]
    assert user.startswith("Review\n\nFILES:\n=== src/util.py ===\nX = 1\n")
    assert "reference solution" not in user and "root:" not in user
    assert "=== nope.py ===\n(not found: nope.py" in user
