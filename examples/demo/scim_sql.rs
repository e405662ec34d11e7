//! SCIM filters and `sortBy` in SQL: the worked example of translating the
//! filter AST that ssokit hands a `ScimDirectory` (see `ssokit::scim::filter`).
//!
//! The row being filtered is `r`, with the columns `id`, `seq` (creation
//! order), `doc` (the SCIM attributes as JSON; a group's also hold its
//! `members`), `created_ns` and `modified_ns` (unix nanoseconds), and for
//! users the indexed `user_name_key` and `external_id`.
//!
//! Every value of the filter is bound as a parameter, never spliced into the
//! SQL; JSON paths are bound too. The semantics are the ones of ssokit's
//! in-memory evaluator, attribute by attribute:
//!
//! - strings compare with the attribute's `caseExact`: `caseExact: false`
//!   folds both sides with `scim_fold` (Unicode lower case, see `db.rs`);
//!   `co`/`sw`/`ew` are `instr`/`substr`, never `LIKE` (whose `%`, `_` and
//!   ASCII-only case folding differ);
//! - a multi-valued attribute matches when one of its values does
//!   (`json_each`), `ne` when none is equal, `eq null` when it has no value;
//! - a value of another type than the attribute's never matches (`active eq
//!   "true"` is false, as in the memory directory);
//! - `pr` is "has a non-empty value" (`json_tree` for complex values);
//! - `emails[type eq "work" and value co "@x"]` is one element satisfying
//!   both conditions;
//! - `meta.created`/`meta.lastModified` are compared as instants, at the
//!   whole seconds SCIM shows them with.
//!
//! Refused with `UnsupportedFilter` (a 400 `invalidFilter`), never evaluated
//! differently: `meta.version` (the directory's version is not what the
//! memory directory filters on), comparisons of `dateTime` attributes stored
//! in the JSON (none in the standard schemas; an extension's would need a
//! time column), nested value filters, and any filter node kind ssokit may add.

use rusqlite::types::Value as SqlValue;
use ssokit::scim::{
    AttrPath, AttrType, AttributeDef, CompValue, CompareOp, DirectoryError, Filter, ResourceType,
    SortBy,
};

/// Positional parameters (`?1`, `?2`, …); one value may be used twice.
#[derive(Debug, Default)]
pub(crate) struct Binds(pub(crate) Vec<SqlValue>);

impl Binds {
    /// Binds `v` and returns its placeholder.
    pub(crate) fn push(&mut self, v: impl Into<SqlValue>) -> String {
        self.0.push(v.into());
        format!("?{}", self.0.len())
    }
}

/// Turns a filter into an SQL condition on `r` (never NULL: 0 or 1).
pub(crate) fn where_sql(
    filter: &Filter,
    rt: &ResourceType,
    indexed: bool,
    binds: &mut Binds,
) -> Result<String, DirectoryError> {
    Translator { rt, indexed, binds }.filter(filter, None)
}

