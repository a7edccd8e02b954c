"""The static test-name readers: every exercise of the dataset, and the constructs each reader
must follow (Go's tables and subtests above all) or refuse with a one-line reason."""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest

from pytest_localcode.exercises import exercise_dirs, load_exercise
from pytest_localcode.grading import Grader
from pytest_localcode.languages import load_language
from pytest_localcode.testnames import NamesError, read_names
from pytest_localcode.testnames.golang import Namer, read_package, rewrite
from pytest_localcode.testnames.lexer import LexError, tokenize


def names(reader: str, tmp_path: Path, files: dict[str, str], **options: object) -> list[str]:
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    return read_names(reader, tmp_path, list(files), options)


def test_every_exercise_has_readable_names(polyglot: Path) -> None:
    """Totals per language; that they are what the runners execute is checked by the oracle sweep."""
    totals: Counter[str] = Counter()
    for language, path in exercise_dirs(polyglot):
        conf = load_language(language)
        ex = load_exercise(path, language)
        if conf.overrides.get(ex.slug) and conf.overrides[ex.slug].mutants:
            continue
        files = Grader._name_files(ex, conf, ex.path)
        found = read_names(conf.test_names.reader, ex.path, files, conf.test_names.options)
        assert found, ex.name
        if language != "javascript":  # jest allows two tests with one title; the others do not
            assert len(set(found)) == len(found), ex.name
        totals[language] += len(found)
    assert dict(totals) == {"cpp": 458, "go": 666, "java": 790, "javascript": 908, "python": 584, "rust": 650}


# -- Go ------------------------------------------------------------------------------------------

GO_TABLE = '''
package demo

import (
	"fmt"
	"testing"
)

type testCase struct {
	description string
	input       int
}

var cases = []testCase{
	{description: "first case", input: 1},
	{"second\\tcase\\x01", 2}, // positional fields; Go writes a tab as "_", \\x01 quoted
	{description: "first case", input: 3},
}

var more = []struct {
	name string
}{
	{name: "extra"},
}

func TestTable(t *testing.T) {
	for _, tc := range append(cases, testCase{description: "appended"}) {
		t.Run(tc.description, func(t *testing.T) {
			_ = tc.input
		})
	}
}

func TestLoops(t *testing.T) {
	for v := 1; v <= 2; v++ {
		t.Run(fmt.Sprintf("verse %d", v), func(t *testing.T) {})
	}
	byName := map[string]int{"b": 2, "a": 1}
	for name := range byName {
		t.Run(name, func(t *testing.T) {
			t.Run("inner", func(t *testing.T) {})
		})
	}
	for _, r := range []int{-2, -1} {
		_ = r
	}
}

func TestHelper(t *testing.T) {
	for _, tc := range more {
		check(t, tc.name)
	}
}

func check(t *testing.T, name string) {
	t.Run(name+" via helper", func(t *testing.T) {})
}

func TestPlain(t *testing.T) {}

func helperNotATest(t *testing.T) {}

func BenchmarkX(b *testing.B) {}
'''


def test_go_tables_loops_helpers_and_go_naming(tmp_path: Path) -> None:
    found = names("go", tmp_path, {"demo_test.go": GO_TABLE})
    assert found == [
        "TestTable", "TestTable/first_case", "TestTable/second_case\\x01", "TestTable/first_case#01",
        "TestTable/appended",
        "TestLoops", "TestLoops/verse_1", "TestLoops/verse_2",
        "TestLoops/b", "TestLoops/b/inner", "TestLoops/a", "TestLoops/a/inner",
        "TestHelper", "TestHelper/extra_via_helper",
        "TestPlain",
    ]


def test_go_naming_rules() -> None:
    assert rewrite("a b\u00a0c\x01") == "a_b_c\\x01"
    namer = Namer()
    assert [namer.unique("T", s) for s in ("x", "x", "x#01", "")] == ["T/x", "T/x#01", "T/x#01#01", "T/#00"]


def test_go_build_tags(tmp_path: Path) -> None:
    files = {"a_test.go": "package demo\nimport \"testing\"\nfunc TestA(t *testing.T) {}\n",
             "b_test.go": "//go:build bonus\n\npackage demo\nimport \"testing\"\nfunc TestBonus(t *testing.T) {}\n",
             "c_test.go": "//go:build step1 || (!step2 && !bonus)\n\n"
                          "package demo\nimport \"testing\"\nfunc TestC(t *testing.T) {}\n"}
    assert names("go", tmp_path, files, build_tags=["bonus"]) == ["TestA", "TestBonus"]
    assert read_package(dict(files)) == ["TestA", "TestC"]


@pytest.mark.parametrize(("body", "message"), [
    ("t.Run(makeName(), func(t *testing.T) {})", "a subtest's name is not a value the reader can evaluate"),
    ("for _, c := range loadCases() {\n\t\tt.Run(c, func(t *testing.T) {})\n\t}",
     "a loop over something the reader cannot enumerate"),
    ("for i := 0; i < n; i++ {\n\t\tt.Run(\"x\", func(t *testing.T) {})\n\t}", "cannot tell what 'n' is"),
])
def test_go_names_it_cannot_know_are_errors(tmp_path: Path, body: str, message: str) -> None:
    text = f"package demo\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) {{\n\t{body}\n}}\n"
    with pytest.raises(NamesError) as err:
        names("go", tmp_path, {"x_test.go": text})
    assert str(err.value).startswith("x_test.go:") and message in str(err.value)


def test_go_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(NamesError, match=r"x_test.go:3: unterminated string"):
        names("go", tmp_path, {"x_test.go": 'package demo\n\nvar s = "open\nfunc TestX(t *testing.T) {}\n'})


