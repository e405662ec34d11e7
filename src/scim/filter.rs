//! The SCIM filter language (RFC 7644 §3.4.2.2): a parser into a public AST,
//! resolution against the declared schema, and an in-memory evaluator.
//!
//! The service parses and resolves every `filter` before the host sees it:
//! attribute names are canonical (schema casing), URN prefixes are split off
//! (core attributes have [`AttrPath::schema`] `None`), a complex attribute
//! compared without a sub-attribute is rewritten to its `value`
//! (`emails co "x"` → `emails.value co "x"`), and paths inside a value filter
//! are absolute (`emails[type eq "work"]` has the inner path `emails.type`).
//! Operators and keywords are case-insensitive; string comparisons follow the
//! attribute's `caseExact`.
//!
//! # Translating a filter to SQL
//!
//! A host with users in a relational table translates the subset it indexes
//! and answers [`DirectoryError::UnsupportedFilter`](super::DirectoryError::UnsupportedFilter)
//! for the rest, which the client sees as a 400 `invalidFilter` — never a full scan.
//!
//! ```
//! use ssokit::scim::{AttrPath, CompValue, CompareOp, Filter};
//!
//! /// Columns the host indexes: (SCIM attribute, column, case-insensitive?).
//! fn column(p: &AttrPath) -> Option<(&'static str, bool)> {
//!     match (p.schema.as_deref(), p.name.as_str(), p.sub_attr.as_deref()) {
//!         (None, "userName", None) => Some(("user_name", true)),
//!         (None, "externalId", None) => Some(("external_id", false)),
//!         (None, "emails", Some("value")) => Some(("email", true)),
//!         (None, "active", None) => Some(("active", false)),
//!         _ => None,
//!     }
//! }
//!
//! fn to_sql(f: &Filter, binds: &mut Vec<String>) -> Result<String, String> {
//!     Ok(match f {
//!         Filter::And(a, b) => format!("({} AND {})", to_sql(a, binds)?, to_sql(b, binds)?),
//!         Filter::Or(a, b) => format!("({} OR {})", to_sql(a, binds)?, to_sql(b, binds)?),
//!         Filter::Not(a) => format!("NOT ({})", to_sql(a, binds)?),
//!         Filter::Present(p) => {
//!             let (col, _) = column(p).ok_or(format!("cannot filter on {p}"))?;
//!             format!("{col} IS NOT NULL")
//!         }
//!         Filter::Compare { path, op, value } => {
//!             let (col, fold) = column(path).ok_or(format!("cannot filter on {path}"))?;
//!             let v = match value {
//!                 CompValue::Str(s) => s.clone(),
//!                 CompValue::Bool(b) => b.to_string(),
//!                 _ => return Err("unsupported value".into()),
//!             };
//!             let (lhs, v) = if fold { (format!("lower({col})"), v.to_lowercase()) } else { (col.to_owned(), v) };
//!             let (sqlop, v) = match op {
//!                 CompareOp::Eq => ("=", v),
//!                 CompareOp::Ne => ("<>", v),
//!                 CompareOp::Sw => ("LIKE", format!("{}%", v.replace('%', "\\%"))),
//!                 CompareOp::Co => ("LIKE", format!("%{}%", v.replace('%', "\\%"))),
//!                 _ => return Err(format!("operator {op} is not supported")),
//!             };
//!             binds.push(v);
//!             format!("{lhs} {sqlop} ${}", binds.len())
//!         }
//!         // Value filters (`emails[type eq "work"]`), and any node kind added later: refuse.
//!         _ => return Err("value filters are not supported".into()),
//!     })
//! }
//!
//! let f = Filter::parse(r#"userName Eq "Bjensen" and not (active eq false)"#).unwrap();
//! let mut binds = Vec::new();
//! assert_eq!(to_sql(&f, &mut binds).unwrap(), "(lower(user_name) = $1 AND NOT (active = $2))");
//! assert_eq!(binds, ["bjensen", "false"]);
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Number, Value};

use super::schema::{AttrType, AttributeDef, ResourceType};
use super::time::parse_rfc3339;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of parentheses, `not` and value filters accepted.
pub const MAX_FILTER_DEPTH: usize = 16;

