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

use super::xml::{AttrData, Document, Element, NodeId, RawNode, none_flagged, same};

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
    let mut c = Canon::new(element, inclusive_prefixes, None, 1024);
    c.run(element.id(), exclude);
    c.out
}

/// [`exclusive`], writing into `sink` in chunks of under a kilobyte (long
/// text as it stands), so a digest sink never needs the whole output in
/// memory.
pub fn exclusive_into<S: Sink + ?Sized>(
    element: Element<'_>,
    exclude: Option<NodeId>,
    inclusive_prefixes: &[&str],
    sink: &mut S,
) {
    let mut flush = |bytes: &[u8]| sink.write(bytes);
    let mut c = Canon::new(element, inclusive_prefixes, Some(&mut flush), CHUNK + 256);
    c.run(element.id(), exclude);
    let out = std::mem::take(&mut c.out);
    if let Some(f) = c.flush.as_mut()
        && !out.is_empty()
    {
        f(&out);
    }
}

/// Output is handed to a sink once this much is buffered: small enough for
/// the staging buffer to come from the allocator's per-thread cache. Text
/// longer than [`DIRECT_TEXT`] that needs no escaping bypasses it.
const CHUNK: usize = 768;
const DIRECT_TEXT: usize = 256;

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
        .find(|d| same(doc.decl_prefix(d), prefix))
        .map(|d| doc.decl_ns(d))
}

struct Frame {
    id: NodeId,
    mark: usize,
    inclusive_pushed: u64,
    next: Option<NodeId>,
}

type Flush<'f> = &'f mut dyn FnMut(&[u8]);

