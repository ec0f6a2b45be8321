"""Write a notebook template from a list of (kind, source) cells: the study's notebooks are plain nbformat 4.5
with the first code cell tagged `parameters` (papermill).  Usage in a small script:
    from tools.nbgen import write; write("notebooks/x.ipynb", [("md", "# Title"), ("params", "..."), ("code", "...")])"""
import json
from pathlib import Path

META = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                          "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                          "pygments_lexer": "ipython3", "version": "3.11.7"}}


def _lines(src: str) -> list[str]:
    src = src.strip("\n")
    parts = src.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def write(path, cells) -> None:
    out = []
    for i, (kind, src) in enumerate(cells):
        if kind == "md":
            out.append({"cell_type": "markdown", "id": f"c{i:02d}", "metadata": {}, "source": _lines(src)})
        else:
            out.append({"cell_type": "code", "execution_count": None, "id": f"c{i:02d}",
                        "metadata": {"tags": ["parameters"]} if kind == "params" else {},
                        "outputs": [], "source": _lines(src)})
    nb = {"cells": out, "metadata": META, "nbformat": 4, "nbformat_minor": 5}
    Path(path).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
