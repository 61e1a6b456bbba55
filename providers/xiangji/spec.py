"""Xiangji's engines by name, as constants anyone may import: the Slack handlers check
``--engine`` against them before anything is recorded, the messages name them, and
``providers.xiangji.wire`` maps them to keys, ``EngineType`` and ``Type``.

Seed 002 part 一 (one image key per engine), part 二 (``EngineType=5`` is ChatGPT on the
Aliyun key) and part 四 (the text ``Type``: Aliyun 0 … GoogleLLM 6).
"""

from __future__ import annotations

#: Image engines in default-preference order (the first configured one is the default).
IMAGE_ENGINE_NAMES: tuple[str, ...] = ("aliyun", "google", "papago", "baidu", "deepl", "chatgpt")

#: Text engines in the order of their ``Type`` number (0 … 6).
TEXT_ENGINE_NAMES: tuple[str, ...] = (
    "aliyun",
    "google",
    "papago",
    "baidu",
    "deepl",
    "chatgpt",
    "googlellm",
)

#: The engines as people read them.
ENGINE_LABELS: dict[str, str] = {
    "aliyun": "Aliyun",
    "google": "Google",
    "papago": "Papago",
    "baidu": "Baidu",
    "deepl": "DeepL",
    "chatgpt": "ChatGPT",
    "googlellm": "GoogleLLM",
}
