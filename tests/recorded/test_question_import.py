"""Importing a question bank from a zip with a CSV index: every row checked (its pool, its file: present, a
safe name, within its limit, really an image or audio), all stored or none, with a row-by-row report."""

from __future__ import annotations

import io
import zipfile

import pytest

from server.errors import UserError
from server.recorded.question_import import MAX_MEMBERS, import_zip
from server.recorded.question_media import MAX_AUDIO_BYTES

from ..conftest import ADMIN
from .conftest import events, make_recorded
from .media import audio, bank_zip, score

INDEX = "用途,题目,文件\n正式考,视奏第一题,scores/视奏1.png\n正式考,朗读：今天天气晴。,\n模拟考,模唱,audio/模唱.mp3\n"


@pytest.fixture
async def subject(services, world):
    return await make_recorded(services, world, form="question")


def good_files() -> dict[str, bytes]:
    return {"scores/视奏1.png": score("1"), "audio/模唱.mp3": audio("mp3")}


async def nothing_stored(services, world, subject, settings):
    assert await services.questions.of_subject(world.exam.id, subject.id) == []
    root = settings.data_dir / "questions"
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]
    assert await events(services, world.exam.id, "questions_imported", "question_added") == []


async def test_a_good_zip_is_stored_whole(services, world, subject):
    result = await import_zip(services.questions, ADMIN, world.exam.id, subject.id, bank_zip(INDEX, good_files()))
    report = result.to_json("zh")
    assert report["stored"] == 3 and report["rejected"] == 0 and report["problems"] == []
    assert [r["status"] for r in report["rows"]] == ["ok"] * 3 and [r["line"] for r in report["rows"]] == [2, 3, 4]
    questions = await services.questions.of_subject(world.exam.id, subject.id)
    assert [(q.use, q.media_kind, q.media_name) for q in questions] == [
        ("formal", "image", "scores/视奏1.png"),
        ("formal", "", ""),
        ("mock", "audio", "audio/模唱.mp3"),
    ]


async def test_an_index_saved_by_excel_in_china_and_files_named_by_their_base_name(services, world, subject):
    index = "use,text,file\nformal,视奏,视奏1.png\nmock,模唱,模唱.MP3\n"
    data = bank_zip(index, {"题目/视奏1.png": score(), "题目/模唱.mp3": audio()}, "questions.csv", "gb18030")
    result = await import_zip(services.questions, ADMIN, world.exam.id, subject.id, data)
    assert result.stored == 2, result.to_json("zh")


@pytest.mark.parametrize(
    ("index", "files", "line", "code"),
    [
        (INDEX, {"scores/视奏1.png": score()}, 4, "question_file_missing"),
        (INDEX + "正式考,越界,../../etc/passwd\n", good_files(), 5, "question_file_path"),
        (INDEX + "正式考,绝对路径,/etc/passwd\n", good_files(), 5, "question_file_path"),
        (
            INDEX + "正式考,文本,notes.txt\n",
            {**good_files(), "notes.txt": "不是图片".encode()},
            5,
            "question_file_type",
        ),
        (
            INDEX + "正式考,坏图,bad.png\n",
            {**good_files(), "bad.png": b"\x89PNG\r\n\x1a\nbroken"},
            5,
            "question_image_invalid",
        ),
        (
            INDEX + "正式考,太大,big.wav\n",
            {**good_files(), "big.wav": b"RIFF" + b"\0" * (MAX_AUDIO_BYTES + 10)},
            5,
            "question_file_too_large",
        ),
        (INDEX + "期末考,用途不对,\n", good_files(), 5, "question_use_invalid"),
        (INDEX + "模拟考,,\n", good_files(), 5, "question_empty"),
    ],
)
async def test_a_bad_row_stores_nothing_and_the_report_names_it(
    services, world, subject, settings, index, files, line, code
):
    result = await import_zip(services.questions, ADMIN, world.exam.id, subject.id, bank_zip(index, files))
    report = result.to_json("zh")
    assert report["stored"] == 0
    bad = [r for r in report["rows"] if r["status"] == "rejected"]
    assert [r["line"] for r in bad] == [line], report
    assert bad[0]["reasons"][0]["code"] == code
    assert all("\u4e00" <= c <= "\u9fff" for c in bad[0]["reasons"][0]["message"][:2]), bad[0]["reasons"]
    await nothing_stored(services, world, subject, settings)


@pytest.mark.parametrize("name", ["../evil.png", "/abs/evil.png", "C:/evil.png", "a/../../evil.png"])
async def test_a_zip_with_a_path_trick_is_refused_whole(services, world, subject, settings, name):
    data = bank_zip(INDEX, {**good_files(), name: score()})
    result = await import_zip(services.questions, ADMIN, world.exam.id, subject.id, data)
    report = result.to_json("zh")
    assert report["stored"] == 0 and report["problems"][0]["code"] == "question_zip_unsafe_name"
    assert name in report["problems"][0]["message"]
    await nothing_stored(services, world, subject, settings)


def many_files() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("题目.csv", "用途,题目\n正式考,题\n")
        for i in range(MAX_MEMBERS):
            zf.writestr(f"f{i}.txt", b"")
    return out.getvalue()


def bomb() -> bytes:
    """A member whose directory entry says it unpacks to more than the limit (a zip bomb's): refused from
    the directory alone, before anything is read."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("题目.csv", "用途,题目\n正式考,题\n")
        zf.writestr("big.bin", b"\0" * 1024)
        zf.infolist()[-1].file_size = 1024 * 1024 * 1024 + 1  # written so in the central directory
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: b"PK\x03\x04 not really a zip", "question_zip_invalid"),
        (lambda: "用途,题目\n正式考,题\n".encode(), "question_zip_invalid"),
        (lambda: bank_zip("", {}, "readme.txt"), "question_zip_no_index"),
        (lambda: bank_zip("题目,文件\n题,\n", {}), "csv_columns"),
        (many_files, "question_zip_too_many"),
        (bomb, "question_zip_too_large"),
    ],
)
async def test_a_bad_archive_is_refused_with_its_reason(services, world, subject, settings, make, code):
    with pytest.raises(UserError) as caught:
        await import_zip(services.questions, ADMIN, world.exam.id, subject.id, make())
    assert caught.value.code == code
    await nothing_stored(services, world, subject, settings)
