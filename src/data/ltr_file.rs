//! The user's own learning-to-rank data: a LETOR / SVMlight text file (`letor`), or a CSV file
//! with a query-id and a relevance column (`ltr_csv`), grouped into one list per query.
//!
//! ```yaml
//! dataset: { name: letor, path: data/train.txt }                    # rel qid:ID 1:v 2:v … # comment
//! dataset: { name: ltr_csv, path: my.csv, qid: qid, relevance: relevance }
//! ```
//! LETOR lines are `relevance qid:ID index:value …` (indices from 1, missing features 0, `#`
//! starts a comment), as sklearn's `load_svmlight_file(query_id=True)` reads them for allRank.
//! A query's documents need not be contiguous; queries keep the order of their first document,
//! documents their file order. Every list is padded to the longest (zero features, relevance
//! −1, as allRank pads); `max_items` bounds that length. Relevance must be a finite number ≥ 0.
//! Features are used as they are (LETOR files usually come query-normalised). As with `csv`,
//! the file's SHA-256 joins the run's identity, and `sha256:` pins it.

use super::ltr_synth::PADDING;
use super::{DatasetInfo, InputKind, Labels, RawData, Source, Table};
use crate::error::{Error, Result};
use crate::registry::{parse_params, ParamDoc, Validate};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    path: PathBuf,
    /// CSV only: the query-id and relevance columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    qid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relevance: Option<String>,
    #[serde(default = "default_max_items")]
    max_items: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

fn default_max_items() -> usize {
    1000
}

/// Largest feature index a LETOR file may use.
const MAX_FEATURES: usize = 100_000;

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        crate::registry::check_range("max_items", self.max_items as f64, 2.0, 10_000.0)?;
        super::user_file::check_pin(self.sha256.as_deref())
    }
}

/// One document: its query, relevance and dense features.
struct Doc {
    qid: String,
    relevance: f32,
    features: Vec<f32>,
}

/// A file's documents and their number of features.
type Parsed = (Vec<Doc>, usize);

/// Parses a file's text (`text`, `origin`, the dataset's parameters) into documents.
type Parser = fn(&str, &str, &Params) -> Result<Parsed>;

/// The documents grouped into padded lists.
fn lists(docs: Vec<Doc>, d: usize, max_items: usize, origin: &str) -> Result<RawData> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: std::collections::HashMap<String, Vec<Doc>> = Default::default();
    for doc in docs {
        if !groups.contains_key(&doc.qid) {
            order.push(doc.qid.clone());
        }
        groups.entry(doc.qid.clone()).or_default().push(doc);
    }
    if order.len() < 2 {
        return Err(Error::input(format!("{origin}: {} queries; a ranking task needs at least 2", order.len())));
    }
    let longest = groups.values().map(Vec::len).max().unwrap_or(0).max(2);
    if let Some((qid, g)) = groups.iter().find(|(_, g)| g.len() > max_items) {
        return Err(Error::input(format!(
            "{origin}: query `{}` has {} documents, above max_items = {max_items} (raise it, up to 10000)",
            crate::error::truncate(qid, 40),
            g.len()
        )));
    }
    super::check_size(order.len() as f64, (longest * d) as f64)?;
    let (mut x, mut y) = (Vec::with_capacity(order.len() * longest * d), Vec::with_capacity(order.len() * longest));
    for qid in &order {
        let g = &groups[qid];
        for doc in g {
            x.extend(&doc.features);
            y.push(doc.relevance);
        }
        x.extend(std::iter::repeat_n(0.0, (longest - g.len()) * d));
        y.extend(std::iter::repeat_n(PADDING, longest - g.len()));
    }
    let rows = Table { x, d: longest * d, y: Labels::Values { data: y, k: longest } };
    let kind = TaskKind::Ranking { items: longest, features: d };
    Ok(RawData { input: InputKind::Items { items: longest, features: d }, standardize_by_default: false, ..RawData::dense(kind, rows) })
}

/// A relevance cell: a finite number ≥ 0.
fn relevance(cell: &str, place: impl Fn() -> String) -> Result<f32> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v <= f32::MAX as f64 => Ok(v as f32),
        _ => Err(Error::input(format!("{}: relevance `{}` is not a finite number ≥ 0", place(), crate::error::truncate(cell, 40)))),
    }
}

