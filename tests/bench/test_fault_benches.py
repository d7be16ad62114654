"""Short runs of the fault suite (``python -m bench.faults``) and the soak (``python -m bench.soak``) of
issue 13, so that both keep working and their targets stay met. Each starts its own redis-server and
two ``interview-server run`` processes (the session's Redis is not used) and takes under a minute."""

from __future__ import annotations

from bench import faults, soak


def test_the_fault_suite_short():
    grace = 3
    # outages shorter than process_ttl_s (6 s): the liveness keys outlive them (see docs/signaling.md
    # for what a longer one does to the first call-next)
    figures = faults.run(faults.parser().parse_args(["--outage-s", "2.5", "--called-grace-s", str(grace)]))
    print(figures)
    assert figures["kill"]["records_lost"] == 0 and figures["kill"]["admitted_position"] == 1, figures["kill"]
    for name in ("kill", "down", "frozen"):
        fault = figures[name]
        # what the server pushed (snapshots included); ``pages_wrong_at_end`` applies the candidate
        # page's own rules, which ignore a finished entry in a snapshot (see docs/signaling.md)
        assert fault["views_wrong_at_end"] == 0 and fault["views_late"] == 0, (name, fault)
        assert fault["views_correct_max_s"] < faults.VIEWS_WITHIN_S, (name, fault)
    for name in ("down", "frozen"):
        fault = figures[name]
        assert fault["unanswered"] == 0, (name, fault)
        assert fault["double_admissions"] == 0 and fault["order_kept"], (name, fault)
        assert fault["admitted_position"] == [1], (name, fault)
    assert figures["down"]["late"] == 0, figures["down"]
    # frozen: the session check gives up after 1 s (answered ~1.01 s later); an event whose own Redis
    # work was under way when Redis froze waits up to the client's 5 s read timeout (docs/signaling.md)
    assert figures["frozen"]["answer_max_ms"] < 5500, figures["frozen"]
    process = figures["process"]
    assert process["places_kept"] and process["returned_not_in_line"] == 0, process
    assert process["absent_called"] == 0 and process["calls_after_release"] >= 1, process
    assert process["dead_process_window_s"] is not None and process["dead_process_window_s"] <= 6.5, process
    assert process["called_away_s_at_release"] is not None, process
    assert grace <= process["called_away_s_at_release"] <= grace + 2.5, process  # + one sweep period
    assert process["views_wrong_at_end"] == 0 and process["after_release"]["views_wrong_at_end"] == 0, process
    assert figures["server_log"]["not_json"] == 0, figures["server_log"]


def test_the_soak_short():
    args = soak.parser().parse_args(["--clients", "40", "--seconds", "15", "--rooms", "4", "--churn-every-s", "4"])
    figures = soak.run(args)
    print(figures)
    assert figures["joined"] == 40 and figures["admissions"] >= 8, figures
    assert figures["stale_clients"] == 0, figures
    assert figures["reconnect_failed"] == 0 and figures["reconnects"] >= 1, figures
    assert figures["fd_growth"] <= 20, figures
    assert figures["rss_growth_mb"] < 50, figures
    assert figures["redis_connections_max"] <= 2 * 64 + 10, figures  # two processes' pools (redis_max_connections)
