//! Numeric CSV matrices (samples × columns), as `biodis score` and `biodis spatial` read them.
//!
//! One reader for every command, so that a file is read the same way everywhere:
//!
//! - the delimiter is detected from the first non-empty line: `,`, `;` or tab, whichever occurs
//!   there; a line holding several of them is refused as ambiguous; none means one column;
//! - a first line that is not all numbers is taken as a header of column names and reported in
//!   [`CsvMatrix::header`], so a data row is never dropped without a word (the caller says so);
//!   the header must have as many columns as the data;
//! - every later line must hold exactly as many numbers as the first data line; blank lines are
//!   skipped; cells are trimmed; `nan`, `inf` and exponents parse as Rust's `f64::from_str`;
//! - every error names the file, the line and the column.
//!
//! Memory is bounded by the text: the parsed matrix holds at most one `f64` per delimiter-
//! separated cell of the input.

use std::path::Path;

/// Why a CSV file could not be read as a numeric matrix. Every message starts with the file.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be read (or is not UTF-8 text).
    #[error("{path}: cannot read ({source})")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The first line holds more than one kind of delimiter.
    #[error("{path}: line {line} mixes the delimiters {found}; use one of ',', ';' or tab")]
    MixedDelimiters {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// The delimiters found on the line.
        found: String,
    },
    /// A line with another number of columns than the first data line.
    #[error("{path}: line {line}: {found} columns, expected {expected}")]
    Ragged {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// Columns on the line.
        found: usize,
        /// Columns of the first data line.
        expected: usize,
    },
    /// The header's width differs from the data's.
    #[error("{path}: the header (line {line}) has {header} columns but the data has {data}")]
    HeaderWidth {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// Columns of the header.
        header: usize,
        /// Columns of the data.
        data: usize,
    },
    /// A cell of a data line that does not parse as a number.
    #[error("{path}: line {line}, column {column}: '{cell}' is not a number")]
    NotANumber {
        /// The file.
        path: String,
        /// The line (1-based).
        line: usize,
        /// The column (1-based).
        column: usize,
        /// The cell text.
        cell: String,
    },
    /// No data line at all.
    #[error("{path}: no numeric rows")]
    Empty {
        /// The file.
        path: String,
    },
}

/// A parsed numeric CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvMatrix {
    /// Number of data rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row-major values, `rows × cols`.
    pub data: Vec<f64>,
    /// The line number (1-based) and text of a non-numeric first line taken as a header.
    pub header: Option<(usize, String)>,
    /// The detected delimiter.
    pub delimiter: char,
}

/// The column delimiter of a CSV text: whichever of `,` `;` tab occurs in its first non-empty
/// line; `,` when none does (one column).
pub fn delimiter(text: &str, path: &str) -> Result<char, CsvError> {
    let (line, first) = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .find(|(_, l)| !l.is_empty())
        .unwrap_or((1, ""));
    let found: Vec<char> = [',', ';', '\t']
        .into_iter()
        .filter(|d| first.contains(*d))
        .collect();
    match found.as_slice() {
        [] => Ok(','),
        [d] => Ok(*d),
        _ => Err(CsvError::MixedDelimiters {
            path: path.to_string(),
            line,
            found: format!("{found:?}"),
        }),
    }
}

/// Parses a numeric CSV text; `path` names the file in errors.
pub fn parse(text: &str, path: &str) -> Result<CsvMatrix, CsvError> {
    let delim = delimiter(text, path)?;
    let mut data: Vec<f64> = Vec::new();
    let mut rows = 0usize;
    let mut width: Option<usize> = None;
    let mut header: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(delim).map(str::trim).collect();
        let parsed: Result<Vec<f64>, usize> = cells
            .iter()
            .enumerate()
            .map(|(j, c)| c.parse::<f64>().map_err(|_| j))
            .collect();
        match parsed {
            Ok(v) => {
                let w = *width.get_or_insert(v.len());
                if v.len() != w {
                    return Err(CsvError::Ragged {
                        path: path.to_string(),
                        line: i + 1,
                        found: v.len(),
                        expected: w,
                    });
                }
                if rows == 0 {
                    if let Some((hl, h)) = &header {
                        let hw = h.split(delim).count();
                        if hw != w {
                            return Err(CsvError::HeaderWidth {
                                path: path.to_string(),
                                line: *hl,
                                header: hw,
                                data: w,
                            });
                        }
                    }
                }
                data.extend(v);
                rows += 1;
            }
            Err(_) if rows == 0 && header.is_none() => header = Some((i + 1, line.to_string())),
            Err(j) => {
                return Err(CsvError::NotANumber {
                    path: path.to_string(),
                    line: i + 1,
                    column: j + 1,
                    cell: cells[j].chars().take(40).collect(),
                })
            }
        }
    }
    let cols = width.ok_or_else(|| CsvError::Empty {
        path: path.to_string(),
    })?;
    Ok(CsvMatrix {
        rows,
        cols,
        data,
        header,
        delimiter: delim,
    })
}

