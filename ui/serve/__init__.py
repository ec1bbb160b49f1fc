"""``rag serve``: an HTTP API over the documents, with an OpenAI-compatible chat endpoint.

Modules, one job each: ``config`` (settings, keys, the safe-deployment check), ``app`` (the
FastAPI app and the per-worker factory), ``routes`` (endpoints), ``openai_chat`` (OpenAI's
completion and stream shapes), ``documents`` (uploads), ``collections`` (one ``Assistant`` per
collection), ``gate`` (bounded concurrency and timeouts), ``limits`` (body sizes), ``auth``
(bearer keys), ``errors`` (one-sentence JSON errors), ``cli`` (the command).
"""