/// The SQL expression `r` is ordered by (ascending; NULL means no value),
/// for `sortBy` with the rules of the memory directory: a multi-valued
/// attribute sorts by its primary (else first) value, a complex one by its
/// `value`, strings with the attribute's `caseExact`.
pub(crate) fn sort_key_sql(
    sort: &SortBy,
    rt: &ResourceType,
    binds: &mut Binds,
) -> Result<String, DirectoryError> {
    let path = &sort.path;
    if path.schema.is_none() {
        match (path.name.as_str(), path.sub_attr.as_deref()) {
            ("id", None) | ("meta", Some("location")) => return Ok("r.id".into()),
            ("meta", Some("created")) => return Ok("(r.created_ns / 1000000000)".into()),
            ("meta", Some("lastModified")) => return Ok("(r.modified_ns / 1000000000)".into()),
            // The same for every resource: creation order.
            ("meta", Some("resourceType" | "version")) | ("schemas", None) => {
                return Ok("''".into());
            }
            ("meta", _) => return Ok("NULL".into()),
            ("externalId", None) if rt.schema.attribute("externalId").is_none() => {
                let p = binds.push(json_path(None, "externalId", None));
                return Ok(format!("json_extract(r.doc, {p})"));
            }
            _ => {}
        }
    }
    let (top, leaf) = lookup(rt, path)
        .ok_or_else(|| DirectoryError::UnsupportedFilter(format!("cannot sort by `{path}`")))?;
    let top_path = json_path(path.schema.as_deref(), &path.name, None);
    let pick = path
        .sub_attr
        .clone()
        .or_else(|| (top.kind == AttrType::Complex).then(|| "value".to_owned()));
    let key = if top.multi_valued {
        let top_p = binds.push(top_path);
        let value = match &pick {
            Some(sub) => {
                let sub_p = binds.push(json_path(None, sub, None));
                format!("CASE WHEN s.type = 'object' THEN json_extract(s.value, {sub_p}) END")
            }
            None => "s.atom".to_owned(),
        };
        format!(
            "(SELECT {value} FROM json_each(r.doc, {top_p}) AS s \
             ORDER BY IFNULL((CASE WHEN s.type = 'object' THEN json_type(s.value, '$.primary') END) = 'true', 0) DESC, \
             s.key LIMIT 1)"
        )
    } else {
        match &path.sub_attr {
            Some(sub) => {
                let p = binds.push(json_path(path.schema.as_deref(), &path.name, Some(sub)));
                format!("json_extract(r.doc, {p})")
            }
            None if top.kind == AttrType::Complex => {
                let p = binds.push(json_path(path.schema.as_deref(), &path.name, Some("value")));
                format!("json_extract(r.doc, {p})")
            }
            None => {
                let p = binds.push(top_path);
                format!("json_extract(r.doc, {p})")
            }
        }
    };
    Ok(if leaf.case_exact {
        key
    } else {
        format!("scim_fold({key})")
    })
}

/// `$."name"`, `$."urn"."name"`, `$."name"."sub"`: names come from the
/// schema (the service resolved them), and the path is bound anyway.
fn json_path(schema: Option<&str>, name: &str, sub: Option<&str>) -> String {
    let mut p = String::from("$");
    for part in schema.into_iter().chain([name]).chain(sub) {
        p.push_str(".\"");
        p.push_str(&part.replace('"', "\\\""));
        p.push('"');
    }
    p
}

/// The definitions of a path's top-level attribute and of the attribute it
/// names (the sub-attribute, if any), from the declared schemas.
fn lookup<'a>(
    rt: &'a ResourceType,
    path: &AttrPath,
) -> Option<(&'a AttributeDef, &'a AttributeDef)> {
    let top = match path.schema.as_deref() {
        Some(urn) if !rt.is_core(urn) => rt.extension(urn)?.attribute(&path.name)?,
        _ => rt.schema.attribute(&path.name)?,
    };
    let leaf = match &path.sub_attr {
        Some(s) => top.sub(s)?,
        None => top,
    };
    Some((top, leaf))
}

/// Where the values of an attribute path come from.
enum Values {
    /// Exactly one text value: an SQL expression.
    One(String),
    /// The rows of a FROM clause, aliased `v` (`json_each` columns:
    /// `type`, `atom`, `value`), one per value.
    Rows(String),
    /// `meta.created` / `meta.lastModified`: an integer column of unix seconds.
    Time(&'static str),
}

const PRESENT_ROW: &str = "(v.type IN ('integer', 'real', 'true', 'false') \
     OR (v.type = 'text' AND v.atom <> '') \
     OR (v.type IN ('object', 'array') AND EXISTS (SELECT 1 FROM json_tree(\
         CASE WHEN v.type IN ('object', 'array') THEN v.value ELSE 'null' END) AS t \
         WHERE t.type IN ('integer', 'real', 'true', 'false') OR (t.type = 'text' AND t.atom <> ''))))";

struct Translator<'a> {
    rt: &'a ResourceType,
    /// Users: `r.user_name_key` and `r.external_id` exist (and are indexed).
    indexed: bool,
    binds: &'a mut Binds,
}

/// A value filter's element being examined: its attribute and row alias.
type Scope<'p> = Option<(&'p AttrPath, &'static str)>;

