"""Tables of numeric and categorical columns (kind ``"table"``, fields ``numeric`` and ``categorical``): the column
spec (``columns``), the fitted standardization (``scaler.TableScaler``), the CSV renderer (``render.TableCSV``) and
the independent-marginals baseline (``marginals.TableMarginals``)."""

from genlab.columns import Column
from genlab.models.tabular.ctgan import CTGAN, CTGANConfig
from genlab.models.tabular.marginals import TableMarginals, TableMarginalsConfig, TableOutput
from genlab.models.tabular.render import TableCSV
from genlab.models.tabular.scaler import TableScaler

__all__ = ["CTGAN", "CTGANConfig", "Column", "TableCSV", "TableMarginals", "TableMarginalsConfig", "TableOutput",
           "TableScaler"]
