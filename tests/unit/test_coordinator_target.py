"""A lost target is recognised from the ops' errors: connection failures on nearly every op."""
from pegload.coordinator.target import unreachable


def test_an_interval_of_connection_failures_means_the_cluster_is_gone():
    why = unreachable({"ERR_SESSION_RESET": 180, "ERR_NO_META_SERVER": 15, "ERR_TIMEOUT": 5}, 200)
    assert why == "195 of 200 ops in an interval could not reach it (ERR_NO_META_SERVER, ERR_SESSION_RESET)"


def test_timeouts_a_few_resets_or_a_tiny_interval_are_not_a_lost_target():
    assert unreachable({"ERR_TIMEOUT": 200}, 200) is None  # slow or stalled, still there
    assert unreachable({"ERR_SESSION_RESET": 100}, 200) is None  # half: a replica restarting
    assert unreachable({"ERR_SESSION_RESET": 5}, 5) is None  # too few ops to say
