//! Checked readers of numeric `.npy` arrays and `.npz` members (what `biodis score` and
//! `biodis spatial` read), as `f64`.
//!
//! The header is parsed and checked before any array memory is allocated: the element count
//! (product of the shape, overflow-checked) times the item size must equal the bytes that
//! follow the header — a truncated file is reported as "truncated: expected N bytes, found M",
//! never as a dtype error — and the array must fit in the machine's available memory. An
//! `.npz` member's declared size is compared with its header before its body is read.
//!
//! dtypes: `float64`, `float32`, `float16`, `int8/16/32/64`, `uint8/16/32/64` and `bool`, little-
//! or big-endian; C order only.

use std::io::Read;
use std::path::Path;

/// Errors reading an array file; every message names the file (and the `.npz` member).
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file (or member) could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a readable array (`msg` says what is wrong).
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// The file is not a zip archive the reader can open.
    #[error("{path}: not a .npz archive ({source})")]
    Zip {
        /// The file.
        path: String,
        /// The cause.
        source: zip::result::ZipError,
    },
    /// A member's body could not be read to its end.
    #[error("{path}: damaged member ({source}; the archive is truncated or corrupt)")]
    DamagedMember {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Element type of an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F64,
    F32,
    F16,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
            Dtype::F16 | Dtype::I16 | Dtype::U16 => 2,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
        }
    }
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub dtype: Dtype,
    /// Big-endian data (`>` in the descriptor).
    pub big_endian: bool,
    pub shape: Vec<usize>,
    /// Bytes of the magic, length field and header text (where the data starts).
    pub header_len: usize,
}

impl Header {
    /// Number of elements (`None` when the product overflows).
    pub fn n_elements(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
    }
    /// Bytes of data the header declares (`None` on overflow).
    pub fn data_bytes(&self) -> Option<usize> {
        self.n_elements()?.checked_mul(self.dtype.size())
    }
}

/// A decoded array: its shape and its values, row-major, as `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

fn fmt_err(path: &str, msg: impl Into<String>) -> NpyError {
    NpyError::Format {
        path: path.to_string(),
        msg: msg.into(),
    }
}

