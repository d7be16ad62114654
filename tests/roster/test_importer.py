import io
import os
import time
import zipfile

import pytest
from PIL import Image

from server.errors import UserError
from server.exams.catalog import Catalog
from server.roster import idcard
from server.roster.book import RosterBook
from server.roster.importer import RosterImporter
from server.roster.photos import PhotoSource, PhotoStore, check_image, zip_member_name
from server.store import audit
from server.store.audit import Actor
from server.store.base import Store

ADMIN = Actor("admin1", "admin")
MAX_PHOTO = 20_000
ID = [idcard.make("440305", "20070315", n) for n in range(10)]
ID_X = next(n for n in (idcard.make("110105", "20061231", s) for s in range(1000)) if n.endswith("X"))


def image(fmt: str = "JPEG", size=(120, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 150, 120)).save(out, fmt)
    return out.getvalue()


def noisy_png() -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(out, "PNG")
    assert len(out.getvalue()) > MAX_PHOTO
    return out.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.fixture
def store(redis, prefix):
    return Store(redis, prefix)


@pytest.fixture
def catalog(store):
    return Catalog(store)


@pytest.fixture
def book(store):
    return RosterBook(store)


@pytest.fixture
def photo_store(tmp_path):
    return PhotoStore(tmp_path / "photos")


@pytest.fixture
def importer(store, book, catalog, photo_store):
    return RosterImporter(store, book, catalog, photo_store, max_rows=100, max_photo_bytes=MAX_PHOTO)


async def new_exam(catalog, name="2025 音乐学院校考"):
    now = time.time()
    return await catalog.create_exam(
        ADMIN,
        school="示例音乐学院",
        name=name,
        booking_opens=now,
        booking_closes=now + 86400,
        subjects=[{"name": "声乐", "interview_minutes": 10}, {"name": "器乐", "interview_minutes": 15}],
    )


@pytest.fixture
async def exam(catalog):
    return await new_exam(catalog)


async def snapshot(store, prefix):
    keys = sorted([k async for k in store.redis.scan_iter(match=prefix + "*")])
    audit_len = {k: await store.redis.xlen(k) for k in keys if await store.redis.type(k) == "stream"}
    return keys, audit_len


def summary(report):
    return [(r.line, r.status, [code for code, _ in r.reasons]) for r in report.rows]


# -- encodings and file shape -------------------------------------------------------------------------

SIMPLE = f"姓名,身份证号,报考科目\n张三,{ID[0]},声乐\n李四,{ID[1]},器乐、声乐\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
async def test_encodings_give_the_same_result(catalog, importer, encoding):
    exam = await new_exam(catalog)
    report = await importer.import_csv(ADMIN, exam.id, SIMPLE.encode(encoding), PhotoSource.empty())
    no_photo = [{"code": "row_no_photo", "message": "未提供证件照，考生将无法通过人脸比对", "level": "warning"}]
    assert report.to_json("zh") == {  # written, with a warning: no archive, so no ID photo for the face check
        "imported": 2,
        "updated": 0,
        "rejected": 0,
        "warnings": 2,
        "rows": [
            {"line": 2, "id_number": ID[0], "name": "张三", "status": "imported", "reasons": no_photo, "warning": True},
            {"line": 3, "id_number": ID[1], "name": "李四", "status": "imported", "reasons": no_photo, "warning": True},
        ],
    }
    entry = await importer.book.entry(exam.id, ID[1])
    names = {s.id: s.name for s in await catalog.subjects(exam.id)}
    assert [names[s] for s in entry.subjects] == ["器乐", "声乐"]
    assert entry.photo_sha256 == ""  # no archive given: imported without a photo


async def test_undecodable_bytes(exam, importer):
    with pytest.raises(UserError) as caught:
        await importer.import_csv(ADMIN, exam.id, b"\x80\x81\xff\xfe\x00 name", PhotoSource.empty())
    assert caught.value.code == "csv_encoding"


