"""Look and behaviour of the web UI: theme (local fonts only), CSS, and the marker-click script.

The theme uses fonts Gradio ships itself, so the page requests nothing from outside hosts.
"""

from __future__ import annotations

from typing import Any

from ui.page_settings import STORAGE_KEY as SETTINGS_KEY


def make_theme() -> Any:
    # Weights 400 and 700 only: the SemiBold files Gradio ships hold a subset of the glyphs.
    import gradio as gr

    sans = (gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif")
    mono = (gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "ui-monospace", "monospace")
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate", font=sans,
                          font_mono=mono, radius_size="md")


# Page behaviour Gradio has no setting for, by event delegation (answers arrive as HTML, which
# carries no script):
# - a [n] marker (click, Enter or Space) opens card n of its answer and scrolls to it;
# - "Copy answer" puts the answer and its sources, as text, on the clipboard;
# - "Show in document" asks the server for the citation viewer (through a hidden textbox);
# - the skip link moves focus to the latest answer;
# - a dropdown whose list is open closes when focus leaves it (Tab used to leave it open over the page);
# - Escape closes the citation viewer or cancels a confirmation (through their own Close/Cancel buttons),
#   and focus goes back to what opened them;
# - conversations are kept in localStorage, which the tabs of a browser share: a change the server sends
#   is merged into what is stored at that moment (never a list the page read earlier, which wiped what
#   another tab had saved since), and every tab's Chats list is refreshed when any tab writes; what is
#   still to be kept when the page is left (a reload right after an answer) is kept then.
HEAD = """
<script>
(() => {
  const CHATS = 'rag-conversations';
  const refresh = () => document.querySelector('#rag-chats-refresh')?.click();
  // The merge, as ui.history.save/delete do it: newest first, bounded in number and size.
  window.ragMergeChats = (stored, op) => {
    let chats = Array.isArray(stored)
      ? stored.filter((c) => c && typeof c.id === 'string' && Array.isArray(c.turns) && c.turns.length) : [];
    if (op.all && !chats.length) chats = op.all;
    const gone = op.put ? op.put.id : op.drop;
    if (gone) chats = chats.filter((c) => c.id !== gone);
    if (op.put) chats.unshift(op.put);
    chats = chats.slice(0, op.max);
    while (chats.length > 1 && JSON.stringify(chats).length > op.chars) chats.pop();
    return chats;
  };
  const stored = () => { try { return JSON.parse(localStorage.getItem(CHATS) || '[]'); } catch (e) { return []; } };
  // A chat another tab went on with differently since this page opened it (a new tab opens the latest
  // chat, a duplicated tab the same one) is kept beside it under a new id, not written over.
  // Saves the page sends with the old id before its state took the new one go to the new one too, until
  // a chat is opened from the list (the other tab's version included).
  let renamed = {};
  window.ragChatId = (id) => { while (renamed[id]) id = renamed[id]; return id; };
  window.ragChatOpened = () => { renamed = {}; };
  const newId = () => [...crypto.getRandomValues(new Uint8Array(6))].map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  const fork = (chats, put) => {
    const there = chats.find((c) => c && c.id === put.id);
    const went_on = there && Array.isArray(there.turns)
      && !there.turns.every((t, i) => put.turns[i] && t && put.turns[i].question === t.question);
    if (!went_on) return;
    renamed[put.id] = newId();
    put.id = renamed[put.id];
    sessionStorage.setItem('rag-chat', put.id);
    const box = document.querySelector('#rag-chat-id textarea');  // the page's state takes the new id
    if (box) { box.value = put.id; box.dispatchEvent(new Event('input', {bubbles: true})); }
  };
  let applied = '';  // the last command merged: each is merged once (see pagehide below)
  const saveChats = (command) => {
    if (!command || command === applied) return;
    applied = command;
    const op = JSON.parse(command);
    const now = stored();
    if (op.drop) op.drop = window.ragChatId(op.drop);
    if (op.put) {
      op.put.id = window.ragChatId(op.put.id);
      fork(Array.isArray(now) ? now : [], op.put);
    }
    const chats = window.ragMergeChats(now, op);
    for (;;) {  // localStorage full (other keys of this address count too): drop the oldest, never the newest
      try { localStorage.setItem(CHATS, JSON.stringify(chats)); break; } catch (e) {
        if (chats.length <= 1) { console.error('rag: the conversation could not be kept in this browser', e); break; }
        chats.pop();
      }
    }
    if (op.all) localStorage.removeItem('rag-chats');  // moved from Gradio's BrowserState
    refresh();
  };
  window.ragSaveChats = saveChats;
  // Gradio runs the change events that keep a chat (SAVE_CHATS, REMEMBER_CHAT) a moment after it has
  // drawn the answer, so a reload or a closed tab right then lost the answer (shown as interrupted).
  // The hidden boxes already hold what those events would keep: it is kept on the way out.
  window.addEventListener('pagehide', () => {
    const id = document.querySelector('#rag-chat-id textarea')?.value;
    if (id) sessionStorage.setItem('rag-chat', id);
    saveChats(document.querySelector('#rag-save textarea')?.value || '');
  });
  window.addEventListener('storage', (e) => { if (e.key === CHATS || e.key === null) refresh(); });
  // Panels Escape closes: [panel, its close button, where focus goes back to]. The viewer's opener is
  // found again by answer and marker, as the chat may have been redrawn since.
  let viewed = null;
  const opener = () => {
    const answer = viewed && document.querySelectorAll('#rag-chat .rag-answer')[viewed[0]];
    return answer?.querySelector('.rag-source.s-' + viewed[1] + ' .rag-view')
      || document.querySelector('#rag-question textarea');
  };
  const panels = [
    ['#rag-confirm-delete', '#rag-cancel-delete-chat', () => document.querySelector('#rag-delete-chat')],
    ['#rag-confirm', '#rag-cancel-remove', () => document.querySelector('#rag-remove')],
    ['#rag-viewer', '#rag-viewer-close', opener],
  ];
  const shown = (el) => !!el && el.getClientRects().length > 0;
  const open = (marker) => {
    const answer = marker.closest('.rag-answer');
    const cls = [...marker.classList].find((c) => /^c-\\d+$/.test(c));
    if (!answer || !cls) return;
    const card = answer.querySelector('.rag-source.s-' + cls.slice(2));
    if (!card) return;
    const panel = card.closest('details.rag-sources');
    if (panel) panel.open = true;
    card.open = true;
    card.classList.remove('rag-flash');
    void card.offsetWidth;
    card.classList.add('rag-flash');
    card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  };
  const copy = (button) => {
    const source = button.closest('.rag-actions')?.querySelector('.rag-copy-text');
    if (!source) return;
    const text = source.textContent;
    const done = () => {
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = 'Copy answer'; }, 1500);
    };
    const fallback = () => {
      const area = document.createElement('textarea');
      area.value = text; area.style.position = 'fixed'; area.style.opacity = '0';
      document.body.appendChild(area); area.select(); document.execCommand('copy'); area.remove(); done();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, fallback);
    else fallback();
  };
  const view = (button) => {
    const answer = button.closest('.rag-answer');
    const card = button.closest('.rag-source');
    const cls = card && [...card.classList].find((c) => /^s-\\d+$/.test(c));
    const box = document.querySelector('#rag-view-request textarea');
    if (!answer || !cls || !box) return;
    const turn = [...document.querySelectorAll('#rag-chat .rag-answer')].indexOf(answer);
    viewed = [turn, cls.slice(2)];
    box.value = turn + ':' + cls.slice(2) + ':' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const skip = () => {
    const answers = document.querySelectorAll('#rag-chat .rag-answer');
    const target = answers[answers.length - 1] || document.querySelector('#rag-question textarea');
    if (!target) return;
    if (target.classList.contains('rag-answer')) target.setAttribute('tabindex', '-1');
    target.scrollIntoView({block: 'start'});
    target.focus({preventScroll: true});
  };
  const act = (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return false;
    const marker = t.closest('.rag-cite');
    if (marker) { open(marker); return true; }
    const button = t.closest('.rag-copy');
    if (button) { copy(button); return true; }
    const viewer = t.closest('.rag-view');
    if (viewer) { view(viewer); return true; }
    if (t.closest('.rag-skip')) { skip(); return true; }
    return false;
  };
  document.addEventListener('click', (e) => { if (act(e)) { e.preventDefault(); e.stopPropagation(); } }, true);
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if ((e.key === 'Enter' || e.key === ' ') && t instanceof Element
        && ['rag-cite', 'rag-copy', 'rag-view'].some((c) => t.classList.contains(c))) {
      if (act(e)) e.preventDefault();
    }
  }, true);
  // Escape in a dropdown only closes its list (Gradio's own handling); elsewhere it closes the panel
  // that is open, a confirmation before the viewer.
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    const t = e.target;
    if (t instanceof Element && (t.getAttribute('role') === 'combobox' || t.closest('[role=listbox]'))) return;
    const open = panels.find(([panel]) => shown(document.querySelector(panel)));
    const close = open && document.querySelector(open[1]);
    if (close) { e.preventDefault(); close.click(); }
  });
  // Closing a panel (Escape, or its button) puts focus that was in it back where it was opened from;
  // focus elsewhere (typing a question) stays.
  document.addEventListener('click', (e) => {
    const t = e.target instanceof Element ? e.target : null;
    const done = t && panels.find(([, close]) => t.closest(close));
    const focus = document.activeElement;
    if (done && (!focus || focus === document.body || focus.closest(done[0]))) done[2]()?.focus();
  });
  document.addEventListener('focusout', (e) => {
    const t = e.target;
    if (!(t instanceof HTMLInputElement) || t.getAttribute('role') !== 'combobox') return;
    const next = e.relatedTarget;
    if (next instanceof Element && next.closest('[role=listbox]')) return;  // a click on the list itself
    setTimeout(() => {  // after Gradio's own blur handling, which opens the list again
      if (document.activeElement !== t && t.getAttribute('aria-expanded') === 'true') {
        t.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}));
      }
    }, 100);
  });
})();
</script>
"""

