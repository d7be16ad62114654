"""Fixtures for the media tests: a room whose server offers go to aiortc client peers."""

import pytest

from server.rooms import passthrough
from server.rooms.media import MediaRoom

from .peers import Client, Switchboard

passthrough.install()  # process-wide, as in the server: clients receive encoded packets too


@pytest.fixture
async def switchboard():
    board = Switchboard()
    yield board
    for client in list(board.clients.values()):
        await client.close()


@pytest.fixture
async def room(switchboard):
    media_room = MediaRoom("room-1", switchboard, ice_servers=[])
    yield media_room
    await media_room.close()


@pytest.fixture
def client(room, switchboard):
    """client(pid, kind, **options) -> a Client registered with the switchboard."""

    def make(participant_id, kind, **options):
        return switchboard.add(Client(room, participant_id, kind, **options))

    return make
