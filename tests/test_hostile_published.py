"""The hostile neighbour against a server that publishes phones' files (HOTDESK_PUBLISH_DIR): repeat
fetches are answered from the published copy by a middleware that checks credentials itself
(hotdesk.web.published_answers), so every attack on the copy is tried again here."""

from __future__ import annotations

import pytest

from tests.conftest import PROVISIONING
from tests.hostile import (
    ATTACKER,
    VICTIM_BRANDS,
    Digest,
    assert_unharmed,
    build_office,
    device_files,
    victim,
)


@pytest.fixture
def app(publishing_app):
    return publishing_app


@pytest.fixture
def office(app, client, session, notifier):
    office = build_office(app, client, session, notifier)
    for v in office.victims:
        v.phone.boot()  # the repeat fetch: now published, and answered from the copy from here on
    return office


@pytest.mark.parametrize("brand", VICTIM_BRANDS)
def test_the_published_copy_of_a_victims_file_is_not_answered_to_the_shared_credentials(office, client, brand):
    target = victim(office, brand)
    digest = Digest(client, *PROVISIONING, ip=ATTACKER)
    answers = []
    for agent in (target.phone.user_agent, target.phone.browser_user_agent or target.phone.user_agent):
        for name in device_files(target):
            for path in (f"/provision/{name}", f"/fast/{target.mac}/{'0' * 32}/{name}"):
                response = client.get(
                    path, headers={"User-Agent": agent}, auth=PROVISIONING, environ_base={"REMOTE_ADDR": ATTACKER}
                )
                answers += [(f"basic {path}", response), (f"digest {path}", digest.get(path, agent))]
    assert_unharmed(office, answers)


def test_a_captured_digest_answer_is_not_replayed_from_the_published_copy(office, client):
    target = victim(office, "yealink")
    path = f"/provision/{target.mac}.cfg"
    own = Digest(client, *target.phone.credentials, ip=target.phone.ip)
    for _ in range(2):  # the second is answered from the copy
        first = own.get(path, target.phone.user_agent)
        assert first.status_code == 200 and target.secret.encode() in first.data
    replay = client.get(
        path,
        headers={"User-Agent": target.phone.user_agent, "Authorization": own.last_authorization},
        environ_base={"REMOTE_ADDR": ATTACKER},
    )
    assert replay.status_code == 401, "the published copy answered a captured Digest answer a second time"
    assert_unharmed(office, [("replay", replay)])
