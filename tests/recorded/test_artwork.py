"""Artwork subjects (作品创作, docs/recorded.md "Artwork"): after a complete take the candidate photographs
the finished work within the photo time; photos are cleaned (no metadata, orientation applied, re-encoded),
stored beside the take with their sha256 and listed on it; the submission needs photos_min of them; the end
of the photo time (or the deadline) submits the take with the photos uploaded so far. Every refusal is a
clear message and leaves no photo listed and no file behind."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import struct
import time
import zlib

import pillow_heif
import pytest
from PIL import Image, ImageCms

from server.errors import UserError
from server.i18n import message
from server.recorded.artwork import MAX_UPLOADS_PER_TAKE, SUBMISSION_FILE
from server.recorded.photo_clean import MAX_SIDE
from tests.recorded.conftest import events, filmed, make_recorded, pass_face

GPS_MAKER = "PhoneMakerX-SN12345"
COMMENT = b"secret comment of the candidate"


def jpeg_with_metadata(width: int = 640, height: int = 480) -> bytes:
    """A phone-like JPEG: EXIF orientation 6 (turn right), maker, GPS position, a comment, an ICC profile."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 4, height))  # a blue band on the left: shows the rotation
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = GPS_MAKER
    exif[0x0132] = "2026:06:01 09:41:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 5.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=COMMENT, icc_profile=icc)
    return out.getvalue()


def heic_with_metadata(width: int = 640, height: int = 480) -> bytes:
    """An iPhone-like HEIC: stored turned (EXIF orientation 6), the phone's maker and a GPS position in its EXIF."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, width // 4, height))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = GPS_MAKER
    exif.get_ifd(0x8825).update({1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 5.0)})
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=80, exif=exif.tobytes())
    return out.getvalue()


def heic_claiming(width: int, height: int) -> bytes:
    """A small HEIC whose container ('ispe' box) claims ``width`` x ``height``."""
    data = bytearray(heic_with_metadata())
    at = data.index(b"ispe") + 8  # the box's version and flags, then width and height
    data[at : at + 8] = struct.pack(">II", width, height)
    return bytes(data)


def png(width: int = 400, height: int = 300, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 200, 10, 128) if mode == "RGBA" else 128).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    data = bytearray(png(300, 300, "L"))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments up to the scan (APPn = 0xE0-0xEF, COM = 0xFE)."""
    markers, i = [], 2
    while i < len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: the picture follows
            break
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return markers


async def artwork_sitting(services, world, candidate: int = 0, **rules):
    values = {"form": "artwork", "photo_time_limit_min": 10, "photos_min": 1, "photos_max": 3, **rules}
    subject = await make_recorded(services, world, takes_allowed=2, **values)
    account = await world.candidate(candidate)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", "device-aaaa-0001")
    await pass_face(services, world.exam.id, account)
    return account, sitting


def photo_files(services, take) -> list[str]:
    folder = services.artwork.folder(take)
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


async def refused(coro, code: str) -> str:
    with pytest.raises(UserError) as caught:
        await coro
    assert caught.value.code == code, caught.value
    text = caught.value.message("zh")
    assert any("\u4e00" <= c <= "\u9fff" for c in text) and "{" not in text, text
    return text


async def test_a_photo_is_cleaned_stored_with_its_sha256_and_listed(services, world):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    assert take.photos_until == pytest.approx(take.ended_at + 600, abs=0.01)
    photo, photos = await services.artwork.add(account, take.id, jpeg_with_metadata())
    # the orientation applied (640x480 turned right), and the file is exactly what the take lists
    assert (photo["width"], photo["height"]) == (480, 640)
    path = services.artwork.folder(take) / f"photo-{photo['id']}.jpg"
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == photo["sha256"] and len(data) == photo["size"]
    assert [p["id"] for p in photos] == [photo["id"]]
    stored = await services.sittings.find_take(take.id)
    assert stored.photos == photos
    # nothing of the upload's metadata: no EXIF, XMP, ICC or comment segment, none of its words
    assert [m for m in jpeg_segments(data) if 0xE1 <= m <= 0xEF or m == 0xFE] == []
    assert GPS_MAKER.encode() not in data and COMMENT not in data and b"Exif" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif() and "icc_profile" not in image.info and "comment" not in image.info
        assert image.getpixel((240, 10))[2] > 150  # the blue band, once on the left, is at the top now
    (added,) = await events(services, world.exam.id, "take_photo_added")
    assert added["data"]["sha256"] == photo["sha256"] and added["data"]["count"] == 1


