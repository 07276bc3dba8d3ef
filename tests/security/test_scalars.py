"""Values a scalar refuses are the caller's mistake (BAD_USER_INPUT), never an internal error.
An Upload takes only a file of a multipart request (found by tests/security/test_fuzz.py)."""

from softbrik.testing import GraphQLClient

UPLOAD = "mutation($file: Upload!) { filestorageUpload(file: $file) { id } }"


async def test_an_upload_given_inline_or_as_json_is_bad_input(gql: GraphQLClient, team_factory):
    team = await team_factory.sign_up(["filestorage"])
    inline = await gql.error(
        'mutation { filestorageUpload(file: "abc") { id } }', {}, team.admin.token
    )
    as_json = await gql.error(UPLOAD, {"file": "abc"}, team.admin.token)
    as_object = await gql.error(UPLOAD, {"file": {"filename": "a"}}, team.admin.token)
    for error in (inline, as_json, as_object):
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "multipart" in error["message"]
    files = await gql.ok("{ filestorage { files { id } } }", token=team.admin.token)
    assert files == {"filestorage": {"files": []}}


async def test_a_malformed_date_written_in_the_query_is_bad_input(gql: GraphQLClient):
    error = await gql.error('mutation { advanceTestClock(to: "the day after tomorrow") }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "the day after tomorrow" in error["message"]
