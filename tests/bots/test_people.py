"""Roles from the config (JIDs and whole domains) and the order they grant rights in."""

import pytest

from bots.people import JidMatcher, People, role_allows


def people(**lists) -> People:
    return People(lists.get("admins", []), lists.get("staff", []), lists.get("bots", []),
                  "de", storage=None)


@pytest.mark.parametrize("jid, role", [
    ("boss@example.com", "admin"), ("BOSS@Example.com", "admin"),
    ("mechanic@werkstatt.example", "staff"), ("anyone@werkstatt.example", "staff"),
    ("customer@gmail.example", "customer"), ("werkstatt.example@evil.example", "customer"),
    # a resource or a room nick is chosen by the writer: it never grants a role
    ("eve@gmail.example/eve@werkstatt.example", "customer"),
    ("room@conference.example/mallory@werkstatt.example", "customer"),
    ("room@conference.example/boss@example.com", "customer"),
    ("boss@example.com/phone", "admin"),
    ("werkstatt.example", "customer"), ("x@sub.werkstatt.example", "customer"),
])
def test_roles_come_from_jids_and_domains(jid, role):
    directory = people(admins=["boss@example.com"], staff=["@werkstatt.example"])
    assert directory.role_of(jid) == role


@pytest.mark.parametrize("role, needed, allowed", [
    ("admin", "staff", True), ("staff", "staff", True), ("customer", "staff", False),
    ("staff", "admin", False), ("customer", "customer", True),
])
def test_each_role_may_what_the_ones_below_it_may(role, needed, allowed):
    assert role_allows(role, needed) is allowed


def test_a_domain_entry_can_be_written_with_a_star():
    assert "x@bots.example" in JidMatcher(["*@bots.example"])
    assert "x@notbots.example" not in JidMatcher(["*@bots.example"])
