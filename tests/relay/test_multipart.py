"""Finding the model in a multipart upload without parsing (or copying) the rest of it."""

from __future__ import annotations

import httpx
import pytest

from relaygate.errors import BadRequest
from relaygate.relay.multipart import find_form_field, form_boundary, replace_field


def encoded(data: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", data=data, files=files)
    return request.read(), request.headers["content-type"]


def test_the_model_is_found_after_a_file_whose_name_is_model_and_renamed_in_place() -> None:
    audio = b"--not-the-boundary\r\n" + bytes(range(256))
    body, content_type = encoded({"model": "whisper-large", "language": "en"}, {"file": ("model", audio, "audio/wav")})
    boundary = form_boundary(content_type)
    field = find_form_field(body, boundary, "model")
    assert field is not None
    assert field.value == "whisper-large"
    renamed = replace_field(body, field, "whisper-1")
    again = find_form_field(renamed, boundary, "model")
    assert again is not None
    assert again.value == "whisper-1"
    assert audio in renamed
    assert find_form_field(body, boundary, "prompt") is None


def test_a_quoted_boundary_is_understood() -> None:
    body = b'--a b\r\nContent-Disposition: form-data; name="model"\r\n\r\ngpt-4o-transcribe\r\n--a b--\r\n'
    field = find_form_field(body, form_boundary('multipart/form-data; boundary="a b"'), "model")
    assert field is not None
    assert field.value == "gpt-4o-transcribe"


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data", ""])
def test_a_body_that_is_not_multipart_is_refused(content_type: str) -> None:
    with pytest.raises(BadRequest) as refused:
        form_boundary(content_type)
    assert refused.value.code == "invalid_content_type"
