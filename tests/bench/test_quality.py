"""Quality next to speed and the cost of thinking: the strict scorer, the suites end to end
against the fake server (scripted answers, thinking per prompt), and what they report."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llmbox.bench.datasets import DEPTHS, load_dataset, needle_items, okng_items
from llmbox.bench.grid import load_suite
from llmbox.bench.scoring import Expect, normalize, score, validate
from llmbox.bench.thinking import thinking_costs
from llmbox.cli import app
from llmbox.results import BenchReport, Case, CaseResult, ModelInfo, RunSample, Server
from tests.fakes.ollama import FakeModel, FakeOllama

runner = CliRunner()
SUITES = Path(__file__).parents[2] / "configs" / "suites"


def bench(fake: FakeOllama, *argv: str, code: int = 0) -> BenchReport:
    result = runner.invoke(app, ["bench", *argv, "--host", fake.url, "-f", "json", "-q"])
    assert result.exit_code == code, result.output
    return BenchReport.parse(json.loads(result.stdout))


# -- the scorer ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("391", True),
        ("The answer is 391.", True),
        ("**391**", True),
        ("1,391", False),
        ("391 or 392", False),
        ("392", False),
        ("three hundred ninety-one", False),
        ("391.0", True),
        ("", False),
    ],
)
def test_number_is_the_last_number_exactly(answer: str, passed: bool) -> None:
    assert score(Expect(number=391), answer)[0] is passed


@pytest.mark.parametrize(
    ("answer", "passed"),
    [
        ("Paris", True),
        ("paris.", True),
        ('"Paris"', True),
        ("**Paris**", True),
        ("  Paris  \n", True),
        ("It is Paris.", False),
        ("Paris, France", False),
        ("Pariss", False),
    ],
)
def test_one_of_matches_the_whole_answer(answer: str, passed: bool) -> None:
    assert score(Expect(one_of=("Paris",)), answer)[0] is passed


SCHEMA = {
    "type": "object",
    "required": ["name", "age"],
    "additionalProperties": False,
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
}


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ('{"name": "Ana", "age": 3}', None),
        ('```json\n{"name": "Ana", "age": 3}\n```', None),
        ('{"name": "Ana", "age": 3.5}', "$.age: expected integer"),
        ('{"name": "Ana", "age": true}', "$.age: expected integer"),
        ('{"name": "Ana"}', "$: missing required property age"),
        ('{"name": "Ana", "age": 3, "x": 1}', "$: unexpected property x"),
        ('{"name": "Ana", "age": -1}', "$.age: -1 < minimum 0"),
        ('Sure! {"name": "Ana", "age": 3}', "not valid JSON"),
        ('{"name": "Ana", "age": 3} {"name": "Bo", "age": 4}', "not valid JSON"),
    ],
)
def test_json_schema_is_checked_strictly(answer: str, why: str | None) -> None:
    assert score(Expect(json_schema=SCHEMA), answer) == (why is None, why)


def test_schema_subset_and_arrays() -> None:
    schema = {"type": "array", "minItems": 2, "items": {"enum": ["a", "b"]}}
    assert validate(["a", "b"], schema) is None
    assert validate(["a"], schema) == "$: fewer than 2 items"
    assert validate(["a", "c"], schema) == "$[1]: 'c' is not one of ['a', 'b']"
    assert validate("x", {"pattern": "^\\d+$"}) == "$: does not match '^\\\\d+$'"
    with pytest.raises(ValueError, match="oneOf"):
        Expect(json_schema={"oneOf": [{"type": "string"}]})  # unchecked keyword: refused
    with pytest.raises(ValueError, match="exactly one"):
        Expect()
    assert normalize(" `OK` ") == "ok"


def test_shipped_tasks_are_scorable_and_answers_are_right() -> None:
    """Every checked task in the suites passes with its own expected answer and fails with a
    wrong one (a task whose check cannot fail, or cannot pass, would mislead)."""
    for name in ("arithmetic", "facts", "json", "reasoning"):
        items = load_dataset(str(SUITES / "data" / f"{name}.jsonl"))
        for item in items:
            if item.expect is None:
                continue
            e = item.expect
            if e.number is not None:
                good = f"{e.number:g}"
            elif e.one_of is not None:
                good = e.one_of[0]
            else:
                good = json.dumps(_example(e.json_schema or {}, item.prompt))
            assert score(e, good)[0], (item.id, good)
            assert not score(e, "I am not sure.")[0], item.id
    reasoning = load_dataset(str(SUITES / "data" / "reasoning.jsonl"))
    types = {i.type for i in reasoning}
    assert len(reasoning) >= 100
    assert types == {
        "math",
        "code",
        "commonsense",
        "writing",
        "extraction",
    }


def _example(schema: dict[str, Any], prompt: str) -> Any:
    """A value that satisfies one of the shipped schemas (consts, enums and the prompt's facts)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _example(v, prompt) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        n = schema.get("minItems", 1)
        return [_example(schema.get("items", {}), prompt) if "enum" in schema.get("items", {})
                else i + 1 for i in range(n)]  # fmt: skip
    if kind == "string":
        return "Maria Lopez"
    if kind == "number":
        return schema.get("minimum", 1.0)
    return 1


def test_generated_tasks() -> None:
    items = needle_items(2048)
    assert len(items) == len(DEPTHS)
    for item, depth in zip(items, DEPTHS, strict=True):
        assert item.expect is not None
        assert item.expect.one_of is not None
        code = item.expect.one_of[0]
        words = item.prompt.split()
        at = next(i for i, w in enumerate(words) if w.startswith(code))
        assert abs(at / len(words) - depth) < 0.05  # the needle sits at its depth
        assert 2048 / 1.3 * 0.9 < len(words) < 2048 / 1.3 * 1.1
    prefixes = {i.prompt[:200] for i in items}
    assert len(prefixes) == len(items)  # no shared haystack: no prompt cache hits
    pictures = okng_items()
    verdicts = [i.expect.one_of for i in pictures if i.expect]
    assert verdicts.count(("OK",)) == verdicts.count(("NG",)) == 4
    for item in pictures:  # NG pictures have red pixels, OK ones none
        assert item.expect is not None
        assert item.expect.one_of is not None
        assert _has_red(base64.b64decode(item.images[0])) is (item.expect.one_of[0] == "NG")


def _has_red(png: bytes) -> bool:
    idat = png[png.index(b"IDAT") + 4 :]
    raw = zlib.decompressobj().decompress(idat)
    return b"\xdc\x14\x14" in raw


# -- suites end to end against the fake ------------------------------------------------------------


def _answers(*specs: str) -> dict[str, str]:
    out = {}
    for spec in specs:
        for item in load_dataset(spec):
            e = item.expect
            if e is None:
                continue
            if e.number is not None:
                out[item.prompt] = f"The answer is {e.number:g}."
            elif e.one_of is not None:
                out[item.prompt] = e.one_of[0]
            else:
                out[item.prompt] = json.dumps(_example(e.json_schema or {}, item.prompt))
    return out


QUALITY = [str(SUITES / "data" / f"{n}.jsonl") for n in ("arithmetic", "facts", "json")]


def test_quality_suite_pass_rates_beside_speed(fake_ollama: FakeOllama) -> None:
    answers = _answers(*QUALITY, "needle:1k", "needle:4k", "needle:16k", "needle:32k")
    wrong = set(list(answers)[::4])  # the q4 model gets every 4th task wrong
    fake_ollama.add(FakeModel("m:q8_0", quantization="Q8_0", prefill_tps=400_000,
                              decode_tps=1000, script=lambda t, _i: answers.get(t)))  # fmt: skip
    fake_ollama.add(FakeModel("m:q4_K_M", quantization="Q4_K_M", prefill_tps=400_000,
                              decode_tps=1700, context_length=8192,
                              script=lambda t, _i: "42" if t in wrong else answers.get(t)))  # fmt: skip
    report = bench(fake_ollama, "m:q8_0", "m:q4_K_M", "--suite", "quality")
    by = {(r.model, r.case.label): r for r in report.results}
    assert by[("m:q8_0", "arithmetic")].summary["pass_rate"].mean == 1.0
    assert len(by[("m:q8_0", "arithmetic")].runs) == 20  # each task once
    assert ("m:q4_K_M", "needle 16k") not in by  # beyond its 8k context: skipped
    q4 = [s for r in report.results if r.model == "m:q4_K_M" for s in r.runs]
    expected = sum(1 for s in q4 if s.passed) / len(q4)
    assert 0.6 < expected < 0.9
    assert all(s.verdict for s in q4 if not s.passed)
    assert all(s.answer is not None for s in q4)  # kept for checked items
    table = runner.invoke(
        app, ["bench", "m:q8_0", "m:q4_K_M", "--suite", "quality", "--host", fake_ollama.url]
    )
    assert "pass %" in table.stdout
    line = next(x for x in table.stdout.splitlines() if x.startswith("m:q4_K_M (Q4_K_M) passed"))
    assert f"{expected:.0%}" in line
    assert "1.70× the decode speed of m:q8_0 (100%)" in line


def test_quality_vision_suite(fake_ollama: FakeOllama) -> None:
    def look(_text: str, images: list[str]) -> str:
        return "NG" if _has_red(base64.b64decode(images[0])) else "OK"

    fake_ollama.add(FakeModel("eye:7b", capabilities=("completion", "vision"), image_tokens=64,
                              script=look))  # fmt: skip
    report = bench(fake_ollama, "eye:7b", "--suite", "quality-vision")
    assert report.results[0].summary["pass_rate"].mean == 1.0
    blind = FakeModel("blind:7b", capabilities=("completion", "vision"), script=lambda t, i: "OK")
    fake_ollama.add(blind)
    report = bench(fake_ollama, "blind:7b", "--suite", "quality-vision")
    assert report.results[0].summary["pass_rate"].mean == 0.5


def test_reasoning_suite_thinking_cost_per_task_type(fake_ollama: FakeOllama) -> None:
    items = load_dataset(str(SUITES / "data" / "reasoning.jsonl"))
    kind = {i.prompt: i.type for i in items}
    thinking = {"math": 300, "code": 200, "commonsense": 40, "writing": 20, "extraction": 80}
    answers = _answers(str(SUITES / "data" / "reasoning.jsonl"))
    fake_ollama.add(FakeModel(
        "thinker:4b", capabilities=("completion", "thinking"), prefill_tps=200_000,
        decode_tps=5_000, reply_tokens=12, script=lambda t, _i: answers.get(t),
        thinking_for=lambda t: thinking[_type_of(t, kind)],
    ))  # fmt: skip
    report = bench(fake_ollama, "thinker:4b", "--suite", "reasoning")
    off, on = report.results
    assert len(off.runs) == len(on.runs) == len(items) >= 100
    assert all(s.thinking_tokens == 0 for s in off.runs)
    rows = {(r.think, r.task_type): r for r in thinking_costs(report)}
    for task_type, n in thinking.items():
        row = rows[("on", task_type)]
        assert row.thinking_tokens == n  # counted from the stream, as the server sent them
        assert row.baseline == "off"
        assert row.extra_output_tokens == pytest.approx(n)
        assert row.extra_seconds is not None
        if n >= 200:  # tens of ms: above the fake's timer noise (its per-token cost adds more)
            assert n / 5_000 * 0.5 < row.extra_seconds < n / 5_000 * 4
        assert row.thinking_share_p50 == pytest.approx(n / (n + row.answer_tokens), rel=0.05)
    assert rows[("on", "math")].extra_seconds > rows[("on", "extraction")].extra_seconds  # type: ignore[operator]
    assert rows[("off", "math")].pass_rate == 1.0
    assert rows[("on", "all")].answers == len(items)


def _type_of(text: str, kind: dict[str, str]) -> str:
    """Unchecked items (writing) arrive behind the marker that keeps prefill honest."""
    return kind.get(text) or next((k for p, k in kind.items() if text.endswith(p)), "writing")


def test_thinking_levels_count_against_low() -> None:
    suite, _ = load_suite("reasoning-levels")
    assert [c.think for c in suite.cases] == ["low", "medium", "high"]

    def result(think: str, thinking: int, e2e: float) -> CaseResult:
        runs = [RunSample(eval_count=thinking + 10, thinking_tokens=thinking, e2e_s=e2e,
                          task_type="math", prompt_eval_count=50)] * 3  # fmt: skip
        case = Case(label=f"think {think}", think=think)
        return CaseResult(model="gpt-oss", model_info=ModelInfo(name="gpt-oss"), case=case,
                          runs=runs)  # fmt: skip

    report = BenchReport(
        llmbox_version="0", backend="ollama", server=Server(kind="ollama", host="h"),
        started_at="t", results=[result("low", 100, 1.0), result("high", 900, 5.0)],
    )  # fmt: skip
    rows = {(r.think, r.task_type): r for r in thinking_costs(report)}
    high = rows[("high", "math")]
    assert (high.baseline, high.extra_output_tokens, high.extra_seconds) == ("low", 800, 4.0)
    assert rows[("low", "math")].baseline is None
    assert high.thinking_share_p50 == pytest.approx(900 / 910)
