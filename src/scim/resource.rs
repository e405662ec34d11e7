//! Users and groups as the host stores them, and their SCIM JSON form:
//! schema-driven validation of request bodies, rendering, and projection
//! (`attributes` / `excludedAttributes`).

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::filter::{AttrPath, get_ci};
use super::schema::{AttrType, AttributeDef, Mutability, ResourceKind, ResourceType, Returned};
use super::time::format_rfc3339;
use crate::connection::UserTemplate;
use crate::types::ConnectionId;

/// Resource metadata the service provider keeps (RFC 7643 §3.1 `meta`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// When the resource was created.
    pub created: SystemTime,
    /// When it last changed.
    pub last_modified: SystemTime,
    /// An opaque version that changes with every write (the weak ETag), if
    /// the host keeps one. Without it the service derives one from the content.
    pub version: Option<String>,
}

impl Meta {
    /// Created and modified at `now`, no version yet.
    pub fn new(now: SystemTime) -> Self {
        Self {
            created: now,
            last_modified: now,
            version: None,
        }
    }
}

/// A SCIM user as the host stores it.
///
/// `attributes` holds the validated SCIM attributes with their canonical
/// names (`userName`, `name`, `emails`, `externalId`, …) and extension
/// attributes under their schema URN; never `id`, `meta` or `schemas`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimUser {
    /// The host's id of the user (also the SCIM `id`; the same id as
    /// [`UserId`](crate::UserId) for the login flow).
    pub id: String,
    /// Metadata.
    pub meta: Meta,
    /// The SCIM attributes.
    pub attributes: Map<String, Value>,
    /// The connection whose SCIM token created the user, if any.
    pub provisioned_by: Option<ConnectionId>,
}

/// A user to create: validated attributes, the connection's template and the
/// provisioning connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewScimUser {
    /// The SCIM attributes (as in [`ScimUser::attributes`]).
    pub attributes: Map<String, Value>,
    /// Creation time (also `lastModified`).
    pub created: SystemTime,
    /// The connection whose token is provisioning the user, if the token is bound to one.
    pub provisioned_by: Option<ConnectionId>,
    /// What every user created by this connection gets (role, host groups,
    /// attributes): the connection's [`UserTemplate`], empty without one.
    pub template: UserTemplate,
}

fn str_attr<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

impl ScimUser {
    /// `userName`.
    pub fn user_name(&self) -> Option<&str> {
        str_attr(&self.attributes, "userName")
    }

    /// `externalId` (the IdP's identifier for the person).
    pub fn external_id(&self) -> Option<&str> {
        str_attr(&self.attributes, "externalId")
    }

    /// `displayName`.
    pub fn display_name(&self) -> Option<&str> {
        str_attr(&self.attributes, "displayName")
    }

    /// `active`, when assigned.
    pub fn active(&self) -> Option<bool> {
        self.attributes.get("active").and_then(Value::as_bool)
    }

    /// Whether the IdP disabled the user (`active` is `false`). A disabled
    /// user must not sign in, and SSO/JIT must never reactivate it.
    pub fn is_disabled(&self) -> bool {
        self.active() == Some(false)
    }

    /// The primary e-mail address, else the first one.
    pub fn primary_email(&self) -> Option<&str> {
        let emails = self.attributes.get("emails")?.as_array()?;
        emails
            .iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| emails.first())
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
    }
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The member's `id` (a user or a group of the same tenant).
    pub value: String,
    /// `User` or `Group`, as the client sent it.
    pub kind: Option<String>,
    /// The `$ref` URI, as the client sent it.
    pub reference: Option<String>,
    /// A display name, as the client sent it.
    pub display: Option<String>,
}

