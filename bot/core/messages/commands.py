"""Usage lines, ``/tolk help``, and the answers to a command that cannot run as typed:
a bad option, a missing language or URL, a provider or engine that is off. Each ends with
the command's usage, so the person sees what to type instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.messages._common import engine_label
from bot.core.mrkdwn import person

# Said in each usage line of a command whose target may be several languages.
_SEVERAL = (
    "TGT may be several languages, `zh>ko,ja,en` (up to 10), or a language set's name "
    "(`zh>sea`; `/tolk config sets` lists them)."
)


def catalogue_extra_words(words: str, usage: str) -> str:
    return (
        f"`{words}`: a catalogue's message takes only the languages (and `--engine`); the "
        f"images are the rows of the file.\n{usage}"
    )


USAGE = {
    "translate": (
        "Usage: `/translate [SRC>]TGT TEXT` — e.g. `/translate zh>en 我是中国人` or "
        "`/translate ja Good morning`. Options: `--engine aliyun|google|papago|baidu|deepl|chatgpt|googlellm`, "
        f"`--private` (only you see the answer). {_SEVERAL}"
    ),
    "translate-image": (
        "Usage: `/translate-image [SRC>]TGT URL…` — e.g. "
        "`/translate-image zh>ko https://example.com/a.jpg`. Up to 20 URLs. Options: "
        "`--removed` (also the text-removed image), `--ocr` (also the recognised text), "
        "`--fast` / `--best`, `--engine aliyun|google|papago|baidu|deepl|chatgpt` (Xiangji's "
        "engine; without it, the first one configured), `--provider xiangji|alibaba`. "
        "Alibaba's image-task API is marked for retirement by Alibaba, so Xiangji is the default. "
        f"{_SEVERAL}"
    ),
    "translate-doc": (
        "Usage: `/translate-doc [SRC>]TGT URL` — e.g. `/translate-doc en>ja https://example.com/guide.docx`. "
        "Options: `--scene general|title|description|message|medical|social|tech`, "
        "`--provider alibaba|rozetta`. Word, Excel, PowerPoint, PDF, text, HTML, Markdown and more, up to 50 MB. "
        f"{_SEVERAL}"
    ),
    "catalogue": (
        "A catalogue: upload a CSV or XLSX (a column of ids such as `sku`, a column of image "
        "URLs such as `image`; up to 10,000 rows), or a ZIP of images, with the message "
        "`/translate-image [SRC>]TGT` "
        "— e.g. `/translate-image zh>ko,ja` or `zh>sea` — or into a channel with "
        "`/tolk config auto-images on`. Option: `--engine`. Each language comes back as one ZIP "
        "with a manifest CSV in the upload's thread."
    ),
    "media-job": (
        "Usage: `/media-job FUNCTION oss://bucket/object [JSON]` — e.g. "
        '`/media-job ImageCartoonize oss://my-bucket/photos/cat.jpg {"Model": "3d"}` or '
        '`/media-job CaptionExtraction oss://my-bucket/video.mp4 {"fps": 5}`; '
        "`/media-job status JOBID` follows a job submitted elsewhere."
    ),
    "cutout": (
        "Usage: `/cutout URL… [--bg R,G,B]` — e.g. `/cutout https://example.com/a.png` or "
        "`/cutout https://example.com/a.png --bg 255,255,255` for a white background. Up to 20 URLs."
    ),
    "tolk": (
        "Usage: `/tolk help`, `/tolk tasks`, `/tolk cancel T7Q2K`, `/tolk retry T7Q2K`, "
        "`/tolk quota`, `/tolk config …` (`/tolk config sets`: the workspace's language sets), "
        "`/tolk glossary …` (terms never translated, or always translated one way)."
    ),
    "config": (
        "Usage: `/tolk config show` · `/tolk config auto-images on [SRC>]TGT [--engine E]` (e.g. `on zh>ko`) · "
        "`/tolk config auto-images off` · `/tolk config auto-docs on [SRC>]TGT [--provider alibaba|rozetta]` · "
        "`/tolk config auto-docs off` · `/tolk config defaults [SRC>]TGT` · `/tolk config quota-threshold N`. "
        "auto-images and auto-docs take several targets too (`on zh>ko,ja`, `on zh>sea`). "
        "Language sets: `/tolk config sets` · `/tolk config set NAME LANGS` · `/tolk config flag :emoji: NAME`. "
        "Spend: `/tolk config confirm-over N` (images; `N chars` for text; `default`) · "
        "`/tolk config limit images|characters N/month` (`off` to remove). "
        "Review: `/tolk config review on|off` · `/tolk config reviewers @a @b` (`none` to clear)."
    ),
    "glossary": (
        'Usage: `/tolk glossary list` · `/tolk glossary add "Tolk Pro"` (never translated) · '
        '`/tolk glossary add "象寄" = "Xiangji" [--lang en]` (always translated so; '
        '`/tolk glossary add 象寄 =ja:シャンジ` for one language) · `/tolk glossary remove "TERM"` · '
        "`/tolk glossary export` (a CSV file in your DM) · `/tolk glossary import` (then upload "
        "the CSV here: `term,translation,lang`). One word needs no quotes; a term or translation "
        "is up to 100 characters, a glossary up to 500 entries. Everyone sees it; admins change it."
    ),
    "sets": (
        "Usage: `/tolk config sets` (list) · `/tolk config set NAME LANGS` (make or change, e.g. "
        "`/tolk config set sea th,vi,id,ms`) · `/tolk config set NAME remove` (or `/tolk config unset NAME`) · "
        "`/tolk config flag :emoji: NAME` (that reaction translates into the set) · "
        "`/tolk config flag :emoji: remove`. A name is up to 20 lowercase letters, digits and hyphens, "
        "and not a language; a set holds up to 10 languages. Admins only."
    ),
}


HELP = """*Tolk* translates text, images and files where you work. Every command answers at once with a task id; results land in a thread.

