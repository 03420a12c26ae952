//! The small real datasets shipped in `datasets/` (embedded in the binary at build time, so
//! lossbench runs from any folder without network). Provenance, licence and checksums:
//! `datasets/README.md`; produced by `scripts/export_datasets.py` from scikit-learn.
//!
//! Each file's SHA-256 is part of its dataset config (`sha256`), so runs on a re-exported file
//! are new runs; a test checks the embedded bytes against the digests of the README.

use super::csv::{self, TargetMode};
use super::{DatasetInfo, RawData, Source};
use crate::error::Result;
use crate::registry::{parse_params, Validate};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Expected SHA-256 of the shipped file (filled in when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}
impl Validate for Params {}

/// The canonical parameters of a shipped dataset: its file's digest, checked against a pin.
fn canonical_with_digest(name: &str, params: &Params, digest: &str) -> Result<serde_json::Value> {
    if let Some(pin) = &params.sha256 {
        if !pin.eq_ignore_ascii_case(digest) {
            return Err(crate::error::Error::input(format!(
                "parameter `sha256`: the shipped `{name}` has SHA-256 {digest}, not `{}`",
                crate::error::truncate(pin, 80)
            )));
        }
    }
    Ok(serde_json::json!({ "sha256": digest }))
}

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
        let parsed = csv::read(self.text, &origin, self.target)?;
        let mode = if self.regression { TargetMode::Values } else { TargetMode::Classes(None) };
        let (rows, kind) = csv::to_table(parsed, &origin, mode)?;
        Ok(RawData::dense(kind, rows))
    }
}

macro_rules! shipped {
    ($static:ident, $build:ident, $name:literal, $file:literal, $sha256:literal, $target:literal, $regression:expr, $kind:expr, $summary:literal) => {
        fn $build(params: &serde_json::Value, _: &std::path::Path) -> crate::registry::Built<dyn Source> {
            let (params, _) = parse_params::<Params>(params)?;
            let canonical = canonical_with_digest($name, &params, $sha256)?;
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
    "ff24e2b6860a13ad8bec751a97e261d3d74e58c7604c8ff7f3817a1039621085",
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
    "1432127a61b20dadcb6ecc67649461c2c6e99283022295e3fdcc590b0678388b",
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
    "5c3e458a6f8780b7dd2bc07e65dc975d149b6f8324cb7442a6ead4c5c9858d07",
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
    "b522872eb031d29820dc75db33f44fb9cdbf19edeb73ede95d54f00fb54b2824",
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
    "3b271426c1bd56aebb217e16eb31a4b0f5a5669fe59258d6c6c65411a115cd22",
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

    /// The digest in each dataset's config is that of the embedded bytes, and the README's.
    #[test]
    fn digests_are_the_embedded_files_and_the_readmes() {
        let readme = include_str!("../../datasets/README.md");
        let here = std::path::Path::new(".");
        for (info, text) in [
            (&IRIS, include_str!("../../datasets/iris.csv")),
            (&WINE, include_str!("../../datasets/wine.csv")),
            (&BREAST_CANCER, include_str!("../../datasets/breast_cancer.csv")),
            (&DIGITS, include_str!("../../datasets/digits.csv")),
            (&DIABETES, include_str!("../../datasets/diabetes.csv")),
        ] {
            let (_, canonical) = (info.build)(&serde_json::Value::Null, here).unwrap();
            let digest = crate::run::sha256_hex(text.as_bytes());
            assert_eq!(canonical["sha256"], digest.as_str(), "{}", info.name);
            assert!(readme.contains(&digest), "{}: {digest} not in datasets/README.md", info.name);
        }
        let pinned = serde_json::json!({"sha256": "00".repeat(32)});
        let e = (IRIS.build)(&pinned, here).err().unwrap().to_string();
        assert!(e.contains("has SHA-256 ff24e2b6"), "{e}");
    }
}
