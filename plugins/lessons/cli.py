"""`botschaft lessons …`: validate and import course files, figures for trainers."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from bots import audit
from bots.cli import plugin_database
from plugins.lessons.classroom import LessonsError
from plugins.lessons.course import CourseError, load_courses
from plugins.lessons.stats import chart, course_stats


@contextlib.contextmanager
def _classroom():
    with plugin_database("lessons") as (plugin, bot):
        yield plugin.make_classroom(bot)


def _checked(path: Path):
    try:
        return load_courses(path)
    except CourseError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{len(error.problems)} problem(s); nothing imported"
                                   ) from None


def lessons_cli() -> click.Group:
    @click.group("lessons")
    def group() -> None:
        """Courses for the daily lessons (the lessons plugin)."""

    @group.command("validate")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    def validate(path: Path) -> None:
        """Check a course file (or a folder of them); every problem with file and line."""
        for course in _checked(path):
            quizzes = sum(1 for lesson in course.lessons if lesson.quiz)
            click.echo(f"{course.source}: {course.id} ({course.title}) is fine: "
                       f"{len(course.lessons)} lessons, {quizzes} quizzes")

    @group.command("import")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    def import_courses(path: Path) -> None:
        """Import (or update) courses; learners keep their progress (lessons match by id)."""
        courses = _checked(path)
        with _classroom() as classroom:
            for course in courses:
                result = classroom.import_course(course)
                audit.record(audit.admin(), "lessons.import", result.course, new=result.created,
                             updated=result.updated, retired=result.retired)
                click.echo(f"{result.course}: {result.created} new, {result.updated} updated, "
                           f"{result.retired} retired lessons")

    @group.command("stats")
    @click.argument("course")
    @click.option("--png", type=click.Path(dir_okay=False, path_type=Path),
                  help="Also draw progress per lesson into this PNG file.")
    def stats(course: str, png: Path | None) -> None:
        """Learners, progress per lesson, quiz results and drop-outs of COURSE."""
        with _classroom() as classroom:
            try:
                figures = course_stats(classroom.course(course))
            except LessonsError as error:
                raise click.ClickException(error.render("en")) from None
        states = figures.by_state
        click.echo(f"{figures.course.title} ({figures.course.slug}): {figures.subscribers} "
                   f"learners — active {states['active']}, paused {states['paused']}, "
                   f"finished {states['finished']}, dropped out {states['stopped']}")
        click.echo(f"{'#':>3}  {'lesson':<24} {'reached':>8} {'quiz right':>11}")
        for lesson in figures.lessons:
            quiz = f"{lesson.right}/{lesson.answered}" if lesson.answered else "–"
            click.echo(f"{lesson.position:>3}  {lesson.slug:<24} {lesson.reached:>8} {quiz:>11}")
        if png:
            chart(figures, png)
            click.echo(f"chart written to {png}")

    return group
