//! A strict reader for numeric tables: every error names the file, the line and the column.
//!
//! Accepted: a header row, comma-separated fields, optional double quotes around a field,
//! blank lines ignored, LF or CRLF line ends. Rejected with a message: an empty file, a header
//! without rows, rows with the wrong number of fields, empty, non-numeric, NaN or infinite
//! feature cells, values too large for 32-bit floats (the precision lossbench stores data in),
//! and class labels that are not class ids. Files with `;` separators or CR-only line ends get
//! a hint. Cells are parsed straight into floats (no string per cell), and the file's size is
//! checked against the memory budget before the table is allocated.

use super::{Labels, Table};
use crate::error::{truncate, Error, Result};
use crate::task::TaskKind;
use std::borrow::Cow;

/// Longest cell quoted in a message.
const CELL_IN_MESSAGE: usize = 40;
/// Longest target cell (a class name or a number).
pub const MAX_LABEL_BYTES: usize = 1024;

/// Target cells as read (text, one per row), with each row's line number.
#[derive(Default)]
pub struct TargetCells {
    text: String,
    ends: Vec<usize>,
    lines: Vec<usize>,
}

impl TargetCells {
    fn with_capacity(rows: usize) -> Self {
        TargetCells { text: String::new(), ends: Vec::with_capacity(rows), lines: Vec::with_capacity(rows) }
    }
    /// Add row `line`'s cell; labels longer than [`MAX_LABEL_BYTES`] are an error.
    pub fn push(&mut self, origin: &str, line: usize, cell: &str) -> Result<()> {
        if cell.len() > MAX_LABEL_BYTES {
            return Err(Error::input(format!(
                "{origin}:{line}: the target cell `{}` is {} bytes long; labels may have at most {MAX_LABEL_BYTES}",
                truncate(cell, CELL_IN_MESSAGE),
                cell.len()
            )));
        }
        self.text.push_str(cell);
        self.ends.push(self.text.len());
        self.lines.push(line);
        Ok(())
    }
    /// Bytes of label text held.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// (line, cell) of row `i`.
    pub fn get(&self, i: usize) -> (usize, &str) {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        (self.lines[i], &self.text[start..self.ends[i]])
    }
    fn iter(&self) -> impl Iterator<Item = (usize, &str)> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// A parsed table file: its header, the feature cells as floats (row-major, target column
/// left out) and the target cells as text.
pub struct Parsed {
    pub header: Vec<String>,
    pub target_column: usize,
    pub x: Vec<f32>,
    pub target: TargetCells,
}

/// Split one line into trimmed fields, reusing `out`.
fn split_fields<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) {
    out.clear();
    if !line.contains('"') {
        out.extend(line.split(',').map(|f| Cow::Borrowed(f.trim())));
        return;
    }
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
            ',' if !quoted => out.push(Cow::Owned(std::mem::take(&mut cur).trim().to_string())),
            _ => cur.push(ch),
        }
    }
    out.push(Cow::Owned(cur.trim().to_string()));
}

/// A hint for a file whose header did not parse into the expected columns.
fn separator_hint(head: &str) -> &'static str {
    if !head.contains(',') && head.contains(';') {
        " (the separator looks like `;`; lossbench reads comma-separated files: replace `;` with `,`)"
    } else if !head.contains(',') && head.contains('\t') {
        " (the separator looks like a tab; lossbench reads comma-separated files)"
    } else {
        ""
    }
}

/// The target column's index, or an error naming the columns.
fn target_index(header: &[String], head: &str, origin: &str, target: &str) -> Result<usize> {
    header.iter().position(|h| h == target).ok_or_else(|| {
        let hint = crate::registry::suggest(target, header.iter().map(String::as_str))
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        let columns: Vec<String> = header.iter().map(|h| truncate(h, CELL_IN_MESSAGE)).collect();
        Error::input(format!(
            "{origin}: no column named `{target}`; {hint}(columns: {}){}",
            truncate(&columns.join(", "), 400),
            separator_hint(head)
        ))
    })
}