async def test_an_iphone_heic_is_turned_upright_and_kept_as_a_clean_jpeg(services, world):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    data = heic_with_metadata()
    assert GPS_MAKER.encode() in data
    photo, _ = await services.artwork.add(account, take.id, data)
    assert (photo["width"], photo["height"], photo["source"]) == (480, 640, "HEIC")
    stored = (services.artwork.folder(take) / f"photo-{photo['id']}.jpg").read_bytes()
    assert stored.startswith(b"\xff\xd8\xff") and GPS_MAKER.encode() not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.getpixel((240, 10))[2] > 150  # the blue band, on the left as stored, is at the top
    await refused(services.artwork.add(account, take.id, heic_claiming(40_000, 40_000)), "photo_too_many_pixels")


async def test_png_is_reencoded_and_a_large_photo_scaled_down(services, world):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    photo, _ = await services.artwork.add(account, take.id, png())  # transparent: on white
    assert (photo["width"], photo["height"]) == (400, 300)
    big = io.BytesIO()
    Image.new("RGB", (6000, 1000), (90, 90, 90)).save(big, "JPEG", quality=60)
    photo, _ = await services.artwork.add(account, take.id, big.getvalue())
    assert photo["width"] == MAX_SIDE and photo["height"] in (682, 683)


async def test_bad_files_are_refused_and_nothing_is_stored(services, world, settings):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    before = photo_files(services, take)
    truncated = jpeg_with_metadata()[:2000]
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    gif = io.BytesIO()
    Image.new("RGB", (300, 300)).save(gif, "GIF")
    tiny = io.BytesIO()
    Image.new("RGB", (100, 80)).save(tiny, "JPEG")
    cases = [
        (b"%PDF-1.7 this is a document, not a photo", "photo_format"),
        ("这是一个改名为 .jpg 的文本文件".encode(), "photo_not_image"),  # a renamed text file
        (b"", "photo_not_image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 500, "photo_not_image"),  # a JPEG's first bytes, then nothing
        (truncated, "photo_not_image"),
        (heic, "photo_heic"),  # a HEIC libheif cannot read
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 200, "photo_format"),
        (gif.getvalue(), "photo_format"),
        (png_claiming(40_000, 40_000), "photo_too_many_pixels"),  # 1.6 gigapixels claimed by 1 KB
        (png_claiming(9_000, 6_000), "photo_too_many_pixels"),  # 54 MP: over the 50 MP setting
        (tiny.getvalue(), "photo_too_small"),
        (jpeg_with_metadata() + b"\xff\xda" * 40, "photo_not_image"),  # scans by the dozen: a CPU bomb
        (b"\xff\xd8\xff" + b"\x00" * (settings.artwork_photo_max_bytes + 1), "photo_too_large"),
    ]
    for data, code in cases:
        text = await refused(services.artwork.add(account, take.id, data), code)
        if code == "photo_heic":
            assert "HEIC" in text
    assert (await services.sittings.find_take(take.id)).photos == []
    assert photo_files(services, take) == before
    assert not await events(services, world.exam.id, "take_photo_added")


async def test_another_candidates_take_a_forged_id_and_a_take_not_complete(services, world):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    other, _ = await artwork_sitting(services, world, candidate=1)
    await refused(services.artwork.add(other, take.id, png()), "take_not_found")
    await refused(services.artwork.add(account, "take_000000000000", png()), "take_not_found")
    await refused(services.artwork.add(account, "../../etc/passwd", png()), "take_not_found")
    photo, _ = await services.artwork.add(account, take.id, png())
    await refused(services.artwork.remove(other, take.id, photo["id"]), "take_not_found")
    await refused(services.artwork.remove(account, take.id, "photo_000000000000"), "photo_not_found")
    cut = await filmed(services, account, sitting, state="cut")
    await refused(services.artwork.add(account, cut.id, png()), "photo_take_not_complete")
    assert len((await services.sittings.find_take(take.id)).photos) == 1


async def test_a_performance_subject_takes_no_photos(services, world):
    subject = await make_recorded(services, world)
    account = await world.candidate(0)
    sitting = await services.sittings.enter(account, world.exam.id, subject.id, "formal", "device-aaaa-0001")
    await pass_face(services, world.exam.id, account)
    take = await filmed(services, account, sitting)
    await refused(services.artwork.add(account, take.id, png()), "photo_not_artwork")
    assert take.photos_until == 0


