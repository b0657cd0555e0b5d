"""Training loss curves of the main table's methods (every stage, in order) in one figure.

Alone: python scripts/plot_training_loss.py --config config/test.yaml
"""

from citi import paths
from citi.cli import run


def main(config, png=None):
    from citi.tables import spec
    from citi.training.curves import plot

    curves = {f"{model}: {label}": folders for model, label, folders in spec.training_curves(config)}
    summary = plot(curves, png or paths.TRAINING_LOSS_PLOT, f"Training loss — {config.get('name')}")
    for label, s in summary.items():
        print(f"{label}: CE {s['first']} -> {s['last']} over {s['steps']:.0f} steps")


if __name__ == "__main__":
    run(main, globals(), outputs=("png",))
