"""A recorded subject's question bank (命题作答): questions of text, an image or an audio prompt, each for the
formal pool or the mock pool, checked by decoding their files; whatever is refused stores nothing."""

from __future__ import annotations

import pytest

from server.errors import UserError
from server.recorded.question_media import MAX_AUDIO_S, MAX_IMAGE_BYTES
from server.recorded.questions import draft

from ..conftest import ADMIN
from .conftest import events, make_recorded
from .media import audio, score, video


@pytest.fixture
async def subject(services, world):
    return await make_recorded(services, world, form="question", prepare_s=30, takes_allowed=3)


def stored_files(settings) -> list:
    root = settings.data_dir / "questions"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_text_image_and_audio_questions_in_two_pools(services, world, subject, settings):
    bank = services.questions
    made = await bank.add(
        ADMIN,
        world.exam.id,
        subject.id,
        [
            draft("formal", "朗读下面的新闻稿件：今天天气晴。"),
            draft("正式", "视奏", score(), "score-1.png"),
            draft("模拟考", "", audio("mp3"), "模唱1.mp3"),
            draft("mock", "模唱", audio("m4a"), "模唱2.m4a"),
            draft("mock", "听辨", audio("wav"), "听辨.wav"),
        ],
    )
    assert [q.use for q in made] == ["formal", "formal", "mock", "mock", "mock"]
    assert [(q.media_kind, q.media_type) for q in made] == [
        ("", ""),
        ("image", "image/png"),
        ("audio", "audio/mpeg"),
        ("audio", "audio/mp4"),
        ("audio", "audio/wav"),
    ]
    assert 1.5 < made[2].media_duration_s < 2.5, made[2]
    listed = await bank.of_subject(world.exam.id, subject.id)
    assert [q.id for q in listed] == [q.id for q in made]
    assert await bank.counts(subject.id) == {"formal": 2, "mock": 3}
    assert len(stored_files(settings)) == 4  # the four files, content-addressed
    path = services.question_files.path(made[1].media_sha256)
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
    (entry,) = await events(services, world.exam.id, "questions_imported")
    assert entry["data"]["count"] == 5 and entry["data"]["uses"] == {"formal": 2, "mock": 3}


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: b"\xff\xd8\xff" + b"\0" * (MAX_IMAGE_BYTES + 1), "question_file_too_large"),
        (lambda: b"\xff\xd8\xff\xe0 this is no picture", "question_image_invalid"),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"x" * 100, "question_image_invalid"),
        (lambda: "一段文字，不是音频".encode(), "question_file_type"),
        (lambda: video(), "question_file_type"),
        (lambda: audio("wav", seconds=MAX_AUDIO_S + 5, rate=8000), "question_audio_too_long"),
        (lambda: audio("mp3")[:300], "question_audio_invalid"),
        (lambda: b"", "question_file_empty"),
    ],
)
async def test_a_bad_file_is_refused_with_its_reason_and_nothing_is_stored(
    services, world, subject, settings, make, code
):
    with pytest.raises(UserError) as caught:
        d = draft("formal", "题目", make(), "upload.bin")
        await services.questions.add(ADMIN, world.exam.id, subject.id, [d])
    assert caught.value.code == code, caught.value.code
    assert "upload.bin" in caught.value.message("zh") or code == "question_file_empty"
    assert await services.questions.of_subject(world.exam.id, subject.id) == []
    assert stored_files(settings) == []
    assert await events(services, world.exam.id, "question_added", "questions_imported") == []


async def test_a_question_needs_a_pool_and_something_to_show(services, world, subject):
    for use, text, code in (("final", "题", "question_use_invalid"), ("formal", "  ", "question_empty")):
        with pytest.raises(UserError) as caught:
            draft(use, text)
        assert caught.value.code == code
    with pytest.raises(UserError) as caught:
        draft("formal", "长" * 5001)
    assert caught.value.code == "field_too_long"


async def test_another_subjects_or_exams_question_and_forged_ids_are_not_found(services, world, subject):
    (question,) = await services.questions.add(ADMIN, world.exam.id, subject.id, [draft("formal", "题一")])
    other = world.subjects[1]
    await make_recorded(services, world)  # keeps subject 0 recorded; subject 1 stays a live interview
    for exam_id, subject_id, question_id in (
        (world.exam.id, other.id, question.id),
        ("exam_000000000000", subject.id, question.id),
        (world.exam.id, subject.id, "ques_000000000000"),
        (world.exam.id, subject.id, "../../etc"),
    ):
        with pytest.raises(UserError) as caught:
            await services.questions.get(exam_id, subject_id, question_id)
        assert caught.value.code == "question_not_found"
        with pytest.raises(UserError):
            await services.questions.delete(ADMIN, exam_id, subject_id, question_id)
    assert [q.id for q in await services.questions.of_subject(world.exam.id, subject.id)] == [question.id]


async def test_a_live_interview_subject_has_no_bank(services, world, subject):
    with pytest.raises(UserError) as caught:
        await services.questions.add(ADMIN, world.exam.id, world.subjects[1].id, [draft("formal", "题")])
    assert caught.value.code == "sitting_not_recorded"


async def test_deleting_takes_a_question_out_of_its_pool(services, world, subject):
    one, two = await services.questions.add(
        ADMIN, world.exam.id, subject.id, [draft("formal", "题一"), draft("formal", "题二")]
    )
    await services.questions.delete(ADMIN, world.exam.id, subject.id, one.id)
    assert [q.id for q in await services.questions.of_subject(world.exam.id, subject.id)] == [two.id]
    assert await services.questions.counts(subject.id) == {"formal": 1, "mock": 0}
    (entry,) = await events(services, world.exam.id, "question_deleted")
    assert entry["data"]["question_id"] == one.id
