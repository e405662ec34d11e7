//! The one XML parser of the SAML code: a single pass over input validated
//! as UTF-8 once, markup found with `memchr` and the end of each start tag
//! (the first `>` outside quoted values) by quick-xml's [`ElementParser`];
//! our own arena tree on top, with namespaces resolved and everything
//! exclusive canonicalization needs kept (qualified names as written,
//! namespace declarations, attribute values after XML 1.0 normalization,
//! text after line-end normalization, processing instructions).
//!
//! quick-xml's `Reader` is not used: it re-validates every event as UTF-8
//! and builds event values this parser does not need (without it, parsing
//! a signed 4 KB Response took a third less time). The grammar it checked
//! is checked here (end tags repeat the open name, comments hold no `--`,
//! one declaration, at the very start, version 1.0) and pinned by the
//! `markup_grammar` test.
//!
//! Signature verification ([`super::dsig`]) and claim extraction
//! ([`super::response`]) both read this tree, so there is no parser
//! differential between what was verified and what is used.
//!
//! # What is refused, what is dropped
//!
//! | input | policy |
//! |---|---|
//! | `<!DOCTYPE …>` (internal subset, external id, anything) | refused: no DTD, so no entity declarations, no default attributes, no XXE |
//! | entity references other than `&lt; &gt; &amp; &apos; &quot;` and character references | refused (they could only be declared in a DTD); a `&` that starts no reference is a syntax error |
//! | comments | [`Markup::Refuse`]: refused anywhere in the document (SAML Responses: no IdP emits them, and comments inside signed text are the truncation attack of CVE-2017-11427…); [`Markup::Allow`]: dropped, and the text around them joined, exactly as exclusive c14n *without comments* sees it |
//! | processing instructions (other than the XML declaration) | [`Markup::Refuse`]: refused; [`Markup::Allow`]: kept inside the document element (c14n renders them), dropped outside it |
//! | an encoding other than UTF-8, invalid UTF-8, characters outside XML 1.0 `Char` | refused |
//! | names that are not QNames (`a:b:c`, `:a`), undeclared prefixes, relative namespace URIs, `xmlns:p=""` | refused |
//! | two attributes with the same qualified name or the same expanded name | refused |
//! | two attributes named `ID`/`Id`/`id` (any namespace) with the same value anywhere, or two such attributes on one element | refused ([`XmlError::DuplicateId`]) |
//! | more than one root element, text outside the root | refused |
//! | input larger than [`Limits::max_bytes`], deeper than [`Limits::max_depth`], more than [`Limits::max_attributes`] attributes or [`Limits::max_namespace_declarations`] declarations on one element | refused |
//!
//! Work is linear in the input: namespace lookups scan the stack of bindings
//! in scope, which is bounded (256), namespace URIs are interned by a scan
//! of at most 16 and by a map past that, ID uniqueness is checked by one sort at
//! the end, and per-element checks are bounded by the per-element limits.

use std::collections::HashMap;
use std::fmt;

use quick_xml::parser::{ElementParser, Parser as _};

/// The namespace of the `xml:` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// How comments and processing instructions are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// Comments and processing instructions are errors (SAML protocol messages).
    Refuse,
    /// Comments are dropped, processing instructions inside the document
    /// element are kept (metadata files, canonicalization test vectors).
    Allow,
}

/// Bounds on a document. Every one is checked while parsing, so an oversized
/// or hostile document costs at most time linear in the bytes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting (the document element is depth 1).
    pub max_depth: usize,
    /// Most attributes (not counting namespace declarations) on one element.
    pub max_attributes: usize,
    /// Most namespace declarations on one element.
    pub max_namespace_declarations: usize,
    /// Comments and processing instructions.
    pub markup: Markup,
}

impl Limits {
    /// The limits for SAML protocol messages: 1 MiB, depth 64, 64 attributes
    /// and 32 namespace declarations per element, no comments or PIs.
    pub const PROTOCOL: Limits = Limits {
        max_bytes: 1024 * 1024,
        max_depth: 64,
        max_attributes: 64,
        max_namespace_declarations: 32,
        markup: Markup::Refuse,
    };

    /// The limits for metadata documents: 1 MiB, depth 64, comments dropped.
    pub const METADATA: Limits = Limits {
        max_bytes: 1024 * 1024,
        max_depth: 64,
        max_attributes: 64,
        max_namespace_declarations: 32,
        markup: Markup::Allow,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::PROTOCOL
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum XmlError {
    /// The document is larger than [`Limits::max_bytes`].
    TooLarge,
    /// Nesting deeper than [`Limits::max_depth`].
    TooDeep,
    /// An element has more attributes than [`Limits::max_attributes`].
    TooManyAttributes,
    /// An element has more namespace declarations than allowed.
    TooManyNamespaceDeclarations,
    /// A `<!DOCTYPE>` (DTDs are never processed).
    Doctype,
    /// An entity reference other than the five predefined ones.
    Entity,
    /// A comment where comments are refused.
    Comment,
    /// A processing instruction where they are refused.
    ProcessingInstruction,
    /// Not UTF-8, or a character XML does not allow.
    Encoding,
    /// Two ID attributes with the same value, or two ID attributes on one element.
    DuplicateId,
    /// Two attributes with the same name on one element.
    DuplicateAttribute,
    /// A prefix that is not declared.
    UndeclaredPrefix,
    /// A namespace declaration that XML Namespaces or canonical XML forbids
    /// (relative URI, `xmlns:p=""`, rebinding `xml`/`xmlns`).
    BadNamespace,
    /// A name that is not a qualified name.
    BadName,
    /// No document element, several, or content outside it.
    BadStructure,
    /// Anything else that is not well-formed XML.
    Syntax,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "the XML document is larger than allowed",
            Self::TooDeep => "the XML document is nested deeper than allowed",
            Self::TooManyAttributes => "an XML element has more attributes than allowed",
            Self::TooManyNamespaceDeclarations => {
                "an XML element has more namespace declarations than allowed"
            }
            Self::Doctype => "the XML document has a DOCTYPE (DTDs are not accepted)",
            Self::Entity => {
                "the XML document references an entity (only the five predefined ones are accepted)"
            }
            Self::Comment => "the XML document contains a comment (not accepted in SAML messages)",
            Self::ProcessingInstruction => {
                "the XML document contains a processing instruction (not accepted here)"
            }
            Self::Encoding => "the XML document is not valid UTF-8 XML text",
            Self::DuplicateId => "two XML elements share an ID (or one element has two IDs)",
            Self::DuplicateAttribute => "an XML element repeats an attribute",
            Self::UndeclaredPrefix => "the XML document uses an undeclared namespace prefix",
            Self::BadNamespace => "the XML document has an invalid namespace declaration",
            Self::BadName => "the XML document has an invalid element or attribute name",
            Self::BadStructure => {
                "the XML document must have exactly one document element and nothing else"
            }
            Self::Syntax => "the XML document is not well-formed",
        })
    }
}

impl XmlError {
    /// A stable machine-readable name (for events, metrics and tests).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::TooDeep => "too_deep",
            Self::TooManyAttributes => "too_many_attributes",
            Self::TooManyNamespaceDeclarations => "too_many_namespaces",
            Self::Doctype => "doctype",
            Self::Entity => "entity",
            Self::Comment => "comment",
            Self::ProcessingInstruction => "pi",
            Self::Encoding => "encoding",
            Self::DuplicateId => "duplicate_id",
            Self::DuplicateAttribute => "duplicate_attribute",
            Self::UndeclaredPrefix => "undeclared_prefix",
            Self::BadNamespace => "namespace",
            Self::BadName => "name",
            Self::BadStructure => "structure",
            Self::Syntax => "syntax",
        }
    }
}

impl std::error::Error for XmlError {}

/// A node in a [`Document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    #[inline(always)]
    fn idx(self) -> usize {
        self.0 as usize
    }
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct ElemData {
    /// The qualified name as written.
    qname: Span,
    /// Length of the prefix in `qname` (0: none).
    prefix_len: u32,
    ns: u32,
    decls: (u32, u32),
    attrs: (u32, u32),
}

#[derive(Debug, Clone)]
enum Kind {
    Element(ElemData),
    /// Text, and whether it is also its canonical form (nothing that c14n
    /// escapes: `& < >` or CR).
    Text(Span, bool),
    Pi {
        target: Span,
        data: Span,
    },
}

#[derive(Debug, Clone)]
struct Node {
    parent: u32,
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NsDecl {
    /// The prefix (empty span: the default namespace).
    pub(crate) prefix: Span,
    /// The namespace (0: `xmlns=""`).
    pub(crate) ns: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct AttrData {
    qname: Span,
    prefix_len: u32,
    ns: u32,
    value: Span,
    /// The value is also its canonical form (nothing that c14n escapes).
    canonical: bool,
}

/// A parsed XML document: an immutable arena of nodes.
#[derive(Clone)]
pub struct Document {
    buf: String,
    nodes: Vec<Node>,
    decls: Vec<NsDecl>,
    attrs: Vec<AttrData>,
    /// Interned namespace URIs; index 0 is "no namespace".
    uris: Vec<Span>,
    /// The unqualified `ID` attributes, sorted by value.
    ids: Vec<(Span, NodeId)>,
    root: NodeId,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

/// A borrowed node: an element, a text node or a processing instruction.
#[derive(Debug, Clone, Copy)]
pub enum NodeRef<'d> {
    /// An element.
    Element(Element<'d>),
    /// Character data (CDATA sections and references already resolved).
    Text(&'d str),
    /// A processing instruction.
    Pi {
        /// Its target.
        target: &'d str,
        /// Its data (may be empty).
        data: &'d str,
    },
}

/// A borrowed element of a [`Document`].
#[derive(Clone, Copy)]
pub struct Element<'d> {
    doc: &'d Document,
    id: NodeId,
}

impl fmt::Debug for Element<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.qname())
    }
}

