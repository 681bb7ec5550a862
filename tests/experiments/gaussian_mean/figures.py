"""The tiny kind's one figure: the loss of every member against the step."""

from __future__ import annotations

from experiments.figures.canvas import new_figure


def draw(record):
    def loss():
        figure = new_figure(1, 1, (4.0, 3.0))
        (ax,) = figure.axes
        for run in record.runs:
            steps, values = record.history[run["member"]]["train"]["loss"]
            ax.plot(steps, values, label=f"member {run['member']}")
        ax.set(xlabel="step", ylabel="½(μ − x)² (squared units)", yscale="log")
        ax.legend()
        return figure

    return {"loss": loss}
