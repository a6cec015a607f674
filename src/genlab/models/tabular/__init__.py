"""Tables of numeric and categorical columns (kind ``"table"``, fields ``numeric`` and ``categorical``; the column
spec is ``genlab.columns``): the fitted standardization (``scaler.TableScaler``), CTGAN's mode-specific
normalization (``modes.TableModes``) and conditional sampler (``conditional``), the CSV renderer
(``render.TableCSV``), and the synthesizers: independent marginals (``marginals``), the Gaussian copula (``copula``),
CTGAN (``ctgan``) and TVAE (``tvae``), G10."""

from genlab.columns import Column
from genlab.models.tabular.copula import GaussianCopula, GaussianCopulaConfig
from genlab.models.tabular.ctgan import CTGAN, CTGANConfig
from genlab.models.tabular.marginals import TableMarginals, TableMarginalsConfig, TableOutput
from genlab.models.tabular.render import TableCSV
from genlab.models.tabular.scaler import TableScaler
from genlab.models.tabular.tvae import TVAE, TVAEConfig

__all__ = ["CTGAN", "CTGANConfig", "Column", "GaussianCopula", "GaussianCopulaConfig", "TVAE", "TVAEConfig",
           "TableCSV", "TableMarginals", "TableMarginalsConfig", "TableOutput", "TableScaler"]
