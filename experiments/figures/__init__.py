"""Figures in one house style: ``style`` (colours, line styles, sizes), ``canvas`` (a figure,
its legend and axes), ``save`` (a run's figures drawn from its record and saved) and
``sweep`` (final metrics against each swept key)."""
