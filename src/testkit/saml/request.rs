//! Reading the AuthnRequests that service providers send: HTTP-Redirect
//! (raw DEFLATE + base64) and HTTP-POST (base64), parsed with ssokit's own
//! XML parser (no DTDs, entities, comments or PIs).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::saml::metadata::BINDING_POST;
use crate::saml::response::{ASSERTION_NS, PROTOCOL_NS, parse_instant};
use crate::saml::xml::{Document, Limits, is_ncname};

/// Largest encoded `SAMLRequest` accepted, in bytes.
const MAX_ENCODED: usize = 64 * 1024;
/// Largest inflated AuthnRequest, in bytes.
const MAX_XML: usize = 64 * 1024;

/// The binding an AuthnRequest arrived with.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SamlBinding {
    /// HTTP-Redirect: `GET {sso}?SAMLRequest=…` (raw DEFLATE, base64).
    Redirect,
    /// HTTP-POST: a form posting `SAMLRequest` (base64) to the SSO URL.
    Post,
}

/// Decodes a `SAMLRequest` value to the request XML.
pub(super) fn decode(binding: SamlBinding, value: &str) -> Result<String, String> {
    if value.len() > MAX_ENCODED {
        return Err("The SAMLRequest is too large.".into());
    }
    // A `+` that the SP did not percent-encode arrives as a space after form
    // decoding; base64 has no spaces, so put it back. Line breaks are allowed.
    let clean: String = value
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let raw = STANDARD
        .decode(clean.as_bytes())
        .map_err(|_| "The SAMLRequest is not base64.".to_owned())?;
    let xml = match binding {
        SamlBinding::Redirect => miniz_oxide::inflate::decompress_to_vec_with_limit(&raw, MAX_XML)
            .map_err(|_| {
                "The SAMLRequest is not raw DEFLATE data (the HTTP-Redirect binding \
                 compresses the request without zlib header)."
                    .to_owned()
            })?,
        SamlBinding::Post => raw,
    };
    String::from_utf8(xml).map_err(|_| "The SAMLRequest is not UTF-8.".to_owned())
}

/// What the IdP reads from an AuthnRequest.
#[derive(Clone, Debug)]
pub(super) struct ParsedRequest {
    pub(super) id: String,
    pub(super) issuer: String,
    pub(super) acs_url: Option<String>,
    pub(super) destination: Option<String>,
    pub(super) force_authn: bool,
    pub(super) name_id_format: Option<String>,
}

/// Parses and checks an AuthnRequest document.
pub(super) fn parse(xml: &str) -> Result<ParsedRequest, String> {
    let limits = Limits {
        max_bytes: MAX_XML,
        ..Limits::PROTOCOL
    };
    let doc = Document::parse(xml, &limits)
        .map_err(|e| format!("The SAMLRequest is not acceptable XML: {e}."))?;
    let root = doc.root();
    if !root.is(PROTOCOL_NS, "AuthnRequest") {
        return Err("The SAMLRequest is not a SAML 2.0 AuthnRequest (samlp:AuthnRequest).".into());
    }
    if root.attr("Version") != Some("2.0") {
        return Err("The AuthnRequest's Version is not 2.0.".into());
    }
    let id = root
        .attr("ID")
        .filter(|id| is_ncname(id))
        .ok_or("The AuthnRequest has no ID (an XML name such as _3f2a…).")?;
    match root.attr("IssueInstant") {
        Some(t) if parse_instant(t).is_some() => {}
        Some(_) => {
            return Err("The AuthnRequest's IssueInstant is not a UTC xs:dateTime (…T…Z).".into());
        }
        None => return Err("The AuthnRequest has no IssueInstant.".into()),
    }
    let mut issuers = root.children_named(ASSERTION_NS, "Issuer");
    let issuer = match (issuers.next().and_then(|i| i.text()), issuers.next()) {
        (Some(text), None) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => {
            return Err("The AuthnRequest must have one saml:Issuer: the SP entity ID.".into());
        }
    };
    if let Some(binding) = root.attr("ProtocolBinding")
        && binding != BINDING_POST
    {
        return Err(format!(
            "The AuthnRequest asks for the response binding {binding}; this IdP only \
             answers with HTTP-POST ({BINDING_POST})."
        ));
    }
    if root.attr("AssertionConsumerServiceIndex").is_some()
        && root.attr("AssertionConsumerServiceURL").is_none()
    {
        return Err(
            "AssertionConsumerServiceIndex is not supported: send AssertionConsumerServiceURL."
                .into(),
        );
    }
    let name_id_format = root
        .children_named(PROTOCOL_NS, "NameIDPolicy")
        .next()
        .and_then(|p| p.attr("Format"))
        .map(str::to_owned);
    Ok(ParsedRequest {
        id: id.to_owned(),
        issuer,
        acs_url: root.attr("AssertionConsumerServiceURL").map(str::to_owned),
        destination: root.attr("Destination").map(str::to_owned),
        force_authn: matches!(root.attr("ForceAuthn"), Some("true" | "1")),
        name_id_format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: &str, children: &str) -> String {
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"_r1\" Version=\"2.0\" IssueInstant=\"2026-01-01T00:00:00Z\"{extra}>{children}\
             </samlp:AuthnRequest>"
        )
    }

    #[test]
    fn reads_what_the_idp_needs() {
        let r = parse(&request(
            " AssertionConsumerServiceURL=\"https://sp.test/acs\" ForceAuthn=\"true\"",
            "<saml:Issuer> https://sp.test/md </saml:Issuer>\
             <samlp:NameIDPolicy Format=\"urn:x\" AllowCreate=\"true\"/>",
        ))
        .unwrap();
        assert_eq!(r.id, "_r1");
        assert_eq!(r.issuer, "https://sp.test/md");
        assert_eq!(r.acs_url.as_deref(), Some("https://sp.test/acs"));
        assert!(r.force_authn);
        assert_eq!(r.name_id_format.as_deref(), Some("urn:x"));
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        let issuer = "<saml:Issuer>sp</saml:Issuer>";
        for (extra, children) in [
            ("", ""),
            (
                "",
                "<saml:Issuer>a</saml:Issuer><saml:Issuer>b</saml:Issuer>",
            ),
            (
                " ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\"",
                issuer,
            ),
            (" AssertionConsumerServiceIndex=\"0\"", issuer),
        ] {
            assert!(
                parse(&request(extra, children)).is_err(),
                "{extra} {children}"
            );
        }
        assert!(parse("<x/>").is_err());
        assert!(parse("<!DOCTYPE x><x/>").is_err());
        assert!(parse(&request("", issuer).replace("2.0\"", "1.1\"")).is_err());
        assert!(parse(&request("", issuer).replace("ID=\"_r1\"", "ID=\"1 2\"")).is_err());
    }

    #[test]
    fn decodes_both_bindings() {
        let xml = request("", "<saml:Issuer>sp</saml:Issuer>");
        let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 8);
        let b64 = STANDARD.encode(deflated);
        assert_eq!(decode(SamlBinding::Redirect, &b64).unwrap(), xml);
        assert_eq!(
            decode(SamlBinding::Redirect, &b64.replace('+', " ")).unwrap(),
            xml
        );
        assert_eq!(
            decode(SamlBinding::Post, &STANDARD.encode(&xml)).unwrap(),
            xml
        );
        assert!(decode(SamlBinding::Redirect, &STANDARD.encode(&xml)).is_err());
        assert!(decode(SamlBinding::Post, "%%%").is_err());
    }
}