/// Parse CSV text with `target` as the label column.
pub fn read(text: &str, origin: &str, target: &str) -> Result<Parsed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.contains('\n') && text.trim_end_matches('\r').contains('\r') {
        return Err(Error::input(format!(
            "{origin}: the line ends are CR only (classic Mac OS); convert them to LF or CRLF (e.g. `tr '\\r' '\\n'`)"
        )));
    }
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r'))).filter(|(_, l)| !l.trim().is_empty());
    let Some((_, head)) = lines.next() else {
        return Err(Error::input(format!("{origin}: the file is empty; expected a header row and data rows")));
    };
    let mut fields = Vec::new();
    split_fields(head, &mut fields);
    let header: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let t_col = target_index(&header, head, origin, target)?;
    let d = header.len() - 1;
    if d == 0 {
        return Err(Error::input(format!("{origin}: the file has only the target column; no features{}", separator_hint(head))));
    }
    let rows = text.bytes().filter(|&b| b == b'\n').count() + 1;
    super::check_size(rows as f64, d as f64).map_err(|e| e.at(origin))?;
    crate::memory::check(
        &format!("reading {origin} ({rows} rows × {d} features)"),
        text.len() as f64 + rows as f64 * (d as f64 * 4.0 + 24.0),
    )?;
    let mut x = Vec::with_capacity(rows * d);
    let mut targets = TargetCells::with_capacity(rows);
    for (line, row) in lines {
        split_fields(row, &mut fields);
        if fields.len() != header.len() {
            return Err(Error::input(format!(
                "{origin}:{line}: row has {} fields but the header has {} ({}){}",
                fields.len(),
                header.len(),
                truncate(&header.join(","), 200),
                separator_hint(row)
            )));
        }
        for (c, cell) in fields.iter().enumerate() {
            if c == t_col {
                targets.push(origin, line, cell)?;
            } else {
                x.push(parse_cell(cell, origin, line, &header[c], c)?);
            }
        }
    }
    if targets.is_empty() {
        return Err(Error::input(format!("{origin}: the file has a header but no data rows")));
    }
    Ok(Parsed { header, target_column: t_col, x, target: targets })
}

/// Parse one feature cell, rejecting empty, non-numeric and non-finite values, and values a
/// 32-bit float cannot hold.
pub fn parse_cell(cell: &str, origin: &str, line: usize, column: &str, col_index: usize) -> Result<f32> {
    let place = || format!("{origin}:{line}: column {} (`{}`)", col_index + 1, truncate(column, CELL_IN_MESSAGE));
    if cell.is_empty() {
        return Err(Error::input(format!("{}: empty cell; every feature must be a number", place())));
    }
    let shown = || truncate(cell, CELL_IN_MESSAGE);
    let value: f64 = cell.parse().map_err(|_| Error::input(format!("{}: `{}` is not a number", place(), shown())))?;
    check_value(value, shown, place)
}

/// A finite value that fits a 32-bit float, as one; `shown` and `place` name it in errors.
pub fn check_value(value: f64, shown: impl Fn() -> String, place: impl Fn() -> String) -> Result<f32> {
    // Values just above f32::MAX that round to it are kept (as the conversion always did).
    if value.is_finite() && (value as f32).is_finite() {
        return Ok(value as f32);
    }
    let (shown, place) = (shown(), place());
    if !value.is_finite() {
        return Err(Error::input(format!("{place}: `{shown}` is not a finite number (NaN and infinities are not allowed)")));
    }
    Err(Error::input(format!(
        "{place}: `{shown}` does not fit in a 32-bit float (largest magnitude {:e}), the precision lossbench stores data in; rescale the column",
        f32::MAX
    )))
}

/// How the target column is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TargetMode {
    /// Class ids `0..classes`; `classes` = `None` means max id + 1. Text labels are mapped to
    /// ids in sorted order.
    Classes(Option<usize>),
    Values,
}

/// Class ids of the target cells: numeric ids as given, or text labels in sorted order.
fn class_ids(cells: &TargetCells, origin: &str, target: &str, col: usize) -> Result<Vec<u32>> {
    let place = |line: usize| format!("{origin}:{line}: column {col} (`{target}`)");
    if cells.iter().all(|(_, c)| c.parse::<f64>().is_ok()) {
        let mut ids = Vec::with_capacity(cells.len());
        for (line, cell) in cells.iter() {
            let v: f64 = cell.parse().unwrap_or(f64::NAN);
            if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < u32::MAX as f64) {
                return Err(Error::input(format!(
                    "{}: label `{}` is not a class id; expected 0, 1, 2, …",
                    place(line),
                    truncate(cell, CELL_IN_MESSAGE)
                )));
            }
            ids.push(v as u32);
        }
        return Ok(ids);
    }
    if let Some((line, _)) = cells.iter().find(|(_, c)| c.is_empty()) {
        return Err(Error::input(format!("{}: empty label", place(line))));
    }
    let mut names: Vec<&str> = cells.iter().map(|(_, c)| c).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() > super::MAX_CLASSES {
        return Err(Error::input(format!(
            "{origin}: column `{target}` has {} distinct labels; the limit is {}",
            names.len(),
            super::MAX_CLASSES
        )));
    }
    Ok(cells.iter().map(|(_, c)| names.binary_search(&c).unwrap_or(0) as u32).collect())
}

