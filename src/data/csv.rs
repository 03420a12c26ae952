//! A strict CSV reader for numeric tables: every error names the file, the line and the column.
//!
//! Accepted: a header row, comma-separated fields, optional double quotes around a field,
//! blank lines ignored. Rejected with a message: an empty file, a header without rows, rows
//! with the wrong number of fields, empty, non-numeric, NaN or infinite feature cells, and
//! class labels that are not class ids.

use super::{Labels, Table};
use crate::error::{Error, Result};
use crate::task::TaskKind;

/// A parsed CSV: header and rows of raw fields with their 1-based line numbers.
pub struct RawCsv {
    pub header: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

fn split_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    fields.push(cur);
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

/// Split CSV text into header and rows, checking that every row has as many fields as the header.
pub fn read(text: &str, origin: &str) -> Result<RawCsv> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r'))).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, head)) = lines.next() else {
        return Err(Error::input(format!("{origin}: the file is empty; expected a header row and data rows")));
    };
    let header = split_fields(head);
    let mut rows = Vec::new();
    for (line, text) in lines {
        let fields = split_fields(text);
        if fields.len() != header.len() {
            return Err(Error::input(format!(
                "{origin}:{line}: row has {} fields but the header has {} ({})",
                fields.len(),
                header.len(),
                header.join(",")
            )));
        }
        rows.push((line, fields));
    }
    if rows.is_empty() {
        return Err(Error::input(format!("{origin}: the file has a header but no data rows")));
    }
    Ok(RawCsv { header, rows })
}

/// Parse one feature cell, rejecting empty, non-numeric and non-finite values.
pub fn parse_cell(cell: &str, origin: &str, line: usize, column: &str, col_index: usize) -> Result<f32> {
    let place = || format!("{origin}:{line}: column {} (`{column}`)", col_index + 1);
    if cell.is_empty() {
        return Err(Error::input(format!("{}: empty cell; every feature must be a number", place())));
    }
    let value: f64 = cell.parse().map_err(|_| Error::input(format!("{}: `{cell}` is not a number", place())))?;
    if !value.is_finite() {
        return Err(Error::input(format!("{}: `{cell}` is not a finite number (NaN and infinities are not allowed)", place())));
    }
    Ok(value as f32)
}

/// How the target column is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetMode {
    /// Class ids `0..classes`; `classes` = `None` means max id + 1. Text labels are mapped to
    /// ids in sorted order.
    Classes(Option<usize>),
    Values,
}

