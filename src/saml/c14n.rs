//! Exclusive XML Canonicalization 1.0, without comments
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`), of an element subtree of a
//! parsed [`Document`], optionally with one element (the enveloped
//! `Signature`) removed, and with an `InclusiveNamespaces` `PrefixList`.
//!
//! The rules that real implementations got wrong, and how they are kept here:
//!
//! - Namespace declarations are rendered only where a prefix is *visibly
//!   utilized* (the element's own prefix, its attributes' prefixes) or listed
//!   in the `PrefixList`, and only when the nearest output ancestor did not
//!   already render the same binding. Declarations inherited from ancestors
//!   outside the subtree are therefore pulled onto the apex.
//! - `xmlns=""` is emitted only to undo a non-empty default namespace that an
//!   output ancestor rendered.
//! - Namespace declarations are sorted by prefix (default first); attributes
//!   by namespace URI, then local name (unprefixed attributes have no
//!   namespace and sort first). The `xml` namespace is never declared, and
//!   `xml:*` attributes are not inherited from ancestors.
//! - Text escapes `& < >` and CR; attribute values escape `& < "`, TAB, LF
//!   and CR. Empty elements get a start and an end tag. CDATA sections were
//!   already turned into text by the parser, whitespace is never touched.
//! - Comments do not exist in the tree (refused or dropped by the parser);
//!   processing instructions inside the subtree are rendered.
//!
//! Canonicalization cannot fail: everything that would make it fail
//! (relative namespace URIs, undeclared prefixes, invalid characters) was
//! refused by the parser, so there is no error path that could hash an empty
//! or partial buffer.

use super::xml::{Document, Element, NodeId, RawNode};

/// The algorithm URI of exclusive c14n without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// At most this many distinct inclusive prefixes are honoured (the
/// signature verifier refuses lists longer than 32).
pub const MAX_INCLUSIVE_PREFIXES: usize = 64;

