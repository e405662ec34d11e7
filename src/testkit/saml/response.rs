//! Writing (and signing) the `samlp:Response` the IdP posts to the ACS,
//! with the [`SamlFault`]s applied.

use std::time::{Duration, SystemTime};

use super::idp::{SamlAttributeNames, SamlFault, SamlFaults, SamlUser};
use super::sign::{self, Algorithm, Key};
use crate::saml::authn::new_request_id;
use crate::saml::response::{ASSERTION_NS, PERSISTENT, PROTOCOL_NS, format_instant};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// The e-mail NameID format.
pub(super) const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// The unspecified NameID format.
pub(super) const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const PASSWORD_PROTECTED: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const BASIC_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
const URI_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";

/// How long assertions are valid (Conditions and SubjectConfirmationData
/// `NotOnOrAfter`).
pub(super) const ASSERTION_TTL: Duration = Duration::from_secs(300);
/// How far `Conditions NotBefore` lies in the past.
pub(super) const NOT_BEFORE_SLACK: Duration = Duration::from_secs(60);
/// How far in the past [`SamlFault::ExpiredAssertion`] issues assertions.
pub(super) const EXPIRED_BY: Duration = Duration::from_secs(900);
/// The IdP session's lifetime (`SessionNotOnOrAfter`).
const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The NameID that [`SamlFault::TamperedAfterSigning`] writes after signing.
pub(super) const TAMPERED_NAME_ID: &str = "dev|admin";

/// Which NameID the SP asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NameIdKind {
    /// [`SamlUser::name_id`], persistent format.
    Persistent,
    /// [`SamlUser::email`], emailAddress format.
    Email,
}

/// Where a Response goes and what it answers.
pub(super) struct Target<'a> {
    pub(super) sp_entity_id: &'a str,
    pub(super) acs_url: &'a str,
    /// The AuthnRequest's ID; `None` for an IdP-initiated response.
    pub(super) in_response_to: Option<&'a str>,
    pub(super) name_id: NameIdKind,
}

