//! Schemas: the attributes the host declares it stores (RFC 7643 §2, §7).
//!
//! `/Schemas` and `/ResourceTypes` are generated from this declaration, and
//! every request is validated against it: scim2-tester and Microsoft's
//! validator derive their checks from `/Schemas`, so it must describe exactly
//! what is stored. Pick attributes from the RFC catalogue with
//! [`ScimSchemas::select`], or take [`ScimSchemas::standard`], which is what
//! [`MemoryScimDirectory`](super::MemoryScimDirectory) stores and what Entra ID,
//! Okta, OneLogin and JumpCloud send by default.

use serde_json::{Map, Value, json};

use super::{ENTERPRISE_USER_URN, GROUP_URN, USER_URN};
use crate::error::{Error, ErrorKind};

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttrType {
    /// A Unicode string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime` (RFC 3339) string.
    DateTime,
    /// A URI to a resource.
    Reference,
    /// Base64-encoded bytes.
    Binary,
    /// A set of sub-attributes.
    Complex,
}

impl AttrType {
    /// The wire name (`string`, `dateTime`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Reference => "reference",
            Self::Binary => "binary",
            Self::Complex => "complex",
        }
    }
}

/// Whether and how an attribute may be written (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Set by the service provider only; client values are ignored.
    ReadOnly,
    /// Freely written.
    ReadWrite,
    /// Written once (when unassigned), never changed.
    Immutable,
    /// Written, never returned.
    WriteOnly,
}

impl Mutability {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Always, even when excluded.
    Always,
    /// Never.
    Never,
    /// Unless excluded or other attributes were requested.
    Default,
    /// Only when requested by `attributes`.
    Request,
}

impl Returned {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// How unique a value must be (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// No constraint.
    None,
    /// Unique within the tenant (the "service provider" as one client sees it).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// One attribute definition with its characteristics (RFC 7643 §2.2, §7).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttributeDef {
    /// The attribute name, as it appears in JSON (`userName`, `$ref`).
    pub name: String,
    /// The data type.
    pub kind: AttrType,
    /// Whether the value is a JSON array.
    pub multi_valued: bool,
    /// Whether the attribute must be present.
    pub required: bool,
    /// Whether string comparisons are case-sensitive (filters, uniqueness, sorting).
    pub case_exact: bool,
    /// Write rules.
    pub mutability: Mutability,
    /// Return rules.
    pub returned: Returned,
    /// Uniqueness rules.
    pub uniqueness: Uniqueness,
    /// Suggested values (`work`, `home`, …).
    pub canonical_values: Vec<String>,
    /// For references: the resource types or `external`/`uri` they point to.
    pub reference_types: Vec<String>,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: Vec<AttributeDef>,
    /// A description for `/Schemas`.
    pub description: String,
}

impl AttributeDef {
    /// A single-valued, optional, case-insensitive, read-write attribute.
    pub fn new(name: impl Into<String>, kind: AttrType) -> Self {
        Self {
            name: name.into(),
            kind,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
            description: String::new(),
        }
    }

    /// A complex attribute with sub-attributes.
    pub fn complex(name: impl Into<String>, subs: Vec<AttributeDef>) -> Self {
        let mut a = Self::new(name, AttrType::Complex);
        a.sub_attributes = subs;
        a
    }

    /// Makes it multi-valued.
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Makes it required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Makes string comparisons case-sensitive.
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    /// Sets the mutability.
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Sets when it is returned.
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    /// Sets the uniqueness.
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    /// Sets the canonical values.
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// Sets the reference types.
    pub fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|s| (*s).to_owned()).collect();
        self
    }
    /// Sets the description.
    pub fn describe(mut self, d: impl Into<String>) -> Self {
        self.description = d.into();
        self
    }

    /// A sub-attribute by name, case-insensitively.
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// Whether a client may write it.
    pub fn writable(&self) -> bool {
        self.mutability != Mutability::ReadOnly
    }

    /// The `/Schemas` representation (nulls omitted, camelCase values).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("multiValued".into(), json!(self.multi_valued));
        m.insert("description".into(), json!(self.description));
        m.insert("required".into(), json!(self.required));
        if matches!(
            self.kind,
            AttrType::String | AttrType::Reference | AttrType::Binary
        ) {
            m.insert("caseExact".into(), json!(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            m.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            m.insert("referenceTypes".into(), json!(self.reference_types));
        }
        m.insert("mutability".into(), json!(self.mutability.as_str()));
        m.insert("returned".into(), json!(self.returned.as_str()));
        if self.kind != AttrType::Complex {
            m.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        }
        if !self.sub_attributes.is_empty() {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(Self::to_json).collect()),
            );
        }
        Value::Object(m)
    }
}