async def test_concurrent_uploads_never_pass_the_most_photos(services, world):
    account, sitting = await artwork_sitting(services, world, photos_max=3)
    take = await filmed(services, account, sitting)
    results = await asyncio.gather(
        *(services.artwork.add(account, take.id, png(300 + i, 300)) for i in range(8)), return_exceptions=True
    )
    accepted = [r for r in results if not isinstance(r, Exception)]
    refusals = [r for r in results if isinstance(r, Exception)]
    assert len(accepted) == 3, results
    assert {r.code for r in refusals} == {"photo_too_many"}, refusals  # type: ignore[union-attr]
    assert "最多上传 3 张" in refusals[0].message("zh")  # type: ignore[union-attr]
    stored = (await services.sittings.find_take(take.id)).photos
    assert len(stored) == 3
    assert photo_files(services, take) == sorted(f"photo-{p['id']}.jpg" for p in stored)  # no leftovers


async def test_removing_a_photo_frees_its_place_and_deletes_its_file(services, world):
    account, sitting = await artwork_sitting(services, world, photos_max=1)
    take = await filmed(services, account, sitting)
    first, _ = await services.artwork.add(account, take.id, png())
    await refused(services.artwork.add(account, take.id, png(500, 400)), "photo_too_many")
    assert await services.artwork.remove(account, take.id, first["id"]) == []
    assert photo_files(services, take) == []
    second, photos = await services.artwork.add(account, take.id, png(500, 400))
    assert [p["id"] for p in photos] == [second["id"]]
    assert [e["data"]["photo_id"] for e in await events(services, world.exam.id, "take_photo_removed")] == [first["id"]]


async def test_uploads_per_take_are_capped(services, world):
    account, sitting = await artwork_sitting(services, world, photos_max=1)
    take = await filmed(services, account, sitting)
    await services.store.redis.hset(services.store.keys.take(take.id), "photos_added", MAX_UPLOADS_PER_TAKE)
    await refused(services.artwork.add(account, take.id, png()), "photo_uploads_exhausted")


async def test_no_photo_after_the_photo_time_or_after_submitting(services, world):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    photo, _ = await services.artwork.add(account, take.id, png())
    # the photo time is over (as if its minutes had passed): no photo can be added or removed
    key = services.store.keys.take(take.id)
    await services.store.redis.hset(key, "photos_until", f"{time.time() - 1:.3f}")
    text = await refused(services.artwork.add(account, take.id, png()), "photo_time_over")
    assert "10 分钟" in text
    await refused(services.artwork.remove(account, take.id, photo["id"]), "photo_time_over")
    # submitted: the photos go with the take, and nothing changes them afterwards
    await services.store.redis.hset(key, "photos_until", f"{time.time() + 600:.3f}")
    await services.sittings.submit(account, sitting.id, take.id)
    await refused(services.artwork.add(account, take.id, png()), "photo_sitting_over")
    await refused(services.artwork.remove(account, take.id, photo["id"]), "photo_sitting_over")
    assert [p["id"] for p in (await services.sittings.find_take(take.id)).photos] == [photo["id"]]


async def test_submitting_needs_the_fewest_photos_and_writes_the_submission_manifest(services, world):
    account, sitting = await artwork_sitting(services, world, photos_min=2)
    take = await filmed(services, account, sitting)
    first, _ = await services.artwork.add(account, take.id, jpeg_with_metadata())
    text = await refused(services.sittings.submit(account, sitting.id, take.id), "artwork_photos_missing")
    assert "至少 2 张" in text and "目前 1 张" in text
    assert (await services.sittings.sitting_of(account, sitting.id)).state == "in_progress"
    second, _ = await services.artwork.add(account, take.id, png())
    done = await services.sittings.submit(account, sitting.id, take.id)
    assert done.state == "submitted"
    manifest = json.loads((services.artwork.folder(take) / SUBMISSION_FILE).read_text())
    assert manifest["exam_code"] == sitting.code and manifest["form"] == "artwork"
    assert [p["sha256"] for p in manifest["photos"]] == [first["sha256"], second["sha256"]]
    assert manifest["photos"][0]["width"] == 480 and manifest["photos"][0]["size"] == first["size"]
    (entry,) = await events(services, world.exam.id, "sitting_submitted")
    assert entry["data"]["photos"] == 2