/// Turn a parsed CSV into a table, taking `target` (a column name) as the label column.
pub fn to_table(csv: &RawCsv, origin: &str, target: &str, mode: TargetMode) -> Result<(Table, TaskKind)> {
    let Some(t_col) = csv.header.iter().position(|h| h == target) else {
        let hint = crate::registry::suggest(target, csv.header.iter().map(String::as_str))
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        return Err(Error::input(format!("{origin}: no column named `{target}`; {hint}(columns: {})", csv.header.join(", "))));
    };
    let d = csv.header.len() - 1;
    if d == 0 {
        return Err(Error::input(format!("{origin}: the file has only the target column; no features")));
    }
    let mut x = Vec::with_capacity(csv.rows.len() * d);
    for (line, fields) in &csv.rows {
        for (c, cell) in fields.iter().enumerate() {
            if c != t_col {
                x.push(parse_cell(cell, origin, *line, &csv.header[c], c)?);
            }
        }
    }
    let cells: Vec<(usize, &str)> = csv.rows.iter().map(|(l, f)| (*l, f[t_col].as_str())).collect();
    match mode {
        TargetMode::Values => {
            let mut data = Vec::with_capacity(cells.len());
            for (line, cell) in cells {
                data.push(parse_cell(cell, origin, line, target, t_col)?);
            }
            Ok((Table { x, d, y: Labels::Values { data, k: 1 } }, TaskKind::Regression { outputs: 1 }))
        }
        TargetMode::Classes(declared) => {
            let numeric: Option<Vec<f64>> = cells.iter().map(|(_, c)| c.parse::<f64>().ok()).collect();
            let ids: Vec<u32> = match numeric {
                Some(values) => {
                    let mut ids = Vec::with_capacity(values.len());
                    for ((line, cell), v) in cells.iter().zip(values) {
                        if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u32::MAX as f64) {
                            return Err(Error::input(format!(
                                "{origin}:{line}: column {} (`{target}`): label `{cell}` is not a class id; expected 0, 1, 2, …",
                                t_col + 1
                            )));
                        }
                        ids.push(v as u32);
                    }
                    ids
                }
                None => {
                    let mut names: Vec<&str> = cells.iter().map(|(_, c)| *c).collect();
                    names.sort_unstable();
                    names.dedup();
                    if let Some((line, _)) = cells.iter().find(|(_, c)| c.is_empty()) {
                        return Err(Error::input(format!("{origin}:{line}: column {} (`{target}`): empty label", t_col + 1)));
                    }
                    cells.iter().map(|(_, c)| names.binary_search(c).unwrap_or(0) as u32).collect()
                }
            };
            let max_id = ids.iter().copied().max().unwrap_or(0) as usize;
            if max_id >= super::MAX_CLASSES {
                let pos = ids.iter().position(|&y| y as usize == max_id).unwrap_or(0);
                return Err(Error::input(format!(
                    "{origin}:{}: column {} (`{target}`): label {max_id} is too large; class ids must be below {} (use 0, 1, 2, … for the classes)",
                    cells[pos].0,
                    t_col + 1,
                    super::MAX_CLASSES
                )));
            }
            let distinct: std::collections::BTreeSet<u32> = ids.iter().copied().collect();
            if distinct.len() < 2 {
                return Err(Error::input(format!("{origin}: column `{target}` has a single class; classification needs at least 2")));
            }
            let classes = match declared {
                Some(k) => {
                    if let Some(pos) = ids.iter().position(|&y| y as usize >= k) {
                        let line = cells[pos].0;
                        return Err(Error::input(format!(
                            "{origin}:{line}: column {} (`{target}`): label {} is out of range; `classes` is {k}, so labels must be 0..{}",
                            t_col + 1,
                            ids[pos],
                            k - 1
                        )));
                    }
                    k
                }
                None => max_id + 1,
            };
            if classes < 2 {
                return Err(Error::input(format!("{origin}: column `{target}` has a single class; classification needs at least 2")));
            }
            Ok((Table { x, d, y: Labels::Classes(ids) }, TaskKind::Classification { classes }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, mode: TargetMode) -> String {
        match read(text, "f.csv").and_then(|c| to_table(&c, "f.csv", "y", mode)) {
            Ok(_) => panic!("accepted {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_numeric_and_text_labels() {
        let csv = read("a,b,y\n1,2,0\n3,4.5,2\n", "f.csv").unwrap();
        let (t, kind) = to_table(&csv, "f.csv", "y", TargetMode::Classes(None)).unwrap();
        assert_eq!(kind, TaskKind::Classification { classes: 3 });
        assert_eq!(t.x, vec![1.0, 2.0, 3.0, 4.5]);
        let csv = read("a,y\n1,cat\n2,dog\n3,cat\n", "f.csv").unwrap();
        let (t, _) = to_table(&csv, "f.csv", "y", TargetMode::Classes(None)).unwrap();
        assert_eq!(t.y, Labels::Classes(vec![0, 1, 0]));
    }

    #[test]
    fn malformed_input_names_line_and_column() {
        assert!(err("", TargetMode::Values).contains("empty"));
        assert!(err("a,y\n", TargetMode::Values).contains("no data rows"));
        assert!(err("a,y\n1,2\n3\n", TargetMode::Values).contains("f.csv:3: row has 1 fields"));
        assert!(err("a,y\n1,2\nNaN,3\n", TargetMode::Values).contains("f.csv:3: column 1 (`a`)"));
        assert!(err("a,y\nx1,2\n", TargetMode::Values).contains("`x1` is not a number"));
        assert!(err("a,y\n1,-1\n2,0\n", TargetMode::Classes(None)).contains("not a class id"));
        assert!(err("a,y\n1,5\n2,0\n", TargetMode::Classes(Some(3))).contains("out of range"));
        assert!(err("a,z\n1,5\n", TargetMode::Values).contains("no column named `y`"));
    }
}
