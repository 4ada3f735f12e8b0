"""revisions: values that change with the directory and the settings tables

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from usage.models import REVISED_TABLES, revision_ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revisions",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_revisions")),
    )
    for statement in revision_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, tables in REVISED_TABLES.items():
        for table in tables:
            if dialect == "postgresql":
                op.execute(f"DROP TRIGGER bump_{name}_{table} ON {table}")
            else:
                for action in ("insert", "update", "delete"):
                    op.execute(f"DROP TRIGGER bump_{name}_{table}_{action}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION bump_revision()")
    op.drop_table("revisions")