/// Parses an `.npy` header from the first bytes of a file (at least the whole header must be
/// there). `path` names the file in errors.
pub fn parse_header(bytes: &[u8], path: &str) -> Result<Header, NpyError> {
    let trunc = |need: usize| {
        fmt_err(
            path,
            format!(
                "truncated: expected at least {need} bytes of .npy header, found {}",
                bytes.len()
            ),
        )
    };
    if bytes.len() < 10 {
        return Err(if bytes.starts_with(&b"\x93NUMPY"[..bytes.len().min(6)]) {
            trunc(10)
        } else {
            fmt_err(path, "not an .npy array (bad magic)")
        });
    }
    if &bytes[..6] != b"\x93NUMPY" {
        return Err(fmt_err(path, "not an .npy array (bad magic)"));
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(trunc(12));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => {
            return Err(fmt_err(
                path,
                format!(".npy format version {v} is not supported"),
            ))
        }
    };
    let end = start.saturating_add(len);
    if bytes.len() < end {
        return Err(trunc(end));
    }
    let text = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| fmt_err(path, "the .npy header is not text"))?;
    let field = |name: &str| -> Option<&str> {
        let at = text.find(&format!("'{name}'"))?;
        let rest = &text[at + name.len() + 2..];
        let colon = rest.find(':')?;
        Some(rest[colon + 1..].trim_start())
    };
    let descr =
        field("descr").ok_or_else(|| fmt_err(path, format!("header without descr: {text}")))?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| {
            fmt_err(
                path,
                format!("dtype {descr} is not a simple numeric type (structured arrays are not supported)"),
            )
        })?;
    let mut chars = descr.chars();
    let order = chars.next();
    let code = chars.as_str();
    let big_endian = match order {
        Some('<' | '|' | '=') => false,
        Some('>') => true,
        _ => return Err(fmt_err(path, format!("dtype '{descr}' is not supported"))),
    };
    let dtype = match code {
        "f8" => Dtype::F64,
        "f4" => Dtype::F32,
        "f2" => Dtype::F16,
        "i1" => Dtype::I8,
        "i2" => Dtype::I16,
        "i4" => Dtype::I32,
        "i8" => Dtype::I64,
        "u1" => Dtype::U8,
        "u2" => Dtype::U16,
        "u4" => Dtype::U32,
        "u8" => Dtype::U64,
        "b1" => Dtype::Bool,
        _ => {
            return Err(fmt_err(
                path,
                format!("dtype '{descr}' is not supported (expected float64/32/16, int8/16/32/64, uint8/16/32/64 or bool)"),
            ))
        }
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(fmt_err(path, "Fortran-ordered arrays are not supported"));
    }
    let shape_text = field("shape").ok_or_else(|| fmt_err(path, "header without shape"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| fmt_err(path, format!("unreadable shape {shape_text}")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| fmt_err(path, format!("unreadable shape {shape_text}")))?;
    Ok(Header {
        dtype,
        big_endian,
        shape,
        header_len: end,
    })
}

/// Checks that `h`'s data is exactly `found` bytes (the body after the header) and that the
/// decoded `f64` array fits in `available` bytes of memory (`None`: unchecked).
pub fn check_size(
    h: &Header,
    found: u64,
    available: Option<u64>,
    path: &str,
) -> Result<usize, NpyError> {
    let expected = h.data_bytes().ok_or_else(|| {
        fmt_err(
            path,
            format!("shape {:?} has more elements than fit in memory", h.shape),
        )
    })?;
    if (expected as u64) > found {
        return Err(fmt_err(
            path,
            format!(
                "truncated: shape {:?} of {:?} needs {expected} bytes of data, found {found}",
                h.shape, h.dtype
            ),
        ));
    }
    if (expected as u64) < found {
        return Err(fmt_err(
            path,
            format!(
                "{found} bytes of data but shape {:?} of {:?} declares {expected} (a damaged file?)",
                h.shape, h.dtype
            ),
        ));
    }
    let n = h.n_elements().unwrap_or(usize::MAX);
    if let Some(avail) = available {
        let need = (n as u128) * 8 * 2;
        if need > avail as u128 {
            return Err(fmt_err(
                path,
                format!(
                    "shape {:?} needs about {need} bytes of memory as float64 but {avail} are available",
                    h.shape
                ),
            ));
        }
    }
    Ok(n)
}

/// Decodes `bytes` (exactly the data of `h`) to `f64`.
fn decode(h: &Header, bytes: &[u8]) -> Vec<f64> {
    let sz = h.dtype.size();
    let be = h.big_endian;
    let get = |c: &[u8]| -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        if be {
            b[..c.len()].reverse();
        }
        b
    };
    bytes
        .chunks_exact(sz)
        .map(|c| {
            let b = get(c);
            match h.dtype {
                Dtype::F64 => f64::from_le_bytes(b),
                Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                Dtype::F16 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
                Dtype::I8 => b[0] as i8 as f64,
                Dtype::I16 => i16::from_le_bytes([b[0], b[1]]) as f64,
                Dtype::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                Dtype::I64 => i64::from_le_bytes(b) as f64,
                Dtype::U8 => b[0] as f64,
                Dtype::U16 => u16::from_le_bytes([b[0], b[1]]) as f64,
                Dtype::U32 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                Dtype::U64 => u64::from_le_bytes(b) as f64,
                Dtype::Bool => (b[0] != 0) as u8 as f64,
            }
        })
        .collect()
}

/// IEEE 754 half precision to `f64`.
pub fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Reads a whole `.npy` file held in memory. `path` names it in errors.
pub fn read_npy_bytes(bytes: &[u8], path: &str, available: Option<u64>) -> Result<Array, NpyError> {
    let h = parse_header(bytes, path)?;
    let body = &bytes[h.header_len..];
    check_size(&h, body.len() as u64, available, path)?;
    Ok(Array {
        data: decode(&h, body),
        shape: h.shape,
    })
}