/// Parse LETOR / SVMlight text.
fn parse_letor(text: &str, origin: &str) -> Result<Parsed> {
    let mut docs = Vec::new();
    let mut d = 0;
    for (n, line) in text.lines().enumerate() {
        let place = || format!("{origin}:{}", n + 1);
        let content = line.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut tokens = content.split_whitespace();
        let rel = relevance(tokens.next().unwrap_or(""), place)?;
        let qid = tokens.next().and_then(|t| t.strip_prefix("qid:")).filter(|q| !q.is_empty()).ok_or_else(|| {
            Error::input(format!("{}: expected `qid:ID` after the relevance (LETOR lines are `rel qid:ID 1:v 2:v …`)", place()))
        })?;
        let mut features: Vec<(usize, f32)> = Vec::new();
        for token in tokens {
            let (index, value) =
                token.split_once(':').ok_or_else(|| Error::input(format!("{}: `{token}` is not `index:value`", place())))?;
            let index: usize =
                index.parse().ok().filter(|i| (1..=MAX_FEATURES).contains(i)).ok_or_else(|| {
                    Error::input(format!("{}: feature index `{index}` must be an integer in 1..={MAX_FEATURES}", place()))
                })?;
            let v = super::csv::parse_cell(value, origin, n + 1, &format!("feature {index}"), index - 1)?;
            features.push((index, v));
            d = d.max(index);
        }
        docs.push((qid.to_string(), rel, features));
    }
    let dense = docs
        .into_iter()
        .map(|(qid, relevance, sparse)| {
            let mut features = vec![0.0; d];
            sparse.into_iter().for_each(|(i, v)| features[i - 1] = v);
            Doc { qid, relevance, features }
        })
        .collect();
    Ok((dense, d.max(1)))
}

/// Parse CSV with a query-id and a relevance column; every other column is a feature.
fn parse_csv(text: &str, origin: &str, qid: &str, rel: &str) -> Result<Parsed> {
    let parsed = super::csv::read(text, origin, rel)?;
    let without_target: Vec<&String> =
        parsed.header.iter().enumerate().filter(|(i, _)| *i != parsed.target_column).map(|(_, h)| h).collect();
    let q = without_target.iter().position(|h| *h == qid).ok_or_else(|| {
        Error::input(format!(
            "{origin}: no column named `{qid}` for the query ids (columns: {})",
            crate::error::truncate(&parsed.header.join(", "), 300)
        ))
    })?;
    let width = without_target.len();
    let mut docs = Vec::with_capacity(parsed.target.len());
    for (row, features) in parsed.x.chunks_exact(width.max(1)).enumerate() {
        let (line, cell) = parsed.target.get(row);
        let relevance = relevance(cell, || format!("{origin}:{line}: column `{rel}`"))?;
        let mut f = features.to_vec();
        let id = f.remove(q);
        // Ids are read as 32-bit floats, exact for integers up to 2^24.
        if id.fract() != 0.0 || id.abs() > 16_777_216.0 {
            return Err(Error::input(format!(
                "{origin}:{line}: column `{qid}`: query id {id} must be an integer of at most 16777216 (renumber the queries)"
            )));
        }
        docs.push(Doc { qid: id.to_string(), relevance, features: f });
    }
    Ok((docs, width.saturating_sub(1).max(1)))
}

struct ListSource(RawData);

impl Source for ListSource {
    fn kind(&self) -> TaskKind {
        self.0.kind
    }
    fn load(&self, _seed: u64) -> Result<RawData> {
        Ok(self.0.clone())
    }
}

