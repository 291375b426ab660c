"""``omnikanal recommendations train|evaluate|models``."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from omnikanal.config import Settings
from omnikanal.db import make_engine, make_session_factory
from omnikanal.recommendations import evaluation, history, service
from omnikanal.recommendations.evaluation import Evaluation
from omnikanal.uow import unit_of_work

recommendations_app = typer.Typer(
    help="Recommendations from every channel's history: train a model, evaluate it.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)

STEPS = {
    "history": "reading the history",
    "fit": "fitting ALS",
    "people": "ranking for each person",
    "related": "what goes with each SKU",
    "store": "storing the model",
}


@contextmanager
def progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback ``(step, done, total)`` drawing one bar per step."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:>9,.0f} / {task.total:,.0f}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def told(step: str, done: int, total: int) -> None:
            task = tasks.get(step)
            if task is None:
                task = tasks[step] = progress.add_task(STEPS.get(step, step), total=total)
            progress.update(task, completed=done, total=max(total, 1))

        yield told


def train() -> None:
    """Train a model on the whole history (every channel) and serve it at once."""
    settings = Settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()), settings=settings)
    with progress_bar() as told, unit_of_work(factory) as session:
        model = service.train(session, progress=told)
    if model is None:
        console.print("nothing to learn from yet: no purchase and no product event")
        return
    console.print(
        f"model version {model.version} served: {model.people:,} people, "
        f"{model.items:,} SKUs, {model.interactions:,} interactions, "
        f"trained in {model.seconds:.1f} s"
    )


def _diff(value: float, low: float, high: float) -> str:
    return f"{value:+.4f} [{low:+.4f}, {high:+.4f}]"


def evaluation_table(found: Evaluation, *, holdout_days: int) -> Table:
    cutoff = found.cutoff.date().isoformat() if found.cutoff else "–"
    table = Table(
        title=f"{holdout_days}-day holdout from {cutoff}: {found.buyers:,} buyers, "
        f"{found.train_interactions:,} training interactions (95 % paired bootstrap "
        "intervals of the difference to the first row)"
    )
    for index, column in enumerate(
        ("method", "MAP@12", "recall@12", "Δ MAP@12 [95 % CI]", "Δ recall@12 [95 % CI]")
    ):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in found.rows:
        first = row.method == evaluation.METHODS[0]
        table.add_row(
            row.method,
            f"{row.map_at_k:.4f}",
            f"{row.recall_at_k:.4f}",
            "–" if first else _diff(row.map_diff, row.map_low, row.map_high),
            "–" if first else _diff(row.recall_diff, row.recall_low, row.recall_high),
        )
    return table


def evaluate(
    holdout_days: Annotated[
        int, typer.Option("--holdout-days", min=1, help="Days at the end held out.")
    ] = 28,
    samples: Annotated[
        int, typer.Option("--samples", min=100, help="Bootstrap resamples.")
    ] = evaluation.BOOTSTRAP,
) -> None:
    """Train on all but the last days and score each method on what was bought in them:
    MAP@12 and recall@12 with paired bootstrap 95 % intervals (nothing is stored)."""
    settings = Settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()), settings=settings)
    with progress_bar() as told:
        with factory() as session:
            interactions = history.read(session)
            params = service.params_of(session)
        found = evaluation.evaluate(
            interactions, holdout_days=holdout_days, params=params, samples=samples, progress=told
        )
    if not found.rows:
        console.print(
            f"nothing to evaluate: {found.buyers} buyers in the last {holdout_days} days and "
            f"{found.train_interactions} interactions before them"
        )
        raise typer.Exit(1)
    console.print(evaluation_table(found, holdout_days=holdout_days))


def models() -> None:
    """The stored model versions, newest first."""
    settings = Settings()
    factory = make_session_factory(make_engine(settings.resolved_database_url()), settings=settings)
    table = Table(title="recommendation models")
    for column in ("version", "status", "trained at", "people", "SKUs", "interactions", "s"):
        table.add_column(column)
    with factory() as session:
        for model in service.models(session):
            table.add_row(
                str(model.version),
                model.status,
                model.trained_at.isoformat(timespec="seconds"),
                f"{model.people:,}",
                f"{model.items:,}",
                f"{model.interactions:,}",
                f"{model.seconds:.1f}",
            )
    console.print(table)


def register(wrap: Callable[[Callable[..., None]], Callable[..., None]]) -> None:
    """The commands, each wrapped by the command line's error handling."""
    recommendations_app.command("train")(wrap(train))
    recommendations_app.command("evaluate")(wrap(evaluate))
    recommendations_app.command("models")(wrap(models))