/// An attribute of an [`Element`].
#[derive(Debug, Clone, Copy)]
pub struct Attribute<'d> {
    /// The qualified name as written.
    pub qname: &'d str,
    /// The prefix, empty when unprefixed.
    pub prefix: &'d str,
    /// The local name.
    pub local_name: &'d str,
    /// The namespace URI; empty for unprefixed attributes.
    pub namespace: &'d str,
    /// The normalized value.
    pub value: &'d str,
}

/// A namespace declaration of an [`Element`].
#[derive(Debug, Clone, Copy)]
pub struct NamespaceDecl<'d> {
    /// The prefix; empty for the default namespace.
    pub prefix: &'d str,
    /// The URI; empty for `xmlns=""`.
    pub uri: &'d str,
}

/// The capacity to give a `String` of `len` bytes of input for
/// [`Document::parse_owned`]: room for the values parsing appends (escaped
/// or wrapped values, normalized) without reallocating.
pub fn spare_capacity(len: usize) -> usize {
    len + len / 8 + 128
}

impl Document {
    /// Parses `input` within `limits`.
    pub fn parse(input: &str, limits: &Limits) -> Result<Self, XmlError> {
        if input.len() > limits.max_bytes {
            return Err(XmlError::TooLarge);
        }
        let mut owned = String::with_capacity(spare_capacity(input.len()));
        owned.push_str(input);
        Self::parse_owned(owned, limits)
    }

    /// Parses `input`, which becomes the document's text buffer (no copy;
    /// values that need normalizing are appended after the input, so
    /// [`spare_capacity`] for its length avoids a reallocation). A UTF-8
    /// byte-order mark is skipped.
    pub fn parse_owned(mut input: String, limits: &Limits) -> Result<Self, XmlError> {
        if input.starts_with('\u{FEFF}') {
            input.drain(..'\u{FEFF}'.len_utf8());
        }
        let mut doc = Parser::new(&input, limits)?.run()?;
        input.push_str(&doc.buf);
        doc.buf = input;
        Ok(doc)
    }

    /// [`Document::parse_owned`] for bytes that must be UTF-8.
    pub fn parse_vec(input: Vec<u8>, limits: &Limits) -> Result<Self, XmlError> {
        if input.len() > limits.max_bytes {
            return Err(XmlError::TooLarge);
        }
        let input = String::from_utf8(input).map_err(|_| XmlError::Encoding)?;
        Self::parse_owned(input, limits)
    }

    /// Parses bytes that must be UTF-8 (a UTF-8 byte-order mark is skipped).
    pub fn parse_bytes(input: &[u8], limits: &Limits) -> Result<Self, XmlError> {
        if input.len() > limits.max_bytes {
            return Err(XmlError::TooLarge);
        }
        // `parse_owned` skips the byte-order mark (once).
        let s = std::str::from_utf8(input).map_err(|_| XmlError::Encoding)?;
        Self::parse(s, limits)
    }

    /// The document element.
    pub fn root(&self) -> Element<'_> {
        Element {
            doc: self,
            id: self.root,
        }
    }

    /// The element with this unqualified `ID` attribute value, if any.
    pub fn element_by_id(&self, id: &str) -> Option<Element<'_>> {
        let at = self
            .ids
            .binary_search_by(|(v, _)| self.s(*v).cmp(id))
            .ok()?;
        Some(Element {
            doc: self,
            id: self.ids[at].1,
        })
    }

    /// An element by node id (`None` if the node is not an element).
    pub fn element(&self, id: NodeId) -> Option<Element<'_>> {
        match self.nodes.get(id.idx())?.kind {
            Kind::Element(_) => Some(Element { doc: self, id }),
            _ => None,
        }
    }

    /// Every element, in document order.
    pub fn elements(&self) -> impl Iterator<Item = Element<'_>> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, Kind::Element(_)))
            .map(|(i, _)| Element {
                doc: self,
                id: NodeId(i as u32),
            })
    }

    #[inline(always)]
    fn s(&self, span: Span) -> &str {
        &self.buf[span.start as usize..span.end as usize]
    }

    #[inline(always)]
    fn uri(&self, ns: u32) -> &str {
        self.s(self.uris[ns as usize])
    }

    #[inline(always)]
    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.idx()]
    }

    #[inline]
    fn node_ref(&self, id: NodeId) -> NodeRef<'_> {
        match &self.node(id).kind {
            Kind::Element(_) => NodeRef::Element(Element { doc: self, id }),
            Kind::Text(s, _) => NodeRef::Text(self.s(*s)),
            Kind::Pi { target, data } => NodeRef::Pi {
                target: self.s(*target),
                data: self.s(*data),
            },
        }
    }
}

/// Iterator over the children of an element.
#[derive(Debug, Clone)]
pub struct Children<'d> {
    doc: &'d Document,
    next: u32,
}

impl<'d> Iterator for Children<'d> {
    type Item = NodeRef<'d>;

    #[inline]
    fn next(&mut self) -> Option<NodeRef<'d>> {
        if self.next == NONE {
            return None;
        }
        let id = NodeId(self.next);
        self.next = self.doc.node(id).next_sibling;
        Some(self.doc.node_ref(id))
    }
}

impl<'d> Element<'d> {
    #[inline(always)]
    fn data(&self) -> &'d ElemData {
        match &self.doc.node(self.id).kind {
            Kind::Element(e) => e,
            _ => unreachable!("Element always points at an element node"),
        }
    }

    /// The document this element belongs to.
    #[inline]
    pub fn document(&self) -> &'d Document {
        self.doc
    }

    /// The node id.
    #[inline]
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The id of the element's namespace (see [`Document::ns_id`]).
    #[inline(always)]
    pub(crate) fn ns_id(&self) -> u32 {
        self.data().ns
    }

    /// The qualified name as written.
    #[inline(always)]
    pub fn qname(&self) -> &'d str {
        self.doc.s(self.data().qname)
    }

    /// The prefix as written (empty when unprefixed).
    pub fn prefix(&self) -> &'d str {
        let d = self.data();
        &self.qname()[..d.prefix_len as usize]
    }

    /// The local name.
    #[inline(always)]
    pub fn local_name(&self) -> &'d str {
        local_part(self.qname(), self.data().prefix_len)
    }

    /// The namespace URI (empty: none).
    #[inline(always)]
    pub fn namespace(&self) -> &'d str {
        self.doc.uri(self.data().ns)
    }

    /// Whether this element is `{ns}local`.
    #[inline(always)]
    pub fn is(&self, ns: &str, local: &str) -> bool {
        same(self.local_name(), local) && same(self.namespace(), ns)
    }

    /// The parent element (`None` for the document element).
    #[inline]
    pub fn parent(&self) -> Option<Element<'d>> {
        let p = self.doc.node(self.id).parent;
        (p != NONE).then_some(Element {
            doc: self.doc,
            id: NodeId(p),
        })
    }

    /// The children, in document order.
    #[inline]
    pub fn children(&self) -> Children<'d> {
        Children {
            doc: self.doc,
            next: self.doc.node(self.id).first_child,
        }
    }

    /// The child elements, in document order.
    #[inline]
    pub fn child_elements(&self) -> impl Iterator<Item = Element<'d>> + 'd {
        self.children().filter_map(|c| match c {
            NodeRef::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The child elements named `{ns}local`.
    #[inline]
    pub fn children_named(
        &self,
        ns: &'d str,
        local: &'d str,
    ) -> impl Iterator<Item = Element<'d>> + 'd {
        self.child_elements().filter(move |e| e.is(ns, local))
    }

    /// The attributes (namespace declarations excluded), as written.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'d>> + 'd {
        let doc = self.doc;
        let (a, b) = self.data().attrs;
        doc.attrs[a as usize..b as usize].iter().map(move |at| {
            let qname = doc.s(at.qname);
            let (prefix, local_name) = if at.prefix_len == 0 {
                ("", qname)
            } else {
                (
                    &qname[..at.prefix_len as usize],
                    &qname[at.prefix_len as usize + 1..],
                )
            };
            Attribute {
                qname,
                prefix,
                local_name,
                namespace: doc.uri(at.ns),
                value: doc.s(at.value),
            }
        })
    }

    /// The namespace declarations on this element.
    pub fn namespace_declarations(&self) -> impl Iterator<Item = NamespaceDecl<'d>> + 'd {
        let doc = self.doc;
        let (a, b) = self.data().decls;
        doc.decls[a as usize..b as usize]
            .iter()
            .map(move |d| NamespaceDecl {
                prefix: doc.s(d.prefix),
                uri: doc.uri(d.ns),
            })
    }

    /// The value of the unqualified attribute `local`.
    #[inline]
    pub fn attr(&self, local: &str) -> Option<&'d str> {
        let doc = self.doc;
        doc.elem_attrs(self.data())
            .iter()
            .find(|a| a.prefix_len == 0 && same(doc.s(a.qname), local))
            .map(|a| doc.s(a.value))
    }

    /// The value of the attribute `{ns}local`.
    pub fn attr_ns(&self, ns: &str, local: &str) -> Option<&'d str> {
        self.attributes()
            .find(|a| same(a.local_name, local) && same(a.namespace, ns))
            .map(|a| a.value)
    }

    /// The text content when the element has no element or PI children
    /// (`None` otherwise), as an owned string; see [`Element::text_ref`].
    pub fn text(&self) -> Option<String> {
        self.text_ref().map(str::to_owned)
    }

    /// The text content when the element has no element or PI children
    /// (`None` otherwise). The parser merges adjacent character data (text,
    /// references, CDATA sections, dropped comments) into one text node, so
    /// this is that node's text, or `""` for an empty element.
    #[inline]
    pub fn text_ref(&self) -> Option<&'d str> {
        let mut children = self.children();
        let text = match children.next() {
            None => "",
            Some(NodeRef::Text(t)) => t,
            Some(_) => return None,
        };
        // A text node is never followed by another one.
        match children.next() {
            None => Some(text),
            Some(_) => None,
        }
    }

    /// Whether `self` is `other` or one of its descendants.
    pub fn is_within(&self, other: &Element<'_>) -> bool {
        if !std::ptr::eq(self.doc, other.doc) {
            return false;
        }
        let mut cur = self.id.0;
        while cur != NONE {
            if cur == other.id.0 {
                return true;
            }
            cur = self.doc.nodes[cur as usize].parent;
        }
        false
    }

    /// The URI bound to `prefix` (empty: the default namespace) in scope at
    /// this element, looking up the ancestors. `None` when not declared
    /// (or, for the default namespace, undeclared by `xmlns=""`).
    pub fn lookup_namespace(&self, prefix: &str) -> Option<&'d str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let mut cur = Some(*self);
        while let Some(e) = cur {
            for d in e.namespace_declarations() {
                if d.prefix == prefix {
                    return (!d.uri.is_empty()).then_some(d.uri);
                }
            }
            cur = e.parent();
        }
        None
    }
}