• `/translate zh>en 我是中国人` — translate text (`--engine deepl` or `--engine googlellm`, `--private`)
• `/translate-image zh>ko https://example.com/a.jpg` — translate the text in images, up to 20 URLs (`--removed`, `--ocr`, `--fast`/`--best`, `--engine google`: aliyun, google, papago, baidu, deepl or chatgpt)
• `/translate-doc en>ja https://example.com/guide.docx` — translate a document; the translated file lands in the thread (`--scene tech`)
• `/cutout https://example.com/a.png --bg 255,255,255` — remove the background
• React to a message with a flag (:flag-kr:, :jp:, :us: …) — its text and images are translated into that language, in its thread
• *Translate…* in a message's ⋯ menu — the same, with languages and options picked in a form (works inside threads)
• `/tolk config auto-images on zh>ko` — translate every image posted in this channel (`--engine papago`: its engine, for flags and the Translate… form too)
• `/tolk config auto-docs on en>ja` — translate every document posted in this channel
• `/tolk config defaults zh>en` — languages used when a command or flag does not name them
• `/tolk config quota-threshold 500` — warn in the thread when a service has fewer left
• Several languages at once: `/translate-image zh>ko,ja,en https://…` (up to 10, in `/translate`, `/translate-doc`, auto-images and auto-docs too) — one thread, each result names its language
• `/tolk config set sea th,vi,id,ms` — a language set for the workspace: `/translate-image zh>sea …`; `/tolk config sets` lists them, `/tolk config set sea remove` deletes one (admins)
• `/tolk config flag :earth_asia: sea` — reacting with :earth_asia: translates into the whole set (`… remove` to stop)
• `/tolk glossary add "Tolk Pro"` — a term never translated; `/tolk glossary add "象寄" = "Xiangji"` — always translated so (`--lang en` for one language); `/tolk glossary list`, `remove`, `export`, `import` (a CSV; admins change it)
• A catalogue: upload a CSV or XLSX of SKUs and image URLs with the message `/translate-image zh>sea` (or into an auto-images channel) — one ZIP per language and a manifest CSV come back in its thread
• `/tolk config confirm-over 100` — work over 100 images (or 40,000 characters) waits for Go, with an estimate of what it spends · `/tolk config limit images 2000/month` — refuse work past a monthly limit (admins)
• `/tolk config show` — this channel's settings
• `/tolk tasks` — pending tasks in this channel
• `/tolk cancel T7Q2K` — stop a task · `/tolk retry T7Q2K` — run a failed or expired task again
• `/tolk quota` — what is left of each service, and who used how much