struct Canon<'d, 'f> {
    doc: &'d Document,
    /// The canonical bytes (all of them, or those not yet flushed).
    out: Vec<u8>,
    flush: Option<Flush<'f>>,
    /// Namespace bindings rendered by output ancestors (prefix, namespace id).
    rendered: Vec<(&'d str, u32)>,
    /// For each inclusive prefix, the stack of in-scope bindings (`u32::MAX`: none).
    inclusive_scope: Vec<(&'d str, Vec<u32>)>,
    scratch_ns: Vec<(&'d str, u32)>,
    scratch_attrs: Vec<((&'d str, &'d str), &'d AttrData)>,
}

impl<'d, 'f> Canon<'d, 'f> {
    fn new(
        element: Element<'d>,
        inclusive_prefixes: &[&'d str],
        flush: Option<Flush<'f>>,
        capacity: usize,
    ) -> Self {
        let doc = element.document();
        let mut inclusive: Vec<&'d str> = Vec::new();
        for p in inclusive_prefixes {
            let p = if *p == "#default" { "" } else { *p };
            if p != "xml" && !inclusive.contains(&p) && inclusive.len() < MAX_INCLUSIVE_PREFIXES {
                inclusive.push(p);
            }
        }
        Canon {
            doc,
            out: Vec::with_capacity(capacity),
            flush,
            rendered: Vec::with_capacity(16),
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
        }
    }

    fn rendered_value(&self, prefix: &str) -> Option<u32> {
        match self.rendered.iter().rev().find(|(p, _)| same(p, prefix)) {
            Some((_, ns)) => Some(*ns),
            None if prefix.is_empty() => Some(0),
            None => None,
        }
    }

    fn maybe_flush(&mut self) {
        if self.out.len() >= CHUNK
            && let Some(f) = self.flush.as_mut()
        {
            f(&self.out);
            self.out.clear();
        }
    }

    fn run(&mut self, apex: NodeId, exclude: Option<NodeId>) {
        let mut stack: Vec<Frame> = Vec::with_capacity(16);
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
                        // The parser marks most text as canonical already.
                        RawNode::Text(t, canonical) => match self.flush.as_mut() {
                            Some(f)
                                if t.len() >= DIRECT_TEXT
                                    && (canonical || !text_needs_escaping(t)) =>
                            {
                                if !self.out.is_empty() {
                                    f(&self.out);
                                    self.out.clear();
                                }
                                f(t.as_bytes());
                            }
                            _ if canonical => self.out.extend_from_slice(t.as_bytes()),
                            _ => escape_text(&mut self.out, t),
                        },
                        RawNode::Pi(target, data) => {
                            self.out.extend_from_slice(b"<?");
                            self.out.extend_from_slice(target.as_bytes());
                            if !data.is_empty() {
                                self.out.push(b' ');
                                self.out.extend_from_slice(data.as_bytes());
                            }
                            self.out.extend_from_slice(b"?>");
                        }
                    }
                    self.maybe_flush();
                }
            }
        }
    }

    fn write_ns(&mut self, p: &'d str, v: u32) {
        if p.is_empty() {
            self.out.extend_from_slice(b" xmlns=\"");
        } else {
            self.out.extend_from_slice(b" xmlns:");
            self.out.extend_from_slice(p.as_bytes());
            self.out.extend_from_slice(b"=\"");
        }
        escape_attr(&mut self.out, self.doc.ns_uri(v));
        self.out.push(b'"');
        self.rendered.push((p, v));
    }

    fn write_attr(&mut self, a: &AttrData) {
        let doc = self.doc;
        self.out.push(b' ');
        self.out.extend_from_slice(doc.attr_qname(a).as_bytes());
        self.out.extend_from_slice(b"=\"");
        let value = doc.attr_value(a);
        // The parser marks most values as canonical already.
        if doc.attr_canonical(a) {
            self.out.extend_from_slice(value.as_bytes());
        } else {
            escape_attr(&mut self.out, value);
        }
        self.out.push(b'"');
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
        let mark = self.rendered.len();
        let attrs = doc.elem_attrs(e);
        self.out.push(b'<');
        self.out.extend_from_slice(doc.elem_qname(e).as_bytes());
        let prefix = doc.elem_prefix(e);
        let ns = doc.elem_ns(e);
        if self.inclusive_scope.is_empty() && attrs.iter().all(|a| doc.attr_prefix(a).is_empty()) {
            // The usual case: only the element's own prefix is visibly used.
            if prefix != "xml" && self.rendered_value(prefix) != Some(ns) {
                self.write_ns(prefix, ns);
            }
        } else {
            let mut used = std::mem::take(&mut self.scratch_ns);
            used.clear();
            used.reserve(attrs.len() + self.inclusive_scope.len() + 8);
            used.push((prefix, ns));
            for a in attrs {
                let p = doc.attr_prefix(a);
                if !p.is_empty() {
                    used.push((p, doc.attr_ns(a)));
                }
            }
            for (p, stack) in &self.inclusive_scope {
                match stack.last() {
                    Some(&v) if v != u32::MAX => used.push((p, v)),
                    _ => {}
                }
            }
            used.sort_unstable_by(|a, b| a.0.cmp(b.0));
            used.dedup_by(|a, b| a.0 == b.0);
            used.retain(|(p, v)| *p != "xml" && self.rendered_value(p) != Some(*v));
            for &(p, v) in &used {
                self.write_ns(p, v);
            }
            self.scratch_ns = used;
        }
        match attrs {
            [] => {}
            [a] => self.write_attr(a),
            _ => {
                // Attributes sort by namespace URI, then local name; many
                // IdPs write them in that order already.
                let key = |a: &'d AttrData| (doc.ns_uri(doc.attr_ns(a)), doc.attr_local(a));
                if attrs.is_sorted_by(|a, b| key(a) < key(b)) {
                    for a in attrs {
                        self.write_attr(a);
                    }
                } else {
                    let mut sorted = std::mem::take(&mut self.scratch_attrs);
                    sorted.clear();
                    sorted.reserve(attrs.len().max(8));
                    sorted.extend(attrs.iter().map(|a| (key(a), a)));
                    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                    for &(_, a) in &sorted {
                        self.write_attr(a);
                    }
                    self.scratch_attrs = sorted;
                }
            }
        }
        self.out.push(b'>');
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
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(doc.elem_qname(e).as_bytes());
        self.out.push(b'>');
        self.rendered.truncate(f.mark);
        for (i, (_, stack)) in self.inclusive_scope.iter_mut().enumerate() {
            if f.inclusive_pushed & (1 << i) != 0 {
                stack.pop();
            }
        }
        self.maybe_flush();
    }
}

fn escape_with(out: &mut Vec<u8>, s: &str, special: fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = special(b) {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(rep);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

fn text_needs_escaping(s: &str) -> bool {
    !none_flagged(s, |b| {
        (b == b'&') | (b == b'<') | (b == b'>') | (b == b'\r')
    })
}

fn escape_text(out: &mut Vec<u8>, s: &str) {
    if !text_needs_escaping(s) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    escape_with(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attr(out: &mut Vec<u8>, s: &str) {
    if none_flagged(s, |b| (b == b'&') | (b == b'<') | (b == b'"') | (b < 0x20)) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    escape_with(out, s, |b| match b {
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
    fn streaming_output_equals_the_whole() {
        struct Chunks(Vec<Vec<u8>>);
        impl Sink for Chunks {
            fn write(&mut self, bytes: &[u8]) {
                self.0.push(bytes.to_vec());
            }
        }
        let long = "A".repeat(3 * DIRECT_TEXT);
        let escaped = "x<&>\r".repeat(DIRECT_TEXT);
        let many: String = (0..200)
            .map(|i| format!("<p:i n=\"{i}\">{i}</p:i>"))
            .collect();
        let x = format!(
            r#"<r xmlns:p="urn:p"><p:a>{long}</p:a><s>{escaped}</s>{many}<t>short</t><x/>{long}</r>"#,
            escaped = escaped
                .replace('<', "&lt;")
                .replace('&', "&amp;")
                .replace("&amp;lt;", "&lt;")
        );
        let d = Document::parse(&x, &Limits::METADATA).unwrap();
        let r = d.root();
        let skip = r.child_elements().find(|e| e.local_name() == "x").unwrap();
        // The last element's end tag filling the stage exactly (768 bytes).
        let exact = format!("<r>&amp;{}</r>", "b".repeat(CHUNK - 12));
        let e = Document::parse(&exact, &Limits::METADATA).unwrap();
        let mut chunks = Chunks(Vec::new());
        exclusive_into(e.root(), None, &[], &mut chunks);
        assert_eq!(chunks.0.iter().map(Vec::len).collect::<Vec<_>>(), [CHUNK]);
        for exclude in [None, Some(skip.id())] {
            let whole = exclusive(r, exclude, &[]);
            let mut chunks = Chunks(Vec::new());
            exclusive_into(r, exclude, &[], &mut chunks);
            assert!(chunks.0.len() > 3, "the output is handed over in pieces");
            assert!(chunks.0.iter().all(|c| !c.is_empty()));
            assert_eq!(chunks.0.concat(), whole);
        }
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
        // Written as they stand, so the parser keeps them without copying:
        // c14n must still escape what it escapes (`"` in a value, `>` in
        // text, also when long enough to bypass the staging buffer).
        let long = format!("{}>", "t".repeat(DIRECT_TEXT));
        let x = format!(r#"<r z='say "hi"' a='x>y'><s b='"' c="'">1 > 0</s>{long}</r>"#);
        let want = format!(
            "<r a=\"x>y\" z=\"say &quot;hi&quot;\"><s b=\"&quot;\" c=\"'\">1 &gt; 0</s>{}</r>",
            long.replace('>', "&gt;")
        );
        assert_eq!(c14n(&x, &[], &[]), want);
        let d = Document::parse(&x, &Limits::PROTOCOL).unwrap();
        let mut streamed = Vec::new();
        exclusive_into(d.root(), None, &[], &mut streamed);
        assert_eq!(String::from_utf8(streamed).unwrap(), want);
    }

    /// CDATA sections become text, escaped like any text: a section holding
    /// `<` or `&` is not canonical as written (else `<![CDATA[R&amp;D]]>`
    /// would canonicalize like the signed text `R&amp;D`, read as `R&D`).
    #[test]
    fn cdata_is_escaped_text() {
        let long = format!("{}&", "t".repeat(DIRECT_TEXT));
        for (x, want) in [
            (
                "<r><![CDATA[a<b&c]]></r>",
                "<r>a&lt;b&amp;c</r>".to_string(),
            ),
            ("<r><![CDATA[R&amp;D]]></r>", "<r>R&amp;amp;D</r>".into()),
            ("<r><![CDATA[<]]></r>", "<r>&lt;</r>".into()),
            ("<r><![CDATA[x > y]]></r>", "<r>x &gt; y</r>".into()),
            ("<r><![CDATA[plain]]></r>", "<r>plain</r>".into()),
            (
                &format!("<r><![CDATA[{long}]]></r>"),
                format!("<r>{}</r>", long.replace('&', "&amp;")),
            ),
        ] {
            assert_eq!(c14n(x, &[], &[]), want, "{x}");
            let d = Document::parse(x, &Limits::PROTOCOL).unwrap();
            let mut streamed = Vec::new();
            exclusive_into(d.root(), None, &[], &mut streamed);
            assert_eq!(String::from_utf8(streamed).unwrap(), want, "{x}");
        }
    }
}
