//! The SAML keys of a flat connection specification (a TOML/JSON file), and
//! how they become [`SamlSettings`]. Unknown keys are refused, so a
//! misspelled security option cannot be silently ignored.
//!
//! ```toml
//! kind = "saml"
//! idp_metadata_url = "https://login.microsoftonline.com/…/federationmetadata.xml"
//! # or: idp_metadata_file = "acme-okta.xml" / idp_metadata_xml = "<md:EntityDescriptor …"
//! preset = "entra"                       # okta | entra | adfs | google | generic (default)
//! sp_entity_id = "https://app.example/sso/saml/metadata"   # default: the host's choice
//! # subject_attribute = "employeeId"     # instead of the preset's subject
//! # groups_attribute = "memberOf"        # adds to the preset's names
//! # allow_idp_initiated = false
//! # allow_unsigned_assertion_in_signed_response = false
//! # sign_requests_key_file = "sp.pk8.pem" ; sign_requests_cert_file = "sp.crt.pem"
//! ```

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::Deserialize;
use url::Url;

use super::{
    AttributeMapping, Binding, MetadataFetcher, Preset, SamlError, SamlOptions, SamlSettings,
    SpSigningKey, SubjectSource,
};

/// The SAML part of a connection specification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SamlSpec {
    /// IdP metadata from a file.
    #[serde(default)]
    pub idp_metadata_file: Option<PathBuf>,
    /// IdP metadata from a URL (fetched with the SSRF rules of [`MetadataFetcher`]).
    #[serde(default)]
    pub idp_metadata_url: Option<String>,
    /// IdP metadata inline.
    #[serde(default)]
    pub idp_metadata_xml: Option<String>,
    /// Which IdP to use when the metadata describes several.
    #[serde(default)]
    pub idp_entity_id: Option<String>,
    /// The SP entity ID (Audience); defaults to the value the host passes.
    #[serde(default)]
    pub sp_entity_id: Option<String>,
    /// Attribute-name preset: `okta`, `entra`, `adfs`, `google`, `generic` (default).
    #[serde(default)]
    pub preset: Option<String>,
    /// A single-valued attribute to use as the stable subject.
    #[serde(default)]
    pub subject_attribute: Option<String>,
    /// Several single-valued attributes joined with `/` as the subject.
    #[serde(default)]
    pub subject_attributes: Option<Vec<String>>,
    /// An e-mail attribute name, tried before the preset's.
    #[serde(default)]
    pub email_attribute: Option<String>,
    /// A display-name attribute, tried before the preset's.
    #[serde(default)]
    pub name_attribute: Option<String>,
    /// A given-name attribute, tried before the preset's.
    #[serde(default)]
    pub given_name_attribute: Option<String>,
    /// A family-name attribute, tried before the preset's.
    #[serde(default)]
    pub family_name_attribute: Option<String>,
    /// A groups attribute, added to the preset's.
    #[serde(default)]
    pub groups_attribute: Option<String>,
    /// `redirect` or `post`; default: Redirect when the IdP offers it.
    #[serde(default)]
    pub binding: Option<String>,
    /// See [`SamlOptions::allow_unsigned_assertion_in_signed_response`].
    #[serde(default)]
    pub allow_unsigned_assertion_in_signed_response: bool,
    /// See [`SamlOptions::allow_idp_initiated`].
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// PKCS#8 RSA key (PEM or DER) to sign AuthnRequests with.
    #[serde(default)]
    pub sign_requests_key_file: Option<PathBuf>,
    /// Its certificate (PEM or DER), published in SP metadata.
    #[serde(default)]
    pub sign_requests_cert_file: Option<PathBuf>,
    /// The NameID format to request.
    #[serde(default)]
    pub name_id_format: Option<String>,
    /// Clock skew in seconds (default 60, at most 180).
    #[serde(default)]
    pub clock_skew_secs: Option<u64>,
}

fn cfg(m: impl Into<String>) -> SamlError {
    SamlError::Config(m.into())
}

fn pem_or_der(bytes: Vec<u8>, label: &str) -> Result<Vec<u8>, SamlError> {
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(bytes);
    };
    let begin = format!("-----BEGIN {label}-----");
    let Some(start) = text.find(&begin) else {
        return Ok(bytes);
    };
    let body = &text[start + begin.len()..];
    let end = body
        .find("-----END")
        .ok_or_else(|| cfg(format!("unterminated PEM {label}")))?;
    let clean: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| cfg(format!("invalid PEM {label}")))
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, SamlError> {
    std::fs::read(path).map_err(|e| cfg(format!("cannot read the {what} {}: {e}", path.display())))
}