@pytest.mark.parametrize("delimiter", ["\t", ";"])
async def test_tab_and_semicolon(exam, importer, delimiter):
    text = SIMPLE.replace(",", delimiter).replace("器乐、声乐", "器乐")
    report = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert summary(report) == [(2, "imported", []), (3, "imported", [])]


async def test_header_aliases_in_english_and_blank_lines(exam, importer):
    text = f'\ufeff Name ,ID_Number,Subject,PHONE\r\n\r\nAlice,{ID[0]},声乐,\r\n,,,\r\n"Bob\nJr",{ID[1]},器乐,\r\n'
    report = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert summary(report) == [(3, "imported", []), (5, "imported", [])]


async def test_missing_columns_writes_nothing(store, prefix, exam, importer):
    before = await snapshot(store, prefix)
    with pytest.raises(UserError) as caught:
        await importer.import_csv(ADMIN, exam.id, f"姓名,手机号\n张三,{ID[0]}\n".encode(), PhotoSource.empty())
    assert caught.value.code == "csv_columns"
    assert caught.value.params == {"columns": "身份证号, 科目"}
    assert await snapshot(store, prefix) == before
    assert not [k async for k in store.redis.scan_iter(match=prefix + "roster*")]


async def test_too_many_rows_and_empty(exam, importer):
    importer.max_rows = 2
    rows = "".join(f"考生{i},{ID[i]},声乐\n" for i in range(3))
    with pytest.raises(UserError) as caught:
        await importer.import_csv(ADMIN, exam.id, ("姓名,身份证号,科目\n" + rows).encode(), PhotoSource.empty())
    assert (caught.value.code, caught.value.params) == ("csv_too_many_rows", {"limit": 2})
    for data in (b"", b"\n\n", "姓名,身份证号,科目\n\n,,\n".encode()):
        with pytest.raises(UserError) as caught:
            await importer.import_csv(ADMIN, exam.id, data, PhotoSource.empty())
        assert caught.value.code == "csv_empty"


async def test_malformed_csv(exam, importer):
    import csv

    old = csv.field_size_limit(100)
    try:
        with pytest.raises(UserError) as caught:
            await importer.import_csv(
                ADMIN, exam.id, f"姓名,身份证号,科目\n{'x' * 200},{ID[0]},声乐\n".encode(), PhotoSource.empty()
            )
        assert caught.value.code == "csv_malformed"
    finally:
        csv.field_size_limit(old)


async def test_unknown_exam(importer):
    with pytest.raises(UserError) as caught:
        await importer.import_csv(ADMIN, "exam_nope", SIMPLE.encode(), PhotoSource.empty())
    assert (caught.value.code, caught.value.status) == ("exam_not_found", 404)


# -- the mixed file ----------------------------------------------------------------------------------

BAD_CHECKSUM = ID[2][:17] + ("0" if ID[2][17] != "0" else "1")


def mixed_csv(exam) -> str:
    return "\n".join(
        [
            "姓名,身份证号,手机号,报考科目,照片,证件类型,考试",
            f"张三,{ID[0]},13800138000,声乐,,,",  # 2 photo found in a sub-folder by ID number
            f"李四,{BAD_CHECKSUM},,器乐,ok.jpg,身份证,",  # 3
            f"王五,{ID[0]},,声乐,ok.jpg,,",  # 4 duplicate of line 2
            f"赵六,{ID[3]},,器乐,missing.jpg,,",  # 5
            f"钱七,{ID[4]},,舞蹈,ok.jpg,,",  # 6
            f"孙八,{ID[5]},12345,声乐,ok.jpg,,",  # 7
            f"周九,{ID[6]},,声乐,notimage.jpg,,",  # 8
            f"吴十,{ID[7]},,器乐,big.png,,",  # 9
            "",  # 10 blank
            f"郑一,{ID[8]},+86 139-0013-9000,声乐；器乐,photos\\{ID[8]}.png,居民身份证,{exam.name}",  # 11
            f"冯二,{ID_X.lower()},,器乐,,,{exam.id}",  # 12 photo <ID>.png at the root
            ",123,,钢琴,,,",  # 13 several reasons
            "Tom Lee,e1234567,,声乐,ok.jpg,护照,",  # 14 passport
            f"陈三,{ID[9]},,声乐,ok.jpg,军官证,",  # 15
            f"卫四,{ID[9]},,声乐,ok.jpg,,另一场考试",  # 16
            f"{'长' * 51},{ID[1]},,声乐,ok.jpg,,",  # 17
            "",
        ]
    )