/// Escapes text for XML element content. Characters XML 1.0 cannot carry
/// become U+FFFD; CR is escaped so that parsers keep it.
pub(super) fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Escapes text for a double-quoted XML attribute value (whitespace other
/// than the space is escaped, so that attribute-value normalization keeps it).
pub(super) fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The values of one Response, before rendering.
struct Draft {
    response_id: String,
    issue_instant: String,
    destination: String,
    in_response_to: Option<String>,
    issuer: String,
    status: Option<(&'static str, &'static str, &'static str)>,
    assertion: Option<AssertionDraft>,
}

struct AssertionDraft {
    id: String,
    issue_instant: String,
    issuer: String,
    name_id: String,
    name_id_format: &'static str,
    sp_name_qualifier: String,
    recipient: String,
    in_response_to: Option<String>,
    confirmation_not_on_or_after: String,
    not_before: String,
    not_on_or_after: String,
    audience: String,
    authn_instant: String,
    session_index: String,
    session_not_on_or_after: String,
    attributes: Vec<(String, Vec<String>)>,
}

impl Draft {
    /// The document, with `signature` right after the Assertion's Issuer.
    fn render(&self, signature: Option<&str>) -> String {
        let mut x = format!(
            "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" \
             ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\"",
            self.response_id,
            self.issue_instant,
            attr(&self.destination)
        );
        if let Some(irt) = &self.in_response_to {
            x.push_str(&format!(" InResponseTo=\"{}\"", attr(irt)));
        }
        x.push_str(&format!(
            "><saml:Issuer>{}</saml:Issuer><samlp:Status>",
            text(&self.issuer)
        ));
        match self.status {
            None => x.push_str(&format!("<samlp:StatusCode Value=\"{SUCCESS}\"/>")),
            Some((top, nested, message)) => x.push_str(&format!(
                "<samlp:StatusCode Value=\"{top}\"><samlp:StatusCode Value=\"{nested}\"/>\
                 </samlp:StatusCode><samlp:StatusMessage>{}</samlp:StatusMessage>",
                text(message)
            )),
        }
        x.push_str("</samlp:Status>");
        if let Some(a) = &self.assertion {
            a.render_into(&mut x, signature);
        }
        x.push_str("</samlp:Response>");
        x
    }
}

impl AssertionDraft {
    fn render_into(&self, x: &mut String, signature: Option<&str>) {
        x.push_str(&format!(
            "<saml:Assertion ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\">\
             <saml:Issuer>{}</saml:Issuer>{}\
             <saml:Subject><saml:NameID Format=\"{}\" SPNameQualifier=\"{}\">{}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"{BEARER}\"><saml:SubjectConfirmationData",
            self.id,
            self.issue_instant,
            text(&self.issuer),
            signature.unwrap_or_default(),
            self.name_id_format,
            attr(&self.sp_name_qualifier),
            text(&self.name_id),
        ));
        if let Some(irt) = &self.in_response_to {
            x.push_str(&format!(" InResponseTo=\"{}\"", attr(irt)));
        }
        x.push_str(&format!(
            " NotOnOrAfter=\"{}\" Recipient=\"{}\"/></saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{}\" NotOnOrAfter=\"{}\"><saml:AudienceRestriction>\
             <saml:Audience>{}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{}\" SessionIndex=\"{}\" SessionNotOnOrAfter=\"{}\">\
             <saml:AuthnContext><saml:AuthnContextClassRef>{PASSWORD_PROTECTED}\
             </saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>",
            self.confirmation_not_on_or_after,
            attr(&self.recipient),
            self.not_before,
            self.not_on_or_after,
            text(&self.audience),
            self.authn_instant,
            self.session_index,
            self.session_not_on_or_after,
        ));
        if !self.attributes.is_empty() {
            x.push_str("<saml:AttributeStatement>");
            for (name, values) in &self.attributes {
                let format = if name.contains(':') {
                    URI_NAME_FORMAT
                } else {
                    BASIC_NAME_FORMAT
                };
                x.push_str(&format!(
                    "<saml:Attribute Name=\"{}\" NameFormat=\"{format}\">",
                    attr(name)
                ));
                for v in values {
                    x.push_str(&format!(
                        "<saml:AttributeValue>{}</saml:AttributeValue>",
                        text(v)
                    ));
                }
                x.push_str("</saml:Attribute>");
            }
            x.push_str("</saml:AttributeStatement>");
        }
        x.push_str("</saml:Assertion>");
    }
}

/// The attributes of `user` under `names`: e-mail, display name, groups
/// (when any), then the user's own attributes, which replace a standard one
/// of the same name. Empty names are left out.
pub(super) fn attributes(
    user: &SamlUser,
    names: &SamlAttributeNames,
) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: &str, values: Vec<String>| {
        if name.is_empty() || values.is_empty() {
            return;
        }
        match out.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = values,
            None => out.push((name.to_owned(), values)),
        }
    };
    add(&names.email, vec![user.email.clone()]);
    add(&names.name, vec![user.name.clone()]);
    add(&names.groups, user.groups.clone());
    for (name, values) in &user.attributes {
        add(name, values.clone());
    }
    out
}

