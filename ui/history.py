"""Conversations kept in the browser (the page's localStorage, key ``rag-conversations``).

The store is a JSON list of ``ChatState.to_json()`` values, newest first, bounded so it stays well
inside the browser's ~5 MB localStorage. The tabs of one browser share it, so a page never writes a
whole list it read earlier (the tab that saved last wiped the other tabs' chats): the server sends
one change (``command``) and the page's script merges it into what is stored at that moment, as
``save`` and ``delete`` do here (``ui.assets.MERGE_CHATS``).

>>> from ui.controller import ChatState, Turn
>>> store = save([], ChatState([Turn("where do axolotls live?", "<div>…</div>", "where do axolotls live?")], "a1"))
>>> choices(store), find(store, "a1").history
([('where do axolotls live?', 'a1')], ['where do axolotls live?'])
>>> delete(store, "a1")
[]
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ui.controller import ChatState

MAX_CHATS = 30
MAX_CHARS = 1_500_000  # characters of the stored JSON (localStorage keeps ~5 M characters per address)
_TITLE_CHARS = 60
INTERRUPTED = ("Interrupted: the page was left or reloaded before this answer was finished.",
               "Ask it again, or press ↻ Regenerate.")


def chats(store: Any) -> list[dict[str, Any]]:
    """The stored conversations; anything that is not one (an older or tampered value) is dropped."""
    if not isinstance(store, list):
        return []
    return [c for c in store if isinstance(c, dict) and isinstance(c.get("id"), str) and c.get("turns")]


def save(store: Any, chat: ChatState) -> list[dict[str, Any]]:
    """``store`` with ``chat`` first (replacing its older copy); an empty chat is not kept."""
    kept = [c for c in chats(store) if c["id"] != chat.id]
    if chat.turns:
        kept.insert(0, chat.to_json())
    kept = kept[:MAX_CHATS]
    while len(kept) > 1 and len(json.dumps(kept)) > MAX_CHARS:
        kept.pop()
    return kept


def delete(store: Any, chat_id: str | None) -> list[dict[str, Any]]:
    return [c for c in chats(store) if c["id"] != chat_id]


def parse(raw: str | None) -> list[dict[str, Any]]:
    """The stored conversations from localStorage's text ("" or anything malformed: none).

    >>> parse('[{"id": "a1", "turns": [{"question": "q", "html": ""}]}, 3]'), parse("{"), parse("")
    ([{'id': 'a1', 'turns': [{'question': 'q', 'html': ''}]}], [], [])
    """
    try:
        return chats(json.loads(raw or "[]"))
    except ValueError:
        return []


def command(put: ChatState | None = None, drop: str | None = None,
            every: list[dict[str, Any]] | None = None) -> str:
    """One change for the page's script to merge into the stored conversations: ``put`` a chat first
    (replacing its older copy), ``drop`` one by id, or store ``every`` chat if nothing is stored yet
    (moving them from the older storage). A nonce makes each command new, so it always runs."""
    return json.dumps({"put": put.to_json() if put is not None and put.turns else None, "drop": drop,
                       "all": every, "max": MAX_CHATS, "chars": MAX_CHARS, "nonce": uuid.uuid4().hex})


def find(store: Any, chat_id: str | None) -> ChatState:
    """The stored conversation ``chat_id``, or a new empty one.

    A chat is saved as soon as its question is asked, so an answer still pending when it was saved was
    interrupted (a reload, a closed tab, a lost connection): it is shown as such. The answer is not
    fetched from the server, which keeps no conversation (they live in the browser) and whose answer
    went to a page that is gone. Asking again is one click on Regenerate, in the question's own place
    in the conversation, with its follow-up context; putting the question back in the box instead
    would show a conversation without the question the user remembers asking.
    """
    for c in chats(store):
        if c["id"] == chat_id:
            return ChatState.from_json(c).end_unfinished(*INTERRUPTED)
    return ChatState()


def choices(store: Any) -> list[tuple[str, str]]:
    """(title, id) for the conversations list: each titled by its first question."""
    return [(choice_title(ChatState.from_json(c)), c["id"]) for c in chats(store)]


def choice_title(chat: ChatState) -> str:
    """The conversation's first question on one line, shortened to a list entry."""
    title = " ".join(chat.title.split())
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"
