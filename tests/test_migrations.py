"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rollcal.extensions import db as _db


def test_migrated_schema_matches_the_models(app, db):
    # The test's own connection: on SQLite a second one would wait for its write lock.
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    differences = compare_metadata(context, _db.metadata)
    assert differences == []


def test_migrations_have_a_single_head(app):
    from alembic.script import ScriptDirectory

    from rollcal import resource_dir

    script = ScriptDirectory(str(resource_dir("migrations")))
    assert len(script.get_heads()) == 1
