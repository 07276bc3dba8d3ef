"""Errors of the request itself are the caller's (BAD_USER_INPUT), never masked as ours."""

from softbrik.testing import GraphQLClient


async def test_a_missing_variable_is_bad_user_input(gql: GraphQLClient, team_factory) -> None:
    team = await team_factory.sign_up()
    error = await gql.error(
        "mutation($id: ID!) { removeUser(userId: $id) { __typename } }", {}, team.admin.token
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$id" in error["message"]