/// One schema (a core schema or an extension): an id (URN) and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaDef {
    /// The schema URN.
    pub id: String,
    /// A short name (`User`, `EnterpriseUser`).
    pub name: String,
    /// A description.
    pub description: String,
    /// The attributes the host stores.
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// A schema with attributes.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        description: impl Into<String>,
        attributes: Vec<AttributeDef>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            attributes,
        }
    }

    /// An attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` representation.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttributeDef::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// Which resource a [`ResourceType`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `/Users`.
    User,
    /// `/Groups`.
    Group,
}

impl ResourceKind {
    /// `User` or `Group`.
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }
    /// `/Users` or `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }
}

/// A resource type: a core schema plus optional extensions (RFC 7643 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceType {
    /// Users or groups.
    pub kind: ResourceKind,
    /// The core schema.
    pub schema: SchemaDef,
    /// Extension schemas (never required).
    pub extensions: Vec<SchemaDef>,
    /// Common attributes (`id`, `externalId`, `meta`, `schemas`), for filters
    /// and projection; not published in `/Schemas` (RFC 7643 §3.1).
    common: Vec<AttributeDef>,
}

/// Where an attribute was found: the core schema (`None`) or an extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved<'a> {
    /// `None` for core and common attributes, else the extension.
    pub(crate) extension: Option<&'a SchemaDef>,
    pub(crate) def: &'a AttributeDef,
}

impl ResourceType {
    /// A resource type of `kind` with a core schema and extensions.
    pub fn new(kind: ResourceKind, schema: SchemaDef, extensions: Vec<SchemaDef>) -> Self {
        let mut common = vec![
            AttributeDef::new("id", AttrType::String)
                .case_exact()
                .mutability(Mutability::ReadOnly)
                .returned(Returned::Always)
                .uniqueness(Uniqueness::Server),
            AttributeDef::new("externalId", AttrType::String).case_exact(),
            AttributeDef::complex(
                "meta",
                vec![
                    AttributeDef::new("resourceType", AttrType::String)
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::new("created", AttrType::DateTime)
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::new("lastModified", AttrType::DateTime)
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::new("location", AttrType::Reference)
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                    AttributeDef::new("version", AttrType::String)
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                ],
            )
            .mutability(Mutability::ReadOnly),
            AttributeDef::new("schemas", AttrType::Reference)
                .multi()
                .mutability(Mutability::ReadOnly)
                .returned(Returned::Always),
        ];
        if schema.attribute("externalId").is_some() {
            common.retain(|a| a.name != "externalId");
        }
        Self {
            kind,
            schema,
            extensions,
            common,
        }
    }

    /// `User` or `Group` (also the resource type's `id`).
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// An extension schema by URN, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(urn))
    }

    /// Whether `urn` is this type's core schema URN.
    pub fn is_core(&self, urn: &str) -> bool {
        self.schema.id.eq_ignore_ascii_case(urn)
    }

    /// Finds a top-level attribute: in the core schema (or common attributes)
    /// when `schema` is `None` or the core URN, else in the named extension.
    pub(crate) fn find(&self, schema: Option<&str>, name: &str) -> Option<Resolved<'_>> {
        match schema {
            Some(urn) if !self.is_core(urn) => {
                let ext = self.extension(urn)?;
                Some(Resolved {
                    extension: Some(ext),
                    def: ext.attribute(name)?,
                })
            }
            _ => {
                let def = self.schema.attribute(name).or_else(|| {
                    self.common
                        .iter()
                        .find(|a| a.name.eq_ignore_ascii_case(name))
                })?;
                Some(Resolved {
                    extension: None,
                    def,
                })
            }
        }
    }

    /// Splits a textual attribute path into (schema URN, attribute, sub-attribute)
    /// using the longest known URN prefix. Returns `None` for an unknown URN.
    pub(crate) fn split_urn<'p>(&self, path: &'p str) -> Option<(Option<&str>, &'p str)> {
        if path.len() > 4 && path[..4].eq_ignore_ascii_case("urn:") {
            let candidates = std::iter::once(&self.schema).chain(self.extensions.iter());
            let mut best: Option<&SchemaDef> = None;
            for s in candidates {
                let n = s.id.len();
                if path.len() > n + 1
                    && path.is_char_boundary(n)
                    && path[..n].eq_ignore_ascii_case(&s.id)
                    && path.as_bytes()[n] == b':'
                    && best.is_none_or(|b| b.id.len() < n)
                {
                    best = Some(s);
                }
            }
            let s = best?;
            Some((Some(s.id.as_str()), &path[s.id.len() + 1..]))
        } else {
            Some((None, path))
        }
    }

    /// Every schema URN of this type, core first.
    pub fn schema_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.schema.id.as_str())
            .chain(self.extensions.iter().map(|e| e.id.as_str()))
    }

    /// The `/ResourceTypes/{id}` representation.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name(),
            "name": self.name(),
            "description": self.schema.description,
            "endpoint": self.kind.endpoint(),
            "schema": self.schema.id,
            "schemaExtensions": self.extensions.iter()
                .map(|e| json!({"schema": e.id, "required": false}))
                .collect::<Vec<_>>(),
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{base_url}/ResourceTypes/{}", self.name()),
            }
        })
    }
}

