"""pegload.distributed without sockets: the clock estimate against known offsets, the control
framing, snapshot re-stamping, the agent's book, the agents' report section, and the scratch
decode that the coordinator's merge relies on."""
import random

import pytest

from pegload.distributed.book import AgentBook, PhaseGrid, shift_snapshot
from pegload.distributed.clock import Exchange, estimate, uncertainty_reason
from pegload.distributed.control import ControlError, Reader, encode
from pegload.metrics import IntervalRecorder, LatencyHistogram
from pegload.report.agents import agents_section


def _exchange(offset: float, t0: float, out_delay: float, back_delay: float, hold: float) -> Exchange:
    """An exchange with a known true offset (agent clock = coordinator clock + offset)."""
    t1 = t0 + out_delay + offset
    t2 = t1 + hold
    t3 = (t2 - offset) + back_delay
    return Exchange(t0, t1, t2, t3)


def test_symmetric_delays_give_the_exact_offset():
    x = _exchange(0.250, 1000.0, 0.002, 0.002, 0.0001)
    assert x.offset == pytest.approx(0.250) and x.rtt == pytest.approx(0.004)


def test_min_rtt_exchange_wins_and_its_bound_holds_the_true_offset():
    rng = random.Random(5)
    true = -0.0371
    xs = [_exchange(true, 1000.0 + i, rng.uniform(0.0001, 0.02), rng.uniform(0.0001, 0.02), 0.00005)
          for i in range(12)]
    c = estimate(xs)
    best = min(xs, key=lambda x: x.rtt)
    assert c.offset_s == best.offset and c.rtt_s == best.rtt and c.samples == 12
    assert abs(c.offset_s - true) <= c.bound_s + 1e-12  # asymmetric delays: within RTT/2, not exact
    assert c.to_coordinator(c.to_agent(5.0)) == pytest.approx(5.0)


def test_no_exchange_is_an_error():
    with pytest.raises(ValueError, match="no ping"):
        estimate([])


def test_uncertainty_over_one_percent_of_the_interval_is_a_reason():
    tight = estimate([_exchange(0.1, 0.0, 0.004, 0.004, 0.0)])  # bound 4 ms
    loose = estimate([_exchange(0.1, 0.0, 0.015, 0.015, 0.0)])  # bound 15 ms
    assert uncertainty_reason("agent 0", tight, 1.0) is None
    reason = uncertainty_reason("agent 0", loose, 1.0)
    assert reason and "15.0 ms" in reason and "10 ms" in reason
    assert uncertainty_reason("agent 0", loose, 2.0) is None  # 2 s intervals allow 20 ms


def test_control_frames_split_anywhere_and_garbage_is_refused():
    data = encode({"t": "ping", "seq": 1, "t0": 1.5}) + encode({"t": "stop"})
    r = Reader()
    got = []
    for i in range(len(data)):
        got += r.feed(data[i:i + 1])
    assert got == [{"t": "ping", "seq": 1, "t0": 1.5}, {"t": "stop"}]
    with pytest.raises(ControlError):
        Reader().feed(b"\x00\x00\x00\x03abc")
    with pytest.raises(ControlError):
        Reader().feed(encode({"no": "type"}))
    with pytest.raises(ControlError):
        Reader().feed(b"\x7f\xff\xff\xff")


def _snapshot(worker: int, t: float, values=(300, 900, 5000)):
    rec = IntervalRecorder(worker)
    for v in values:
        rec.op("run", "get").record(v + 50, v, 50)
    rec.op("run", "set").record(700, 650, 50)
    return rec.snapshot_and_reset(t, t + 1.0)


def test_shift_snapshot_moves_only_the_timestamps():
    snap = _snapshot(3, 1000.0)
    moved, blob = shift_snapshot(snap.to_bytes(), -0.25)
    assert (moved.t_start, moved.t_end) == (999.75, 1000.75)
    assert moved.ops == snap.ops and moved.worker_id == 3
    assert shift_snapshot(blob, 0.25)[0] == snap


def test_book_counts_lateness_and_throughput_per_interval():
    grid = PhaseGrid(1.0)
    book = AgentBook(1, (2, 3), grid)
    for k in range(3):
        for w in (2, 3):
            book.add_snapshot(_snapshot(w, 1000.0 + k + 0.001 * w))  # workers a hair apart
    book.phase_done(0, {"get": 9, "set": 3}, 0)
    book.phase_done(-1, {"multi_set": 40}, 0)  # the load phase is not measured
    assert book.measured_sent == 12 and book.measured_recorded == 24  # 6 snapshots x 4 ops
    assert book.recorded("run", "get") == 18
    assert [p[1] for p in book.throughput(1000.0)] == [pytest.approx(8 / 1.001, rel=1e-3)] * 3
    late = book.lateness()
    assert late["count"] == 24 and late["p50_us"] == late["max_us"] == 50
    lines = book.hlog_lines()
    assert [(line[0], line[1], line[2]) for line in lines] == [("run", "get", "lateness"), ("run", "set", "lateness")]