/// The number of classes of `ids`, checked against a declared count.
fn class_count(ids: &[u32], cells: &TargetCells, declared: Option<usize>, origin: &str, target: &str, col: usize) -> Result<usize> {
    let max_id = ids.iter().copied().max().unwrap_or(0) as usize;
    if max_id >= super::MAX_CLASSES {
        let pos = ids.iter().position(|&y| y as usize == max_id).unwrap_or(0);
        return Err(Error::input(format!(
            "{origin}:{}: column {col} (`{target}`): label {max_id} is too large; class ids must be below {} (use 0, 1, 2, … for the classes)",
            cells.get(pos).0,
            super::MAX_CLASSES
        )));
    }
    let distinct: std::collections::BTreeSet<u32> = ids.iter().copied().collect();
    if distinct.len() < 2 {
        return Err(Error::input(format!("{origin}: column `{target}` has a single class; classification needs at least 2")));
    }
    match declared {
        Some(k) => match ids.iter().position(|&y| y as usize >= k) {
            Some(pos) => Err(Error::input(format!(
                "{origin}:{}: column {col} (`{target}`): label {} is out of range; `classes` is {k}, so labels must be 0..{}",
                cells.get(pos).0,
                ids[pos],
                k - 1
            ))),
            None => Ok(k),
        },
        None => Ok(max_id + 1),
    }
}

/// Turn a parsed file into a table, reading the target column as `mode` says.
pub fn to_table(parsed: Parsed, origin: &str, mode: TargetMode) -> Result<(Table, TaskKind)> {
    let d = parsed.header.len() - 1;
    let target = truncate(&parsed.header[parsed.target_column], CELL_IN_MESSAGE);
    let col = parsed.target_column + 1;
    let cells = &parsed.target;
    match mode {
        TargetMode::Values => {
            let mut data = Vec::with_capacity(cells.len());
            for (line, cell) in cells.iter() {
                data.push(parse_cell(cell, origin, line, &target, parsed.target_column)?);
            }
            Ok((Table { x: parsed.x, d, y: Labels::Values { data, k: 1 } }, TaskKind::Regression { outputs: 1 }))
        }
        TargetMode::Classes(declared) => {
            let ids = class_ids(cells, origin, &target, col)?;
            let classes = class_count(&ids, cells, declared, origin, &target, col)?;
            Ok((Table { x: parsed.x, d, y: Labels::Classes(ids) }, TaskKind::Classification { classes }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, mode: TargetMode) -> String {
        match read(text, "f.csv", "y").and_then(|c| to_table(c, "f.csv", mode)) {
            Ok(_) => panic!("accepted {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_numeric_and_text_labels() {
        let csv = read("a,b,y\n1,2,0\n3,4.5,2\n", "f.csv", "y").unwrap();
        let (t, kind) = to_table(csv, "f.csv", TargetMode::Classes(None)).unwrap();
        assert_eq!(kind, TaskKind::Classification { classes: 3 });
        assert_eq!(t.x, vec![1.0, 2.0, 3.0, 4.5]);
        let csv = read("a,y\n1,cat\n2,dog\r\n3,\"cat\"\n", "f.csv", "y").unwrap();
        let (t, _) = to_table(csv, "f.csv", TargetMode::Classes(None)).unwrap();
        assert_eq!(t.y, Labels::Classes(vec![0, 1, 0]));
        let csv = read("y,a\n0,\"1\"\n1,2\n", "f.csv", "y").unwrap();
        assert_eq!(csv.x, vec![1.0, 2.0]);
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

    #[test]
    fn values_that_f32_cannot_hold_long_cells_and_foreign_formats_get_clear_errors() {
        let e = err("a,y\n1,0\n1e39,1\n", TargetMode::Classes(None));
        assert!(e.contains("f.csv:3: column 1 (`a`): `1e39` does not fit in a 32-bit float"), "{e}");
        assert!(err("a,y\n1,1e39\n", TargetMode::Values).contains("`1e39` does not fit"));
        let long = "x".repeat(1 << 20);
        let e = err(&format!("a,y\n{long},1\n"), TargetMode::Values);
        assert!(e.len() < 300 && e.contains("bytes in all"), "{} bytes", e.len());
        let e = err("a;b;y\n1;2;0\n", TargetMode::Values);
        assert!(e.contains("separator looks like `;`"), "{e}");
        let e = err("a,y\r1,0\r2,1\r", TargetMode::Values);
        assert!(e.contains("CR only"), "{e}");
    }
}
