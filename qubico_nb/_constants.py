"""Names and tables that more than one module needs; each is spelled here and nowhere else."""

from __future__ import annotations

#: The API key of the live service (``PIAPI_API_KEY`` is read too, as PiAPI's own tools name it).
API_KEY_ENV = "QUBICO_API_KEY"
API_KEY_ENV_ALIASES = ("PIAPI_API_KEY",)
#: Every variable that may hold the live key, in the order they are read.
API_KEY_ENVS = (API_KEY_ENV, *API_KEY_ENV_ALIASES)
#: Another base URL for the API (a proxy, the sibling host).
BASE_URL_ENV = "QUBICO_BASE_URL"
#: A running sandbox to use instead of the live API (`connect()`, the notebooks).
SANDBOX_URL_ENV = "QUBICO_SANDBOX_URL"
#: The key a sandbox started with ``--api-key`` requires (the CLI reads it too).
SANDBOX_KEY_ENV = "QUBICO_SANDBOX_API_KEY"
#: The video the notebooks send when they make tasks.
DEMO_VIDEO_ENV = "QUBICO_DEMO_VIDEO"
#: Where the on-disk stores (finished tasks, downloads cache) live.
CACHE_DIR_ENV = "QUBICO_NB_CACHE_DIR"
#: Where ``qubico-nb demo`` copies the notebooks it opens.
DEMO_DIR_ENV = "QUBICO_NB_DEMO_DIR"
#: Who rates in a review (default: the login name).
RATER_ENV = "QUBICO_RATER"
#: "1" or "0" says whether the hub forwards ports with jupyter-server-proxy, where the kernel's
#: environment cannot tell (the proxy is installed with the server, the kernel may run elsewhere).
HUB_PROXY_ENV = "QUBICO_NB_HUB_PROXY"
#: "embed" makes every file the kernel's machine serves (a sandbox on loopback, a downloaded
#: copy) play from bytes in the page, for a host the detection does not know; "auto" (the
#: default) decides per host.
PLAYBACK_ENV = "QUBICO_NB_PLAYBACK"
#: Set by JupyterHub (and Binder) in every single-user server: the user's URL prefix.
HUB_PREFIX_ENV = "JUPYTERHUB_SERVICE_PREFIX"

#: Most bytes of audio embedded into the page (``data:`` URIs grow the saved notebook): per
#: task shown in a `TaskViewer`, for the whole grid in `compare` (`qubico_nb.playback`).
EMBED_LIMIT_BYTES = 20 * 1024 * 1024

DEFAULT_BASE_URL = "https://api.piapi.ai"

#: Media types by file extension, for URLs whose server does not say (or says it wrongly).
MEDIA_TYPES: dict[str, str] = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".glb": "model/gltf-binary",
}

#: Other names servers give the media types above (``Content-Type``), by the name used there.
MEDIA_TYPE_ALIASES: dict[str, str] = {
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/mp3": "audio/mpeg",
    "audio/x-m4a": "audio/mp4",
}

#: The only data: URIs we ever put into a ``src``: audio we built ourselves from bytes.
AUDIO_DATA_URI_PREFIX = "data:audio/"
#: The inline video form the create endpoint takes.
MP4_DATA_URI_PREFIX = "data:video/mp4;base64,"
#: An audio-video offset (``av_offset_s``) with at least this ``av_sync_confidence`` is one to
#: trust: on the generated cases of ``benchmarks/sync_cases.py``, under 2% of them are off by
#: more than 80 ms (see the README).
SYNC_CONFIDENT = 0.3