fn unsupported(what: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::UnsupportedFilter(format!("this directory cannot filter on {what}"))
}

impl Translator<'_> {
    fn filter(&mut self, f: &Filter, scope: Scope<'_>) -> Result<String, DirectoryError> {
        Ok(match f {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.filter(a, scope)?,
                self.filter(b, scope)?
            ),
            Filter::Or(a, b) => {
                format!("({} OR {})", self.filter(a, scope)?, self.filter(b, scope)?)
            }
            Filter::Not(a) => format!("(NOT {})", self.filter(a, scope)?),
            Filter::Present(path) => self.present(path, scope)?,
            Filter::Compare { path, op, value } => self.compare(path, *op, value, scope)?,
            Filter::ValuePath { path, filter } => {
                if scope.is_some() {
                    return Err(unsupported("nested value filters"));
                }
                let (top, _) =
                    lookup(self.rt, path).ok_or_else(|| unsupported(format!("`{path}[…]`")))?;
                let p = self
                    .binds
                    .push(json_path(path.schema.as_deref(), &path.name, None));
                // Every value of a multi-valued attribute, or the one of a complex one.
                let src = if top.multi_valued {
                    format!("json_each(r.doc, {p}) AS e")
                } else {
                    format!("json_each(json_array(json_extract(r.doc, {p}))) AS e")
                };
                let inner = self.filter(filter, Some((path, "e")))?;
                format!("EXISTS (SELECT 1 FROM {src} WHERE e.type <> 'null' AND {inner})")
            }
            other => return Err(unsupported(format!("`{other}`"))),
        })
    }

    /// The values of `path`, and the definition of the attribute it names.
    fn values(
        &mut self,
        path: &AttrPath,
        scope: Scope<'_>,
    ) -> Result<(Values, AttributeDef), DirectoryError> {
        if let (Some((parent, alias)), Some(sub)) = (scope, &path.sub_attr)
            && parent.schema == path.schema
            && parent.name == path.name
        {
            let (_, leaf) =
                lookup(self.rt, path).ok_or_else(|| unsupported(format!("`{path}`")))?;
            let p = self.binds.push(json_path(None, sub, None));
            return Ok((
                Values::Rows(format!(
                    "json_each(CASE WHEN {alias}.type = 'object' THEN {alias}.value ELSE '{{}}' END, {p}) AS v"
                )),
                leaf.clone(),
            ));
        }
        if path.schema.is_none() {
            let text = |name: &str| AttributeDef::new(name, AttrType::String);
            match (path.name.as_str(), path.sub_attr.as_deref()) {
                ("id", None) => return Ok((Values::One("r.id".into()), text("id").case_exact())),
                ("meta", Some("created")) => {
                    return Ok((
                        Values::Time("(r.created_ns / 1000000000)"),
                        AttributeDef::new("created", AttrType::DateTime),
                    ));
                }
                ("meta", Some("lastModified")) => {
                    return Ok((
                        Values::Time("(r.modified_ns / 1000000000)"),
                        AttributeDef::new("lastModified", AttrType::DateTime),
                    ));
                }
                ("meta", Some("resourceType")) => {
                    let p = self.binds.push(self.rt.name().to_owned());
                    return Ok((Values::One(p), text("resourceType").case_exact()));
                }
                ("meta", Some("location")) => {
                    let p = self.binds.push(format!("{}/", self.rt.kind.endpoint()));
                    return Ok((
                        Values::One(format!("({p} || r.id)")),
                        text("location").case_exact(),
                    ));
                }
                ("meta", _) => return Err(unsupported(format!("`{path}`"))),
                ("schemas", None) => {
                    // The core URN, and each extension the resource has attributes of.
                    let mut items = vec![self.binds.push(self.rt.schema.id.clone())];
                    for ext in &self.rt.extensions {
                        let p = self.binds.push(json_path(None, &ext.id, None));
                        let urn = self.binds.push(ext.id.clone());
                        items.push(format!(
                            "CASE WHEN json_type(r.doc, {p}) IS NOT NULL THEN {urn} END"
                        ));
                    }
                    return Ok((
                        Values::Rows(format!("json_each(json_array({})) AS v", items.join(", "))),
                        AttributeDef::new("schemas", AttrType::Reference),
                    ));
                }
                ("externalId", None) if self.rt.schema.attribute("externalId").is_none() => {
                    let p = self.binds.push(json_path(None, "externalId", None));
                    return Ok((
                        Values::Rows(format!("json_each(r.doc, {p}) AS v")),
                        text("externalId").case_exact(),
                    ));
                }
                _ => {}
            }
        }
        let (top, leaf) = lookup(self.rt, path).ok_or_else(|| unsupported(format!("`{path}`")))?;
        let src = match &path.sub_attr {
            Some(sub) if top.multi_valued => {
                let tp = self
                    .binds
                    .push(json_path(path.schema.as_deref(), &path.name, None));
                let sp = self.binds.push(json_path(None, sub, None));
                format!(
                    "json_each(r.doc, {tp}) AS ev, \
                     json_each(CASE WHEN ev.type = 'object' THEN ev.value ELSE '{{}}' END, {sp}) AS v"
                )
            }
            sub => {
                let p = self.binds.push(json_path(
                    path.schema.as_deref(),
                    &path.name,
                    sub.as_deref(),
                ));
                format!("json_each(r.doc, {p}) AS v")
            }
        };
        Ok((Values::Rows(src), leaf.clone()))
    }

    fn present(&mut self, path: &AttrPath, scope: Scope<'_>) -> Result<String, DirectoryError> {
        if scope.is_none() && path.is("meta", None) {
            return Ok("1".into());
        }
        Ok(match self.values(path, scope)?.0 {
            Values::One(expr) => format!("IFNULL({expr} <> '', 0)"),
            Values::Time(_) => "1".into(),
            Values::Rows(src) => format!("EXISTS (SELECT 1 FROM {src} WHERE {PRESENT_ROW})"),
        })
    }

    fn compare(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        scope: Scope<'_>,
    ) -> Result<String, DirectoryError> {
        // `ne` is "no value is equal"; `eq null` is "no value".
        let (negate, op) = match (op, value) {
            (CompareOp::Ne, _) => (true, CompareOp::Eq),
            (op, _) => (false, op),
        };
        let positive = match value {
            CompValue::Null if op == CompareOp::Eq => {
                let any = match self.values(path, scope)?.0 {
                    Values::One(_) | Values::Time(_) => "1".to_owned(),
                    Values::Rows(src) => {
                        format!("EXISTS (SELECT 1 FROM {src} WHERE v.type <> 'null')")
                    }
                };
                format!("(NOT {any})")
            }
            _ => self.any_value(path, op, value, scope)?,
        };
        Ok(if negate {
            format!("(NOT {positive})")
        } else {
            positive
        })
    }

    /// Whether some value of `path` satisfies `op value` (`op` is not `ne`).
    fn any_value(
        &mut self,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        scope: Scope<'_>,
    ) -> Result<String, DirectoryError> {
        // The indexed columns of users: `userName eq "…"` and `externalId eq "…"`.
        if self.indexed
            && scope.is_none()
            && op == CompareOp::Eq
            && let CompValue::Str(s) = value
        {
            let fold = lookup(self.rt, path).map(|(_, d)| !d.case_exact);
            if path.is("userName", None) && fold == Some(true) {
                let p = self.binds.push(s.to_lowercase());
                return Ok(format!("IFNULL(r.user_name_key = {p}, 0)"));
            }
            if path.is("externalId", None) && fold != Some(true) {
                let p = self.binds.push(s.clone());
                return Ok(format!("IFNULL(r.external_id = {p}, 0)"));
            }
        }
        let (values, def) = self.values(path, scope)?;
        match values {
            Values::One(expr) => self.element("'text'", &expr, path, op, value, &def),
            Values::Rows(src) => {
                let cond = self.element("v.type", "v.atom", path, op, value, &def)?;
                Ok(format!(
                    "EXISTS (SELECT 1 FROM {src} WHERE v.type <> 'null' AND {cond})"
                ))
            }
            Values::Time(secs) => {
                let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
                match value.as_date_time() {
                    Some(t) if !substring => Ok(self.instant(secs, op, t)),
                    // Not a date-time: compared as the text SCIM shows.
                    _ => {
                        let text = format!("strftime('%Y-%m-%dT%H:%M:%SZ', {secs}, 'unixepoch')");
                        let def = AttributeDef::new(def.name.clone(), AttrType::String);
                        self.element("'text'", &text, path, op, value, &def)
                    }
                }
            }
        }
    }

    /// `secs op t` where `secs` are whole seconds (as SCIM shows them) and
    /// `t` may have a fraction.
    fn instant(&mut self, secs: &str, op: CompareOp, t: std::time::SystemTime) -> String {
        let nanos: i128 = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
            Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
        };
        let whole = i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(if nanos < 0 {
            i64::MIN
        } else {
            i64::MAX
        });
        let fraction = nanos.rem_euclid(1_000_000_000) != 0;
        if matches!(op, CompareOp::Eq) && fraction {
            // Whole seconds never equal a time with a fraction.
            return "0".into();
        }
        let p = self.binds.push(whole);
        match (op, fraction) {
            (CompareOp::Eq, false) => format!("({secs} = {p})"),
            (CompareOp::Gt, false) => format!("({secs} > {p})"),
            (CompareOp::Ge, false) => format!("({secs} >= {p})"),
            (CompareOp::Lt, false) => format!("({secs} < {p})"),
            (CompareOp::Le, false) => format!("({secs} <= {p})"),
            (CompareOp::Gt | CompareOp::Ge, true) => format!("({secs} > {p})"),
            (CompareOp::Lt | CompareOp::Le, true) => format!("({secs} <= {p})"),
            // Eq with a fraction is answered above; substring operators never get here.
            _ => format!("({secs} = {p} AND 0)"),
        }
    }

    /// Whether one value (of SQL type name `ty`, primitive value `atom`) satisfies `op value`.
    fn element(
        &mut self,
        ty: &str,
        atom: &str,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
        def: &AttributeDef,
    ) -> Result<String, DirectoryError> {
        let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
        Ok(match value {
            CompValue::Null => "0".into(),
            CompValue::Bool(b) if op == CompareOp::Eq => {
                format!("({ty} = '{}')", if *b { "true" } else { "false" })
            }
            CompValue::Bool(_) => "0".into(),
            CompValue::Number(n) => match n.as_f64() {
                Some(x) if !substring => {
                    let p = self.binds.push(x);
                    let sql_op = match op {
                        CompareOp::Gt => ">",
                        CompareOp::Ge => ">=",
                        CompareOp::Lt => "<",
                        CompareOp::Le => "<=",
                        _ => "=",
                    };
                    format!(
                        "({ty} IN ('integer', 'real') AND IFNULL(CAST({atom} AS REAL) {sql_op} {p}, 0))"
                    )
                }
                _ => "0".into(),
            },
            CompValue::Str(s) => {
                if def.kind == AttrType::DateTime && !substring {
                    return Err(unsupported(format!(
                        "`{path} {op}`: dateTime attributes other than meta.created and meta.lastModified"
                    )));
                }
                let (a, s) = if def.case_exact {
                    (atom.to_owned(), s.clone())
                } else {
                    (format!("scim_fold({atom})"), s.to_lowercase())
                };
                let b = self.binds.push(s);
                let cond = match op {
                    CompareOp::Eq | CompareOp::Ne => format!("{a} = {b}"),
                    CompareOp::Gt => format!("{a} > {b}"),
                    CompareOp::Ge => format!("{a} >= {b}"),
                    CompareOp::Lt => format!("{a} < {b}"),
                    CompareOp::Le => format!("{a} <= {b}"),
                    CompareOp::Co => format!("instr({a}, {b}) > 0"),
                    CompareOp::Sw => format!("substr({a}, 1, length({b})) = {b}"),
                    CompareOp::Ew => format!(
                        "(length({a}) >= length({b}) AND substr({a}, length({a}) - length({b}) + 1) = {b})"
                    ),
                };
                format!("({ty} = 'text' AND IFNULL({cond}, 0))")
            }
        })
    }
}