/// An attribute path: `[schema URN ":"] name ["." sub-attribute]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The extension schema URN; `None` for core and common attributes.
    pub schema: Option<String>,
    /// The top-level attribute (`userName`, `emails`, `manager`).
    pub name: String,
    /// The sub-attribute (`value` in `emails.value`).
    pub sub_attr: Option<String>,
}

impl AttrPath {
    /// A core attribute path without sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
            sub_attr: None,
        }
    }

    /// A path with a sub-attribute.
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub_attr = Some(sub.into());
        self
    }

    /// Whether this path names `name` (and `sub`), case-insensitively, in the core schema.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.schema.is_none()
            && self.name.eq_ignore_ascii_case(name)
            && match (&self.sub_attr, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }

    /// Parses `[urn:…:]name[.sub]` (the URN is split at its last `:`).
    fn parse_text(text: &str) -> Result<Self, FilterError> {
        let (schema, rest) = if text.len() > 4 && text[..4].eq_ignore_ascii_case("urn:") {
            match text.rfind(':') {
                Some(i) => (Some(text[..i].to_owned()), &text[i + 1..]),
                None => (None, text),
            }
        } else {
            (None, text)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        if !valid_name(name) || sub.is_some_and(|s| !valid_name(s)) {
            return Err(FilterError::new(format!(
                "`{text}` is not a valid attribute path"
            )));
        }
        Ok(Self {
            schema,
            name: name.to_owned(),
            sub_attr: sub.map(str::to_owned),
        })
    }
}

pub(crate) fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(s) = &self.sub_attr {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (substring).
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    /// The operator as written (`eq`, `co`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    fn is_ordering(self) -> bool {
        matches!(self, Self::Gt | Self::Ge | Self::Lt | Self::Le)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value: a JSON literal.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string (JSON escapes decoded).
    Str(String),
}

impl CompValue {
    /// The value as an instant, if it is an RFC 3339 date-time string: how
    /// `dateTime` attributes (`meta.lastModified`) are compared. A host that
    /// stores times as numbers binds this instead of the text; a string that
    /// is not a date-time is compared as text (or refused by the host).
    pub fn as_date_time(&self) -> Option<SystemTime> {
        let Self::Str(s) = self else {
            return None;
        };
        let nanos = parse_rfc3339(s)?;
        let abs = nanos.unsigned_abs();
        let d = Duration::new(
            u64::try_from(abs / 1_000_000_000).ok()?,
            u32::try_from(abs % 1_000_000_000).ok()?,
        );
        if nanos >= 0 {
            UNIX_EPOCH.checked_add(d)
        } else {
            UNIX_EPOCH.checked_sub(d)
        }
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::Str(s) => write!(f, "{}", Value::String(s.clone())),
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Filter {
    /// `path op value`.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The value compared with.
        value: CompValue,
    },
    /// `path pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// `path[filter]`: some value of the multi-valued (or complex) attribute
    /// `path` satisfies `filter`, whose paths are sub-attributes of `path`
    /// (written absolutely: `emails[type eq "work"]` holds `emails.type`).
    /// `emails[type eq "work"].value eq "x"` parses as
    /// `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        /// The multi-valued or complex attribute.
        path: AttrPath,
        /// The condition on one of its values.
        filter: Box<Filter>,
    },
}

/// A filter that could not be parsed or does not fit the schema (a 400 `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    message: String,
}

impl FilterError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FilterError {}

// ------------------------------------------------------------------ lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBrack,
    RBrack,
    Word(String),
    Str(String),
    Num(Number),
}