impl Member {
    /// A member by id.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            kind: None,
            reference: None,
            display: None,
        }
    }

    pub(crate) fn from_json(v: &Value) -> Result<Self, ScimError> {
        match v {
            // Lenient: a bare id (Microsoft's reference code accepts it).
            Value::String(s) if !s.is_empty() => Ok(Self::new(s.clone())),
            Value::Object(_) => {
                let text = |k: &str| get_ci(v, k).and_then(Value::as_str).map(str::to_owned);
                let value = text("value").filter(|s| !s.is_empty()).ok_or_else(|| {
                    ScimError::invalid_value("each member needs a `value` (the member's id)")
                })?;
                Ok(Self {
                    value,
                    kind: text("type"),
                    reference: text("$ref"),
                    display: text("display"),
                })
            }
            _ => Err(ScimError::invalid_value(
                "a member must be an object with a `value`",
            )),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("value".into(), json!(self.value));
        if let Some(r) = &self.reference {
            m.insert("$ref".into(), json!(r));
        }
        if let Some(t) = &self.kind {
            m.insert("type".into(), json!(t));
        }
        if let Some(d) = &self.display {
            m.insert("display".into(), json!(d));
        }
        Value::Object(m)
    }
}

/// A SCIM group as the host stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimGroup {
    /// The host's id of the group.
    pub id: String,
    /// Metadata.
    pub meta: Meta,
    /// The SCIM attributes except `members` (`displayName`, `externalId`, extensions).
    pub attributes: Map<String, Value>,
    /// The members, when they were asked for (`None` when the service asked
    /// the host not to load them, e.g. `excludedAttributes=members`).
    pub members: Option<Vec<Member>>,
}

impl ScimGroup {
    /// `displayName`.
    pub fn display_name(&self) -> Option<&str> {
        str_attr(&self.attributes, "displayName")
    }
}

/// A group to create.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NewScimGroup {
    /// The SCIM attributes except `members`.
    pub attributes: Map<String, Value>,
    /// The initial members.
    pub members: Vec<Member>,
    /// Creation time.
    pub created: SystemTime,
    /// The connection whose token is provisioning the group, if bound to one.
    pub provisioned_by: Option<ConnectionId>,
}

// ------------------------------------------------------------------ validation

/// How strictly request bodies are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// Accept what real clients send (Entra ID, Okta, OneLogin, JumpCloud):
    /// `"True"`/`"False"` strings for booleans, a bare string for a complex
    /// attribute with a `value` (Entra's `manager`), a one-element array for a
    /// single-valued complex attribute, a single value for a multi-valued one,
    /// capitalised PATCH `op`s, and the PATCH quirks of [`super::quirks`].
    #[default]
    Lenient,
    /// RFC 7643/7644 only.
    Strict,
}