# The dark-mode toggle: Gradio puts the ``dark`` class on <body>; the choice is kept in the browser.
TOGGLE_DARK = ("() => { const dark = document.body.classList.toggle('dark'); "
               "localStorage.setItem('rag-theme', dark ? 'dark' : 'light'); }")
# After the viewer opens: bring it into view, and scroll its text panel to the highlighted quote.
SHOW_VIEWER = """() => {
  const viewer = document.querySelector('#rag-viewer');
  const panel = viewer?.querySelector('.rag-context');
  const mark = panel?.querySelector('mark.rag-quote');
  if (panel && mark) panel.scrollTop = Math.max(0, mark.offsetTop - panel.offsetTop - 48);
  viewer?.scrollIntoView({block: 'nearest'});
  document.querySelector('#rag-viewer-close')?.focus({preventScroll: true});  // Escape or Enter closes it
}"""
# When a question is taken: empty the box in the page, and pass the inputs (the question among them, as
# Gradio read them just before) on to the answer. The answer's own steps may wait in the queue behind
# other pages' answers; emptying the box there wiped a next question typed meanwhile. This runs only when
# Gradio takes the submit (one still pending on this page makes it skip the next, and the text stays).
CLEAR_QUESTION = """(...inputs) => {
  const box = document.querySelector('#rag-question textarea');
  if (box) { box.value = ''; box.dispatchEvent(new Event('input', {bubbles: true})); }
  return inputs;
}"""
# The chat this tab is in, kept in sessionStorage (one per tab, kept across reloads; localStorage
# would make every tab reopen the chat of the tab that asked last).
REMEMBER_CHAT = "(id) => { if (id) sessionStorage.setItem('rag-chat', id); }"
# What the server is sent of the stored conversations (ui.history.parse_listing): each one's id, title and
# size, never the conversations themselves, which made every question carry the whole store.
_LISTING = ("(() => { let s; try { s = JSON.parse(localStorage.getItem('rag-conversations') || '[]'); } "
            "catch (e) { s = []; } return JSON.stringify((Array.isArray(s) ? s : []).filter((c) => c && "
            "typeof c.id === 'string' && Array.isArray(c.turns) && c.turns.length).map((c) => ({id: c.id, "
            "title: String(c.turns[0]?.question ?? ''), chars: JSON.stringify(c).length}))); })()")
