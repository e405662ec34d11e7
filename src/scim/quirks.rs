//! The client-quirk layer: what real SCIM clients send that the RFC does not
//! say, and how it is read in [`Compat::Lenient`] mode (the default).
//!
//! | client | quirk | handling |
//! |---|---|---|
//! | Entra ID | `"op": "Replace"` / `"Add"` / `"Remove"` | `op` compared case-insensitively (here) |
//! | Entra ID | `"value": "False"`, `"primary": "True"` | `"true"`/`"false"` strings (any case) accepted for boolean attributes |
//! | Entra ID | `Add`/`Replace` `emails[type eq "work"].value` when no work e-mail exists | the value `{type: work, value: …}` is created (also `addresses[…]`, `phoneNumbers[…]`) instead of `noTarget` |
//! | Entra ID | `{"op":"Remove","path":"members","value":[{"value":"id"}]}` | removes those members only, never all |
//! | Entra ID | `?aadOptscim062020` on every URL; path-less `replace` with dotted keys (`"name.givenName"`, `"urn:…:User:employeeNumber"`) | unknown query parameters ignored; each key of a path-less value is read as a path |
//! | Entra ID | `manager` as a plain id string (PATCH value or POST body); `manager[value eq "id"]` on a single complex attribute | a string becomes `{"value": id}`; value filters apply to single complex attributes |
//! | Entra ID | unknown `schemas[]` URIs (`…/ADSCIM/2.0/Group`), `"addresses": null`, `"meta"` in POST | ignored; `null` and `[]` mean unassigned |
//! | Entra ID | requests without `Content-Type: application/scim+json` | any JSON body is read; responses are always `application/scim+json` |
//! | Entra ID | an empty `Operations` array (Microsoft's validator) | a no-op PATCH answering the resource |
//! | Okta | PUT (and POST) with `password` and `groups: []` | both ignored: `password` is not stored unless declared, `groups` is read-only; memberships never change through a user |
//! | Okta | `{"op":"replace","value":{"active":false}}` (no `path`) | path-less add/replace merges the value's attributes |
//! | Okta | group rename `{"op":"replace","value":{"id":"…","displayName":"…"}}` | read-only `id`/`meta`/`schemas` in a value are ignored |
//! | Okta | `filter=userName eq "ALICE@EXAMPLE.COM"` | `userName` is `caseExact: false`: filters and uniqueness fold case |
//! | Okta | second POST of the same `userName` | 409 `uniqueness` |
//! | JumpCloud, OneLogin | PUT with the whole object incl. `id`, `meta`, empty arrays, extension first | read-only attributes ignored, `[]` unassigns |
//! | several | `filter=userName+eq+%22x%22` | the query is decoded as `application/x-www-form-urlencoded` |
//!
//! [`Compat::Strict`] turns the leniencies off: lower-case `op` only, JSON
//! booleans only, `noTarget` for a `replace` that matches nothing, and
//! `remove` with a value list refused.

use serde_json::Value;

use super::PATCH_OP_URN;
use super::error::ScimError;
use super::filter::get_ci;
use super::patch::{MAX_PATCH_OPERATIONS, OpKind, PatchOp};
use super::resource::Compat;

fn op_kind(raw: &str, compat: Compat) -> Option<OpKind> {
    let matches = |want: &str| match compat {
        Compat::Lenient => raw.eq_ignore_ascii_case(want),
        Compat::Strict => raw == want,
    };
    if matches("add") {
        Some(OpKind::Add)
    } else if matches("replace") {
        Some(OpKind::Replace)
    } else if matches("remove") {
        Some(OpKind::Remove)
    } else {
        None
    }
}

/// Reads a `PatchOp` message into operations, normalising client quirks.
pub(crate) fn parse_patch_body(body: &Value, compat: Compat) -> Result<Vec<PatchOp>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body must be a JSON object"))?;
    if compat == Compat::Strict {
        let ok = obj
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(PATCH_OP_URN)));
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "`schemas` must contain `{PATCH_OP_URN}`"
            )));
        }
    }
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("the PATCH body needs an `Operations` array"))?;
    if ops.is_empty() && compat == Compat::Strict {
        return Err(ScimError::invalid_syntax("`Operations` must not be empty"));
    }
    if ops.len() > MAX_PATCH_OPERATIONS {
        return Err(ScimError::invalid_syntax(format!(
            "at most {MAX_PATCH_OPERATIONS} operations per PATCH request"
        )));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        if !op.is_object() {
            return Err(ScimError::invalid_syntax(format!(
                "operation {i} is not an object"
            )));
        }
        let raw = get_ci(op, "op")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_syntax(format!("operation {i} has no `op`")))?;
        let kind = op_kind(raw, compat).ok_or_else(|| {
            ScimError::invalid_syntax(format!(
                "operation {i}: `op` must be `add`, `replace` or `remove`"
            ))
        })?;
        let path = match get_ci(op, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "operation {i}: `path` must be a string"
                )));
            }
        };
        let value = get_ci(op, "value").cloned();
        out.push(PatchOp {
            op: kind,
            path,
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_are_case_insensitive_only_when_lenient() {
        let body = json!({"schemas": [PATCH_OP_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
        let ops = parse_patch_body(&body, Compat::Lenient).unwrap();
        assert_eq!(ops[0].op, OpKind::Replace);
        assert!(parse_patch_body(&body, Compat::Strict).is_err());
    }

    #[test]
    fn malformed_bodies_are_invalid_syntax() {
        for body in [
            json!([]),
            json!({}),
            json!({"Operations": [1]}),
            json!({"Operations": [{"op": "move"}]}),
        ] {
            let e = parse_patch_body(&body, Compat::Lenient).unwrap_err();
            assert_eq!(e.status(), 400);
            assert!(e.scim_type().is_some());
        }
    }
}
