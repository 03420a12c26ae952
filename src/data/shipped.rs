//! The small real datasets shipped in `datasets/` (embedded in the binary at build time, so
//! lossbench runs from any folder without network). Provenance, licence and checksums:
//! `datasets/README.md`; produced by `scripts/export_datasets.py` from scikit-learn.

use super::csv::{self, TargetMode};
use super::{DatasetInfo, RawData, Source};
use crate::error::Result;
use crate::registry::{parse_params, Validate};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {}
impl Validate for Params {}

struct Shipped {
    file: &'static str,
    text: &'static str,
    target: &'static str,
    regression: bool,
    kind: TaskKind,
}

impl Source for Shipped {
    fn kind(&self) -> TaskKind {
        self.kind
    }
    fn load(&self, _seed: u64) -> Result<RawData> {
        let origin = format!("datasets/{}", self.file);
        let raw = csv::read(self.text, &origin)?;
        let mode = if self.regression { TargetMode::Values } else { TargetMode::Classes(None) };
        let (rows, kind) = csv::to_table(&raw, &origin, self.target, mode)?;
        Ok(RawData {
            kind,
            input: super::InputKind::Dense { features: rows.d },
            rows,
            fixed_split: None,
            standardize_by_default: true,
            noisy: Vec::new(),
            clean_labels: None,
        })
    }
}

macro_rules! shipped {
    ($static:ident, $build:ident, $name:literal, $file:literal, $target:literal, $regression:expr, $kind:expr, $summary:literal) => {
        fn $build(params: &serde_json::Value, _: &std::path::Path) -> crate::registry::Built<dyn Source> {
            let (_, canonical) = parse_params::<Params>(params)?;
            let source = Shipped {
                file: $file,
                text: include_str!(concat!("../../datasets/", $file)),
                target: $target,
                regression: $regression,
                kind: $kind,
            };
            Ok((Arc::new(source), canonical))
        }
        pub static $static: DatasetInfo = DatasetInfo {
            name: $name,
            summary: $summary,
            family: if $regression { "regression" } else { "classification" },
            reference: "scikit-learn's bundled copy of the UCI dataset; see datasets/README.md",
            params: &[],
            build: $build,
        };
    };
}

shipped!(
    IRIS,
    build_iris,
    "iris",
    "iris.csv",
    "label",
    false,
    TaskKind::Classification { classes: 3 },
    "Fisher's iris: 150 flowers, 4 measurements, 3 species"
);
shipped!(
    WINE,
    build_wine,
    "wine",
    "wine.csv",
    "label",
    false,
    TaskKind::Classification { classes: 3 },
    "UCI wine recognition: 178 wines, 13 chemical features, 3 cultivars"
);
shipped!(
    BREAST_CANCER,
    build_breast_cancer,
    "breast_cancer",
    "breast_cancer.csv",
    "label",
    false,
    TaskKind::Classification { classes: 2 },
    "Wisconsin diagnostic breast cancer: 569 tumours, 30 features, malignant/benign (37/63)"
);
shipped!(
    DIGITS,
    build_digits,
    "digits",
    "digits.csv",
    "label",
    false,
    TaskKind::Classification { classes: 10 },
    "UCI optical digits: 1797 8x8 grey images (values 0-16), 10 classes"
);
shipped!(
    DIABETES,
    build_diabetes,
    "diabetes",
    "diabetes.csv",
    "target",
    true,
    TaskKind::Regression { outputs: 1 },
    "Efron et al. diabetes: 442 patients, 10 baseline features, disease progression after one year"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_shapes_match_the_originals() {
        let here = std::path::Path::new(".");
        for (info, n, d) in [(&IRIS, 150, 4), (&WINE, 178, 13), (&BREAST_CANCER, 569, 30), (&DIGITS, 1797, 64), (&DIABETES, 442, 10)] {
            let (src, _) = (info.build)(&serde_json::Value::Null, here).unwrap();
            let raw = src.load(0).unwrap();
            assert_eq!((raw.rows.len(), raw.rows.d), (n, d), "{}", info.name);
        }
    }
}