# At load: the tab's chat id, the stored conversations ("" when none were ever stored under our key), their
# listing, and the settings the tab kept (ui.page_settings).
READ_CHAT = ("() => [sessionStorage.getItem('rag-chat') || '', localStorage.getItem('rag-conversations') ?? '', "
             f"{_LISTING}, sessionStorage.getItem('{SETTINGS_KEY}') || '']")
# The page's settings, kept per tab across reloads (sessionStorage, as the chat id): what Apply applied,
# merged with k and strict mode as they are set. Never the API key (ui.page_settings).
_KEEP = ("let s; try {{ s = JSON.parse(sessionStorage.getItem('{key}') || '{{}}'); }} catch (e) {{ s = {{}}; }} "
         "if (!s || typeof s !== 'object' || Array.isArray(s)) s = {{}}; "
         "sessionStorage.setItem('{key}', JSON.stringify(Object.assign(s, {patch})));")
KEEP_APPLIED = ("(applied) => { if (!applied) return; let patch; try { patch = JSON.parse(applied); } "
                "catch (e) { return; } " + _KEEP.format(key=SETTINGS_KEY, patch="patch") + " }")
KEEP_K = "(k) => { " + _KEEP.format(key=SETTINGS_KEY, patch="{k: Number(k)}") + " }"
KEEP_STRICT = "(strict) => { " + _KEEP.format(key=SETTINGS_KEY, patch="{strict: Boolean(strict)}") + " }"
READ_CHATS = f"() => {_LISTING}"
# A chat chosen in the list: the listing box's input carries that one stored chat instead (as a list).
READ_ONE_CHAT = ("(chosen, listing) => { let s; try { s = JSON.parse(localStorage.getItem('rag-conversations') "
                 "|| '[]'); } catch (e) { s = []; } return [chosen, JSON.stringify((Array.isArray(s) ? s : [])"
                 ".filter((c) => c && c.id === chosen))]; }")
