"""Turns the text of an incoming message into a command call and the reply to send back."""

from __future__ import annotations

import logging

from bots.plugin import Command, Plugin

log = logging.getLogger(__name__)


class Dispatcher:
    """Finds the command for a message's first word and calls it; `help` is built in."""

    def __init__(self, plugins: list[Plugin]):
        self.commands: dict[str, Command] = {}
        for plugin in plugins:
            for command in plugin.commands():
                if command.name in self.commands or command.name == "help":
                    log.error("plugin %r: command %r is already taken; ignored", plugin.name,
                              command.name)
                    continue
                self.commands[command.name] = command

    def reply_to(self, text: str) -> str:
        word = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
        if word == "help":
            return self.help()
        command = self.commands.get(word)
        if command is None:
            return "Sorry, I don't know that. " + self.help()
        try:
            return command.handler()
        except Exception:
            log.exception("command %r failed", command.name)
            return "Sorry, something went wrong on my side. Please try again later."

    def help(self) -> str:
        lines = ["I understand these commands:"]
        lines += [f"• {name} — {self.commands[name].help}" for name in sorted(self.commands)]
        lines.append("• help — this list")
        return "\n".join(lines)
