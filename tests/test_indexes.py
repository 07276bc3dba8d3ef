"""Foreign keys that lists and deletions look rows up by have an index, after the migrations."""

import pytest
from tortoise import Tortoise

INDEXED = [
    ("user", "team_id"),
    ("seat", "user_id"),
    ("session", "user_id"),
    ("invitation", "team_id"),
    ("invoice_line", "invoice_id"),
    ("invoice", "team_id"),
    ("billing_account", "next_run_at"),
]


async def leading_columns(database, table: str) -> set[str]:
    conn = Tortoise.get_connection("default")
    if database.is_postgres:
        rows = await conn.execute_query_dict(
            "SELECT a.attname AS column FROM pg_index i "
            "JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] "
            "WHERE t.relname = $1",
            [table],
        )
        return {row["column"] for row in rows}
    columns = set()
    for index in await conn.execute_query_dict(f"PRAGMA index_list('{table}')"):
        info = await conn.execute_query_dict(f"PRAGMA index_info('{index['name']}')")
        first = min(info, key=lambda row: row["seqno"])
        columns.add(first["name"])
    return columns


@pytest.mark.parametrize(("table", "column"), INDEXED)
async def test_foreign_keys_are_indexed(softbrik_db, table, column):
    assert column in await leading_columns(softbrik_db, table)
