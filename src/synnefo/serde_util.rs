//! Serde helpers for Synnefo's loosely typed JSON.
//!
//! Synnefo sends some ids as integers (servers, flavors) and others as
//! strings (networks, ports, volumes), and not always consistently across
//! versions; the client normalises every id to a string.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// Accepts an id as a string or an integer (a visitor, not an untagged
/// enum: untagged enums buffer every value, which made ids the costliest
/// part of decoding a server).
struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id (a string or an integer)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// Deserializes an id given as a JSON string or integer into a `String`.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(IdVisitor)
}

/// An optional id: `null`, absent or `""` are `None`.
struct OptIdVisitor;

impl<'de> Visitor<'de> for OptIdVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id (a string or an integer) or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        id(d).map(|s| Some(s).filter(|s| !s.is_empty()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()).filter(|s| !s.is_empty()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v).filter(|s| !s.is_empty()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
}

/// Like [`id`] for an optional id (`null`, absent or `""` give `None`).
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(OptIdVisitor)
}

/// A whole non-negative number as a JSON number or numeric string.
struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole non-negative number (or a numeric string)")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative")))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<u64, E> {
        if f >= 0.0 && f.fract() == 0.0 {
            Ok(f as u64)
        } else {
            Err(E::custom(format!("{f} is not a whole number")))
        }
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<u64, E> {
        s.trim().parse().map_err(E::custom)
    }
}

/// Deserializes a number given as a JSON number or numeric string.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(NumberVisitor)
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
