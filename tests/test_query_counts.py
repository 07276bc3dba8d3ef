"""SQL statements per request stay bounded whatever the list sizes (DESIGN.md, Performance)."""

TEAM = "{ team { name members { user { id email } seats { brik startsOn endsOn } removalOn } } }"


async def statements(gql, count_queries, token, query):
    with count_queries() as counter:
        await gql.ok(query, token=token)
    return counter.count


async def test_team_members_and_seats_cost_the_same_for_2_and_12_members(
    gql, team_factory, count_queries
):
    team = await team_factory.sign_up(["notes"])
    await team_factory.invite(team, ["notes"])
    small = await statements(gql, count_queries, team.admin.token, TEAM)
    for _ in range(10):
        await team_factory.invite(team, ["notes"])
    large = await statements(gql, count_queries, team.admin.token, TEAM)
    assert small == large
    assert large <= 3  # the session, the members, their seats


async def test_catalog_and_me_need_no_more_than_the_session(gql, team_factory, count_queries):
    team = await team_factory.sign_up()
    assert await statements(gql, count_queries, None, "{ briks { key } me { id } }") == 0
    assert (
        await statements(gql, count_queries, team.admin.token, "{ briks { key } me { id } }") == 1
    )
