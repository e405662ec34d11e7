//! PATCH (RFC 7644 §3.5.2): path parsing and the strict engine applying
//! `add` / `replace` / `remove` to a resource's attributes, atomically.
//! Client quirks are normalised before this runs (see [`super::quirks`]).
//! Group membership is not applied here: `members` operations become a
//! [`MembersPlan`] that the service turns into add/remove deltas.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::resource::{Compat, Member, coerce, coerce_single, fix_primary};
use super::schema::{AttrType, AttributeDef, Mutability, ResourceKind, ResourceType};

/// Most operations in one PATCH request.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation, after the quirk layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchOp {
    pub(crate) op: OpKind,
    pub(crate) path: Option<String>,
    pub(crate) value: Option<Value>,
}

/// A resolved PATCH path.
#[derive(Debug, Clone)]
pub(crate) enum Target<'a> {
    /// A whole extension (`urn:…:enterprise:2.0:User`).
    Extension(&'a str),
    /// `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`.
    Attr {
        /// The extension URN, if the attribute is in one.
        schema: Option<&'a str>,
        def: &'a AttributeDef,
        filter: Option<Filter>,
        sub: Option<&'a AttributeDef>,
    },
}

impl Target<'_> {
    fn attr_path(&self) -> Option<AttrPath> {
        match self {
            Target::Attr { schema, def, .. } => Some(AttrPath {
                schema: schema.map(str::to_owned),
                name: def.name.clone(),
                sub_attr: None,
            }),
            Target::Extension(_) => None,
        }
    }
}

fn matching_bracket(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = open + 1;
    let mut in_str = false;
    while i < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b']' if !in_str => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses and resolves a PATCH path against a resource type.
pub(crate) fn parse_path<'a>(rt: &'a ResourceType, text: &str) -> Result<Target<'a>, ScimError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ScimError::invalid_path("the PATCH path is empty"));
    }
    if text.len() > super::filter::MAX_FILTER_LEN {
        return Err(ScimError::invalid_path("the PATCH path is too long"));
    }
    if let Some(ext) = rt.extension(text) {
        return Ok(Target::Extension(ext.id.as_str()));
    }
    let bad = || ScimError::invalid_path(format!("`{text}` is not a valid attribute path"));
    let (schema, rest) = rt
        .split_urn(text)
        .ok_or_else(|| ScimError::invalid_path(format!("`{text}`: unknown schema")))?;
    let (head, filter_text, tail) = match rest.find('[') {
        Some(open) => {
            let close = matching_bracket(rest, open).ok_or_else(bad)?;
            let tail = &rest[close + 1..];
            (&rest[..open], Some(&rest[open + 1..close]), tail)
        }
        None => (rest, None, ""),
    };
    let (name, mut sub_name) = match head.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (head, None),
    };
    if filter_text.is_some() && sub_name.is_some() {
        return Err(bad());
    }
    if !tail.is_empty() {
        let s = tail.strip_prefix('.').ok_or_else(bad)?;
        sub_name = Some(s);
    }
    if !super::filter::valid_name(name) || sub_name.is_some_and(|s| !super::filter::valid_name(s)) {
        return Err(bad());
    }
    let r = rt
        .find(schema, name)
        .ok_or_else(|| ScimError::invalid_path(format!("`{text}`: no such attribute")))?;
    let ext = r.extension.map(|e| e.id.as_str());
    let def = r.def;
    let sub =
        match sub_name {
            Some(s) => Some(def.sub(s).ok_or_else(|| {
                ScimError::invalid_path(format!("`{text}`: no such sub-attribute"))
            })?),
            None => None,
        };
    let filter = match filter_text {
        Some(ft) => {
            if def.kind != AttrType::Complex {
                return Err(ScimError::invalid_path(format!(
                    "`{text}`: value filters apply to complex attributes"
                )));
            }
            let prefix = match ext {
                Some(u) => format!("{u}:{}", def.name),
                None => def.name.clone(),
            };
            let parsed = Filter::parse(&format!("{prefix}[{ft}]"))
                .and_then(|f| f.resolve(rt))
                .map_err(|e| ScimError::invalid_filter(format!("PATCH path `{text}`: {e}")))?;
            match parsed {
                Filter::ValuePath { filter, .. } => Some(*filter),
                _ => return Err(bad()),
            }
        }
        None => None,
    };
    Ok(Target::Attr {
        schema: ext,
        def,
        filter,
        sub,
    })
}