/// Reads and parses a numeric CSV file (see [`parse`]).
pub fn read(path: &Path) -> Result<CsvMatrix, CsvError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CsvError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commas_semicolons_tabs_and_a_header() {
        let m = parse("1,2\n3,4\n", "a.csv").unwrap();
        assert_eq!((m.rows, m.cols, m.delimiter), (2, 2, ','));
        assert_eq!(m.data, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.header, None);
        // a ';'-separated file keeps its first row (it used to be taken as a header)
        let m = parse("1;2\n3;4\n", "a.csv").unwrap();
        assert_eq!((m.rows, m.delimiter), (2, ';'));
        let m = parse("a\tb\n\n1\t2e-3\n", "a.csv").unwrap();
        assert_eq!(m.header, Some((1, "a\tb".to_string())));
        assert_eq!(m.data, vec![1.0, 2e-3]);
        // one column, no delimiter
        assert_eq!(parse("5\n6\n", "a.csv").unwrap().cols, 1);
    }

    #[test]
    fn names_the_file_line_and_column() {
        let e = parse("1,2\n3\n", "a.csv").unwrap_err().to_string();
        assert_eq!(e, "a.csv: line 2: 1 columns, expected 2");
        let e = parse("1,2\n3,x\n", "a.csv").unwrap_err().to_string();
        assert_eq!(e, "a.csv: line 2, column 2: 'x' is not a number");
        let e = parse("a,b,c\n1,2\n", "a.csv").unwrap_err().to_string();
        assert_eq!(
            e,
            "a.csv: the header (line 1) has 3 columns but the data has 2"
        );
        let e = parse("1,2;3\n", "a.csv").unwrap_err().to_string();
        assert!(e.starts_with("a.csv: line 1 mixes the delimiters"), "{e}");
        let e = parse("\n\nname\n", "a.csv").unwrap_err().to_string();
        assert_eq!(e, "a.csv: no numeric rows");
        let e = read(Path::new("/nonexistent/a.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/nonexistent/a.csv: cannot read"), "{e}");
    }

    mod fuzz {
        //! A bounded fuzz harness (proptest, in the default tests): arbitrary text never
        //! panics, every error names the file, and a parsed matrix holds no more values than
        //! the text has cells.
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn arbitrary_text_never_panics(s in "[0-9a-z.,;\\t\\n eE+-]{0,200}") {
                match parse(&s, "f.csv") {
                    Ok(m) => {
                        prop_assert_eq!(m.data.len(), m.rows * m.cols);
                        prop_assert!(m.data.len() <= s.len() + 1);
                    }
                    Err(e) => prop_assert!(e.to_string().starts_with("f.csv: "), "{}", e),
                }
            }

            #[test]
            fn arbitrary_unicode_never_panics(s in "\\PC{0,120}") {
                if let Err(e) = parse(&s, "f.csv") {
                    prop_assert!(e.to_string().starts_with("f.csv: "), "{}", e);
                }
            }

            #[test]
            fn written_matrices_round_trip(
                rows in 1usize..6,
                cols in 1usize..5,
                d in 0usize..3,
                seed in proptest::collection::vec(-1e6f64..1e6, 30),
            ) {
                let delim = [',', ';', '\t'][d];
                let v: Vec<f64> = (0..rows * cols).map(|k| seed[k % seed.len()]).collect();
                let text: String = v
                    .chunks(cols)
                    .map(|r| r.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(&delim.to_string()))
                    .collect::<Vec<_>>()
                    .join("\n");
                let m = parse(&text, "f.csv").unwrap();
                prop_assert_eq!((m.rows, m.cols), (rows, cols));
                prop_assert_eq!(m.data, v);
            }
        }
    }
}