fn lex(input: &str) -> Result<Vec<Tok>, FilterError> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            b'[' => {
                out.push(Tok::LBrack);
                i += 1;
            }
            b']' => {
                out.push(Tok::RBrack);
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(FilterError::new("unterminated string in filter")),
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                let raw = input
                    .get(start..i)
                    .ok_or_else(|| FilterError::new("unterminated string in filter"))?;
                let s: String = serde_json::from_str(raw)
                    .map_err(|_| FilterError::new("invalid string escape in filter"))?;
                out.push(Tok::Str(s));
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                let raw = &input[start..i];
                match serde_json::from_str::<Number>(raw) {
                    Ok(n) => out.push(Tok::Num(n)),
                    Err(_) => return Err(FilterError::new(format!("`{raw}` is not a number"))),
                }
            }
            c if c.is_ascii_alphabetic() || matches!(c, b'$' | b'_' | b'.') => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || matches!(b[i], b'$' | b'_' | b'.' | b':' | b'-'))
                {
                    i += 1;
                }
                out.push(Tok::Word(input[start..i].to_owned()));
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or('?');
                return Err(FilterError::new(format!(
                    "unexpected character `{ch}` in filter"
                )));
            }
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------ parser

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(FilterError::new(format!(
                "the filter is nested more than {MAX_FILTER_DEPTH} levels deep"
            )));
        }
        Ok(())
    }

    fn or_expr(&mut self, parent: Option<&AttrPath>) -> Result<Filter, FilterError> {
        let mut left = self.and_expr(parent)?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and_expr(parent)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, parent: Option<&AttrPath>) -> Result<Filter, FilterError> {
        let mut left = self.not_expr(parent)?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.not_expr(parent)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_expr(&mut self, parent: Option<&AttrPath>) -> Result<Filter, FilterError> {
        if self.peek_keyword("not") && matches!(self.toks.get(self.pos + 1), Some(Tok::LParen)) {
            self.pos += 1;
            self.enter()?;
            let inner = self.group(parent)?;
            self.depth -= 1;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.atom(parent)
    }

    fn group(&mut self, parent: Option<&AttrPath>) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Tok::LParen) => {}
            _ => return Err(FilterError::new("expected `(`")),
        }
        let f = self.or_expr(parent)?;
        match self.next() {
            Some(Tok::RParen) => Ok(f),
            _ => Err(FilterError::new("missing `)` in filter")),
        }
    }

    fn atom(&mut self, parent: Option<&AttrPath>) -> Result<Filter, FilterError> {
        match self.peek() {
            Some(Tok::LParen) => {
                self.enter()?;
                let f = self.group(parent)?;
                self.depth -= 1;
                Ok(f)
            }
            Some(Tok::Word(_)) => self.attr_expr(parent),
            Some(_) => Err(FilterError::new("expected an attribute path")),
            None => Err(FilterError::new("the filter ends early")),
        }
    }

    fn path(&mut self, parent: Option<&AttrPath>) -> Result<AttrPath, FilterError> {
        let Some(Tok::Word(w)) = self.next() else {
            return Err(FilterError::new("expected an attribute path"));
        };
        let p = AttrPath::parse_text(&w)?;
        match parent {
            None => Ok(p),
            Some(parent) => {
                if p.schema.is_some() || p.sub_attr.is_some() {
                    return Err(FilterError::new(format!(
                        "`{w}` inside `{parent}[…]` must be a plain sub-attribute name"
                    )));
                }
                Ok(AttrPath {
                    schema: parent.schema.clone(),
                    name: parent.name.clone(),
                    sub_attr: Some(p.name),
                })
            }
        }
    }

    fn attr_expr(&mut self, parent: Option<&AttrPath>) -> Result<Filter, FilterError> {
        let path = self.path(parent)?;
        if matches!(self.peek(), Some(Tok::LBrack)) {
            if parent.is_some() {
                return Err(FilterError::new("value filters cannot be nested"));
            }
            if path.sub_attr.is_some() {
                return Err(FilterError::new(format!(
                    "`{path}[…]`: a value filter applies to a top-level attribute"
                )));
            }
            self.pos += 1;
            self.enter()?;
            let inner = self.or_expr(Some(&path))?;
            self.depth -= 1;
            match self.next() {
                Some(Tok::RBrack) => {}
                _ => return Err(FilterError::new("missing `]` in filter")),
            }
            // `emails[type eq "work"].value eq "x"`
            let inner = match self.peek() {
                Some(Tok::Word(w)) if w.starts_with('.') => {
                    let sub = w[1..].to_owned();
                    if !valid_name(&sub) {
                        return Err(FilterError::new(format!(
                            "`{w}` is not a valid sub-attribute"
                        )));
                    }
                    self.pos += 1;
                    let sub_path = AttrPath {
                        schema: path.schema.clone(),
                        name: path.name.clone(),
                        sub_attr: Some(sub),
                    };
                    let cond = self.operator(sub_path)?;
                    Filter::And(Box::new(inner), Box::new(cond))
                }
                _ => inner,
            };
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }
        self.operator(path)
    }

    fn operator(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let op = match self.next() {
            Some(Tok::Word(w)) => {
                if w.eq_ignore_ascii_case("pr") {
                    return Ok(Filter::Present(path));
                }
                CompareOp::parse(&w).ok_or_else(|| {
                    FilterError::new(format!(
                        "`{w}` is not a filter operator (eq ne co sw ew gt ge lt le pr)"
                    ))
                })?
            }
            _ => {
                return Err(FilterError::new(format!(
                    "expected an operator after `{path}`"
                )));
            }
        };
        let value = match self.next() {
            Some(Tok::Str(s)) => CompValue::Str(s),
            Some(Tok::Num(n)) => CompValue::Number(n),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            // Lenient: an unquoted word (`name.familyName eq Employee`), as
            // Microsoft's reference implementation accepts.
            Some(Tok::Word(w)) if !w.starts_with('.') => CompValue::Str(w),
            _ => {
                return Err(FilterError::new(format!(
                    "expected a value after `{path} {op}`"
                )));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}

impl Filter {
    /// Parses a filter (RFC 7644 §3.4.2.2, with errata 7319: optional space after `not`).
    ///
    /// # Errors
    /// A [`FilterError`] saying what is wrong; longer than [`MAX_FILTER_LEN`] or
    /// nested deeper than [`MAX_FILTER_DEPTH`] is an error too.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        if input.len() > MAX_FILTER_LEN {
            return Err(FilterError::new(format!(
                "the filter is longer than {MAX_FILTER_LEN} bytes"
            )));
        }
        let toks = lex(input)?;
        if toks.is_empty() {
            return Err(FilterError::new("the filter is empty"));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let f = p.or_expr(None)?;
        if p.pos < p.toks.len() {
            return Err(FilterError::new(
                "unexpected text after the end of the filter",
            ));
        }
        Ok(f)
    }

    /// Parses and resolves against a resource type: canonical names, URN
    /// prefixes split, unknown attributes and operators that do not fit the
    /// attribute's type refused.
    ///
    /// # Errors
    /// A [`FilterError`] naming the problem.
    pub fn parse_for(input: &str, rt: &ResourceType) -> Result<Filter, FilterError> {
        Self::parse(input)?.resolve(rt)
    }

    /// Resolves a parsed filter against a resource type (see the module docs).
    ///
    /// # Errors
    /// A [`FilterError`] for unknown attributes or operator/type mismatches
    /// (`gt` on a boolean, `co` on a complex attribute without sub-attribute).
    pub fn resolve(self, rt: &ResourceType) -> Result<Filter, FilterError> {
        Ok(match self {
            Filter::And(a, b) => Filter::And(Box::new(a.resolve(rt)?), Box::new(b.resolve(rt)?)),
            Filter::Or(a, b) => Filter::Or(Box::new(a.resolve(rt)?), Box::new(b.resolve(rt)?)),
            Filter::Not(a) => Filter::Not(Box::new(a.resolve(rt)?)),
            Filter::Present(p) => Filter::Present(resolve_path(p, rt, true)?.0),
            Filter::Compare { path, op, value } => {
                let (path, def) = resolve_path(path, rt, false)?;
                check_op(&path, def, op, &value)?;
                Filter::Compare { path, op, value }
            }
            Filter::ValuePath { path, filter } => {
                let (path, def) = resolve_path(path, rt, true)?;
                if def.kind != AttrType::Complex {
                    return Err(FilterError::new(format!(
                        "`{path}[…]`: value filters apply to complex attributes"
                    )));
                }
                Filter::ValuePath {
                    path,
                    filter: Box::new(filter.resolve(rt)?),
                }
            }
        })
    }

    /// Whether the resource (its SCIM JSON representation) matches, with the
    /// case rules of `rt`. Paths must be resolved ([`Filter::parse_for`]).
    pub fn matches(&self, resource: &Value, rt: &ResourceType) -> bool {
        eval(self, resource, None, rt)
    }

    /// Whether one value (`element`) of the multi-valued or complex attribute
    /// `parent` matches this filter (the inside of a value filter).
    pub(crate) fn matches_element(
        &self,
        parent: &AttrPath,
        element: &Value,
        rt: &ResourceType,
    ) -> bool {
        eval(self, &Value::Null, Some((parent, element)), rt)
    }

    /// If the filter is `path eq "value"` (or a conjunction containing one),
    /// that path and value: the common case a host can serve from an index.
    pub fn find_eq(&self, name: &str) -> Option<&str> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::Str(v),
            } if path.is(name, None) => Some(v),
            Filter::And(a, b) => a.find_eq(name).or_else(|| b.find_eq(name)),
            _ => None,
        }
    }
}

