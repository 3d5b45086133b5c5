"""Two private ejabberd nodes in one cluster on this machine, sharing a PostgreSQL database:
people on either node talk, a node can go away, and a node with another cookie is refused.

The tests share one pair (module scope) and run in file order: the last one stops node 2."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from bots.cli import main
from bots.devserver import DevCluster, DevServer, DevServerError
from bots.testing import TestServer, new_state_dir
from tests.conftest import eventually
from tests.fresh_databases import fresh_postgres_database


@pytest.fixture(scope="module")
def cluster():
    with fresh_postgres_database("ejabberd") as url:
        pair = DevCluster(new_state_dir(), 2, sql=url)
        try:
            pair.start()
            yield pair
        finally:
            pair.stop()
            shutil.rmtree(pair.state_dir, ignore_errors=True)


def instances(cluster: DevCluster):
    return [node.load_instance() for node in cluster.nodes]


def test_both_nodes_see_the_cluster_and_the_cli_shows_both(cluster):
    first, second = cluster.nodes
    assert first.node.endswith("@127.0.0.1") and second.node.endswith("@127.0.0.2")
    assert sorted(first.cluster_members()) == sorted(second.cluster_members()) == sorted(
        [first.node, second.node])
    own = {(instance.ports["c2s"], instance.ports["component"], instance.ports["api"])
           for instance in instances(cluster)}
    assert len(own) == 2  # each node its own client, component and API ports
    assert first.cookie_file.read_text() == second.cookie_file.read_text()

    status = CliRunner().invoke(main, ["server", "status", "--state-dir", str(cluster.state_dir)])
    assert status.exit_code == 0, status.output
    assert f"{first.node}: running" in status.output
    assert f"{second.node}: running" in status.output


def test_a_node_with_another_cookie_is_refused_with_the_cause(cluster):
    first = cluster.nodes[0]
    stranger = DevServer(new_state_dir(), address="127.0.0.3", cookie="not-the-clusters")
    try:
        with pytest.raises(DevServerError, match=r"cannot join .*Erlang cookies differ"):
            stranger.start({"dist": instances(cluster)[0].ports["dist"]}, join=first)
    finally:
        stranger.stop()
        shutil.rmtree(stranger.state_dir, ignore_errors=True)
    assert stranger.node not in first.cluster_members()
    assert "Invalid challenge reply" in (first.logs / "error.log").read_text()


def test_a_cluster_without_postgresql_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["server", "start", "--cluster", "2",
                                       "--state-dir", str(tmp_path / "pair")])
    assert result.exit_code == 1
    assert "share their data in PostgreSQL: give --sql postgresql://" in result.output


async def test_people_on_both_nodes_talk_and_go_on_when_node_2_stops(cluster):
    first, second = cluster.nodes
    node_a, node_b = (TestServer(node, instance)
                      for node, instance in zip(cluster.nodes, instances(cluster)))
    bot_jid = f"bot@{node_a.domain}"
    bot_password = first.add_user("bot")
    customer_jid, customer_password = node_a.make_account("kunde")

    customer = await node_a.login(customer_jid, customer_password)
    bot = await node_b.login(bot_jid, bot_password)
    try:
        # node 1 learns of the bot's session and presence on node 2 a moment later; a message
        # sent before goes to offline storage, as for anyone offline
        api = node_a.instance.api()
        await eventually(lambda: api.call("get_presence", user="bot", host=node_a.domain)[
            "show"] != "unavailable", timeout=20)
        customer.say(bot_jid, "Ist mein Auto fertig?")
        assert (await bot.next_message(customer_jid))["body"] == "Ist mein Auto fertig?"
        bot.say(customer_jid, "Ja, seit 10 Uhr.")
        assert (await customer.next_message(bot_jid))["body"] == "Ja, seit 10 Uhr."

        assert second.stop()
        assert first.cluster_members() == [first.node]
        await bot.stop(wait=1)
        customer.say(bot_jid, "Danke!")  # the bot is offline now: kept for it

        bot = await node_a.login(bot_jid, bot_password)  # the bot comes back on node 1
        assert (await bot.next_message(customer_jid))["body"] == "Danke!"
        bot.say(customer_jid, "Gern.")
        assert (await customer.next_message(bot_jid))["body"] == "Gern."
    finally:
        await bot.stop(wait=1)
        await customer.stop(wait=1)
