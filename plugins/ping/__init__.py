"""The smallest plugin: answers `ping` with `pong`, to check that the bot is alive."""

from bots.i18n import translator
from bots.plugin import Plugin, command

_ = translator(__name__)


class Ping(Plugin):
    name = "ping"
    description = "Checks that the bot is alive."

    @command(help=_("check that I am alive (I answer pong)"),
             examples={"en": ["are you there", "are you alive"],
                       "de": ["bist du da", "lebst du noch"]}, private=False)
    async def ping(self, ctx) -> str:
        return "pong"
