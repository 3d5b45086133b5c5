"""The smallest plugin: answers `ping` with `pong`, to check that the bot is alive."""

from bots.plugin import Plugin, command


class Ping(Plugin):
    name = "ping"
    description = "Checks that the bot is alive."

    @command(help="check that I am alive (I answer pong)")
    def ping(self) -> str:
        return "pong"