/// Reads an `.npy` file; its length on disk is checked against the header before the data is
/// read.
pub fn read_npy(path: &Path) -> Result<Array, NpyError> {
    let shown = path.display().to_string();
    let io = |source| NpyError::Io {
        path: shown.clone(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    let mut head = Vec::new();
    (&mut f)
        .take(65_536 + 12)
        .read_to_end(&mut head)
        .map_err(io)?;
    let h = parse_header(&head, &shown)?;
    let body_len = file_len.saturating_sub(h.header_len as u64);
    check_size(&h, body_len, crate::mem::available_bytes(), &shown)?;
    let mut body = head.split_off(h.header_len.min(head.len()));
    f.read_to_end(&mut body).map_err(io)?;
    check_size(&h, body.len() as u64, None, &shown)?;
    Ok(Array {
        data: decode(&h, &body),
        shape: h.shape,
    })
}

/// The member names of an `.npz` archive, without their `.npy` suffix.
pub fn npz_names(path: &Path) -> Result<Vec<String>, NpyError> {
    let zip = open_zip(path)?;
    Ok(zip
        .file_names()
        .map(|n| n.trim_end_matches(".npy").to_string())
        .collect())
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<std::fs::File>, NpyError> {
    let shown = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|source| NpyError::Io {
        path: shown.clone(),
        source,
    })?;
    zip::ZipArchive::new(f).map_err(|source| NpyError::Zip {
        path: shown,
        source,
    })
}

/// Reads member `name` (without `.npy`) of an `.npz` archive: its declared size is checked
/// against its header before the body is read, and the body's actual length after.
pub fn read_npz_member(path: &Path, name: &str) -> Result<Array, NpyError> {
    let mut zip = open_zip(path)?;
    let shown = format!("{} (array '{name}')", path.display());
    let mut e = zip
        .by_name(&format!("{name}.npy"))
        .map_err(|_| fmt_err(&shown, "no such array in the archive"))?;
    let declared = e.size();
    let io = |source| NpyError::Io {
        path: shown.clone(),
        source,
    };
    let mut head = Vec::new();
    (&mut e)
        .take(65_536 + 12)
        .read_to_end(&mut head)
        .map_err(io)?;
    let h = parse_header(&head, &shown)?;
    check_size(
        &h,
        declared.saturating_sub(h.header_len as u64),
        crate::mem::available_bytes(),
        &shown,
    )?;
    let mut body = head.split_off(h.header_len.min(head.len()));
    e.read_to_end(&mut body)
        .map_err(|source| NpyError::DamagedMember {
            path: shown.clone(),
            source,
        })?;
    check_size(&h, body.len() as u64, None, &shown)?;
    Ok(Array {
        data: decode(&h, &body),
        shape: h.shape,
    })
}

/// Writes the header of an `.npy` array (format 1.0) of `descr` and `shape`, padded to 64
/// bytes as numpy does (for tests and fixtures).
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if shape.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut text = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    let total = 10 + text.len() + 1;
    text.push_str(&" ".repeat((64 - total % 64) % 64));
    text.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((text.len() as u16).to_le_bytes());
    out.extend(text.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(descr: &str, shape: &[usize], body: &[u8]) -> Vec<u8> {
        let mut b = npy_header(descr, shape);
        b.extend(body);
        b
    }

    #[test]
    fn every_promised_dtype_reads() {
        let cases: Vec<(&str, Vec<u8>, Vec<f64>)> = vec![
            ("|i1", vec![0xff, 2], vec![-1.0, 2.0]),
            (
                "<i2",
                [-3i16, 4].iter().flat_map(|v| v.to_le_bytes()).collect(),
                vec![-3.0, 4.0],
            ),
            (
                "<u2",
                [65535u16, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
                vec![65535.0, 1.0],
            ),
            (
                "<u4",
                [4_000_000_000u32, 7]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![4e9, 7.0],
            ),
            ("<f2", vec![0x00, 0x3c, 0x00, 0xc0], vec![1.0, -2.0]),
            ("|u1", vec![3, 250], vec![3.0, 250.0]),
            ("|b1", vec![1, 0], vec![1.0, 0.0]),
            (
                "<f8",
                [0.5f64, -1.25]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![0.5, -1.25],
            ),
            (
                ">f4",
                [2.5f32, 3.0].iter().flat_map(|v| v.to_be_bytes()).collect(),
                vec![2.5, 3.0],
            ),
            (
                "<i8",
                [-9i64, 9].iter().flat_map(|v| v.to_le_bytes()).collect(),
                vec![-9.0, 9.0],
            ),
        ];
        for (d, body, want) in cases {
            let a = read_npy_bytes(&file(d, &[2], &body), "x.npy", None)
                .unwrap_or_else(|e| panic!("{d}: {e}"));
            assert_eq!(a.shape, vec![2]);
            assert_eq!(a.data, want, "{d}");
        }
        assert!(f16_to_f64(0x7c00).is_infinite() && f16_to_f64(0x7e00).is_nan());
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
    }

    #[test]
    fn truncated_and_oversized_headers_are_named_before_allocating() {
        // a header declaring (1e12, 10) float64 with an 80-byte body
        let b = file("<f8", &[1_000_000_000_000, 10], &[0u8; 80]);
        let e = read_npy_bytes(&b, "big.npy", None).unwrap_err().to_string();
        assert!(
            e.contains("big.npy")
                && e.contains("truncated")
                && e.contains("80000000000000 bytes")
                && e.contains("found 80"),
            "{e}"
        );
        // short by one element
        let b = file("<f8", &[3], &[0u8; 16]);
        let e = read_npy_bytes(&b, "t.npy", None).unwrap_err().to_string();
        assert!(
            e.contains("truncated") && e.contains("needs 24 bytes") && e.contains("found 16"),
            "{e}"
        );
        // a shape whose product overflows
        let b = file("<f8", &[usize::MAX, 3], &[]);
        assert!(read_npy_bytes(&b, "o.npy", None).is_err());
        // a header cut short
        let b = file("<f8", &[3], &[]);
        let e = read_npy_bytes(&b[..20], "h.npy", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        // more data than declared
        let b = file("<f8", &[1], &[0u8; 16]);
        assert!(read_npy_bytes(&b, "x.npy", None)
            .unwrap_err()
            .to_string()
            .contains("declares 8"));
        // does not fit in the memory available
        let b = file("<f8", &[4], &[0u8; 32]);
        let e = read_npy_bytes(&b, "m.npy", Some(10))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("memory") && e.contains("10 are available"),
            "{e}"
        );
        // unsupported dtypes are named
        let e = read_npy_bytes(&file("<c16", &[1], &[0u8; 16]), "c.npy", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'<c16' is not supported"), "{e}");
    }

    #[test]
    fn npz_members_are_size_checked() {
        use std::io::Write;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.npz");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("ok.npy", opts).unwrap();
        z.write_all(&file("|u1", &[2, 1], &[1, 2])).unwrap();
        z.start_file("flags.npy", opts).unwrap();
        z.write_all(&file("|b1", &[2], &[1, 0])).unwrap();
        z.start_file("big.npy", opts).unwrap();
        z.write_all(&file("<f8", &[1_000_000_000_000, 10], &[0u8; 80]))
            .unwrap();
        z.finish().unwrap();
        assert_eq!(npz_names(&p).unwrap(), vec!["ok", "flags", "big"]);
        let a = read_npz_member(&p, "ok").unwrap();
        assert_eq!((a.shape, a.data), (vec![2, 1], vec![1.0, 2.0]));
        assert_eq!(read_npz_member(&p, "flags").unwrap().data, vec![1.0, 0.0]);
        let e = read_npz_member(&p, "big").unwrap_err().to_string();
        assert!(
            e.contains("array 'big'") && e.contains("truncated") && e.contains("found 80"),
            "{e}"
        );
        assert!(read_npz_member(&p, "nope").is_err());
    }

    mod fuzz {
        //! A bounded fuzz harness (proptest, in the default tests): arbitrary bytes and
        //! arbitrary headers never panic and never allocate more than the body they come with.
        use super::super::*;
        use proptest::prelude::*;

        const DESCRS: &[&str] = &[
            "<f8", "<f4", "<f2", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1",
            ">f8", "<c8", "O", "",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = read_npy_bytes(&bytes, "f.npy", Some(1 << 24));
                let mut b = b"\x93NUMPY\x01\x00".to_vec();
                b.extend(&bytes);
                let _ = read_npy_bytes(&b, "f.npy", Some(1 << 24));
            }

            #[test]
            fn declared_size_is_checked_against_the_body(
                d in 0..DESCRS.len(),
                shape in proptest::collection::vec(prop_oneof![0usize..8, 0usize..usize::MAX], 0..4),
                body in 0usize..200,
            ) {
                let mut b = npy_header(DESCRS[d], &shape);
                b.extend(std::iter::repeat_n(7u8, body));
                match read_npy_bytes(&b, "f.npy", Some(1 << 24)) {
                    Ok(a) => {
                        let h = parse_header(&b, "f.npy").unwrap();
                        prop_assert_eq!(h.data_bytes(), Some(body));
                        prop_assert_eq!(a.data.len(), h.n_elements().unwrap());
                    }
                    Err(e) => {
                        let e = e.to_string();
                        prop_assert!(e.starts_with("f.npy: "), "{}", e);
                        if let Ok(h) = parse_header(&b, "f.npy") {
                            if h.data_bytes().is_some_and(|n| n > body) {
                                prop_assert!(e.contains("truncated"), "{}", e);
                            }
                        }
                    }
                }
            }

            #[test]
            fn float64_round_trips(v in proptest::collection::vec(-1e300f64..1e300, 0..50)) {
                let mut b = npy_header("<f8", &[v.len()]);
                for x in &v {
                    b.extend(x.to_le_bytes());
                }
                let a = read_npy_bytes(&b, "f.npy", None).unwrap();
                prop_assert_eq!(a.data, v);
            }
        }
    }
}