async def test_the_end_of_the_photo_time_submits_the_take_with_its_photos(services, world):
    account, sitting = await artwork_sitting(services, world)
    take = await filmed(services, account, sitting)
    photo, _ = await services.artwork.add(account, take.id, png())
    due = await services.store.redis.zscore(services.store.keys.sittings_due(), sitting.id)
    assert due == pytest.approx(take.photos_until, abs=0.01) and due < sitting.deadline
    assert await services.sittings.expire_due(now=take.photos_until - 1) == []
    (ended,) = await services.sittings.expire_due(now=take.photos_until + 0.1)
    assert (ended.state, ended.submitted_take, ended.end_reason) == ("auto_submitted", take.id, "photo_limit")
    (entry,) = await events(services, world.exam.id, "sitting_auto_submitted")
    assert (entry["data"]["reason"], entry["data"]["photos"]) == ("photo_limit", 1)
    manifest = json.loads((services.artwork.folder(take) / SUBMISSION_FILE).read_text())
    assert [p["sha256"] for p in manifest["photos"]] == [photo["sha256"]]


async def test_a_new_take_within_the_photo_time_leaves_the_choice_to_the_deadline(services, world):
    account, sitting = await artwork_sitting(services, world)
    first = await filmed(services, account, sitting)
    second = await services.sittings.start_take(account, sitting.id, "device-aaaa-0001", "rear", "landscape")
    # the first take's photo time passes while the second records: nothing is submitted
    assert await services.sittings.expire_due(now=first.photos_until + 1) == []
    await services.sittings.take_ended(second.id, "failed", 0)
    assert await services.sittings.expire_due(now=first.photos_until + 2) == []
    # at the deadline the most recent complete take goes, with the photos it has (none here)
    (ended,) = await services.sittings.expire_due(now=sitting.deadline + 1)
    assert (ended.state, ended.submitted_take, ended.end_reason) == ("auto_submitted", first.id, "deadline")
    (entry,) = await events(services, world.exam.id, "sitting_auto_submitted")
    assert entry["data"]["photos"] == 0


async def test_the_photo_time_never_runs_past_the_deadline(services, world):
    now = time.time()
    account, sitting = await artwork_sitting(services, world, window_opens=now - 60, window_closes=now + 120)
    take = await filmed(services, account, sitting)
    assert take.photos_until == pytest.approx(sitting.deadline, abs=0.01)


async def test_the_photo_rules_are_checked_and_copied_at_entry(services, world):
    await refused(make_recorded(services, world, form="artwork", photos_min=4, photos_max=2), "artwork_photos_range")
    await refused(make_recorded(services, world, form="artwork", photos_max=21), "field_range")
    await refused(make_recorded(services, world, form="sculpture"), "subject_form_invalid")
    assert "作品创作" in message("subject_form_invalid")
    account, sitting = await artwork_sitting(services, world, photo_time_limit_min=5, photos_min=2, photos_max=4)
    assert (sitting.form, sitting.photo_time_limit_min, sitting.photos_min, sitting.photos_max) == ("artwork", 5, 2, 4)
    await make_recorded(services, world, form="artwork", photo_time_limit_min=30, photos_max=9)
    take = await filmed(services, account, sitting)
    assert take.photos_until == pytest.approx(take.ended_at + 300, abs=0.01)  # the 5 minutes agreed to


async def test_uploads_racing_the_submission_leave_the_files_and_the_listing_equal(services, world):
    """Photos arriving while the candidate submits: each is either listed (and in the submission) or gone."""
    account, sitting = await artwork_sitting(services, world, photos_max=3)
    take = await filmed(services, account, sitting)
    await services.artwork.add(account, take.id, png())
    results = await asyncio.gather(
        *(services.artwork.add(account, take.id, png(300 + i, 300)) for i in range(3)),
        services.sittings.submit(account, sitting.id, take.id),
        return_exceptions=True,
    )
    assert results[-1].state == "submitted", results
    listed = (await services.sittings.find_take(take.id)).photos
    on_disk = sorted(p.name for p in services.artwork.folder(take).glob("photo-*"))
    assert on_disk == sorted(f"photo-{p['id']}.jpg" for p in listed)
    manifest = json.loads((services.artwork.folder(take) / SUBMISSION_FILE).read_text())
    assert [p["sha256"] for p in manifest["photos"]] == [p["sha256"] for p in listed]
    refusals = {r.code for r in results[:-1] if isinstance(r, UserError)}
    assert refusals <= {"photo_sitting_over", "photo_too_many"}, results
