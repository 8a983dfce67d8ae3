from sqlalchemy import inspect

from betting_assets.warehouse import migrate
from betting_assets.warehouse.engine import make_engine
from betting_assets.warehouse.tables import metadata


def test_migrations_create_exactly_the_tables_and_downgrade_cleanly(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(metadata.tables)
    assert migrate.schema_diff(engine) == []
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set()
    migrate.upgrade(engine)
    assert migrate.schema_diff(engine) == []
    engine.dispose()
