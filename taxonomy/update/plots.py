"""The trend picture: papers per year for each top-level node, the corpus and the new papers stacked."""

from __future__ import annotations

import pandas as pd


def plot_trends(trends: pd.DataFrame, fh=None, ax=None):
    """Stacked bars per year and node: solid for the corpus, hatched for the new papers. Returns the axes."""
    from taxonomy.render.plotting import PALETTE, _pyplot

    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(9, 4.2), dpi=110)
    years = sorted(trends["year"].unique())
    sizes = trends.assign(total=trends["corpus"] + trends["new"]).groupby("name")["total"].sum()
    names = sizes.sort_values(ascending=False, kind="stable").index.tolist()
    bottom = pd.Series(0, index=years, dtype=float)
    for i, name in enumerate(names):
        part = trends[trends["name"] == name].set_index("year")[["corpus", "new"]].reindex(years, fill_value=0)
        colour = PALETTE[i % len(PALETTE)]
        ax.bar(years, part["corpus"], bottom=bottom, color=colour, label=name, width=0.8)
        bottom += part["corpus"]
        ax.bar(years, part["new"], bottom=bottom, color="white", edgecolor=colour, hatch="///", width=0.8)
        bottom += part["new"]
    ax.set_xlabel("year")
    ax.set_ylabel("papers")
    ax.set_xticks(years)
    ax.tick_params(axis="x", labelrotation=45)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper left", title="solid: corpus, hatched: new", title_fontsize=7)
    if own:
        fig.tight_layout()
        if fh is not None:
            fig.savefig(fh, format="png", metadata={"Software": None})
        plt.close(fig)
    return ax
