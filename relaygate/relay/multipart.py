"""Just enough of multipart/form-data to relay an upload untouched: find (and swap) one text field.

The body is passed to the upstream as the client sent it; the gateway only needs the `model`
field, to authorise and bill the request, and to rename the model for a channel that maps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from relaygate.errors import BadRequest

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_FIELD_NAME = re.compile(rb'(?:^|[;\s])name="([^"]*)"', re.IGNORECASE)


@dataclass(frozen=True)
class FormField:
    value: str
    start: int  # where the value's bytes begin in the body
    end: int


def form_boundary(content_type: str) -> bytes:
    """The boundary of a multipart/form-data body, or 400 when the content type is not that."""
    match = _BOUNDARY.search(content_type) if content_type.lower().startswith("multipart/form-data") else None
    if match is None:
        raise BadRequest(
            "This route takes a multipart/form-data upload (Content-Type: multipart/form-data; boundary=...), "
            "with the audio in the 'file' part and the model in the 'model' part.",
            code="invalid_content_type",
        )
    return (match.group(1) or match.group(2)).encode("latin-1")


def find_form_field(body: bytes, boundary: bytes, name: str) -> FormField | None:
    """The text field `name` of a multipart body, with where its value lies, or None."""
    delimiter = b"--" + boundary
    wanted = name.encode()
    position = body.find(delimiter)
    while position >= 0:
        head_start = position + len(delimiter)
        if body[head_start : head_start + 2] == b"--":
            return None  # the closing delimiter
        head_end = body.find(b"\r\n\r\n", head_start)
        if head_end < 0:
            return None
        value_start = head_end + 4
        value_end = body.find(b"\r\n" + delimiter, value_start)
        if value_end < 0:
            return None
        disposition = _FIELD_NAME.search(body[head_start:head_end])
        if disposition is not None and disposition.group(1) == wanted:
            return FormField(body[value_start:value_end].decode("utf-8", "replace"), value_start, value_end)
        position = value_end + 2
    return None


def replace_field(body: bytes, field: FormField, value: str) -> bytes:
    return body[: field.start] + value.encode() + body[field.end :]
