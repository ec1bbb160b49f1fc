"""Conversations kept in the browser (the page's localStorage, key ``rag-conversations``).

The store is a JSON list of ``ChatState.to_json()`` values, newest first, bounded so it stays well
inside the browser's ~5 MB localStorage. The tabs of one browser share it, so a page never writes a
whole list it read earlier (the tab that saved last wiped the other tabs' chats): the server sends
one change (``command``) and the page's script merges it into what is stored at that moment, as
``save`` and ``delete`` do here (``ui.assets.MERGE_CHATS``).

The page sends the server a *listing* of what is stored (``parse_listing``: each chat's id, title and
size), not the chats themselves: the listing is all the Chats list needs, and sending the whole store
with every question (up to ``MAX_CHARS``) made each answer ~0.2 s slower once the store was full.
The whole store goes to the server only when a page loads; one chat when it is opened.

>>> from ui.controller import ChatState, Turn
>>> store = save([], ChatState([Turn("where do axolotls live?", "<div>…</div>", "where do axolotls live?")], "a1"))
>>> find(store, "a1").history
['where do axolotls live?']
>>> delete(store, "a1")
[]
>>> listing = parse_listing(json.dumps([entry(find(store, "a1"))]))
>>> listing_choices(listing), listing[0]["chars"] > 0
([('where do axolotls live?', 'a1')], True)
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
    return kept[:_kept([js_length(c) for c in kept])]


def _kept(sizes: list[int]) -> int:
    """How many of the newest chats of these sizes (``js_length`` each) the store keeps: at most
    ``MAX_CHATS``, and no more than fit in ``MAX_CHARS`` as one JSON list ("[a,b]"), always one."""
    n = min(len(sizes), MAX_CHATS)
    while n > 1 and 2 + sum(sizes[:n]) + n - 1 > MAX_CHARS:
        n -= 1
    return n


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


def js_length(value: Any) -> int:
    """``JSON.stringify(value).length`` as the page script measures what it stores: compact JSON, in
    UTF-16 code units (an emoji counts two).

    >>> js_length({"q": "tides 🌊"})
    16
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def entry(chat: ChatState) -> dict[str, Any]:
    """What the listing says of one stored chat: its id, its title (the first question) and its size
    as stored (``js_length``)."""
    return {"id": chat.id, "title": chat.title, "chars": js_length(chat.to_json())}


def parse_listing(raw: str | None) -> list[dict[str, Any]]:
    """The listing the page sent (``ui.assets.READ_CHATS``), newest first; malformed entries dropped.

    >>> parse_listing('[{"id": "a1", "title": "q", "chars": 40}, {"id": 3}]'), parse_listing("{")
    ([{'id': 'a1', 'title': 'q', 'chars': 40}], [])
    """
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [{"id": e["id"], "title": e["title"], "chars": e["chars"]} for e in value
            if isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("title"), str)
            and isinstance(e.get("chars"), int) and not isinstance(e.get("chars"), bool)]


def listing_save(listing: list[dict[str, Any]], chat: ChatState) -> list[dict[str, Any]]:
    """``listing`` as it will be once the page has merged ``chat`` in: ``save``'s bounds, on sizes."""
    kept = [e for e in listing if e["id"] != chat.id]
    if chat.turns:
        kept.insert(0, entry(chat))
    return bounded(kept)


def bounded(listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries the store keeps within ``MAX_CHATS`` and ``MAX_CHARS``, newest first."""
    return listing[:_kept([e["chars"] for e in listing])]


def listing_delete(listing: list[dict[str, Any]], chat_id: str | None) -> list[dict[str, Any]]:
    return [e for e in listing if e["id"] != chat_id]


def listing_choices(listing: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(title, id) for the conversations list."""
    return [(short_title(e["title"]), e["id"]) for e in listing]


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


def choice_title(chat: ChatState) -> str:
    """The conversation's first question on one line, shortened to a list entry."""
    return short_title(chat.title)


def short_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_CHARS else title[: _TITLE_CHARS - 1] + "…"
