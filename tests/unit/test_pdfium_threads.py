"""PDFium is not thread-safe: uploads (the loader) and the UI's page viewer take one lock, so they
can run on many threads at once and give exactly what they give alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from index.loaders import load_file
from tests.unit.test_loaders import make_pdf
from ui.viewer import render_pdf_page


def test_loading_and_rendering_pdfs_from_many_threads_at_once(tmp_path: Path) -> None:
    pdfs = [make_pdf(tmp_path / f"manual-{n}.pdf", [[f"Page {p} of manual {n}: the pump runs at {p * n} rpm."
                                                      for _ in range(30)] for p in range(1, 5)])
            for n in range(1, 4)]
    texts = {path: load_file(path).text for path in pdfs}
    images = {path: np.asarray(render_pdf_page(path, 2, "the pump runs")) for path in pdfs}

    def load(path: Path) -> bool:
        return load_file(path).text == texts[path]

    def render(path: Path) -> bool:
        return bool(np.array_equal(np.asarray(render_pdf_page(path, 2, "the pump runs")), images[path]))

    with ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(load if i % 2 else render, pdfs[i % len(pdfs)]) for i in range(80)]
        assert all(job.result() for job in jobs)
