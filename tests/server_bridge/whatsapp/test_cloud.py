"""The Cloud API client against the fake over real HTTP: a text is taken and gets a wamid;
each of Meta's errors is told apart into "try again later" and "never"."""

from __future__ import annotations

import pytest

from server_bridge.whatsapp.cloud import Cloud, CloudError

from .conftest import TOKEN


@pytest.fixture
async def client(cloud):
    made = Cloud(cloud.base_url, cloud.version, cloud.phone_number_id, TOKEN, timeout=5)
    yield made
    await made.close()


async def test_a_text_is_taken_with_the_bearer_token_and_gets_a_wamid(cloud, client):
    wamid = await client.send_text("4917612345678", "Ihr Auto ist fertig.")
    assert wamid.startswith("wamid.")
    assert cloud.texts_to("4917612345678") == ["Ihr Auto ist fertig."]


@pytest.mark.parametrize("code, http_status, retry", [
    (131000, None, True), (130429, None, True), (131056, None, True), (80007, None, True),
    (130429, 429, True), (100, 503, True), (131047, None, False), (100, None, False),
    (190, None, False)])
async def test_meta_s_errors_say_whether_a_retry_may_succeed(cloud, client, code, http_status,
                                                             retry):
    cloud.fail_next(code, http_status=http_status)
    with pytest.raises(CloudError) as refused:
        await client.send_text("4917612345678", "Hallo")
    assert (refused.value.code, refused.value.retry) == (code, retry)
    assert cloud.texts_to("4917612345678") == []


async def test_a_wrong_token_is_refused_for_good(cloud):
    wrong = Cloud(cloud.base_url, cloud.version, cloud.phone_number_id, "not-the-token", timeout=5)
    with pytest.raises(CloudError) as refused:
        await wrong.send_text("4917612345678", "Hallo")
    await wrong.close()
    assert (refused.value.code, refused.value.http_status, refused.value.retry) == (190, 401, False)


async def test_no_answer_at_all_means_try_again(cloud):
    gone = Cloud("http://127.0.0.1:9", cloud.version, cloud.phone_number_id, TOKEN, timeout=5)
    with pytest.raises(CloudError) as refused:
        await gone.send_text("4917612345678", "Hallo")
    await gone.close()
    assert refused.value.retry and refused.value.code is None