impl SamlSpec {
    /// The attribute mapping: the preset, with the spec's overrides.
    pub fn mapping(&self) -> Result<AttributeMapping, SamlError> {
        let preset = match self.preset.as_deref().unwrap_or("generic") {
            "okta" => Preset::Okta,
            "entra" => Preset::Entra,
            "adfs" => Preset::Adfs,
            "google" => Preset::Google,
            "generic" => Preset::Generic,
            other => {
                return Err(cfg(format!(
                    "unknown preset `{other}` (okta, entra, adfs, google, generic)"
                )));
            }
        };
        let mut m = AttributeMapping::preset(preset);
        match (&self.subject_attribute, &self.subject_attributes) {
            (Some(_), Some(_)) => {
                return Err(cfg("set subject_attribute or subject_attributes, not both"));
            }
            (Some(a), None) => m.subject = SubjectSource::Attribute(a.clone()),
            (None, Some(v)) if !v.is_empty() => m.subject = SubjectSource::Attributes(v.clone()),
            (None, Some(_)) => return Err(cfg("subject_attributes is empty")),
            (None, None) => {}
        }
        let front = |list: &mut Vec<String>, v: &Option<String>| {
            if let Some(v) = v {
                list.retain(|x| x != v);
                list.insert(0, v.clone());
            }
        };
        front(&mut m.email, &self.email_attribute);
        front(&mut m.name, &self.name_attribute);
        front(&mut m.given_name, &self.given_name_attribute);
        front(&mut m.family_name, &self.family_name_attribute);
        front(&mut m.groups, &self.groups_attribute);
        Ok(m)
    }

    /// The options (mapping, binding, keys, skew) for `sp_entity_id` when the
    /// spec names none.
    pub fn options(&self, default_sp_entity_id: &str) -> Result<SamlOptions, SamlError> {
        let mut o = SamlOptions::new(
            self.sp_entity_id
                .clone()
                .unwrap_or_else(|| default_sp_entity_id.to_owned()),
            self.mapping()?,
        );
        o.binding = match self.binding.as_deref() {
            None => None,
            Some("redirect") => Some(Binding::Redirect),
            Some("post") => Some(Binding::Post),
            Some(other) => {
                return Err(cfg(format!("unknown binding `{other}` (redirect, post)")));
            }
        };
        o.allow_unsigned_assertion_in_signed_response =
            self.allow_unsigned_assertion_in_signed_response;
        o.allow_idp_initiated = self.allow_idp_initiated;
        o.name_id_format = self.name_id_format.clone();
        if let Some(s) = self.clock_skew_secs {
            o.clock_skew = Duration::from_secs(s);
        }
        o.sign_requests = match (&self.sign_requests_key_file, &self.sign_requests_cert_file) {
            (None, None) => None,
            (Some(k), c) => {
                let key = pem_or_der(read(k, "SP signing key")?, "PRIVATE KEY")?;
                let cert = match c {
                    Some(c) => Some(pem_or_der(read(c, "SP certificate")?, "CERTIFICATE")?),
                    None => None,
                };
                Some(SpSigningKey::from_pkcs8(&key, cert)?)
            }
            (None, Some(_)) => {
                return Err(cfg("sign_requests_cert_file needs sign_requests_key_file"));
            }
        };
        Ok(o)
    }

    /// Builds the settings: reads the metadata file, takes the inline XML, or
    /// fetches the URL with `fetcher` (required for URLs; the settings then
    /// remember the URL so an adapter with the same fetcher keeps keys fresh).
    /// Exactly one metadata source must be given.
    pub async fn build(
        &self,
        default_sp_entity_id: &str,
        fetcher: Option<&MetadataFetcher>,
        now: SystemTime,
    ) -> Result<SamlSettings, SamlError> {
        let options = self.options(default_sp_entity_id)?;
        let sources = [
            self.idp_metadata_file.is_some(),
            self.idp_metadata_url.is_some(),
            self.idp_metadata_xml.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(cfg(
                "give exactly one of idp_metadata_file, idp_metadata_url, idp_metadata_xml",
            ));
        }
        let entity = self.idp_entity_id.as_deref();
        if let Some(url) = &self.idp_metadata_url {
            let url = Url::parse(url).map_err(|_| cfg("idp_metadata_url is not a URL"))?;
            let fetcher = fetcher.ok_or_else(|| cfg("a metadata URL needs a metadata fetcher"))?;
            let md = fetcher.get(&url, now, false).await?;
            if entity.is_some_and(|e| e != md.entity_id) {
                return Err(cfg("the metadata names another IdP entity ID"));
            }
            return Ok(SamlSettings::new(&md, options)?.with_metadata_url(url));
        }
        let xml = match (&self.idp_metadata_file, &self.idp_metadata_xml) {
            (Some(path), _) => String::from_utf8(read(path, "IdP metadata")?)
                .map_err(|_| cfg("the IdP metadata file is not UTF-8"))?,
            (_, Some(xml)) => xml.clone(),
            _ => unreachable!("one source is present"),
        };
        let md = super::IdpMetadata::parse_for(&xml, entity)?;
        SamlSettings::new(&md, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_values_are_refused() {
        let e = serde_json::from_value::<SamlSpec>(serde_json::json!({"allow_idp_iniated": true}));
        assert!(e.is_err());
        let s: SamlSpec = serde_json::from_value(serde_json::json!({"preset": "okay"})).unwrap();
        assert!(s.mapping().is_err());
        let s: SamlSpec =
            serde_json::from_value(serde_json::json!({"binding": "artifact"})).unwrap();
        assert!(s.options("sp").is_err());
    }

    #[test]
    fn overrides_go_first() {
        let s: SamlSpec = serde_json::from_value(serde_json::json!({
            "preset": "entra", "email_attribute": "mail", "subject_attribute": "employeeId"
        }))
        .unwrap();
        let m = s.mapping().unwrap();
        assert_eq!(m.email[0], "mail");
        assert_eq!(m.subject, SubjectSource::Attribute("employeeId".into()));
    }
}