pub(crate) fn coerce_single(
    def: &AttributeDef,
    v: &Value,
    compat: Compat,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let lenient = compat == Compat::Lenient;
    let wrong = |what: &str| Err(ScimError::invalid_value(format!("`{path}` must be {what}")));
    Ok(Some(match (def.kind, v) {
        (_, Value::Null) => return Ok(None),
        (AttrType::String | AttrType::Reference | AttrType::Binary, Value::String(s)) => {
            Value::String(s.clone())
        }
        (AttrType::String, Value::Number(n)) if lenient => Value::String(n.to_string()),
        (AttrType::String | AttrType::Reference | AttrType::Binary, _) => return wrong("a string"),
        (AttrType::DateTime, Value::String(s)) if super::time::parse_rfc3339(s).is_some() => {
            Value::String(s.clone())
        }
        (AttrType::DateTime, _) => return wrong("an RFC 3339 date-time string"),
        (AttrType::Boolean, Value::Bool(b)) => Value::Bool(*b),
        (AttrType::Boolean, Value::String(s)) if lenient && s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (AttrType::Boolean, Value::String(s)) if lenient && s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (AttrType::Boolean, _) => return wrong("true or false"),
        (AttrType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => v.clone(),
        (AttrType::Integer, Value::String(s)) if lenient && s.parse::<i64>().is_ok() => {
            json!(s.parse::<i64>().unwrap_or_default())
        }
        (AttrType::Integer, _) => return wrong("an integer"),
        (AttrType::Decimal, Value::Number(_)) => v.clone(),
        (AttrType::Decimal, _) => return wrong("a number"),
        (AttrType::Complex, Value::Object(o)) => {
            let mut out = Map::new();
            for (k, sv) in o {
                let Some(sd) = def.sub(k) else { continue };
                if sd.mutability == Mutability::ReadOnly {
                    continue;
                }
                let sub_path = format!("{path}.{}", sd.name);
                let val = if sd.multi_valued {
                    coerce_multi(sd, sv, compat, &sub_path)?
                } else {
                    coerce_single(sd, sv, compat, &sub_path)?
                };
                if let Some(val) = val {
                    out.insert(sd.name.clone(), val);
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
        (AttrType::Complex, Value::String(s)) if lenient && def.sub("value").is_some() => {
            json!({ "value": s })
        }
        (AttrType::Complex, Value::Array(a)) if lenient && !def.multi_valued && a.len() == 1 => {
            return coerce_single(def, &a[0], compat, path);
        }
        (AttrType::Complex, _) => return wrong("an object"),
    }))
}

pub(crate) fn coerce_multi(
    def: &AttributeDef,
    v: &Value,
    compat: Compat,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    let items: Vec<&Value> = match v {
        Value::Null => return Ok(None),
        Value::Array(a) => a.iter().collect(),
        other if compat == Compat::Lenient => vec![other],
        _ => {
            return Err(ScimError::invalid_value(format!(
                "`{path}` must be an array"
            )));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(x) = coerce_single(def, item, compat, path)? {
            out.push(x);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    fix_primary(&mut out, None);
    Ok(Some(Value::Array(out)))
}

/// At most one `primary: true` (RFC 7643 §2.4): keeps the one at `keep` (or the first).
pub(crate) fn fix_primary(items: &mut [Value], keep: Option<usize>) {
    let primaries: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, v)| v.get("primary").and_then(Value::as_bool) == Some(true))
        .map(|(i, _)| i)
        .collect();
    if primaries.len() <= 1 {
        return;
    }
    let winner = keep
        .filter(|k| primaries.contains(k))
        .unwrap_or(primaries[0]);
    for i in primaries {
        if i != winner
            && let Some(o) = items[i].as_object_mut()
        {
            o.insert("primary".into(), Value::Bool(false));
        }
    }
}

pub(crate) fn coerce(
    def: &AttributeDef,
    v: &Value,
    compat: Compat,
    path: &str,
) -> Result<Option<Value>, ScimError> {
    if def.multi_valued {
        coerce_multi(def, v, compat, path)
    } else {
        coerce_single(def, v, compat, path)
    }
}

/// Validates a POST/PUT body into canonical attributes. Read-only and
/// unknown attributes (Okta's `password` and `groups: []`, JumpCloud's
/// `id`/`meta`) are ignored; `null` and `[]` mean unassigned.
pub(crate) fn validate_body(
    rt: &ResourceType,
    body: &Value,
    compat: Compat,
) -> Result<Map<String, Value>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
    let mut out = Map::new();
    for (k, v) in obj {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|x| k.eq_ignore_ascii_case(x))
        {
            continue;
        }
        if rt.kind == ResourceKind::Group && k.eq_ignore_ascii_case("members") {
            continue; // handled by the caller, as membership
        }
        if let Some(ext) = rt.extension(k) {
            let Some(eo) = v.as_object() else {
                if v.is_null() {
                    continue;
                }
                return Err(ScimError::invalid_value(format!(
                    "`{}` must be an object",
                    ext.id
                )));
            };
            let mut em = Map::new();
            for (ek, ev) in eo {
                let Some(def) = ext.attribute(ek) else {
                    continue;
                };
                if !def.writable() {
                    continue;
                }
                if let Some(val) = coerce(def, ev, compat, &format!("{}:{}", ext.id, def.name))? {
                    em.insert(def.name.clone(), val);
                }
            }
            if !em.is_empty() {
                out.insert(ext.id.clone(), Value::Object(em));
            }
            continue;
        }
        let Some(r) = rt.find(None, k) else { continue };
        if !r.def.writable() {
            continue;
        }
        if let Some(val) = coerce(r.def, v, compat, &r.def.name)? {
            out.insert(r.def.name.clone(), val);
        }
    }
    check_required(rt, &out)?;
    Ok(out)
}

pub(crate) fn check_required(
    rt: &ResourceType,
    attrs: &Map<String, Value>,
) -> Result<(), ScimError> {
    for def in rt.schema.attributes.iter().filter(|a| a.required) {
        if !attrs.contains_key(&def.name) {
            return Err(ScimError::invalid_value(format!(
                "`{}` is required",
                def.name
            )));
        }
    }
    if let Some(v) = attrs.get("userName").and_then(Value::as_str)
        && v.trim().is_empty()
    {
        return Err(ScimError::invalid_value("`userName` must not be empty"));
    }
    Ok(())
}

// ------------------------------------------------------------------ rendering

/// Renders the full SCIM JSON of a resource.
pub(crate) fn render(
    rt: &ResourceType,
    id: &str,
    attributes: Map<String, Value>,
    members: Option<&[Member]>,
    meta: &Meta,
    version: &str,
    base_url: &str,
) -> Value {
    let mut m = attributes;
    let mut schemas = vec![Value::String(rt.schema.id.clone())];
    for ext in &rt.extensions {
        if m.contains_key(&ext.id) {
            schemas.push(Value::String(ext.id.clone()));
        }
    }
    m.insert("schemas".into(), Value::Array(schemas));
    m.insert("id".into(), Value::String(id.to_owned()));
    if let Some(members) = members
        && !members.is_empty()
    {
        m.insert(
            "members".into(),
            Value::Array(members.iter().map(Member::to_json).collect()),
        );
    }
    m.insert(
        "meta".into(),
        json!({
            "resourceType": rt.name(),
            "created": format_rfc3339(meta.created),
            "lastModified": format_rfc3339(meta.last_modified),
            "location": format!("{base_url}{}/{id}", rt.kind.endpoint()),
            "version": version,
        }),
    );
    Value::Object(m)
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), resolved.
#[derive(Debug, Clone, Default)]
pub(crate) struct Projection {
    include: Vec<AttrPath>,
    exclude: Vec<AttrPath>,
}

impl Projection {
    /// Parses the comma-separated lists. Unknown attributes are ignored
    /// (nothing to return or hide).
    pub(crate) fn parse(
        rt: &ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Self {
        let list = |s: Option<&str>| -> Vec<AttrPath> {
            s.into_iter()
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| resolve_projection_path(rt, s))
                .collect()
        };
        Self {
            include: list(attributes),
            exclude: list(excluded),
        }
    }

    /// Whether `members` of a group must be loaded.
    pub(crate) fn wants(&self, name: &str) -> bool {
        if !self.include.is_empty() {
            return self
                .include
                .iter()
                .any(|p| p.schema.is_none() && p.name.eq_ignore_ascii_case(name));
        }
        !self.exclude.iter().any(|p| {
            p.schema.is_none() && p.name.eq_ignore_ascii_case(name) && p.sub_attr.is_none()
        })
    }

    /// Applies the projection and the `returned` characteristics to a rendered resource.
    pub(crate) fn apply(&self, rt: &ResourceType, mut v: Value) -> Value {
        if self.include.is_empty() && self.exclude.is_empty() && !hides_by_default(rt) {
            return v;
        }
        let Some(obj) = v.as_object_mut() else {
            return v;
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        for k in keys {
            if k == "schemas" || k == "id" {
                continue;
            }
            if let Some(ext) = rt.extension(&k) {
                let ext_id = ext.id.clone();
                let whole_included = self
                    .include
                    .iter()
                    .any(|p| p.schema.as_deref() == Some(&ext_id) && p.name.is_empty());
                let whole_excluded = self
                    .exclude
                    .iter()
                    .any(|p| p.schema.as_deref() == Some(&ext_id) && p.name.is_empty());
                if whole_excluded {
                    obj.remove(&k);
                    continue;
                }
                if let Some(Value::Object(eo)) = obj.get_mut(&k) {
                    let ekeys: Vec<String> = eo.keys().cloned().collect();
                    for ek in ekeys {
                        let def = ext.attribute(&ek);
                        let keep = self.keep(Some(&ext_id), &ek, def, whole_included);
                        match keep {
                            Keep::No => {
                                eo.remove(&ek);
                            }
                            Keep::Subs(subs) => prune_subs(eo.get_mut(&ek), &subs, def),
                            Keep::All => {}
                        }
                    }
                    if eo.is_empty() {
                        obj.remove(&k);
                    }
                }
                continue;
            }
            let def = rt.find(None, &k).map(|r| r.def);
            match self.keep(None, &k, def, false) {
                Keep::No => {
                    obj.remove(&k);
                }
                Keep::Subs(subs) => prune_subs(obj.get_mut(&k), &subs, def),
                Keep::All => {}
            }
        }
        // Keep `schemas` consistent with the extensions still present.
        let present: Vec<Value> = std::iter::once(rt.schema.id.clone())
            .chain(
                rt.extensions
                    .iter()
                    .filter(|e| obj.contains_key(&e.id))
                    .map(|e| e.id.clone()),
            )
            .map(Value::String)
            .collect();
        obj.insert("schemas".into(), Value::Array(present));
        v
    }

    fn keep(
        &self,
        schema: Option<&str>,
        name: &str,
        def: Option<&AttributeDef>,
        whole_included: bool,
    ) -> Keep {
        let returned = def.map_or(Returned::Default, |d| d.returned);
        match returned {
            Returned::Never => return Keep::No,
            Returned::Always => return Keep::All,
            _ => {}
        }
        if def.is_some_and(|d| d.mutability == Mutability::WriteOnly) {
            return Keep::No;
        }
        let same =
            |p: &&AttrPath| p.schema.as_deref() == schema && p.name.eq_ignore_ascii_case(name);
        if !self.include.is_empty() {
            if whole_included {
                return if returned == Returned::Request {
                    Keep::No
                } else {
                    Keep::All
                };
            }
            let hits: Vec<&AttrPath> = self.include.iter().filter(same).collect();
            if hits.is_empty() {
                return Keep::No;
            }
            if hits.iter().any(|p| p.sub_attr.is_none()) {
                return Keep::All;
            }
            return Keep::Subs(hits.iter().filter_map(|p| p.sub_attr.clone()).collect());
        }
        if returned == Returned::Request {
            return Keep::No;
        }
        let hits: Vec<&AttrPath> = self.exclude.iter().filter(same).collect();
        if hits.iter().any(|p| p.sub_attr.is_none()) {
            return Keep::No;
        }
        if !hits.is_empty() {
            let all: Vec<String> = def
                .map(|d| d.sub_attributes.iter().map(|s| s.name.clone()).collect())
                .unwrap_or_default();
            let drop: Vec<String> = hits.iter().filter_map(|p| p.sub_attr.clone()).collect();
            return Keep::Subs(
                all.into_iter()
                    .filter(|s| !drop.iter().any(|d| d.eq_ignore_ascii_case(s)))
                    .collect(),
            );
        }
        Keep::All
    }
}

/// Whether some declared attribute is not returned by default (`returned`
/// never/request, or write-only).
fn hides_by_default(rt: &ResourceType) -> bool {
    let hidden = |a: &AttributeDef| {
        matches!(a.returned, Returned::Never | Returned::Request)
            || a.mutability == Mutability::WriteOnly
            || a.sub_attributes.iter().any(|s| {
                matches!(s.returned, Returned::Never | Returned::Request)
                    || s.mutability == Mutability::WriteOnly
            })
    };
    rt.schema.attributes.iter().any(hidden)
        || rt
            .extensions
            .iter()
            .flat_map(|e| e.attributes.iter())
            .any(hidden)
}

enum Keep {
    All,
    No,
    Subs(Vec<String>),
}

fn prune_subs(v: Option<&mut Value>, subs: &[String], _def: Option<&AttributeDef>) {
    let keep = |o: &mut Map<String, Value>| {
        o.retain(|k, _| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
    };
    match v {
        Some(Value::Object(o)) => keep(o),
        Some(Value::Array(items)) => {
            for it in items.iter_mut() {
                if let Value::Object(o) = it {
                    keep(o);
                }
            }
        }
        _ => {}
    }
}

/// Resolves one `attributes=` entry: `name`, `name.sub`, `urn:…:name[.sub]`
/// or a bare extension URN (the whole extension: `name` left empty).
fn resolve_projection_path(rt: &ResourceType, s: &str) -> Option<AttrPath> {
    if let Some(ext) = rt.extension(s) {
        return Some(AttrPath {
            schema: Some(ext.id.clone()),
            name: String::new(),
            sub_attr: None,
        });
    }
    let (urn, rest) = rt.split_urn(s)?;
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let r = rt.find(urn, name)?;
    let sub = match sub {
        Some(s) => Some(r.def.sub(s)?.name.clone()),
        None => None,
    };
    Some(AttrPath {
        schema: r.extension.map(|e| e.id.clone()),
        name: r.def.name.clone(),
        sub_attr: sub,
    })
}
