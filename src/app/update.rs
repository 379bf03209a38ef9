//! What the collections' entity updates share: reading the new title and
//! summary of a partial (POST) or full (PUT) update, and telling a value a
//! client resends (pOCCI's full update PUTs the entity's own rendering
//! back) from a change the kind cannot make.
//!
//! A change Synnefo cannot make (a volume's size, a network's address) is
//! a 409: the request is well-formed and OCCI calls most of these
//! attributes mutable, but this entity cannot take the new value in its
//! current state (no resize of a volume, no new subnet on a network),
//! which is what [`AppError::Conflict`] means throughout the app; a 400
//! would tell the client its request is malformed. The same value as the
//! current one is no change and passes.

use crate::occi::infrastructure::attr;
use crate::occi::{AttributeValue, Attributes, Renderer};

use super::collection::{Collection, Ctx, Entity};
use super::error::AppError;
use crate::occi::OcciRequest;

/// Whether `wanted` (as a client sent it) is the value `current` (as the
/// gateway renders it): numbers compare by value whatever their type or
/// text (`3`, `3.0` and `"3"` are one size), booleans also as `"true"` /
/// `"false"`, strings exactly.
///
/// ```
/// use snf_occi::app::update::same_value;
/// use snf_occi::occi::AttributeValue as V;
/// assert!(same_value(&V::Float(3.0), &V::Integer(3)));
/// assert!(same_value(&V::Float(3.0), &V::String("3".into())));
/// assert!(same_value(&V::Bool(false), &V::String("false".into())));
/// assert!(!same_value(&V::String("lan".into()), &V::String("LAN".into())));
/// assert!(!same_value(&V::Float(3.0), &V::Integer(4)));
/// ```
pub fn same_value(current: &AttributeValue, wanted: &AttributeValue) -> bool {
    fn number(v: &AttributeValue) -> Option<f64> {
        match v {
            AttributeValue::Integer(n) => Some(*n as f64),
            AttributeValue::Float(f) => Some(*f),
            AttributeValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    match (current, wanted) {
        (AttributeValue::String(a), AttributeValue::String(b)) => a == b,
        (AttributeValue::Bool(a), AttributeValue::Bool(b)) => a == b,
        (AttributeValue::Bool(a), AttributeValue::String(b)) => b
            .trim()
            .eq_ignore_ascii_case(if *a { "true" } else { "false" }),
        (AttributeValue::List(a), AttributeValue::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        _ => match (number(current), number(wanted)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// Whether `name` is a state attribute (`occi.compute.state`,
/// `occi.storagelink.state.message`, ...): read-only, set by the cloud and
/// changing on its own, so a client resending a stale one is not asking
/// for a change (the actions change states).
pub fn is_state(name: &str) -> bool {
    name.ends_with(".state") || name.ends_with(".state.message")
}

/// The string attribute `name` of an update, if given; 400 when it is
/// not a string.
pub fn text<'a>(attrs: &'a Attributes, name: &str) -> Result<Option<&'a str>, AppError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::String(s)) => Ok(Some(s)),
        Some(_) => Err(AppError::BadRequest(format!("{name} must be a string"))),
    }
}

/// The name an update gives an entity: `occi.core.title` when given (an
/// empty one means `default`, as in a create); without one a full update
/// resets the name to `default` (what a create without a title names it)
/// and a partial update keeps it (`None`). At most `max_chars` characters
/// (Synnefo's limit, so that Synnefo never refuses it half-way), else 400.
pub fn new_title(
    attrs: &Attributes,
    full: bool,
    default: &str,
    max_chars: usize,
) -> Result<Option<String>, AppError> {
    let title = match (text(attrs, attr::TITLE)?, full) {
        (Some(t), _) if t.trim().is_empty() => Some(default.to_owned()),
        (Some(t), _) => Some(t.to_owned()),
        (None, true) => Some(default.to_owned()),
        (None, false) => None,
    };
    if let Some(t) = &title {
        check_length(attr::TITLE, t, max_chars)?;
    }
    Ok(title)
}

/// The description an update gives an entity: `occi.core.summary` when
/// given (empty clears it); without one a full update clears it (a create
/// without a summary has none) and a partial update keeps it. At most
/// `max_chars` characters, else 400.
pub fn new_summary(
    attrs: &Attributes,
    full: bool,
    max_chars: usize,
) -> Result<Option<String>, AppError> {
    let summary = match (text(attrs, attr::SUMMARY)?, full) {
        (Some(s), _) => Some(s.to_owned()),
        (None, true) => Some(String::new()),
        (None, false) => None,
    };
    if let Some(s) = &summary {
        check_length(attr::SUMMARY, s, max_chars)?;
    }
    Ok(summary)
}

fn check_length(name: &str, value: &str, max_chars: usize) -> Result<(), AppError> {
    if value.chars().count() > max_chars {
        return Err(AppError::BadRequest(format!(
            "{name} is longer than {max_chars} characters, the most Synnefo keeps"
        )));
    }
    Ok(())
}

/// The `plan_update` of a kind Synnefo cannot change at all: the entity
/// must exist (404), and every attribute of the request must be its
/// current value (else 409, see [`refuse_changes`]).
pub async fn fixed_entity<C: Collection>(
    ctx: &Ctx,
    id: &str,
    req: &OcciRequest,
    why: &str,
) -> Result<(), AppError> {
    let current = C::show(ctx, id).await?;
    refuse_changes(&current, &req.attributes, &ctx.state.renderer, why)
}

/// Refuses (409, naming the attribute and `why`) every attribute of an
/// update whose value is not the entity's current one: for kinds none of
/// whose attributes Synnefo can change (links, floating IPs). The id,
/// source and target compare by location (a client may send our absolute
/// URLs); state attributes are ignored (see [`is_state`]).
pub fn refuse_changes(
    entity: &Entity,
    attrs: &Attributes,
    renderer: &Renderer,
    why: &str,
) -> Result<(), AppError> {
    fn location<'v>(renderer: &Renderer, v: &'v AttributeValue) -> Option<&'v str> {
        v.as_str().and_then(|u| renderer.path_of(u))
    }
    for (name, wanted) in attrs.iter() {
        let unchanged = match (name, entity) {
            (attr::ID, _) => wanted.as_str() == Some(entity.id()),
            (attr::SOURCE, Entity::Link(l)) => {
                location(renderer, wanted) == Some(l.source.location.as_str())
            }
            (attr::TARGET, Entity::Link(l)) => {
                location(renderer, wanted) == Some(l.target.location.as_str())
            }
            (attr::SOURCE_KIND, Entity::Link(l)) => wanted.as_str() == l.source.kind.as_deref(),
            (attr::TARGET_KIND, Entity::Link(l)) => wanted.as_str() == l.target.kind.as_deref(),
            (n, _) if is_state(n) => true,
            (n, e) => e
                .attributes()
                .get(n)
                .is_some_and(|current| same_value(current, wanted)),
        };
        if !unchanged {
            return Err(AppError::Conflict(format!("{name} cannot change: {why}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::occi::{EntityRef, Link};

    fn attrs(pairs: &[(&str, AttributeValue)]) -> Attributes {
        let mut a = Attributes::new();
        for (n, v) in pairs {
            a.set(*n, v.clone());
        }
        a
    }

    #[test]
    fn titles_and_summaries_of_partial_and_full_updates() {
        let titled = attrs(&[(attr::TITLE, "web".into())]);
        let none = Attributes::new();
        assert_eq!(
            new_title(&titled, false, "D", 10).unwrap(),
            Some("web".into())
        );
        assert_eq!(new_title(&none, false, "D", 10).unwrap(), None);
        assert_eq!(new_title(&none, true, "D", 10).unwrap(), Some("D".into()));
        let blank = attrs(&[(attr::TITLE, "  ".into())]);
        assert_eq!(new_title(&blank, false, "D", 10).unwrap(), Some("D".into()));
        let long = attrs(&[(attr::TITLE, "é".repeat(11).into())]);
        let err = new_title(&long, false, "D", 10).unwrap_err();
        assert!(err.to_string().contains(attr::TITLE), "{err}");
        assert_eq!(
            new_title(
                &attrs(&[(attr::TITLE, "é".repeat(10).into())]),
                true,
                "D",
                10
            )
            .unwrap()
            .map(|t| t.chars().count()),
            Some(10)
        );
        let numeric = attrs(&[(attr::TITLE, 7i64.into())]);
        assert!(new_title(&numeric, false, "D", 10).is_err());

        let summary = attrs(&[(attr::SUMMARY, "".into())]);
        assert_eq!(
            new_summary(&summary, false, 10).unwrap(),
            Some(String::new())
        );
        assert_eq!(new_summary(&none, false, 10).unwrap(), None);
        assert_eq!(new_summary(&none, true, 10).unwrap(), Some(String::new()));
    }

    #[test]
    fn resent_link_renderings_pass_and_changes_are_409() {
        let mut l = Link::new(
            "http://schemas.ogf.org/occi/infrastructure#storagelink",
            "7_9",
            "/storagelink/7_9",
            EntityRef::new(
                "/compute/7",
                "http://schemas.ogf.org/occi/infrastructure#compute",
            ),
            EntityRef::new(
                "/storage/9",
                "http://schemas.ogf.org/occi/infrastructure#storage",
            ),
        );
        l.attributes.set(attr::SL_STATE, "active");
        let link = Entity::Link(l);
        let r = Renderer::new("http://gw.test");
        let resent = attrs(&[
            (attr::ID, "7_9".into()),
            (attr::SOURCE, "http://gw.test/compute/7".into()),
            (attr::TARGET, "/storage/9".into()),
            (attr::SL_STATE, "inactive".into()),
        ]);
        refuse_changes(&link, &resent, &r, "why").unwrap();
        for (name, value) in [
            (attr::TARGET, AttributeValue::from("/storage/10")),
            (attr::SOURCE, "http://elsewhere.test/compute/7".into()),
            (attr::ID, "7_10".into()),
            (attr::TITLE, "named".into()),
        ] {
            let err =
                refuse_changes(&link, &attrs(&[(name, value)]), &r, "detach first").unwrap_err();
            assert_eq!(err.status(), http::StatusCode::CONFLICT);
            assert!(err.to_string().starts_with(name), "{err}");
            assert!(err.to_string().contains("detach first"), "{err}");
        }
    }
}
