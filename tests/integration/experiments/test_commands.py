"""``omnikanal experiments ...`` over the hub's database."""

from typer.testing import CliRunner

from omnikanal.cli import app as cli
from tests.integration.commerce.conftest import Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture
from tests.integration.experiments.test_experiments import _assign, _experiment, _marketer, _till


def test_results_list_and_plan_print(shop: Shop, database_url: str) -> None:
    _experiment(shop, _marketer(shop))
    for person in ("c1", "c2", "c3", "c4"):
        _till(shop, person)
        _assign(shop, shop.web, user_id=person)
    runner = CliRunner()
    env = {"OMNIKANAL_DATABASE_URL": database_url, "COLUMNS": "240"}
    found = runner.invoke(cli, ["experiments", "results", "reminder-offer"], env=env)
    assert found.exit_code == 0, found.output
    assert "Free delivery against 10 % off" in found.output
    assert "conversion (primary)" in found.output
    assert "return_rate (guardrail)" in found.output
    assert "Sample ratio" in found.output
    listed = runner.invoke(cli, ["experiments", "list"], env=env)
    assert "reminder-offer" in listed.output
    missing = runner.invoke(cli, ["experiments", "results", "nope"], env=env)
    assert missing.exit_code == 1
    assert "No experiment 'nope'" in missing.output
    plan = runner.invoke(
        cli, ["experiments", "plan", "--baseline-rate", "0.05", "--minimum-effect", "0.2"], env=env
    )
    assert plan.exit_code == 0, plan.output
    assert "units per variant" in plan.output
    bad = runner.invoke(cli, ["experiments", "plan", "--minimum-effect", "0.2"], env=env)
    assert bad.exit_code == 1
