"""Several bot workers in component mode on one PostgreSQL database, through a real two-node
ejabberd cluster (its data in PostgreSQL too): 300 customers, half on each node, ask about their
items while 2,100 lessons fall due, and one worker is killed (kill -9) in the middle. Every
question is answered, and every lesson arrives, each under one origin-id, without a second copy
of any lesson being made.

A component connection has no acknowledgements (XEP-0114): a question ejabberd had already
handed to the killed worker's socket is gone with it, as a person would see it, so a customer
without an answer after a while asks once more; those repeats are counted and shown, and only
a handful may be needed. Lessons the killed worker had in flight are sent again by the others
once its lease ran out ([outbox] lease, short here): a client may see a copy, with the same
origin-id, which is how it recognises one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bots.app import schemas
from bots.devserver import DevCluster
from bots.storage import Storage
from bots.testing import BOTSCHAFT, TestServer, component_environment, new_state_dir, services_over
from plugins.lessons import Lessons
from plugins.lessons.classroom import JOB
from plugins.lessons.course import load_courses
from plugins.lessons.models import Course, Delivery, Subscription
from plugins.status import Status
from bots.scheduler import Schedule
from bots.outbox import DONE, OutboxMessage
from tests.fresh_databases import fresh_postgres_database

CUSTOMERS, COURSES, WORKERS, QUESTIONS = 300, 7, 3, 3  # 2,100 lessons, 900 questions
SPREAD = 8  # seconds over which the lessons fall due
PATIENCE = 15  # seconds a customer waits for an answer before asking again
COURSE = """id: {slug}
title: Kurs {number}
language: de
lessons:
  - id: eins
    title: Begrüßen {number}
    text: „Guten Morgen“ sagt man bis etwa 11 Uhr, danach „Guten Tag“.
"""


def fill(url: str, folder, customers: list[str]) -> list[str]:
    """Courses, subscriptions (every customer to every course, planned for tomorrow), and an
    item per customer that they claimed; returns the items' refs."""
    lessons, status = Lessons(), Status()
    storage = Storage(url)
    try:
        storage.migrate(schemas([lessons, status]))
        services = services_over(storage, [lessons, status], BOT_LANGUAGE="en")
        classroom = lessons.make_classroom(services)
        for course in load_courses(folder):
            classroom.import_course(course)
        courses = [course.id for course in Course.select(Course.id)]
        tomorrow = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
        with storage.db.atomic():
            Subscription.insert_many(
                [(jid, course, "active", "07:30", "Europe/Berlin", "de")
                 for course in courses for jid in customers],
                fields=[Subscription.jid, Subscription.course, Subscription.state,
                        Subscription.time, Subscription.timezone,
                        Subscription.language]).execute()
            Schedule.insert_many(
                [(JOB, f"subscription:{row.id}", tomorrow, "07:30", "Europe/Berlin")
                 for row in Subscription.select(Subscription.id)],
                fields=[Schedule.job, Schedule.key, Schedule.next_due_at, Schedule.daily_at,
                        Schedule.timezone]).execute()
        book = status.make_book(services)
        refs = []
        for number, jid in enumerate(customers):
            item = book.create(f"W{number:04d}", "vehicle")
            book.claim(jid, item.ref, item.code, "en")
            refs.append(item.ref)
        return refs
    finally:
        storage.close()


def fall_due(url: str) -> None:
    """Every lesson falls due within the next SPREAD seconds, one after another."""
    storage = Storage(url)
    try:
        storage.migrate(schemas([Lessons()]))
        rows = [row.id for row in Schedule.select(Schedule.id).where(Schedule.job == JOB)
                .order_by(Schedule.id)]
        now = datetime.now(UTC).replace(tzinfo=None)
        with storage.db.atomic():
            for index, row in enumerate(rows):
                Schedule.update(next_due_at=now + timedelta(seconds=SPREAD * index / len(rows))
                                ).where(Schedule.id == row).execute()
    finally:
        storage.close()


