//! Command-line overrides: `--set key=value` and `--set VARIANT:key=value`, and the warnings
//! when a variant's own value wins over a global one.

use super::*;

/// Parses a `--set key.path=value` or `--set VARIANT:key.path=value` argument; the value is
/// TOML (`3e-3`, `true`, `[188]`, `"relu"`) or, failing that, a bare string. A scoped override
/// keeps its `VARIANT:` prefix in the returned key (see [`split_scope`]).
pub fn parse_override(arg: &str) -> Result<(String, toml::Value), RecipeError> {
    let (k, v) = arg.split_once('=').ok_or_else(|| RecipeError::Override {
        arg: arg.into(),
        msg: "expected key.path=value or VARIANT:key.path=value".into(),
    })?;
    let k = k.trim();
    let (scope, path) = split_scope(k);
    if let Some(var) = scope {
        if var.is_empty()
            || !var
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(RecipeError::Override {
                arg: arg.into(),
                msg: format!(
                    "'{var}' before ':' is not a variant name (letters, digits, '-' and '_')"
                ),
            });
        }
    }
    if path.is_empty() || path.split('.').any(|s| s.is_empty()) {
        return Err(RecipeError::Override {
            arg: arg.into(),
            msg: "empty key path".into(),
        });
    }
    let v = v.trim();
    let value = match format!("x = {v}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("x").unwrap_or(toml::Value::String(v.into())),
        Err(_) => toml::Value::String(v.to_string()),
    };
    Ok((k.to_string(), value))
}

/// Splits an override key into its variant scope and key path: `"all:train.lr"` →
/// `(Some("all"), "train.lr")`, `"train.lr"` → `(None, "train.lr")`.
pub fn split_scope(key: &str) -> (Option<&str>, &str) {
    match key.split_once(':') {
        Some((v, k)) => (Some(v.trim()), k.trim()),
        None => (None, key),
    }
}

/// True when setting dotted key `a` and dotted key `b` touch the same value (equal, or one is a
/// table that holds the other).
pub(crate) fn keys_overlap(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
}

/// The warnings of applying `overrides` to the recipe: one for every global `--set` whose key a
/// variant (or a sweep axis) sets itself, naming the variant, the key and both values, since
/// there the variant's own value wins. Variants outside `only` (when non-empty) are skipped.
pub fn override_warnings(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    only: &[String],
) -> Result<Vec<String>, RecipeError> {
    let (_, variants, sweep) = split_recipe(src)?;
    let mut out = Vec::new();
    let show = |v: &toml::Value| match v {
        toml::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    for (k, val) in overrides {
        if split_scope(k).0.is_some() {
            continue;
        }
        for v in variants
            .iter()
            .filter(|v| only.is_empty() || only.contains(&v.name))
        {
            for (vk, vv) in flatten(&v.set, "") {
                if keys_overlap(k, &vk) {
                    out.push(format!(
                        "warning: --set {k}={} does not apply to variant '{}', which sets {vk} = {} itself (the variant's value is kept; use --set {}:{k}=... to override it there)",
                        show(val),
                        v.name,
                        show(&vv),
                        v.name
                    ));
                }
            }
        }
        for (sk, sv) in flatten(&sweep.grid, "")
            .into_iter()
            .chain(flatten(&sweep.zip, ""))
        {
            if keys_overlap(k, &sk) {
                out.push(format!(
                    "warning: --set {k}={} does not apply where the sweep sets {sk} (to {}); the sweep's values are kept",
                    show(val),
                    show(&sv)
                ));
            }
        }
    }
    Ok(out)
}

/// Sets `path` (dotted) in `root` to `value`, creating intermediate tables.
pub(crate) fn set_path(
    root: &mut toml::Table,
    path: &str,
    value: toml::Value,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur.insert(p.to_string(), value);
            return Ok(());
        }
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{}` is not a table", parts[..=i].join(".")))?;
    }
    Ok(())
}

/// Deserialises a TOML table into `T`, with the failing key path in the error.
pub(crate) fn from_table<T: serde::de::DeserializeOwned>(
    t: toml::Table,
    source_name: &str,
) -> Result<T, RecipeError> {
    let v = toml::Value::Table(t);
    serde_path_to_error::deserialize(v).map_err(|e| {
        let key = e.path().to_string();
        let msg = e.into_inner().to_string();
        // the inner message may repeat the key path on a second line ("in `train.lr`")
        let msg = msg.lines().next().unwrap_or("").trim().to_string();
        RecipeError::Key {
            source_name: source_name.to_string(),
            key,
            msg,
        }
    })
}
