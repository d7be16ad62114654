"""The exports over HTTP on a running app (server/http/exports_api.py): CSV with a BOM and formula-like
cells neutralised, the XLSX opened with openpyxl holding the same rows, a UTF-8 file name, the admin only
(examiner and candidate refused), an unknown kind or format a 404 with a clear message."""

from __future__ import annotations

import asyncio
import csv
import io
from urllib.parse import unquote

import aiohttp
import openpyxl
import pytest

from server.http.csvout import text
from server.marking.exports import COLUMNS, KINDS
from tests.conftest import new_client
from tests.http.test_grading_api import as_user, error
from tests.marking.test_exports import COMMENT, live_exam, recorded_exam, rows_of


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8")[1:], newline="")))


def xlsx_rows(body: bytes) -> list[list[str]]:
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    sheet = book.worksheets[0]
    out = [["" if v is None else text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return out


async def test_csv_and_xlsx_of_every_kind_hold_the_same_safe_rows(app, services):
    w, (iv0, _), _ = await live_exam(services)
    admin = await as_user(app, "admin-one")
    try:
        for kind in KINDS:
            expected = await rows_of(services, w.exam.id, kind)
            got = {}
            for fmt in ("csv", "xlsx"):
                resp = await admin.get(f"/api/admin/exams/{w.exam.id}/exports/{kind}.{fmt}")
                assert resp.status == 200, await resp.text()
                disposition = resp.headers["Content-Disposition"]
                assert disposition.startswith("attachment; ") and "filename*=UTF-8''" in disposition
                name = unquote(disposition.split("filename*=UTF-8''")[1])
                assert name.startswith(w.exam.name) and name.endswith(f".{fmt}"), name
                assert resp.headers["Cache-Control"] == "private, no-store"
                body = await resp.read()
                got[fmt] = csv_rows(body) if fmt == "csv" else xlsx_rows(body)
                if fmt == "xlsx":
                    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
            assert got["csv"] == got["xlsx"], kind
            assert got["csv"][0] == list(COLUMNS[kind])
            assert len(got["csv"]) == len(expected) + 1 and expected
            for row, want in zip(got["csv"][1:], expected, strict=True):
                assert row == [("'" + text(c)) if text(c)[:1] in "=+-@" and text(c) else text(c) for c in want]
        marks = csv_rows(await (await admin.get(f"/api/admin/exams/{w.exam.id}/exports/marks.csv")).read())
        comments = {r[15] for r in marks[1:] if r[3] == iv0}
        assert comments == {"'" + COMMENT, "'+1 好"}  # = and + neutralised (a quote first)
        book = openpyxl.load_workbook(
            io.BytesIO(await (await admin.get(f"/api/admin/exams/{w.exam.id}/exports/marks.xlsx")).read())
        )
        cells = [c for row in book.worksheets[0].iter_rows() for c in row if c.value == "'" + COMMENT]
        assert cells and all(c.data_type == "s" for c in cells)  # text, never a formula
        numbers = [c.value for row in book.worksheets[0].iter_rows(min_row=2) for c in row[11:12]]
        assert 35 in numbers and 30.5 in numbers  # marks stay numbers in the workbook
    finally:
        await admin.close()


async def test_recorded_marks_export_with_codes_and_at_neutralised(app, services):
    world, subject, staff, subs, code, grader = await recorded_exam(services)
    admin = await as_user(app, "admin-one")
    try:
        rows = csv_rows(await (await admin.get(f"/api/admin/exams/{world.exam.id}/exports/marks.csv")).read())
        mine = [r for r in rows[1:] if r[3] == code and r[8] == grader.id]
        assert [r[11] for r in mine] == ["30", "30", "15"] and {r[15] for r in mine} == {"'@稳"}
        assert {r[4] for r in mine} == {subs[code][0].name}  # the admin sees the candidate
    finally:
        await admin.close()


async def test_only_the_admin_and_unknown_exports_are_404(app, services, world):
    url = f"/api/admin/exams/{world.exam.id}/exports/bookings.csv"
    for user in ("examiner-one", "proctor-one"):
        client = await as_user(app, user)
        try:
            await error(await client.get(url), 403, "forbidden")
        finally:
            await client.close()
    candidate = await world.candidate(0)
    client = await as_user(app, candidate.phone or candidate.username)
    try:
        await error(await client.get(url), 403, "forbidden")
    finally:
        await client.close()
    admin = await as_user(app, "admin-one")
    try:
        for path in ("salaries.csv", "marks.pdf", "marks.csv.zip", "Marks.CSV"):
            message = await error(
                await admin.get(f"/api/admin/exams/{world.exam.id}/exports/{path}"), 404, "export_unknown"
            )
            assert "没有这种导出" in message
        await error(await admin.get("/api/admin/exams/exam_000000000000/exports/marks.csv"), 404, "exam_not_found")
        # an exam with nothing to export: the header row only
        assert csv_rows(await (await admin.get(url)).read()) == [list(COLUMNS["bookings"])]
    finally:
        await admin.close()
    resp = await (await new_client(app)).get(url)  # not logged in
    assert resp.status == 401


async def test_an_export_that_fails_midway_breaks_the_download_off_instead_of_ending_a_partial_file(
    app, services, caplog
):
    """A record that cannot be read (a corrupt mark sheet here) once the CSV has begun: the 200 and the first
    bytes are sent, so the connection is closed without the end of the body and the download fails visibly
    (the client gets a payload error at once, not a short file that looks whole, nor a hang). The XLSX is
    built before anything is sent: a clean 500 with the message. The failure is logged."""
    w, (iv0, _), _ = await live_exam(services)
    await services.store.redis.hset(services.store.keys.interview_marks(iv0), "sheet:acc_000000000000", "{broken")
    admin = await as_user(app, "admin-one")
    try:
        async with asyncio.timeout(10):  # before the fix the download hung until the client gave up
            resp = await admin.get(f"/api/admin/exams/{w.exam.id}/exports/marks.csv")
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.read()
        resp = await admin.get(f"/api/admin/exams/{w.exam.id}/exports/marks.xlsx")
        assert "服务器内部错误" in await error(resp, 500, "internal")
        # the other exports of the same exam still download whole
        resp = await admin.get(f"/api/admin/exams/{w.exam.id}/exports/bookings.csv")
        assert resp.status == 200 and csv_rows(await resp.read())[0] == list(COLUMNS["bookings"])
    finally:
        await admin.close()
    broken = [r for r in caplog.records if r.getMessage() == "download broken off"]
    assert broken and broken[0].path.endswith("/exports/marks.csv") and broken[0].bytes_sent > 0
