"""Images, speech, transcriptions and moderations through the gateway with the official openai SDK."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from relaygate.fakeupstream.openai_media import (
    FAKE_AUDIO_PREFIX,
    FAKE_IMAGE,
    image_usage,
    transcription_text,
    transcription_usage,
)
from tests.relay.test_openai_sdk import client, new_key
from tests.support.billing import expected_charge
from tests.support.deployment import Deployment

AUDIO = b"RIFF" + bytes(range(256)) * 8  # 2052 bytes of "audio"


@pytest.fixture
def media_gateway(gateway: Deployment, fake_upstream: str) -> Deployment:
    gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake",
        "--models", "dall-e-3,gpt-image-1,tts-1,whisper-1,gpt-4o-transcribe,omni-moderation-latest,whisper-large",
        "--map", "whisper-large=whisper-1",
    )  # fmt: skip
    gateway.cli("price", "set", "dall-e-3", "--per-call", "0.04")
    gateway.cli("price", "set", "gpt-image-1", "--input", "5", "--output", "40")
    gateway.cli("price", "set", "tts-1", "--input", "15")
    gateway.cli("price", "set", "whisper-1", "--per-call", "0.006")
    gateway.cli("price", "set", "whisper-large", "--per-call", "0.01")
    gateway.cli("price", "set", "gpt-4o-transcribe", "--input", "2.5", "--output", "10")
    gateway.cli("price", "set", "omni-moderation-latest", "--input", "1")
    gateway.runtime_poll()
    return gateway


def used(gw: Deployment, token_id: int) -> int:
    gw.flush()
    return int(gw.token(token_id)["used_quota"])


def test_images_are_billed_per_call_times_n(media_gateway: Deployment) -> None:
    key, token_id = new_key(media_gateway)
    with client(media_gateway, key) as sdk:
        images = sdk.images.generate(model="dall-e-3", prompt="a red fox", n=3)
    assert images.data is not None
    assert len(images.data) == 3
    assert all(image.url for image in images.data)
    assert used(media_gateway, token_id) == 3 * 20_000  # 0.04 USD x 500,000 units x 3
    assert media_gateway.books()["balanced"]


def test_token_priced_images_are_billed_from_usage(media_gateway: Deployment) -> None:
    key, token_id = new_key(media_gateway)
    with client(media_gateway, key) as sdk:
        images = sdk.images.generate(model="gpt-image-1", prompt="a red fox in snow", n=2)
    assert images.data is not None
    assert base64.b64decode(images.data[0].b64_json or "") == FAKE_IMAGE
    prompt, output = image_usage({"prompt": "a red fox in snow", "n": 2})
    assert used(media_gateway, token_id) == expected_charge("5", "40", prompt, output)


def test_speech_returns_the_audio_and_bills_each_character(media_gateway: Deployment) -> None:
    key, token_id = new_key(media_gateway)
    text = "Hello, wide world!"
    with client(media_gateway, key) as sdk:
        audio = sdk.audio.speech.create(model="tts-1", voice="alloy", input=text)
        assert audio.content == FAKE_AUDIO_PREFIX + text.encode()
        assert audio.response.headers["content-type"] == "audio/mpeg"
        wav = sdk.audio.speech.create(model="tts-1", voice="alloy", input=text, response_format="wav")
        assert wav.response.headers["content-type"] == "audio/wav"
    assert used(media_gateway, token_id) == 2 * expected_charge("15", "0", len(text), 0)


def test_transcription_upload_is_passed_through_and_billed_per_call(
    media_gateway: Deployment, fake_upstream: str
) -> None:
    key, token_id = new_key(media_gateway)
    httpx.delete(fake_upstream + "/_fake/requests")
    with client(media_gateway, key) as sdk:
        whisper = sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO, "audio/wav"))
        mapped = sdk.audio.transcriptions.create(model="whisper-large", file=("a.wav", AUDIO, "audio/wav"))
        text = sdk.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", AUDIO, "audio/wav"), response_format="text"
        )
    assert whisper.text == mapped.text == transcription_text(len(AUDIO))
    assert str(text).strip() == transcription_text(len(AUDIO))
    forms = [entry["form"] for entry in httpx.get(fake_upstream + "/_fake/requests").json() if "form" in entry]
    assert forms == [{"model": "whisper-1", "file_bytes": len(AUDIO)}] * 3  # the mapped name went upstream
    assert used(media_gateway, token_id) == 3_000 + 5_000 + 3_000


def test_transcription_with_token_usage_is_billed_from_it(media_gateway: Deployment) -> None:
    key, token_id = new_key(media_gateway)
    with client(media_gateway, key) as sdk:
        sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", AUDIO, "audio/wav"))
    audio, output = transcription_usage(len(AUDIO))
    assert used(media_gateway, token_id) == expected_charge("2.5", "10", audio, output)


def test_transcription_without_a_model_part_is_refused(media_gateway: Deployment) -> None:
    key, _ = new_key(media_gateway)
    answer = httpx.post(
        media_gateway.url + "/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {key}"},
        files={"file": ("a.wav", AUDIO, "audio/wav")},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "missing_model"
    json_body = httpx.post(
        media_gateway.url + "/v1/audio/transcriptions", headers={"Authorization": f"Bearer {key}"}, json={}
    )
    assert json_body.status_code == 400
    assert json_body.json()["error"]["code"] == "invalid_content_type"


def test_moderations_are_billed_from_usage_or_free(media_gateway: Deployment, fake_upstream: str) -> None:
    key, token_id = new_key(media_gateway)
    with client(media_gateway, key) as sdk:
        moderation = sdk.moderations.create(input=["one two three", "four"])
    assert [result.flagged for result in moderation.results] == [False, False]
    assert used(media_gateway, token_id) == expected_charge("1", "0", 4, 0)
    media_gateway.cli(
        "channel", "add", "--type", "openai", "--base-url", fake_upstream, "--key", "fake;no-usage",
        "--models", "text-moderation-free",
    )  # fmt: skip
    media_gateway.cli("price", "set", "text-moderation-free", "--per-call", "1")
    media_gateway.runtime_poll()
    with client(media_gateway, key) as sdk:
        sdk.moderations.create(model="text-moderation-free", input="one two three")
    assert used(media_gateway, token_id) == expected_charge("1", "0", 4, 0)
    assert media_gateway.books()["balanced"]


def test_media_routes_check_the_key_and_the_model(media_gateway: Deployment) -> None:
    key, _ = new_key(media_gateway, "alice", "10", "--models", "tts-1")
    with client(media_gateway, key) as sdk:
        with pytest.raises(openai.PermissionDeniedError):
            sdk.images.generate(model="dall-e-3", prompt="a fox")
        with pytest.raises(openai.PermissionDeniedError):
            sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO, "audio/wav"))
    with client(media_gateway, "sk-wrong") as sdk, pytest.raises(openai.AuthenticationError):
        sdk.moderations.create(input="hi")


def test_streamed_transcription_is_relayed_and_billed_from_its_done_event(media_gateway: Deployment) -> None:
    key, token_id = new_key(media_gateway)
    with client(media_gateway, key) as sdk:
        events = list(
            sdk.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", AUDIO, "audio/wav"), stream=True)
        )
        whisper = list(
            sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", AUDIO, "audio/wav"), stream=True)
        )
    text = "".join(event.delta for event in events if event.type == "transcript.text.delta")
    assert text == transcription_text(len(AUDIO))
    assert events[-1].type == "transcript.text.done"
    assert whisper[-1].type == "transcript.text.done"
    audio, output = transcription_usage(len(AUDIO))
    assert used(media_gateway, token_id) == expected_charge("2.5", "10", audio, output) + 3_000  # whisper: per call


def test_a_text_format_transcription_of_a_token_priced_model_is_charged_its_hold(media_gateway: Deployment) -> None:
    key, token_id = new_key(media_gateway)
    with client(media_gateway, key) as sdk:
        text = sdk.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=("a.wav", AUDIO, "audio/wav"), response_format="text"
        )
    assert str(text).strip() == transcription_text(len(AUDIO))
    # never free: the hold's bound of the audio (one token per 100 bytes of upload) and the default output limit
    charged = used(media_gateway, token_id)
    assert expected_charge("2.5", "10", len(AUDIO) // 100, 4096) <= charged
    assert charged <= expected_charge("2.5", "10", len(AUDIO) // 100 + 10, 4096)
