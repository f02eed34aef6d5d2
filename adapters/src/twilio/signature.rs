//! `X-Twilio-Signature`: proof that a webhook request came from Twilio.
//!
//! Twilio signs each webhook with HMAC-SHA1, keyed with the account's auth token, over the full
//! URL it requested (scheme, host, path and query string, exactly as configured) followed by the
//! POST form fields sorted by name (byte order, case-sensitive), each name immediately followed
//! by its value with no separators; the header carries the base64 of the digest.
//!
//! As Twilio's own helper libraries do, a field sent several times is signed once per distinct
//! value, values in sorted order; and [`verify`] also accepts the signature computed over the
//! URL with its port removed (when it has one) or with the scheme's default port added (when it
//! has none), since proxies and Twilio disagree about writing `:443`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The request header Twilio puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The signature Twilio would send for a POST of `params` to `url`.
pub fn expected_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// Whether `header_value` (the `X-Twilio-Signature` header, `None` when absent) is Twilio's
/// signature of `params` posted to `url`, compared in constant time. `url` must be the public
/// URL Twilio was given (not the one a proxy rewrote), query string included. An empty auth
/// token or an empty header never verifies.
pub fn verify(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    header_value: Option<&str>,
) -> bool {
    let Some(given) = header_value else {
        return false;
    };
    if given.is_empty() || auth_token.is_empty() {
        return false;
    }
    let mut matched = false;
    for candidate in url_variants(url) {
        let expected = expected_signature(auth_token, &candidate, params);
        matched |= bool::from(expected.as_bytes().ct_eq(given.as_bytes()));
    }
    matched
}

/// `url` itself, then the same URL with its port removed, or with the scheme's default port
/// added when it has none.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(scheme_end) = url.find("://") else {
        return variants;
    };
    let scheme = &url[..scheme_end];
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let host_start = authority_start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &url[host_start..authority_end];
    // An IPv6 host is bracketed, and its colons are not a port separator.
    let host_len = if host_port.starts_with('[') {
        host_port.find(']').map_or(host_port.len(), |i| i + 1)
    } else {
        host_port.rfind(':').unwrap_or(host_port.len())
    };
    let host_end = host_start + host_len;
    let port = &url[host_end..authority_end];
    if let Some(digits) = port.strip_prefix(':') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            variants.push(format!("{}{}", &url[..host_end], &url[authority_end..]));
        }
    } else if port.is_empty() && host_len > 0 {
        let default = match scheme.to_ascii_lowercase().as_str() {
            "https" => "443",
            "http" => "80",
            _ => return variants,
        };
        variants.push(format!(
            "{}:{}{}",
            &url[..host_end],
            default,
            &url[host_end..]
        ));
    }
    variants
}

/// An `application/x-www-form-urlencoded` body as name/value pairs, decoded, sorted by name
/// (a name sent several times keeps every value, in the order received).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    pairs: Vec<(String, String)>,
}

impl FormParams {
    pub fn parse(body: &[u8]) -> Self {
        form_urlencoded::parse(body)
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

    /// The first value sent under `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let start = self.pairs.partition_point(|(n, _)| n.as_str() < name);
        self.pairs
            .get(start)
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent under `name`, in the order received.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let start = self.pairs.partition_point(|(n, _)| n.as_str() < name);
        self.pairs[start..]
            .iter()
            .take_while(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// [`verify`] these parameters as posted to `url`.
    pub fn verify(&self, auth_token: &str, url: &str, header_value: Option<&str>) -> bool {
        verify(auth_token, url, &self.pairs, header_value)
    }
}

impl FromIterator<(String, String)> for FormParams {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let mut pairs: Vec<(String, String)> = iter.into_iter().collect();
        // Stable: repeated names keep their values in the order received.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        FormParams { pairs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variants_add_or_remove_the_port() {
        assert_eq!(
            url_variants("https://example.com/a?b=1"),
            ["https://example.com/a?b=1", "https://example.com:443/a?b=1"]
        );
        assert_eq!(
            url_variants("http://example.com"),
            ["http://example.com", "http://example.com:80"]
        );
        assert_eq!(
            url_variants("https://example.com:8443/a"),
            ["https://example.com:8443/a", "https://example.com/a"]
        );
        assert_eq!(
            url_variants("https://u:p@example.com/x"),
            ["https://u:p@example.com/x", "https://u:p@example.com:443/x"]
        );
        assert_eq!(
            url_variants("https://[::1]:8443/x"),
            ["https://[::1]:8443/x", "https://[::1]/x"]
        );
        assert_eq!(
            url_variants("https://[::1]/x"),
            ["https://[::1]/x", "https://[::1]:443/x"]
        );
        assert_eq!(url_variants("no scheme"), ["no scheme"]);
        assert_eq!(url_variants("wss://h/x"), ["wss://h/x"]);
    }

    #[test]
    fn form_params_sort_by_name_and_keep_duplicates() {
        let form = FormParams::parse(b"b=2&a=1&b=1&c=x+y%21&d");
        assert_eq!(
            form.pairs(),
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "2".to_owned()),
                ("b".to_owned(), "1".to_owned()),
                ("c".to_owned(), "x y!".to_owned()),
                ("d".to_owned(), String::new()),
            ]
        );
        assert_eq!(form.get("b"), Some("2"));
        assert_eq!(form.get_all("b").collect::<Vec<_>>(), ["2", "1"]);
        assert_eq!(form.get("zz"), None);
        assert_eq!(form.get_all("zz").count(), 0);
        assert_eq!(form.pairs().len(), 5);
    }

    #[test]
    fn empty_token_or_header_never_verifies() {
        let params = vec![("A".to_owned(), "1".to_owned())];
        let sig = expected_signature("", "https://x/y", &params);
        assert!(!verify("", "https://x/y", &params, Some(&sig)));
        assert!(!verify("tok", "https://x/y", &params, Some("")));
    }
}
