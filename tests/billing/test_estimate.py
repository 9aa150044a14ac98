"""The reservation estimate reads the prompt and output limit of every protocol's request shape."""

from relaygate.billing.estimate import estimate_prompt_tokens, requested_output_tokens
from relaygate.billing.tokencount import TOKENS_PER_IMAGE

TEXT = "x" * 300  # 100 tokens of estimate, plus one


def test_anthropic_system_and_tools_add_to_the_messages() -> None:
    messages = {"messages": [{"role": "user", "content": TEXT}]}
    alone = estimate_prompt_tokens(messages)
    with_system = estimate_prompt_tokens({**messages, "system": TEXT})
    assert with_system == alone + 101
    assert estimate_prompt_tokens({**messages, "system": TEXT, "tools": [{"name": TEXT}]}) == alone + 202


def test_gemini_contents_system_instruction_and_inline_images() -> None:
    contents = [{"role": "user", "parts": [{"text": TEXT}]}]
    assert estimate_prompt_tokens({"contents": contents}) == 101 + 2  # the role "user" counts 2
    instruction = {"parts": [{"text": TEXT}]}
    assert estimate_prompt_tokens({"contents": contents, "systemInstruction": instruction}) == 204
    image = {"inlineData": {"mimeType": "image/png", "data": "A" * 300_000}}
    assert estimate_prompt_tokens({"contents": [{"parts": [image]}]}) == TOKENS_PER_IMAGE


def test_gemini_embedding_requests() -> None:
    assert estimate_prompt_tokens({"content": {"parts": [{"text": TEXT}]}}) == 101
    requests = [{"model": "models/e", "content": {"parts": [{"text": TEXT}]}}] * 2
    assert estimate_prompt_tokens({"requests": requests}) >= 202


def test_output_limit_of_each_protocol() -> None:
    assert requested_output_tokens({"max_tokens": 7}, 1024) == 7
    assert requested_output_tokens({"generationConfig": {"maxOutputTokens": 9}}, 1024) == 9
    assert requested_output_tokens({"generationConfig": {"temperature": 0.5}}, 1024) == 1024
    assert requested_output_tokens({}, 1024) == 1024