// Accessors used by c14n without going through the public iterator types.
impl Document {
    #[inline]
    pub(crate) fn elem_attrs(&self, e: &ElemData) -> &[AttrData] {
        &self.attrs[e.attrs.0 as usize..e.attrs.1 as usize]
    }
    #[inline]
    pub(crate) fn elem_qname(&self, e: &ElemData) -> &str {
        self.s(e.qname)
    }
    #[inline]
    pub(crate) fn elem_prefix(&self, e: &ElemData) -> &str {
        &self.s(e.qname)[..e.prefix_len as usize]
    }
    pub(crate) fn elem_ns(&self, e: &ElemData) -> u32 {
        e.ns
    }
    #[inline]
    pub(crate) fn attr_qname(&self, a: &AttrData) -> &str {
        self.s(a.qname)
    }
    #[inline]
    pub(crate) fn attr_prefix(&self, a: &AttrData) -> &str {
        &self.s(a.qname)[..a.prefix_len as usize]
    }
    #[inline]
    pub(crate) fn attr_local(&self, a: &AttrData) -> &str {
        local_part(self.s(a.qname), a.prefix_len)
    }
    pub(crate) fn attr_ns(&self, a: &AttrData) -> u32 {
        a.ns
    }
    #[inline]
    pub(crate) fn attr_value(&self, a: &AttrData) -> &str {
        self.s(a.value)
    }
    /// Whether c14n renders the attribute's value unchanged.
    #[inline]
    pub(crate) fn attr_canonical(&self, a: &AttrData) -> bool {
        a.canonical
    }
    pub(crate) fn elem_decls(&self, e: &ElemData) -> &[NsDecl] {
        &self.decls[e.decls.0 as usize..e.decls.1 as usize]
    }
    pub(crate) fn decl_prefix(&self, d: &NsDecl) -> &str {
        self.s(d.prefix)
    }
    pub(crate) fn decl_ns(&self, d: &NsDecl) -> u32 {
        d.ns
    }
    #[inline]
    pub(crate) fn ns_uri(&self, ns: u32) -> &str {
        self.uri(ns)
    }
    /// The id the namespace `uri` has in this document (one per URI), if
    /// the document uses it: elements are then told apart by comparing ids
    /// ([`Element::ns_id`]) instead of URIs.
    pub(crate) fn ns_id(&self, uri: &str) -> Option<u32> {
        self.uris
            .iter()
            .position(|&span| same(self.s(span), uri))
            .map(|i| i as u32)
    }
    #[inline]
    pub(crate) fn first_child(&self, id: NodeId) -> Option<NodeId> {
        let c = self.node(id).first_child;
        (c != NONE).then_some(NodeId(c))
    }
    #[inline]
    pub(crate) fn next_sibling(&self, id: NodeId) -> Option<NodeId> {
        let c = self.node(id).next_sibling;
        (c != NONE).then_some(NodeId(c))
    }
    #[inline]
    pub(crate) fn parent_id(&self, id: NodeId) -> Option<NodeId> {
        let c = self.node(id).parent;
        (c != NONE).then_some(NodeId(c))
    }
    #[inline]
    pub(crate) fn raw_node(&self, id: NodeId) -> RawNode<'_> {
        match &self.node(id).kind {
            Kind::Element(e) => RawNode::Element(e),
            Kind::Text(s, canonical) => RawNode::Text(self.s(*s), *canonical),
            Kind::Pi { target, data } => RawNode::Pi(self.s(*target), self.s(*data)),
        }
    }
}

pub(crate) enum RawNode<'d> {
    Element(&'d ElemData),
    /// Text, and whether c14n would render it unchanged.
    Text(&'d str, bool),
    Pi(&'d str, &'d str),
}

// ------------------------------------------------------------------ parser

/// Most namespace bindings in scope at one element, over it and all its
/// ancestors. Prefix lookups scan this stack, so this bounds their cost and
/// keeps parsing linear in the input.
const MAX_IN_SCOPE: usize = 256;

/// A piece of character data for the current element.
enum Piece<'a> {
    /// A text event (line ends to normalize, `]]>` refused).
    Text(&'a str),
    /// The content of a CDATA section.
    CData(&'a str),
    /// A resolved character or entity reference.
    Char(char),
}

struct Parser<'i> {
    input: &'i str,
    limits: Limits,
    doc: Document,
    uri_ids: HashMap<String, u32>,
    /// The namespace bindings in scope, innermost last: (prefix, namespace).
    in_scope: Vec<(Span, u32)>,
    /// Per open element: its node, and the length of `in_scope` before its
    /// declarations (to pop them at its end).
    open: Vec<(NodeId, u32)>,
    /// The current start tag redeclared `xml` (allowed once, with its own URI).
    xml_redeclared: bool,
    /// Every `ID`/`Id`/`id` attribute: its value, its element, and whether it
    /// is the unqualified `ID` that [`Document::element_by_id`] finds.
    id_attrs: Vec<(Span, NodeId, bool)>,
    /// Reused for namespace URIs that need normalizing.
    scratch: String,
    seen_root: bool,
    root_closed: bool,
}

/// The local part of a qualified name whose prefix is `prefix_len` bytes.
#[inline(always)]
fn local_part(qname: &str, prefix_len: u32) -> &str {
    if prefix_len == 0 {
        qname
    } else {
        &qname[prefix_len as usize + 1..]
    }
}

/// How many namespace URIs (counting none and `xml`) are interned by a
/// scan before a map takes over.
const SCANNED_URIS: usize = 16;

/// String equality for the short names and prefixes of a document, inline:
/// parsing and checking compare names hundreds of times, and a call to
/// `memcmp` costs more than comparing a few bytes. Up to 16 bytes are
/// compared as two overlapping words; longer strings go to `memcmp`.
#[inline(always)]
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        8..=16 => word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8),
        _ => a == b,
    }
}

#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(w)
}

#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(w)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML 1.0 (fifth edition) `NameStartChar`, without the `:` that
/// namespaces reserve for the prefix separator.
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (fifth edition) `NameChar`, without `:`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether `s` is an XML NCName (a name without a colon).
pub fn is_ncname(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
    {
        return true;
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if is_name_start(c) => chars.all(is_name_char),
        _ => false,
    }
}

