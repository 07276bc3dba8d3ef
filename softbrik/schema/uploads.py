"""The `Upload` scalar, strict: a file of a multipart request and nothing else (R-SEC-3).

Strawberry's own `Upload` passes any value through, so a string sent inline or as a JSON
variable reached resolvers that expect a file and failed as an internal error (found by the
fuzzer, tests/security/test_fuzz.py). Here such values are the caller's mistake.
"""

from typing import Any

from strawberry.file_uploads import Upload
from strawberry.types.scalar import ScalarDefinition, scalar

NOT_A_FILE = "An Upload must be a file sent with the GraphQL multipart request spec."


def parse_file(value: Any) -> Any:
    if not callable(getattr(value, "read", None)):
        raise ValueError(NOT_A_FILE)
    return value


def refuse_literal(node: Any, variables: Any = None) -> Any:
    raise ValueError(NOT_A_FILE)  # a file is never written into the query itself


STRICT_UPLOAD: ScalarDefinition = scalar(
    name="Upload",
    description="A file, sent with the GraphQL multipart request spec.",
    serialize=lambda value: value,
    parse_value=parse_file,
    parse_literal=refuse_literal,
)

SCALAR_OVERRIDES: dict[object, Any] = {Upload: STRICT_UPLOAD}
