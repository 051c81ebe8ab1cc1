"""Loading limits of scenario files (issue 9): alias bombs, huge files, deep nesting and long
values are refused at the line with a short message, before anything is built. Memory is
measured with tracemalloc (a bound that a failure would blow by orders of magnitude), not time."""
import textwrap
import tracemalloc

import pytest

from pegload.scenario import ScenarioError, load_scenario, load_scenario_text
from pegload.scenario.yamlsource import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

GOOD = """\
phases:
  - duration: 5s
    mix: {get: 1}
"""


def alias_bomb(levels: int = 9) -> str:
    """The issue's shape: anchors defined under labels:, the last one used in thresholds:
    (10 ** levels strings once expanded; about 700 bytes of YAML)."""
    lines = ["labels:", '  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghijklm"[:levels - 1]:
        lines.append(f"  {name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
        prev = name
    return "\n".join(lines) + "\n" + GOOD + f"thresholds: *{prev}\n"


def problems(text, file="bad.yaml"):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, file)
    return info.value.errors


def peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_alias_bomb_is_refused_at_the_alias_with_little_memory():
    text = alias_bomb()
    assert len(text) < 800
    errs = []
    peak = peak_bytes(lambda: errs.extend(problems(text)))
    assert len(errs) == 1, errs
    assert "too many aliases/nodes" in errs[0]
    # the alias that crosses the limit is in labels.e (the first level past 100,000 nodes)
    assert errs[0].startswith("bad.yaml:6 labels.e[")
    assert len(errs[0]) < 250
    assert peak < 20 * 1024 * 1024, peak


def test_many_small_aliases_add_up():
    # no single alias is big, but together they pass the limit
    items = ",".join(["*x"] * (MAX_NODES // 3))
    text = "labels:\n  x: &x [1, 2]\n  y: [" + items + "]\n" + GOOD
    errs = problems(text)
    assert len(errs) == 1 and "too many aliases/nodes" in errs[0] and errs[0].startswith("bad.yaml:3 labels.y[")


def test_ordinary_aliases_and_merges_still_work():
    text = textwrap.dedent("""\
        labels: {mix: &mix {get: 9, set: 1}}
        phases:
          - duration: 5s
            mix: *mix
          - duration: 5s
            mix: {<<: *mix}
        """)
    # the label holding a mapping is the only problem: the aliases themselves load fine
    errs = problems(text)
    assert errs == ["bad.yaml:1 labels.mix: expected a plain value, got a mapping"]


def test_recursive_alias_is_refused():
    errs = problems("labels: &a {x: *a}\n" + GOOD)
    assert errs == ["bad.yaml:1 labels.x: alias *a refers to a node that contains it (a recursive structure)"]


def test_deep_nesting_is_refused_without_recursion_error():
    depth = 10_000
    errs = problems("labels: " + "[" * depth + "]" * depth + "\n" + GOOD)
    assert len(errs) == 1 and f"nested more than {MAX_DEPTH} levels deep" in errs[0]
    assert len(errs[0]) < 300


def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    # a valid document that would be slow to parse: a long list of labels
    with open(path, "w") as f:
        f.write(GOOD + "labels:\n")
        n = 0
        while f.tell() <= MAX_FILE_BYTES:
            f.write(f"  l{n}: v\n" * 1000)
            n += 1000
    errs = []
    peak = peak_bytes(lambda: errs.extend(_load_errors(path)))
    assert len(errs) == 1 and "more than the 1,048,576 a scenario may have" in errs[0]
    assert peak < 1024 * 1024  # nothing was read
    # text handed over directly is held to the same limit
    assert "a scenario may have" in problems(path.read_text())[0]


def test_endless_file_without_a_size_is_cut_at_the_limit():
    errs = _load_errors("/dev/zero")
    assert errs == ["/dev/zero:1 <root>: the file goes on, more than the 1,048,576 a scenario may have "
                    "(nothing was parsed)"]


def _load_errors(path):
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value.errors


def test_huge_integer_is_a_located_error_not_a_crash():
    errs = problems(GOOD + "seed: " + "9" * 5000 + "\n")
    assert len(errs) == 1 and errs[0].startswith("bad.yaml:4 ") and "cannot read this value" in errs[0]


def test_messages_quote_long_values_as_excerpts():
    long = "x" * 100_000
    errs = problems(GOOD + f"workers: {long}\nthresholds: ['{long}']\nconcurrency: {long}\n")
    assert len(errs) == 3
    for e in errs:
        assert len(e) < 400 and "(100,002 characters)" in e, e


def test_a_thresholds_list_of_lists_is_described_not_printed():
    errs = problems(GOOD + "thresholds: [[" + ",".join(["a"] * 5000) + "]]\n")
    assert errs == ["bad.yaml:4 thresholds[0]: expected an expression like 'get.p99 < 5ms' "
                    "(at most 200 characters), got a list"]


def test_thousands_of_problems_are_summarised():
    text = GOOD + "".join(f"unknown{n}: 1\n" for n in range(5000))
    errs = problems(text)
    assert len(errs) == 101 and errs[-1] == "bad.yaml: ... and 4,900 more problems"


@pytest.mark.parametrize("text", ["!!int ''\n", "!!float ''\n", "seed: !!timestamp x\n", "\x1f", "a: \x07\n",
                                  "!!seq ---\n", "!!map ---\n", "phases: !!map [1]\n"])
def test_odd_scalars_and_characters_are_located_errors(text):
    # found by tests/unit/test_scenario_fuzz.py: IndexError, ReaderError, AttributeError, ValueError
    errs = problems(text)
    assert len(errs) == 1 and errs[0].startswith("bad.yaml:"), errs


def test_a_flat_document_with_too_many_nodes():
    text = "labels: [" + ",".join(["1"] * (MAX_NODES + 10)) + "]\n" + GOOD
    errs = problems(text)
    assert len(errs) == 1 and "too many aliases/nodes: the document has more than 100,000 nodes" in errs[0]
