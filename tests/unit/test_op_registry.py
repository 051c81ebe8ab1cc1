"""The op registry: every op of the catalog has its maker and its executor, and the tables
refuse parts for unknown ops or a second part for one op."""
import pytest

from pegload.runner.ops import EXECUTORS, SELF_COMPLETING
from pegload.scenario.ops import OPS, OpTable
from pegload.workload.makers import MAKERS


def test_every_op_has_a_maker_and_an_executor_and_nothing_else_does():
    assert list(MAKERS) and set(MAKERS) == set(OPS)
    assert set(EXECUTORS) == set(OPS)


def test_only_reads_are_memoised_and_only_writes_complete_themselves():
    # a memoised op is handed out again: a write (versions, inserts) must never be
    assert {name for name, m in MAKERS.items() if m.memoisable and OPS[name].writes} == set()
    assert SELF_COMPLETING and all(OPS[name].writes for name in SELF_COMPLETING)


def test_a_table_refuses_an_unknown_op_and_a_second_part():
    table = OpTable("widget")
    with pytest.raises(ValueError, match="widget for 'gett'.*not an operation"):
        table.add("gett", object())
    table.add("get", 1)
    with pytest.raises(ValueError, match="a second widget for operation 'get'"):
        table.add("get", 2)


def test_an_incomplete_table_names_the_ops_without_their_part():
    table = OpTable("widget")
    for name in OPS:
        if name not in ("scan", "incr"):
            table.add(name, name)
    with pytest.raises(RuntimeError, match="incr, scan have no widget"):
        table.check_complete()
    table.add("scan", "scan")
    table.add("incr", "incr")
    table.check_complete()