fn resolve_path(
    p: AttrPath,
    rt: &ResourceType,
    allow_complex: bool,
) -> Result<(AttrPath, &AttributeDef), FilterError> {
    let unknown = || FilterError::new(format!("unknown attribute `{p}` in filter"));
    let schema_ref = p.schema.as_deref();
    if let Some(urn) = schema_ref
        && !rt.is_core(urn)
        && rt.extension(urn).is_none()
    {
        return Err(FilterError::new(format!(
            "unknown schema `{urn}` in filter"
        )));
    }
    let r = rt.find(schema_ref, &p.name).ok_or_else(unknown)?;
    let schema = r.extension.map(|e| e.id.clone());
    let name = r.def.name.clone();
    match &p.sub_attr {
        Some(sub) => {
            let sd = r.def.sub(sub).ok_or_else(unknown)?;
            Ok((
                AttrPath {
                    schema,
                    name,
                    sub_attr: Some(sd.name.clone()),
                },
                sd,
            ))
        }
        None if r.def.kind == AttrType::Complex && !allow_complex => match r.def.sub("value") {
            Some(v) => Ok((
                AttrPath {
                    schema,
                    name,
                    sub_attr: Some(v.name.clone()),
                },
                v,
            )),
            None => Err(FilterError::new(format!(
                "`{p}` is complex: compare one of its sub-attributes"
            ))),
        },
        None => Ok((
            AttrPath {
                schema,
                name,
                sub_attr: None,
            },
            r.def,
        )),
    }
}

