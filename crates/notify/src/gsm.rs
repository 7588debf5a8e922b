//! The GSM 03.38 alphabet: an SMS written only in it fits 160 characters in one segment, while a
//! single character outside it (an arrow, a curly quote) makes the whole message UCS-2, 70 per
//! segment, so the alert would arrive in pieces or cost double.

/// The basic set: one 7-bit unit each (the escape code point is left out).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡\
ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: an escape plus one unit, so two units each.
const EXTENSION: &str = "^{}\\[~]|€";

/// Units one segment holds.
pub(crate) const SEGMENT: usize = 160;

/// How many 7-bit units `c` takes, or `None` when GSM-7 cannot carry it.
fn units(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// `s` rewritten in GSM-7: common typographic characters become their ASCII look-alikes,
/// control characters become spaces (an SMS alert is one line), anything else becomes `?`.
pub(crate) fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' | '\u{a0}' => out.push(' '),
            '→' | '⟶' => out.push_str("->"),
            '←' => out.push_str("<-"),
            '–' | '—' | '−' => out.push('-'),
            '…' => out.push_str("..."),
            '‘' | '’' | '′' => out.push('\''),
            '“' | '”' | '″' => out.push('"'),
            c if units(c).is_some() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// Units `s` takes; characters outside GSM-7 count as a whole segment, so a caller that forgot
/// to sanitize never believes its text fits.
pub(crate) fn len(s: &str) -> usize {
    s.chars().map(|c| units(c).unwrap_or(SEGMENT)).sum()
}

/// `s` cut to at most `max` units, ending in `...` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if len(s) <= max {
        return s.to_owned();
    }
    let budget = max.saturating_sub(3);
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let n = units(c).unwrap_or(SEGMENT);
        if used + n > budget {
            break;
        }
        used += n;
        out.push(c);
    }
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrows_and_quotes_become_ascii() {
        let s = sanitize("scaled 1 → 3 — “ok” …\n");
        assert_eq!(s, "scaled 1 -> 3 - \"ok\" ... ");
        assert_eq!(len(&s), s.chars().count());
    }

    #[test]
    fn unknown_characters_become_question_marks() {
        assert_eq!(sanitize("日本 ok 👍"), "?? ok ?");
    }

    #[test]
    fn extension_characters_count_twice() {
        assert_eq!(len("{a}"), 5);
        assert_eq!(len("é€"), 3);
        assert_eq!(len("→"), SEGMENT);
    }

    #[test]
    fn truncation_respects_units() {
        let s = "x".repeat(200);
        let t = truncate(&s, SEGMENT);
        assert_eq!(len(&t), SEGMENT);
        assert!(t.ends_with("..."));
        let braces = "{".repeat(100);
        let t = truncate(&braces, 10);
        assert!(len(&t) <= 10, "{t}");
        assert_eq!(truncate("short", 10), "short");
    }
}