# -- the other languages ---------------------------------------------------------------------------


def test_python_classes_inheritance_and_functions(tmp_path: Path) -> None:
    code = """
        import unittest

        class Base(unittest.TestCase):
            def test_base(self): pass
            def helper(self): pass

        class MoreTest(Base):
            def test_more(self): pass
            def test_base(self): pass  # overridden: still one test

        class TestPlain:
            def test_p(self): pass

        class NotCollected:
            def test_no(self): pass

        def test_function(): pass
        """
    assert names("python", tmp_path, {"pkg/demo_test.py": code}) == [
        "pkg.demo_test.Base.test_base", "pkg.demo_test.MoreTest.test_base", "pkg.demo_test.MoreTest.test_more",
        "pkg.demo_test.TestPlain.test_p", "pkg.demo_test.test_function"]
    with pytest.raises(NamesError, match=r"^bad_test.py:1: not valid Python"):
        names("python", tmp_path, {"bad_test.py": "def test_x(:\n"})


def test_javascript_describe_nesting(tmp_path: Path) -> None:
    code = """
        import { age } from './space-age';
        const re = /it\\('no'/g; // a regex and a comment with test('no')
        describe('Space' + " Age", () => {
          test(`on Earth`, () => { expect(age('earth', 1)).toEqual(re); });
          describe('inner', () => {
            xit('on "Mars"', () => {});
            test.skip('skipped ' + 'one', () => {});
          });
          test.todo('later');
        });
        it('top level', () => {});
        obj.test('not a test', 1);
        describe('localcode canaries', () => {
          test(process.env.LOCALCODE_CANARY_PASS, () => {});  // the harness's, named at run time
        });
        """
    assert names("javascript", tmp_path, {"a.spec.js": code}) == [
        "Space Age › on Earth", 'Space Age › inner › on "Mars"', "Space Age › inner › skipped one", "top level"]
    with pytest.raises(NamesError, match=r"a.spec.js:1: test.each builds titles at run time"):
        names("javascript", tmp_path, {"a.spec.js": "test.each([1])('x %i', () => {});\n"})
    with pytest.raises(NamesError, match=r"a.spec.js:1: a test title that is not a plain string"):
        names("javascript", tmp_path, {"a.spec.js": "test(`x ${y}`, () => {});\n"})


def test_java_methods_classes_and_packages(tmp_path: Path) -> None:
    code = """
        package org.example;

        import org.junit.jupiter.api.Test;

        public class DemoTest {
            @Test
            @DisplayName("shown")
            public void first() throws Exception { String record = "class X {"; }

            @Disabled("later") @Test void second() { Object o = Foo.class; }

            class Inner {
                @Test void third() {}
            }

            private void helper() {}
        }
        """
    assert names("java", tmp_path, {"src/test/java/DemoTest.java": code}) == [
        "org.example.DemoTest.first", "org.example.DemoTest.second", "org.example.DemoTest$Inner.third"]
    with pytest.raises(NamesError, match="@ParameterizedTest names its tests at run time"):
        names("java", tmp_path, {"T.java": "class T { @ParameterizedTest void p(int x) {} }\n"})


def test_catch_test_cases(tmp_path: Path) -> None:
    code = """
        #include "demo.h"
        #include "test/catch.hpp"
        TEST_CASE("first \\"quoted\\"", "[tag]") { REQUIRE(true); }
        TEST_CASE(
            "split "
            "name") {}
        #if defined(EXERCISM_INCLUDE_BENCHMARK)
        TEST_CASE("benchmark") {}
        #endif
        SCENARIO("story") {}
        #define MY_CASE TEST_CASE
        """
    strip = [r"^#if defined\(EXERCISM_INCLUDE_BENCHMARK\).*?^#endif"]
    assert names("catch", tmp_path, {"demo_test.cpp": code}, strip=strip) == [
        'first "quoted"', "split name", "Scenario: story"]


def test_rust_modules_cfg_and_targets(tmp_path: Path) -> None:
    code = """
        #![allow(dead_code)]
        use demo::*;

        #[test]
        fn top() {}

        #[test]
        #[ignore]
        fn ignored_still_runs() { let s = "#[test] fn fake() {}"; let c = '{'; }

        mod inner {
            #[test]
            #[should_panic]
            fn deep<'a>() {}

            #[cfg(feature = "io")]
            mod io { #[test] fn read() {} }

            #[cfg(not(feature = "io"))]
            #[test]
            fn without_io() {}
        }

        fn helper() {}
        """
    assert names("rust", tmp_path, {"tests/demo-x.rs": code}) == [
        "demo-x::top", "demo-x::ignored_still_runs", "demo-x::inner::deep", "demo-x::inner::io::read"]
    with pytest.raises(NamesError, match="macro_rules! in a test file may generate tests"):
        names("rust", tmp_path, {"tests/m.rs": "macro_rules! t { () => {} }\n"})


def test_lexer_keeps_string_values_exact() -> None:
    values = [t.value for t in tokenize('a("x\\ty\\u00e9\\x41", `raw\\n`)', "go") if t.kind == "string"]
    assert values == ["x\tyéA", "raw\\n"]
    rust = [t.value for t in tokenize('r#"a "q" b"# b"\\x41" \'\\n\' &\'a str', "rust") if t.kind in ("string", "char")]
    assert rust == ['a "q" b', "A", "\n"]
    with pytest.raises(LexError, match=r"f.js:2: unterminated comment"):
        tokenize("x\n/* never closed", "javascript", "f.js")
