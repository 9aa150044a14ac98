"""Their numeric channel types, the relaygate type that serves each (None: none does), and the base
URL each of them uses when a channel leaves it empty.

From new-api's `constant/channel.go` (ChannelType*, ChannelBaseURLs) and one-api's
`relay/channeltype/define.go` and `url.go`. A type maps to `openai` only where the upstream speaks
the OpenAI API at `{base}/v1/...`, the way relaygate calls it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelType:
    name: str
    serve_as: str | None  # relaygate's channel type, or None: imported disabled
    default_base_url: str = ""


_O, _AZ, _AN, _GE, _MJ, _SU = "openai", "azure", "anthropic", "gemini", "midjourney", "suno"

NEW_API: dict[int, ChannelType] = {
    0: ChannelType("Unknown", None),
    1: ChannelType("OpenAI", _O, "https://api.openai.com"),
    2: ChannelType("Midjourney", _MJ, "https://oa.api2d.net"),
    3: ChannelType("Azure", _AZ),
    4: ChannelType("Ollama", None, "http://localhost:11434"),
    5: ChannelType("MidjourneyPlus", _MJ, "https://api.openai-sb.com"),
    6: ChannelType("OpenAIMax", _O, "https://api.openaimax.com"),
    7: ChannelType("OhMyGPT", _O, "https://api.ohmygpt.com"),
    8: ChannelType("Custom", _O),
    9: ChannelType("AILS", _O, "https://api.caipacity.com"),
    10: ChannelType("AIProxy", _O, "https://api.aiproxy.io"),
    11: ChannelType("PaLM", None),
    12: ChannelType("API2GPT", _O, "https://api.api2gpt.com"),
    13: ChannelType("AIGC2D", _O, "https://api.aigc2d.com"),
    14: ChannelType("Anthropic", _AN, "https://api.anthropic.com"),
    15: ChannelType("Baidu", None, "https://aip.baidubce.com"),
    16: ChannelType("Zhipu", None, "https://open.bigmodel.cn"),
    17: ChannelType("Ali", None, "https://dashscope.aliyuncs.com"),
    18: ChannelType("Xunfei", None),
    19: ChannelType("360", None, "https://api.360.cn"),
    20: ChannelType("OpenRouter", _O, "https://openrouter.ai/api"),
    21: ChannelType("AIProxyLibrary", None, "https://api.aiproxy.io"),
    22: ChannelType("FastGPT", None, "https://fastgpt.run/api/openapi"),
    23: ChannelType("Tencent", None, "https://hunyuan.tencentcloudapi.com"),
    24: ChannelType("Gemini", _GE, "https://generativelanguage.googleapis.com"),
    25: ChannelType("Moonshot", _O, "https://api.moonshot.cn"),
    26: ChannelType("ZhipuV4", None, "https://open.bigmodel.cn"),
    27: ChannelType("Perplexity", None, "https://api.perplexity.ai"),
    31: ChannelType("LingYiWanWu", _O, "https://api.lingyiwanwu.com"),
    33: ChannelType("AWS", None),
    34: ChannelType("Cohere", None, "https://api.cohere.ai"),
    35: ChannelType("MiniMax", None, "https://api.minimax.chat"),
    36: ChannelType("SunoAPI", _SU),
    37: ChannelType("Dify", None, "https://api.dify.ai"),
    38: ChannelType("Jina", None, "https://api.jina.ai"),
    39: ChannelType("Cloudflare", None, "https://api.cloudflare.com"),
    40: ChannelType("SiliconFlow", _O, "https://api.siliconflow.cn"),
    41: ChannelType("VertexAI", None),
    42: ChannelType("Mistral", _O, "https://api.mistral.ai"),
    43: ChannelType("DeepSeek", _O, "https://api.deepseek.com"),
    44: ChannelType("MokaAI", None, "https://api.moka.ai"),
    45: ChannelType("VolcEngine", None, "https://ark.cn-beijing.volces.com"),
    46: ChannelType("BaiduV2", None, "https://qianfan.baidubce.com"),
    47: ChannelType("Xinference", _O),
    48: ChannelType("xAI", _O, "https://api.x.ai"),
    49: ChannelType("Coze", None, "https://api.coze.cn"),
    50: ChannelType("Kling", None, "https://api.klingai.com"),
    51: ChannelType("Jimeng", None, "https://visual.volcengineapi.com"),
    52: ChannelType("Vidu", None, "https://api.vidu.cn"),
    53: ChannelType("Submodel", None, "https://llm.submodel.ai"),
    54: ChannelType("DoubaoVideo", None, "https://ark.cn-beijing.volces.com"),
    55: ChannelType("Sora", None, "https://api.openai.com"),
    56: ChannelType("Replicate", None, "https://api.replicate.com"),
    57: ChannelType("Codex", None, "https://chatgpt.com"),
}

ONE_API: dict[int, ChannelType] = {
    0: ChannelType("Unknown", None),
    1: ChannelType("OpenAI", _O, "https://api.openai.com"),
    2: ChannelType("API2D", _O, "https://oa.api2d.net"),
    3: ChannelType("Azure", _AZ),
    4: ChannelType("CloseAI", _O, "https://api.closeai-proxy.xyz"),
    5: ChannelType("OpenAISB", _O, "https://api.openai-sb.com"),
    6: ChannelType("OpenAIMax", _O, "https://api.openaimax.com"),
    7: ChannelType("OhMyGPT", _O, "https://api.ohmygpt.com"),
    8: ChannelType("Custom", _O),
    9: ChannelType("Ails", _O, "https://api.caipacity.com"),
    10: ChannelType("AIProxy", _O, "https://api.aiproxy.io"),
    11: ChannelType("PaLM", None, "https://generativelanguage.googleapis.com"),
    12: ChannelType("API2GPT", _O, "https://api.api2gpt.com"),
    13: ChannelType("AIGC2D", _O, "https://api.aigc2d.com"),
    14: ChannelType("Anthropic", _AN, "https://api.anthropic.com"),
    15: ChannelType("Baidu", None, "https://aip.baidubce.com"),
    16: ChannelType("Zhipu", None, "https://open.bigmodel.cn"),
    17: ChannelType("Ali", None, "https://dashscope.aliyuncs.com"),
    18: ChannelType("Xunfei", None),
    19: ChannelType("AI360", None, "https://ai.360.cn"),
    20: ChannelType("OpenRouter", _O, "https://openrouter.ai/api"),
    21: ChannelType("AIProxyLibrary", None, "https://api.aiproxy.io"),
    22: ChannelType("FastGPT", None, "https://fastgpt.run/api/openapi"),
    23: ChannelType("Tencent", None, "https://hunyuan.tencentcloudapi.com"),
    24: ChannelType("Gemini", _GE, "https://generativelanguage.googleapis.com"),
    25: ChannelType("Moonshot", _O, "https://api.moonshot.cn"),
    26: ChannelType("Baichuan", _O, "https://api.baichuan-ai.com"),
    27: ChannelType("Minimax", None, "https://api.minimax.chat"),
    28: ChannelType("Mistral", _O, "https://api.mistral.ai"),
    29: ChannelType("Groq", _O, "https://api.groq.com/openai"),
    30: ChannelType("Ollama", None, "http://localhost:11434"),
    31: ChannelType("LingYiWanWu", _O, "https://api.lingyiwanwu.com"),
    32: ChannelType("StepFun", _O, "https://api.stepfun.com"),
    33: ChannelType("AwsClaude", None),
    34: ChannelType("Coze", None, "https://api.coze.com"),
    35: ChannelType("Cohere", None, "https://api.cohere.ai"),
    36: ChannelType("DeepSeek", _O, "https://api.deepseek.com"),
    37: ChannelType("Cloudflare", None, "https://api.cloudflare.com"),
    38: ChannelType("DeepL", None, "https://api-free.deepl.com"),
    39: ChannelType("TogetherAI", _O, "https://api.together.xyz"),
    40: ChannelType("Doubao", None, "https://ark.cn-beijing.volces.com"),
    41: ChannelType("Novita", None, "https://api.novita.ai/v3/openai"),
    42: ChannelType("VertexAI", None),
    43: ChannelType("Proxy", None),
    44: ChannelType("SiliconFlow", _O, "https://api.siliconflow.cn"),
    45: ChannelType("XAI", _O, "https://api.x.ai"),
    46: ChannelType("Replicate", None, "https://api.replicate.com/v1/models/"),
    47: ChannelType("BaiduV2", None, "https://qianfan.baidubce.com"),
    48: ChannelType("XunfeiV2", None, "https://spark-api-open.xf-yun.com"),
    49: ChannelType("AliBailian", None, "https://dashscope.aliyuncs.com"),
    50: ChannelType("OpenAICompatible", _O),
    51: ChannelType("GeminiOpenAICompatible", None, "https://generativelanguage.googleapis.com/v1beta/openai/"),
}

TABLES = {"new-api": NEW_API, "one-api": ONE_API}


def channel_type(source_kind: str, number: int) -> ChannelType:
    return TABLES[source_kind].get(number, ChannelType(f"type {number}", None))