fn check_op(
    path: &AttrPath,
    def: &AttributeDef,
    op: CompareOp,
    value: &CompValue,
) -> Result<(), FilterError> {
    let bad = |why: &str| Err(FilterError::new(format!("`{path} {op}`: {why}")));
    match def.kind {
        AttrType::Boolean | AttrType::Binary if op.is_ordering() => {
            bad("ordering operators do not apply to boolean or binary attributes")
        }
        AttrType::Boolean if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => {
            bad("substring operators do not apply to boolean attributes")
        }
        _ if op.is_ordering() && matches!(value, CompValue::Null | CompValue::Bool(_)) => {
            bad("ordering needs a string or number value")
        }
        _ if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
            && !matches!(value, CompValue::Str(_)) =>
        {
            bad("substring operators need a string value")
        }
        _ => Ok(()),
    }
}

// ------------------------------------------------------------------ evaluation

pub(crate) fn get_ci<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    let m = obj.as_object()?;
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The top-level value of `path` in a resource (extension attributes under their URN).
fn top<'v>(resource: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    match &path.schema {
        Some(urn) => get_ci(get_ci(resource, urn)?, &path.name),
        None => get_ci(resource, &path.name),
    }
}

fn push_flat<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => out.extend(items.iter().filter(|x| !x.is_null())),
        Value::Null => {}
        other => out.push(other),
    }
}

/// Every value at `path` (multi-valued attributes flattened).
fn values_at<'v>(
    resource: &'v Value,
    path: &AttrPath,
    scope: Option<(&AttrPath, &'v Value)>,
) -> Vec<&'v Value> {
    let mut out = Vec::new();
    if let (Some((parent, element)), Some(sub)) = (scope, &path.sub_attr)
        && parent.schema == path.schema
        && parent.name.eq_ignore_ascii_case(&path.name)
    {
        if let Some(v) = get_ci(element, sub) {
            push_flat(v, &mut out);
        }
        return out;
    }
    let Some(t) = top(resource, path) else {
        return out;
    };
    match &path.sub_attr {
        None => push_flat(t, &mut out),
        Some(sub) => {
            let mut elems = Vec::new();
            push_flat(t, &mut elems);
            for e in elems {
                if let Some(v) = get_ci(e, sub) {
                    push_flat(v, &mut out);
                }
            }
        }
    }
    out
}

fn def_of<'a>(rt: &'a ResourceType, path: &AttrPath) -> Option<&'a AttributeDef> {
    let r = rt.find(path.schema.as_deref(), &path.name)?;
    match &path.sub_attr {
        Some(s) => r.def.sub(s),
        None => Some(r.def),
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(present),
        Value::Object(o) => o.values().any(present),
        _ => true,
    }
}