/// The resource types the service serves: users (with extensions) and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimSchemas {
    /// Users.
    pub user: ResourceType,
    /// Groups.
    pub group: ResourceType,
}

impl Default for ScimSchemas {
    fn default() -> Self {
        Self::standard()
    }
}

/// The attributes of [`ScimSchemas::standard`]'s User schema.
pub const STANDARD_USER_ATTRIBUTES: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
];

/// The attributes of [`ScimSchemas::standard`]'s EnterpriseUser extension.
pub const STANDARD_ENTERPRISE_ATTRIBUTES: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];

impl ScimSchemas {
    /// What [`MemoryScimDirectory`](super::MemoryScimDirectory) stores and what
    /// Entra ID's, Okta's, OneLogin's and JumpCloud's default attribute
    /// mappings send: [`STANDARD_USER_ATTRIBUTES`], the EnterpriseUser
    /// extension with [`STANDARD_ENTERPRISE_ATTRIBUTES`], and groups with
    /// `displayName` and `members`.
    pub fn standard() -> Self {
        Self::select(
            STANDARD_USER_ATTRIBUTES,
            STANDARD_ENTERPRISE_ATTRIBUTES,
            &["displayName", "members"],
        )
        .unwrap_or_else(|_| unreachable!("the standard attributes are in the catalogue"))
    }

    /// Declares the attributes the host stores, picked by name from the RFC 7643
    /// catalogue. A name may be a whole attribute (`name`, `emails`) or one
    /// sub-attribute (`name.givenName`, `emails.value`); sub-attributes of the
    /// same attribute accumulate. `enterprise` empty means no EnterpriseUser
    /// extension. `userName` is always included (it is required).
    ///
    /// # Errors
    /// A configuration error naming an attribute the catalogue does not have.
    pub fn select(user: &[&str], enterprise: &[&str], group: &[&str]) -> Result<Self, Error> {
        let mut user_names: Vec<&str> = vec!["userName"];
        user_names.extend(
            user.iter()
                .copied()
                .filter(|n| !n.eq_ignore_ascii_case("userName")),
        );
        let user_attrs = pick(&user_catalogue(), &user_names, "User")?;
        let ent_attrs = pick(&enterprise_catalogue(), enterprise, "EnterpriseUser")?;
        let group_attrs = pick(&group_catalogue(), group, "Group")?;
        let user_schema = SchemaDef::new(USER_URN, "User", "User Account", user_attrs);
        let extensions = if ent_attrs.is_empty() {
            vec![]
        } else {
            vec![SchemaDef::new(
                ENTERPRISE_USER_URN,
                "EnterpriseUser",
                "Enterprise User",
                ent_attrs,
            )]
        };
        Ok(Self {
            user: ResourceType::new(ResourceKind::User, user_schema, extensions),
            group: ResourceType::new(
                ResourceKind::Group,
                SchemaDef::new(GROUP_URN, "Group", "Group", group_attrs),
                vec![],
            ),
        })
    }

    /// Adds a custom attribute to the User core schema (e.g. one the host
    /// keeps that the RFC does not define).
    pub fn with_user_attribute(mut self, attr: AttributeDef) -> Self {
        self.user.schema.attributes.push(attr);
        self
    }

