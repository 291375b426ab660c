from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from omnikanal.models import metadata


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    """The schema the migrations built (conftest) matches the models: no missing migration."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
