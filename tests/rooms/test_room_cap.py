"""A room's media takes no more participants than an interview has: one candidate, the candidate's
auxiliary cameras up to ``aux_max_devices`` (3), three examiners; joins that run at once cannot pass
the cap, and a participant already in the room reconnects whatever the count. Real aiortc peers
over loopback."""

from __future__ import annotations

import asyncio

import pytest

from server.rooms.interviews import Interviews, Participant, RoomFull

from .peers import Client

ROOM, EXAM = "room_000000000cap", "exam_000000000cap"


class Door:
    """What a client's page reaches the room through (the signaling layer, here called directly)."""

    def __init__(self, interviews: Interviews, account_of) -> None:
        self.interviews, self.account_of = interviews, account_of

    async def join(self, participant_id: str, kind: str, offer: str) -> str:
        participant = Participant(participant_id, kind, participant_id, self.account_of(participant_id))
        return await self.interviews.join(ROOM, EXAM, participant, offer)

    async def answer(self, participant_id: str, sdp: str) -> None:
        await self.interviews.answer(ROOM, participant_id, sdp)


@pytest.fixture
async def interviews(services, settings):
    made = Interviews(services.store, services.recordings, [], max_aux=settings.aux_max_devices)
    yield made
    await made.close()


@pytest.fixture
async def people(interviews):
    made: list[Client] = []

    def person(participant_id: str, kind: str, account: str | None = None) -> Client:
        door = Door(interviews, lambda pid: account or pid)
        client = Client(door, participant_id, kind, audio=kind != "aux")
        made.append(client)
        return client

    yield person
    for client in made:
        await client.close()


async def refused(client: Client) -> str:
    with pytest.raises(RoomFull) as caught:
        await client.join()
    return caught.value.code


async def test_the_room_takes_one_candidate_three_of_their_cameras_and_three_examiners(interviews, people, settings):
    assert settings.aux_max_devices == 3
    await people("acc_cand00000001", "candidate").join()
    for i in range(3):
        await people(f"exam{i}", "examiner").join()
    assert await refused(people("exam3", "examiner")) == "room_full_examiners"
    assert await refused(people("acc_cand00000002", "candidate")) == "room_full_candidate"

    # five cameras of the candidate at once: three get in
    cams = [people(f"aux_cam{i}", "aux", account="acc_cand00000001") for i in range(5)]
    results = await asyncio.gather(*(cam.join() for cam in cams), return_exceptions=True)
    assert sum(r is None for r in results) == 3
    assert sorted(r.code for r in results if isinstance(r, RoomFull)) == ["room_full_aux"] * 2
    assert sorted(interviews.rooms[ROOM].media.participants.values()) == ["aux"] * 3 + ["candidate"] + ["examiner"] * 3

    # someone already in the room reconnects (a second join replaces the connection)
    admitted = next(cam for cam, r in zip(cams, results, strict=True) if r is None)
    await admitted.join()
    assert len(interviews.rooms[ROOM].media.participants) == 7


async def test_a_camera_of_another_candidate_is_refused(interviews, people):
    await people("acc_cand00000001", "candidate").join()
    assert await refused(people("aux_stranger", "aux", account="acc_cand00000009")) == "room_full_aux"
