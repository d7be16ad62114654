"""Rows written without an ID photo are marked: the candidate could not pass the face check."""

from __future__ import annotations

from server.roster.photos import PhotoSource

from .test_importer import ADMIN, ID, MAX_PHOTO, book, catalog, exam, image, importer, make_zip, photo_store, store  # noqa: F401 (fixtures)  # noqa: F401 (fixtures)


async def test_a_row_without_an_id_photo_is_imported_with_a_warning(exam, importer):  # noqa: F811
    await importer.import_csv(
        ADMIN,
        exam.id,
        f"姓名,身份证号,报考科目\n张三,{ID[0]},声乐\n".encode(),
        PhotoSource.from_zip(make_zip({f"{ID[0]}.jpg": image()}), MAX_PHOTO),
    )
    # the CSV alone (no archive): 张三 keeps the photo on file, 李四 has none
    text = f"姓名,身份证号,报考科目\n张三,{ID[0]},声乐\n李四,{ID[1]},声乐\n"
    report = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert (report.updated, report.imported, report.rejected, report.warnings) == (1, 1, 0, 1)
    zh, en = report.to_json("zh"), report.to_json("en")
    assert zh["warnings"] == 1
    with_photo, without = zh["rows"]
    assert with_photo["reasons"] == [] and "warning" not in with_photo
    assert without["status"] == "imported" and without["warning"] is True
    assert without["reasons"] == [
        {"code": "row_no_photo", "message": "未提供证件照，考生将无法通过人脸比对", "level": "warning"}
    ]
    assert en["rows"][1]["reasons"][0]["message"] == "No ID photo: this candidate cannot pass the face check"


async def test_a_reimport_that_keeps_the_photo_on_file_warns_nobody(exam, importer):  # noqa: F811
    text = f"姓名,身份证号,报考科目\n张三,{ID[0]},声乐\n"
    await importer.import_csv(
        ADMIN, exam.id, text.encode(), PhotoSource.from_zip(make_zip({f"{ID[0]}.jpg": image()}), MAX_PHOTO)
    )
    again = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert (again.updated, again.warnings) == (1, 0)
    assert again.to_json("zh")["rows"][0]["reasons"] == []


async def test_rejected_rows_carry_no_warning(exam, importer):  # noqa: F811
    text = f"姓名,身份证号,报考科目\n,{ID[0]},声乐\n"
    report = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert report.warnings == 0
    assert [r["code"] for r in report.to_json("zh")["rows"][0]["reasons"]] == ["row_name_missing"]
