"""HTTP routes under /briks/filestorage/: downloads through signed links, public share links.

Both stream the decrypted content with flat memory and answer HTTP range requests
(`Range: bytes=a-b`, one range) with 206, decrypting only the segments that cover the range.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from softbrik.plugin import DomainError, Platform
from softbrik_filestorage import service

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.rt.extras["platform"]
    return platform


def _refused(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def stream(platform: Platform, download: service.Download, request: Request) -> Response:
    size = download.size
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(download.name)}",
        "ETag": f'"{download.sha256}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    start, end, status = 0, size, 200
    wanted = request.headers.get("range")
    if wanted:
        found = RANGE.match(wanted.strip())
        if found is None or found.groups() == ("", ""):
            return _refused(416, "Only one byte range (bytes=a-b) is supported.")
        first, last = found.groups()
        if first == "":
            start, end = max(size - int(last), 0), size
        else:
            start = int(first)
            end = min(int(last) + 1, size) if last else size
        if start >= size or start >= end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    ranged = status == 206

    async def body() -> AsyncIterator[bytes]:
        pieces = service.read_content(
            platform,
            download.team_id,
            download.blob,
            download.upload_id,
            start if ranged else 0,
            end if ranged else None,
        )
        async for piece in pieces:
            yield piece

    return StreamingResponse(
        body(), status_code=status, headers=headers, media_type=download.content_type
    )


async def download(request: Request) -> Response:
    platform = _platform(request)
    try:
        found = await service.open_download(platform, request.path_params["token"])
    except DomainError as exc:
        platform.audit(request, "download", team_id=None, user_id=None, error=exc.code)
        return _refused(404 if exc.code == "NOT_FOUND" else 403, exc.message)
    # R-SEC-3: the threat detection compares each user's downloads with their history.
    platform.audit(
        request, "download", team_id=found.team_id, user_id=found.user_id, size=found.size
    )
    return stream(platform, found, request)


STATUS = {"BAD_USER_INPUT": 400, "FORBIDDEN": 403, "NOT_FOUND": 404, "CONFLICT": 409}


async def chunk(request: Request) -> Response:
    """PUT one chunk of a resumable upload: the body is the chunk's bytes, streamed into its
    sealed blob as they arrive (no multipart parsing, no spooling)."""
    platform = _platform(request)
    try:
        actor, upload_id = await service.chunk_actor(platform, request.path_params["token"])
        index = request.path_params["index"]
        upload = await service.put_chunk(actor, upload_id, index, request.stream())
    except DomainError as exc:
        body = {"error": exc.message, "code": exc.code, **exc.extensions}
        if getattr(exc, "field", None):
            body["field"] = getattr(exc, "field", None)
        return JSONResponse(body, status_code=STATUS.get(exc.code, 400))
    return JSONResponse({"receivedChunks": await service.received_chunks(upload)})


async def share(request: Request) -> Response:
    """GET (password in `X-Share-Password`) or POST a form with `password`."""
    platform = _platform(request)
    password = request.headers.get("x-share-password")
    if request.method == "POST" and password is None:
        form: Any = await request.form()
        value = form.get("password")
        password = value if isinstance(value, str) else None
    try:
        found = await service.open_share(platform, request.path_params["token"], password)
    except service.ShareRefused as exc:
        return _refused(exc.status, exc.message)
    return stream(platform, found, request)


ROUTES = [
    Route("/download/{token}", download, methods=["GET"]),
    Route("/share/{token}", share, methods=["GET", "POST"]),
    Route("/upload/{token}/{index:int}", chunk, methods=["PUT"]),
]