/// Read the file at `params.path` and build its lists with `parse`.
fn build_with(value: &serde_json::Value, base: &Path, parse: Parser) -> crate::registry::Built<dyn Source> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let path = super::user_file::resolve_path(&params.path, base);
    let origin = path.display().to_string();
    let (bytes, canonical) = super::user_file::read_file(params.sha256.as_deref(), canonical, &path)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::input(format!("{origin}: not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    let (docs, d) = parse(&text, &origin, &params)?;
    if docs.is_empty() {
        return Err(Error::input(format!("{origin}: no documents")));
    }
    Ok((Arc::new(ListSource(lists(docs, d, params.max_items, &origin)?)), canonical))
}

fn build_letor(value: &serde_json::Value, base: &Path) -> crate::registry::Built<dyn Source> {
    build_with(value, base, |text, origin, params| {
        if params.qid.is_some() || params.relevance.is_some() {
            return Err(Error::input("`qid` and `relevance` name CSV columns; a LETOR file has them on every line"));
        }
        parse_letor(text, origin)
    })
}

fn build_csv(value: &serde_json::Value, base: &Path) -> crate::registry::Built<dyn Source> {
    build_with(value, base, |text, origin, params| {
        parse_csv(text, origin, params.qid.as_deref().unwrap_or("qid"), params.relevance.as_deref().unwrap_or("relevance"))
    })
}

const PARAMS: &[ParamDoc] = &[
    ParamDoc { name: "path", meaning: "file path, relative to the recipe's folder", range: "existing file", default: "(required)" },
    ParamDoc { name: "qid", meaning: "ltr_csv: the query-id column (numbers)", range: "a column of the file", default: "qid" },
    ParamDoc { name: "relevance", meaning: "ltr_csv: the relevance column", range: "a column of the file", default: "relevance" },
    ParamDoc {
        name: "max_items",
        meaning: "most documents a query may have (lists are padded to the longest)",
        range: "2..10000",
        default: "1000",
    },
    ParamDoc {
        name: "sha256",
        meaning: "expected SHA-256 of the file; recorded in every run's config either way",
        range: "64 hex digits",
        default: "the file's",
    },
];

pub static LETOR: DatasetInfo = DatasetInfo {
    name: "letor",
    summary: "your own learning-to-rank file in LETOR / SVMlight format (rel qid:ID 1:v 2:v …), one list per query",
    family: "ranking",
    reference: "LETOR 4.0 / MSLR-WEB format, as sklearn load_svmlight_file(query_id=True) reads it for allRank",
    params: PARAMS,
    build: build_letor,
};

pub static LTR_CSV: DatasetInfo = DatasetInfo {
    name: "ltr_csv",
    summary: "your own learning-to-rank CSV: a query-id column, a relevance column, numeric features",
    family: "ranking",
    reference: "—",
    params: PARAMS,
    build: build_csv,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letor_lines_group_by_query_and_pad_to_the_longest_list() {
        let text = "2 qid:10 1:0.5 3:1.5 # doc a\n0 qid:10 2:2.0\n\n1 qid:7 1:1.0\n# a comment line\n3 qid:10 3:-1\n";
        let (docs, d) = parse_letor(text, "t.txt").unwrap();
        assert_eq!((docs.len(), d), (4, 3));
        let raw = lists(docs, d, 1000, "t.txt").unwrap();
        assert_eq!(raw.kind, TaskKind::Ranking { items: 3, features: 3 });
        let Labels::Values { data, k } = &raw.rows.y else { panic!() };
        assert_eq!((*k, data.as_slice()), (3, &[2.0, 0.0, 3.0, 1.0, PADDING, PADDING][..]), "query 10 first, its documents in file order");
        assert_eq!(&raw.rows.x[..9], &[0.5, 0.0, 1.5, 0.0, 2.0, 0.0, 0.0, 0.0, -1.0]);
        assert_eq!(&raw.rows.x[9..], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn bad_lines_name_the_file_line_and_what_is_allowed() {
        let cases = [
            ("x qid:1 1:0\n", "t.txt:1: relevance `x` is not a finite number ≥ 0"),
            ("1 1:0.5\n", "t.txt:1: expected `qid:ID`"),
            ("1 qid:1 1:0\n2 qid:1 0:3\n", "t.txt:2: feature index `0` must be an integer"),
            ("1 qid:1 1=3\n", "`1=3` is not `index:value`"),
            ("1 qid:1 1:abc\n", "t.txt:1: column 1 (`feature 1`): `abc` is not a number"),
            ("-1 qid:1 1:0\n", "relevance `-1` is not a finite number ≥ 0"),
        ];
        for (text, expected) in cases {
            let err = parse_letor(text, "t.txt").err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        let (docs, d) = parse_letor("1 qid:1 1:0\n", "t.txt").unwrap();
        assert!(lists(docs, d, 1000, "t.txt").unwrap_err().to_string().contains("1 queries; a ranking task needs at least 2"));
        let (docs, d) = parse_letor("1 qid:1 1:0\n0 qid:1 1:1\n0 qid:1 1:2\n1 qid:2 1:0\n", "t.txt").unwrap();
        assert!(lists(docs, d, 2, "t.txt").unwrap_err().to_string().contains("query `1` has 3 documents, above max_items = 2"));
    }

    #[test]
    fn csv_takes_the_query_and_relevance_columns_and_the_rest_as_features() {
        let text = "f1,qid,relevance,f2\n0.5,3,2,1.0\n0.1,3,0,2.0\n0.7,9,1,3.0\n";
        let (docs, d) = parse_csv(text, "t.csv", "qid", "relevance").unwrap();
        assert_eq!(d, 2);
        let raw = lists(docs, d, 1000, "t.csv").unwrap();
        let Labels::Values { data, .. } = &raw.rows.y else { panic!() };
        assert_eq!(data, &[2.0, 0.0, 1.0, PADDING]);
        assert_eq!(raw.rows.x, vec![0.5, 1.0, 0.1, 2.0, 0.7, 3.0, 0.0, 0.0]);
        let err = parse_csv(text, "t.csv", "query", "relevance").err().unwrap().to_string();
        assert!(err.contains("no column named `query`"), "{err}");
        let err = parse_csv("qid,relevance,f\n1.5,1,0\n", "t.csv", "qid", "relevance").err().unwrap().to_string();
        assert!(err.contains("t.csv:2: column `qid`: query id 1.5 must be an integer"), "{err}");
    }
}