/// ASCII name-character classes, for the fast path of [`split_qname`]
/// (the colon counts as a name character there and is checked apart).
const NAME_CHAR: u8 = 1;
const NAME_START: u8 = 2;
/// XML white space: ends a name.
const SPACE: u8 = 4;
/// `=`: ends an attribute's name.
const EQUALS: u8 = 8;
const NAME_CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() || c == b'_' {
            NAME_CHAR | NAME_START
        } else if c.is_ascii_digit() || matches!(c, b'-' | b'.' | b':') {
            NAME_CHAR
        } else if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            SPACE
        } else if c == b'=' {
            EQUALS
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Scans the name starting at `from` up to the first byte whose class is in
/// `stop` (or the end): returns where it ends and its [`NameScan`].
#[inline(always)]
fn scan_name(b: &[u8], from: usize, stop: u8) -> (usize, NameScan) {
    let mut scan = NameScan::new();
    let mut i = from;
    while let Some(&c) = b.get(i) {
        let k = NAME_CLASSES[c as usize];
        if k & stop != 0 {
            break;
        }
        scan.classes &= k;
        if c == b':' {
            scan.colons += 1;
            scan.colon = i - from;
        }
        i += 1;
    }
    (i, scan)
}

/// The byte classes of a name and where its colons are, gathered in the
/// loop that finds the name's end: ASCII names (all names SAML uses) are
/// decided from these alone; anything else (non-ASCII, or invalid) by the
/// character path.
#[derive(Clone, Copy)]
struct NameScan {
    /// The AND of the bytes' classes (0: not a plain ASCII name).
    classes: u8,
    colons: u32,
    /// The index of the (last) colon.
    colon: usize,
}

impl NameScan {
    #[inline(always)]
    fn new() -> Self {
        Self {
            classes: NAME_CHAR,
            colons: 0,
            colon: 0,
        }
    }

    /// The prefix length of `q`, the name scanned.
    #[inline]
    fn finish(self, q: &str) -> Result<usize, XmlError> {
        if self.classes == 0 {
            return split_qname_chars(q);
        }
        let b = q.as_bytes();
        let starts = |i: usize| {
            b.get(i)
                .is_some_and(|&c| NAME_CLASSES[c as usize] & NAME_START != 0)
        };
        match self.colons {
            _ if !starts(0) => Err(XmlError::BadName),
            0 => Ok(0),
            1 if starts(self.colon + 1) => Ok(self.colon),
            _ => Err(XmlError::BadName),
        }
    }
}

fn split_qname_chars(q: &str) -> Result<usize, XmlError> {
    match q.split_once(':') {
        None if is_ncname(q) => Ok(0),
        Some((p, l)) if is_ncname(p) && is_ncname(l) => Ok(p.len()),
        _ => Err(XmlError::BadName),
    }
}

fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, _)) => {
            let mut c = scheme.chars();
            matches!(c.next(), Some(f) if f.is_ascii_alphabetic())
                && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Resolves `&...;` (the part between `&` and `;`).
fn resolve_ref(name: &str) -> Result<char, XmlError> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let n = if let Some(hex) = name.strip_prefix("#x") {
                if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(XmlError::Syntax);
                }
                u32::from_str_radix(hex, 16).map_err(|_| XmlError::Syntax)?
            } else if let Some(dec) = name.strip_prefix('#') {
                if dec.is_empty() || dec.len() > 10 || !dec.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(XmlError::Syntax);
                }
                dec.parse::<u32>().map_err(|_| XmlError::Syntax)?
            } else if is_ncname(name) {
                return Err(XmlError::Entity);
            } else {
                // A lone `&`: not a reference at all.
                return Err(XmlError::Syntax);
            };
            let c = char::from_u32(n).ok_or(XmlError::Encoding)?;
            if !is_xml_char(c) {
                return Err(XmlError::Encoding);
            }
            c
        }
    };
    Ok(c)
}

/// Whether no byte of `s` is flagged by `slow`, checked a chunk at a time so
/// the compiler can vectorize the scan (this is most of the bytes of a
/// signed message: certificate and signature text).
#[inline]
pub(crate) fn none_flagged(s: &str, slow: impl Fn(u8) -> bool) -> bool {
    s.as_bytes()
        .chunks(64)
        .all(|chunk| !chunk.iter().fold(false, |acc, &b| acc | slow(b)))
}

/// Text that is already in its final form, and in its canonical form too:
/// no CR to normalize, no control characters, no `]` (so no `]]>`), none of
/// `<`, `&` and `>` (c14n escapes them: raw text never holds the first two,
/// but CDATA sections do), and no 0xEF lead byte (U+FFFE and U+FFFF, which
/// XML does not allow, start with it; other characters from U+F000 take the
/// slow path too). Valid UTF-8 cannot hold surrogates.
fn text_is_plain(s: &str) -> bool {
    none_flagged(s, |b| {
        (b < 0x20) & (b != b'\t') & (b != b'\n')
            | (b == b']')
            | (b == b'<')
            | (b == b'&')
            | (b == b'>')
            | (b == 0xEF)
    })
}

/// An attribute value already in its final form, and in its canonical form
/// too: no reference, no `<`, no whitespace to normalize, no control
/// character, no `"` (c14n escapes it), no 0xEF lead byte.
fn attr_is_plain(s: &str) -> bool {
    none_flagged(s, |b| {
        (b < 0x20) | (b == b'&') | (b == b'<') | (b == b'"') | (b == 0xEF)
    })
}

#[inline]
fn skip_whitespace(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// One attribute of a start tag, as written.
struct RawAttribute<'a> {
    name: &'a str,
    /// The name's byte classes and colons.
    scan: NameScan,
    value: &'a str,
    /// The value needs no normalization (see [`attr_is_plain`]).
    plain: bool,
}

/// Splits the next attribute off the part of a start tag after its name:
/// `S Name S? '=' S? ('"' value '"' | "'" value "'")`, classifying the name's
/// and the value's bytes in the same pass. The name is checked as a QName
/// and the value normalized by the caller; quick-xml has already found the
/// end of the tag (quotes respected). All delimiters are ASCII, so every
/// index below is a character boundary.
fn next_attribute<'a>(rest: &mut &'a str) -> Result<Option<RawAttribute<'a>>, XmlError> {
    let s = *rest;
    let b = s.as_bytes();
    let start = skip_whitespace(b, 0);
    if start == b.len() {
        *rest = "";
        return Ok(None);
    }
    if start == 0 {
        // Attributes must be separated by whitespace.
        return Err(XmlError::Syntax);
    }
    let (mut i, scan) = scan_name(b, start, SPACE | EQUALS);
    let name = &s[start..i];
    i = skip_whitespace(b, i);
    if b.get(i) != Some(&b'=') {
        return Err(XmlError::Syntax);
    }
    i = skip_whitespace(b, i + 1);
    let quote = match b.get(i) {
        Some(&q @ (b'"' | b'\'')) => q,
        _ => return Err(XmlError::Syntax),
    };
    let value_start = i + 1;
    let j = value_start + memchr::memchr(quote, &b[value_start..]).ok_or(XmlError::Syntax)?;
    let value = &s[value_start..j];
    *rest = &s[j + 1..];
    Ok(Some(RawAttribute {
        name,
        scan,
        value,
        plain: attr_is_plain(value),
    }))
}

/// Appends character data with XML 1.0 line-end normalization, checking characters.
fn push_text(out: &mut String, raw: &str) -> Result<(), XmlError> {
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            c if is_xml_char(c) => out.push(c),
            _ => return Err(XmlError::Encoding),
        }
    }
    Ok(())
}

/// Appends an attribute value with references resolved and XML 1.0
/// attribute-value normalization (literal whitespace → space).
fn push_attr_value(out: &mut String, raw: &str) -> Result<(), XmlError> {
    let mut rest = raw;
    while let Some(pos) = rest.find(['&', '<', '\t', '\n', '\r']) {
        let (head, tail) = rest.split_at(pos);
        check_chars(head)?;
        out.push_str(head);
        let mut it = tail.chars();
        match it.next() {
            Some('&') => {
                let end = tail.find(';').ok_or(XmlError::Syntax)?;
                out.push(resolve_ref(&tail[1..end])?);
                rest = &tail[end + 1..];
            }
            Some('<') => return Err(XmlError::Syntax),
            Some('\r') => {
                out.push(' ');
                rest = tail[1..].strip_prefix('\n').unwrap_or(&tail[1..]);
            }
            _ => {
                out.push(' ');
                rest = &tail[1..];
            }
        }
    }
    check_chars(rest)?;
    out.push_str(rest);
    Ok(())
}

fn check_chars(s: &str) -> Result<(), XmlError> {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || s.chars().all(is_xml_char) {
        Ok(())
    } else {
        Err(XmlError::Encoding)
    }
}

impl<'i> Parser<'i> {
    fn new(input: &'i str, limits: &Limits) -> Result<Self, XmlError> {
        if input.len() > limits.max_bytes || input.len() >= u32::MAX as usize / 2 {
            return Err(XmlError::TooLarge);
        }
        // Spans index the input followed by `doc.buf`, which holds what is
        // appended while parsing (normalized values, copies): names, and text
        // and attribute values that need no normalization, are spans of the
        // input. The caller puts the two together once parsing succeeded.
        let mut doc = Document {
            buf: String::with_capacity(128),
            nodes: Vec::with_capacity(input.len() / 48),
            decls: Vec::with_capacity(8),
            attrs: Vec::with_capacity(input.len() / 96),
            uris: Vec::with_capacity(8),
            ids: Vec::new(),
            root: NodeId(0),
        };
        let base = input.len() as u32;
        let mut append = |s: &str| {
            let start = base + doc.buf.len() as u32;
            doc.buf.push_str(s);
            Span {
                start,
                end: base + doc.buf.len() as u32,
            }
        };
        let xml_prefix = append("xml");
        let xml_uri = append(XML_NS);
        doc.uris.push(Span::default());
        doc.uris.push(xml_uri);
        let uri_ids = HashMap::new();
        Ok(Self {
            input,
            limits: *limits,
            doc,
            uri_ids,
            in_scope: {
                let mut v = Vec::with_capacity(16);
                v.push((xml_prefix, 1));
                v
            },
            open: Vec::with_capacity(16),
            xml_redeclared: false,
            id_attrs: Vec::with_capacity(8),
            scratch: String::new(),
            seen_root: false,
            root_closed: false,
        })
    }

