"""``omnikanal recommendations train|evaluate|models`` over the hub's database."""

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from omnikanal.cli import app as cli
from omnikanal.recommendations import evaluation
from omnikanal.recommendations.commands import evaluation_table
from omnikanal.recommendations.training import PURCHASE, Builder, Params
from tests.integration.commerce.conftest import Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture
from tests.integration.recommendations.test_api import people as people  # the fixture


def test_train_serves_a_model_and_evaluate_needs_history_before_the_holdout(
    shop: Shop, people: dict[str, str], database_url: str
) -> None:
    runner = CliRunner()
    env = {"OMNIKANAL_DATABASE_URL": database_url, "COLUMNS": "200"}
    trained = runner.invoke(cli, ["recommendations", "train"], env=env)
    assert trained.exit_code == 0, trained.output
    assert "model version 1 served: 14 people" in trained.output
    listed = runner.invoke(cli, ["recommendations", "models"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "active" in listed.output
    # Everything happened today: all of it is in the holdout, nothing trains.
    found = runner.invoke(cli, ["recommendations", "evaluate", "--holdout-days", "28"], env=env)
    assert found.exit_code == 1
    assert "nothing to evaluate: 14 buyers in the last 28 days and 0 interactions" in found.output


def test_the_evaluation_table_names_each_method_with_its_interval() -> None:
    built = Builder()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(30):
        for day, sku in enumerate(("A", "B", "C")):
            built.add(person=f"p{n}", sku=sku, kind=PURCHASE, at=start + timedelta(days=day))
        built.add(person=f"p{n}", sku="D", kind=PURCHASE, at=start + timedelta(days=60))
    found = evaluation.evaluate(
        built.build(), holdout_days=28, params=Params(factors=8, threads=1), samples=200
    )
    table = evaluation_table(found, holdout_days=28)
    assert [str(c.header) for c in table.columns][:3] == ["method", "MAP@12", "recall@12"]
    assert table.row_count == 4
    assert "30 buyers" in str(table.title)