fn eval(
    f: &Filter,
    resource: &Value,
    scope: Option<(&AttrPath, &Value)>,
    rt: &ResourceType,
) -> bool {
    match f {
        Filter::And(a, b) => eval(a, resource, scope, rt) && eval(b, resource, scope, rt),
        Filter::Or(a, b) => eval(a, resource, scope, rt) || eval(b, resource, scope, rt),
        Filter::Not(a) => !eval(a, resource, scope, rt),
        Filter::Present(p) => values_at(resource, p, scope).into_iter().any(present),
        Filter::ValuePath { path, filter } => {
            let mut elems = Vec::new();
            if let Some(t) = top(resource, path) {
                push_flat(t, &mut elems);
            }
            elems
                .into_iter()
                .any(|e| eval(filter, resource, Some((path, e)), rt))
        }
        Filter::Compare { path, op, value } => {
            let vals = values_at(resource, path, scope);
            let def = def_of(rt, path);
            match (op, value) {
                (CompareOp::Eq, CompValue::Null) => vals.is_empty(),
                (CompareOp::Ne, CompValue::Null) => !vals.is_empty(),
                (CompareOp::Ne, _) => !vals.iter().any(|v| compare(v, CompareOp::Eq, value, def)),
                _ => vals.iter().any(|v| compare(v, *op, value, def)),
            }
        }
    }
}

fn fold(s: &str, case_exact: bool) -> std::borrow::Cow<'_, str> {
    if case_exact {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

pub(crate) fn compare(
    actual: &Value,
    op: CompareOp,
    expected: &CompValue,
    def: Option<&AttributeDef>,
) -> bool {
    let case_exact = def.is_some_and(|d| d.case_exact);
    let ordering: Option<Ordering> = match (actual, expected) {
        (Value::String(a), CompValue::Str(e)) => {
            if def.is_some_and(|d| d.kind == AttrType::DateTime)
                && let (Some(x), Some(y)) = (parse_rfc3339(a), parse_rfc3339(e))
                && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
            {
                return ord_holds(op, x.cmp(&y));
            }
            let (a, e) = (fold(a, case_exact), fold(e, case_exact));
            match op {
                CompareOp::Co => return a.contains(e.as_ref()),
                CompareOp::Sw => return a.starts_with(e.as_ref()),
                CompareOp::Ew => return a.ends_with(e.as_ref()),
                _ => Some(a.as_ref().cmp(e.as_ref())),
            }
        }
        (Value::Bool(a), CompValue::Bool(e)) => {
            return matches!(op, CompareOp::Eq) && a == e;
        }
        (Value::Number(a), CompValue::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
        _ => None,
    };
    ordering.is_some_and(|o| ord_holds(op, o))
}

fn ord_holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

impl fmt::Display for Filter {
    /// The canonical text of the filter, fully parenthesised (paths inside a
    /// value filter are written relative to it, as in the RFC).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_filter(f, self, None)
    }
}

fn write_path(f: &mut fmt::Formatter<'_>, p: &AttrPath, parent: Option<&AttrPath>) -> fmt::Result {
    match (parent, &p.sub_attr) {
        (Some(parent), Some(sub)) if parent.name == p.name && parent.schema == p.schema => {
            f.write_str(sub)
        }
        _ => write!(f, "{p}"),
    }
}

fn write_filter(
    f: &mut fmt::Formatter<'_>,
    filter: &Filter,
    parent: Option<&AttrPath>,
) -> fmt::Result {
    match filter {
        Filter::Compare { path, op, value } => {
            write_path(f, path, parent)?;
            write!(f, " {op} {value}")
        }
        Filter::Present(p) => {
            write_path(f, p, parent)?;
            f.write_str(" pr")
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            f.write_str("(")?;
            write_filter(f, a, parent)?;
            f.write_str(if matches!(filter, Filter::And(..)) {
                " and "
            } else {
                " or "
            })?;
            write_filter(f, b, parent)?;
            f.write_str(")")
        }
        Filter::Not(a) => {
            f.write_str("not (")?;
            write_filter(f, a, parent)?;
            f.write_str(")")
        }
        Filter::ValuePath { path, filter } => {
            write!(f, "{path}[")?;
            write_filter(f, filter, Some(path))?;
            f.write_str("]")
        }
    }
}