def mixed_zip() -> bytes:
    return make_zip(
        {
            f"考生照片/第一批/{ID[0]}.JPG": image(),
            "ok.jpg": image(),
            "notimage.jpg": b"hello, not a picture",
            "big.png": noisy_png(),
            f"photos/{ID[8]}.png": image("PNG"),
            f"{ID_X}.png": image("PNG", (100, 100)),
            "__MACOSX/._ok.jpg": b"junk",
        }
    )


MIXED_EXPECTED = [
    (2, "imported", []),
    (3, "rejected", ["id_number_checksum"]),
    (4, "rejected", ["row_duplicate"]),
    (5, "rejected", ["row_photo_missing"]),
    (6, "rejected", ["row_subject_unknown"]),
    (7, "rejected", ["row_phone_invalid"]),
    (8, "rejected", ["row_photo_invalid"]),
    (9, "rejected", ["row_photo_too_large"]),
    (11, "imported", []),
    (12, "imported", []),
    (13, "rejected", ["row_name_missing", "id_number_invalid", "row_subject_unknown", "row_photo_missing"]),
    (14, "imported", []),
    (15, "rejected", ["row_id_type_unknown"]),
    (16, "rejected", ["row_exam_mismatch"]),
    (17, "rejected", ["row_name_too_long"]),
]


async def test_mixed_file(store, exam, importer, book, catalog, photo_store):
    report = await importer.import_csv(
        ADMIN, exam.id, mixed_csv(exam).encode(), PhotoSource.from_zip(mixed_zip(), MAX_PHOTO)
    )
    assert summary(report) == MIXED_EXPECTED
    assert (report.imported, report.updated, report.rejected) == (4, 0, 11)
    params = {r.line: r.reasons for r in report.rows}
    assert params[4] == [("row_duplicate", {"line": 2})]
    assert params[5] == [("row_photo_missing", {"photo": "missing.jpg"})]
    assert params[6] == [("row_subject_unknown", {"subject": "舞蹈"})]
    assert params[9] == [("row_photo_too_large", {"limit": "20 KB"})]
    assert params[13][-1] == ("row_photo_missing", {"photo": "123.jpg"})
    assert params[15] == [("row_id_type_unknown", {"value": "军官证"})]

    subjects = {s.name: s.id for s in await catalog.subjects(exam.id)}
    entries = {e.id_number: e for e in await book.entries(exam.id)}
    assert sorted(entries) == sorted([ID[0], ID[8], ID_X, "E1234567"])
    assert entries[ID[0]].phone == "13800138000" and entries[ID[0]].subjects == [subjects["声乐"]]
    assert entries[ID[8]].phone == "13900139000"
    assert entries[ID[8]].subjects == [subjects["声乐"], subjects["器乐"]]
    assert entries["E1234567"].id_type == "passport" and entries[ID[0]].id_type == "id_card"
    assert photo_store.path(entries[ID[8]].photo_sha256).suffix == ".png"
    assert photo_store.path(entries[ID[0]].photo_sha256).suffix == ".jpg"
    assert entries["E1234567"].photo_sha256 == entries[ID[0]].photo_sha256  # same picture, one file
    assert [e.exam_id for e in await book.entries_for(ID_X)] == [exam.id]

    events = await audit.read(store.redis, store.keys, exam.id, count=1000)
    rows = [e for e in events if e["event"] == "roster_entry_imported"]
    assert sorted(e["subject"] for e in rows) == sorted(entries)
    assert {e["actor"] for e in rows} == {"admin1"}
    [done] = [e for e in events if e["event"] == "roster_imported"]
    assert done["data"] == {"imported": 4, "updated": 0, "rejected": 11}

    # Re-import: the same entries are updated, never duplicated.
    again = await importer.import_csv(
        ADMIN, exam.id, mixed_csv(exam).encode(), PhotoSource.from_zip(mixed_zip(), MAX_PHOTO)
    )
    assert summary(again) == [
        (line, "updated" if status == "imported" else status, codes) for line, status, codes in MIXED_EXPECTED
    ]
    assert (again.imported, again.updated, again.rejected) == (0, 4, 11)
    assert len(await book.entries(exam.id)) == 4
    assert await store.redis.scard(store.keys.roster(exam.id)) == 4
    events = await audit.read(store.redis, store.keys, exam.id, count=1000)
    assert len([e for e in events if e["event"] == "roster_entry_updated"]) == 4
    assert len([e for e in events if e["event"] == "roster_entry_imported"]) == 4


