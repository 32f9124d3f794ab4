//! Link previews: the one place the server fetches a URL a user supplied.
//!
//! The fetch goes through `SafeClient`: `http` and `https` on ports 80 and
//! 443 to public addresses only, every resolved address and every redirect
//! hop checked, 3 s in all, 1 MiB at most. A refused URL is 400
//! `{"error":"url_not_allowed"}`; a failing upstream is 502.

use axum::Json;
use axum::extract::State;
use guard_axum::extract::Valid;
use guard_axum::{GuardError, secure_route};
use serde::Deserialize;
use serde_json::{Value, json};
use validator::Validate;

use crate::AppState;

/// `{url}`.
#[derive(Debug, Deserialize, Validate)]
pub struct PreviewRequest {
    #[validate(length(min = 1, max = 2048))]
    url: String,
}

#[secure_route(auth, rate = "10/min", quota = "200/day", body = PreviewRequest, fetch)]
pub async fn link_preview(
    State(state): State<AppState>,
    Valid(request): Valid<PreviewRequest>,
) -> Result<Json<Value>, GuardError> {
    let page = state.fetcher.get(&request.url).await?;
    let title = title_of(&String::from_utf8_lossy(&page.body));
    Ok(Json(
        json!({"url": page.final_url.as_str(), "title": title}),
    ))
}

/// The text of the first `<title>` element, whitespace collapsed, at most
/// 200 characters; `None` when there is none.
fn title_of(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let text: String = html
        .get(start..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!text.is_empty()).then(|| text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::title_of;

    #[test]
    fn finds_the_first_title() {
        assert_eq!(
            title_of("<html><TITLE>\n Hello   World </title>").as_deref(),
            Some("Hello World")
        );
        assert_eq!(title_of("<title></title>"), None);
        assert_eq!(title_of("no title"), None);
        assert_eq!(title_of("<title>unterminated"), None);
        assert_eq!(
            title_of(&format!("<title>{}</title>", "é".repeat(500))).map(|t| t.chars().count()),
            Some(200)
        );
    }
}