/// Where canonical bytes go: a buffer, or straight into a digest.
pub trait Sink {
    /// Appends bytes.
    fn write(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn write(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Sink for ring::digest::Context {
    fn write(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// Canonicalizes `element` and its descendants, without the subtree rooted
/// at `exclude` (the enveloped signature), treating the prefixes in
/// `inclusive_prefixes` (`#default` for the default namespace) inclusively.
pub fn exclusive(
    element: Element<'_>,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[&str],
) -> Vec<u8> {
    let mut out = Vec::new();
    exclusive_into(element, exclude, inclusive_prefixes, &mut out);
    out
}

/// [`exclusive`], writing into `sink`.
pub fn exclusive_into<S: Sink + ?Sized>(
    element: Element<'_>,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[&str],
    sink: &mut S,
) {
    let doc = element.document();
    let mut inclusive: Vec<&str> = Vec::new();
    for p in inclusive_prefixes {
        let p = if *p == "#default" { "" } else { *p };
        if p != "xml" && !inclusive.contains(&p) && inclusive.len() < MAX_INCLUSIVE_PREFIXES {
            inclusive.push(p);
        }
    }
    let mut c = Canon {
        doc,
        sink,
        rendered: Vec::new(),
        inclusive_scope: inclusive
            .iter()
            .map(|p| {
                (
                    *p,
                    vec![in_scope_above(doc, element.id(), p).unwrap_or(u32::MAX)],
                )
            })
            .collect(),
        scratch_ns: Vec::new(),
        scratch_attrs: Vec::new(),
    };
    c.run(element.id(), exclude);
}

/// The namespace bound to `prefix` on the ancestors of `id` (not `id` itself).
/// `Some(0)` for an undeclared default namespace.
fn in_scope_above(doc: &Document, id: NodeId, prefix: &str) -> Option<u32> {
    let mut cur = doc.parent_id(id);
    while let Some(p) = cur {
        if let RawNode::Element(e) = doc.raw_node(p)
            && let Some(ns) = decl_in(doc, e, prefix)
        {
            return Some(ns);
        }
        cur = doc.parent_id(p);
    }
    prefix.is_empty().then_some(0)
}

fn decl_in(doc: &Document, e: &super::xml::ElemData, prefix: &str) -> Option<u32> {
    doc.elem_decls(e)
        .iter()
        .find(|d| doc.decl_prefix(d) == prefix)
        .map(|d| doc.decl_ns(d))
}

struct Frame {
    id: NodeId,
    mark: usize,
    inclusive_pushed: u64,
    next: Option<NodeId>,
}

struct Canon<'d, 's, S: Sink + ?Sized> {
    doc: &'d Document,
    sink: &'s mut S,
    /// Namespace bindings rendered by output ancestors (prefix, namespace id).
    rendered: Vec<(&'d str, u32)>,
    /// For each inclusive prefix, the stack of in-scope bindings (`u32::MAX`: none).
    inclusive_scope: Vec<(&'d str, Vec<u32>)>,
    scratch_ns: Vec<(&'d str, u32)>,
    scratch_attrs: Vec<(&'d str, &'d str, &'d str, &'d str)>,
}

impl<'d, S: Sink + ?Sized> Canon<'d, '_, S> {
    fn rendered_value(&self, prefix: &str) -> Option<u32> {
        match self.rendered.iter().rev().find(|(p, _)| *p == prefix) {
            Some((_, ns)) => Some(*ns),
            None if prefix.is_empty() => Some(0),
            None => None,
        }
    }

    fn run(&mut self, apex: NodeId, exclude: Option<NodeId>) {
        let mut stack: Vec<Frame> = Vec::new();
        let frame = self.open(apex);
        stack.push(frame);
        while let Some(top) = stack.last_mut() {
            match top.next {
                None => {
                    let top = stack.pop().expect("non-empty");
                    self.close(top);
                }
                Some(child) => {
                    top.next = self.doc.next_sibling(child);
                    if Some(child) == exclude {
                        continue;
                    }
                    match self.doc.raw_node(child) {
                        RawNode::Element(_) => {
                            let f = self.open(child);
                            stack.push(f);
                        }
                        RawNode::Text(t) => escape_text(self.sink, t),
                        RawNode::Pi(target, data) => {
                            self.sink.write(b"<?");
                            self.sink.write(target.as_bytes());
                            if !data.is_empty() {
                                self.sink.write(b" ");
                                self.sink.write(data.as_bytes());
                            }
                            self.sink.write(b"?>");
                        }
                    }
                }
            }
        }
    }

    fn open(&mut self, id: NodeId) -> Frame {
        let doc = self.doc;
        let RawNode::Element(e) = doc.raw_node(id) else {
            unreachable!("open is called on elements only")
        };
        // Track the in-scope bindings of inclusive prefixes.
        let mut inclusive_pushed = 0u64;
        for (i, (p, stack)) in self.inclusive_scope.iter_mut().enumerate() {
            if let Some(ns) = decl_in(doc, e, p) {
                stack.push(ns);
                inclusive_pushed |= 1 << i;
            }
        }
        let mut ns = std::mem::take(&mut self.scratch_ns);
        ns.clear();
        ns.push((doc.elem_prefix(e), doc.elem_ns(e)));
        for a in doc.elem_attrs(e) {
            let p = doc.attr_prefix(a);
            if !p.is_empty() {
                ns.push((p, doc.attr_ns(a)));
            }
        }
        for (p, stack) in &self.inclusive_scope {
            match stack.last() {
                Some(&v) if v != u32::MAX => ns.push((p, v)),
                _ => {}
            }
        }
        ns.sort_unstable_by(|a, b| a.0.cmp(b.0));
        ns.dedup_by(|a, b| a.0 == b.0);
        ns.retain(|(p, v)| *p != "xml" && self.rendered_value(p) != Some(*v));
        let mark = self.rendered.len();
        self.sink.write(b"<");
        self.sink.write(doc.elem_qname(e).as_bytes());
        for &(p, v) in &ns {
            if p.is_empty() {
                self.sink.write(b" xmlns=\"");
            } else {
                self.sink.write(b" xmlns:");
                self.sink.write(p.as_bytes());
                self.sink.write(b"=\"");
            }
            escape_attr(self.sink, doc.ns_uri(v));
            self.sink.write(b"\"");
            self.rendered.push((p, v));
        }
        self.scratch_ns = ns;
        let mut attrs = std::mem::take(&mut self.scratch_attrs);
        attrs.clear();
        for a in doc.elem_attrs(e) {
            attrs.push((
                doc.ns_uri(doc.attr_ns(a)),
                doc.attr_local(a),
                doc.attr_qname(a),
                doc.attr_value(a),
            ));
        }
        attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for &(_, _, q, v) in &attrs {
            self.sink.write(b" ");
            self.sink.write(q.as_bytes());
            self.sink.write(b"=\"");
            escape_attr(self.sink, v);
            self.sink.write(b"\"");
        }
        self.scratch_attrs = attrs;
        self.sink.write(b">");
        Frame {
            id,
            mark,
            inclusive_pushed,
            next: doc.first_child(id),
        }
    }

    fn close(&mut self, f: Frame) {
        let doc = self.doc;
        let RawNode::Element(e) = doc.raw_node(f.id) else {
            unreachable!("frames are elements")
        };
        self.sink.write(b"</");
        self.sink.write(doc.elem_qname(e).as_bytes());
        self.sink.write(b">");
        self.rendered.truncate(f.mark);
        for (i, (_, stack)) in self.inclusive_scope.iter_mut().enumerate() {
            if f.inclusive_pushed & (1 << i) != 0 {
                stack.pop();
            }
        }
    }
}

fn escape_with<S: Sink + ?Sized>(sink: &mut S, s: &str, special: fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = special(b) {
            sink.write(&bytes[start..i]);
            sink.write(rep);
            start = i + 1;
        }
    }
    sink.write(&bytes[start..]);
}

fn escape_text<S: Sink + ?Sized>(sink: &mut S, s: &str) {
    escape_with(sink, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attr<S: Sink + ?Sized>(sink: &mut S, s: &str) {
    escape_with(sink, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::xml::Limits;

    fn c14n(xml: &str, path: &[usize], incl: &[&str]) -> String {
        let d = Document::parse(xml, &Limits::METADATA).unwrap();
        let mut e = d.root();
        for &i in path {
            e = e.child_elements().nth(i).unwrap();
        }
        String::from_utf8(exclusive(e, None, incl)).unwrap()
    }

    #[test]
    fn pulls_used_namespaces_onto_the_apex() {
        let x = r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><b:c z="1" a:y="2"><d/></b:c></a:r>"#;
        assert_eq!(
            c14n(x, &[0], &[]),
            r#"<b:c xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:y="2"><d xmlns="urn:d"></d></b:c>"#
        );
        assert_eq!(
            c14n(x, &[0], &["#default"]),
            r#"<b:c xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:y="2"><d></d></b:c>"#
        );
    }

    #[test]
    fn default_namespace_undeclaration() {
        let x = r#"<r xmlns="urn:d"><c xmlns=""><e/></c></r>"#;
        assert_eq!(
            c14n(x, &[], &[]),
            r#"<r xmlns="urn:d"><c xmlns=""><e></e></c></r>"#
        );
        assert_eq!(c14n(x, &[0], &[]), r#"<c><e></e></c>"#);
    }

    #[test]
    fn escaping() {
        let x = "<r a=\"&lt;&amp;&quot;&#9;&#10;&#13;>\">&lt;&amp;&gt;&#13;\"'</r>";
        assert_eq!(
            c14n(x, &[], &[]),
            "<r a=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;>\">&lt;&amp;&gt;&#xD;\"'</r>"
        );
    }
}