async def test_report_messages(exam, importer):
    report = await importer.import_csv(
        ADMIN, exam.id, mixed_csv(exam).encode(), PhotoSource.from_zip(mixed_zip(), MAX_PHOTO)
    )
    zh, en = report.to_json("zh"), report.to_json("en")
    assert (zh["imported"], zh["rejected"]) == (4, 11)
    by_line = {row["line"]: row for row in zh["rows"]}
    assert by_line[4]["reasons"] == [{"code": "row_duplicate", "message": "证件号码与第 2 行重复"}]
    assert by_line[9]["reasons"][0]["message"] == "证件照过大（上限 20 KB）"
    assert by_line[3]["reasons"][0]["message"].startswith("身份证号校验位不正确")
    by_line = {row["line"]: row for row in en["rows"]}
    assert by_line[4]["reasons"] == [{"code": "row_duplicate", "message": "Same ID number as line 2"}]
    assert by_line[6]["reasons"][0]["message"] == "The exam has no subject named 舞蹈"
    assert by_line[2] == {"line": 2, "id_number": ID[0], "name": "张三", "status": "imported", "reasons": []}


async def test_all_rejected_writes_nothing(store, prefix, exam, importer):
    before = await snapshot(store, prefix)
    text = f"姓名,身份证号,科目\n张三,{BAD_CHECKSUM},声乐\n,{ID[1]},声乐\n"
    report = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert summary(report) == [(2, "rejected", ["id_number_checksum"]), (3, "rejected", ["row_name_missing"])]
    assert await snapshot(store, prefix) == before


async def test_named_photo_without_archive_is_missing(exam, importer):
    text = f"姓名,身份证号,科目,照片\n张三,{ID[0]},声乐,zs.jpg\n李四,{ID[1]},声乐,\n"
    report = await importer.import_csv(ADMIN, exam.id, text.encode(), PhotoSource.empty())
    assert summary(report) == [(2, "rejected", ["row_photo_missing"]), (3, "imported", [])]


# -- photos ------------------------------------------------------------------------------------------


def test_broken_zip():
    for data in (b"not a zip at all", make_zip({"a.jpg": image()})[:-30]):
        with pytest.raises(UserError) as caught:
            PhotoSource.from_zip(data, MAX_PHOTO)
        assert caught.value.code == "photos_archive"
    with pytest.raises(UserError):
        PhotoSource.from_zip(make_zip({f"{i}.jpg": b"x" for i in range(5)}), MAX_PHOTO, max_members=4)


def test_zip_lookup_in_sub_folder_case_insensitive():
    photo = image()
    source = PhotoSource.from_zip(make_zip({"Photos/Class A/ZhangSan.JPG": photo}), MAX_PHOTO)
    assert source.find("zhangsan.jpg") == ("ZhangSan.JPG", photo)
    assert source.find("C:\\photos\\ZHANGSAN.jpg") == ("ZhangSan.JPG", photo)
    assert source.find("lisi.jpg") is None