SAVE_CHATS = "(command) => { window.ragSaveChats?.(command); }"
CHAT_OPENED = "() => { window.ragChatOpened?.(); }"
RESTORE_DARK = ("() => { const theme = localStorage.getItem('rag-theme'); "
                "if (theme) document.body.classList.toggle('dark', theme === 'dark'); }")

CSS = """
.gradio-container { max-width: 1320px !important; margin: 0 auto; }
footer { display: none !important; }
#rag-header { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; padding: 4px 2px 0; }
#rag-header h1 { font-size: 1.55rem; font-weight: 600; margin: 0; letter-spacing: -0.01em; }
#rag-header .rag-tagline { color: var(--body-text-color-subdued); font-size: 0.95rem; }
.rag-statusbar { display: flex; flex-wrap: wrap; gap: 8px; font-size: 0.82rem; }
.rag-statusbar span { padding: 2px 10px; border-radius: 999px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued); }

/* verdict palette */
.rag-answer, .rag-docs, .rag-notice, #rag-side {
  --ok-fg: #166534; --ok-bg: #dcfce7; --ok-line: #22c55e;
  --weak-fg: #92400e; --weak-bg: #fef3c7; --weak-line: #f59e0b;
  --bad-fg: #991b1b; --bad-bg: #fee2e2; --bad-line: #ef4444;
}
.dark .rag-answer, .dark .rag-docs, .dark .rag-notice, .dark #rag-side {
  --ok-fg: #86efac; --ok-bg: rgba(34,197,94,.16); --ok-line: #22c55e;
  --weak-fg: #fcd34d; --weak-bg: rgba(245,158,11,.18); --weak-line: #f59e0b;
  --bad-fg: #fca5a5; --bad-bg: rgba(239,68,68,.18); --bad-line: #ef4444;
}

.rag-question { white-space: pre-wrap; }
.rag-answer { line-height: 1.6; min-width: 0; }
.rag-body { font-size: 1rem; }
.rag-sent-text { border-radius: 3px; }
.rag-sent.v-weak .rag-sent-text { background: var(--weak-bg); text-decoration: underline dotted var(--weak-line) 2px;
  text-underline-offset: 4px; }
.rag-sent.v-unsupported .rag-sent-text { background: var(--bad-bg);
  text-decoration: underline wavy var(--bad-line) 1.5px; text-underline-offset: 4px; }
.rag-cite { display: inline-block; margin-left: 3px; padding: 0 5px; font-size: 0.78em; font-weight: 600;
  line-height: 1.45; vertical-align: 0.15em; border-radius: 6px; cursor: pointer; user-select: none;
  color: var(--color-accent); background: var(--color-accent-soft); border: 1px solid transparent; }
.rag-cite:hover, .rag-cite:focus { border-color: var(--color-accent); outline: none; }
.rag-cite.v-weak { color: var(--weak-fg); background: var(--weak-bg); }
.rag-cite.v-unsupported { color: var(--bad-fg); background: var(--bad-bg); }
.rag-flag { display: inline-block; margin-left: 5px; padding: 0 6px; font-size: 0.72em; font-weight: 600;
  text-transform: uppercase; letter-spacing: 0.03em; border-radius: 4px; vertical-align: 0.12em; }
.rag-flag.v-weak, .rag-badge.v-weak { color: var(--weak-fg); background: var(--weak-bg); }
.rag-flag.v-unsupported, .rag-badge.v-unsupported { color: var(--bad-fg); background: var(--bad-bg); }
.rag-badge.v-supported { color: var(--ok-fg); background: var(--ok-bg); }
.rag-note { margin-top: 10px; padding: 6px 10px; font-size: 0.86rem; border-radius: 6px; border-left: 3px solid; }
.rag-note.v-weak { color: var(--weak-fg); background: var(--weak-bg); border-color: var(--weak-line); }
.rag-note.v-unsupported { color: var(--bad-fg); background: var(--bad-bg); border-color: var(--bad-line); }
.rag-removed { margin-top: 8px; font-size: 0.86rem; color: var(--body-text-color-subdued); }

.rag-sources { margin-top: 12px; border-top: 1px solid var(--border-color-primary); padding-top: 8px; }
.rag-sources > summary { cursor: pointer; font-size: 0.8rem; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.05em; color: var(--body-text-color-subdued); margin-bottom: 6px; }
.rag-cards { display: flex; flex-direction: column; gap: 6px; }
.rag-source { border: 1px solid var(--border-color-primary); border-left: 4px solid var(--ok-line);
  border-radius: 8px; background: var(--background-fill-primary); padding: 6px 10px; }
.rag-source.v-weak { border-left-color: var(--weak-line); }
.rag-source.v-unsupported { border-left-color: var(--bad-line); }
.rag-source.rag-related-card { border-left-color: var(--border-color-accent); }
.rag-source > summary { cursor: pointer; display: flex; flex-wrap: wrap; align-items: center; gap: 4px 8px;
  list-style: none; }
.rag-source > summary::-webkit-details-marker { display: none; }
.rag-source { position: relative; }
.rag-source > summary { padding-right: 18px; }
.rag-source > summary::after { content: "▸"; position: absolute; right: 10px; top: 6px;
  color: var(--body-text-color-subdued); }
.rag-source[open] > summary::after { content: "▾"; }
.rag-num { font-weight: 700; color: var(--color-accent); }
.rag-file { font-weight: 600; overflow-wrap: anywhere; }
.rag-page, .rag-heading { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.rag-badge { font-size: 0.74rem; font-weight: 600; padding: 1px 8px; border-radius: 999px; white-space: nowrap; }
.rag-preview { flex-basis: 100%; min-width: 0; font-size: 0.85rem; color: var(--body-text-color-subdued);
  overflow: hidden; overflow-wrap: anywhere; display: -webkit-box; -webkit-line-clamp: 2;
  -webkit-box-orient: vertical; }
.rag-source[open] .rag-preview { display: none; }
.rag-card-head { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: baseline; }
.rag-passage { margin-top: 6px; padding: 8px 10px; font-size: 0.88rem; line-height: 1.55; white-space: pre-wrap;
  overflow-wrap: anywhere; background: var(--background-fill-secondary); border-radius: 6px;
  max-height: 18em; overflow-y: auto; }
mark.rag-quote { color: inherit; background: var(--ok-bg); box-shadow: inset 0 -2px 0 var(--ok-line);
  padding: 1px 0; border-radius: 2px; }
mark.rag-quote.v-weak { background: var(--weak-bg); box-shadow: inset 0 -2px 0 var(--weak-line); }
mark.rag-quote.v-unsupported { background: var(--bad-bg); box-shadow: inset 0 -2px 0 var(--bad-line); }
.rag-flash { animation: rag-flash 1.2s ease-out; }
@keyframes rag-flash { from { box-shadow: 0 0 0 3px var(--color-accent); } to { box-shadow: 0 0 0 0 transparent; } }
.rag-understood { margin-bottom: 6px; font-size: 0.8rem; color: var(--body-text-color-subdued); }
.rag-meta { margin-top: 8px; font-size: 0.75rem; color: var(--body-text-color-subdued); }

.rag-refusal { display: flex; gap: 10px; align-items: flex-start; padding: 8px 12px; border-radius: 8px;
  background: var(--background-fill-secondary); border: 1px dashed var(--border-color-primary); }
.rag-refusal-icon { font-size: 1.3rem; line-height: 1.2; color: var(--body-text-color-subdued); }
.rag-refusal-detail { font-size: 0.88rem; color: var(--body-text-color-subdued); }
.rag-error { padding: 8px 12px; border-radius: 8px; color: var(--bad-fg); background: var(--bad-bg);
  border-left: 3px solid var(--bad-line); }
.rag-error-detail { font-size: 0.88rem; margin-top: 2px; white-space: pre-wrap; }
.rag-pending { color: var(--body-text-color-subdued); }
.rag-pending .rag-body { color: var(--body-text-color); white-space: pre-wrap; }
.rag-status { margin-top: 6px; font-size: 0.82rem; }
.rag-spinner { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 8px; vertical-align: -0.05em;
  border: 2px solid var(--border-color-primary); border-top-color: var(--color-accent); border-radius: 50%;
  animation: rag-spin 0.8s linear infinite; }
.rag-caret { display: inline-block; width: 0.5em; height: 1em; margin-left: 2px; vertical-align: -0.15em;
  background: var(--color-accent); opacity: 0.6; animation: rag-blink 1s steps(2) infinite; }
@keyframes rag-spin { to { transform: rotate(360deg); } }
@keyframes rag-blink { 50% { opacity: 0; } }

.rag-docs table { width: 100%; border-collapse: collapse; font-size: 0.88rem; border: none !important; }
.rag-docs th, .rag-docs td, .rag-docs tr, .rag-docs thead, .rag-docs tbody, .rag-docs tfoot {
  border: none !important; }
.rag-docs th { text-align: left; font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.04em;
  color: var(--body-text-color-subdued); border-bottom: 1px solid var(--border-color-primary) !important;
  padding: 4px 6px; }
.rag-docs td { padding: 5px 6px; border-bottom: 1px solid var(--border-color-primary) !important; }
.rag-docs tfoot td { color: var(--body-text-color-subdued); border-bottom: none !important; }
.rag-docs .rag-doc-name { overflow-wrap: anywhere; }
.rag-docs th:last-child, .rag-doc-count, .rag-docs tfoot td:last-child { text-align: right; width: 5em; }
.rag-empty { color: var(--body-text-color-subdued); font-size: 0.9rem; padding: 6px 2px; }
.rag-notice { padding: 8px 12px; border-radius: 8px; font-size: 0.88rem; border-left: 3px solid; }
.rag-notice ul { margin: 4px 0 0 1.1em; padding: 0; }
.rag-notice.rag-ok { color: var(--ok-fg); background: var(--ok-bg); border-color: var(--ok-line); }
.rag-notice.rag-warn { color: var(--weak-fg); background: var(--weak-bg); border-color: var(--weak-line); }
.rag-notice.rag-error { color: var(--bad-fg); background: var(--bad-bg); border-color: var(--bad-line); }
.rag-notice:empty { display: none; }
#rag-upload { min-height: 120px; }
.rag-hint { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.rag-label { font-size: 0.85rem; font-weight: 600; margin-top: 6px; }
.rag-actions { margin-top: 6px; }
.rag-copy { font-size: 0.78rem; cursor: pointer; padding: 1px 8px; border-radius: 6px;
  border: 1px solid var(--border-color-primary); color: var(--body-text-color-subdued); }
.rag-copy:hover, .rag-copy:focus { border-color: var(--color-accent); color: var(--color-accent); outline: none; }
.rag-copy-text, .rag-hidden { display: none !important; }
.rag-view { display: inline-block; margin-top: 6px; font-size: 0.8rem; cursor: pointer; color: var(--color-accent);
  text-decoration: underline; }
.rag-view:focus { outline: 2px solid var(--color-accent); outline-offset: 2px; }
#rag-viewer { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px; }
.rag-viewer-head { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: center; }
.rag-context { max-height: 24em; position: relative; }
#rag-viewer-page img { max-width: 100%; height: auto; }
.rag-skip { position: absolute; left: -9999px; top: 4px; z-index: 100; padding: 6px 12px; border-radius: 6px;
  background: var(--color-accent); color: white !important; }
.rag-skip:focus { left: 8px; }
#rag-top { align-items: center; }
#rag-chat-actions { flex-wrap: wrap; gap: 6px; }
#rag-chat-actions > button { flex: 0 1 auto; }
.rag-confirm-text { font-size: 0.9rem; align-self: center; }
/* Phone: one column, nothing wider than the screen (long names, quotes and tables wrap). */
.rag-answer, .rag-source, .rag-cards, .rag-docs, #rag-chat .message, #rag-chat .bubble-wrap { min-width: 0;
  max-width: 100%; }
@media (max-width: 640px) {
  .gradio-container { padding: 0 6px !important; }
  #rag-main { flex-direction: column; }
  #rag-main > .column { min-width: 0 !important; width: 100%; }
  #rag-header .rag-tagline { display: none; }
}
"""
