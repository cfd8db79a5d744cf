//! Stream metrics (filled in once the core's `StreamMetrics` lands).

use pyo3::prelude::*;

pub(crate) fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
