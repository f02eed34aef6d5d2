//! The browser panel: plain HTML, CSS and JavaScript from `web/`, compiled into the binary with
//! `include_str!` so the server works from any directory and needs nothing at run time.
//!
//! [`routes`] serves `GET /` (the page) and `GET /assets/…`. Every response carries a strict
//! Content-Security-Policy (scripts, styles and connections only from this origin; no inline
//! script, no framing), `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//! Files are revalidated on every load (`Cache-Control: no-cache`) against a strong `ETag`, so a
//! new binary's panel is picked up at once while unchanged files cost a 304.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// The policy for every panel response. `style-src 'self'` forbids inline `<style>` and
/// `style="…"` attributes too; the script sets styles through the CSSOM, which CSP allows.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Asset {
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Asset {
            body,
            content_type,
            etag: HeaderValue::from_str(&etag).expect("a hex ETag is a valid header value"),
        }
    }

    fn respond(&self, request: &HeaderMap) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if etag_matches(request, &self.etag) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        (StatusCode::OK, headers, self.body).into_response()
    }
}

/// Whether `If-None-Match` names this ETag (or is `*`).
fn etag_matches(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(sent) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    sent.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == ours || tag.strip_prefix("W/").is_some_and(|t| t == ours))
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../../web/index.html"),
        "text/html; charset=utf-8",
    )
});
static APP_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../../web/assets/app.js"),
        "text/javascript; charset=utf-8",
    )
});
static APP_CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../../web/assets/app.css"),
        "text/css; charset=utf-8",
    )
});
static ICON: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        include_str!("../../web/assets/icon.svg"),
        "image/svg+xml; charset=utf-8",
    )
});

/// The panel's routes: `GET /` and `GET /assets/{app.js,app.css,icon.svg}` (HEAD too). They
/// use no state, so they merge into any router: `.merge(crate::web::routes())`.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", get(|h: HeaderMap| async move { INDEX.respond(&h) }))
        .route(
            "/assets/app.js",
            get(|h: HeaderMap| async move { APP_JS.respond(&h) }),
        )
        .route(
            "/assets/app.css",
            get(|h: HeaderMap| async move { APP_CSS.respond(&h) }),
        )
        .route(
            "/assets/icon.svg",
            get(|h: HeaderMap| async move { ICON.respond(&h) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_its_own_assets() {
        let html = INDEX.body;
        assert!(html.contains("src=\"/assets/app.js\""));
        assert!(html.contains("href=\"/assets/app.css\""));
        // No inline script or style for the CSP to refuse, and nothing from elsewhere.
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("<style"), "no inline style");
        assert!(!html.contains("style=\""), "no style attributes");
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(
            !APP_JS.body.contains("innerHTML"),
            "model text never becomes HTML"
        );
    }

    #[test]
    fn if_none_match_gives_304() {
        let mut h = HeaderMap::new();
        assert_eq!(APP_CSS.respond(&h).status(), StatusCode::OK);
        h.insert(header::IF_NONE_MATCH, APP_CSS.etag.clone());
        assert_eq!(APP_CSS.respond(&h).status(), StatusCode::NOT_MODIFIED);
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert_eq!(APP_CSS.respond(&h).status(), StatusCode::OK);
    }
}
