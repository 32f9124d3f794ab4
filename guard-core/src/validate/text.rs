//! Display text: a title, a name, a comment that other users will see.
//!
//! Control characters and the invisible or reordering ones (bidi overrides
//! and isolates, zero-width characters, tag characters) are how text lies:
//! `\u{202E}` shows `exe.txt` for `txt.exe` ("Trojan Source"), an ESC
//! sequence recolours a terminal that prints a log line, CR/LF forges one,
//! NUL truncates it in C code downstream. Two validators for
//! `#[validate(custom(function = …))]` refuse them:
//!
//! ```
//! use guard_core::validate::text::{multi_line, single_line};
//! use validator::Validate;
//!
//! #[derive(Validate)]
//! struct NewPost {
//!     #[validate(length(min = 1, max = 200), custom(function = "single_line"))]
//!     title: String,
//!     #[validate(custom(function = "multi_line"))]
//!     body: Option<String>,
//! }
//!
//! let post = |title: &str, body: &str| NewPost { title: title.into(), body: Some(body.into()) };
//! assert!(post("Quarterly plan", "line one\nline two\ttabbed").validate().is_ok());
//! assert!(post("evil\u{202E}fdp.exe", "").validate().is_err());
//! assert!(post("two\nlines", "").validate().is_err());
//! assert!(post("ok", "a\u{0}b").validate().is_err());
//! ```
//!
//! validator's own `non_control_character` needs the `unic` tables and
//! lets every bidi and zero-width character through, which is why these
//! are written here. Each refusal has the code `text` in the 400.

use std::borrow::Cow;

use validator::ValidationError;

/// The code a refused field gets in the 400.
pub const TEXT: &str = "text";

/// One line of display text: refuses every control character (tab, CR and
/// LF included) and every [`is_hidden`] one.
///
/// # Errors
///
/// Code [`TEXT`] when `text` holds one.
pub fn single_line(text: &str) -> Result<(), ValidationError> {
    if text.chars().any(|c| c.is_control() || is_hidden(c)) {
        return Err(refused());
    }
    Ok(())
}

/// Display text of several lines: as [`single_line`], but LF, CR LF and tab
/// are allowed (a lone CR is not: it overwrites a line on a terminal).
///
/// # Errors
///
/// Code [`TEXT`] when `text` holds a character [`single_line`] refuses
/// other than those.
pub fn multi_line(text: &str) -> Result<(), ValidationError> {
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let allowed = match c {
            '\n' | '\t' => true,
            '\r' => chars.peek() == Some(&'\n'),
            c => !c.is_control() && !is_hidden(c),
        };
        if !allowed {
            return Err(refused());
        }
    }
    Ok(())
}

fn refused() -> ValidationError {
    ValidationError::new(TEXT).with_message(Cow::Borrowed(
        "holds a control, invisible or reordering character",
    ))
}

/// Characters that are invisible, reorder what is shown, or separate lines
/// without being a control character: bidi embeddings, overrides, isolates
/// and marks, zero-width characters, the BOM, soft hyphen, fillers, tag
/// characters, interlinear annotations, U+2028/U+2029.
#[must_use]
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'                     // Arabic letter mark
        | '\u{200B}'..='\u{200F}'      // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202E}'      // line/paragraph separators, bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'      // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}'      // bidi isolates
        | '\u{206A}'..='\u{206F}'      // deprecated format characters
        | '\u{FEFF}'                   // zero-width no-break space (BOM)
        | '\u{00AD}'                   // soft hyphen
        | '\u{034F}'                   // combining grapheme joiner
        | '\u{180E}'                   // Mongolian vowel separator
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{FFF9}'..='\u{FFFB}'      // interlinear annotation
        | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_in_any_script_passes() {
        for text in [
            "",
            "Quarterly plan",
            "Über straße",
            "计划",
            "خطة",
            "2H₂ + O₂ ⇌ 2H₂O",
            "emoji 🎉 ok",
        ] {
            assert!(single_line(text).is_ok(), "{text:?}");
            assert!(multi_line(text).is_ok(), "{text:?}");
        }
        assert!(multi_line("a\nb\r\nc\td").is_ok());
    }

    #[test]
    fn controls_and_hidden_characters_are_refused() {
        for text in [
            "a\u{0}b",
            "\u{1b}[31mred",
            "a\u{7f}",
            "a\u{85}b",
            "evil\u{202E}fdp.exe",
            "\u{2066}x\u{2069}",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            "tag\u{E0041}",
            "line\u{2028}sep",
            "soft\u{AD}hyphen",
        ] {
            assert_eq!(single_line(text).unwrap_err().code, TEXT, "{text:?}");
            assert_eq!(multi_line(text).unwrap_err().code, TEXT, "{text:?}");
        }
        for text in ["a\nb", "a\tb", "a\r\nb"] {
            assert!(single_line(text).is_err(), "{text:?}");
        }
        // A lone CR rewrites a terminal line.
        assert!(multi_line("safe\rEVIL").is_err());
        assert!(multi_line("end\r").is_err());
    }
}
