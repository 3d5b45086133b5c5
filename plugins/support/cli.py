"""`botschaft support …`: check a knowledge file before it goes live, and the desk's figures."""

from __future__ import annotations

from pathlib import Path

import click

from bots.cli import plugin_database
from plugins.support.knowledge import KnowledgeError, load
from plugins.support.stats import chart, daily, table


def support_cli() -> click.Group:
    @click.group("support")
    def group() -> None:
        """The support desk (the support plugin)."""

    @group.command("validate")
    @click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
    def validate(path: Path) -> None:
        """Check a knowledge file: every problem with its line. The running bot reads the
        file again when it changes, and keeps the last good one if it has errors."""
        try:
            knowledge = load(path)
        except KnowledgeError as error:
            for problem in error.problems:
                click.echo(problem, err=True)
            raise click.ClickException(f"{len(error.problems)} problem(s); the file was not "
                                       "taken") from None
        phrases = sum(len(phrases) for entry in knowledge.entries
                      for phrases in entry.questions.values())
        click.echo(f"{path}: fine, {len(knowledge.entries)} answers to {phrases} questions.")

    @group.command("stats")
    @click.option("--days", type=click.IntRange(min=1, max=366), default=14, show_default=True)
    @click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="Also draw the figures as a PNG to this file.")
    def stats(days: int, chart_path: Path | None) -> None:
        """Per day (UTC): conversations handed to people, waiting time p50/p90, questions
        answered by the bot and by people, the average rating."""
        with plugin_database("support"):
            figures = daily(days)
        click.echo(table(figures))
        if chart_path is None:
            return
        try:
            chart(figures, chart_path)
        except ImportError:
            raise click.ClickException("matplotlib is not installed, so there is no chart; "
                                       "the table above has the same figures") from None
        click.echo(f"Chart: {chart_path}")

    return group
