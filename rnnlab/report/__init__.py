"""Reports of a run: PNG figures and one self-contained HTML file.

The public API of the package is exactly what this module re-exports.
"""

from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_forecast, plot_losses

__all__ = ["Section", "Table", "plot_forecast", "plot_losses", "write_report"]
