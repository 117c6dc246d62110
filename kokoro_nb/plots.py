"""matplotlib figures for the notebooks. Each function draws data it is given (computed by
`kokoro_nb` functions that tests also call) and returns the figure."""

from __future__ import annotations

from collections import Counter

import matplotlib.pyplot as plt

# One colour per stress tier (`kokoro_nb.text.STRESS_SOURCES`), shared with the widgets.
SOURCE_COLOURS = {
    "marked": "#1f77b4",
    "yo": "#9467bd",
    "dictionary": "#2ca02c",
    "exception": "#ff7f0e",
    "heuristic": "#d62728",
    "monosyllable": "#7f7f7f",
    "none": "#bbbbbb",
}


def plot_phoneme_frequencies(counts: Counter, title: str = "Phoneme frequencies", top: int | None = None):
    """Bar chart of phoneme counts, most frequent first."""
    items = counts.most_common(top)
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(items)), 3.2))
    ax.bar(range(len(items)), [c for _, c in items], color="#4c72b0")
    ax.set_xticks(range(len(items)))
    ax.set_xticklabels([p for p, _ in items], fontsize=9)
    ax.set_ylabel("count")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_stress_sources(counts: Counter, title: str = "Which tier placed the stress"):
    """Horizontal bars: how many words each stress tier decided, in the tiers' colours."""
    items = counts.most_common()
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(items) + 1))
    ax.barh([s for s, _ in items], [c for _, c in items],
            color=[SOURCE_COLOURS.get(s, "#333") for s, _ in items])
    ax.invert_yaxis()
    ax.set_xlabel("words")
    ax.set_title(title)
    fig.tight_layout()
    return fig
