"""The smallest plugin: answers `ping` with `pong`, to check that the bot is alive, and repeats
a text with `echo`, to check that it arrives unchanged (emoji, right-to-left, <&>)."""

from bots.i18n import translator
from bots.plugin import Plugin, command

_ = translator(__name__)


class Ping(Plugin):
    name = "ping"
    description = "Checks that the bot is alive and that texts arrive unchanged."

    @command(help=_("check that I am alive (I answer pong)"),
             examples={"en": ["are you there", "are you alive"],
                       "de": ["bist du da", "lebst du noch"]}, private=False)
    async def ping(self, ctx) -> str:
        return "pong"

    @command(help=_("I repeat your text, to check that it arrives unchanged"),
             aliases={"de": ["wiederhole"]}, arguments={"text": _("text")}, private=False)
    def echo(self, ctx, text: str) -> str:
        """A plain def, as most plugin authors write their first command: it runs on a
        handler thread (bench/roundtrip.py measures that path against a bare echo bot)."""
        return text