class Customer:
    """A customer's client that asks about their item and keeps the lessons it gets (from
    the client's inbox, which holds everything since it logged in)."""

    def __init__(self, client, bot: str, ref: str):
        self.client, self.bot, self.ref = client, bot, ref
        self.lessons: Counter = Counter()  # origin-id → copies
        self.answers = 0
        self.repeats = 0
        self._answered = asyncio.Event()
        self.reading = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.client.inbox.get()
            if message["from"].bare != self.bot or message["type"] == "error":
                continue
            origin = message.xml.find("{urn:xmpp:sid:0}origin-id")
            if origin is not None:
                self.lessons[origin.get("id")] += 1
            elif self.ref in message["body"]:
                self._answered.set()

    async def ask_all(self, questions: int) -> None:
        for _question in range(questions):
            while True:
                self._answered.clear()
                self.client.say(self.bot, f"status {self.ref}")
                try:
                    await asyncio.wait_for(self._answered.wait(), PATIENCE)
                    break
                except TimeoutError:
                    self.repeats += 1
            self.answers += 1


@pytest.fixture
def pair():
    """Two ejabberd nodes in one cluster, their data in a PostgreSQL database of their own."""
    with fresh_postgres_database("ejabberd") as url:
        cluster = DevCluster(new_state_dir(), 2, sql=url)
        try:
            yield [TestServer(node, instance) for node, instance in zip(cluster.nodes,
                                                                         cluster.start())]
        finally:
            cluster.stop()
            shutil.rmtree(cluster.state_dir, ignore_errors=True)


@pytest.mark.timeout(480)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_three_workers_answer_everyone_and_deliver_every_lesson_through_a_kill_9(
        database_url, pair, tmp_path):
    instance = pair[0].instance
    api = pair[0].devserver.api(instance)
    passwords = {f"w{number}-{os.getpid()}": os.urandom(9).hex() for number in range(CUSTOMERS)}
    with ThreadPoolExecutor(8) as registering:  # each call waits for ejabberd's database
        list(registering.map(lambda user: api.register(user, instance.domain, passwords[user]),
                             passwords))
    jids = [f"{user}@{instance.domain}" for user in passwords]
    folder = tmp_path / "courses"
    folder.mkdir()
    for number in range(COURSES):
        (folder / f"k{number}.yaml").write_text(COURSE.format(slug=f"k{number}", number=number),
                                                encoding="utf-8")
    refs = fill(database_url, folder, jids)

    # the first worker on node 1, the others on node 2; the first is the one killed
    workers = [subprocess.Popen(
        [BOTSCHAFT, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=component_environment(pair[min(number, 1)].instance, database_url, WEB_LISTEN="",
                                  OUTBOX_LEASE="10", PLUGINS_LESSONS_COURSES=str(folder),
                                  BOT_LANGUAGE="en")) for number in range(WORKERS)]
    clients, customers = [], []
    try:
        logins = asyncio.Semaphore(50)

        async def login(number: int, jid: str):
            async with logins:  # half of the customers on each node
                return await pair[number % 2].login(jid, passwords[jid.split("@")[0]],
                                                    timeout=60)
        clients = await asyncio.gather(*(login(number, jid) for number, jid in enumerate(jids)))
        bot = f"bot.{instance.domain}"
        customers = [Customer(client, bot, ref) for client, ref in zip(clients, refs)]
        asking = asyncio.gather(*(customer.ask_all(QUESTIONS) for customer in customers))
        await asyncio.to_thread(fall_due, database_url)

        expected = CUSTOMERS * COURSES
        received = lambda: sum(len(customer.lessons) for customer in customers)  # noqa: E731
        deadline = time.monotonic() + 120
        while received() < expected // 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)  # mid-run: lessons and questions in flight
        killed_at = received()

        await asyncio.wait_for(asking, 240)
        deadline = time.monotonic() + 120
        while received() < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

        repeats = sum(customer.repeats for customer in customers)
        copies = sum(count - 1 for customer in customers
                     for count in customer.lessons.values())
        print(f"\nlessons received {received()} of {expected} (kill after {killed_at}), "
              f"copies {copies}; questions {CUSTOMERS * QUESTIONS}, asked again {repeats}")
        assert all(customer.answers == QUESTIONS for customer in customers)
        assert received() == expected
        assert repeats <= CUSTOMERS * QUESTIONS // 100  # the few in the killed socket
        storage = Storage(database_url)
        try:
            storage.migrate(schemas([Lessons(), Status()]))
            assert Delivery.select().count() == expected  # one lesson made per subscription
            assert {row.state for row in OutboxMessage.select(OutboxMessage.state)} == {DONE}
        finally:
            storage.close()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)
        for customer in customers:
            customer.reading.cancel()
        await asyncio.gather(*(client.stop(wait=1) for client in clients))
