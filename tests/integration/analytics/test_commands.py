"""``omnikanal analytics ...`` over the hub's database: the tables print the figures the
API gives for the same small history, and a bad step is refused naming the option."""

from typer.testing import CliRunner

from omnikanal.cli import app as cli
from tests.integration.analytics.test_analytics import history as history  # the fixture
from tests.integration.commerce.conftest import Shop
from tests.integration.commerce.conftest import shop as shop  # the fixture


def test_the_funnel_and_webrooming_print_their_tables(history: Shop, database_url: str) -> None:
    runner = CliRunner()
    env = {"OMNIKANAL_DATABASE_URL": database_url, "COLUMNS": "200"}
    found = runner.invoke(
        cli,
        ["analytics", "funnel", "--step", "Product Viewed@web", "--step", "order@pos~7d"],
        env=env,
    )
    assert found.exit_code == 0, found.output
    lines = found.output.splitlines()
    # Three people viewed online (the merged one once); two bought at a till within 7 days.
    assert any("1. Product Viewed on web" in line and " 3 " in line for line in lines)
    assert any("2. order on pos" in line and "66.7%" in line for line in lines)
    assert "largest drop before step 2: 1 people stalled" in found.output
    rooming = runner.invoke(cli, ["analytics", "webrooming"], env=env)
    assert rooming.exit_code == 0, rooming.output
    assert "Webrooming by all" in rooming.output
    assert "Showrooming by all" in rooming.output
    bad = runner.invoke(cli, ["analytics", "funnel", "--step", "@@"], env=env)
    assert bad.exit_code == 2
    assert "--step" in bad.output