    /// Where `part` (a slice of the input) sits in the buffer.
    fn input_span(&self, part: &str) -> Option<Span> {
        let at = (part.as_ptr() as usize).checked_sub(self.input.as_ptr() as usize)?;
        (at + part.len() <= self.input.len()).then_some(Span {
            start: at as u32,
            end: (at + part.len()) as u32,
        })
    }

    /// Where the next appended text will start.
    #[inline]
    fn buf_end(&self) -> u32 {
        (self.input.len() + self.doc.buf.len()) as u32
    }

    /// The text of a span while parsing: a part of the input, or of what
    /// was appended after it.
    #[inline]
    fn s(&self, span: Span) -> &str {
        let base = self.input.len() as u32;
        if span.end <= base {
            &self.input[span.start as usize..span.end as usize]
        } else {
            &self.doc.buf[(span.start - base) as usize..(span.end - base) as usize]
        }
    }

    /// [`Document::attr_local`] while parsing.
    fn attr_local(&self, a: &AttrData) -> &str {
        local_part(self.s(a.qname), a.prefix_len)
    }

    /// Appends what `write` writes, as a span.
    #[inline]
    fn append(
        &mut self,
        write: impl FnOnce(&mut String) -> Result<(), XmlError>,
    ) -> Result<Span, XmlError> {
        let start = self.buf_end();
        write(&mut self.doc.buf)?;
        Ok(Span {
            start,
            end: self.buf_end(),
        })
    }

    /// A span holding `s`: its place in the input, or a copy.
    fn span_of(&mut self, s: &str) -> Span {
        if let Some(span) = self.input_span(s) {
            return span;
        }
        let start = self.buf_end();
        self.doc.buf.push_str(s);
        Span {
            start,
            end: self.buf_end(),
        }
    }

    /// The id of a namespace URI, one per URI. The few URIs of a usual
    /// document are found by a scan (no hashing, no copies); past
    /// [`SCANNED_URIS`], through a map, so a document declaring thousands of
    /// namespaces is still parsed in linear time.
    fn intern(&mut self, uri: &str) -> u32 {
        if uri.is_empty() {
            return 0;
        }
        if self.doc.uris.len() <= SCANNED_URIS {
            if let Some(i) = self.doc.uris.iter().position(|&u| same(self.s(u), uri)) {
                return i as u32;
            }
        } else if let Some(&id) = self.uri_ids.get(uri) {
            return id;
        }
        let span = self.span_of(uri);
        let id = self.doc.uris.len() as u32;
        self.doc.uris.push(span);
        if self.doc.uris.len() == SCANNED_URIS + 1 {
            // From now on through the map: index every URI so far.
            let known: Vec<(String, u32)> = self
                .doc
                .uris
                .iter()
                .enumerate()
                .map(|(i, &u)| (self.s(u).to_owned(), i as u32))
                .collect();
            self.uri_ids.extend(known);
        } else if self.doc.uris.len() > SCANNED_URIS {
            self.uri_ids.insert(uri.to_owned(), id);
        }
        id
    }

    fn lookup(&self, prefix: &str) -> Option<u32> {
        self.in_scope
            .iter()
            .rev()
            .find(|(p, _)| same(self.s(*p), prefix))
            .map(|&(_, ns)| ns)
    }

    fn add_node(&mut self, kind: Kind) -> NodeId {
        let id = NodeId(self.doc.nodes.len() as u32);
        let parent = self.open.last().map_or(NONE, |(p, _)| p.0);
        self.doc.nodes.push(Node {
            parent,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            kind,
        });
        if parent != NONE {
            let last = self.doc.nodes[parent as usize].last_child;
            if last == NONE {
                self.doc.nodes[parent as usize].first_child = id.0;
            } else {
                self.doc.nodes[last as usize].next_sibling = id.0;
            }
            self.doc.nodes[parent as usize].last_child = id.0;
        }
        id
    }