Languages: ISO codes (`zh`, `zh-TW`, `en`, `ja`, `ko`, `de` …) or names (`korean`)."""


def option_needs_value(name: str, usage: str) -> str:
    return f"`--{name}` needs a value, e.g. `--{name} VALUE`.\n{usage}"


def unknown_option(token: str, usage: str) -> str:
    return f"Unknown option `{person(token)}`.\n{usage}"


def unknown_choice(option: str, value: str, choices: Sequence[str], usage: str) -> str:
    return f"`{option} {person(value)}` is not one of {', '.join(choices)}.\n{usage}"


def conflicting_options(a: str, b: str, usage: str) -> str:
    return f"Use either `{a}` or `{b}`, not both.\n{usage}"


def missing_language(usage: str) -> str:
    return f"Say which language to translate into, e.g. `en` or `zh>en`.\n{usage}"


def missing_text(usage: str) -> str:
    return f"There is no text to translate after the language.\n{usage}"


def missing_urls(usage: str) -> str:
    return f"Give at least one image URL after the language.\n{usage}"


def not_a_url(url: str, usage: str) -> str:
    return f"`{person(url)}` is not a web address; write a full `https://…` URL.\n{usage}"


def text_too_long(length: int, limit: int) -> str:
    return (
        f"That text is {length:,} characters; the limit is {limit:,}. "
        "Split it into shorter parts and send each with `/translate`."
    )


def too_many_images(count: int, limit: int) -> str:
    return f"That is {count} images; one command takes up to {limit}. Send the rest separately."


def provider_off(provider: str, what: str, variables: Sequence[str]) -> str:
    return (
        f"{provider} is not configured here, so {what} is off. "
        f"An admin can turn it on by setting {', '.join(f'`{v}`' for v in variables)}."
    )


def provider_not_ready(provider: str, what: str) -> str:
    return f"`--provider {provider}` for {what} is not available yet; leave it out to use Xiangji."


def option_not_for_provider(option: str, provider: str, usage: str) -> str:
    return f"`{option}` is not available with `--provider {provider}`; leave it out or use Xiangji.\n{usage}"


def engine_not_configured(engine: str, variable: str, configured: Sequence[str], usage: str) -> str:
    """An image engine whose key is not set: the variable to set, and what can be used."""
    runs_on = " (ChatGPT runs on the Aliyun key)" if engine == "chatgpt" else ""
    names = ", ".join(f"`{e}`" for e in configured)
    text = (
        f"The {engine_label(engine)} image engine is not configured here{runs_on}: an admin "
        f"can turn it on by setting `{variable}`. Configured engines: {names}; leave "
        "`--engine` out to use the first."
    )
    return f"{text}\n{usage}" if usage else text


def image_translation_off(usage: str) -> str:
    return (
        "Xiangji image translation is off here: an admin can turn it on by setting "
        "`XIANGJI_USER_KEY` and an image key — `XIANGJI_IMG_TRANS_KEY` (Aliyun), "
        "`XIANGJI_IMG_TRANS_GOOGLE_KEY`, `XIANGJI_IMG_TRANS_PAPAGO_KEY`, "
        f"`XIANGJI_IMG_TRANS_BAIDU_KEY` or `XIANGJI_IMG_TRANS_DEEPL_KEY`.\n{usage}"
    )


def cutout_has_no_engine(usage: str) -> str:
    return (
        "`/cutout` has no `--engine`: background removal is one Xiangji service on its own "
        f"key (`XIANGJI_MATTING_KEY`). Leave `--engine` out.\n{usage}"
    )


def source_not_supported(detail: str) -> str:
    return detail


def one_document(usage: str) -> str:
    return f"Give one document URL per command.\n{usage}"


def missing_document(usage: str) -> str:
    return f"Give the document's URL after the language.\n{usage}"


def needs_job_id(usage: str) -> str:
    return f"Give the MTS JobId after `status`, e.g. `/media-job status 88c6ca184c0e432bbf5b665e2a15abcd`.\n{usage}"


def missing_media_input(usage: str) -> str:
    return f"Give the input object after the function, as `oss://bucket/object`.\n{usage}"


def bad_color(value: str, usage: str) -> str:
    return f"`--bg {value}` is not a colour; write three numbers 0–255, e.g. `--bg 255,255,255`.\n{usage}"


def cannot_detect(usage: str) -> str:
    return f"I could not tell which language that text is in; name it, e.g. `zh>en`.\n{usage}"


def same_language(code: str) -> str:
    return f"The text is already in `{code}`; pick a different target language."