/// Membership changes collected from a group PATCH, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct MembersPlan {
    pub(crate) steps: Vec<MemberStep>,
}

#[derive(Debug, Clone)]
pub(crate) enum MemberStep {
    Add(Vec<Member>),
    Remove(Vec<String>),
    RemoveMatching(Filter),
    RemoveAll,
}

impl MembersPlan {
    /// Whether computing the delta needs the current members.
    pub(crate) fn needs_current(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, MemberStep::RemoveAll | MemberStep::RemoveMatching(_)))
    }

    /// The net delta, given the current members when [`Self::needs_current`].
    pub(crate) fn delta(
        &self,
        current: Option<&[Member]>,
        rt: &ResourceType,
    ) -> super::MemberDelta {
        let members_path = AttrPath::new("members");
        match current {
            Some(current) => {
                let mut set: Vec<Member> = current.to_vec();
                for step in &self.steps {
                    match step {
                        MemberStep::Add(ms) => {
                            for m in ms {
                                if !set.iter().any(|x| x.value == m.value) {
                                    set.push(m.clone());
                                }
                            }
                        }
                        MemberStep::Remove(ids) => set.retain(|m| !ids.contains(&m.value)),
                        MemberStep::RemoveMatching(f) => {
                            set.retain(|m| !f.matches_element(&members_path, &m.to_json(), rt));
                        }
                        MemberStep::RemoveAll => set.clear(),
                    }
                }
                let before: BTreeSet<&str> = current.iter().map(|m| m.value.as_str()).collect();
                let after: BTreeSet<&str> = set.iter().map(|m| m.value.as_str()).collect();
                super::MemberDelta {
                    add: set
                        .iter()
                        .filter(|m| !before.contains(m.value.as_str()))
                        .cloned()
                        .collect(),
                    remove: current
                        .iter()
                        .filter(|m| !after.contains(m.value.as_str()))
                        .map(|m| m.value.clone())
                        .collect(),
                }
            }
            None => {
                let mut add: Vec<Member> = Vec::new();
                let mut remove: BTreeSet<String> = BTreeSet::new();
                for step in &self.steps {
                    match step {
                        MemberStep::Add(ms) => {
                            for m in ms {
                                remove.remove(&m.value);
                                if !add.iter().any(|x| x.value == m.value) {
                                    add.push(m.clone());
                                }
                            }
                        }
                        MemberStep::Remove(ids) => {
                            for id in ids {
                                add.retain(|m| &m.value != id);
                                remove.insert(id.clone());
                            }
                        }
                        // Never reached: these need the current members.
                        MemberStep::RemoveMatching(_) | MemberStep::RemoveAll => {}
                    }
                }
                super::MemberDelta {
                    add,
                    remove: remove.into_iter().collect(),
                }
            }
        }
    }
}

/// Simple `value eq "id"` (or an `or` of them) inside `members[…]`: the ids,
/// so no member list needs loading.
fn simple_member_ids(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(v),
        } if path.sub_attr.as_deref() == Some("value") => Some(vec![v.clone()]),
        Filter::Or(a, b) => {
            let mut v = simple_member_ids(a)?;
            v.extend(simple_member_ids(b)?);
            Some(v)
        }
        _ => None,
    }
}

fn members_from(value: &Value) -> Result<Vec<Member>, ScimError> {
    match value {
        Value::Array(items) => items.iter().map(Member::from_json).collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![Member::from_json(other)?]),
    }
}

/// Applies PATCH operations to `attrs` (a working copy; the caller commits
/// it only if every operation succeeded). Group `members` operations are
/// collected into the returned plan.
pub(crate) fn apply(
    rt: &ResourceType,
    attrs: &mut Map<String, Value>,
    ops: &[PatchOp],
    compat: Compat,
) -> Result<MembersPlan, ScimError> {
    let mut plan = MembersPlan::default();
    for op in ops {
        match &op.path {
            None => apply_pathless(rt, attrs, op, compat, &mut plan)?,
            Some(p) => {
                let target = parse_path(rt, p)?;
                apply_target(
                    rt,
                    attrs,
                    op.op,
                    &target,
                    op.value.as_ref(),
                    compat,
                    &mut plan,
                )?;
            }
        }
    }
    super::resource::check_required(rt, attrs).map_err(|e| {
        if e.detail().contains("required") {
            ScimError::mutability(format!("{}; it cannot be removed", e.detail()))
        } else {
            e
        }
    })?;
    Ok(plan)
}