def test_zip_member_over_the_limit_is_not_read():
    source = PhotoSource.from_zip(make_zip({"big.png": noisy_png(), "bomb.jpg": b"\0" * 10_000_000}), MAX_PHOTO)
    assert source.find("big.png") == ("big.png", None)
    assert source.find("bomb.jpg") == ("bomb.jpg", None)


def test_zip_member_lying_about_its_size():
    data = bytearray(make_zip({"a.jpg": b"\xff\xd8\xff" + b"\0" * 50_000}))
    # Shrink the declared size in the central directory: reading stops there, the CRC check then fails.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("a.jpg")
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    source = PhotoSource.from_zip(bytes(data), MAX_PHOTO)
    assert info.file_size > MAX_PHOTO
    name, read = source.find("a.jpg")
    assert read is not None and len(read) <= 100


def test_gbk_names_in_zip():
    info = zipfile.ZipInfo("照片/张三.jpg".encode("gbk").decode("cp437"))
    assert zip_member_name(info) == "照片/张三.jpg"


def test_from_folder(tmp_path):
    folder = tmp_path / "upload" / "二班"
    folder.mkdir(parents=True)
    (folder / f"{ID_X}.JPG").write_bytes(image())
    (folder / "big.png").write_bytes(noisy_png())
    source = PhotoSource.from_folder(tmp_path / "upload", MAX_PHOTO)
    assert source.find(ID_X.lower() + ".jpg")[1] == image()
    assert source.find("BIG.PNG") == ("big.png", None)
    assert source.find("nobody.jpg") is None
    assert PhotoSource.empty().find("a.jpg") is None


async def test_import_with_folder_photos(tmp_path, exam, importer):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / f"{ID_X}.jpeg").write_bytes(image())
    text = f"姓名,身份证号,科目\n冯二,{ID_X},器乐\n张三,{ID[0]},声乐\n"
    report = await importer.import_csv(
        ADMIN, exam.id, text.encode(), PhotoSource.from_folder(tmp_path / "p", MAX_PHOTO)
    )
    assert summary(report) == [(2, "imported", []), (3, "rejected", ["row_photo_missing"])]
    assert report.rows[1].reasons == [("row_photo_missing", {"photo": f"{ID[0]}.jpg"})]


def test_check_image():
    assert check_image(image()) == "jpg"
    assert check_image(image("PNG")) == "png"
    assert check_image(image()[:-200]) is None  # truncated JPEG
    assert check_image(image("GIF")) is None
    assert check_image(b"") is None
    assert check_image(b"\xff\xd8\xff garbage") is None


def test_photo_store(tmp_path):
    photos = PhotoStore(tmp_path)
    data = image("PNG")
    sha = photos.put(data)
    assert photos.put(data) == sha
    path = photos.path(sha)
    assert path == tmp_path / sha[:2] / f"{sha}.png" and path.read_bytes() == data
    assert [p.name for p in (tmp_path / sha[:2]).iterdir()] == [f"{sha}.png"]  # no temp files left
    assert photos.path("0" * 64) is None
    assert photos.path("../../etc/passwd") is None
    with pytest.raises(ValueError):
        photos.put(b"hello")


async def test_reimport_without_photos_keeps_the_photo_on_file(exam, importer, book):
    text = f"姓名,身份证号,报考科目\n张三,{ID[0]},声乐\n"
    first = await importer.import_csv(
        ADMIN, exam.id, text.encode(), PhotoSource.from_zip(make_zip({f"{ID[0]}.jpg": image()}), MAX_PHOTO)
    )
    photo = (await book.entry(exam.id, ID[0])).photo_sha256
    assert first.imported == 1 and photo
    # the school corrects a subject and re-imports the CSV alone
    again = await importer.import_csv(ADMIN, exam.id, text.replace("声乐", "器乐").encode(), PhotoSource.empty())
    entry = await book.entry(exam.id, ID[0])
    assert again.updated == 1 and entry.photo_sha256 == photo and len(entry.subjects) == 1