    /// Appends character data to the current element, merging it with a
    /// preceding text node (text around references, CDATA sections and
    /// dropped comments is one node, as canonicalization sees it).
    fn text(&mut self, piece: Piece<'_>) -> Result<(), XmlError> {
        let Some(&(parent, _)) = self.open.last() else {
            // Outside the document element: whitespace only.
            return match piece {
                Piece::Text(raw)
                    if raw
                        .bytes()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) =>
                {
                    Ok(())
                }
                _ => Err(XmlError::BadStructure),
            };
        };
        let last = self.doc.nodes[parent.idx()].last_child;
        let prev = match self.doc.nodes.get(last as usize) {
            Some(Node {
                kind: Kind::Text(span, _),
                ..
            }) => Some(*span),
            _ => None,
        };
        if prev.is_none()
            && let Piece::Text(raw) | Piece::CData(raw) = piece
            && text_is_plain(raw)
        {
            if !raw.is_empty() {
                let span = self.span_of(raw);
                self.add_node(Kind::Text(span, true));
            }
            return Ok(());
        }
        // The node's text is contiguous at the end of the buffer: move a
        // preceding piece there first, unless it already is.
        let base = self.input.len() as u32;
        let start = match prev {
            Some(s) if s.end == self.buf_end() && s.start >= base => s.start,
            Some(s) if s.end <= base => {
                let start = self.buf_end();
                let input = self.input;
                self.doc
                    .buf
                    .push_str(&input[s.start as usize..s.end as usize]);
                start
            }
            Some(s) => {
                let start = self.buf_end();
                self.doc
                    .buf
                    .extend_from_within((s.start - base) as usize..(s.end - base) as usize);
                start
            }
            None => self.buf_end(),
        };
        match piece {
            Piece::Text(raw) => {
                if raw.contains("]]>") {
                    return Err(XmlError::Syntax);
                }
                push_text(&mut self.doc.buf, raw)?;
            }
            Piece::CData(raw) => push_text(&mut self.doc.buf, raw)?,
            Piece::Char(c) => self.doc.buf.push(c),
        }
        let span = Span {
            start,
            end: self.buf_end(),
        };
        match prev {
            Some(_) => self.doc.nodes[last as usize].kind = Kind::Text(span, false),
            None if span.end > span.start => {
                self.add_node(Kind::Text(span, false));
            }
            None => {}
        }
        Ok(())
    }

    /// Handles the namespace declaration `xmlns[:prefix]="raw"` of the
    /// current start tag, whose declarations begin at `decl_start`.
    fn declare(&mut self, prefix: &str, raw: &str, decl_start: u32) -> Result<(), XmlError> {
        if self.doc.decls.len() as u32 - decl_start >= self.limits.max_namespace_declarations as u32
        {
            return Err(XmlError::TooManyNamespaceDeclarations);
        }
        if !prefix.is_empty() && !is_ncname(prefix) {
            return Err(XmlError::BadName);
        }
        let decls = &self.doc.decls[decl_start as usize..];
        if decls.iter().any(|d| same(self.s(d.prefix), prefix))
            || (prefix == "xml" && self.xml_redeclared)
        {
            return Err(XmlError::DuplicateAttribute);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let uri = if attr_is_plain(raw) {
            raw
        } else {
            scratch.clear();
            push_attr_value(&mut scratch, raw)?;
            scratch.as_str()
        };
        let bound = self.bind(prefix, uri);
        self.scratch = scratch;
        bound
    }

    fn bind(&mut self, prefix: &str, uri: &str) -> Result<(), XmlError> {
        match (prefix, uri) {
            ("xml", XML_NS) => {
                self.xml_redeclared = true;
                return Ok(());
            }
            ("xml", _) | ("xmlns", _) => return Err(XmlError::BadNamespace),
            (_, XML_NS | XMLNS_NS) => return Err(XmlError::BadNamespace),
            ("", "") => {}
            (_, "") => return Err(XmlError::BadNamespace),
            (_, u) if !has_scheme(u) => return Err(XmlError::BadNamespace),
            _ => {}
        }
        if self.in_scope.len() >= MAX_IN_SCOPE {
            return Err(XmlError::TooManyNamespaceDeclarations);
        }
        let ns = self.intern(uri);
        let prefix = self.span_of(prefix);
        self.doc.decls.push(NsDecl { prefix, ns });
        self.in_scope.push((prefix, ns));
        Ok(())
    }

    /// A start tag: its content between `<` and `>` (or `/>`), which is the
    /// qualified name, then attributes and declarations, each preceded by
    /// whitespace.
    fn start(&mut self, tag: &str, empty: bool) -> Result<(), XmlError> {
        if self.root_closed || (self.open.is_empty() && self.seen_root) {
            return Err(XmlError::BadStructure);
        }
        if self.open.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep);
        }
        self.seen_root = true;
        let (name_end, scan) = scan_name(tag.as_bytes(), 0, SPACE);
        let (qname, attributes) = tag.split_at(name_end);
        let prefix_len = scan.finish(qname)?;
        // Pass 1: split declarations from attributes. Per-element checks are
        // linear scans bounded by the per-element limits (no allocation per
        // element); names and plain values are spans of the input.
        let scope_mark = self.in_scope.len() as u32;
        let decl_start = self.doc.decls.len() as u32;
        let attr_start = self.doc.attrs.len();
        let mut rest = attributes;
        while let Some(attr) = next_attribute(&mut rest)? {
            let (key, raw) = (attr.name, attr.value);
            let plen = attr.scan.finish(key)?;
            if plen == 0 && key == "xmlns" {
                self.declare("", raw, decl_start)?;
            } else if plen == 5 && key.starts_with("xmlns") {
                self.declare(&key[6..], raw, decl_start)?;
            } else {
                if self.doc.attrs.len() - attr_start >= self.limits.max_attributes {
                    return Err(XmlError::TooManyAttributes);
                }
                let qspan = self.span_of(key);
                let value = if attr.plain {
                    self.span_of(raw)
                } else {
                    self.append(|buf| push_attr_value(buf, raw))?
                };
                self.doc.attrs.push(AttrData {
                    qname: qspan,
                    prefix_len: plen as u32,
                    ns: 0,
                    value,
                    canonical: attr.plain,
                });
            }
        }
        self.xml_redeclared = false;
        // Resolve the element's namespace.
        let ns = if prefix_len == 0 {
            self.lookup("").unwrap_or(0)
        } else {
            self.lookup(&qname[..prefix_len])
                .ok_or(XmlError::UndeclaredPrefix)?
        };
        // Resolve the attributes (declarations may follow them in the tag);
        // expanded names must be unique (so qualified names are too); one
        // ID attribute per element.
        let node = NodeId(self.doc.nodes.len() as u32);
        let mut id_count = 0;
        for i in attr_start..self.doc.attrs.len() {
            let mut a = self.doc.attrs[i];
            if a.prefix_len != 0 {
                let q = self.s(a.qname);
                a.ns = self
                    .lookup(&q[..a.prefix_len as usize])
                    .ok_or(XmlError::UndeclaredPrefix)?;
                self.doc.attrs[i].ns = a.ns;
            }
            let local = self.attr_local(&a);
            if self.doc.attrs[attr_start..i]
                .iter()
                .any(|b| b.ns == a.ns && same(self.attr_local(b), local))
            {
                return Err(XmlError::DuplicateAttribute);
            }
            if local.eq_ignore_ascii_case("id") {
                id_count += 1;
                if id_count > 1 {
                    return Err(XmlError::DuplicateId);
                }
                self.id_attrs
                    .push((a.value, node, a.prefix_len == 0 && local == "ID"));
            }
        }
        let attr_end = self.doc.attrs.len() as u32;
        let qspan = self.span_of(qname);
        let id = self.add_node(Kind::Element(ElemData {
            qname: qspan,
            prefix_len: prefix_len as u32,
            ns,
            decls: (decl_start, self.doc.decls.len() as u32),
            attrs: (attr_start as u32, attr_end),
        }));
        debug_assert_eq!(id, node);
        if self.open.is_empty() {
            self.doc.root = id;
        }
        self.open.push((id, scope_mark));
        if empty {
            self.end();
        }
        Ok(())
    }

    fn end(&mut self) {
        if let Some((_, mark)) = self.open.pop() {
            self.in_scope.truncate(mark as usize);
            if self.open.is_empty() {
                self.root_closed = true;
            }
        }
    }

    /// ID values must be unique over the whole document; the unqualified
    /// `ID`s are kept sorted for [`Document::element_by_id`].
    fn finish_ids(&mut self) -> Result<(), XmlError> {
        let mut id_attrs = std::mem::take(&mut self.id_attrs);
        id_attrs.sort_unstable_by(|a, b| self.s(a.0).cmp(self.s(b.0)));
        if id_attrs
            .windows(2)
            .any(|w| self.s(w[0].0) == self.s(w[1].0))
        {
            return Err(XmlError::DuplicateId);
        }
        self.doc.ids = id_attrs
            .iter()
            .filter(|&&(_, _, plain)| plain)
            .map(|&(value, node, _)| (value, node))
            .collect();
        Ok(())
    }

    /// The XML declaration `<?xml version="1.0" [encoding="UTF-8"]
    /// [standalone="yes|no"]?>`, pseudo-attributes in this order: version
    /// 1.0 only, and UTF-8 (the only encoding accepted) if named.
    fn declaration(body: &str) -> Result<(), XmlError> {
        let mut rest = body;
        let mut seen = 0;
        while let Some(a) = next_attribute(&mut rest)? {
            let rank = match a.name {
                "version" if a.value == "1.0" => 1,
                "encoding" if a.value.eq_ignore_ascii_case("utf-8") => 2,
                "encoding" => return Err(XmlError::Encoding),
                "standalone" if matches!(a.value, "yes" | "no") => 3,
                _ => return Err(XmlError::Syntax),
            };
            if rank <= seen || (seen == 0 && rank != 1) {
                return Err(XmlError::Syntax);
            }
            seen = rank;
        }
        if seen == 0 {
            return Err(XmlError::Syntax);
        }
        Ok(())
    }

    /// Character data up to the next `<`: text pieces and the references
    /// between them. A `&` must start a reference ending in `;`.
    fn text_run(&mut self, mut raw: &str) -> Result<(), XmlError> {
        while let Some(amp) = memchr::memchr(b'&', raw.as_bytes()) {
            if amp > 0 {
                self.text(Piece::Text(&raw[..amp]))?;
            }
            let name_end = memchr::memchr(b';', &raw.as_bytes()[amp..]).ok_or(XmlError::Syntax)?;
            let c = resolve_ref(&raw[amp + 1..amp + name_end])?;
            self.text(Piece::Char(c))?;
            raw = &raw[amp + name_end + 1..];
        }
        if raw.is_empty() {
            return Ok(());
        }
        self.text(Piece::Text(raw))
    }

    /// The end tag `</name S?>` at `at`: closes the innermost open element,
    /// whose qualified name it must repeat exactly. Returns where it ends.
    fn end_tag(&mut self, at: usize) -> Result<usize, XmlError> {
        let Some(&(open, _)) = self.open.last() else {
            return Err(XmlError::Syntax);
        };
        let Kind::Element(ref e) = self.doc.nodes[open.idx()].kind else {
            return Err(XmlError::Syntax);
        };
        let name = self.s(e.qname);
        let after = at + 2 + name.len();
        if !self
            .input
            .get(at + 2..after)
            .is_some_and(|written| same(written, name))
        {
            return Err(XmlError::Syntax);
        }
        let gt = skip_whitespace(self.input.as_bytes(), after);
        if self.input.as_bytes().get(gt) != Some(&b'>') {
            return Err(XmlError::Syntax);
        }
        self.end();
        Ok(gt + 1)
    }

    /// `<!--…-->`, `<![CDATA[…]]>` or `<!DOCTYPE…>` (refused) at `at`;
    /// returns where the markup ends.
    fn bang(&mut self, at: usize) -> Result<usize, XmlError> {
        let input = self.input;
        let rest = &input[at..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").ok_or(XmlError::Syntax)?;
            let comment = &body[..end];
            if comment.contains("--") || comment.ends_with('-') {
                return Err(XmlError::Syntax);
            }
            if self.limits.markup == Markup::Refuse {
                return Err(XmlError::Comment);
            }
            check_chars(comment)?;
            Ok(at + 4 + end + 3)
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").ok_or(XmlError::Syntax)?;
            self.text(Piece::CData(&body[..end]))?;
            Ok(at + 9 + end + 3)
        } else if rest
            .as_bytes()
            .get(2..9)
            .is_some_and(|k| k.eq_ignore_ascii_case(b"DOCTYPE"))
        {
            Err(XmlError::Doctype)
        } else {
            Err(XmlError::Syntax)
        }
    }

    /// `<?target data?>` with `body` between `<?` and `?>`.
    fn processing_instruction(&mut self, body: &str) -> Result<(), XmlError> {
        let (target, data) = match body.find([' ', '\t', '\n', '\r']) {
            Some(i) => (
                &body[..i],
                body[i..].trim_start_matches([' ', '\t', '\n', '\r']),
            ),
            None => (body, ""),
        };
        if target == "xml" {
            // A declaration anywhere but at the very start.
            return Err(XmlError::Syntax);
        }
        if self.limits.markup == Markup::Refuse {
            return Err(XmlError::ProcessingInstruction);
        }
        if !is_ncname(target) || target.eq_ignore_ascii_case("xml") {
            return Err(XmlError::BadName);
        }
        if !self.open.is_empty() {
            let t = self.span_of(target);
            let d = self.append(|buf| push_text(buf, data))?;
            self.add_node(Kind::Pi { target: t, data: d });
        } else {
            check_chars(data)?;
        }
        Ok(())
    }

    /// The tokenizer: markup is found with `memchr`, and the end of a start
    /// tag (a `>` outside quoted values) by quick-xml's [`ElementParser`].
    /// The input is a `str`, so it was validated as UTF-8 once, as a whole;
    /// every delimiter is ASCII, so every split is at a character boundary.
    fn run(mut self) -> Result<Document, XmlError> {
        let input = self.input;
        let b = input.as_bytes();
        let mut pos = 0;
        if let Some(body) = input.strip_prefix("<?xml")
            && body
                .as_bytes()
                .first()
                .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'?'))
        {
            let end = body.find("?>").ok_or(XmlError::Syntax)?;
            Self::declaration(&body[..end])?;
            pos = 5 + end + 2;
        }
        while pos < b.len() {
            // Markup often follows markup directly.
            let next = if b[pos] == b'<' {
                Some(pos)
            } else {
                memchr::memchr(b'<', &b[pos..]).map(|i| pos + i)
            };
            let Some(lt) = next else {
                self.text_run(&input[pos..])?;
                break;
            };
            if lt > pos {
                self.text_run(&input[pos..lt])?;
            }
            pos = match b.get(lt + 1) {
                Some(b'/') => self.end_tag(lt)?,
                Some(b'?') => {
                    let end = input[lt + 2..].find("?>").ok_or(XmlError::Syntax)?;
                    self.processing_instruction(&input[lt + 2..lt + 2 + end])?;
                    lt + 2 + end + 2
                }
                Some(b'!') => self.bang(lt)?,
                _ => {
                    let gt = ElementParser::default()
                        .feed(&b[lt + 1..])
                        .ok_or(XmlError::Syntax)?;
                    let tag = &input[lt + 1..lt + 1 + gt];
                    let (tag, empty) = match tag.strip_suffix('/') {
                        Some(t) => (t, true),
                        None => (tag, false),
                    };
                    self.start(tag, empty)?;
                    lt + 1 + gt + 1
                }
            };
        }
        if !self.open.is_empty() || !self.seen_root {
            return Err(XmlError::BadStructure);
        }
        self.finish_ids()?;
        Ok(self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document, XmlError> {
        Document::parse(s, &Limits::PROTOCOL)
    }

    #[test]
    fn namespaces_resolve() {
        let d = parse(r#"<a:r xmlns:a="urn:a" xmlns="urn:d"><c x="1" a:y="2"/></a:r>"#).unwrap();
        let r = d.root();
        assert!(r.is("urn:a", "r"));
        let c = r.child_elements().next().unwrap();
        assert!(c.is("urn:d", "c"));
        assert_eq!(c.attr("x"), Some("1"));
        assert_eq!(c.attr_ns("urn:a", "y"), Some("2"));
    }

    #[test]
    fn namespaces_intern_consistently() {
        let decls = |r: std::ops::Range<usize>| -> String {
            r.map(|i| format!(" xmlns:p{i}=\"urn:n{i}\"")).collect()
        };
        let (outer, inner) = (decls(0..20), decls(20..40));
        let doc = |body: &str| format!("<r{outer}><m{inner}>{body}</m></r>");
        let d = parse(&doc(
            r#"<c xmlns:q="urn:n0" xmlns:z="urn:n39" q:a="1" z:b="2"/>"#,
        ))
        .unwrap();
        let c = d
            .root()
            .child_elements()
            .next()
            .unwrap()
            .child_elements()
            .next()
            .unwrap();
        assert_eq!(c.attr_ns("urn:n0", "a"), Some("1"));
        assert_eq!(c.attr_ns("urn:n39", "b"), Some("2"));
        // The same URI under two prefixes is one namespace, wherever it was
        // first declared: URIs interned while they were scanned (p0, p13),
        // the one whose interning made the map take over (p14), and URIs
        // interned through the map (p25, p39), also written with a reference.
        for (p, uri) in [
            ("p0", "urn:n0"),
            ("p13", "urn:n13"),
            ("p14", "urn:n14"),
            ("p39", "urn:n39"),
            ("p25", "urn:n25"),
            ("p25", "urn:n&#x32;5"),
        ] {
            let body = format!(r#"<c xmlns:q="{uri}" {p}:a="1" q:a="2"/>"#);
            assert_eq!(
                parse(&doc(&body)).unwrap_err(),
                XmlError::DuplicateAttribute,
                "{p}"
            );
        }
        // Around the switch: a URI interned earlier is found again whatever
        // the number of URIs interned so far.
        for n in 10..=20 {
            let body = format!(
                r#"<r{}><c xmlns:q="urn:n0" p0:a="1" q:a="2"/></r>"#,
                decls(0..n)
            );
            assert_eq!(
                parse(&body).unwrap_err(),
                XmlError::DuplicateAttribute,
                "{n}"
            );
        }
        // And in a document with few namespaces (scanned only).
        assert_eq!(
            parse(r#"<r xmlns:p="urn:x"><m xmlns:q="urn:x" p:a="1" q:a="2"/></r>"#).unwrap_err(),
            XmlError::DuplicateAttribute
        );
        assert!(parse(r#"<r xmlns:p="urn:x"><m xmlns:q="urn:y" p:a="1" q:a="2"/></r>"#).is_ok());
    }

    #[test]
    fn same_is_string_equality() {
        // Every length the word paths cover and beyond, equal and differing
        // at each position (first, middle, last byte, and in the overlap).
        for n in 0..=40usize {
            let a: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            assert!(same(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone().into_bytes();
                b[at] ^= 0x20;
                let b = String::from_utf8(b).unwrap();
                assert_eq!(same(&a, &b), a == b, "{n} {at}");
                assert!(!same(&a, &b));
            }
            assert!(!same(&a, &format!("{a}x")));
            assert!(!same(&format!("{a}x"), &a));
        }
        assert!(same("", ""));
        assert!(!same("saml", "samlp"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse("<!DOCTYPE r [<!ENTITY x 'y'>]><r>&x;</r>").unwrap_err(),
            XmlError::Doctype
        );
        assert_eq!(parse("<r>&x;</r>").unwrap_err(), XmlError::Entity);
        assert_eq!(parse("<r><!-- c --></r>").unwrap_err(), XmlError::Comment);
        assert_eq!(
            parse("<r><?pi x?></r>").unwrap_err(),
            XmlError::ProcessingInstruction
        );
        assert_eq!(
            parse(r#"<r><a ID="x"/><b ID="x"/></r>"#).unwrap_err(),
            XmlError::DuplicateId
        );
        assert_eq!(
            parse(r#"<r xmlns:s="urn:s"><a ID="x" s:ID="y"/></r>"#).unwrap_err(),
            XmlError::DuplicateId
        );
        assert_eq!(
            parse(r#"<r a="1" a="2"/>"#).unwrap_err(),
            XmlError::DuplicateAttribute
        );
        assert_eq!(
            parse(r#"<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>"#).unwrap_err(),
            XmlError::DuplicateAttribute
        );
        assert_eq!(parse("<p:r/>").unwrap_err(), XmlError::UndeclaredPrefix);
        assert_eq!(
            parse(r#"<r xmlns:p="rel"/>"#).unwrap_err(),
            XmlError::BadNamespace
        );
        assert_eq!(
            parse(r#"<r xmlns:a="urn:x" xmlns:a="urn:y"/>"#).unwrap_err(),
            XmlError::DuplicateAttribute
        );
        assert_eq!(
            parse(r#"<r xmlns="urn:x" xmlns="urn:x"/>"#).unwrap_err(),
            XmlError::DuplicateAttribute
        );
        assert!(
            parse(r#"<r xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>"#).is_ok()
        );
        assert_eq!(
            parse(r#"<r xmlns:xml="urn:x"/>"#).unwrap_err(),
            XmlError::BadNamespace
        );
        // `xmlns:` with no prefix after it is not a declaration of the
        // default namespace, nor any name at all.
        for bad in [
            r#"<r xmlns:="urn:x"/>"#,
            r#"<r xmlns:a:b="urn:x"/>"#,
            r#"<r :a="1"/>"#,
        ] {
            assert_eq!(parse(bad).unwrap_err(), XmlError::BadName, "{bad}");
        }
        assert_eq!(
            parse(r#"<r xmlns:p=""/>"#).unwrap_err(),
            XmlError::BadNamespace
        );
        assert_eq!(
            parse(r#"<r xmlns:p="http://www.w3.org/2000/xmlns/"/>"#).unwrap_err(),
            XmlError::BadNamespace
        );
        for bad in [
            r#"<r a="1"b="2"/>"#,
            "<r a=1/>",
            "<r a/>",
            r#"<r a "1"/>"#,
            r#"<r a="1/>"#,
            r#"<r a='1"/>"#,
            r#"<r ="1"/>"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let d = parse("<r a = '1\"' \n b=\"'>\"\t/>").unwrap();
        assert_eq!(d.root().attr("a"), Some("1\""));
        assert_eq!(d.root().attr("b"), Some("'>"));
        // The plain-text fast paths must not let through what the exact
        // path refuses: U+FFFE/U+FFFF (lead byte 0xEF), control characters,
        // `]]>` in text, `<` in a value.
        for (bad, err) in [
            ("<r>a\u{FFFE}b</r>", XmlError::Encoding),
            ("<r>\u{FFFF}</r>", XmlError::Encoding),
            ("<r a=\"\u{FFFE}\"/>", XmlError::Encoding),
            ("<r>a\u{0}b</r>", XmlError::Encoding),
            ("<r a=\"x\u{1F}\"/>", XmlError::Encoding),
            ("<r>a]]>b</r>", XmlError::Syntax),
            ("<r a=\"a<b\"/>", XmlError::Syntax),
        ] {
            assert_eq!(parse(bad).map(|_| ()), Err(err), "{bad:?}");
        }
        // Characters from U+F000 take the exact path and are kept.
        let d = parse("<r a=\"\u{F8FF}]\">\u{FFFD}]</r>").unwrap();
        assert_eq!(d.root().attr("a"), Some("\u{F8FF}]"));
        assert_eq!(d.root().text_ref(), Some("\u{FFFD}]"));
        assert_eq!(parse("<r/><r/>").unwrap_err(), XmlError::BadStructure);
        assert_eq!(parse("<r/>x").unwrap_err(), XmlError::BadStructure);
        assert_eq!(parse("<a:b:c/>").unwrap_err(), XmlError::BadName);
        assert!(parse("<r>\u{1}</r>").is_err());
        assert_eq!(
            parse(r#"<?xml version="1.0" encoding="ISO-8859-1"?><r/>"#).unwrap_err(),
            XmlError::Encoding
        );
    }

    /// Names follow XML 1.0 (fifth edition) `NameStartChar`/`NameChar`, as
    /// libxml2 does: not every non-ASCII character is a name character.
    #[test]
    fn names_are_xml_names() {
        for good in [
            "<r\u{e9}t/>",
            "<\u{c0}/>",
            "<r a\u{b7}b='1'/>",
            "<r\u{300}/>",
            "<\u{3001}/>",
            "<\u{10000}/>",
            "<r\u{203f}/>",
            "<p\u{e9}:r xmlns:p\u{e9}='urn:x'/>",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for bad in [
            "<r\u{a0}/>",
            "<r a\u{d7}='1'/>",
            "<\u{300}r/>",
            "<r\u{3000}/>",
            "<r\u{f0000}/>",
            "<\u{b7}/>",
            "<r\u{2041}/>",
            "<r\u{fdd0}/>",
            "<\u{f7}/>",
            "<p\u{d7}:r xmlns:p\u{d7}='urn:x'/>",
        ] {
            assert_eq!(parse(bad).unwrap_err(), XmlError::BadName, "{bad}");
        }
        // One byte-order mark is skipped, a second one is text before the root.
        let bom = "\u{feff}";
        let meta = &Limits::METADATA;
        assert!(Document::parse_bytes(format!("{bom}<r/>").as_bytes(), meta).is_ok());
        assert!(Document::parse(&format!("{bom}<r/>"), meta).is_ok());
        for twice in [
            Document::parse_bytes(format!("{bom}{bom}<r/>").as_bytes(), meta),
            Document::parse(&format!("{bom}{bom}<r/>"), meta),
        ] {
            assert_eq!(twice.unwrap_err(), XmlError::BadStructure);
        }
    }

    #[test]
    fn limits() {
        let deep = "<a>".repeat(65) + &"</a>".repeat(65);
        assert_eq!(parse(&deep).unwrap_err(), XmlError::TooDeep);
        let attrs: String = (0..65).map(|i| format!(" a{i}=\"1\"")).collect();
        assert_eq!(
            parse(&format!("<r{attrs}/>")).unwrap_err(),
            XmlError::TooManyAttributes
        );
        let ns: String = (0..33)
            .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
            .collect();
        assert_eq!(
            parse(&format!("<r{ns}/>")).unwrap_err(),
            XmlError::TooManyNamespaceDeclarations
        );
        // At most 256 bindings in scope over all ancestors (prefix lookups
        // scan them): nine levels of 30 declarations are refused, eight pass.
        let nested = |levels: usize| {
            let mut x = String::new();
            for l in 0..levels {
                let decls: String = (0..30)
                    .map(|i| format!(" xmlns:p{l}x{i}=\"urn:{i}\""))
                    .collect();
                x.push_str(&format!("<e{decls}>"));
            }
            x + &"</e>".repeat(levels)
        };
        assert!(parse(&nested(8)).is_ok());
        assert_eq!(
            parse(&nested(9)).unwrap_err(),
            XmlError::TooManyNamespaceDeclarations
        );
    }

    #[test]
    fn text_normalization() {
        let d = parse("<r a=\"x\ty&#9;\r\n\">a\r\nb&amp;&#x41;<![CDATA[<c>]]></r>").unwrap();
        assert_eq!(d.root().attr("a"), Some("x y\t "));
        assert_eq!(d.root().text().as_deref(), Some("a\nb&A<c>"));
    }

    #[test]
    fn comments_are_dropped_and_text_joined_when_allowed() {
        let d = Document::parse("<r>a<!-- x -->b</r>", &Limits::METADATA).unwrap();
        assert_eq!(d.root().text().as_deref(), Some("ab"));
        assert_eq!(d.root().children().count(), 1);
    }

    /// The tokenizer's grammar, piece by piece: what is well-formed parses,
    /// what is not gets a typed error (and never a panic, also with
    /// multi-byte characters next to the delimiters).
    #[test]
    fn markup_grammar() {
        let meta = |s: &str| Document::parse(s, &Limits::METADATA).map(|_| ());
        for good in [
            r#"<?xml version="1.0"?><r/>"#,
            r#"<?xml version='1.0' encoding='utf-8' standalone='yes' ?><r/>"#,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r/>\n",
            "<r></r >",
            "<r\n/>",
            r#"<r a="/>" b='>'></r>"#,
            "<r>a &lt; b &#x3E; c &#233;</r>",
        ] {
            assert!(parse(good).is_ok(), "{good}");
        }
        for good in [
            "<?xml-stylesheet href='x'?><r/>",
            "<!---->\n<r><!-- a - b --><?pi é?></r><!-- é -->",
            "<r><![CDATA[]]><![CDATA[ < & ]]]></r>",
        ] {
            assert_eq!(meta(good), Ok(()), "{good}");
        }
        for (bad, err) in [
            // Declarations: version 1.0 first, UTF-8 if named, nothing else,
            // and only at the very start.
            ("<?xml?><r/>", XmlError::Syntax),
            (r#"<?xml version="1.1"?><r/>"#, XmlError::Syntax),
            (
                r#"<?xml encoding="UTF-8" version="1.0"?><r/>"#,
                XmlError::Syntax,
            ),
            (
                r#"<?xml version="1.0" version="1.0"?><r/>"#,
                XmlError::Syntax,
            ),
            (
                r#"<?xml version="1.0" standalone="maybe"?><r/>"#,
                XmlError::Syntax,
            ),
            (r#"<?xml version="1.0" x="1"?><r/>"#, XmlError::Syntax),
            (
                r#"<?xml version="1.0"encoding="UTF-8"?><r/>"#,
                XmlError::Syntax,
            ),
            (r#"<?xml version="1.0"<r/>"#, XmlError::Syntax),
            (r#" <?xml version="1.0"?><r/>"#, XmlError::Syntax),
            (r#"<r/><?xml version="1.0"?>"#, XmlError::Syntax),
            // References: a lone `&` is not one.
            ("<r>a & b</r>", XmlError::Syntax),
            ("<r>a &amp b</r>", XmlError::Syntax),
            ("<r>&</r>", XmlError::Syntax),
            ("<r>&;</r>", XmlError::Syntax),
            ("<r>&#;</r>", XmlError::Syntax),
            ("<r a=\"x & y\"/>", XmlError::Syntax),
            // End tags repeat the open element's name exactly.
            ("<r></s>", XmlError::Syntax),
            ("<r></ r>", XmlError::Syntax),
            ("<r></r x>", XmlError::Syntax),
            ("<p:r xmlns:p=\"urn:p\"></r>", XmlError::Syntax),
            ("</r>", XmlError::Syntax),
            ("<r></r", XmlError::Syntax),
            ("<r>", XmlError::BadStructure),
            // Start tags.
            ("<r", XmlError::Syntax),
            ("<r a=\">\"", XmlError::Syntax),
            ("<r><", XmlError::Syntax),
            ("<>", XmlError::BadName),
            ("< r/>", XmlError::BadName),
            ("<r/ >", XmlError::BadName),
            ("<é/><", XmlError::Syntax),
            // Markup declarations.
            ("<!doctype r><r/>", XmlError::Doctype),
            ("<r><!ELEMENT r ANY></r>", XmlError::Syntax),
            ("<r><!é></r>", XmlError::Syntax),
            ("<r><!", XmlError::Syntax),
            ("<r><![CDATA[x</r>", XmlError::Syntax),
            ("<r><![CDATA[x]]></r><![CDATA[]]>", XmlError::BadStructure),
            // Comments (also where they are refused, malformed is malformed).
            ("<r><!-- a -- b --></r>", XmlError::Syntax),
            ("<r><!-- a ---></r>", XmlError::Syntax),
            ("<r><!-- a </r>", XmlError::Syntax),
            ("<r><!--></r>", XmlError::Syntax),
            // Processing instructions.
            ("<r><?pi x</r>", XmlError::Syntax),
            ("<r><?pi x?></r>", XmlError::ProcessingInstruction),
        ] {
            assert_eq!(parse(bad).map(|_| ()), Err(err), "{bad}");
        }
        for (bad, err) in [
            ("<r><!-- a -- b --></r>", XmlError::Syntax),
            ("<r><?XML x?></r>", XmlError::BadName),
            ("<r><?1pi x?></r>", XmlError::BadName),
            ("<r><?pi \u{1}?></r>", XmlError::Encoding),
            ("<r><!-- \u{1} --></r>", XmlError::Encoding),
            ("<r/><![CDATA[ ]]>", XmlError::BadStructure),
        ] {
            assert_eq!(meta(bad), Err(err), "{bad}");
        }
        assert_eq!(parse("<r><!-- a --></r>").unwrap_err(), XmlError::Comment);
        // Text between markup arrives in pieces; the tree has it joined.
        let d = Document::parse(
            "<r>a&amp;b<!-- c --><![CDATA[d]]>e&#x46;</r>",
            &Limits::METADATA,
        )
        .unwrap();
        assert_eq!(d.root().text().as_deref(), Some("a&bdeF"));
        assert_eq!(d.root().children().count(), 1);
    }
}