fn apply_pathless(
    rt: &ResourceType,
    attrs: &mut Map<String, Value>,
    op: &PatchOp,
    compat: Compat,
    plan: &mut MembersPlan,
) -> Result<(), ScimError> {
    if op.op == OpKind::Remove {
        return Err(ScimError::no_target("a `remove` operation needs a `path`"));
    }
    let Some(Value::Object(obj)) = &op.value else {
        return Err(ScimError::invalid_value(
            "an operation without `path` needs an object `value`",
        ));
    };
    for (k, v) in obj {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|x| k.eq_ignore_ascii_case(x))
        {
            continue; // read-only; Okta repeats the group's `id` when renaming
        }
        let target = match parse_path(rt, k) {
            Ok(t) => t,
            Err(e) if compat == Compat::Lenient => {
                tracing::debug!(target: "ssokit::scim", attribute = %k, error = %e, "ignored unknown attribute in PATCH value");
                continue;
            }
            Err(e) => return Err(e),
        };
        if let Target::Attr {
            def,
            sub: None,
            filter: None,
            ..
        } = &target
            && def.mutability == Mutability::ReadOnly
        {
            continue;
        }
        apply_target(rt, attrs, op.op, &target, Some(v), compat, plan)?;
    }
    Ok(())
}

/// The map holding the attribute: the resource, or its extension object.
fn container<'m>(
    attrs: &'m mut Map<String, Value>,
    schema: Option<&str>,
    create: bool,
) -> Option<&'m mut Map<String, Value>> {
    match schema {
        None => Some(attrs),
        Some(urn) => {
            if !attrs.contains_key(urn) {
                if !create {
                    return None;
                }
                attrs.insert(urn.to_owned(), Value::Object(Map::new()));
            }
            attrs.get_mut(urn).and_then(Value::as_object_mut)
        }
    }
}

