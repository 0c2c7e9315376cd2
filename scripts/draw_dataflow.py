"""Draws docs/img/dataflow.png, the README's picture of where each piece runs."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BOXES = {
    # name: (x, y, w, h, text, colour)
    "cam": (0.2, 3.0, 1.6, 0.9, "camera frames\nimage_raw / video / synth", "#dddddd"),
    "fa": (2.2, 3.0, 1.4, 0.9, "FA\ntop-K frames", "#9ecae1"),
    "sa": (3.9, 3.0, 1.4, 0.9, "SA\ntop-p pixels", "#9ecae1"),
    "enc": (5.6, 3.0, 1.6, 0.9, "codec.encode\nmask+values, zstd", "#9ecae1"),
    "dec": (5.6, 0.9, 1.6, 0.9, "codec.decode\nzero-fill + mask", "#fdae6b"),
    "fr": (3.9, 0.9, 1.4, 0.9, "FR\n3D U-Net + 3D-2D", "#fdae6b"),
    "vit": (2.2, 0.9, 1.4, 0.9, "video ViT\nclassify", "#fdae6b"),
    "lab": (0.2, 0.9, 1.6, 0.9, "ActionLabel\n+ LinkStats", "#dddddd"),
    "ctl": (7.7, 1.95, 1.7, 0.9, "controller_node\nplanner: (K, p)\nunder deadline", "#a1d99b"),
}
ARROWS = [("cam", "fa"), ("fa", "sa"), ("sa", "enc"), ("enc", "dec"), ("dec", "fr"), ("fr", "vit"), ("vit", "lab")]


def centre(name, side):
    x, y, w, h, *_ = BOXES[name]
    return {"r": (x + w, y + h / 2), "l": (x, y + h / 2), "b": (x + w / 2, y), "t": (x + w / 2, y + h)}[side]


def main(path="docs/img/dataflow.png"):
    fig, ax = plt.subplots(figsize=(10, 4.6))
    for x, y, w, h, text, colour in BOXES.values():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=colour, ec="#333333"))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)
    for a, b in ARROWS:
        if a == "enc":
            start, end, label = centre(a, "b"), centre(b, "t"), "SemanticClip over DDS\n(weak wireless link)"
        else:
            same_row = BOXES[a][1] == BOXES[b][1]
            forward = BOXES[a][0] < BOXES[b][0]
            start = centre(a, "r" if forward else "l") if same_row else centre(a, "b")
            end = centre(b, "l" if forward else "r") if same_row else centre(b, "t")
            label = None
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="#333333"))
        if label:
            ax.text(end[0] + 0.1, (start[1] + end[1]) / 2, label, fontsize=8, va="center")
    ax.add_patch(FancyArrowPatch((7.2, 1.35), (7.7, 2.2), arrowstyle="-|>", mutation_scale=12, color="#31a354",
                                 connectionstyle="arc3,rad=0.2"))
    ax.text(7.05, 1.6, "LinkStats", fontsize=8, color="#31a354")
    ax.add_patch(FancyArrowPatch((8.55, 2.85), (6.4, 3.95), arrowstyle="-|>", mutation_scale=12, color="#31a354",
                                 connectionstyle="arc3,rad=0.35"))
    ax.text(7.6, 3.9, "BudgetCommand (K, p)", fontsize=8, color="#31a354")
    ax.text(0.2, 4.25, "robot (Pi-class camera host): camera_node", fontsize=10, weight="bold")
    ax.text(0.2, 0.35, "edge (GPU host): edge_node, controller_node", fontsize=10, weight="bold")
    ax.set_xlim(0, 9.6)
    ax.set_ylim(0.2, 4.5)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
