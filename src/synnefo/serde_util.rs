//! Serde helpers for Synnefo's loosely typed JSON.
//!
//! Synnefo sends some ids as integers (servers, flavors) and others as
//! strings (networks, ports, volumes), and not always consistently across
//! versions; the client normalises every id to a string.

use serde::{Deserialize, Deserializer};

/// Deserializes an id given as a JSON string or integer into a `String`.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        U(u64),
        I(i64),
    }
    Ok(match Id::deserialize(d)? {
        Id::S(s) => s,
        Id::U(u) => u.to_string(),
        Id::I(i) => i.to_string(),
    })
}

/// Like [`id`] for an optional id (`null`, absent or `""` give `None`).
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        U(u64),
        I(i64),
    }
    Ok(match Option::<Id>::deserialize(d)? {
        None => None,
        Some(Id::S(s)) if s.is_empty() => None,
        Some(Id::S(s)) => Some(s),
        Some(Id::U(u)) => Some(u.to_string()),
        Some(Id::I(i)) => Some(i.to_string()),
    })
}

/// Deserializes a number given as a JSON number or numeric string.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        U(u64),
        F(f64),
        S(String),
    }
    match N::deserialize(d)? {
        N::U(u) => Ok(u),
        N::F(f) if f >= 0.0 && f.fract() == 0.0 => Ok(f as u64),
        N::F(f) => Err(serde::de::Error::custom(format!(
            "{f} is not a whole number"
        ))),
        N::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// `null` as the type's default (Synnefo sends `null` for empty lists).
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list of ids given as strings or integers (`null` is empty).
pub fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "id")] String);
    Ok(Option::<Vec<Wrapped>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|w| w.0)
        .collect())
}