fn prune(attrs: &mut Map<String, Value>, schema: Option<&str>) {
    if let Some(urn) = schema
        && attrs
            .get(urn)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        attrs.remove(urn);
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_target(
    rt: &ResourceType,
    attrs: &mut Map<String, Value>,
    op: OpKind,
    target: &Target,
    value: Option<&Value>,
    compat: Compat,
    plan: &mut MembersPlan,
) -> Result<(), ScimError> {
    let (schema, def, filter, sub) = match target {
        Target::Extension(urn) => {
            let ext = rt
                .extension(urn)
                .ok_or_else(|| ScimError::invalid_path("unknown extension"))?;
            match op {
                OpKind::Remove => {
                    attrs.remove(&ext.id);
                }
                OpKind::Add | OpKind::Replace => {
                    let Some(Value::Object(obj)) = value else {
                        return Err(ScimError::invalid_value(format!(
                            "`{}` needs an object value",
                            ext.id
                        )));
                    };
                    for (k, v) in obj {
                        let Some(d) = ext.attribute(k) else {
                            if compat == Compat::Lenient {
                                continue;
                            }
                            return Err(ScimError::invalid_path(format!(
                                "`{}:{k}`: no such attribute",
                                ext.id
                            )));
                        };
                        if d.mutability == Mutability::ReadOnly {
                            continue;
                        }
                        let t = Target::Attr {
                            schema: Some(ext.id.as_str()),
                            def: d,
                            filter: None,
                            sub: None,
                        };
                        apply_target(rt, attrs, op, &t, Some(v), compat, plan)?;
                    }
                }
            }
            return Ok(());
        }
        Target::Attr {
            schema,
            def,
            filter,
            sub,
        } => (*schema, *def, filter, *sub),
    };
    let path_text = match schema {
        Some(u) => format!("{u}:{}", def.name),
        None => def.name.clone(),
    };

    if rt.kind == ResourceKind::Group && schema.is_none() && def.name == "members" {
        return members_op(op, filter.as_ref(), sub, value, compat, plan);
    }

    match def.mutability {
        Mutability::ReadOnly => {
            return Err(ScimError::mutability(format!("`{path_text}` is read-only")));
        }
        Mutability::Immutable => {
            let assigned =
                container(attrs, schema, false).is_some_and(|c| c.contains_key(&def.name));
            if op != OpKind::Add || assigned {
                return Err(ScimError::mutability(format!("`{path_text}` is immutable")));
            }
        }
        _ => {}
    }
    if let Some(s) = sub
        && s.mutability == Mutability::ReadOnly
    {
        return Err(ScimError::mutability(format!(
            "`{path_text}.{}` is read-only",
            s.name
        )));
    }
    // `null` in add/replace un-assigns (RFC 7643 §2.5).
    let value = match (op, value) {
        (OpKind::Remove, _) => value,
        (_, None) => {
            return Err(ScimError::invalid_value(format!(
                "`{path_text}`: `add` and `replace` need a `value`"
            )));
        }
        (_, Some(v)) if is_empty_value(v) && filter.is_none() => {
            return apply_target(rt, attrs, OpKind::Remove, target, None, compat, plan);
        }
        (_, v) => v,
    };

    let c = container(attrs, schema, op != OpKind::Remove);
    let Some(c) = c else { return Ok(()) };
    let result = match (filter, sub) {
        (None, None) => whole(c, def, op, value, compat, &path_text),
        (None, Some(s)) => sub_all(c, def, s, op, value, compat, &path_text),
        (Some(f), s) => filtered(rt, c, def, f, s, op, value, compat, &path_text, target),
    };
    prune(attrs, schema);
    result
}

fn whole(
    c: &mut Map<String, Value>,
    def: &AttributeDef,
    op: OpKind,
    value: Option<&Value>,
    compat: Compat,
    path: &str,
) -> Result<(), ScimError> {
    match op {
        OpKind::Remove => {
            match value {
                // Entra: `remove` with a value list removes those values only.
                Some(v) if compat == Compat::Lenient && def.multi_valued && !is_empty_value(v) => {
                    let gone = coerce(def, v, compat, path)?.unwrap_or(Value::Array(vec![]));
                    let gone = gone.as_array().cloned().unwrap_or_default();
                    if let Some(Value::Array(items)) = c.get_mut(&def.name) {
                        items.retain(|it| !gone.iter().any(|g| same_value(it, g)));
                        if items.is_empty() {
                            c.remove(&def.name);
                        }
                    }
                }
                _ => {
                    c.remove(&def.name);
                }
            }
            Ok(())
        }
        OpKind::Add | OpKind::Replace => {
            let v = value.ok_or_else(|| ScimError::invalid_value("missing value"))?;
            let Some(new) = coerce(def, v, compat, path)? else {
                c.remove(&def.name);
                return Ok(());
            };
            if def.multi_valued && op == OpKind::Add {
                let items = match c.get_mut(&def.name) {
                    Some(Value::Array(items)) => items,
                    _ => {
                        c.insert(def.name.clone(), new);
                        return Ok(());
                    }
                };
                let mut keep = None;
                for n in new.as_array().cloned().unwrap_or_default() {
                    if !items.iter().any(|it| it == &n) {
                        if n.get("primary").and_then(Value::as_bool) == Some(true) {
                            keep = Some(items.len());
                        }
                        items.push(n);
                    }
                }
                fix_primary(items, keep);
            } else if def.kind == AttrType::Complex && !def.multi_valued {
                // Complex: the given sub-attributes replace, the others stay.
                match (c.get_mut(&def.name), new) {
                    (Some(Value::Object(old)), Value::Object(n)) => {
                        for (k, v) in n {
                            old.insert(k, v);
                        }
                    }
                    (_, n) => {
                        c.insert(def.name.clone(), n);
                    }
                }
            } else {
                c.insert(def.name.clone(), new);
            }
            Ok(())
        }
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// `name.givenName` (single complex) or `emails.type` (every value).
fn sub_all(
    c: &mut Map<String, Value>,
    def: &AttributeDef,
    sub: &AttributeDef,
    op: OpKind,
    value: Option<&Value>,
    compat: Compat,
    path: &str,
) -> Result<(), ScimError> {
    let sub_path = format!("{path}.{}", sub.name);
    let new = match op {
        OpKind::Remove => None,
        _ => coerce(sub, value.unwrap_or(&Value::Null), compat, &sub_path)?,
    };
    if def.multi_valued {
        let Some(Value::Array(items)) = c.get_mut(&def.name) else {
            if op == OpKind::Remove {
                return Ok(());
            }
            if let Some(n) = new {
                let mut o = Map::new();
                o.insert(sub.name.clone(), n);
                c.insert(def.name.clone(), Value::Array(vec![Value::Object(o)]));
            }
            return Ok(());
        };
        for it in items.iter_mut() {
            if let Value::Object(o) = it {
                match &new {
                    Some(n) => {
                        o.insert(sub.name.clone(), n.clone());
                    }
                    None => {
                        o.remove(&sub.name);
                    }
                }
            }
        }
        items.retain(|it| !is_empty_value(it));
        if items.is_empty() {
            c.remove(&def.name);
        }
        return Ok(());
    }
    match new {
        Some(n) => {
            let entry = c
                .entry(def.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Some(o) = entry.as_object_mut() {
                o.insert(sub.name.clone(), n);
            }
        }
        None => {
            if let Some(Value::Object(o)) = c.get_mut(&def.name) {
                o.remove(&sub.name);
                if o.is_empty() {
                    c.remove(&def.name);
                }
            }
        }
    }
    Ok(())
}

/// The `sub eq "x"` conditions of an `and`-only filter: the element to create
/// when an Entra-style `emails[type eq "work"].value` targets nothing.
fn eq_conditions(f: &Filter, out: &mut Map<String, Value>) -> bool {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let Some(sub) = &path.sub_attr else {
                return false;
            };
            let v = match value {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return false,
            };
            out.insert(sub.clone(), v);
            true
        }
        Filter::And(a, b) => eq_conditions(a, out) && eq_conditions(b, out),
        _ => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn filtered(
    rt: &ResourceType,
    c: &mut Map<String, Value>,
    def: &AttributeDef,
    filter: &Filter,
    sub: Option<&AttributeDef>,
    op: OpKind,
    value: Option<&Value>,
    compat: Compat,
    path: &str,
    target: &Target,
) -> Result<(), ScimError> {
    let parent = target
        .attr_path()
        .unwrap_or_else(|| AttrPath::new(def.name.clone()));
    let elem_def = def;
    // Work on the values as a list (a single complex attribute is a list of one).
    let mut items: Vec<Value> = match c.remove(&def.name) {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(v) => vec![v],
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, it)| filter.matches_element(&parent, it, rt))
        .map(|(i, _)| i)
        .collect();
    let restore = |c: &mut Map<String, Value>, mut items: Vec<Value>| {
        items.retain(|it| !is_empty_value(it));
        if items.is_empty() {
            return;
        }
        if def.multi_valued {
            c.insert(def.name.clone(), Value::Array(items));
        } else if let Some(first) = items.into_iter().next() {
            c.insert(def.name.clone(), first);
        }
    };
    let sub_path = |s: &AttributeDef| format!("{path}.{}", s.name);
    let result = (|| -> Result<(), ScimError> {
        match op {
            OpKind::Remove => {
                match sub {
                    None => {
                        let mut i = 0;
                        items.retain(|_| {
                            let keep = !hits.contains(&i);
                            i += 1;
                            keep
                        });
                    }
                    Some(s) => {
                        for &i in &hits {
                            if let Some(o) = items[i].as_object_mut() {
                                o.remove(&s.name);
                            }
                        }
                    }
                }
                Ok(())
            }
            OpKind::Add | OpKind::Replace => {
                let v = value.ok_or_else(|| ScimError::invalid_value("missing value"))?;
                let new_part: Map<String, Value> = match sub {
                    Some(s) => {
                        let mut m = Map::new();
                        if let Some(x) = coerce(s, v, compat, &sub_path(s))? {
                            m.insert(s.name.clone(), x);
                        }
                        m
                    }
                    None => {
                        let v = match v {
                            Value::Array(a) if a.len() == 1 && compat == Compat::Lenient => &a[0],
                            other => other,
                        };
                        match coerce_single(elem_def, v, compat, path)? {
                            Some(Value::Object(o)) => o,
                            _ => Map::new(),
                        }
                    }
                };
                if hits.is_empty() {
                    // RFC: replace on nothing is `noTarget`. Entra (and Microsoft's
                    // validator) expect `emails[type eq "work"].value` to create
                    // the typed value; so does `add`.
                    let mut created = Map::new();
                    let creatable = eq_conditions(filter, &mut created);
                    if !creatable || (op == OpKind::Replace && compat == Compat::Strict) {
                        return Err(ScimError::no_target(format!(
                            "`{path}[{}]` matches no value",
                            filter_text(filter, &parent)
                        )));
                    }
                    for (k, v) in new_part {
                        created.insert(k, v);
                    }
                    let created = coerce_single(elem_def, &Value::Object(created), compat, path)?
                        .unwrap_or(Value::Object(Map::new()));
                    let primary = created.get("primary").and_then(Value::as_bool) == Some(true);
                    items.push(created);
                    if primary {
                        let k = items.len() - 1;
                        fix_primary(&mut items, Some(k));
                    }
                    if !def.multi_valued && items.len() > 1 {
                        items.remove(0);
                    }
                    return Ok(());
                }
                let mut keep = None;
                for &i in &hits {
                    if let Some(o) = items[i].as_object_mut() {
                        for (k, v) in &new_part {
                            o.insert(k.clone(), v.clone());
                        }
                        if o.get("primary").and_then(Value::as_bool) == Some(true) {
                            keep = Some(i);
                        }
                    }
                }
                fix_primary(&mut items, keep);
                Ok(())
            }
        }
    })();
    restore(c, items);
    result
}

fn filter_text(f: &Filter, parent: &AttrPath) -> String {
    let s = Filter::ValuePath {
        path: parent.clone(),
        filter: Box::new(f.clone()),
    }
    .to_string();
    // `emails[type eq "work"]` → `type eq "work"`
    s.find('[')
        .and_then(|i| s.get(i + 1..s.len() - 1))
        .unwrap_or_default()
        .to_owned()
}

fn members_op(
    op: OpKind,
    filter: Option<&Filter>,
    sub: Option<&AttributeDef>,
    value: Option<&Value>,
    compat: Compat,
    plan: &mut MembersPlan,
) -> Result<(), ScimError> {
    if sub.is_some() {
        return Err(ScimError::mutability(
            "the sub-attributes of `members` are immutable; remove and add the member instead",
        ));
    }
    match (op, filter) {
        (OpKind::Add, None) => {
            let v = value.ok_or_else(|| ScimError::invalid_value("`add members` needs a value"))?;
            plan.steps.push(MemberStep::Add(members_from(v)?));
        }
        (OpKind::Replace, None) => {
            let v =
                value.ok_or_else(|| ScimError::invalid_value("`replace members` needs a value"))?;
            plan.steps.push(MemberStep::RemoveAll);
            plan.steps.push(MemberStep::Add(members_from(v)?));
        }
        (OpKind::Remove, None) => match value {
            // Entra: `{"op":"Remove","path":"members","value":[{"value":"id"}]}`
            // removes those members, never everyone.
            Some(v) if !is_empty_value(v) => {
                if compat == Compat::Strict {
                    return Err(ScimError::invalid_syntax(
                        "`remove members` with a value: use the path `members[value eq \"id\"]`",
                    ));
                }
                let ids = members_from(v)?.into_iter().map(|m| m.value).collect();
                plan.steps.push(MemberStep::Remove(ids));
            }
            _ => plan.steps.push(MemberStep::RemoveAll),
        },
        (OpKind::Remove, Some(f)) => match simple_member_ids(f) {
            Some(ids) => plan.steps.push(MemberStep::Remove(ids)),
            None => plan.steps.push(MemberStep::RemoveMatching(f.clone())),
        },
        (OpKind::Add | OpKind::Replace, Some(f)) => {
            // `members[value eq "id"]` with add/replace: (re)add that member.
            let v = value.ok_or_else(|| ScimError::invalid_value("missing value"))?;
            let mut ms = members_from(v)?;
            if ms.is_empty()
                && let Some(ids) = simple_member_ids(f)
            {
                ms = ids.into_iter().map(Member::new).collect();
            }
            plan.steps.push(MemberStep::Add(ms));
        }
    }
    Ok(())
}