    /// Adds an extension schema to users (e.g. a vendor extension).
    pub fn with_user_extension(mut self, ext: SchemaDef) -> Self {
        self.user.extensions.push(ext);
        self
    }

    /// The resource type of `kind`.
    pub fn of(&self, kind: ResourceKind) -> &ResourceType {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// Every schema, in `/Schemas` order.
    pub fn all(&self) -> Vec<&SchemaDef> {
        let mut v = vec![&self.user.schema];
        v.extend(self.user.extensions.iter());
        v.push(&self.group.schema);
        v.extend(self.group.extensions.iter());
        v
    }
}

fn config_error(msg: String) -> Error {
    Error::new(ErrorKind::Config(msg))
}

fn pick(
    catalogue: &[AttributeDef],
    names: &[&str],
    schema: &str,
) -> Result<Vec<AttributeDef>, Error> {
    let mut out: Vec<AttributeDef> = Vec::new();
    for name in names {
        let (top, sub) = match name.split_once('.') {
            Some((t, s)) => (t, Some(s)),
            None => (*name, None),
        };
        let def = catalogue
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(top))
            .ok_or_else(|| {
                config_error(format!("SCIM {schema} schema: unknown attribute `{name}`"))
            })?;
        let pos = out.iter().position(|a| a.name == def.name);
        match sub {
            None => match pos {
                Some(i) => out[i] = def.clone(),
                None => out.push(def.clone()),
            },
            Some(sub) => {
                let s = def.sub(sub).ok_or_else(|| {
                    config_error(format!("SCIM {schema} schema: unknown attribute `{name}`"))
                })?;
                match pos {
                    Some(i) => {
                        if out[i].sub(sub).is_none() {
                            out[i].sub_attributes.push(s.clone());
                        }
                    }
                    None => {
                        let mut d = def.clone();
                        d.sub_attributes = vec![s.clone()];
                        out.push(d);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn s(name: &str) -> AttributeDef {
    AttributeDef::new(name, AttrType::String)
}

fn multi_complex(name: &str, desc: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    AttributeDef::complex(
        name,
        vec![
            value,
            s("display").describe("A human-readable name, primarily used for display purposes."),
            s("type")
                .canonical(types)
                .describe("A label indicating the attribute's function."),
            AttributeDef::new("primary", AttrType::Boolean)
                .describe("Indicates the primary or preferred value; at most one is true."),
        ],
    )
    .multi()
    .describe(desc)
}

/// The RFC 7643 §4.1 User attributes ssokit knows how to store and validate.
fn user_catalogue() -> Vec<AttributeDef> {
    vec![
        s("userName").required().uniqueness(Uniqueness::Server).describe(
            "Unique identifier for the User, typically used by the user to directly authenticate.",
        ),
        AttributeDef::complex(
            "name",
            vec![
                s("formatted").describe("The full name, formatted for display."),
                s("familyName").describe("The family name of the User."),
                s("givenName").describe("The given name of the User."),
                s("middleName").describe("The middle name(s) of the User."),
                s("honorificPrefix").describe("The honorific prefix(es) of the User."),
                s("honorificSuffix").describe("The honorific suffix(es) of the User."),
            ],
        )
        .describe("The components of the user's real name."),
        s("displayName").describe("The name of the User, suitable for display to end-users."),
        s("nickName").describe("The casual way to address the user in real life."),
        AttributeDef::new("profileUrl", AttrType::Reference)
            .refs(&["external"])
            .describe("A fully qualified URL pointing to a page representing the User's online profile."),
        s("title").describe("The user's title, such as \"Vice President\"."),
        s("userType").describe("Used to identify the relationship between the organization and the user."),
        s("preferredLanguage").describe("Indicates the User's preferred written or spoken language."),
        s("locale").describe("Used to indicate the User's default location."),
        s("timezone").describe("The User's time zone in the 'Olson' time zone database format."),
        AttributeDef::new("active", AttrType::Boolean)
            .describe("A Boolean value indicating the User's administrative status."),
        s("password")
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never)
            .describe("The User's cleartext password."),
        multi_complex(
            "emails",
            "Email addresses for the user.",
            s("value").describe("Email addresses for the user."),
            &["work", "home", "other"],
        ),
        multi_complex(
            "phoneNumbers",
            "Phone numbers for the User.",
            s("value").describe("Phone number of the User."),
            &["work", "home", "mobile", "fax", "pager", "other"],
        ),
        multi_complex(
            "ims",
            "Instant messaging addresses for the User.",
            s("value").describe("Instant messaging address for the User."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
        ),
        AttributeDef::complex(
            "addresses",
            vec![
                s("formatted").describe("The full mailing address, formatted for display."),
                s("streetAddress").describe("The full street address component."),
                s("locality").describe("The city or locality component."),
                s("region").describe("The state or region component."),
                s("postalCode").describe("The zip code or postal code component."),
                s("country").describe("The country name component."),
                s("type").canonical(&["work", "home", "other"]).describe("A label indicating the attribute's function."),
                AttributeDef::new("primary", AttrType::Boolean)
                    .describe("Indicates the primary or preferred address."),
            ],
        )
        .multi()
        .describe("A physical mailing address for this User."),
        multi_complex(
            "entitlements",
            "A list of entitlements for the User.",
            s("value").describe("The value of an entitlement."),
            &[],
        ),
        multi_complex(
            "roles",
            "A list of roles for the User.",
            s("value").describe("The value of a role."),
            &[],
        ),
    ]
}

/// The RFC 7643 §4.3 EnterpriseUser attributes.
fn enterprise_catalogue() -> Vec<AttributeDef> {
    vec![
        s("employeeNumber").describe("Numeric or alphanumeric identifier assigned to a person."),
        s("costCenter").describe("Identifies the name of a cost center."),
        s("organization").describe("Identifies the name of an organization."),
        s("division").describe("Identifies the name of a division."),
        s("department").describe("Identifies the name of a department."),
        AttributeDef::complex(
            "manager",
            vec![
                s("value").describe("The id of the SCIM resource representing the User's manager."),
                AttributeDef::new("$ref", AttrType::Reference)
                    .refs(&["User"])
                    .describe("The URI of the SCIM resource representing the User's manager."),
                s("displayName")
                    .mutability(Mutability::ReadOnly)
                    .describe("The displayName of the User's manager."),
            ],
        )
        .describe("The User's manager."),
    ]
}

/// The RFC 7643 §4.2 Group attributes.
fn group_catalogue() -> Vec<AttributeDef> {
    vec![
        s("displayName").describe("A human-readable name for the Group."),
        AttributeDef::complex(
            "members",
            vec![
                s("value")
                    .mutability(Mutability::Immutable)
                    .case_exact()
                    .describe("Identifier of the member of this Group."),
                AttributeDef::new("$ref", AttrType::Reference)
                    .refs(&["User", "Group"])
                    .mutability(Mutability::Immutable)
                    .describe(
                        "The URI corresponding to a SCIM resource that is a member of this Group.",
                    ),
                s("type")
                    .canonical(&["User", "Group"])
                    .mutability(Mutability::Immutable)
                    .describe("A label indicating the type of resource, e.g., 'User' or 'Group'."),
                s("display")
                    .mutability(Mutability::Immutable)
                    .describe("A human-readable name of the member."),
            ],
        )
        .multi()
        .describe("A list of members of the Group."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_sub_attributes_and_unknown() {
        let s = ScimSchemas::select(
            &["name.givenName", "name.familyName"],
            &[],
            &["displayName"],
        )
        .unwrap();
        let name = s.user.schema.attribute("name").unwrap();
        assert_eq!(name.sub_attributes.len(), 2);
        assert!(s.user.extensions.is_empty());
        assert!(s.user.schema.attribute("userName").is_some());
        assert!(ScimSchemas::select(&["nope"], &[], &[]).is_err());
        assert!(ScimSchemas::select(&["name.nope"], &[], &[]).is_err());
    }

    #[test]
    fn urn_split_uses_longest_known_prefix() {
        let s = ScimSchemas::standard();
        let (urn, rest) = s
            .user
            .split_urn("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap();
        assert_eq!(urn, Some(ENTERPRISE_USER_URN));
        assert_eq!(rest, "manager.value");
        let (urn, rest) = s
            .user
            .split_urn("URN:ietf:params:scim:schemas:core:2.0:user:userName")
            .unwrap();
        assert_eq!(urn, Some(USER_URN));
        assert_eq!(rest, "userName");
        assert!(s.user.split_urn("urn:x:y:z").is_none());
        assert_eq!(
            s.user.split_urn("name.givenName").unwrap(),
            (None, "name.givenName")
        );
    }
}
