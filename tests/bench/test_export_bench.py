"""A short run of the export benchmark (``python -m bench.export``, issue 16 item 5) so that it keeps working:
its own redis-server and ``interview-server run`` processes, every export of two exams downloaded and checked
(row counts, the XLSX opened), the server's memory not growing with the rows for the streamed exports. Takes under 15 s."""

from __future__ import annotations

from bench import export


def test_the_export_bench_short():
    figures = export.run(export.parser().parse_args(["--sizes", "300,1500"]))
    print(figures)
    for size in ("300", "1500"):
        exports = figures["sizes"][size]["exports"]
        assert set(exports) == {f"{k}.{f}" for k in export.KINDS for f in export.FORMATS}
        assert exports["marks.csv"]["rows"] == int(size) * export.CRITERIA
        assert all(e["rows_per_s"] > 0 for e in exports.values())
        # what a streamed export adds to the server's resident memory stays small, whatever the rows
        # (results is computed whole by server/marking/results.py: not held to it)
        assert figures["rss_streamed_added_mb"][size] < 30, figures
    assert abs(figures["peak_rss_streamed_mb"]["1500"] - figures["peak_rss_streamed_mb"]["300"]) < 20, figures
    assert figures["wall_s"] < 60, figures