/// The Response XML for `user` at `target`, signed (unless a fault says
/// otherwise), at `now` by the IdP's clock.
pub(super) fn issue(
    idp_entity_id: &str,
    user: &SamlUser,
    names: &SamlAttributeNames,
    target: &Target<'_>,
    faults: SamlFaults,
    now: SystemTime,
) -> Result<String, String> {
    let at = if faults.contains(SamlFault::ExpiredAssertion) {
        now - EXPIRED_BY
    } else {
        now
    };
    let in_response_to = if faults.contains(SamlFault::Unsolicited) {
        None
    } else if faults.contains(SamlFault::WrongInResponseTo) {
        Some(new_request_id())
    } else {
        target.in_response_to.map(str::to_owned)
    };
    let issuer = if faults.contains(SamlFault::WrongIssuer) {
        format!("{idp_entity_id}/wrong-issuer")
    } else {
        idp_entity_id.to_owned()
    };
    let audience = if faults.contains(SamlFault::WrongAudience) {
        format!("{}/some-other-sp", target.sp_entity_id)
    } else {
        target.sp_entity_id.to_owned()
    };
    let recipient = if faults.contains(SamlFault::WrongRecipient) {
        format!("{}/wrong-recipient", target.acs_url)
    } else {
        target.acs_url.to_owned()
    };
    let (name_id, name_id_format) = match target.name_id {
        NameIdKind::Persistent => (user.name_id.clone(), PERSISTENT),
        NameIdKind::Email => (user.email.clone(), EMAIL),
    };
    let failed = faults.contains(SamlFault::StatusResponder);
    let instant = format_instant(at);
    let mut draft = Draft {
        response_id: new_request_id(),
        issue_instant: instant.clone(),
        destination: target.acs_url.to_owned(),
        in_response_to: in_response_to.clone(),
        issuer: issuer.clone(),
        status: failed.then_some((
            RESPONDER,
            AUTHN_FAILED,
            "The development IdP refused the sign-in (SamlFault::StatusResponder).",
        )),
        assertion: (!failed).then(|| AssertionDraft {
            id: new_request_id(),
            issue_instant: instant.clone(),
            issuer,
            name_id,
            name_id_format,
            sp_name_qualifier: audience.clone(),
            recipient,
            in_response_to,
            confirmation_not_on_or_after: format_instant(at + ASSERTION_TTL),
            not_before: format_instant(at - NOT_BEFORE_SLACK),
            not_on_or_after: format_instant(at + ASSERTION_TTL),
            audience,
            authn_instant: instant,
            session_index: new_request_id(),
            session_not_on_or_after: format_instant(at + SESSION_TTL),
            attributes: attributes(user, names),
        }),
    };
    let Some(assertion_id) = draft.assertion.as_ref().map(|a| a.id.clone()) else {
        return Ok(draft.render(None));
    };
    if faults.contains(SamlFault::Unsigned) {
        return Ok(draft.render(None));
    }
    let key = if faults.contains(SamlFault::SignWithUnknownKey) {
        Key::Unknown
    } else {
        Key::Idp
    };
    let algorithm = if faults.contains(SamlFault::Sha1) {
        Algorithm::RsaSha1
    } else {
        Algorithm::RsaSha256
    };
    let signature = sign::enveloped_signature(&|s| draft.render(s), &assertion_id, key, algorithm)?;
    if faults.contains(SamlFault::TamperedAfterSigning)
        && let Some(a) = draft.assertion.as_mut()
    {
        a.name_id = TAMPERED_NAME_ID.to_owned();
    }
    Ok(draft.render(Some(&signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(text("a<b>&c\r\n\u{1}"), "a&lt;b&gt;&amp;c&#13;\n\u{FFFD}");
        assert_eq!(attr("\"x\"\t\n"), "&quot;x&quot;&#9;&#10;");
    }

    #[test]
    fn own_attributes_replace_standard_ones() {
        let user = SamlUser::new("ann")
            .with_groups(["g"])
            .with_attribute("displayName", ["Ann X"])
            .with_attribute("department", ["R&D"]);
        let names = SamlAttributeNames::default();
        let attrs = attributes(&user, &names);
        assert_eq!(
            attrs,
            vec![
                ("email".to_owned(), vec!["ann@example.test".to_owned()]),
                ("displayName".to_owned(), vec!["Ann X".to_owned()]),
                ("groups".to_owned(), vec!["g".to_owned()]),
                ("department".to_owned(), vec!["R&D".to_owned()]),
            ]
        );
        let none = attributes(&SamlUser::new("bob"), &names);
        assert!(none.iter().all(|(n, _)| n != "groups"), "no empty groups");
    }
}
