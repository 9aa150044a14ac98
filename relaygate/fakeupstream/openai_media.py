"""The OpenAI media and moderation routes of the fake upstream, each answered deterministically.

Counting rules (a contract, like those in `behaviour`):

- `/v1/images/generations`: `n` images (default 1), as `url`s or as `b64_json` of `FAKE_IMAGE`;
  models named `gpt-image-*` also report usage: the prompt's words as input, `IMAGE_TOKENS` per image as output.
- `/v1/audio/speech`: the bytes `FAKE_AUDIO_PREFIX` + the input text, as `audio/mpeg` (or the
  `response_format`'s type); no usage.
- `/v1/audio/transcriptions`: the text `transcription_text(size)` of a `file` of `size` bytes; models
  named `gpt-4o*` report token usage (`transcription_usage`), others `{"type": "duration"}` usage;
  `response_format=text` answers the plain text; `stream=true` streams `transcript.text.delta` per word
  and `transcript.text.done` (with the token usage of `gpt-4o*` models).
- `/v1/moderations`: nothing is flagged; usage is the input's words (none under `no-usage`).
"""

from __future__ import annotations

import base64
import dataclasses
import time
from typing import Any

import orjson
from aiohttp import web

from relaygate.fakeupstream.admission import FakeUpstream, JSONObject, json_answer, stream_events
from relaygate.fakeupstream.behaviour import UpstreamBehaviour, count_words, invalid_request, prompt_texts
from relaygate.fakeupstream.openai import OPENAI

FAKE_IMAGE = b"\x89PNG\r\n\x1a\nfake-image"
FAKE_AUDIO_PREFIX = b"FAKE-AUDIO:"
IMAGE_TOKENS = 100
AUDIO_BYTES_PER_TOKEN = 10
AUDIO_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac", "wav": "audio/wav"}
MODERATION_CATEGORIES = ("harassment", "hate", "self-harm", "sexual", "violence")


def image_usage(request: JSONObject) -> tuple[int, int]:
    """(input_tokens, output_tokens) a `gpt-image-*` model reports."""
    return count_words(str(request.get("prompt", ""))), IMAGE_TOKENS * int(request.get("n") or 1)


def transcription_text(size: int) -> str:
    return f"fake transcription of {size} bytes"


def transcription_usage(size: int) -> tuple[int, int]:
    """(input_tokens, output_tokens) a `gpt-4o*` transcription model reports for `size` bytes of audio."""
    return size // AUDIO_BYTES_PER_TOKEN + 1, count_words(transcription_text(size))


def moderation_tokens(request: JSONObject) -> int:
    return sum(count_words(text) for text in prompt_texts(request.get("input"), param="input"))


class MediaAnswers:
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    async def images(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.StreamResponse:
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            raise invalid_request("'prompt' is required", param="prompt")
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 10:
            raise invalid_request("'n' must be between 1 and 10", param="n")
        if body.get("response_format") == "b64_json" or str(body["model"]).startswith("gpt-image"):
            data: list[JSONObject] = [{"b64_json": base64.b64encode(FAKE_IMAGE).decode()} for _ in range(n)]
        else:
            data = [{"url": f"https://fake-upstream.invalid/{self.upstream.next_id('img')}.png"} for _ in range(n)]
        answer: JSONObject = {"created": int(time.time()), "data": data}
        if str(body["model"]).startswith("gpt-image") and not behaviour.no_usage:
            prompt, output = image_usage(body)
            answer["usage"] = token_usage_object(prompt, output)
        return json_answer(answer)

    async def speech(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.StreamResponse:
        text = body.get("input")
        if not isinstance(text, str) or not text:
            raise invalid_request("'input' is required", param="input")
        content_type = AUDIO_TYPES.get(str(body.get("response_format") or "mp3"), "audio/mpeg")
        return web.Response(body=FAKE_AUDIO_PREFIX + text.encode(), headers={"Content-Type": content_type})

    async def transcriptions(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        form = await request.post()
        upload, model = form.get("file"), form.get("model")
        if not isinstance(upload, web.FileField):
            raise invalid_request("'file' is required: upload the audio as a file part", param="file")
        if not isinstance(model, str) or not model:
            raise invalid_request("you must provide a model parameter", param="model", code="missing_model")
        size = len(upload.file.read())
        text = transcription_text(size)
        self.upstream.request_log.append({"path": request.path, "form": {"model": model, "file_bytes": size}})
        if form.get("response_format") == "text":
            return web.Response(text=text, content_type="text/plain")
        usage: dict[str, Any] | None = None
        if not behaviour.no_usage and model.startswith("gpt-4o"):
            audio, output = transcription_usage(size)
            usage = token_usage_object(audio, output) | {"type": "tokens"}
            usage["input_token_details"] = {"text_tokens": 0, "audio_tokens": audio}
        elif not behaviour.no_usage and form.get("stream") != "true":
            usage = {"type": "duration", "seconds": max(1, size // 1000)}
        if form.get("stream") == "true":
            return await stream_events(request, transcription_events(text, usage), behaviour)
        return json_answer({"text": text} | ({"usage": usage} if usage is not None else {}))

    async def moderations(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        texts = prompt_texts(body.get("input"), param="input")
        result = {
            "flagged": False,
            "categories": dict.fromkeys(MODERATION_CATEGORIES, False),
            "category_scores": dict.fromkeys(MODERATION_CATEGORIES, 0.0),
        }
        model = body.get("model") or "omni-moderation-latest"
        answer: JSONObject = {"id": self.upstream.next_id("modr"), "model": model, "results": [result] * len(texts)}
        if not behaviour.no_usage:
            tokens = moderation_tokens(body)
            answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return json_answer(answer)


def transcription_events(text: str, usage: JSONObject | None) -> list[bytes]:
    """A streamed transcription: one `transcript.text.delta` per word, then `transcript.text.done`."""
    words = text.split(" ")
    deltas = [{"type": "transcript.text.delta", "delta": word + " "} for word in words[:-1]]
    deltas.append({"type": "transcript.text.delta", "delta": words[-1]})
    done: JSONObject = {"type": "transcript.text.done", "text": text}
    if usage is not None:
        done["usage"] = usage
    return [b"data: " + orjson.dumps(event) + b"\n\n" for event in [*deltas, done]]


def token_usage_object(input_tokens: int, output_tokens: int) -> JSONObject:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}


OPENAI_OPTIONAL_MODEL = dataclasses.replace(OPENAI, model_in_body=False)  # moderations default the model


def add_media_routes(app: web.Application, upstream: FakeUpstream) -> None:
    answers = MediaAnswers(upstream)
    app.router.add_post("/v1/images/generations", upstream.endpoint(answers.images, OPENAI))
    app.router.add_post("/v1/audio/speech", upstream.endpoint(answers.speech, OPENAI))
    app.router.add_post("/v1/audio/transcriptions", upstream.endpoint(answers.transcriptions, OPENAI, with_body=False))
    app.router.add_post("/v1/moderations", upstream.endpoint(answers.moderations, OPENAI_OPTIONAL_MODEL))