def test_agents_section_lists_every_agent_and_escapes_text():
    agents = [{"id": i, "host": f"h{i}<b>", "dask_worker": f"tcp://10.0.0.{i}:1", "pids": [1, 2], "ops": 1000 * (i + 1),
               "clock": {"offset_us": 12, "bound_us": 40}, "cpu": {"worker_mean_pct": 35.0},
               "lateness": {"p99_us": 900}, "status": "ok", "validity": {"valid": True, "reasons": []},
               "throughput": [[0.0, 100.0], [1.0, 110.0]]} for i in range(3)]
    html = agents_section({"agents": agents})
    assert html.count("<tr><td>") == 3 and "h0&lt;b&gt;" in html and "<polyline" in html
    assert "3,000" in html and "agent 2" in html
    assert agents_section({}) == ""


def test_scratch_decode_adds_exactly_what_the_general_path_adds():
    from pegload.metrics import histogram

    rng = random.Random(11)
    for _ in range(200):
        fast, general = LatencyHistogram(), LatencyHistogram()
        for _ in range(rng.randrange(1, 4)):
            src = LatencyHistogram()
            for _ in range(rng.randrange(0, 200)):
                src.record(int(rng.expovariate(1 / rng.choice([20, 400, 40_000, 10**8]))))
            fast.add_encoded(src.encode())
            general.add(LatencyHistogram.decode(src.encode()))
        assert list(fast.counts) == list(general.counts) and fast.total == general.total
        if general.total:
            assert ((fast.hdr.min_value, fast.hdr.max_value)
                    == (general.hdr.get_min_value(), general.hdr.get_max_value()))
    assert not any(histogram._SCRATCH)  # left clean for the next call
    with pytest.raises(histogram.HistogramFormatError):
        LatencyHistogram().add_encoded(b"\x78\x9cnot a histogram")


def _launcher_with_one_agent(offset_s: float):
    from pegload.distributed.clock import ClockOffset
    from pegload.distributed.launcher import DaskLauncher, RemoteProc, _AgentLink

    launcher = DaskLauncher("tcp://127.0.0.1:1")  # never connected: only the seam is used
    link = _AgentLink(0, "tcp://127.0.0.1:2", (0, 1), launcher.grid)
    link.host, link.clock = "loadhost", ClockOffset(offset_s, 0.00005, 0.0001, 8)
    link.procs = {w: RemoteProc(link, w, 100 + w) for w in (0, 1)}
    launcher.links.append(link)
    launcher.by_worker.update({0: link, 1: link})
    return launcher, link


def test_start_instants_go_onto_the_agent_clock_and_intervals_come_back():
    from pegload.metrics import IntervalSnapshot
    from pegload.runner.protocol import Interval, PhaseDone, StartPhase, StopPhase

    launcher, link = _launcher_with_one_agent(0.25)  # the agent's clock is 250 ms ahead
    assert launcher.outbound(0, StartPhase(0, 1000.0)).start_at == 1000.25
    assert launcher.outbound(0, StopPhase("x")) == StopPhase("x")
    msg = launcher.inbound(1, Interval(1, 0, {}, _snapshot(1, 1000.25).to_bytes()))
    snap = IntervalSnapshot.from_bytes(msg.blob)
    assert (snap.t_start, snap.t_end) == (1000.0, 1001.0)
    launcher.inbound(1, PhaseDone(1, 0, {"get": 3, "set": 1}))
    assert link.book.measured_sent == 4 and link.book.measured_recorded == 4


def test_a_lost_agent_ends_its_workers_handles():
    import subprocess

    _launcher, link = _launcher_with_one_agent(0.0)
    proc = link.procs[0]
    assert proc.poll() is None and "still running on loadhost" in proc.describe_exit()
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.01)
    link.mark_lost("silent for more than 2 s (no heartbeat)")
    assert proc.poll() is not None and proc.wait(timeout=0.01) == proc.poll()
    assert proc.describe_exit() == ("was lost with agent 0 on loadhost (dask worker tcp://127.0.0.1:2): "
                                    "silent for more than 2 s (no heartbeat)")
    proc.kill()  # nothing to send to: a no-op, not an error
